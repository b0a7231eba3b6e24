//! What a task hands a checkpoint and gets back on a restore ([`TaskState`]), Flink's
//! operator state and keyed state in one type.

use crate::codec::{Codec, DecodeError};

/// The `checkpoint` a task's final state is taken for (by
/// [`Bolt::snapshot_state`](crate::Bolt::snapshot_state) once its input ended): every
/// checkpoint completed after it holds that state.
pub const FINAL_SNAPSHOT: u64 = u64::MAX;

/// A task's state in a checkpoint.
///
/// - [`TaskState::Task`]: the task's own bytes (an offset, a sequence, a user bolt's
///   fields). A restore gives them back to the task of the same index, so the component's
///   task count must be the same (a rescaled restore is refused with the component's name).
/// - [`TaskState::KeyGroups`]: state split by key group (the keyed built-ins: `process(T)`,
///   windows, joins). A restore gives each task the groups it owns at its new task count,
///   from whichever tasks held them before: keyed state rescales.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskState {
    /// Belongs to the task.
    Task(Vec<u8>),
    /// One encoding per key group the task owns, by group.
    KeyGroups(Vec<(u32, Vec<u8>)>),
}

impl From<Vec<u8>> for TaskState {
    fn from(bytes: Vec<u8>) -> Self {
        TaskState::Task(bytes)
    }
}

impl TaskState {
    /// Its size in bytes, as written.
    pub fn len(&self) -> usize {
        match self {
            TaskState::Task(b) => b.len(),
            TaskState::KeyGroups(g) => g.iter().map(|(_, b)| b.len() + 4).sum(),
        }
    }

    /// Whether it holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The task's own bytes; `Err` for key groups (for an operator that keeps only task
    /// state).
    pub fn into_task(self) -> Result<Vec<u8>, super::Fail> {
        match self {
            TaskState::Task(b) => Ok(b),
            TaskState::KeyGroups(_) => Err(super::Fail::new(
                "the checkpoint holds key groups where this operator keeps task state",
            )),
        }
    }

    /// The key groups; `Err` for task state.
    pub fn into_key_groups(self) -> Result<Vec<(u32, Vec<u8>)>, super::Fail> {
        match self {
            TaskState::KeyGroups(g) => Ok(g),
            TaskState::Task(_) => Err(super::Fail::new(
                "the checkpoint holds task state where this operator keeps key groups",
            )),
        }
    }
}

impl Codec for TaskState {
    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            TaskState::Task(b) => {
                0u8.encode(out);
                b.encode(out);
            }
            TaskState::KeyGroups(g) => {
                1u8.encode(out);
                g.encode(out);
            }
        }
    }

    fn decode(input: &mut &[u8]) -> Result<Self, DecodeError> {
        match u8::decode(input)? {
            0 => Ok(TaskState::Task(Vec::decode(input)?)),
            1 => Ok(TaskState::KeyGroups(Vec::decode(input)?)),
            tag => Err(DecodeError::BadTag(tag)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_kinds_round_trip_and_a_bad_tag_is_an_error() {
        for s in [
            TaskState::Task(vec![1, 2, 3]),
            TaskState::KeyGroups(vec![(0, vec![9]), (127, Vec::new())]),
        ] {
            let bytes = crate::codec::to_bytes(&s);
            assert_eq!(crate::codec::from_bytes::<TaskState>(&bytes).ok(), Some(s));
        }
        assert!(crate::codec::from_bytes::<TaskState>(&[7]).is_err());
    }
}
