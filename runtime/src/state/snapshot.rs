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
