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
///
/// The hot path is a hash, a mask (or, for a `max_parallelism` that is not a power of two,
/// a remainder) and a table lookup: the owner of every key group is computed once in
/// [`prepare`](Grouping::prepare). With one consumer task nothing is hashed at all.
#[derive(Debug, Clone)]
pub struct Fields<F> {
    hash: F,
    max_parallelism: u32,
    /// `max_parallelism - 1` when it is a power of two (a key group is then `hash & mask`).
    mask: Option<u64>,
    /// The consumer task index owning each key group.
    owners: Box<[u32]>,
    /// One consumer task: every tuple goes to it, unhashed.
    single: bool,
}

impl<F> Fields<F> {
    /// Groups by `hash(tuple)`, normally [`hash_key`](super::hash_key) of the fields, into
    /// `max_parallelism` key groups.
    pub fn new(hash: F, max_parallelism: u32) -> Self {
        let max_parallelism = max_parallelism.max(1);
        Fields {
            hash,
            max_parallelism,
            mask: max_parallelism
                .is_power_of_two()
                .then(|| u64::from(max_parallelism) - 1),
            owners: owners(1, max_parallelism),
            single: true,
        }
    }

    /// The key group of `hash`: the same as [`key_group`], without a division when
    /// `max_parallelism` is a power of two.
    #[inline]
    fn group(&self, hash: u64) -> usize {
        match self.mask {
            Some(mask) => (hash & mask) as usize,
            None => key_group(hash, self.max_parallelism) as usize,
        }
    }
}

/// The owning task of every key group, for `tasks` consumer tasks.
fn owners(tasks: usize, max_parallelism: u32) -> Box<[u32]> {
    (0..max_parallelism)
        .map(|g| key_group_task(g, tasks, max_parallelism) as u32)
        .collect()
}

impl<T, F: Fn(&T) -> u64 + Send> Grouping<T> for Fields<F> {
    fn prepare(&mut self, targets: &super::Targets) {
        let tasks = targets.tasks.len().max(1);
        self.owners = owners(tasks, self.max_parallelism);
        self.single = tasks == 1;
    }

    #[inline]
    fn choose(&mut self, tuple: &T) -> Choice<'_> {
        if self.single {
            return Choice::One(0);
        }
        let group = self.group((self.hash)(tuple));
        Choice::One(self.owners.get(group).map_or(0, |&t| t as usize))
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
    fn the_grouping_sends_a_key_to_the_owner_of_its_key_group() {
        for m in [1u32, 7, 128, 1000] {
            for tasks in 1..=9usize {
                let mut f = Fields::new(|h: &u64| *h, m);
                let targets = crate::grouping::Targets {
                    tasks: (0..tasks as u32).collect(),
                    local: (0..tasks).collect(),
                    source: 0,
                };
                Grouping::<u64>::prepare(&mut f, &targets);
                for h in (0..5_000u64).chain([u64::MAX, u64::MAX - 1, 1 << 40]) {
                    let want = key_group_task(key_group(h, m), tasks, m);
                    assert_eq!(f.choose(&h), Choice::One(want), "hash {h}, {tasks} of {m}");
                }
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
