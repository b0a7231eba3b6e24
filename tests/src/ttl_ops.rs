//! Components of `state_ttl.topo`: two waves of visits with a pause longer than the ttl
//! between them, a per-user visit count in keyed state, and recorders.

use crate::state_ttl::{Count, Seen, Visit};
use gale::state::{KeyedContext, OpenContext, StateError, ValueState};
use gale::{Bolt, Emitter, ExecResult, ProcessBolt, Spout, SpoutStatus, TaskContext};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// What `fresh` (with a ttl) counted.
pub static FRESH: Mutex<Vec<Seen>> = Mutex::new(Vec::new());
/// What `kept` (without) counted.
pub static KEPT: Mutex<Vec<Seen>> = Mutex::new(Vec::new());
/// The windows of `fresh_windows`.
pub static FRESH_WINDOWS: Mutex<Vec<Count>> = Mutex::new(Vec::new());
/// The windows of `kept_windows`.
pub static KEPT_WINDOWS: Mutex<Vec<Count>> = Mutex::new(Vec::new());

/// The first wave: `a` and `b`; the second, after the pause: `a` and `c`. All in one hour.
pub const WAVES: [&[(&str, u64)]; 2] =
    [&[("a", 1_000), ("b", 1_001)], &[("a", 2_000), ("c", 2_001)]];

/// How long the spout waits between the waves, once both counts have seen the first:
/// six times the ttl.
pub const PAUSE: Duration = Duration::from_millis(600);

/// During the pause, a visit of [`FILLER`] this often (more often than the bolts' 10 ms tick, so their input never times out): a
/// light, steady input, so the
/// bolts' clocks must move with input flowing, not only when the input stops.
pub const FILL_EVERY: Duration = Duration::from_millis(5);

/// The user whose visits fill the pause (left out of the checks).
pub const FILLER: &str = "z";

/// Emits the first wave, waits until both process functions have counted it and the
/// pause has passed (sending a filler visit now and then), then emits the second.
#[derive(Default)]
pub struct Visits {
    wave: usize,
    counted_at: Option<Instant>,
    filled_at: Option<Instant>,
}

fn emit_wave(wave: &[(&str, u64)], out: &mut impl Emitter<Visit>) {
    for (user, at) in wave {
        out.emit(Visit {
            user: user.to_string(),
            at: *at,
        });
    }
}

impl Spout for Visits {
    type Out = Visit;
    fn open(&mut self, _: &TaskContext) {}
    fn next_tuple(&mut self, out: &mut impl Emitter<Visit>) -> SpoutStatus {
        match self.wave {
            0 => {
                emit_wave(WAVES[0], out);
                self.wave = 1;
                SpoutStatus::Idle
            }
            1 => {
                let seen = |s: &Mutex<Vec<Seen>>| s.lock().map_or(0, |v| v.len());
                let first = WAVES[0].len();
                if self.counted_at.is_none() && seen(&FRESH) >= first && seen(&KEPT) >= first {
                    self.counted_at = Some(Instant::now());
                }
                if self.counted_at.is_some_and(|t| t.elapsed() >= PAUSE) {
                    emit_wave(WAVES[1], out);
                    self.wave = 2;
                } else if self.filled_at.is_none_or(|t| t.elapsed() >= FILL_EVERY) {
                    out.emit(Visit {
                        user: FILLER.to_string(),
                        at: 1_500,
                    });
                    self.filled_at = Some(Instant::now());
                }
                SpoutStatus::Idle
            }
            _ => SpoutStatus::Done,
        }
    }
}

/// Counts each user's visits in a value state that declares no ttl of its own.
#[derive(Default)]
pub struct CountVisits {
    count: ValueState<u64>,
}

impl ProcessBolt for CountVisits {
    type Key = String;
    type In = Visit;
    type Out = Seen;

    fn open(&mut self, ctx: &mut OpenContext<'_, String>) -> Result<(), StateError> {
        self.count = ctx.value_state("count")?;
        Ok(())
    }

    fn process(
        &mut self,
        v: Visit,
        ctx: &mut KeyedContext<'_, String>,
        out: &mut impl Emitter<Seen>,
    ) -> ExecResult {
        let mut count = ctx.state(&self.count);
        let n = count.get().copied().unwrap_or(0) + 1;
        count.set(n);
        out.emit(Seen {
            user: v.user,
            count: n,
        });
        Ok(())
    }
}

recorder!(RecordFresh, Seen, FRESH);
recorder!(RecordKept, Seen, KEPT);
recorder!(RecordFreshWindows, Count, FRESH_WINDOWS);
recorder!(RecordKeptWindows, Count, KEPT_WINDOWS);
