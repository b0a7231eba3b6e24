//! A window's two outputs: results to its output stream, late elements to its `late`
//! stream (what `gale::window::WindowOutput` values the window emits).

use super::Downstream;
use crate::ack::Anchoring;
use crate::api::{Emitter, TaskId};
use crate::exec::wiring::Wiring;
use crate::window::WindowOutput;

/// Splits a window's output: results to `.0`, late elements to `.1`.
pub struct WindowOutputs<R, L>(pub R, pub L);

impl<A, B, R: Emitter<A>, L: Emitter<B>> Emitter<WindowOutput<A, B>> for WindowOutputs<R, L> {
    #[inline]
    fn emit(&mut self, t: WindowOutput<A, B>) {
        match t {
            WindowOutput::Result(r) => self.0.emit(r),
            WindowOutput::Late(l) => self.1.emit(l),
        }
    }
    #[inline]
    fn emit_direct(&mut self, task: TaskId, t: WindowOutput<A, B>) {
        match t {
            WindowOutput::Result(r) => self.0.emit_direct(task, r),
            WindowOutput::Late(l) => self.1.emit_direct(task, l),
        }
    }
}

impl<A, B, R: Downstream<A>, L: Downstream<B>> Downstream<WindowOutput<A, B>>
    for WindowOutputs<R, L>
{
    #[inline]
    fn emit_tracked(&mut self, t: WindowOutput<A, B>, anchoring: &mut Anchoring<'_>) {
        match t {
            WindowOutput::Result(r) => self.0.emit_tracked(r, anchoring),
            WindowOutput::Late(l) => self.1.emit_tracked(l, anchoring),
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
            WindowOutput::Result(r) => self.0.emit_direct_tracked(task, r, anchoring),
            WindowOutput::Late(l) => self.1.emit_direct_tracked(task, l, anchoring),
        }
    }
    fn open(&mut self, wiring: &Wiring) {
        self.0.open(wiring);
        self.1.open(wiring);
    }
    fn flush(&mut self) {
        self.0.flush();
        self.1.flush();
    }
    fn finish(&mut self) {
        self.0.finish();
        self.1.finish();
    }
    fn report(&mut self, wiring: &Wiring) {
        self.0.report(wiring);
        self.1.report(wiring);
    }
    fn watermark(&mut self, watermark: i64) {
        self.0.watermark(watermark);
        self.1.watermark(watermark);
    }
    fn tick_interval(&self) -> Option<std::time::Duration> {
        super::shortest(self.0.tick_interval(), self.1.tick_interval())
    }
    fn tick(&mut self, now_ms: u64) {
        self.0.tick(now_ms);
        self.1.tick(now_ms);
    }
}
