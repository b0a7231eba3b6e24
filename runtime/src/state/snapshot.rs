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
