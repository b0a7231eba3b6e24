//! The checkpoint coordinator: pure logic, like the acker. [`Coordinator::handle`] takes an
//! [`Input`] (a clock tick, a task's acknowledgement or refusal, the news that a
//! checkpoint's metadata is durable, a savepoint request, a failure) and returns the
//! [`Command`]s the runtime carries out (inject barriers, write the metadata, tell the
//! tasks a checkpoint is complete so sinks commit, abort, delete old checkpoints).
//!
//! The rules (Flink's `CheckpointCoordinator`):
//! - A periodic checkpoint is triggered `interval` after the previous trigger, while fewer
//!   than `max_concurrent` are pending; a savepoint is triggered on request, whatever the
//!   number pending.
//! - A pending checkpoint is acknowledged by every task it waits for; then its metadata is
//!   written, and it is complete only once the runtime says the write is durable.
//! - A task's refusal, a failure of the topology, or `timeout` without every
//!   acknowledgement aborts it; one whose metadata is being written is past that (its
//!   state is all written: it completes or fails by the write). When one completes, the
//!   periodic ones pending older than it are aborted: it subsumes them (never a savepoint,
//!   which the user asked for).
//! - The last `retained` completed checkpoints are kept; an older one is deleted only once a
//!   newer one is durable (so a complete checkpoint is always there to restore from).
//!   Savepoints are never deleted: they belong to the user.

use crate::api::TaskId;
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// How checkpoints are taken (`checkpoint_interval`, `checkpoint_timeout`,
/// `max_concurrent_checkpoints`, `retained_checkpoints` in a `.topo` config).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckpointConfig {
    /// Time between two periodic triggers, ms (`None`: only savepoints).
    pub interval_ms: Option<u64>,
    /// A checkpoint not complete this long after its trigger is aborted, ms.
    pub timeout_ms: u64,
    /// Periodic checkpoints pending at once, at most (at least 1).
    pub max_concurrent: usize,
    /// Completed periodic checkpoints kept (at least 1).
    pub retained: usize,
}

impl CheckpointConfig {
    /// No periodic checkpoints (a topology that is not `exactly_once`), Flink's defaults
    /// for the rest.
    pub const NONE: CheckpointConfig = CheckpointConfig {
        interval_ms: None,
        timeout_ms: 600_000,
        max_concurrent: 1,
        retained: 1,
    };
}

impl Default for CheckpointConfig {
    fn default() -> Self {
        CheckpointConfig::NONE
    }
}

/// A periodic checkpoint, or a savepoint a user asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CheckpointKind {
    /// Triggered by the interval; deleted once newer ones are kept.
    Periodic,
    /// Asked for (`gale savepoint`); kept.
    Savepoint,
}

/// Why a checkpoint was aborted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AbortReason {
    /// Not every task acknowledged it within `timeout`.
    Timeout,
    /// A task refused it (its snapshot failed).
    Declined {
        /// The task.
        task: TaskId,
        /// What it said.
        reason: String,
    },
    /// A newer checkpoint completed first.
    Subsumed {
        /// The newer one.
        by: u64,
    },
    /// The topology failed (it restores the last completed checkpoint).
    Failure,
    /// Its metadata could not be written.
    StorageFailed(StorageFailure),
}

/// Why a checkpoint's metadata could not be written, as the runtime saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageFailure {
    /// What the storage said.
    pub message: String,
    /// Whether the storage may work again (a passing I/O error), so later checkpoints are
    /// worth triggering.
    pub retryable: bool,
}

impl From<&super::CheckpointError> for StorageFailure {
    fn from(e: &super::CheckpointError) -> Self {
        StorageFailure {
            message: e.to_string(),
            retryable: e.is_retryable(),
        }
    }
}

