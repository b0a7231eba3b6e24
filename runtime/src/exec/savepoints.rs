//! Savepoints of a local run: a checkpoint a user asks for, kept, and copied where they
//! want it. The binary's `savepoint --checkpoint-dir DIR [--dir OUT]` asks a run that
//! writes its checkpoints under `DIR`: it leaves a request file there, which the run's
//! checkpoint driver picks up; the driver triggers the savepoint, copies it to `OUT` once
//! complete and leaves the answer beside the request.
//!
//! Files, in the checkpoint directory (never named like a checkpoint, `chk-*`):
//! `_savepoint-<nonce>.request` holds the target directory (empty: keep it in place);
//! `_savepoint-<nonce>.done` holds `ok`, the savepoint's id and its directory, or `error`
//! and why. Both are written to a temporary name and renamed, so neither side reads half.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Why a savepoint could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum SavepointError {
    /// The request or the answer could not be written or read.
    #[error("savepoint: {op} `{path}`: {source}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// No run answered in time.
    #[error(
        "no run answered within {0:?}: is a run writing its checkpoints to that directory \
         (`run --checkpoint-dir DIR`)?"
    )]
    NoAnswer(Duration),
    /// The run could not take it.
    #[error("the run could not take the savepoint: {0}")]
    Failed(String),
}

impl SavepointError {
    /// Whether asking again may work (the run may be busy or just starting).
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            SavepointError::NoAnswer(_) | SavepointError::Io { .. }
        )
    }
}

/// What the driver answers a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Answer {
    /// Savepoint `id` is complete, in `dir`.
    Taken {
        /// Its id.
        id: u64,
        /// Its directory.
        dir: PathBuf,
    },
    /// It could not be taken, and why (the text the asker prints).
    Refused(String),
}

/// A request the driver picked up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Request {
    /// Names its answer.
    pub(crate) nonce: String,
    /// Where to copy the savepoint (`None`: it stays in the checkpoint directory).
    pub(crate) target: Option<PathBuf>,
}

fn write_atomically(path: &Path, text: &str) -> Result<(), SavepointError> {
    let err = |op| {
        let path = path.display().to_string();
        move |source| SavepointError::Io { op, path, source }
    };
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).map_err(err("write"))?;
    std::fs::rename(&tmp, path).map_err(err("rename"))
}

/// Asks the run writing its checkpoints to `dir` for a savepoint, copied to `target`;
/// waits up to `timeout` for it. Returns its id and directory.
pub fn request(
    dir: &Path,
    target: Option<&Path>,
    timeout: Duration,
) -> Result<(u64, PathBuf), SavepointError> {
    let nonce = format!(
        "{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
    );
    let ask = dir.join(format!("_savepoint-{nonce}.request"));
    let target = target.map(|t| std::path::absolute(t).unwrap_or_else(|_| t.to_path_buf()));
    let text = target
        .as_deref()
        .map(|t| t.display().to_string())
        .unwrap_or_default();
    write_atomically(&ask, &text)?;
    let done = dir.join(format!("_savepoint-{nonce}.done"));
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if let Ok(answer) = std::fs::read_to_string(&done) {
            let _ = std::fs::remove_file(&done);
            let mut lines = answer.lines();
            return match lines.next() {
                Some("ok") => {
                    let id = lines.next().and_then(|l| l.parse().ok()).unwrap_or(0);
                    let path = PathBuf::from(lines.next().unwrap_or_default());
                    Ok((id, path))
                }
                _ => Err(SavepointError::Failed(lines.collect::<Vec<_>>().join("\n"))),
            };
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = std::fs::remove_file(&ask);
    Err(SavepointError::NoAnswer(timeout))
}

/// The requests waiting in `dir` (each taken: its file is deleted).
pub(crate) fn take_requests(dir: &Path) -> Vec<Request> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(nonce) = name
            .strip_prefix("_savepoint-")
            .and_then(|n| n.strip_suffix(".request"))
        else {
            continue;
        };
        let Ok(text) = std::fs::read_to_string(e.path()) else {
            continue;
        };
        let _ = std::fs::remove_file(e.path());
        let target = text.trim();
        out.push(Request {
            nonce: nonce.to_string(),
            target: (!target.is_empty()).then(|| PathBuf::from(target)),
        });
    }
    out
}

/// Answers request `nonce` in `dir`.
pub(crate) fn answer(dir: &Path, nonce: &str, answer: Answer) {
    let text = match answer {
        Answer::Taken { id, dir } => format!("ok\n{id}\n{}\n", dir.display()),
        Answer::Refused(why) => format!("error\n{why}\n"),
    };
    let path = dir.join(format!("_savepoint-{nonce}.done"));
    if let Err(e) = write_atomically(&path, &text) {
        tracing::error!(error = %e, "could not answer a savepoint request");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_is_taken_once_and_its_answer_reaches_the_asker() {
        let dir = std::env::temp_dir().join(format!("gale-sp-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let d = dir.clone();
        let driver = std::thread::spawn(move || {
            loop {
                let reqs = take_requests(&d);
                if let Some(r) = reqs.first() {
                    assert_eq!(r.target.as_deref(), Some(Path::new("/tmp/out")));
                    answer(
                        &d,
                        &r.nonce,
                        Answer::Taken {
                            id: 7,
                            dir: PathBuf::from("/tmp/out/chk-7"),
                        },
                    );
                    assert!(take_requests(&d).is_empty(), "taken once");
                    return;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        });
        let got = request(&dir, Some(Path::new("/tmp/out")), Duration::from_secs(10));
        driver.join().unwrap();
        assert_eq!(got.unwrap(), (7, PathBuf::from("/tmp/out/chk-7")));
        // Nobody there: a clear error after the timeout, and no request left behind.
        let none = request(&dir, None, Duration::from_millis(50)).unwrap_err();
        assert!(matches!(none, SavepointError::NoAnswer(_)), "{none}");
        assert!(take_requests(&dir).is_empty());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
