//! The layout of checkpoints in a [`CheckpointStorage`], and their integrity.
//!
//! ```text
//! chk-00000000000000000042/          checkpoint 42 (ids zero-padded: names sort by id)
//!     state/<operator>/<task>        one task's snapshot of one operator
//!     _metadata                      written last: the checkpoint exists once it does
//! finished/<run>/<operator>/<task>   on a cluster: a finished task's final state, which
//!                                    nimbus copies into each later checkpoint of that run
//! ```
//!
//! A state file is `GALESNAP`, the format version (`u32`, little endian), the payload's
//! length (`u64`) and SHA-256 (32 bytes), then the payload. `_metadata` is a first line
//! `gale-checkpoint 1 sha256=<hex of the rest>`, then JSON ([`Metadata`]): the checkpoint's
//! id and kind, when it was triggered, and every state file with its length and SHA-256.
//!
//! A checkpoint is complete only once its `_metadata` is durable, and [`CheckpointStore::put_state`]
//! writes every state file before it. Reading checks everything: a truncated or bit-flipped
//! file, or a directory without `_metadata` (a crash mid-checkpoint), makes
//! [`CheckpointStore::latest`] skip that checkpoint, say why, and fall back to the one before.

use super::coordinator::CheckpointKind;
use super::storage::{CheckpointStorage, StorageError};
use serde::{Deserialize, Serialize};

const STATE_MAGIC: &[u8; 8] = b"GALESNAP";
const FORMAT: u32 = 1;
const HEADER: usize = 8 + 4 + 8 + 32;
const METADATA: &str = "_metadata";
const METADATA_TAG: &str = "gale-checkpoint 1 sha256=";

/// Why a checkpoint cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    /// The storage failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// A file's content is not what was written (truncated, bit-flipped, not ours).
    #[error("checkpoint {id}: `{name}` is corrupt: {what}")]
    Corrupt {
        /// The checkpoint.
        id: u64,
        /// The file.
        name: String,
        /// What is wrong.
        what: String,
    },
    /// It has no `_metadata`: it never completed.
    #[error("checkpoint {0} is incomplete (no `_metadata`: it never completed)")]
    Incomplete(u64),
    /// An operator id that cannot name a file (the compiler's ids always can).
    #[error("checkpoint {id}: the operator id `{operator}` cannot name a state file")]
    BadOperator {
        /// The checkpoint.
        id: u64,
        /// The id.
        operator: String,
    },
    /// An operator keeps task state (not key groups) and its task count changed: its state
    /// cannot be split or merged.
    #[error(
        "checkpoint {id}: `{operator}` keeps state per task, and it had {from} tasks where it \
         now has {to}: its state cannot move to another task count (keyed state can)"
    )]
    Rescaled {
        /// The checkpoint.
        id: u64,
        /// The operator.
        operator: String,
        /// Its task count in the checkpoint.
        from: u32,
        /// Its task count now.
        to: u32,
    },
    /// The topology's `max_parallelism` changed: key groups no longer mean the same keys.
    #[error(
        "checkpoint {id} was taken with max_parallelism {from}, the topology now has {to}: \
         keyed state cannot be restored (set `max_parallelism = {from}`)"
    )]
    MaxParallelism {
        /// The checkpoint.
        id: u64,
        /// Its max parallelism.
        from: u32,
        /// The topology's.
        to: u32,
    },
    /// A state file that does not decode as a task's state.
    #[error("checkpoint {id}: the state of `{operator}` task {task} does not decode: {what}")]
    BadState {
        /// The checkpoint.
        id: u64,
        /// The operator.
        operator: String,
        /// The task.
        task: u32,
        /// What is wrong.
        what: String,
    },
    /// An operator's state schema in the checkpoint is not the one it has now.
    #[error(
        "checkpoint {id}: the state of `{operator}` was `{was}`; it is now `{now}`: a \
         restore is refused (keep the operator as it was, or give the new one another uid)"
    )]
    Incompatible {
        /// The checkpoint.
        id: u64,
        /// The operator's uid.
        operator: String,
        /// Its schema in the checkpoint.
        was: String,
        /// Its schema now.
        now: String,
    },
    /// The checkpoint holds state no operator of the topology takes.
    #[error(
        "checkpoint {id} holds the state of `{operator}`, which this topology does not have: \
         a restore would drop it, and is refused"
    )]
    Unclaimed {
        /// The checkpoint.
        id: u64,
        /// The uid.
        operator: String,
    },
    /// `run --restore` found checkpoints, none of them usable: starting afresh could write
    /// again what they had committed.
    #[error(
        "no usable checkpoint in `{dir}` ({skipped} damaged, named above): not restoring \
         and not starting afresh, which would write committed output again"
    )]
    NoneUsable {
        /// The checkpoint directory.
        dir: String,
        /// How many were skipped.
        skipped: usize,
    },
    /// A savepoint directory holding no complete checkpoint.
    #[error("`{0}` holds no complete savepoint")]
    NoSavepoint(String),
    /// Its metadata does not list that operator's task.
    #[error("checkpoint {id} has no state of `{operator}` task {task}")]
    NoState {
        /// The checkpoint.
        id: u64,
        /// The operator.
        operator: String,
        /// The task.
        task: u32,
    },
}