/// What the runtime tells the coordinator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// The clock: `now_ms`.
    Tick {
        /// Now, ms.
        now_ms: u64,
    },
    /// A savepoint is asked for.
    Savepoint {
        /// Now, ms.
        now_ms: u64,
    },
    /// `task` snapshotted its state for checkpoint `id`.
    Ack {
        /// The checkpoint.
        id: u64,
        /// The task.
        task: TaskId,
        /// The bytes it wrote.
        bytes: u64,
        /// How long it waited for its inputs' barriers, ms.
        alignment_ms: u64,
    },
    /// `task` could not snapshot checkpoint `id`.
    Decline {
        /// The checkpoint.
        id: u64,
        /// The task.
        task: TaskId,
        /// Why.
        reason: String,
    },
    /// The metadata of checkpoint `id` is durably written (`Err`: the write failed).
    Persisted {
        /// The checkpoint.
        id: u64,
        /// Now, ms.
        now_ms: u64,
        /// The write's outcome.
        result: Result<(), StorageFailure>,
    },
    /// `task` finished (its input ended; a source is exhausted) and handed its final
    /// state: it acknowledges every pending checkpoint it has not, with that state, and
    /// no later checkpoint waits for it. Once every task has finished, one last
    /// checkpoint is taken (Flink's final checkpoint): it holds the whole run, and the
    /// sinks commit on it.
    Finished {
        /// The task.
        task: TaskId,
        /// Now, ms.
        now_ms: u64,
    },
    /// A task or a worker failed: every pending checkpoint is aborted.
    Failed,
}

/// What the coordinator tells the runtime to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Inject barrier `id` at every source task.
    Trigger {
        /// The checkpoint.
        id: u64,
        /// Periodic or a savepoint.
        kind: CheckpointKind,
        /// When it was triggered, ms.
        timestamp_ms: u64,
    },
    /// Every task acknowledged `id`: write its metadata durably, then say
    /// [`Input::Persisted`].
    Persist {
        /// The checkpoint.
        id: u64,
    },
    /// `id` is complete: tell the tasks (transactional sinks commit what they pre-committed
    /// for it, and for every older one).
    Complete(Completed),
    /// `id` is aborted: tell the tasks (sinks abort what they pre-committed for it) and
    /// delete what it wrote.
    Abort {
        /// The checkpoint.
        id: u64,
        /// Why.
        reason: AbortReason,
    },
    /// Delete completed checkpoint `id`: a newer one is durable and it is no longer kept.
    Discard {
        /// The checkpoint.
        id: u64,
    },
}

/// A completed checkpoint, for the run summary and `gale list`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completed {
    /// Its id.
    pub id: u64,
    /// Periodic or a savepoint.
    pub kind: CheckpointKind,
    /// When it was triggered, ms.
    pub triggered_ms: u64,
    /// From trigger to durable, ms.
    pub duration_ms: u64,
    /// Bytes the tasks wrote.
    pub bytes: u64,
    /// The longest any task waited for its barriers, ms.
    pub alignment_ms: u64,
    /// The longest any task stopped processing to take its snapshot, µs (the runtime
    /// measures it; the coordinator does not see it).
    pub pause_us: u64,
}

/// A checkpoint waiting for acknowledgements (or for its metadata to be durable).
#[derive(Debug, Clone)]
struct Pending {
    kind: CheckpointKind,
    triggered_ms: u64,
    waiting: BTreeSet<TaskId>,
    bytes: u64,
    alignment_ms: u64,
    /// Every task acknowledged; the metadata is being written.
    persisting: bool,
}

/// The coordinator of one topology's checkpoints.
#[derive(Debug, Clone)]
pub struct Coordinator {
    config: CheckpointConfig,
    tasks: BTreeSet<TaskId>,
    next_id: u64,
    last_trigger_ms: Option<u64>,
    pending: BTreeMap<u64, Pending>,
    /// Completed periodic checkpoints kept, oldest first.
    retained: VecDeque<Completed>,
    /// Savepoints completed.
    savepoints: Vec<Completed>,
    /// The latest completed checkpoint or savepoint.
    latest: Option<Completed>,
    failures: u64,
    /// The tasks that finished (no checkpoint waits for them any more).
    finished: BTreeSet<TaskId>,
    /// The final checkpoint (every task finished), once triggered.
    final_id: Option<u64>,
}

impl Coordinator {
    /// The coordinator of a topology whose every task in `tasks` must acknowledge a
    /// checkpoint; ids continue after `last_id` (0 for a new topology; a restored one
    /// goes on from the checkpoint it restored).
    pub fn new(
        config: CheckpointConfig,
        tasks: impl IntoIterator<Item = TaskId>,
        last_id: u64,
    ) -> Self {
        Coordinator {
            config: CheckpointConfig {
                max_concurrent: config.max_concurrent.max(1),
                retained: config.retained.max(1),
                ..config
            },
            tasks: tasks.into_iter().collect(),
            next_id: last_id + 1,
            last_trigger_ms: None,
            pending: BTreeMap::new(),
            retained: VecDeque::new(),
            savepoints: Vec::new(),
            latest: None,
            failures: 0,
            finished: BTreeSet::new(),
            final_id: None,
        }
    }

