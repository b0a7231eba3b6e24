//! The emitter spouts and bolts write to.

use super::TaskId;

/// Where a component's output goes. The runtime hands each `execute`/`next_tuple` call an
/// emitter that routes by the topology's groupings; in a fused chain it calls the next
/// operator directly.
pub trait Emitter<T> {
    /// Emit a tuple on the component's output (for a stream set, the enum variant picks
    /// the stream).
    fn emit(&mut self, tuple: T);

    /// Emit a tuple to one task (the stream must be declared `direct`, and the consumers
    /// subscribe with the `direct` grouping). Task ids come from
    /// [`TaskContext::component_tasks`](crate::TaskContext::component_tasks).
    fn emit_direct(&mut self, task: TaskId, tuple: T);
}

/// A sink (`Out = ()`) emits nothing; emitting `()` is a no-op.
impl Emitter<()> for () {
    fn emit(&mut self, _tuple: ()) {}
    fn emit_direct(&mut self, _task: TaskId, _tuple: ()) {}
}
