//! Components of `joins.topo`: orders and their payments with known disorder, a join bolt
//! of its own, orders never paid by keyed state and timers, and recorders.

use crate::joins::{Order, Pair, Payment, Sides};
use gale::{Bolt, Emitter, ExecResult};
use std::collections::HashMap;
use std::sync::Mutex;

/// The window join's pairs.
pub static WINDOWED: Mutex<Vec<Pair>> = Mutex::new(Vec::new());
/// The sliding window join's pairs.
pub static SLID: Mutex<Vec<Pair>> = Mutex::new(Vec::new());
/// The interval join's pairs.
pub static INTERVAL: Mutex<Vec<Pair>> = Mutex::new(Vec::new());
/// The join bolt's pairs.
pub static MATCHED: Mutex<Vec<Pair>> = Mutex::new(Vec::new());
/// The orders never paid.
pub static UNPAID: Mutex<Vec<Order>> = Mutex::new(Vec::new());
/// Late elements of either join.
pub static LATE: Mutex<Vec<Sides>> = Mutex::new(Vec::new());

fn mix(i: u64) -> u64 {
    (i.wrapping_mul(2_654_435_761) >> 7) ^ (i >> 3)
}

/// Order `i`: every 10 ms, up to `disorder` ms early.
pub fn order(i: u64, users: u64, disorder: u64) -> Order {
    Order {
        user: format!("u{}", i * 7 % users),
        id: i,
        at: 1_000_000 + i * 10 - mix(i) % (disorder + 1),
    }
}

/// Every payment, in the order they are emitted: none for every fifth order, two for
/// every seventh, each between 100 ms before and 800 ms after its order, emitted by time
/// up to `disorder` ms out of order.
pub fn payments(n: u64, users: u64, disorder: u64) -> Vec<Payment> {
    let mut all = Vec::new();
    for i in 0..n {
        if i % 5 == 0 {
            continue;
        }
        let o = order(i, users, disorder);
        let copies = if i % 7 == 0 { 2 } else { 1 };
        for c in 0..copies {
            let id = i * 2 + c;
            let delay = (mix(id + 11) % 901) as i64 - 100;
            all.push(Payment {
                payer: o.user.clone(),
                id,
                order: i,
                paid_at: o.at.saturating_add_signed(delay),
            });
        }
    }
    // Emitted by time, each at most `disorder` ms before its place.
    all.sort_by_key(|p| (p.paid_at + mix(p.id) % (disorder + 1), p.id));
    all
}

/// The join function of both built-in joins.
pub fn pair(o: &Order, p: &Payment) -> Pair {
    Pair {
        user: o.user.clone(),
        order: o.id,
        payment: p.id,
    }
}

fn config(ctx: &gale::TaskContext) -> (u64, u64, u64) {
    let get = |k, d| ctx.config_u64(k).unwrap_or(d);
    (get("orders", 100), get("users", 3), get("disorder", 0))
}

/// Emits its share of the orders (by index, in order).
#[derive(Default)]
pub struct Orders {
    todo: Vec<Order>,
}

impl gale::Spout for Orders {
    type Out = Order;
    fn open(&mut self, ctx: &gale::TaskContext) {
        let (n, users, disorder) = config(ctx);
        let (task, tasks) = (ctx.task_index() as u64, ctx.task_count() as u64);
        self.todo = (0..n)
            .filter(|i| i % tasks == task)
            .map(|i| order(i, users, disorder))
            .collect();
        self.todo.reverse();
    }
    fn next_tuple(&mut self, out: &mut impl Emitter<Order>) -> gale::SpoutStatus {
        match self.todo.pop() {
            Some(o) => {
                out.emit(o);
                gale::SpoutStatus::Active
            }
            None => gale::SpoutStatus::Done,
        }
    }
}

/// Emits its share of the payments (every `tasks`-th, in emission order).
#[derive(Default)]
pub struct Payments {
    todo: Vec<Payment>,
}

impl gale::Spout for Payments {
    type Out = Payment;
    fn open(&mut self, ctx: &gale::TaskContext) {
        let (n, users, disorder) = config(ctx);
        let (task, tasks) = (ctx.task_index(), ctx.task_count());
        self.todo = payments(n, users, disorder)
            .into_iter()
            .enumerate()
            .filter(|(i, _)| i % tasks == task)
            .map(|(_, p)| p)
            .collect();
        self.todo.reverse();
    }
    fn next_tuple(&mut self, out: &mut impl Emitter<Payment>) -> gale::SpoutStatus {
        match self.todo.pop() {
            Some(p) => {
                out.emit(p);
                gale::SpoutStatus::Active
            }
            None => gale::SpoutStatus::Done,
        }
    }
}

/// A join of its own over the stream set (Storm style, state in plain fields): every
/// payment with its order, whenever each arrives.
#[derive(Default)]
pub struct MatchPayments {
    orders: HashMap<u64, Order>,
    waiting: HashMap<u64, Vec<Payment>>,
}

impl Bolt for MatchPayments {
    type In = Sides;
    type Out = Pair;
    fn execute(&mut self, t: Sides, out: &mut impl Emitter<Pair>) -> ExecResult {
        match t {
            Sides::Orders(o) => {
                for p in self.waiting.remove(&o.id).unwrap_or_default() {
                    out.emit(pair(&o, &p));
                }
                self.orders.insert(o.id, o);
            }
            Sides::Payments(p) => match self.orders.get(&p.order) {
                Some(o) => out.emit(pair(o, &p)),
                None => self.waiting.entry(p.order).or_default().push(p),
            },
        }
        Ok(())
    }
}

