//! A keyed operator's state as a checkpoint holds it: one encoding per key group it owns
//! ([`TaskState::KeyGroups`]), so that a restore at another parallelism hands every task
//! exactly the groups it now owns.

use super::StateError;
use crate::api::{ExecResult, Fail, TaskState};
use std::ops::Range;

/// The key groups in `range` that `snapshot` encodes (it says `None` for a group it does
/// not own).
pub fn key_groups(
    range: Range<u32>,
    mut snapshot: impl FnMut(u32) -> Option<Vec<u8>>,
) -> TaskState {
    TaskState::KeyGroups(range.filter_map(|g| Some((g, snapshot(g)?))).collect())
}

/// Hands every restored key group to `restore`; a fresh start (`None`) restores nothing.
/// A group `restore` refuses (not owned, corrupt, a state not declared) fails the restore.
pub fn restore_key_groups(
    restored: Option<TaskState>,
    mut restore: impl FnMut(u32, &[u8]) -> Result<(), StateError>,
) -> ExecResult {
    let Some(state) = restored else {
        return Ok(());
    };
    for (g, bytes) in state.into_key_groups()? {
        restore(g, &bytes).map_err(|e| Fail::new(e.to_string()))?;
    }
    Ok(())
}

/// State kept by key group: what a keyed operator snapshots and restores one group at a
/// time.
pub trait KeyGroupState {
    /// The encoding of group `group` (`None` if not owned).
    fn snapshot_group(&self, group: u32) -> Option<Vec<u8>>;
    /// Restores group `group` from its encoding.
    fn restore_group(&mut self, group: u32, bytes: &[u8]) -> Result<(), StateError>;
}

/// An operator's `snapshot_state`: the groups in `range` of `state` (`None` before it is
/// prepared).
pub fn snapshot_groups<S: KeyGroupState>(
    state: Option<&S>,
    range: Range<u32>,
) -> Result<Option<TaskState>, Fail> {
    Ok(state.map(|s| key_groups(range, |g| s.snapshot_group(g))))
}

/// An operator's `initialize_state`: every restored group into `state`.
pub fn restore_groups<S: KeyGroupState>(
    state: Option<&mut S>,
    restored: Option<TaskState>,
) -> ExecResult {
    match state {
        Some(s) => restore_key_groups(restored, |g, b| s.restore_group(g, b)),
        None => Ok(()),
    }
}

/// A snapshot taken a key group at a time while the operator goes on (copy-on-write by key
/// group): the operator calls [`GroupSnapshot::take`] before it changes a group, and
/// [`GroupSnapshot::step`] between batches; so every group's encoding is its state when the
/// snapshot began (the barrier), while the task never stops for more than a step or one
/// group's encoding.
#[derive(Debug)]
pub struct GroupSnapshot {
    /// Per owned group (by index), its encoding once taken.
    taken: Vec<Option<Vec<u8>>>,
    /// Groups not taken yet.
    left: usize,
    /// The next group [`GroupSnapshot::step`] looks at.
    next: usize,
}

impl GroupSnapshot {
    /// A snapshot of `groups` owned groups, none taken yet.
    pub fn new(groups: usize) -> Self {
        GroupSnapshot {
            taken: vec![None; groups],
            left: groups,
            next: 0,
        }
    }

    /// Takes group `i` (its index among the owned ones) with `encode`, unless it is taken:
    /// call it before the group changes.
    #[inline]
    pub fn take(&mut self, i: usize, encode: impl FnOnce() -> Vec<u8>) {
        if let Some(slot) = self.taken.get_mut(i)
            && slot.is_none()
        {
            *slot = Some(encode());
            self.left -= 1;
        }
    }

    /// Takes groups in order with `encode` for about `budget` (at least one); true once
    /// every group is taken.
    pub fn step(
        &mut self,
        budget: std::time::Duration,
        mut encode: impl FnMut(usize) -> Vec<u8>,
    ) -> bool {
        let start = std::time::Instant::now();
        while self.left > 0 && self.next < self.taken.len() {
            let i = self.next;
            self.next += 1;
            self.take(i, || encode(i));
            if start.elapsed() >= budget {
                break;
            }
        }
        self.left == 0
    }

