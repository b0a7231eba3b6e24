//! Exactly-once output to files by two-phase commit, as Flink's `TwoPhaseCommitSinkFunction`
//! and `FileSink` do: what a sink task writes between two barriers goes to a staging file;
//! on a barrier the file is made durable and handed to the checkpoint (*pre-commit*); once
//! the checkpoint is complete it is renamed into place (*commit*), atomically.
//!
//! - A commit covers every transaction pre-committed for that checkpoint or before it, so
//!   a missed notification is subsumed by the next.
//! - A repeated or late commit is a no-op (a transaction is committed once: its staging
//!   file is gone and its part is in place).
//! - After a restore, [`FileTransactions::recover`] commits what the restored checkpoint
//!   had pre-committed and deletes every other staging file (written after it: replayed).
//!
//! Layout in the sink's directory: `part-<task>-<checkpoint>` committed parts (the
//! checkpoint zero-padded to 20 digits, `final` for a finished task's last);
//! `.staging/<task>-<incarnation>-<n>` staging files, the incarnation unique to each run
//! of the task, so that a staging name is never used twice (a restore commits a restored
//! pre-commit only if its staging file is still there). Pure of clocks (the caller picks
//! the incarnation); its I/O is the files.

use crate::codec::{Codec, DecodeError};
use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};

/// Why a file sink could not write, pre-commit or commit.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    /// The file system failed.
    #[error("file sink: {op} `{path}`: {source}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
}

impl SinkError {
    /// Whether trying again may succeed (an I/O error may pass).
    pub fn is_retryable(&self) -> bool {
        matches!(self, SinkError::Io { .. })
    }
}

fn io(op: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> SinkError {
    let path = path.display().to_string();
    move |source| SinkError::Io { op, path, source }
}

/// A transaction pre-committed for a checkpoint: its staging file and where it goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreCommitted {
    /// The staging file (its name in `.staging`).
    pub staging: String,
    /// The committed part's name.
    pub part: String,
}

impl Codec for PreCommitted {
    fn encode(&self, out: &mut Vec<u8>) {
        self.staging.encode(out);
        self.part.encode(out);
    }
    fn decode(input: &mut &[u8]) -> Result<Self, DecodeError> {
        Ok(PreCommitted {
            staging: String::decode(input)?,
            part: String::decode(input)?,
        })
    }
}

/// One sink task's files and transactions.
#[derive(Debug)]
pub struct FileTransactions {
    dir: PathBuf,
    task: u32,
    /// Unique to this run of the task: part of every staging name.
    incarnation: u64,
    /// The open transaction: its staging file (buffered) and its name.
    open: Option<(std::io::BufWriter<std::fs::File>, String)>,
    next: u64,
    /// Pre-committed, not yet committed, by checkpoint.
    pending: BTreeMap<u64, PreCommitted>,
}

impl FileTransactions {
    /// Task `task`'s transactions in `dir` (created when first written), in a run of the
    /// task called `incarnation`: a value no earlier run of it had (a clock reading).
    pub fn new(dir: impl Into<PathBuf>, task: u32, incarnation: u64) -> Self {
        FileTransactions {
            dir: dir.into(),
            task,
            incarnation,
            open: None,
            next: 0,
            pending: BTreeMap::new(),
        }
    }

    fn staging_dir(&self) -> PathBuf {
        self.dir.join(".staging")
    }

    /// Appends `line` (and a newline) to the open transaction.
    pub fn write_line(&mut self, line: &str) -> Result<(), SinkError> {
        let file = match &mut self.open {
            Some((f, _)) => f,
            None => {
                let dir = self.staging_dir();
                std::fs::create_dir_all(&dir).map_err(io("create directory", &dir))?;
                // A fresh name: never one a replayed run's leftovers could hold.
                let name = loop {
                    let name = format!("{}-{:016x}-{}", self.task, self.incarnation, self.next);
                    self.next += 1;
                    if !dir.join(&name).exists() {
                        break name;
                    }
                };
                let path = dir.join(&name);
                let f = std::fs::File::create(&path).map_err(io("create", &path))?;
                &mut self.open.insert((std::io::BufWriter::new(f), name)).0
            }
        };
        writeln!(file, "{line}").map_err(io("write", &self.dir))
    }

