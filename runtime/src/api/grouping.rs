//! User-defined groupings (`custom(path::To::Grouping)` in `.topo`).

use super::TaskId;

/// A grouping written by the user (Storm's `CustomStreamGrouping`).
///
/// Built with `Default` once per producing task. `prepare` receives the consumer's task
/// ids; `choose_tasks` pushes the ids of the tasks that must receive the tuple (one or more).
///
/// ```
/// use gale::{CustomGrouping, TaskId};
///
/// /// Even numbers to the first task, odd ones to the last.
/// #[derive(Default)]
/// struct Parity { targets: Vec<TaskId> }
///
/// impl CustomGrouping<u64> for Parity {
///     fn prepare(&mut self, targets: &[TaskId]) { self.targets = targets.to_vec(); }
///     fn choose_tasks(&mut self, n: &u64, out: &mut Vec<TaskId>) {
///         let i = if n % 2 == 0 { 0 } else { self.targets.len() - 1 };
///         out.push(self.targets[i]);
///     }
/// }
/// ```
pub trait CustomGrouping<T>: Send + 'static {
    /// The tasks of the consuming component, in increasing order.
    fn prepare(&mut self, targets: &[TaskId]);
    /// Push the task ids that receive `tuple`.
    fn choose_tasks(&mut self, tuple: &T, out: &mut Vec<TaskId>);
}
