//! Where checkpoints are written: a [`CheckpointStorage`] stores named blobs durably. The
//! default is a local directory ([`LocalDir`]); a cluster needs storage every machine
//! reaches, behind the same trait.
//!
//! A blob is written whole or not at all: [`LocalDir`] writes a temporary file, syncs it,
//! renames it into place and syncs the directory, so a crash leaves the old blob or the
//! new one, never half of one. Names are `/`-separated relative paths of plain segments.

use std::path::{Path, PathBuf};

/// Why a storage operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The storage could not be read or written (a full disk, a lost mount...).
    #[error("checkpoint storage: {op} `{path}`: {source}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// The blob or directory.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// An object store call failed (a network error, a refused request...).
    #[error("checkpoint storage: {op} `{path}`: {source}")]
    Object {
        /// What was being done.
        op: &'static str,
        /// The blob.
        path: String,
        /// The cause.
        source: Box<object_store::Error>,
    },
    /// A storage location that cannot be opened (a malformed URL, a store this build
    /// lacks, a directory that cannot be created).
    #[error("checkpoint storage `{location}`: {what}")]
    Location {
        /// The location as given.
        location: String,
        /// What is wrong.
        what: String,
    },
    /// No blob of that name.
    #[error("checkpoint storage: no `{0}`")]
    NotFound(String),
    /// A name that is not a relative path of plain segments.
    #[error("checkpoint storage: `{0}` is not a valid name (plain `/`-separated segments)")]
    BadName(String),
}

impl StorageError {
    /// Whether trying again may succeed (an I/O error may be passing; a missing blob or a
    /// bad name stays so).
    pub fn is_retryable(&self) -> bool {
        matches!(self, StorageError::Io { .. } | StorageError::Object { .. })
    }
}

/// Durable named blobs.
pub trait CheckpointStorage: Send + Sync + std::fmt::Debug {
    /// Writes `bytes` as `name`, replacing any blob of that name; durable when it returns.
    fn put(&self, name: &str, bytes: &[u8]) -> Result<(), StorageError>;
    /// The blob `name`.
    fn get(&self, name: &str) -> Result<Vec<u8>, StorageError>;
    /// The names directly below `prefix` (a "directory"; `""` for the top), sorted.
    fn list(&self, prefix: &str) -> Result<Vec<String>, StorageError>;
    /// Deletes `prefix` and everything below it (nothing there is not an error; the empty
    /// prefix, the whole storage, is refused).
    fn delete_all(&self, prefix: &str) -> Result<(), StorageError>;
}

/// Storage shared by reference (a worker's tasks and its uploader, say).
impl<T: CheckpointStorage + ?Sized> CheckpointStorage for std::sync::Arc<T> {
    fn put(&self, name: &str, bytes: &[u8]) -> Result<(), StorageError> {
        (**self).put(name, bytes)
    }
    fn get(&self, name: &str) -> Result<Vec<u8>, StorageError> {
        (**self).get(name)
    }
    fn list(&self, prefix: &str) -> Result<Vec<String>, StorageError> {
        (**self).list(prefix)
    }
    fn delete_all(&self, prefix: &str) -> Result<(), StorageError> {
        (**self).delete_all(prefix)
    }
}

/// Checkpoint storage in a local directory.
#[derive(Debug, Clone)]
pub struct LocalDir {
    root: PathBuf,
}

impl LocalDir {
    /// Storage under `root` (created when first written).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        LocalDir { root: root.into() }
    }

    /// Its directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn path(&self, name: &str) -> Result<PathBuf, StorageError> {
        let plain = |s: &str| !s.is_empty() && s != "." && s != ".." && !s.contains('\\');
        if name.is_empty() {
            return Ok(self.root.clone());
        }
        if name.starts_with('/') || !name.split('/').all(plain) {
            return Err(StorageError::BadName(name.to_string()));
        }
        Ok(self.root.join(name))
    }
}

fn io(op: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> StorageError {
    let path = path.display().to_string();
    move |source| StorageError::Io { op, path, source }
}

/// Syncs a directory, so that a rename or a new entry in it survives a crash.
fn sync_dir(dir: &Path) -> Result<(), StorageError> {
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io("sync directory", dir))
}

impl CheckpointStorage for LocalDir {
    fn put(&self, name: &str, bytes: &[u8]) -> Result<(), StorageError> {
        use std::io::Write as _;
        let path = self.path(name)?;
        let dir = path.parent().unwrap_or(&self.root).to_path_buf();
        // The directories this creates must survive a crash too: each new one's entry is
        // in its parent, synced below.
        let created = !dir.is_dir();
        std::fs::create_dir_all(&dir).map_err(io("create directory", &dir))?;
        let file_name = path
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default();
        let tmp = dir.join(format!(".{file_name}.tmp"));
        let mut f = std::fs::File::create(&tmp).map_err(io("create", &tmp))?;
        f.write_all(bytes).map_err(io("write", &tmp))?;
        f.sync_all().map_err(io("sync", &tmp))?;
        drop(f);
        std::fs::rename(&tmp, &path).map_err(io("rename", &path))?;
        sync_dir(&dir)?;
        if created {
            for parent in dir.ancestors().skip(1) {
                if !parent.starts_with(&self.root) {
                    break;
                }
                sync_dir(parent)?;
            }
            // The root itself may be new: its entry is in its parent.
            if let Some(up) = self.root.parent().filter(|p| !p.as_os_str().is_empty()) {
                sync_dir(up)?;
            }
        }
        Ok(())
    }

    fn get(&self, name: &str) -> Result<Vec<u8>, StorageError> {
        let path = self.path(name)?;
        std::fs::read(&path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => StorageError::NotFound(name.to_string()),
            _ => io("read", &path)(e),
        })
    }

    fn list(&self, prefix: &str) -> Result<Vec<String>, StorageError> {
        let dir = self.path(prefix.trim_end_matches('/'))?;
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io("list", &dir)(e)),
        };
        let mut names: Vec<String> = entries
            .filter_map(Result::ok)
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| !n.starts_with('.'))
            .collect();
        names.sort();
        Ok(names)
    }

    fn delete_all(&self, prefix: &str) -> Result<(), StorageError> {
        let prefix = prefix.trim_end_matches('/');
        if prefix.is_empty() {
            // Never the whole storage.
            return Err(StorageError::BadName(prefix.to_string()));
        }
        let path = self.path(prefix)?;
        let gone = if path.is_dir() {
            std::fs::remove_dir_all(&path)
        } else {
            std::fs::remove_file(&path)
        };
        match gone {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io("delete", &path)(e)),
        }
    }
}
