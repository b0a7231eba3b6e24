//! The emitter spouts and bolts write to.

use super::TaskId;
use crate::ack::Anchor;

/// Where a component's output goes (Storm's output collector). The runtime hands each
/// `next_tuple`/`execute` call an emitter that routes by the topology's groupings; in a
/// fused chain it calls the next operator directly.
///
/// With `guarantee = at_least_once`:
/// - a spout emits with [`emit_with_id`](Emitter::emit_with_id) to have the tuple's tree
///   tracked; the runtime then calls its `ack(msg_id)` or `fail(msg_id)`;
/// - in a bolt, [`emit`](Emitter::emit) anchors the new tuple to the input being executed,
///   and the runtime acks that input when `execute` returns `Ok` (fails it on `Err` or a
///   panic): Storm's basic bolt;
/// - a bolt that keeps an input to finish it later takes an [`Anchor`] with
///   [`anchor`](Emitter::anchor), emits anchored to one or several anchors with
///   [`emit_anchored`](Emitter::emit_anchored), and acks or fails each anchor itself.
///
/// Without acking, the anchoring calls behave like plain emits and anchors are empty.
pub trait Emitter<T> {
    /// Emit a tuple on the component's output (for a stream set, the enum variant picks
    /// the stream). In a bolt it is anchored to the input being executed.
    fn emit(&mut self, tuple: T);

    /// Emit a tuple to one task (the stream must be declared `direct`, and the consumers
    /// subscribe with the `direct` grouping). Task ids come from
    /// [`TaskContext::component_tasks`](crate::TaskContext::component_tasks). Anchored like
    /// [`emit`](Emitter::emit).
    fn emit_direct(&mut self, task: TaskId, tuple: T);

    /// Spouts: emit a tuple whose tuple tree is tracked; the spout's `ack(msg_id)` or
    /// `fail(msg_id)` is called when it completes, fails or times out. Without acking (or
    /// with `ackers = 0`) `ack(msg_id)` is called right away.
    fn emit_with_id(&mut self, msg_id: u64, tuple: T) {
        let _ = msg_id;
        self.emit(tuple);
    }

    /// Bolts: a handle on the tuple trees of the input being executed, to ack or fail it
    /// later (after `execute` has returned). The input itself is still acked when
    /// `execute` returns; the anchor keeps its trees open until it is acked. Only the first
    /// call during one `execute` returns a live anchor; later calls return an empty one.
    ///
    /// Ack held anchors from a later `execute`, not from [`Bolt::finish`](crate::Bolt::finish):
    /// a finite spout waits for its trees before it ends its stream, so a tree held until
    /// `finish` is only released by `message_timeout`.
    fn anchor(&mut self) -> Anchor {
        Anchor::none()
    }

    /// Bolts: emit a tuple anchored to every anchor in `anchors` (a join or an aggregate of
    /// several inputs).
    fn emit_anchored(&mut self, anchors: &mut [Anchor], tuple: T) {
        let _ = anchors;
        self.emit(tuple);
    }

    /// Bolts: emit a tuple that belongs to no tree: its loss is never noticed.
    fn emit_unanchored(&mut self, tuple: T) {
        self.emit(tuple);
    }

    /// Bolts: the input behind `anchor` is fully processed.
    fn ack(&mut self, anchor: Anchor) {
        let _ = anchor;
    }

    /// Bolts: the input behind `anchor` failed: its spout tuples fail now (and may be
    /// replayed) instead of timing out.
    fn fail(&mut self, anchor: Anchor) {
        let _ = anchor;
    }
}

/// A sink (`Out = ()`) emits nothing; emitting `()` is a no-op.
impl Emitter<()> for () {
    fn emit(&mut self, _tuple: ()) {}
    fn emit_direct(&mut self, _task: TaskId, _tuple: ()) {}
}

/// Collects tuples: handy to unit-test a bolt or a spout without a topology.
///
/// ```
/// use gale::{Bolt, Emitter, ExecResult};
///
/// #[derive(Default)]
/// struct Double;
/// impl Bolt for Double {
///     type In = u64;
///     type Out = u64;
///     fn execute(&mut self, n: u64, out: &mut impl Emitter<u64>) -> ExecResult {
///         out.emit(n * 2);
///         Ok(())
///     }
/// }
///
/// let mut out = Vec::new();
/// Double.execute(21, &mut out).unwrap();
/// assert_eq!(out, [42]);
/// ```
impl<T> Emitter<T> for Vec<T> {
    fn emit(&mut self, tuple: T) {
        self.push(tuple);
    }
    fn emit_direct(&mut self, _task: TaskId, tuple: T) {
        self.push(tuple);
    }
}
