//! Components of `acking.topo`: a spout of numbered messages and three bolts that fail 1%
//! and drop 0.5% of their tuples, with a ledger of what happened to every message id.

use crate::acking::Msg;
use gale::{Bolt, Emitter, ExecResult, Fail, Spout, SpoutStatus, TaskContext};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering::Relaxed};

/// One counter per message id.
#[derive(Debug)]
pub struct PerId(Vec<AtomicU32>);

impl PerId {
    fn new(n: usize) -> Self {
        PerId((0..n).map(|_| AtomicU32::new(0)).collect())
    }

    fn bump(&self, id: u64) {
        match self.0.get(id as usize) {
            Some(c) => {
                c.fetch_add(1, Relaxed);
            }
            None => panic!("message id {id} out of range"),
        }
    }

    /// The count of `id`.
    pub fn get(&self, id: usize) -> u32 {
        self.0[id].load(Relaxed)
    }
}

/// What happened to every message id.
#[derive(Debug)]
pub struct Ledger {
    /// `Spout::ack` calls.
    pub acked: PerId,
    /// `Spout::fail` calls.
    pub failed: PerId,
    /// Tuples the dead-letter sink received.
    pub dead: PerId,
    /// Tuples the sink processed successfully.
    pub seen: PerId,
}

static LEDGER: OnceLock<Ledger> = OnceLock::new();

/// The ledger, sized by the topology's `items`.
pub fn ledger() -> &'static Ledger {
    LEDGER.get_or_init(|| {
        let n = crate::acking::DESC
            .config
            .iter()
            .find(|(k, _)| *k == "items")
            .and_then(|(_, v)| match v {
                gale::topology::ConfigValue::Int(n) => Some(*n as usize),
                _ => None,
            })
            .unwrap_or(0);
        Ledger {
            acked: PerId::new(n),
            failed: PerId::new(n),
            dead: PerId::new(n),
            seen: PerId::new(n),
        }
    })
}

/// True for the ids every bolt attempt fails (they must end on the failed stream).
pub fn is_poison(id: u64, every: u64) -> bool {
    id % every == every - 1
}

/// Emits ids `task_index, task_index + tasks, ...` below `items`, each with its id as
/// message id. Replays are the runtime's (the retry policy).
#[derive(Default)]
pub struct Numbered {
    next: u64,
    step: u64,
    items: u64,
}

impl Spout for Numbered {
    type Out = Msg;

    fn open(&mut self, ctx: &TaskContext) {
        self.next = ctx.task_index() as u64;
        self.step = ctx.task_count() as u64;
        self.items = ctx.config_u64("items").unwrap_or(0);
        ledger();
    }

    fn next_tuple(&mut self, out: &mut impl Emitter<Msg>) -> SpoutStatus {
        if self.next >= self.items {
            return SpoutStatus::Done;
        }
        out.emit_with_id(self.next, Msg { id: self.next });
        self.next += self.step;
        SpoutStatus::Active
    }

    fn ack(&mut self, msg_id: u64) {
        ledger().acked.bump(msg_id);
    }

    fn fail(&mut self, msg_id: u64) {
        ledger().failed.bump(msg_id);
    }
}

/// What a flaky bolt does with one tuple.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    Process,
    Fail,
    Drop,
}

/// 1% fail, 0.5% drop, from a per-task generator (so a replay may succeed).
#[derive(Debug, Default)]
struct Dice(u64);

impl Dice {
    fn seed(&mut self, ctx: &TaskContext) {
        self.0 = 0x2545_f491_4f6c_dd1d ^ u64::from(ctx.task_id()).wrapping_mul(0x9e37_79b9);
    }

    fn roll(&mut self) -> Fate {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        match self.0 % 1000 {
            0..10 => Fate::Fail,
            10..15 => Fate::Drop,
            _ => Fate::Process,
        }
    }
}

/// First bolt (a basic bolt): emits anchored with `emit`, fails with `Err`, drops by taking
/// the input's anchor and never acking it. Always fails poison ids.
#[derive(Debug, Default)]
pub struct Flaky {
    dice: Dice,
    poison_every: u64,
}

impl Bolt for Flaky {
    type In = Msg;
    type Out = Msg;

    fn prepare(&mut self, ctx: &TaskContext) {
        self.dice.seed(ctx);
        self.poison_every = ctx.config_u64("poison_every").unwrap_or(u64::MAX);
    }

    fn execute(&mut self, m: Msg, out: &mut impl Emitter<Msg>) -> ExecResult {
        if is_poison(m.id, self.poison_every) {
            return Err(Fail::new(format!("poison message {}", m.id)));
        }
        match self.dice.roll() {
            Fate::Fail => Err(Fail::new("injected failure")),
            Fate::Drop => {
                drop(out.anchor());
                Ok(())
            }
            Fate::Process => {
                out.emit(m);
                Ok(())
            }
        }
    }
}

/// Second bolt (explicit acking): takes the anchor, emits anchored to it, then acks or
/// fails it itself.
#[derive(Debug, Default)]
pub struct FlakyExplicit {
    dice: Dice,
}

impl Bolt for FlakyExplicit {
    type In = Msg;
    type Out = Msg;

    fn prepare(&mut self, ctx: &TaskContext) {
        self.dice.seed(ctx);
    }

    fn execute(&mut self, m: Msg, out: &mut impl Emitter<Msg>) -> ExecResult {
        let mut anchor = out.anchor();
        match self.dice.roll() {
            Fate::Fail => out.fail(anchor),
            Fate::Drop => drop(anchor),
            Fate::Process => {
                out.emit_anchored(std::slice::from_mut(&mut anchor), m);
                out.ack(anchor);
            }
        }
        Ok(())
    }
}

/// The sink: records each id it processed, then fails or drops like the others.
#[derive(Debug, Default)]
pub struct FlakySink {
    dice: Dice,
}

impl Bolt for FlakySink {
    type In = Msg;
    type Out = ();

    fn prepare(&mut self, ctx: &TaskContext) {
        self.dice.seed(ctx);
    }

    fn execute(&mut self, m: Msg, out: &mut impl Emitter<()>) -> ExecResult {
        match self.dice.roll() {
            Fate::Fail => Err(Fail::new("injected failure")),
            Fate::Drop => {
                drop(out.anchor());
                Ok(())
            }
            Fate::Process => {
                ledger().seen.bump(m.id);
                Ok(())
            }
        }
    }
}

/// Receives the tuples that failed every attempt.
#[derive(Debug, Default)]
pub struct DeadLetters;

impl Bolt for DeadLetters {
    type In = Msg;
    type Out = ();

    fn execute(&mut self, m: Msg, _out: &mut impl Emitter<()>) -> ExecResult {
        ledger().dead.bump(m.id);
        Ok(())
    }
}
