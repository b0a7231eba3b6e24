//! A window's two outputs: results to its output stream, late elements to its `late`
//! stream (what `gale::window::WindowOutput` values the window emits). It counts the late
//! ones for the run summary, whether or not an edge reads the `late` stream.

use super::Downstream;
use crate::ack::Anchoring;
use crate::api::{Emitter, TaskId};
use crate::exec::wiring::Wiring;
use crate::window::WindowOutput;

/// Splits a window's output: results to `results`, late elements to `late` (counted).
pub struct WindowOutputs<R, L> {
    component: usize,
    /// Late elements since the last report.
    late_count: u64,
    results: R,
    late: L,
}

impl<R, L> WindowOutputs<R, L> {
    /// The outputs of window `component`: its results go to `results`, its late elements
    /// to `late` (its `late` stream; [`Discard`](super::Discard) when no edge reads it).
    pub fn new(component: usize, results: R, late: L) -> Self {
        WindowOutputs {
            component,
            late_count: 0,
            results,
            late,
        }
    }
}

impl<A, B, R: Emitter<A>, L: Emitter<B>> Emitter<WindowOutput<A, B>> for WindowOutputs<R, L> {
    #[inline]
    fn emit(&mut self, t: WindowOutput<A, B>) {
        match t {
            WindowOutput::Result(r) => self.results.emit(r),
            WindowOutput::Late(l) => {
                self.late_count += 1;
                self.late.emit(l);
            }
        }
    }
    #[inline]
    fn emit_direct(&mut self, task: TaskId, t: WindowOutput<A, B>) {
        match t {
            WindowOutput::Result(r) => self.results.emit_direct(task, r),
            WindowOutput::Late(l) => {
                self.late_count += 1;
                self.late.emit_direct(task, l);
            }
        }
    }
}

impl<A, B, R: Downstream<A>, L: Downstream<B>> Downstream<WindowOutput<A, B>>
    for WindowOutputs<R, L>
{
    #[inline]
    fn emit_tracked(&mut self, t: WindowOutput<A, B>, anchoring: &mut Anchoring<'_>) {
        match t {
            WindowOutput::Result(r) => self.results.emit_tracked(r, anchoring),
            WindowOutput::Late(l) => {
                self.late_count += 1;
                self.late.emit_tracked(l, anchoring);
            }
        }
    }
    #[inline]
    fn emit_direct_tracked(
        &mut self,
        task: TaskId,
        t: WindowOutput<A, B>,
        anchoring: &mut Anchoring<'_>,
    ) {
        match t {
            WindowOutput::Result(r) => self.results.emit_direct_tracked(task, r, anchoring),
            WindowOutput::Late(l) => {
                self.late_count += 1;
                self.late.emit_direct_tracked(task, l, anchoring);
            }
        }
    }
    fn open(&mut self, wiring: &Wiring) {
        wiring.metrics().has_late_stream(self.component);
        self.results.open(wiring);
        self.late.open(wiring);
    }
    fn flush(&mut self) {
        self.results.flush();
        self.late.flush();
    }
    fn finish(&mut self) {
        self.results.finish();
        self.late.finish();
    }
    fn report(&mut self, wiring: &Wiring) {
        wiring.metrics().add_late(self.component, self.late_count);
        self.late_count = 0;
        self.results.report(wiring);
        self.late.report(wiring);
    }
    fn watermark(&mut self, watermark: i64) {
        self.results.watermark(watermark);
        self.late.watermark(watermark);
    }
    fn barrier(&mut self, id: u64, savepoint: bool) {
        self.results.barrier(id, savepoint);
        self.late.barrier(id, savepoint);
    }
    fn notify_complete(&mut self, id: u64) {
        self.results.notify_complete(id);
        self.late.notify_complete(id);
    }
    fn tick_interval(&self) -> Option<std::time::Duration> {
        super::shortest(self.results.tick_interval(), self.late.tick_interval())
    }
    fn tick(&mut self, now_ms: u64) {
        self.results.tick(now_ms);
        self.late.tick(now_ms);
    }
    fn advance_snapshots(&mut self, budget: std::time::Duration) -> bool {
        let results = self.results.advance_snapshots(budget);
        self.late.advance_snapshots(budget) | results
    }
    fn snapshot_paused(&mut self, took: std::time::Duration) {
        self.results.snapshot_paused(took);
        self.late.snapshot_paused(took);
    }
}
