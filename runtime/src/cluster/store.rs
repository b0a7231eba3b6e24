//! Nimbus's metadata store: a small key-value store behind the [`MetaStore`] trait, with an
//! embedded default, [`FileStore`], that keeps one file per key in a directory.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// A key-value store for nimbus's metadata (topology records, assignments, binaries'
/// hashes). Keys are `[A-Za-z0-9._-]` segments separated by `/` (see [`check_key`]).
pub trait MetaStore: Send + Sync + std::fmt::Debug {
    /// Stores `value` under `key`, replacing any previous value; durable when it returns.
    fn put(&self, key: &str, value: &[u8]) -> Result<(), StoreError>;
    /// The value under `key`, or `None` if there is none.
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError>;
    /// Removes `key` (nothing happens if it does not exist).
    fn delete(&self, key: &str) -> Result<(), StoreError>;
    /// Keys starting with `prefix` (a plain string prefix, e.g. `"topologies/"`), sorted.
    fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError>;
}

/// What went wrong in a [`MetaStore`].
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The key is not `[A-Za-z0-9._-]` segments separated by `/` (or a segment is empty,
    /// `.` or `..`, or the key is longer than [`MAX_KEY_LEN`] bytes).
    #[error(
        "bad store key {0:?}: keys are segments of [A-Za-z0-9._-] separated by '/' (no empty, '.' or '..' segment, at most {MAX_KEY_LEN} bytes)"
    )]
    BadKey(String),
    /// Reading or writing the file of a key failed.
    #[error("store key {key:?}: {path}: {source}")]
    Io {
        /// The key (or, for [`MetaStore::list`], the prefix).
        key: String,
        /// The file or directory the operation failed on.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// The store's directory could not be created, read or cleaned.
    #[error("cannot open store directory {path}: {source}")]
    Open {
        /// The directory (or the stray file being removed).
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
}

/// The longest key accepted, in bytes (the key is a file name, with room for a temp
/// file's suffix within the usual 255-byte limit).
pub const MAX_KEY_LEN: usize = 200;

/// Checks that `key` is a valid store key: non-empty `[A-Za-z0-9._-]` segments separated
/// by `/`, none of them `.` or `..`, at most [`MAX_KEY_LEN`] bytes in all.
pub fn check_key(key: &str) -> Result<(), StoreError> {
    let ok = !key.is_empty()
        && key.len() <= MAX_KEY_LEN
        && key.split('/').all(|seg| {
            !seg.is_empty()
                && seg != "."
                && seg != ".."
                && seg
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        });
    if ok {
        Ok(())
    } else {
        Err(StoreError::BadKey(key.to_owned()))
    }
}

/// The file-name character that stands for `/` in a key (never valid in a key itself, so
/// the mapping is one-to-one and there are no subdirectories to conflict with keys).
const SEP: char = '+';
/// The prefix of temporary files (`~` is never valid in a key, so they cannot be mistaken
/// for one).
const TEMP_PREFIX: &str = "~tmp.";

/// The embedded default [`MetaStore`]: one file per key in a directory.
///
/// A key's file is named after the key with each `/` written as `+` (so `topologies/wc-1`
/// is the file `topologies+wc-1`): the directory is flat, and a key can be both a value
/// and a prefix of other keys.
///
/// Writes are atomic and durable: the value goes to a temporary file (`~tmp.*`), which is
/// fsynced, renamed over the key's file, and then the directory is fsynced. A crash
/// mid-write leaves the old value; temporary files are ignored by [`get`](MetaStore::get)
/// and [`list`](MetaStore::list) and removed by [`FileStore::open`]. One process should
/// use a directory at a time (opening it removes temporary files another process might be
/// writing).
#[derive(Debug)]
pub struct FileStore {
    dir: PathBuf,
    /// Makes temporary file names unique within this process.
    counter: AtomicU64,
}

impl FileStore {
    /// Opens the store in `dir`, creating the directory if needed and removing any
    /// temporary files a crash left behind.
    pub fn open(dir: impl Into<PathBuf>) -> Result<FileStore, StoreError> {
        let dir = dir.into();
        let open_err = |path: &Path| {
            let path = path.to_path_buf();
            move |source| StoreError::Open { path, source }
        };
        fs::create_dir_all(&dir).map_err(open_err(&dir))?;
        let mut removed = false;
        for entry in fs::read_dir(&dir).map_err(open_err(&dir))? {
            let entry = entry.map_err(open_err(&dir))?;
            let name = entry.file_name();
            if name.to_str().is_some_and(|n| n.starts_with(TEMP_PREFIX)) {
                let path = entry.path();
                match fs::remove_file(&path) {
                    Ok(()) => removed = true,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => return Err(open_err(&path)(e)),
                }
            }
        }
        if removed {
            sync_dir(&dir).map_err(open_err(&dir))?;
        }
        Ok(FileStore {
            dir,
            counter: AtomicU64::new(0),
        })
    }

    /// The store's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file of a (valid) key.
    fn path(&self, key: &str) -> PathBuf {
        self.dir.join(key.replace('/', &SEP.to_string()))
    }

    fn io_err(key: &str, path: &Path) -> impl FnOnce(io::Error) -> StoreError {
        let key = key.to_owned();
        let path = path.to_path_buf();
        move |source| StoreError::Io { key, path, source }
    }

    /// Writes `value` to a new temporary file, fsynced; returns its path.
    fn write_temp(&self, key: &str, value: &[u8]) -> Result<PathBuf, StoreError> {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let temp = self
            .dir
            .join(format!("{TEMP_PREFIX}{}.{n}", std::process::id()));
        let result = (|| {
            let mut file = OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&temp)?;
            file.write_all(value)?;
            file.sync_all()
        })();
        match result {
            Ok(()) => Ok(temp),
            Err(e) => {
                // Best effort: open() removes it anyway.
                let _ = fs::remove_file(&temp);
                Err(Self::io_err(key, &temp)(e))
            }
        }
    }
}