impl CheckpointError {
    /// Whether trying again may succeed (only a passing storage error; corruption stays).
    pub fn is_retryable(&self) -> bool {
        matches!(self, CheckpointError::Storage(e) if e.is_retryable())
    }
}

/// One task's state file, as the metadata lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateFile {
    /// The operator's stable id (its `.topo` name, or its `uid`).
    pub operator: String,
    /// The task index within the operator.
    pub task: u32,
    /// The payload's length.
    pub bytes: u64,
    /// The payload's SHA-256, hex.
    pub sha256: String,
}

/// What `_metadata` holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Metadata {
    /// The checkpoint's id.
    pub id: u64,
    /// `true` for a savepoint.
    pub savepoint: bool,
    /// When it was triggered, epoch ms.
    pub triggered_ms: u64,
    /// The topology's name.
    pub topology: String,
    /// The key groups state is kept by.
    pub max_parallelism: u32,
    /// Every state file.
    pub states: Vec<StateFile>,
    /// Each operator (by uid) when it was taken: its task count (a restore at another one
    /// moves key groups between tasks, and refuses task state) and its state schema (a
    /// restore into an operator whose schema differs is refused).
    #[serde(default)]
    pub operators: std::collections::BTreeMap<String, OperatorState>,
    /// The tasks that had finished (their input ended): a restore does not run them
    /// again, it only restores what they kept.
    #[serde(default)]
    pub finished: Vec<FinishedTask>,
}

/// An operator as a checkpoint recorded it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperatorState {
    /// Its task count.
    pub tasks: u32,
    /// What its state is made of (the compiler's description; empty: it keeps none).
    #[serde(default)]
    pub schema: String,
}

/// A task that had finished when a checkpoint was taken.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct FinishedTask {
    /// Its operator.
    pub operator: String,
    /// Its index.
    pub task: u32,
}

impl Metadata {
    /// Periodic or a savepoint.
    pub fn kind(&self) -> CheckpointKind {
        if self.savepoint {
            CheckpointKind::Savepoint
        } else {
            CheckpointKind::Periodic
        }
    }
}

/// A checkpoint [`CheckpointStore::latest`] passed over, and why.
#[derive(Debug)]
pub struct Skipped {
    /// Its id.
    pub id: u64,
    /// Why it cannot be used.
    pub error: CheckpointError,
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    let d = ring::digest::digest(&ring::digest::SHA256, bytes);
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The directory of checkpoint `id`.
pub fn checkpoint_dir(id: u64) -> String {
    format!("chk-{id:020}")
}

/// Where a cluster run's finished tasks' final states are.
const FINISHED: &str = "finished";

fn finished_name(run: u64, operator: &str, task: u32) -> String {
    format!("{FINISHED}/{run}/{operator}/{task}")
}

/// The payload of a state file, checked against its header and `entry` (what the
/// metadata or the task's report says of it).
fn check_state_file<'a>(
    file: &'a [u8],
    entry: &StateFile,
    corrupt: impl Fn(String) -> CheckpointError,
) -> Result<&'a [u8], CheckpointError> {
    if file.len() < HEADER || &file[..8] != STATE_MAGIC {
        return Err(corrupt(format!(
            "{} bytes, not a Gale state file (its header)",
            file.len()
        )));
    }
    let word = |at: usize, n: usize| {
        let mut b = [0u8; 8];
        b[..n].copy_from_slice(&file[at..at + n]);
        u64::from_le_bytes(b)
    };
    if word(8, 4) != u64::from(FORMAT) {
        return Err(corrupt(format!(
            "format {} (this build reads {FORMAT})",
            word(8, 4)
        )));
    }
    let len = word(12, 8);
    let payload = &file[HEADER..];
    if payload.len() as u64 != len || len != entry.bytes {
        return Err(corrupt(format!(
            "{} bytes of state where {} were written (truncated?)",
            payload.len(),
            entry.bytes
        )));
    }
    let digest = sha256(payload);
    if digest[..] != file[20..HEADER] || hex(&digest) != entry.sha256 {
        return Err(corrupt(
            "its checksum does not match (bits changed)".to_string(),
        ));
    }
    Ok(payload)
}

