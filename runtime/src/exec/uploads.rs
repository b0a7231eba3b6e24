//! A cluster worker's half of a checkpoint: its tasks' snapshots written to the shared
//! checkpoint storage, each turned into what the worker reports to the coordinator
//! (nimbus). The local driver writes the same files itself ([`super::checkpointing`]).

use super::checkpointing::{Checkpointing, Report};
use crate::api::TaskId;
use crate::checkpoint::StateFile;
use crossbeam_channel::{Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::time::Duration;

/// What a worker reports of its tasks, once their state is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Upload {
    /// `task` passed checkpoint `id`'s barrier; its state file (`None`: it keeps none).
    Snapshot {
        /// The checkpoint.
        id: u64,
        /// The task.
        task: TaskId,
        /// Its state file in checkpoint `id`.
        state: Option<StateFile>,
        /// The longest alignment of this worker's tasks for `id` so far, ms.
        alignment_ms: u64,
        /// The longest snapshot pause of this worker's tasks for `id` so far, µs.
        pause_us: u64,
    },
    /// `task` could not write its state for checkpoint `id`.
    Decline {
        /// The checkpoint.
        id: u64,
        /// The task.
        task: TaskId,
        /// Why.
        reason: String,
    },
    /// `task` finished its input; its final state file under `finished/<run>/`.
    Finished {
        /// The task.
        task: TaskId,
        /// Its final state (`None`: it keeps none).
        state: Option<StateFile>,
    },
}

/// Writes a worker's snapshots as its tasks hand them over.
#[derive(Debug)]
pub(crate) struct Uploader {
    shared: Arc<Checkpointing>,
    reports: Receiver<Report>,
    /// The run (the assignment's placement version): where finished states go.
    run: u64,
}

impl Uploader {
    /// The uploader of `shared`'s `reports` in run `run`.
    pub(crate) fn new(shared: Arc<Checkpointing>, reports: Receiver<Report>, run: u64) -> Self {
        Uploader {
            shared,
            reports,
            run,
        }
    }

    /// The next report, its state written, waiting up to `wait`; `None` when nothing came
    /// (or no task is left to report).
    pub(crate) fn next(&self, wait: Duration) -> Option<Upload> {
        let report = match self.reports.recv_timeout(wait) {
            Ok(r) => r,
            Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => return None,
        };
        let store = self.shared.store();
        if let Report::Snapshotted { id, .. } = &report
            && self.shared.is_abandoned(*id)
        {
            // Aborted meanwhile: nothing waits for it.
            return None;
        }
        Some(match report {
            Report::Snapshotted {
                id,
                task,
                operator,
                index,
                state,
            } => match state
                .map(|s| store.put_state(id, operator, index, &crate::codec::to_bytes(&s)))
                .transpose()
            {
                Ok(state) => {
                    let (alignment_ms, pause_us) = self.shared.noted_for(id);
                    Upload::Snapshot {
                        id,
                        task,
                        state,
                        alignment_ms,
                        pause_us,
                    }
                }
                Err(e) => Upload::Decline {
                    id,
                    task,
                    reason: e.to_string(),
                },
            },
            Report::Finished {
                task,
                operator,
                index,
                state,
            } => match state
                .map(|s| {
                    let bytes = crate::codec::to_bytes(&s);
                    store.put_finished_state(self.run, operator, index, &bytes)
                })
                .transpose()
            {
                Ok(state) => Upload::Finished { task, state },
                Err(e) => {
                    // Without its final state no later checkpoint can be complete: the run
                    // fails, and restarts from the last one.
                    self.shared.fail(super::checkpointing::TaskFailure {
                        component: operator.to_string(),
                        task: Some(task),
                        reason: format!("cannot write its final state: {e}"),
                        retryable: e.is_retryable(),
                    });
                    return None;
                }
            },
        })
    }
}
