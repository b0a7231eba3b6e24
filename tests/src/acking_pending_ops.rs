//! Components of `acking_pending.topo`: a spout that measures its own tuples in flight, a
//! slowish bolt, and a bolt that panics on some tuples.

use crate::acking_pending::Msg;
use gale::{Bolt, Emitter, ExecResult, Spout, SpoutStatus, TaskContext};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
use std::time::Duration;

/// The most tuples one spout task had emitted and not yet seen acked or failed.
pub static MAX_IN_FLIGHT: AtomicU64 = AtomicU64::new(0);
/// Message ids acked.
pub static ACKED: Mutex<Vec<u64>> = Mutex::new(Vec::new());
/// Message ids failed.
pub static FAILED: Mutex<Vec<u64>> = Mutex::new(Vec::new());

/// Emits `items` ids (strided over its tasks) and tracks its own in-flight count.
#[derive(Default)]
pub struct Counted {
    next: u64,
    step: u64,
    items: u64,
    in_flight: u64,
}

impl Spout for Counted {
    type Out = Msg;

    fn open(&mut self, ctx: &TaskContext) {
        self.next = ctx.task_index() as u64;
        self.step = ctx.task_count() as u64;
        self.items = ctx.config_u64("items").unwrap_or(0);
    }

    fn next_tuple(&mut self, out: &mut impl Emitter<Msg>) -> SpoutStatus {
        if self.next >= self.items {
            return SpoutStatus::Done;
        }
        out.emit_with_id(self.next, Msg { id: self.next });
        self.next += self.step;
        self.in_flight += 1;
        MAX_IN_FLIGHT.fetch_max(self.in_flight, SeqCst);
        SpoutStatus::Active
    }

    fn ack(&mut self, msg_id: u64) {
        self.in_flight -= 1;
        ACKED.lock().unwrap_or_else(|p| p.into_inner()).push(msg_id);
    }

    fn fail(&mut self, msg_id: u64) {
        self.in_flight -= 1;
        FAILED
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(msg_id);
    }
}

/// Forwards each tuple after a few microseconds.
#[derive(Default)]
pub struct Slowish;

impl Bolt for Slowish {
    type In = Msg;
    type Out = Msg;

    fn execute(&mut self, m: Msg, out: &mut impl Emitter<Msg>) -> ExecResult {
        std::thread::sleep(Duration::from_micros(5));
        out.emit(m);
        Ok(())
    }
}

/// Panics on every `panic_every`-th id.
#[derive(Default)]
pub struct Panicky {
    every: u64,
}

impl Bolt for Panicky {
    type In = Msg;
    type Out = ();

    fn prepare(&mut self, ctx: &TaskContext) {
        self.every = ctx.config_u64("panic_every").unwrap_or(u64::MAX);
    }

    fn execute(&mut self, m: Msg, _out: &mut impl Emitter<()>) -> ExecResult {
        if m.id.is_multiple_of(self.every) {
            panic!("bolt bug on message {}", m.id);
        }
        Ok(())
    }
}