/// Fsyncs a directory, so that a rename or removal in it is durable.
/// An in-memory [`MetaStore`]: what a nimbus without a directory (a test, the
/// deterministic simulation) keeps. It checks keys as [`FileStore`] does, so both refuse
/// the same keys.
#[derive(Debug, Default)]
pub struct MemStore {
    entries: std::sync::Mutex<std::collections::BTreeMap<String, Vec<u8>>>,
}

impl MemStore {
    fn entries(&self) -> std::sync::MutexGuard<'_, std::collections::BTreeMap<String, Vec<u8>>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl MetaStore for MemStore {
    fn put(&self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        check_key(key)?;
        self.entries().insert(key.to_string(), value.to_vec());
        Ok(())
    }

    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        check_key(key)?;
        Ok(self.entries().get(key).cloned())
    }

    fn delete(&self, key: &str) -> Result<(), StoreError> {
        check_key(key)?;
        self.entries().remove(key);
        Ok(())
    }

    fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        Ok(self
            .entries()
            .keys()
            .filter(|k| k.starts_with(prefix))
            .cloned()
            .collect())
    }
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

impl MetaStore for FileStore {
    fn put(&self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        check_key(key)?;
        let path = self.path(key);
        let temp = self.write_temp(key, value)?;
        if let Err(e) = fs::rename(&temp, &path) {
            let _ = fs::remove_file(&temp);
            return Err(Self::io_err(key, &path)(e));
        }
        sync_dir(&self.dir).map_err(Self::io_err(key, &self.dir))
    }

    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        check_key(key)?;
        let path = self.path(key);
        match fs::read(&path) {
            Ok(value) => Ok(Some(value)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Self::io_err(key, &path)(e)),
        }
    }

    fn delete(&self, key: &str) -> Result<(), StoreError> {
        check_key(key)?;
        let path = self.path(key);
        match fs::remove_file(&path) {
            Ok(()) => sync_dir(&self.dir).map_err(Self::io_err(key, &self.dir)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Self::io_err(key, &path)(e)),
        }
    }

    fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let err = || Self::io_err(prefix, &self.dir);
        let mut keys = Vec::new();
        for entry in fs::read_dir(&self.dir).map_err(err())? {
            let entry = entry.map_err(err())?;
            // Anything that is not a key's file (temporary files, strays) is skipped.
            let Some(name) = entry.file_name().to_str().map(|n| n.replace(SEP, "/")) else {
                continue;
            };
            if name.starts_with(prefix)
                && check_key(&name).is_ok()
                && entry.file_type().map_err(err())?.is_file()
            {
                keys.push(name);
            }
        }
        keys.sort();
        Ok(keys)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh directory under the system's temp directory, removed on drop.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new(name: &str) -> TempDir {
            static N: AtomicU64 = AtomicU64::new(0);
            let n = N.fetch_add(1, Ordering::Relaxed);
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0);
            let dir = std::env::temp_dir().join(format!(
                "gale-store-{name}-{}-{n}-{nanos}",
                std::process::id()
            ));
            TempDir(dir)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn put_get_overwrite_delete() {
        let dir = TempDir::new("basic");
        let store = FileStore::open(&dir.0).unwrap();
        assert_eq!(store.get("a").unwrap(), None);
        store.put("a", b"one").unwrap();
        assert_eq!(store.get("a").unwrap().as_deref(), Some(&b"one"[..]));
        store.put("a", b"two").unwrap();
        assert_eq!(store.get("a").unwrap().as_deref(), Some(&b"two"[..]));
        store.put("empty", b"").unwrap();
        assert_eq!(store.get("empty").unwrap(), Some(Vec::new()));
        store.delete("a").unwrap();
        assert_eq!(store.get("a").unwrap(), None);
        // Deleting what is not there is fine.
        store.delete("a").unwrap();
        store.delete("never/was").unwrap();
        assert_eq!(store.list("").unwrap(), vec!["empty"]);
    }

    #[test]
    fn nested_keys_and_prefixes() {
        let dir = TempDir::new("nested");
        let store = FileStore::open(&dir.0).unwrap();
        for key in [
            "topologies/wc-2/record",
            "topologies/wc-1/record",
            "topologies/wc-1",
            "topologies/wc-1/assignment",
            "supervisors/s1",
            "topology",
            "binaries/ab12.bin",
        ] {
            store.put(key, key.as_bytes()).unwrap();
        }
        // A key is both a value and the prefix of other keys.
        assert_eq!(
            store.get("topologies/wc-1").unwrap().as_deref(),
            Some(&b"topologies/wc-1"[..])
        );
        assert_eq!(
            store.list("topologies/").unwrap(),
            vec![
                "topologies/wc-1",
                "topologies/wc-1/assignment",
                "topologies/wc-1/record",
                "topologies/wc-2/record",
            ]
        );
        assert_eq!(
            store.list("topologies/wc-1/").unwrap(),
            vec!["topologies/wc-1/assignment", "topologies/wc-1/record"]
        );
        assert_eq!(
            store.list("topolog").unwrap().len(),
            5,
            "a plain string prefix"
        );
        assert_eq!(store.list("").unwrap().len(), 7);
        assert!(store.list("nothing/").unwrap().is_empty());
        // A prefix need not be a valid key.
        assert!(store.list("~").unwrap().is_empty());
        store.delete("topologies/wc-1").unwrap();
        assert_eq!(store.list("topologies/wc-1").unwrap().len(), 2);
    }

    #[test]
    fn bad_keys_are_rejected() {
        let dir = TempDir::new("bad");
        let store = FileStore::open(&dir.0).unwrap();
        let long = "x".repeat(MAX_KEY_LEN + 1);
        for key in [
            "", "/", "a/", "/a", "a//b", "..", "a/../b", ".", "a/./b", "a b", "a+b", "~tmp.1",
            "a\\b", "é", "a\0b", "a:b", &long,
        ] {
            let err = store.put(key, b"x").unwrap_err();
            assert!(matches!(&err, StoreError::BadKey(k) if k == key), "{key:?}");
            assert!(err.to_string().contains(&format!("{key:?}")));
            assert!(matches!(store.get(key), Err(StoreError::BadKey(_))));
            assert!(matches!(store.delete(key), Err(StoreError::BadKey(_))));
        }
        for key in [
            "a",
            "A.b_c-9",
            "...",
            ".hidden",
            "a/b/c",
            "x".repeat(200).as_str(),
        ] {
            check_key(key).unwrap();
        }
        assert!(store.list("").unwrap().is_empty());
    }

    #[test]
    fn reopened_store_sees_everything() {
        let dir = TempDir::new("reopen");
        {
            let store = FileStore::open(&dir.0).unwrap();
            store.put("a/b", b"1").unwrap();
            store.put("c", &[0, 255, 7]).unwrap();
            store.put("d", b"gone").unwrap();
            store.delete("d").unwrap();
        }
        let store = FileStore::open(&dir.0).unwrap();
        assert_eq!(store.list("").unwrap(), vec!["a/b", "c"]);
        assert_eq!(store.get("c").unwrap(), Some(vec![0, 255, 7]));
        assert_eq!(store.dir(), dir.0.as_path());
    }

    #[test]
    fn leftover_temp_files_are_ignored_and_cleaned() {
        let dir = TempDir::new("temp");
        let store = FileStore::open(&dir.0).unwrap();
        store.put("a", b"old").unwrap();
        // A crash after writing the temp file, before the rename.
        let temp = dir.0.join(format!("{TEMP_PREFIX}999.0"));
        fs::write(&temp, b"new").unwrap();
        // And a file that is no key at all.
        fs::write(dir.0.join("not a key"), b"?").unwrap();
        assert_eq!(store.list("").unwrap(), vec!["a"]);
        assert_eq!(store.get("a").unwrap().as_deref(), Some(&b"old"[..]));
        drop(store);

        let store = FileStore::open(&dir.0).unwrap();
        assert!(!temp.exists(), "open removes temp files");
        assert!(dir.0.join("not a key").exists(), "and only those");
        assert_eq!(store.get("a").unwrap().as_deref(), Some(&b"old"[..]));
        assert_eq!(store.list("").unwrap(), vec!["a"]);
    }

    #[test]
    fn io_errors_name_the_key_and_the_path() {
        let dir = TempDir::new("io");
        let store = FileStore::open(&dir.0).unwrap();
        // A directory where the key's file should be.
        fs::create_dir(dir.0.join("k+sub")).unwrap();
        let err = store.get("k/sub").unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, StoreError::Io { .. }), "{msg}");
        assert!(msg.contains("\"k/sub\""), "{msg}");
        assert!(
            msg.contains(&dir.0.join("k+sub").display().to_string()),
            "{msg}"
        );
        // Directories are not listed.
        assert!(store.list("").unwrap().is_empty());

        // A file where the directory should be.
        let file = dir.0.join("file");
        fs::write(&file, b"").unwrap();
        let err = FileStore::open(&file).unwrap_err();
        assert!(
            err.to_string().contains(&file.display().to_string()),
            "{err}"
        );
    }

    #[test]
    fn concurrent_puts() {
        let dir = TempDir::new("threads");
        let store = std::sync::Arc::new(FileStore::open(&dir.0).unwrap());
        let handles: Vec<_> = (0..4)
            .map(|t| {
                let store = store.clone();
                std::thread::spawn(move || {
                    for i in 0..20 {
                        store.put(&format!("t{t}/k{i}"), b"v").unwrap();
                        store.put("shared", format!("{t}").as_bytes()).unwrap();
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        assert_eq!(store.list("t").unwrap().len(), 80);
        let shared = store.get("shared").unwrap().unwrap();
        assert!(["0", "1", "2", "3"].contains(&std::str::from_utf8(&shared).unwrap()));
        let dyn_store: &dyn MetaStore = &*store;
        assert_eq!(dyn_store.list("shared").unwrap(), vec!["shared"]);
    }
}
