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
use std::any::Any;
use std::marker::PhantomData;

/// `a` as a `B`, when `A` is `B`: what the generated checks prove (`Takes`/`Emits`) before
/// the wiring exists. It replaced a cast through a `fn` pointer, an indirect call per tuple
/// per operator (a fused chain ran at a fifth of its loop): with both types known, the type
/// comparison is a constant and the whole cast compiles to nothing.
#[inline(always)]
fn same<A: 'static, B: 'static>(a: A) -> B {
    let mut slot = Some(a);
    match (&mut slot as &mut dyn Any)
        .downcast_mut::<Option<B>>()
        .and_then(Option::take)
    {
        Some(b) => b,
        None => unreachable!(
            "gale: a component's declared and real tuple types differ past the generated checks"
        ),
    }
}

/// The type-level record of a [`TypedBolt`]'s two casts.
type Casts<I, BI, BO, O> = (fn(I) -> BI, fn(BO) -> O);

/// Bolt `B` (from `BI` to `BO`) seen as a bolt from `I` to `O`.
pub struct TypedBolt<B, BI, BO, I, O> {
    op: B,
    _types: PhantomData<Casts<I, BI, BO, O>>,
}

impl<B, BI, BO, I, O> TypedBolt<B, BI, BO, I, O> {
    /// Wraps `op`. `input` and `output` are the generated identity casts between the
    /// declared and the real types: naming them is what checks that the types are equal;
    /// the tuples themselves go through a type comparison that compiles to nothing.
    pub fn new(op: B, input: fn(I) -> BI, output: fn(BO) -> O) -> Self {
        let _ = (input, output);
        TypedBolt {
            op,
            _types: PhantomData,
        }
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
        let mut out = MapEmitter::new(out);
        self.op.execute(same(input), &mut out)
    }

    fn finish(&mut self, out: &mut impl Emitter<O>) {
        self.op.finish(&mut MapEmitter::new(out));
    }

    // Everything else the bolt may implement is passed on too (a default not forwarded
    // here would silently hide the user's).
    fn on_watermark(&mut self, watermark: i64, out: &mut impl Emitter<O>) {
        self.op.on_watermark(watermark, &mut MapEmitter::new(out));
    }

    fn tick_interval(&self) -> Option<std::time::Duration> {
        self.op.tick_interval()
    }

    fn on_tick(&mut self, now_ms: u64, out: &mut impl Emitter<O>) {
        self.op.on_tick(now_ms, &mut MapEmitter::new(out));
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
    _types: PhantomData<fn(SO) -> O>,
}

impl<S, SO, O> TypedSpout<S, SO, O> {
    /// Wraps `op`; `output` is the generated identity cast to the declared type (see
    /// [`TypedBolt::new`]).
    pub fn new(op: S, output: fn(SO) -> O) -> Self {
        let _ = output;
        TypedSpout {
            op,
            _types: PhantomData,
        }
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
        self.op.next_tuple(&mut MapEmitter::new(out))
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

/// An emitter of `T` writing `U`s to `inner`: the real output type of a component seen as
/// its declared one (the same type: the conversion compiles to nothing).
pub struct MapEmitter<'a, E, T, U> {
    inner: &'a mut E,
    _types: PhantomData<fn(T) -> U>,
}

impl<'a, E, T, U> MapEmitter<'a, E, T, U> {
    /// Wraps `inner`.
    pub fn new(inner: &'a mut E) -> Self {
        MapEmitter {
            inner,
            _types: PhantomData,
        }
    }
}

impl<E: Emitter<U>, T: 'static, U: 'static> MapEmitter<'_, E, T, U> {
    #[inline(always)]
    fn map(t: T) -> U {
        same(t)
    }
}

impl<E: Emitter<U>, T: 'static, U: 'static> Emitter<T> for MapEmitter<'_, E, T, U> {
    #[inline]
    fn emit(&mut self, tuple: T) {
        self.inner.emit(Self::map(tuple));
    }
    fn emit_direct(&mut self, task: TaskId, tuple: T) {
        self.inner.emit_direct(task, Self::map(tuple));
    }
    fn emit_with_id(&mut self, msg_id: u64, tuple: T) {
        self.inner.emit_with_id(msg_id, Self::map(tuple));
    }
    fn anchor(&mut self) -> Anchor {
        self.inner.anchor()
    }
    fn emit_anchored(&mut self, anchors: &mut [Anchor], tuple: T) {
        self.inner.emit_anchored(anchors, Self::map(tuple));
    }
    fn emit_unanchored(&mut self, tuple: T) {
        self.inner.emit_unanchored(Self::map(tuple));
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