fn state_name(id: u64, operator: &str, task: u32) -> String {
    format!("{}/state/{operator}/{task}", checkpoint_dir(id))
}

/// Checkpoints in a storage.
#[derive(Debug, Clone)]
pub struct CheckpointStore<S> {
    storage: S,
}

impl<S: CheckpointStorage> CheckpointStore<S> {
    /// Checkpoints kept in `storage`.
    pub fn new(storage: S) -> Self {
        CheckpointStore { storage }
    }

    /// The storage.
    pub fn storage(&self) -> &S {
        &self.storage
    }

    /// Writes task `task` of `operator`'s snapshot for checkpoint `id`; returns its entry
    /// for the metadata.
    pub fn put_state(
        &self,
        id: u64,
        operator: &str,
        task: u32,
        payload: &[u8],
    ) -> Result<StateFile, CheckpointError> {
        self.put_state_as(&state_name(id, operator, task), id, operator, task, payload)
    }

    /// Writes the final state of task `task` of `operator` (it finished its input) in run
    /// `run` of a cluster topology, under `finished/<run>/`: nimbus copies it into every
    /// later checkpoint ([`CheckpointStore::copy_finished_state`]).
    pub fn put_finished_state(
        &self,
        run: u64,
        operator: &str,
        task: u32,
        payload: &[u8],
    ) -> Result<StateFile, CheckpointError> {
        self.put_state_as(
            &finished_name(run, operator, task),
            0,
            operator,
            task,
            payload,
        )
    }

    /// Copies a finished task's state `file` of run `run` into checkpoint `id`, checking
    /// it is what the task reported.
    pub fn copy_finished_state(
        &self,
        run: u64,
        id: u64,
        file: &StateFile,
    ) -> Result<StateFile, CheckpointError> {
        let from = finished_name(run, &file.operator, file.task);
        let bytes = self.storage.get(&from)?;
        let payload = check_state_file(&bytes, file, |what| CheckpointError::Corrupt {
            id,
            name: from.clone(),
            what,
        })?;
        self.put_state(id, &file.operator, file.task, payload)
    }

    /// Deletes the finished tasks' states of every run but `keep`.
    pub fn discard_finished_except(&self, keep: u64) -> Result<(), CheckpointError> {
        for run in self.storage.list(FINISHED)? {
            if run != keep.to_string() {
                self.storage.delete_all(&format!("{FINISHED}/{run}"))?;
            }
        }
        Ok(())
    }

    fn put_state_as(
        &self,
        name: &str,
        id: u64,
        operator: &str,
        task: u32,
        payload: &[u8],
    ) -> Result<StateFile, CheckpointError> {
        let digest = sha256(payload);
        let mut file = Vec::with_capacity(HEADER + payload.len());
        file.extend_from_slice(STATE_MAGIC);
        file.extend_from_slice(&FORMAT.to_le_bytes());
        file.extend_from_slice(&(payload.len() as u64).to_le_bytes());
        file.extend_from_slice(&digest);
        file.extend_from_slice(payload);
        self.storage.put(name, &file).map_err(|e| match e {
            StorageError::BadName(_) => CheckpointError::BadOperator {
                id,
                operator: operator.to_string(),
            },
            e => e.into(),
        })?;
        Ok(StateFile {
            operator: operator.to_string(),
            task,
            bytes: payload.len() as u64,
            sha256: hex(&digest),
        })
    }

    /// Writes `meta` as the checkpoint's `_metadata`, last: once this returns, the
    /// checkpoint is complete.
    pub fn commit(&self, meta: &Metadata) -> Result<(), CheckpointError> {
        let body = serde_json::to_vec_pretty(meta).map_err(|e| CheckpointError::Corrupt {
            id: meta.id,
            name: METADATA.into(),
            what: e.to_string(),
        })?;
        let mut file = format!("{METADATA_TAG}{}\n", hex(&sha256(&body))).into_bytes();
        file.extend_from_slice(&body);
        let name = format!("{}/{METADATA}", checkpoint_dir(meta.id));
        Ok(self.storage.put(&name, &file)?)
    }

