//! Checkpoints, as Flink has them: barriers injected at the sources flow with the data,
//! every task snapshots its state when its inputs' barriers have all come and says so,
//! and a checkpoint is complete once every task has and its metadata is durable.
//!
//! This module is being built in steps (issue 12). What runs today: barriers travel in
//! band and every task aligns its input channels on them (the executor drives the
//! [`Aligner`]); nothing injects them at the sources, snapshots state or talks to a
//! coordinator yet. Here now: the [`Coordinator`], the pure
//! decisions (when to trigger, when a checkpoint completes, aborts or times out, which
//! checkpoints to keep and which to delete), driven by the runtime with the clock and the
//! storage at its edge; the [`Aligner`], which says when a task's input channels are
//! aligned on a barrier; the [`CheckpointStorage`] trait with a local directory
//! ([`LocalDir`]); and the layout of a checkpoint in it, checksummed and complete only once
//! its metadata is durable ([`CheckpointStore`]); and the two-phase commit of a file sink
//! ([`FileTransactions`]), which the exactly-once file sink will run on barriers and
//! checkpoint notifications.

mod aligner;
mod coordinator;
mod file_sink;
pub mod object_storage;
mod restart;
mod storage;
mod store;
#[cfg(test)]
mod tests;

pub use aligner::{Align, Aligner};
pub use coordinator::{
    AbortReason, CheckpointConfig, CheckpointKind, Command, Completed, Coordinator, Input,
    StorageFailure,
};
pub use file_sink::{FileTransactions, PreCommitted, SinkError};
pub use object_storage::ObjectStorage;
pub use restart::{BadRestartSetting, Decision, RestartStrategy, Restarts};
pub use storage::{CheckpointStorage, LocalDir, StorageError};
pub use store::{
    CheckpointError, CheckpointStore, FinishedTask, Metadata, OperatorState, Skipped, StateFile,
    checkpoint_dir,
};
