//! Checkpoints, as Flink has them: barriers injected at the sources flow with the data,
//! every task snapshots its state when its inputs' barriers have all come and says so,
//! and a checkpoint is complete once every task has and its metadata is durable.
//!
//! Here: the [`Coordinator`], the pure decisions (when to trigger, when a checkpoint
//! completes, aborts or times out, which checkpoints to keep and which to delete), driven
//! in local mode by `exec::checkpointing`'s driver thread and on a cluster by nimbus
//! (`cluster::nimbus`), with the clock and the storage at their edge; the [`Aligner`], which
//! says when a task's input channels are aligned on a barrier; the [`CheckpointStorage`]
//! trait with a local directory ([`LocalDir`]) and any object store ([`ObjectStorage`]:
//! the local filesystem, S3, GCS, Azure); the layout of a checkpoint in it, checksummed and
//! complete only once its metadata is durable ([`CheckpointStore`]); the two-phase commit
//! of the file sink ([`FileTransactions`]); and the restart strategies ([`Restarts`]).

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
