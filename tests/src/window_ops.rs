//! Components of `windows.topo`: a click stream with known disorder, and recorders.

use crate::windows::{Click, UserCount, UserSum};
use gale::{Bolt, Emitter, ExecResult};
use std::collections::BTreeMap;
use std::sync::Mutex;

/// What the recorders saw: per component, every result in arrival order.
pub static COUNTS: Mutex<Vec<UserCount>> = Mutex::new(Vec::new());
/// The sliding sums.
pub static SUMS: Mutex<Vec<UserSum>> = Mutex::new(Vec::new());
/// The sessions.
pub static SESSIONS: Mutex<Vec<UserCount>> = Mutex::new(Vec::new());
/// The late clicks of `counts`.
pub static LATE: Mutex<Vec<Click>> = Mutex::new(Vec::new());
/// The sessions `Sessionize` closed with its timers.
pub static TIMED: Mutex<Vec<UserCount>> = Mutex::new(Vec::new());

/// Sessions by hand with keyed state and event-time timers: a user's session closes 400 ms
/// of event time after its last click (as `session(400ms, count)`).
#[derive(Default)]
pub struct Sessionize {
    session: gale::state::ValueState<(u64, u64, u64)>,
}

impl gale::ProcessBolt for Sessionize {
    type Key = String;
    type In = Click;
    type Out = UserCount;

    fn open(
        &mut self,
        ctx: &mut gale::state::OpenContext<'_, String>,
    ) -> Result<(), gale::state::StateError> {
        self.session = ctx.value_state("session")?;
        Ok(())
    }

    fn process(
        &mut self,
        c: Click,
        ctx: &mut gale::state::KeyedContext<'_, String>,
        _: &mut impl Emitter<UserCount>,
    ) -> ExecResult {
        let (first, last, n) = ctx
            .state(&self.session)
            .get()
            .copied()
            .unwrap_or((c.at, c.at, 0));
        let next = (first.min(c.at), last.max(c.at), n + 1);
        ctx.state(&self.session).set(next);
        ctx.register_event_time_timer(next.1 + 400);
        Ok(())
    }

    fn on_timer(
        &mut self,
        ts: u64,
        ctx: &mut gale::state::KeyedContext<'_, String>,
        out: &mut impl Emitter<UserCount>,
    ) -> ExecResult {
        let Some((first, last, n)) = ctx.state(&self.session).get().copied() else {
            return Ok(());
        };
        if ts == last + 400 {
            out.emit(UserCount {
                user: ctx.key().clone(),
                start: first,
                end: ts,
                count: n,
            });
            ctx.state(&self.session).clear();
        }
        Ok(())
    }
}

/// Click `i` of `users` users, at most `disorder` ms before its place in time.
pub fn click(i: u64, users: u64, disorder: u64) -> Click {
    let jitter = (i.wrapping_mul(2_654_435_761) >> 7) % (disorder + 1);
    Click {
        user: format!("u{}", i * 7 % users),
        at: 1_000_000 + i * 10 - jitter,
        amount: i % 100,
    }
}

/// The clicks spout task `task` of `tasks` emits, in its order.
pub fn clicks(task: u64, tasks: u64, n: u64, users: u64, disorder: u64) -> Vec<Click> {
    (0..n)
        .filter(|i| i % tasks == task)
        .map(|i| click(i, users, disorder))
        .collect()
}

/// The clicks spout for a topology's own `Click` type.
macro_rules! clicks_spout {
    ($click:path) => {
        /// Emits its share of the clicks.
        #[derive(Default)]
        pub struct Clicks {
            todo: Vec<$click>,
        }

        impl gale::Spout for Clicks {
            type Out = $click;
            fn open(&mut self, ctx: &gale::TaskContext) {
                let get = |k, d| ctx.config_u64(k).unwrap_or(d);
                let (n, users, disorder) =
                    (get("clicks", 100), get("users", 3), get("disorder", 0));
                let (task, tasks) = (ctx.task_index() as u64, ctx.task_count() as u64);
                self.todo = $crate::window_ops::clicks(task, tasks, n, users, disorder)
                    .into_iter()
                    .map(|c| <$click>::from_fields(c.user, c.at, c.amount))
                    .collect();
                self.todo.reverse();
            }
            fn next_tuple(&mut self, out: &mut impl gale::Emitter<$click>) -> gale::SpoutStatus {
                match self.todo.pop() {
                    Some(c) => {
                        out.emit(c);
                        gale::SpoutStatus::Active
                    }
                    None => gale::SpoutStatus::Done,
                }
            }
        }
    };
}

recorder!(RecordCounts, UserCount, COUNTS);
recorder!(RecordSums, UserSum, SUMS);
recorder!(RecordSessions, UserCount, SESSIONS);
recorder!(RecordLate, Click, LATE);
recorder!(RecordTimed, UserCount, TIMED);

impl Click {
    fn from_fields(user: String, at: u64, amount: u64) -> Click {
        Click { user, at, amount }
    }
}

clicks_spout!(crate::windows::Click);

/// Components of `windows_late.topo`: the same, for its own schemas.
pub mod late {
    use crate::windows_late::{Click, UserCount};
    use gale::{Bolt, Emitter, ExecResult};
    use std::sync::Mutex;

    /// The results of `counts`.
    pub static COUNTS: Mutex<Vec<UserCount>> = Mutex::new(Vec::new());
    /// Its late clicks.
    pub static LATE: Mutex<Vec<Click>> = Mutex::new(Vec::new());

    impl Click {
        fn from_fields(user: String, at: u64, amount: u64) -> Click {
            Click { user, at, amount }
        }
    }

    clicks_spout!(crate::windows_late::Click);
    recorder!(RecordCounts, UserCount, COUNTS);
    recorder!(RecordLate, Click, LATE);
}

/// The last result per (user, start, end) of a list of results.
pub fn last<T: Clone>(
    items: &[T],
    key: impl Fn(&T) -> (String, u64, u64),
) -> BTreeMap<(String, u64, u64), T> {
    items.iter().map(|t| (key(t), t.clone())).collect()
}
