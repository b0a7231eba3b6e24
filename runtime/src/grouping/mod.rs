//! Stream groupings: which consumer task(s) receive each tuple (Storm's groupings;
//! timely's "parallelization contracts").
//!
//! Each grouping lives in its own file and implements [`Grouping`]; a [`Router`] applies
//! one to a stream and batches the tuples per target task.

mod all;
mod custom;
mod direct;
mod fields;
mod global;
mod key_hash;
mod local_or_shuffle;
mod partial_key;
mod router;
mod shuffle;

pub use all::All;
pub use custom::Custom;
pub use direct::Direct;
pub use fields::{DEFAULT_MAX_PARALLELISM, Fields, key_group, key_group_range, key_group_task};
pub use global::Global;
pub use key_hash::{FastMap, FastSet, KeyHasher, MapHasher, hash_key};
pub use local_or_shuffle::LocalOrShuffle;
pub use partial_key::PartialKey;
pub use router::{Router, Same, Variant, Wrap};
pub use shuffle::Shuffle;

use crate::api::TaskId;

/// Where one tuple goes, as indexes into the consumer's tasks (0-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Choice<'a> {
    /// One task.
    One(usize),
    /// Every task.
    All,
    /// These tasks.
    Many(&'a [usize]),
}

/// What a grouping knows about the edge it serves.
#[derive(Debug, Clone)]
pub struct Targets {
    /// The consumer's task ids, in increasing order.
    pub tasks: Vec<TaskId>,
    /// Indexes (into `tasks`) of the consumer tasks in this worker.
    pub local: Vec<usize>,
    /// The producing task's id.
    pub source: TaskId,
}

/// A grouping: picks the consumer task(s) for each tuple.
pub trait Grouping<T>: Send {
    /// Called once before the first tuple.
    fn prepare(&mut self, targets: &Targets) {
        let _ = targets;
    }

    /// The task(s) that receive `tuple`.
    fn choose(&mut self, tuple: &T) -> Choice<'_>;

    /// True for the `direct` grouping: tuples arrive only through `emit_direct`.
    fn is_direct(&self) -> bool {
        false
    }
}