    /// The metadata of checkpoint `id`, checked (its own checksum; not the state files').
    pub fn metadata(&self, id: u64) -> Result<Metadata, CheckpointError> {
        let name = format!("{}/{METADATA}", checkpoint_dir(id));
        let file = match self.storage.get(&name) {
            Ok(f) => f,
            Err(StorageError::NotFound(_)) => return Err(CheckpointError::Incomplete(id)),
            Err(e) => return Err(e.into()),
        };
        let corrupt = |what: &str| CheckpointError::Corrupt {
            id,
            name: name.clone(),
            what: what.to_string(),
        };
        let newline = file
            .iter()
            .position(|b| *b == b'\n')
            .ok_or_else(|| corrupt("no header line"))?;
        let (head, body) = (&file[..newline], &file[newline + 1..]);
        let want = std::str::from_utf8(head)
            .ok()
            .and_then(|h| h.strip_prefix(METADATA_TAG))
            .ok_or_else(|| corrupt("not a Gale checkpoint's metadata (header line)"))?;
        if hex(&sha256(body)) != want {
            return Err(corrupt(
                "its checksum does not match (truncated or changed)",
            ));
        }
        let meta: Metadata =
            serde_json::from_slice(body).map_err(|e| corrupt(&format!("unreadable JSON: {e}")))?;
        if meta.id != id {
            return Err(corrupt(&format!("it says it is checkpoint {}", meta.id)));
        }
        Ok(meta)
    }

    /// The snapshot of task `task` of `operator` in checkpoint `meta`, checked against the
    /// metadata and its own header.
    pub fn state(
        &self,
        meta: &Metadata,
        operator: &str,
        task: u32,
    ) -> Result<Vec<u8>, CheckpointError> {
        let entry = meta
            .states
            .iter()
            .find(|s| s.operator == operator && s.task == task)
            .ok_or_else(|| CheckpointError::NoState {
                id: meta.id,
                operator: operator.to_string(),
                task,
            })?;
        let name = state_name(meta.id, operator, task);
        let file = self.storage.get(&name)?;
        let payload = check_state_file(&file, entry, |what| CheckpointError::Corrupt {
            id: meta.id,
            name: name.clone(),
            what,
        })?;
        Ok(payload.to_vec())
    }

    /// Checks checkpoint `id` whole: its metadata and every state file it lists.
    pub fn verify(&self, id: u64) -> Result<Metadata, CheckpointError> {
        let meta = self.metadata(id)?;
        for s in &meta.states {
            self.state(&meta, &s.operator, s.task)?;
        }
        Ok(meta)
    }

    /// The ids of the checkpoints in the storage (complete or not), oldest first.
    pub fn ids(&self) -> Result<Vec<u64>, CheckpointError> {
        let mut ids: Vec<u64> = self
            .storage
            .list("")?
            .iter()
            .filter_map(|n| n.strip_prefix("chk-")?.parse().ok())
            .collect();
        ids.sort_unstable();
        Ok(ids)
    }

    /// The newest checkpoint that is complete and whole, and the newer ones passed over
    /// (each with why). `None` when there is none to restore.
    pub fn latest(&self) -> Result<(Option<Metadata>, Vec<Skipped>), CheckpointError> {
        let mut skipped = Vec::new();
        for id in self.ids()?.into_iter().rev() {
            match self.verify(id) {
                Ok(meta) => return Ok((Some(meta), skipped)),
                Err(e) if e.is_retryable() => return Err(e),
                Err(error) => skipped.push(Skipped { id, error }),
            }
        }
        Ok((None, skipped))
    }

    /// Copies checkpoint `id`, checked whole, into `to` (a savepoint written where the user
    /// asked): its state files first, its metadata last, so the copy is complete only once
    /// it is whole.
    pub fn copy_to<T: CheckpointStorage>(
        &self,
        id: u64,
        to: &CheckpointStore<T>,
    ) -> Result<Metadata, CheckpointError> {
        let meta = self.verify(id)?;
        for s in &meta.states {
            let name = state_name(id, &s.operator, s.task);
            to.storage.put(&name, &self.storage.get(&name)?)?;
        }
        let name = format!("{}/{METADATA}", checkpoint_dir(id));
        to.storage.put(&name, &self.storage.get(&name)?)?;
        Ok(meta)
    }

    /// [`latest`](Self::latest) among the checkpoints with an id above `floor` (a run's
    /// own, when older ones in the storage belong to earlier runs).
    pub fn latest_after(
        &self,
        floor: u64,
    ) -> Result<(Option<Metadata>, Vec<Skipped>), CheckpointError> {
        let mut skipped = Vec::new();
        for id in self.ids()?.into_iter().rev().filter(|id| *id > floor) {
            match self.verify(id) {
                Ok(meta) => return Ok((Some(meta), skipped)),
                Err(e) if e.is_retryable() => return Err(e),
                Err(error) => skipped.push(Skipped { id, error }),
            }
        }
        Ok((None, skipped))
    }

    /// Deletes checkpoint `id`.
    pub fn discard(&self, id: u64) -> Result<(), CheckpointError> {
        Ok(self.storage.delete_all(&checkpoint_dir(id))?)
    }
}