    /// Counts the complete periodic checkpoints `ids` (oldest first) an earlier run of the
    /// topology left as retained: they are deleted, oldest first, as newer ones complete
    /// (a restarted run's storage keeps the last `retained`, not every run's).
    pub fn adopt_retained(&mut self, ids: impl IntoIterator<Item = u64>) {
        for id in ids {
            self.retained.push_back(Completed {
                id,
                kind: CheckpointKind::Periodic,
                triggered_ms: 0,
                duration_ms: 0,
                bytes: 0,
                alignment_ms: 0,
                pause_us: 0,
            });
        }
    }

    /// The final checkpoint, taken once every task finished, if it was triggered.
    pub fn final_checkpoint(&self) -> Option<u64> {
        self.final_id
    }

    /// Whether `task` finished.
    pub fn is_finished(&self, task: TaskId) -> bool {
        self.finished.contains(&task)
    }

    /// The latest completed checkpoint or savepoint: what a restore starts from.
    pub fn latest(&self) -> Option<&Completed> {
        self.latest.as_ref()
    }

    /// The completed periodic checkpoints kept, oldest first.
    pub fn retained(&self) -> impl Iterator<Item = &Completed> {
        self.retained.iter()
    }

    /// The savepoints completed.
    pub fn savepoints(&self) -> &[Completed] {
        &self.savepoints
    }

