//! `transactional(T)`: runs a [`TransactionalSink`] as a bolt, its pre-commits in the
//! checkpoints and its commits on their completion. Its compiler half:
//! `gale_compiler::ops` (`transactional.rs`).

use crate::api::{
    Bolt, Emitter, ExecResult, FINAL_SNAPSHOT, Fail, TaskContext, TaskState, TransactionalSink,
};
use crate::codec::{from_bytes, to_bytes};

/// The bolt that runs sink `S` by two-phase commit.
pub struct TransactionalOp<S> {
    sink: S,
    /// Why `open` failed, told when the state is initialized.
    open_failed: Option<Fail>,
    /// Pre-committed, not yet committed: by checkpoint, what identifies each transaction.
    pending: Vec<(u64, Vec<u8>)>,
    /// The run takes checkpoints (its state was initialized).
    checkpointed: bool,
    /// Its input ended: its last transaction is pre-committed as the final one.
    finished: bool,
    /// The newest checkpoint it pre-committed for before its input ended: a completion of
    /// it (or an older one) does not hold the final transaction.
    last_before_final: u64,
}

impl<S: TransactionalSink> TransactionalOp<S> {
    /// Runs `sink`.
    pub fn new(sink: S) -> Self {
        TransactionalOp {
            sink,
            open_failed: None,
            pending: Vec::new(),
            checkpointed: false,
            finished: false,
            last_before_final: 0,
        }
    }

    fn pre_commit(&mut self, checkpoint: u64) -> Result<(), Fail> {
        if let Some(t) = self.sink.pre_commit(checkpoint)? {
            self.pending.push((checkpoint, t));
        }
        Ok(())
    }
}

// Not offered in "other types implement `Bolt`" hints: it is the built-ins' adapter.
#[diagnostic::do_not_recommend]
impl<S: TransactionalSink> Bolt for TransactionalOp<S> {
    type In = S::In;
    type Out = ();

    fn prepare(&mut self, ctx: &TaskContext) {
        if let Err(e) = self.sink.open(ctx) {
            tracing::error!(
                component = %ctx.component(),
                task = ctx.task_id(),
                error = %e,
                "sink `{}` task {} could not open",
                ctx.component(),
                ctx.task_id()
            );
            self.open_failed = Some(e);
        }
    }

    #[inline]
    fn execute(&mut self, input: S::In, _: &mut impl Emitter<()>) -> ExecResult {
        if let Some(e) = &self.open_failed {
            return Err(e.clone());
        }
        self.sink.write(input)
    }

    fn finish(&mut self, _: &mut impl Emitter<()>) {
        self.finished = true;
        if self.checkpointed {
            return;
        }
        // No checkpoints: the end of the stream commits everything.
        let done = self
            .pre_commit(FINAL_SNAPSHOT)
            .and_then(|()| self.sink.commit(FINAL_SNAPSHOT));
        if let Err(e) = done {
            tracing::error!(error = %e, "a sink could not commit its output");
        }
    }

    fn snapshot_state(&mut self, checkpoint: u64) -> Result<Option<TaskState>, Fail> {
        // A transaction that cannot be made durable fails the task: the run restarts from
        // the last checkpoint, and what it held is written again.
        self.pre_commit(checkpoint)
            .map_err(|e| Fail::new(format!("pre-commit for checkpoint {checkpoint}: {e}")))?;
        if checkpoint != FINAL_SNAPSHOT {
            self.last_before_final = self.last_before_final.max(checkpoint);
        }
        Ok(Some(TaskState::Task(to_bytes(&(
            checkpoint,
            self.pending.clone(),
        )))))
    }

    fn initialize_state(&mut self, restored: Option<TaskState>) -> ExecResult {
        self.checkpointed = true;
        if let Some(e) = &self.open_failed {
            return Err(e.clone());
        }
        let (checkpoint, restored) = match restored {
            None => (None, Vec::new()),
            Some(s) => {
                let (c, pending) = from_bytes::<(u64, Vec<(u64, Vec<u8>)>)>(&s.into_task()?)
                    .map_err(|e| Fail::new(format!("its pre-committed transactions: {e}")))?;
                (Some(c), pending)
            }
        };
        self.pending.clear();
        self.sink.recover(checkpoint, restored)
    }

    fn notify_checkpoint_complete(&mut self, id: u64) -> ExecResult {
        // A checkpoint after the last one it snapshotted before its input ended holds the
        // final transaction; that one, or an older one, does not.
        let upto = if self.finished && id > self.last_before_final {
            FINAL_SNAPSHOT
        } else {
            id
        };
        self.sink.commit(upto)?;
        self.pending.retain(|(c, _)| *c > upto);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    /// A sink that records what it is asked to commit.
    #[derive(Default)]
    struct Recording {
        commits: Arc<Mutex<Vec<u64>>>,
        written: u32,
    }

    impl TransactionalSink for Recording {
        type In = u64;
        fn open(&mut self, _: &TaskContext) -> ExecResult {
            Ok(())
        }
        fn write(&mut self, _: u64) -> ExecResult {
            self.written += 1;
            Ok(())
        }
        fn pre_commit(&mut self, checkpoint: u64) -> Result<Option<Vec<u8>>, Fail> {
            let n = std::mem::take(&mut self.written);
            Ok((n > 0).then(|| checkpoint.to_le_bytes().to_vec()))
        }
        fn commit(&mut self, checkpoint: u64) -> ExecResult {
            self.commits.lock().unwrap().push(checkpoint);
            Ok(())
        }
        fn recover(&mut self, _: Option<u64>, _: Vec<(u64, Vec<u8>)>) -> ExecResult {
            Ok(())
        }
    }

    #[test]
    fn the_final_transaction_commits_only_on_a_checkpoint_after_the_last_barrier() {
        let commits = Arc::new(Mutex::new(Vec::new()));
        let mut op = TransactionalOp::new(Recording {
            commits: commits.clone(),
            written: 0,
        });
        op.initialize_state(None).unwrap();
        let mut out = crate::exec::chain::Discard;
        op.execute(1, &mut out).unwrap();
        op.snapshot_state(5).unwrap();
        op.execute(2, &mut out).unwrap();
        // The input ends: the rest is pre-committed as the final transaction.
        op.finish(&mut out);
        op.snapshot_state(FINAL_SNAPSHOT).unwrap();
        // Checkpoint 5 completes late: it holds what came before its barrier only.
        op.notify_checkpoint_complete(5).unwrap();
        assert_eq!(*commits.lock().unwrap(), [5]);
        // The final checkpoint (after 5) holds the final transaction.
        op.notify_checkpoint_complete(6).unwrap();
        assert_eq!(*commits.lock().unwrap(), [5, FINAL_SNAPSHOT]);
    }
}