    /// Steps the snapshot in `slot`, if one is in progress, over `groups` (by index),
    /// encoding a group with `encode`; true once it is whole (or none is in progress).
    pub fn step_in<M>(
        slot: &mut Option<Self>,
        groups: &[M],
        budget: std::time::Duration,
        encode: impl Fn(&M) -> Vec<u8>,
    ) -> bool {
        match slot {
            Some(s) => s.step(budget, |i| encode(&groups[i])),
            None => true,
        }
    }

    /// Copy-on-write: takes group `g` of `groups` for the snapshot in `slot`, if one is in
    /// progress, before the group changes.
    #[inline]
    pub fn before_change_in<M>(
        slot: &mut Option<Self>,
        groups: &[M],
        g: usize,
        encode: impl FnOnce(&M) -> Vec<u8>,
    ) {
        if let Some(s) = slot {
            s.take(g, || encode(&groups[g]));
        }
    }

    /// The snapshot in `slot` once whole (`(first + index, bytes)` per group), leaving no
    /// snapshot in progress; `None` while it is not whole, or none was begun.
    pub fn take_from(slot: &mut Option<Self>, first: u32) -> Option<Vec<(u32, Vec<u8>)>> {
        if !slot.as_ref()?.is_done() {
            return None;
        }
        Some(slot.take()?.into_groups(first))
    }

    /// True once every group is taken.
    pub fn is_done(&self) -> bool {
        self.left == 0
    }

    /// Every group's encoding, `(first + index, bytes)` in order (call once done; a group
    /// not taken is left out).
    pub fn into_groups(self, first: u32) -> Vec<(u32, Vec<u8>)> {
        self.taken
            .into_iter()
            .enumerate()
            .filter_map(|(i, b)| Some((first + i as u32, b?)))
            .collect()
    }
}

/// An operator whose keyed state can be taken a key group at a time (see
/// [`GroupSnapshot`]).
pub trait IncrementalGroups: KeyGroupState {
    /// Begins a snapshot: each group is taken before it next changes, or by a step.
    fn begin_snapshot(&mut self);
    /// Takes groups for about `budget`; true once every group is taken.
    fn snapshot_step(&mut self, budget: std::time::Duration) -> bool;
    /// Every group's encoding once the snapshot is whole (`None` before).
    fn take_snapshot(&mut self) -> Option<Vec<(u32, Vec<u8>)>>;
}

/// An operator's `begin_snapshot` for checkpoint `checkpoint`: its groups taken one at a
/// time (`Pending`), or, for the final snapshot, at once (the groups in `range`; `None`
/// before the operator is prepared).
pub fn begin_groups<S: IncrementalGroups>(
    state: Option<&mut S>,
    checkpoint: u64,
    range: Range<u32>,
) -> Result<crate::api::SnapshotStep, Fail> {
    match state {
        Some(s) if checkpoint != crate::api::FINAL_SNAPSHOT => {
            s.begin_snapshot();
            Ok(crate::api::SnapshotStep::Pending)
        }
        s => snapshot_groups(s.map(|s| &*s), range).map(crate::api::SnapshotStep::Ready),
    }
}

/// An operator's `continue_snapshot`: a step of `budget`, and the state once whole.
pub fn continue_groups<S: IncrementalGroups>(
    state: Option<&mut S>,
    budget: std::time::Duration,
) -> Result<crate::api::SnapshotStep, Fail> {
    let Some(s) = state else {
        return Ok(crate::api::SnapshotStep::Ready(None));
    };
    if !s.snapshot_step(budget) {
        return Ok(crate::api::SnapshotStep::Pending);
    }
    match s.take_snapshot() {
        Some(groups) => Ok(crate::api::SnapshotStep::Ready(Some(TaskState::KeyGroups(
            groups,
        )))),
        None => Err(Fail::new("no snapshot in progress to continue")),
    }
}
