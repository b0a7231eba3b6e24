//! Components of `processing_time.topo`.

use crate::processing_time::{Click, UserCount};
use gale::state::{KeyedContext, OpenContext, StateError, ValueState};
use gale::{Bolt, Emitter, ExecResult, ProcessBolt, Spout, SpoutStatus, TaskContext};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long the spout stays silent after its clicks.
pub const SILENCE: Duration = Duration::from_millis(600);

/// When the spout finished (after its silence), and what the recorders got, with when.
pub static DONE_AT: Mutex<Option<Instant>> = Mutex::new(None);
/// Window results, with when they arrived.
pub static COUNTS: Mutex<Vec<(Instant, UserCount)>> = Mutex::new(Vec::new());
/// Reminders, with when they arrived.
pub static REMINDERS: Mutex<Vec<(Instant, UserCount)>> = Mutex::new(Vec::new());

/// The clicks the custom watermark generator saw.
pub static GENERATOR_SAW: Mutex<u64> = Mutex::new(0);

/// A user watermark generator (`watermark custom(Counting)`): event time is the largest
/// timestamp seen; it counts what it sees.
#[derive(Default)]
pub struct Counting {
    max: Option<u64>,
}

impl gale::window::WatermarkGenerator<Click> for Counting {
    fn on_event(&mut self, _: &Click, ts: u64) {
        self.max = Some(self.max.map_or(ts, |m| m.max(ts)));
        if let Ok(mut n) = GENERATOR_SAW.lock() {
            *n += 1;
        }
    }
    fn current(&self) -> Option<i64> {
        self.max.map(|m| m as i64)
    }
}

/// Three clicks of two users, then silence, then done.
#[derive(Default)]
pub struct Burst {
    sent: usize,
    silent_since: Option<Instant>,
}

impl Spout for Burst {
    type Out = Click;
    fn open(&mut self, _: &TaskContext) {}
    fn next_tuple(&mut self, out: &mut impl Emitter<Click>) -> SpoutStatus {
        if self.sent < 3 {
            out.emit(Click {
                user: format!("u{}", self.sent % 2),
                at: 0,
            });
            self.sent += 1;
            return SpoutStatus::Active;
        }
        let since = *self.silent_since.get_or_insert_with(Instant::now);
        if since.elapsed() < SILENCE {
            std::thread::sleep(Duration::from_millis(5));
            return SpoutStatus::Idle;
        }
        if let Ok(mut d) = DONE_AT.lock() {
            *d = Some(Instant::now());
        }
        SpoutStatus::Done
    }
}

/// Per user, a reminder 100 ms (processing time) after its first click.
#[derive(Default)]
pub struct Remind {
    clicks: ValueState<u64>,
}

impl ProcessBolt for Remind {
    type Key = String;
    type In = Click;
    type Out = UserCount;
    fn open(&mut self, ctx: &mut OpenContext<'_, String>) -> Result<(), StateError> {
        self.clicks = ctx.value_state("clicks")?;
        Ok(())
    }
    fn process(
        &mut self,
        _: Click,
        ctx: &mut KeyedContext<'_, String>,
        _: &mut impl Emitter<UserCount>,
    ) -> ExecResult {
        let n = ctx.state(&self.clicks).get().copied().unwrap_or(0);
        if n == 0 {
            let at = ctx.now_ms() + 100;
            ctx.register_processing_time_timer(at);
        }
        ctx.state(&self.clicks).set(n + 1);
        Ok(())
    }
    fn on_processing_timer(
        &mut self,
        ts: u64,
        ctx: &mut KeyedContext<'_, String>,
        out: &mut impl Emitter<UserCount>,
    ) -> ExecResult {
        let n = ctx.state(&self.clicks).get().copied().unwrap_or(0);
        out.emit(UserCount {
            user: ctx.key().clone(),
            start: ts - 100,
            end: ts,
            count: n,
        });
        Ok(())
    }
}

macro_rules! timed_recorder {
    ($name:ident, $store:ident) => {
        /// Records what it gets, and when.
        #[derive(Default)]
        pub struct $name;

        impl Bolt for $name {
            type In = UserCount;
            type Out = ();
            fn execute(&mut self, t: UserCount, _: &mut impl Emitter<()>) -> ExecResult {
                if let Ok(mut v) = $store.lock() {
                    v.push((Instant::now(), t));
                }
                Ok(())
            }
        }
    };
}

timed_recorder!(RecordCounts, COUNTS);
timed_recorder!(RecordReminders, REMINDERS);
