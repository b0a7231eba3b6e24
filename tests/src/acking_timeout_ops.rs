//! Components of `acking_timeout.topo`, driven by a manual clock the test advances.

use crate::acking_timeout::Msg;
use gale::{Anchor, Bolt, Clock, Emitter, ExecResult, Spout, SpoutStatus};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use std::sync::{Mutex, OnceLock};

/// The manual clock the run uses (set by the test before it starts).
pub static CLOCK: OnceLock<Clock> = OnceLock::new();
/// Set by the test to end the spout.
pub static STOP: AtomicBool = AtomicBool::new(false);
/// Tracked messages emitted so far.
pub static EMITTED: AtomicU64 = AtomicU64::new(0);
/// `(msg_id, "ack" | "fail", clock ms)` for every spout callback.
pub static CALLS: Mutex<Vec<(u64, &'static str, u64)>> = Mutex::new(Vec::new());
/// The clock time (ms) at which the bolt acks message 2.
pub const ACK_AT_MS: u64 = 999;

fn now_ms() -> u64 {
    CLOCK.get().map_or(0, Clock::now_ms)
}

fn record(id: u64, what: &'static str) {
    CALLS
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push((id, what, now_ms()));
}

/// Emits messages 1 and 2 with ids, then an untracked nudge (id 0) per call until stopped,
/// so the bolt gets a chance to act as the clock moves.
#[derive(Default)]
pub struct TwoAndNudges {
    sent: u64,
}

impl Spout for TwoAndNudges {
    type Out = Msg;

    fn next_tuple(&mut self, out: &mut impl Emitter<Msg>) -> SpoutStatus {
        if STOP.load(SeqCst) {
            return SpoutStatus::Done;
        }
        if self.sent < 2 {
            self.sent += 1;
            out.emit_with_id(self.sent, Msg { id: self.sent });
            EMITTED.fetch_add(1, SeqCst);
            return SpoutStatus::Active;
        }
        out.emit(Msg { id: 0 });
        SpoutStatus::Idle
    }

    fn ack(&mut self, msg_id: u64) {
        record(msg_id, "ack");
    }

    fn fail(&mut self, msg_id: u64) {
        record(msg_id, "fail");
    }
}

/// Holds message 1 forever; holds message 2 and acks it once the clock reads
/// [`ACK_AT_MS`].
#[derive(Default)]
pub struct Holder {
    forever: Option<Anchor>,
    two: Option<Anchor>,
}

impl Bolt for Holder {
    type In = Msg;
    type Out = ();

    fn execute(&mut self, m: Msg, out: &mut impl Emitter<()>) -> ExecResult {
        match m.id {
            1 => self.forever = Some(out.anchor()),
            2 => self.two = Some(out.anchor()),
            _ => {}
        }
        if now_ms() >= ACK_AT_MS
            && let Some(a) = self.two.take()
        {
            out.ack(a);
        }
        Ok(())
    }
}
