//! Adapters that give a user's spout or bolt exactly the types its `.topo` declaration
//! names, for generated code (re-exported only through `gale::__private`).
//!
//! Generated code checks, one fact at a time, that a component's Rust type is a bolt (or
//! spout) and that its `In` and `Out` are the `.topo` schemas, each fact with its own
//! message naming the `.topo` line. The wiring then uses a [`TypedBolt`] or [`TypedSpout`]
//! whose types come from the `.topo` file, not from the user's type: when a fact fails,
//! rustc reports that fact once, and the wiring built on the declared types has nothing
//! more to report. When the facts hold, the casts are the identity.

use super::{Bolt, Emitter, ExecResult, Spout, SpoutStatus, TaskContext, TaskId, TaskState};
use crate::ack::Anchor;
use std::marker::PhantomData;

/// Bolt `B` (from `BI` to `BO`) seen as a bolt from `I` to `O`.
pub struct TypedBolt<B, BI, BO, I, O> {
    op: B,
    input: fn(I) -> BI,
    output: fn(BO) -> O,
}

impl<B, BI, BO, I, O> TypedBolt<B, BI, BO, I, O> {
    /// Wraps `op`; `input` and `output` convert between the declared and the real types
    /// (the identity, once the generated checks hold).
    pub fn new(op: B, input: fn(I) -> BI, output: fn(BO) -> O) -> Self {
        TypedBolt { op, input, output }
    }
}

// Generated code's adapter: never offered in "other types implement" hints.
#[diagnostic::do_not_recommend]
impl<B, BI, BO, I, O> Bolt for TypedBolt<B, BI, BO, I, O>
where
    B: Bolt<In = BI, Out = BO>,
    BI: 'static,
    BO: 'static,
    I: 'static,
    O: 'static,
{
    type In = I;
    type Out = O;

    fn prepare(&mut self, ctx: &TaskContext) {
        self.op.prepare(ctx);
    }

    #[inline]
    fn execute(&mut self, input: I, out: &mut impl Emitter<O>) -> ExecResult {
        let mut out = MapEmitter::new(out, self.output);
        self.op.execute((self.input)(input), &mut out)
    }

    fn finish(&mut self, out: &mut impl Emitter<O>) {
        self.op.finish(&mut MapEmitter::new(out, self.output));
    }

    // Everything else the bolt may implement is passed on too (a default not forwarded
    // here would silently hide the user's).
    fn on_watermark(&mut self, watermark: i64, out: &mut impl Emitter<O>) {
        self.op
            .on_watermark(watermark, &mut MapEmitter::new(out, self.output));
    }

    fn tick_interval(&self) -> Option<std::time::Duration> {
        self.op.tick_interval()
    }

    fn on_tick(&mut self, now_ms: u64, out: &mut impl Emitter<O>) {
        self.op
            .on_tick(now_ms, &mut MapEmitter::new(out, self.output));
    }

    fn snapshot_state(&mut self, checkpoint: u64) -> Result<Option<TaskState>, super::Fail> {
        self.op.snapshot_state(checkpoint)
    }

    fn begin_snapshot(&mut self, checkpoint: u64) -> Result<super::SnapshotStep, super::Fail> {
        self.op.begin_snapshot(checkpoint)
    }

    fn continue_snapshot(
        &mut self,
        budget: std::time::Duration,
    ) -> Result<super::SnapshotStep, super::Fail> {
        self.op.continue_snapshot(budget)
    }

    fn initialize_state(&mut self, restored: Option<TaskState>) -> ExecResult {
        self.op.initialize_state(restored)
    }

    fn notify_checkpoint_complete(&mut self, id: u64) -> ExecResult {
        self.op.notify_checkpoint_complete(id)
    }
}

/// Spout `S` (emitting `SO`) seen as a spout emitting `O`.
pub struct TypedSpout<S, SO, O> {
    op: S,
    output: fn(SO) -> O,
}

impl<S, SO, O> TypedSpout<S, SO, O> {
    /// Wraps `op`; `output` converts its tuples to the declared type (the identity, once
    /// the generated checks hold).
    pub fn new(op: S, output: fn(SO) -> O) -> Self {
        TypedSpout { op, output }
    }
}

#[diagnostic::do_not_recommend]
impl<S, SO, O> Spout for TypedSpout<S, SO, O>
where
    S: Spout<Out = SO>,
    SO: 'static,
    O: 'static,
{
    type Out = O;

    fn open(&mut self, ctx: &TaskContext) {
        self.op.open(ctx);
    }

    #[inline]
    fn next_tuple(&mut self, out: &mut impl Emitter<O>) -> SpoutStatus {
        self.op.next_tuple(&mut MapEmitter::new(out, self.output))
    }

    fn ack(&mut self, msg_id: u64) {
        self.op.ack(msg_id);
    }

    fn fail(&mut self, msg_id: u64) {
        self.op.fail(msg_id);
    }

    fn close(&mut self) {
        self.op.close();
    }

    fn snapshot_state(&mut self, checkpoint: u64) -> Result<Option<TaskState>, super::Fail> {
        self.op.snapshot_state(checkpoint)
    }

    fn initialize_state(&mut self, restored: Option<TaskState>) -> Result<(), super::Fail> {
        self.op.initialize_state(restored)
    }
}

/// An emitter of `T` writing `U`s to `inner`, converting each tuple with `map`.
pub struct MapEmitter<'a, E, T, U> {
    inner: &'a mut E,
    map: fn(T) -> U,
    _types: PhantomData<fn(T) -> U>,
}

impl<'a, E, T, U> MapEmitter<'a, E, T, U> {
    /// Wraps `inner`.
    pub fn new(inner: &'a mut E, map: fn(T) -> U) -> Self {
        MapEmitter {
            inner,
            map,
            _types: PhantomData,
        }
    }
}

impl<E: Emitter<U>, T, U> Emitter<T> for MapEmitter<'_, E, T, U> {
    #[inline]
    fn emit(&mut self, tuple: T) {
        self.inner.emit((self.map)(tuple));
    }
    fn emit_direct(&mut self, task: TaskId, tuple: T) {
        self.inner.emit_direct(task, (self.map)(tuple));
    }
    fn emit_with_id(&mut self, msg_id: u64, tuple: T) {
        self.inner.emit_with_id(msg_id, (self.map)(tuple));
    }
    fn anchor(&mut self) -> Anchor {
        self.inner.anchor()
    }
    fn emit_anchored(&mut self, anchors: &mut [Anchor], tuple: T) {
        self.inner.emit_anchored(anchors, (self.map)(tuple));
    }
    fn emit_unanchored(&mut self, tuple: T) {
        self.inner.emit_unanchored((self.map)(tuple));
    }
    fn ack(&mut self, anchor: Anchor) {
        self.inner.ack(anchor);
    }
    fn fail(&mut self, anchor: Anchor) {
        self.inner.fail(anchor);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Double;
    impl Bolt for Double {
        type In = u64;
        type Out = u64;
        fn execute(&mut self, n: u64, out: &mut impl Emitter<u64>) -> ExecResult {
            out.emit(n * 2);
            Ok(())
        }
    }

    #[test]
    fn a_typed_bolt_is_the_bolt() {
        let mut b = TypedBolt::<Double, u64, u64, u64, u64>::new(Double, |n| n, |n| n);
        let mut out = Vec::new();
        b.execute(21, &mut out).expect("executes");
        assert_eq!(out, [42]);
    }
}
