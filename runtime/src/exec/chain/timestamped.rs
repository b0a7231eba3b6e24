//! The output of a component that declares `timestamp(field) watermark ...`: it watches
//! the event time of what the component emits and sends watermarks downstream — after
//! every few batches' worth of tuples and at each flush, and only when event time moved —
//! in place of any watermark from its own input (as Flink's
//! `assignTimestampsAndWatermarks` does).

use super::Downstream;
use crate::ack::Anchoring;
use crate::api::{Emitter, TaskId};
use crate::exec::wiring::Wiring;
use crate::window::WatermarkGenerator;

/// An output that generates watermarks from the timestamps emitted through it.
pub struct Timestamped<T, G, D> {
    time_of: fn(&T) -> u64,
    generator: G,
    sent: Option<i64>,
    /// Tuples since the last watermark, and how many make the next one due.
    since: usize,
    every: usize,
    inner: D,
}

/// Batches' worth of tuples between two watermarks of a busy output (each watermark
/// flushes the partly filled batches: not too often).
const BATCHES_PER_WATERMARK: usize = 4;

impl<T, G: WatermarkGenerator<T>, D: Downstream<T>> Timestamped<T, G, D> {
    /// Reads each tuple's event time with `time_of`; `generator` turns them into
    /// watermarks sent to `inner`.
    pub fn new(time_of: fn(&T) -> u64, generator: G, inner: D) -> Self {
        Timestamped {
            time_of,
            generator,
            sent: None,
            since: 0,
            every: usize::MAX,
            inner,
        }
    }

    #[inline]
    fn saw(&mut self, tuple: &T) {
        let ts = (self.time_of)(tuple);
        self.generator.on_event(tuple, ts);
        self.since += 1;
    }

    /// After an emit: a busy output sends a watermark every few batches.
    #[inline]
    fn maybe_send(&mut self) {
        if self.since >= self.every {
            self.send_watermark();
        }
    }

    fn send_watermark(&mut self) {
        self.since = 0;
        if let Some(w) = self.generator.current()
            && self.sent.is_none_or(|s| w > s)
        {
            self.sent = Some(w);
            self.inner.watermark(w);
        }
    }
}

impl<T, G: WatermarkGenerator<T>, D: Downstream<T>> Emitter<T> for Timestamped<T, G, D> {
    #[inline]
    fn emit(&mut self, tuple: T) {
        self.saw(&tuple);
        self.inner.emit(tuple);
        self.maybe_send();
    }
    #[inline]
    fn emit_direct(&mut self, task: TaskId, tuple: T) {
        self.saw(&tuple);
        self.inner.emit_direct(task, tuple);
        self.maybe_send();
    }
}

impl<T: Send, G: WatermarkGenerator<T>, D: Downstream<T>> Downstream<T> for Timestamped<T, G, D> {
    #[inline]
    fn emit_tracked(&mut self, tuple: T, anchoring: &mut Anchoring<'_>) {
        self.saw(&tuple);
        self.inner.emit_tracked(tuple, anchoring);
        self.maybe_send();
    }
    #[inline]
    fn emit_direct_tracked(&mut self, task: TaskId, tuple: T, anchoring: &mut Anchoring<'_>) {
        self.saw(&tuple);
        self.inner.emit_direct_tracked(task, tuple, anchoring);
        self.maybe_send();
    }
    fn open(&mut self, wiring: &Wiring) {
        self.every = wiring.batch_size().max(1) * BATCHES_PER_WATERMARK;
        self.inner.open(wiring);
    }
    fn flush(&mut self) {
        // The watermark follows the tuples it covers (they are in the batches it flushes).
        self.inner.flush();
        self.send_watermark();
    }
    fn finish(&mut self) {
        self.inner.flush();
        self.send_watermark();
        self.inner.finish();
    }
    fn report(&mut self, wiring: &Wiring) {
        self.inner.report(wiring);
    }
    fn tick_interval(&self) -> Option<std::time::Duration> {
        self.inner.tick_interval()
    }
    fn tick(&mut self, now_ms: u64) {
        self.inner.tick(now_ms);
    }
    fn advance_snapshots(&mut self, budget: std::time::Duration) -> bool {
        self.inner.advance_snapshots(budget)
    }
    fn snapshot_paused(&mut self, took: std::time::Duration) {
        self.inner.snapshot_paused(took);
    }
    fn watermark(&mut self, _upstream: i64) {
        // Its own timestamps define event time from here on.
    }
    fn barrier(&mut self, id: u64, savepoint: bool) {
        self.inner.barrier(id, savepoint);
    }
    fn notify_complete(&mut self, id: u64) {
        self.inner.notify_complete(id);
    }
}