/// Orders not paid 1 s (event time) after they were placed: keyed state over both
/// streams, and an event-time timer per order (Flink's `KeyedCoProcessFunction`).
#[derive(Default)]
pub struct Unpaid {
    order: gale::state::ValueState<Order>,
    paid: gale::state::ValueState<bool>,
}

impl gale::ProcessBolt for Unpaid {
    type Key = u64;
    type In = Sides;
    type Out = Order;

    fn open(
        &mut self,
        ctx: &mut gale::state::OpenContext<'_, u64>,
    ) -> Result<(), gale::state::StateError> {
        self.order = ctx.value_state("order")?;
        self.paid = ctx.value_state("paid")?;
        Ok(())
    }

    fn process(
        &mut self,
        t: Sides,
        ctx: &mut gale::state::KeyedContext<'_, u64>,
        _: &mut impl Emitter<Order>,
    ) -> ExecResult {
        match t {
            Sides::Orders(o) => {
                ctx.register_event_time_timer(o.at + 1000);
                ctx.state(&self.order).set(o);
            }
            Sides::Payments(_) => ctx.state(&self.paid).set(true),
        }
        Ok(())
    }

    fn on_timer(
        &mut self,
        _ts: u64,
        ctx: &mut gale::state::KeyedContext<'_, u64>,
        out: &mut impl Emitter<Order>,
    ) -> ExecResult {
        let paid = ctx.state(&self.paid).get().copied().unwrap_or(false);
        if let (false, Some(o)) = (paid, ctx.state(&self.order).get().cloned()) {
            out.emit(o);
        }
        ctx.state(&self.order).clear();
        ctx.state(&self.paid).clear();
        Ok(())
    }
}

/// A tuple as one line of a recorder's file.
pub trait Line {
    /// The line, without its newline.
    fn line(&self) -> String;
}

impl Line for Pair {
    fn line(&self) -> String {
        format!("{} {} {}", self.user, self.order, self.payment)
    }
}

impl Line for Order {
    fn line(&self) -> String {
        format!("order {} {} {}", self.user, self.id, self.at)
    }
}

impl Line for Sides {
    fn line(&self) -> String {
        match self {
            Sides::Orders(o) => o.line(),
            Sides::Payments(p) => format!("payment {} {} {}", p.payer, p.id, p.order),
        }
    }
}

/// Where a recorder keeps what it receives in an in-process run.
pub trait Store: Send + 'static {
    /// What it records.
    type T: Line + Send + 'static;
    /// The static it records into.
    fn store() -> &'static Mutex<Vec<Self::T>>;
}

/// Records what it receives: in its [`Store`] in an in-process run, and with
/// `--set out_dir=DIR` (worker processes) as lines appended to
/// `DIR/<component>-<task>.txt` (see [`read_pairs`]).
pub struct Recorder<S: Store> {
    file: Option<std::fs::File>,
    _store: std::marker::PhantomData<fn() -> S>,
}

impl<S: Store> Default for Recorder<S> {
    fn default() -> Self {
        Recorder {
            file: None,
            _store: std::marker::PhantomData,
        }
    }
}

impl<S: Store> Bolt for Recorder<S> {
    type In = S::T;
    type Out = ();
    fn prepare(&mut self, ctx: &gale::TaskContext) {
        self.file = crate::task_file(ctx);
    }
    fn execute(&mut self, t: S::T, _: &mut impl Emitter<()>) -> ExecResult {
        match self.file.as_mut() {
            Some(f) => {
                use std::io::Write as _;
                writeln!(f, "{}", t.line()).map_err(|e| gale::Fail::new(e.to_string()))?;
            }
            None => S::store().lock().unwrap_or_else(|p| p.into_inner()).push(t),
        }
        Ok(())
    }
}

macro_rules! store {
    ($recorder:ident, $store:ident, $t:ty, $static:ident) => {
        /// The store of
        #[doc = concat!("[`", stringify!($recorder), "`].")]
        pub struct $store;

        impl Store for $store {
            type T = $t;
            fn store() -> &'static Mutex<Vec<$t>> {
                &$static
            }
        }

        /// Records into
        #[doc = concat!("[`", stringify!($static), "`] (or a file).")]
        pub type $recorder = Recorder<$store>;
    };
}

store!(RecordWindowed, Windowed, Pair, WINDOWED);
store!(RecordSlid, Slid, Pair, SLID);
store!(RecordInterval, Interval, Pair, INTERVAL);
store!(RecordMatched, Matched, Pair, MATCHED);
store!(RecordUnpaid, UnpaidOrders, Order, UNPAID);
store!(RecordLate, Late, Sides, LATE);

/// The lines the tasks of `component` wrote in `dir`.
pub fn read_lines(dir: &std::path::Path, component: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return lines;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let task = name
            .strip_prefix(component)
            .and_then(|r| r.strip_prefix('-'))
            .and_then(|r| r.strip_suffix(".txt"));
        if task.is_some_and(|t| t.parse::<u32>().is_ok()) {
            let text = std::fs::read_to_string(e.path()).unwrap_or_default();
            lines.extend(text.lines().map(str::to_string));
        }
    }
    lines
}

/// The pairs the tasks of `component` wrote in `dir`, as `(user, order, payment)`.
pub fn read_pairs(dir: &std::path::Path, component: &str) -> Vec<(String, u64, u64)> {
    read_lines(dir, component)
        .iter()
        .map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            let num = |i: usize| -> u64 {
                f.get(i)
                    .and_then(|v| v.parse().ok())
                    .unwrap_or_else(|| panic!("malformed pair `{l}` of {component}"))
            };
            (f[0].to_string(), num(1), num(2))
        })
        .collect()
}
