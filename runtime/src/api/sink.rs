//! Exactly-once output by two-phase commit ([`TransactionalSink`]), Flink's
//! `TwoPhaseCommitSinkFunction`.

use super::{ExecResult, Fail, TaskContext};

/// A sink that writes to an outside system in transactions committed with checkpoints, so
/// that its output is exactly once under `guarantee = exactly_once` (declare it
/// `transactional(T)` in a `.topo` file):
///
/// - what it [`write`](TransactionalSink::write)s between two barriers goes into the open
///   transaction;
/// - on a checkpoint's barrier it [`pre_commit`](TransactionalSink::pre_commit)s it (makes
///   it durable, not yet visible) and hands back what identifies it, which the checkpoint
///   keeps;
/// - once the checkpoint is complete it [`commit`](TransactionalSink::commit)s every
///   transaction pre-committed for it or before (a missed notification is covered by the
///   next; a repeated or late commit does nothing);
/// - when the run starts from a checkpoint (after a failure or a crash) it
///   [`recover`](TransactionalSink::recover)s: commits what that checkpoint had
///   pre-committed (the checkpoint is complete, so that output is the run's) and aborts
///   anything else it had open (written after it: it is replayed).
///
/// Without checkpoints (no `--checkpoint-dir`), what it wrote is committed at the end of
/// the stream.
pub trait TransactionalSink: Send + 'static {
    /// The input schema.
    type In;
    /// Called once on the executor thread before anything else.
    fn open(&mut self, ctx: &TaskContext) -> ExecResult;
    /// Writes one tuple into the open transaction.
    fn write(&mut self, input: Self::In) -> ExecResult;
    /// Checkpoint `checkpoint`'s barrier: makes the open transaction durable and returns
    /// what identifies it (`None`: nothing was written since the last).
    fn pre_commit(&mut self, checkpoint: u64) -> Result<Option<Vec<u8>>, Fail>;
    /// Checkpoint `checkpoint` is complete: commits every transaction pre-committed for it
    /// or an earlier one. Repeated or late: nothing happens.
    fn commit(&mut self, checkpoint: u64) -> ExecResult;
    /// The run starts from checkpoint `checkpoint` (`None`: a fresh start): commits
    /// `restored` (the transactions that checkpoint had pre-committed, by checkpoint) and
    /// aborts every other transaction this task left open. A sink that can also undo what
    /// it committed for later checkpoints (a restore falls back to an older one when the
    /// newest is damaged) should: that output is replayed.
    fn recover(&mut self, checkpoint: Option<u64>, restored: Vec<(u64, Vec<u8>)>) -> ExecResult;
}
