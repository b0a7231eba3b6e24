//! `file_source("path")`: a replayable source of a text file's lines.

use crate::api::{Emitter, Fail, Spout, SpoutStatus, TaskContext, TaskState};
use crate::codec::{from_bytes, to_bytes};
use std::io::{BufRead, BufReader, Seek, SeekFrom};
use std::path::PathBuf;

/// Lines read per `next_tuple`.
const LINES_PER_CALL: usize = 64;

/// Emits every line of a text file (without its `\n` or `\r\n`), as `T`. With `tasks N`,
/// task `i` emits the lines whose number is `i` modulo `N`. Its state is its position (the
/// byte offset and number of the next line): a restore rewinds to it, so the lines after
/// the checkpoint are emitted again, and no other. Bytes that are not UTF-8 are replaced
/// (and said once per task).
pub struct FileSource<T> {
    path: PathBuf,
    make: fn(String) -> T,
    reader: Option<BufReader<std::fs::File>>,
    /// Why the file could not be opened.
    error: Option<String>,
    /// Byte offset of the next line.
    offset: u64,
    /// Its number (from 0).
    line: u64,
    task: u64,
    tasks: u64,
    buf: Vec<u8>,
    warned: bool,
}

impl<T> FileSource<T> {
    /// The lines of `path`, each made into a tuple by `make`.
    pub fn new(path: impl Into<PathBuf>, make: fn(String) -> T) -> Self {
        FileSource {
            path: path.into(),
            make,
            reader: None,
            error: None,
            offset: 0,
            line: 0,
            task: 0,
            tasks: 1,
            buf: Vec::new(),
            warned: false,
        }
    }

    fn seek(&mut self, offset: u64) -> Result<(), Fail> {
        let Some(r) = self.reader.as_mut() else {
            return Err(Fail::new(self.error.clone().unwrap_or_default()));
        };
        r.seek(SeekFrom::Start(offset)).map_err(|e| {
            Fail::new(format!(
                "cannot seek `{}` to {offset}: {e}",
                self.path.display()
            ))
        })?;
        self.offset = offset;
        Ok(())
    }
}

impl<T: Send + 'static> Spout for FileSource<T> {
    type Out = T;

    fn open(&mut self, ctx: &TaskContext) {
        self.task = ctx.task_index() as u64;
        self.tasks = ctx.task_count().max(1) as u64;
        let path = match super::expand(&self.path.to_string_lossy(), ctx) {
            Ok(p) => PathBuf::from(p),
            Err(e) => {
                self.error = Some(e.to_string());
                return;
            }
        };
        match std::fs::File::open(&path) {
            Ok(f) if f.metadata().is_ok_and(|m| m.is_file()) => {
                self.reader = Some(BufReader::with_capacity(1 << 16, f));
            }
            Ok(_) => self.error = Some(format!("`{}` is not a file", path.display())),
            Err(e) => self.error = Some(format!("cannot open `{}`: {e}", path.display())),
        }
        self.path = path;
    }

    fn next_tuple(&mut self, out: &mut impl Emitter<T>) -> SpoutStatus {
        let Some(reader) = self.reader.as_mut() else {
            panic!(
                "file source: {}",
                self.error.as_deref().unwrap_or("not opened")
            );
        };
        for _ in 0..LINES_PER_CALL {
            self.buf.clear();
            let n = match reader.read_until(b'\n', &mut self.buf) {
                Ok(n) => n,
                Err(e) => panic!(
                    "file source: reading `{}` at byte {}: {e}",
                    self.path.display(),
                    self.offset
                ),
            };
            if n == 0 {
                return SpoutStatus::Done;
            }
            self.offset += n as u64;
            let number = self.line;
            self.line += 1;
            if number % self.tasks != self.task {
                continue;
            }
            let mut bytes = &self.buf[..];
            if let Some(b) = bytes.strip_suffix(b"\n") {
                bytes = b.strip_suffix(b"\r").unwrap_or(b);
            }
            let text = match std::str::from_utf8(bytes) {
                Ok(s) => s.to_string(),
                Err(_) => {
                    if !self.warned {
                        self.warned = true;
                        tracing::warn!(
                            path = %self.path.display(),
                            line = number + 1,
                            "file source `{}`: line {} is not UTF-8; invalid bytes \
                             replaced (said once)",
                            self.path.display(),
                            number + 1
                        );
                    }
                    String::from_utf8_lossy(bytes).into_owned()
                }
            };
            out.emit((self.make)(text));
        }
        SpoutStatus::Active
    }

    fn snapshot_state(&mut self, _checkpoint: u64) -> Result<Option<TaskState>, Fail> {
        Ok(Some(TaskState::Task(to_bytes(&(self.offset, self.line)))))
    }

    fn initialize_state(&mut self, restored: Option<TaskState>) -> Result<(), Fail> {
        if let Some(e) = &self.error {
            return Err(Fail::new(e.clone()));
        }
        let Some(state) = restored else {
            return Ok(());
        };
        let (offset, line) = from_bytes::<(u64, u64)>(&state.into_task()?)
            .map_err(|e| Fail::new(format!("its position in the checkpoint: {e}")))?;
        self.seek(offset)?;
        self.line = line;
        Ok(())
    }
}
