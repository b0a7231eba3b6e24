//! `fields(a, b)`: equal values of the fields always reach the same task.
//!
//! Keys are hashed into a fixed number of **key groups** — the topology's
//! `max_parallelism` (default 128, as in Flink), whatever the task count — and each task
//! owns a contiguous range of them (Flink's scheme). A key's group never changes, not even
//! when the consumer's task count does, so keyed state moves between tasks by whole key
//! groups (see [`crate::state`]).

use super::{Choice, Grouping};
use std::ops::Range;

/// The key groups of a keyed edge when the topology does not set `max_parallelism`.
pub const DEFAULT_MAX_PARALLELISM: u32 = 128;

/// The key group of a key hash, out of `max_parallelism` groups.
#[inline]
pub fn key_group(hash: u64, max_parallelism: u32) -> u32 {
    (hash % u64::from(max_parallelism.max(1))) as u32
}

/// The task index (of `tasks`) that owns key group `group` (of `max_parallelism`).
#[inline]
pub fn key_group_task(group: u32, tasks: usize, max_parallelism: u32) -> usize {
    (u64::from(group) * tasks as u64 / u64::from(max_parallelism.max(1))) as usize
}

/// The key groups task `task` (of `tasks`) owns: exactly those [`key_group_task`] maps to
/// it, a contiguous range (empty when there are more tasks than key groups).
pub fn key_group_range(task: usize, tasks: usize, max_parallelism: u32) -> Range<u32> {
    let m = u64::from(max_parallelism.max(1));
    let n = tasks.max(1) as u64;
    let start = (task as u64 * m).div_ceil(n);
    let end = ((task as u64 + 1) * m).div_ceil(n);
    start.min(m) as u32..end.min(m) as u32
}

/// Fields grouping over a key hash function (generated per edge from the field list).
#[derive(Debug, Clone)]
pub struct Fields<F> {
    hash: F,
    tasks: usize,
    max_parallelism: u32,
}

impl<F> Fields<F> {
    /// Groups by `hash(tuple)`, normally [`hash_key`](super::hash_key) of the fields, into
    /// `max_parallelism` key groups.
    pub fn new(hash: F, max_parallelism: u32) -> Self {
        Fields {
            hash,
            tasks: 1,
            max_parallelism: max_parallelism.max(1),
        }
    }
}

impl<T, F: Fn(&T) -> u64 + Send> Grouping<T> for Fields<F> {
    fn prepare(&mut self, targets: &super::Targets) {
        self.tasks = targets.tasks.len().max(1);
    }

    #[inline]
    fn choose(&mut self, tuple: &T) -> Choice<'_> {
        let h = (self.hash)(tuple);
        let group = key_group(h, self.max_parallelism);
        Choice::One(key_group_task(group, self.tasks, self.max_parallelism))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_group_maps_to_a_valid_task_and_all_tasks_are_used() {
        for m in [1u32, 7, 128, 1000] {
            for tasks in 1..40usize.min(m as usize + 1) {
                let mut used = vec![false; tasks];
                for g in 0..m {
                    let t = key_group_task(g, tasks, m);
                    assert!(t < tasks);
                    used[t] = true;
                }
                assert!(used.iter().all(|u| *u), "{tasks} tasks of {m}");
            }
        }
    }

    #[test]
    fn a_task_owns_exactly_the_groups_that_map_to_it() {
        for m in [1u32, 7, 128, 1000] {
            for tasks in 1..=(m as usize).min(50) {
                let mut next = 0;
                for t in 0..tasks {
                    let r = key_group_range(t, tasks, m);
                    assert_eq!(r.start, next, "contiguous, in order");
                    for g in r.clone() {
                        assert_eq!(key_group_task(g, tasks, m), t);
                    }
                    next = r.end;
                }
                assert_eq!(next, m, "every group owned");
            }
        }
    }

    #[test]
    fn a_keys_group_is_the_same_at_every_task_count() {
        for h in [0u64, 1, 127, 128, 12_345_678_901, u64::MAX] {
            let g = key_group(h, 128);
            for tasks in 1..=128 {
                let t = key_group_task(g, tasks, 128);
                assert!(key_group_range(t, tasks, 128).contains(&g));
            }
        }
    }
}
