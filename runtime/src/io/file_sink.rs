//! `file_sink("dir")`: every tuple a line of tab-separated fields, in part files that
//! appear, atomically, once the checkpoint after them is complete.

use crate::api::{ExecResult, Fail, TaskContext, TransactionalSink};
use crate::checkpoint::{FileTransactions, PreCommitted};
use crate::codec::{from_bytes, to_bytes};
use crate::tuple::Tuple;
use std::path::PathBuf;

/// Writes tuples `T` as lines into `dir/part-<task>-<checkpoint>` files by two-phase
/// commit (see [`FileTransactions`]): what a task wrote between two barriers is one part,
/// renamed into place when the checkpoint completes. Reading `dir` (its `part-*` files,
/// in any order) gives every tuple exactly once.
pub struct FileSink<T> {
    dir: PathBuf,
    files: Option<FileTransactions>,
    line: String,
    _t: std::marker::PhantomData<fn(T)>,
}

impl<T> FileSink<T> {
    /// A sink writing under `dir` (relative to the working directory).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        FileSink {
            dir: dir.into(),
            files: None,
            line: String::new(),
            _t: std::marker::PhantomData,
        }
    }

    fn files(&mut self) -> Result<&mut FileTransactions, Fail> {
        self.files
            .as_mut()
            .ok_or_else(|| Fail::new("the file sink was not opened"))
    }
}

impl<T: Tuple> TransactionalSink for FileSink<T> {
    type In = T;

    fn open(&mut self, ctx: &TaskContext) -> ExecResult {
        let dir = super::expand(&self.dir.to_string_lossy(), ctx)?;
        // A run of the task no earlier run can share staging names with.
        let incarnation = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        self.files = Some(FileTransactions::new(
            dir,
            ctx.task_index() as u32,
            incarnation,
        ));
        Ok(())
    }

    #[inline]
    fn write(&mut self, input: T) -> ExecResult {
        self.line.clear();
        input.write_text(&mut self.line);
        let line = std::mem::take(&mut self.line);
        let done = self.files()?.write_line(&line);
        self.line = line;
        Ok(done?)
    }

    fn pre_commit(&mut self, checkpoint: u64) -> Result<Option<Vec<u8>>, Fail> {
        Ok(self.files()?.pre_commit(checkpoint)?.map(|p| to_bytes(&p)))
    }

    fn commit(&mut self, checkpoint: u64) -> ExecResult {
        Ok(self.files()?.commit(checkpoint)?)
    }

    fn recover(&mut self, checkpoint: Option<u64>, restored: Vec<(u64, Vec<u8>)>) -> ExecResult {
        let mut list = Vec::with_capacity(restored.len());
        for (c, bytes) in restored {
            let p = from_bytes::<PreCommitted>(&bytes)
                .map_err(|e| Fail::new(format!("a pre-committed part in the checkpoint: {e}")))?;
            list.push((c, p));
        }
        Ok(self.files()?.recover(checkpoint, &list)?)
    }
}