    /// Checkpoint `checkpoint`'s barrier: the open transaction is made durable and becomes
    /// the checkpoint's (`None` if nothing was written since the last). What the
    /// checkpoint must keep, to commit it after a restore.
    pub fn pre_commit(&mut self, checkpoint: u64) -> Result<Option<PreCommitted>, SinkError> {
        let Some((file, staging)) = self.open.take() else {
            return Ok(None);
        };
        let path = self.staging_dir().join(&staging);
        let file = file
            .into_inner()
            .map_err(|e| io("write", &path)(e.into_error()))?;
        file.sync_all().map_err(io("sync", &path))?;
        // Parts sort in checkpoint order; a finished task's last one after them all.
        let part = if checkpoint == crate::api::FINAL_SNAPSHOT {
            format!("part-{}-final", self.task)
        } else {
            format!("part-{}-{checkpoint:020}", self.task)
        };
        let pending = PreCommitted { staging, part };
        self.pending.insert(checkpoint, pending.clone());
        Ok(Some(pending))
    }

    /// Checkpoint `checkpoint` is complete: every transaction pre-committed for it or an
    /// earlier one is renamed into place. A repeated or late call does nothing.
    pub fn commit(&mut self, checkpoint: u64) -> Result<(), SinkError> {
        let due: Vec<u64> = self.pending.range(..=checkpoint).map(|(c, _)| *c).collect();
        for c in due {
            if let Some(p) = self.pending.get(&c).cloned() {
                self.commit_one(&p)?;
                self.pending.remove(&c);
            }
        }
        Ok(())
    }

    fn commit_one(&self, p: &PreCommitted) -> Result<(), SinkError> {
        let from = self.staging_dir().join(&p.staging);
        let to = self.dir.join(&p.part);
        if !from.exists() && to.exists() {
            // Committed already (before a crash, or a repeated commit).
            return Ok(());
        }
        std::fs::rename(&from, &to).map_err(io("rename", &to))?;
        std::fs::File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(io("sync directory", &self.dir))
    }

    /// Deletes this task's parts of checkpoints after `checkpoint`.
    fn delete_parts_after(&self, checkpoint: u64) -> Result<(), SinkError> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(io("list", &self.dir)(e)),
        };
        let mine = format!("part-{}-", self.task);
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let Some(id) = name.strip_prefix(&mine) else {
                continue;
            };
            let id = match id {
                "final" => crate::api::FINAL_SNAPSHOT,
                n => match n.parse::<u64>() {
                    Ok(n) => n,
                    Err(_) => continue,
                },
            };
            if id > checkpoint {
                std::fs::remove_file(e.path()).map_err(io("delete", &e.path()))?;
            }
        }
        Ok(())
    }

    /// The transactions pre-committed and not yet committed.
    pub fn pending(&self) -> impl Iterator<Item = (u64, &PreCommitted)> {
        self.pending.iter().map(|(c, p)| (*c, p))
    }

    /// After a restore of checkpoint `checkpoint` (`None`: a fresh start): commits
    /// `restored` (what that checkpoint pre-committed; it is complete), deletes this task's
    /// other staging files (written after it: their tuples are replayed), and deletes the
    /// parts it committed for later checkpoints (a restore falls back to an older
    /// checkpoint when the newest is damaged: what those parts held is replayed too).
    pub fn recover(
        &mut self,
        checkpoint: Option<u64>,
        restored: &[(u64, PreCommitted)],
    ) -> Result<(), SinkError> {
        self.open = None;
        self.pending.clear();
        for (_, p) in restored {
            self.commit_one(p)?;
        }
        if let Some(c) = checkpoint {
            self.delete_parts_after(c)?;
        }
        let dir = self.staging_dir();
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(io("list", &dir)(e)),
        };
        let mine = format!("{}-", self.task);
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with(&mine) {
                std::fs::remove_file(e.path()).map_err(io("delete", &e.path()))?;
            }
        }
        Ok(())
    }
}