    /// The ids of the checkpoints pending.
    pub fn pending(&self) -> impl Iterator<Item = u64> + '_ {
        self.pending.keys().copied()
    }

    /// How many checkpoints were aborted.
    pub fn failures(&self) -> u64 {
        self.failures
    }

    /// Takes one input; returns what to do, in order.
    pub fn handle(&mut self, input: Input) -> Vec<Command> {
        let mut out = Vec::new();
        match input {
            Input::Tick { now_ms } => {
                self.time_out(now_ms, &mut out);
                self.maybe_trigger(now_ms, &mut out);
            }
            Input::Savepoint { now_ms } => {
                self.time_out(now_ms, &mut out);
                self.trigger(CheckpointKind::Savepoint, now_ms, &mut out);
            }
            Input::Ack {
                id,
                task,
                bytes,
                alignment_ms,
            } => self.acknowledged(id, task, bytes, alignment_ms, &mut out),
            Input::Decline { id, task, reason } => {
                if self.pending.contains_key(&id) {
                    self.abort(id, AbortReason::Declined { task, reason }, &mut out);
                }
            }
            Input::Persisted { id, now_ms, result } => match result {
                Ok(()) => self.complete(id, now_ms, &mut out),
                Err(e) => {
                    if self.pending.get(&id).is_some_and(|p| p.persisting) {
                        self.abort(id, AbortReason::StorageFailed(e), &mut out);
                    }
                }
            },
            Input::Finished { task, now_ms } => {
                if self.tasks.contains(&task) && self.finished.insert(task) {
                    let ids: Vec<u64> = self.pending.keys().copied().collect();
                    for id in ids {
                        self.acknowledged(id, task, 0, 0, &mut out);
                    }
                    if self.finished.len() == self.tasks.len() && self.final_id.is_none() {
                        self.final_id = Some(self.next_id);
                        self.trigger(CheckpointKind::Periodic, now_ms, &mut out);
                    }
                }
            }
            Input::Failed => {
                let ids: Vec<u64> = self
                    .pending
                    .iter()
                    .filter(|(_, p)| !p.persisting)
                    .map(|(id, _)| *id)
                    .collect();
                for id in ids {
                    self.abort(id, AbortReason::Failure, &mut out);
                }
            }
        }
        out
    }

    fn acknowledged(
        &mut self,
        id: u64,
        task: TaskId,
        bytes: u64,
        alignment_ms: u64,
        out: &mut Vec<Command>,
    ) {
        if let Some(p) = self.pending.get_mut(&id)
            && !p.persisting
            && self.tasks.contains(&task)
            && p.waiting.remove(&task)
        {
            p.bytes += bytes;
            p.alignment_ms = p.alignment_ms.max(alignment_ms);
            if p.waiting.is_empty() {
                p.persisting = true;
                out.push(Command::Persist { id });
            }
        }
    }

    fn time_out(&mut self, now_ms: u64, out: &mut Vec<Command>) {
        let late: Vec<u64> = self
            .pending
            .iter()
            .filter(|(_, p)| {
                !p.persisting && now_ms.saturating_sub(p.triggered_ms) >= self.config.timeout_ms
            })
            .map(|(id, _)| *id)
            .collect();
        for id in late {
            self.abort(id, AbortReason::Timeout, out);
        }
    }

    fn maybe_trigger(&mut self, now_ms: u64, out: &mut Vec<Command>) {
        let Some(interval) = self.config.interval_ms else {
            return;
        };
        if self.final_id.is_some() {
            // Everything finished: the final checkpoint holds it all.
            return;
        }
        let due = self
            .last_trigger_ms
            .is_none_or(|last| now_ms.saturating_sub(last) >= interval);
        let periodic = self
            .pending
            .values()
            .filter(|p| p.kind == CheckpointKind::Periodic)
            .count();
        if due && periodic < self.config.max_concurrent {
            self.trigger(CheckpointKind::Periodic, now_ms, out);
        }
    }

    fn trigger(&mut self, kind: CheckpointKind, now_ms: u64, out: &mut Vec<Command>) {
        let id = self.next_id;
        self.next_id += 1;
        if kind == CheckpointKind::Periodic {
            self.last_trigger_ms = Some(now_ms);
        }
        self.pending.insert(
            id,
            Pending {
                kind,
                triggered_ms: now_ms,
                waiting: self.tasks.difference(&self.finished).copied().collect(),
                bytes: 0,
                alignment_ms: 0,
                persisting: false,
            },
        );
        out.push(Command::Trigger {
            id,
            kind,
            timestamp_ms: now_ms,
        });
        if let Some(p) = self.pending.get_mut(&id)
            && p.waiting.is_empty()
        {
            p.persisting = true;
            out.push(Command::Persist { id });
        }
    }

    fn abort(&mut self, id: u64, reason: AbortReason, out: &mut Vec<Command>) {
        if self.pending.remove(&id).is_some() {
            self.failures += 1;
            out.push(Command::Abort { id, reason });
        }
    }

    fn complete(&mut self, id: u64, now_ms: u64, out: &mut Vec<Command>) {
        if !self.pending.get(&id).is_some_and(|p| p.persisting) {
            return;
        }
        // Durable after a newer periodic one completed (their writes finished out of
        // order): the newer one holds everything it would, so it is subsumed.
        if self.pending[&id].kind == CheckpointKind::Periodic
            && let Some(by) = self.retained.back().map(|l| l.id).filter(|by| *by > id)
        {
            self.abort(id, AbortReason::Subsumed { by }, out);
            return;
        }
        let Some(p) = self.pending.remove(&id) else {
            return;
        };
        let done = Completed {
            id,
            kind: p.kind,
            triggered_ms: p.triggered_ms,
            duration_ms: now_ms.saturating_sub(p.triggered_ms),
            bytes: p.bytes,
            alignment_ms: p.alignment_ms,
            pause_us: 0,
        };
        // Older pending checkpoints are subsumed: this one holds everything they would.
        let older: Vec<u64> = self
            .pending
            .range(..id)
            .filter(|(_, p)| p.kind == CheckpointKind::Periodic && !p.persisting)
            .map(|(id, _)| *id)
            .collect();
        for old in older {
            self.abort(old, AbortReason::Subsumed { by: id }, out);
        }
        out.push(Command::Complete(done.clone()));
        if self.latest.as_ref().is_none_or(|l| l.id < id) {
            self.latest = Some(done.clone());
        }
        match done.kind {
            CheckpointKind::Savepoint => self.savepoints.push(done),
            CheckpointKind::Periodic => {
                self.retained.push_back(done);
                // Durable now: the oldest beyond the number kept can go.
                while self.retained.len() > self.config.retained {
                    if let Some(old) = self.retained.pop_front() {
                        out.push(Command::Discard { id: old.id });
                    }
                }
            }
        }
    }
}
