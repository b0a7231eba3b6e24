//! `fields(a, b)`: equal values of the fields always reach the same task.
//!
//! Keys are hashed into a fixed number of **key groups**, and key groups are assigned to
//! tasks in contiguous ranges (Flink's scheme). A key's group never changes, so state can
//! later move between tasks by whole key groups when parallelism changes.

use super::{Choice, Grouping};

/// The number of key groups for a consumer with `tasks` tasks.
pub fn key_groups(tasks: usize) -> u64 {
    (tasks as u64).max(128)
}

/// The key group of a key hash.
#[inline]
pub fn key_group(hash: u64, tasks: usize) -> u64 {
    hash % key_groups(tasks)
}

/// The task index that owns a key group.
#[inline]
pub fn key_group_task(group: u64, tasks: usize) -> usize {
    (group * tasks as u64 / key_groups(tasks)) as usize
}

/// Fields grouping over a key hash function (generated per edge from the field list).
#[derive(Debug, Clone)]
pub struct Fields<F> {
    hash: F,
    tasks: usize,
}

impl<F> Fields<F> {
    /// Groups by `hash(tuple)`, normally [`hash_key`](super::hash_key) of the fields.
    pub fn new(hash: F) -> Self {
        Fields { hash, tasks: 1 }
    }
}

impl<T, F: Fn(&T) -> u64 + Send> Grouping<T> for Fields<F> {
    fn prepare(&mut self, targets: &super::Targets) {
        self.tasks = targets.tasks.len().max(1);
    }

    #[inline]
    fn choose(&mut self, tuple: &T) -> Choice<'_> {
        let h = (self.hash)(tuple);
        Choice::One(key_group_task(key_group(h, self.tasks), self.tasks))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_group_maps_to_a_valid_task_and_all_tasks_are_used() {
        for tasks in 1..40usize {
            let mut used = vec![false; tasks];
            for g in 0..key_groups(tasks) {
                let t = key_group_task(g, tasks);
                assert!(t < tasks);
                used[t] = true;
            }
            assert!(used.iter().all(|u| *u), "{tasks} tasks");
        }
    }
}
