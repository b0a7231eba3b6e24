//! Checkpoint storage every machine of a cluster reaches: an [`ObjectStorage`] keeps the
//! blobs of a [`CheckpointStorage`] in an object store (the `object_store` crate): a
//! directory through its local filesystem store (with fsync, for tests and single
//! machines or a shared mount), or S3, GCS or Azure Blob Storage when `gale` is built
//! with its `s3`, `gcs` or `azure` feature.
//!
//! [`open`] takes what a user writes: a path, `file:///path`, `s3://bucket/prefix`,
//! `gs://bucket/prefix` or `az://container/prefix`. Cloud credentials come from the
//! environment (`AWS_*`, `GOOGLE_*`, `AZURE_*`, as those stores' own tools read them).
//!
//! A put is atomic in every object store (the local one writes a staging file and renames
//! it); a `_metadata` is therefore there whole or not at all, as the layout requires.

use super::storage::{CheckpointStorage, StorageError};
use futures::TryStreamExt;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use std::sync::Arc;

/// Checkpoint storage in an object store, under a prefix.
#[derive(Debug, Clone)]
pub struct ObjectStorage {
    store: Arc<dyn ObjectStore>,
    prefix: ObjectPath,
    /// Where it is, as the user said it (for messages).
    location: String,
    /// Built on first use, on the thread that uses it (never inside an async context,
    /// where neither building nor dropping a runtime is allowed).
    runtime: Arc<std::sync::OnceLock<tokio::runtime::Runtime>>,
}

/// Opens the storage `location` names (a path or an object store URL).
pub fn open(location: &str) -> Result<ObjectStorage, StorageError> {
    let bad = |what: String| StorageError::Location {
        location: location.to_string(),
        what,
    };
    let local =
        |dir: &std::path::Path| -> Result<(Arc<dyn ObjectStore>, ObjectPath), StorageError> {
            std::fs::create_dir_all(dir).map_err(|e| bad(format!("cannot create it: {e}")))?;
            let fs = object_store::local::LocalFileSystem::new_with_prefix(dir)
                .map_err(|e| bad(e.to_string()))?
                .with_fsync(true)
                .with_automatic_cleanup(true);
            Ok((Arc::new(fs), ObjectPath::default()))
        };
    let (store, prefix) = if location.contains("://") {
        let url = url::Url::parse(location).map_err(|e| bad(format!("not a URL: {e}")))?;
        if url.scheme() == "file" {
            let dir = url
                .to_file_path()
                .map_err(|()| bad("not a local path".into()))?;
            local(&dir)?
        } else {
            let options = std::env::vars().filter_map(|(k, v)| {
                let k = k.to_ascii_lowercase();
                (k.starts_with("aws_") || k.starts_with("google_") || k.starts_with("azure_"))
                    .then_some((k, v))
            });
            let (store, prefix) = object_store::parse_url_opts(&url, options).map_err(|e| {
                bad(format!(
                    "{e} (S3, GCS and Azure need `gale` built with its `s3`, `gcs` or `azure` feature)"
                ))
            })?;
            (Arc::from(store), prefix)
        }
    } else {
        local(std::path::Path::new(location))?
    };
    Ok(ObjectStorage {
        store,
        prefix,
        location: location.to_string(),
        runtime: Arc::new(std::sync::OnceLock::new()),
    })
}

impl ObjectStorage {
    /// Where it is, as given to [`open`].
    pub fn location(&self) -> &str {
        &self.location
    }

    /// The storage below `sub` (a plain relative name) of this one.
    pub fn child(&self, sub: &str) -> Result<ObjectStorage, StorageError> {
        Ok(ObjectStorage {
            prefix: self.path(sub)?,
            location: format!("{}/{sub}", self.location.trim_end_matches('/')),
            ..self.clone()
        })
    }

    fn path(&self, name: &str) -> Result<ObjectPath, StorageError> {
        let plain = |s: &str| !s.is_empty() && s != "." && s != ".." && !s.contains('\\');
        let name = name.trim_end_matches('/');
        if name.is_empty() {
            return Ok(self.prefix.clone());
        }
        if name.starts_with('/') || !name.split('/').all(plain) {
            return Err(StorageError::BadName(name.to_string()));
        }
        Ok(name
            .split('/')
            .fold(self.prefix.clone(), |p, part| p.join(part)))
    }

    /// Runs an object store call to its end. From inside an async runtime (which must not
    /// block) it runs on a thread of its own.
    fn block<T: Send>(
        &self,
        work: impl std::future::Future<Output = T> + Send,
    ) -> Result<T, StorageError> {
        let run = || {
            let rt = match self.runtime.get() {
                Some(rt) => rt,
                None => {
                    let built = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .map_err(|e| StorageError::Location {
                            location: self.location.clone(),
                            what: format!("cannot start its I/O runtime: {e}"),
                        })?;
                    self.runtime.get_or_init(|| built)
                }
            };
            Ok(rt.block_on(work))
        };
        if tokio::runtime::Handle::try_current().is_ok() {
            std::thread::scope(|s| {
                s.spawn(run)
                    .join()
                    .unwrap_or_else(|p| std::panic::resume_unwind(p))
            })
        } else {
            run()
        }
    }

    fn failed(&self, op: &'static str, name: &str, e: object_store::Error) -> StorageError {
        match e {
            object_store::Error::NotFound { .. } => StorageError::NotFound(name.to_string()),
            object_store::Error::InvalidPath { .. } => StorageError::BadName(name.to_string()),
            e => StorageError::Object {
                op,
                path: format!("{}/{name}", self.location.trim_end_matches('/')),
                source: Box::new(e),
            },
        }
    }
}

impl CheckpointStorage for ObjectStorage {
    fn put(&self, name: &str, bytes: &[u8]) -> Result<(), StorageError> {
        let path = self.path(name)?;
        let payload = PutPayload::from(bytes.to_vec());
        self.block(self.store.put(&path, payload))?
            .map(|_| ())
            .map_err(|e| self.failed("write", name, e))
    }

    fn get(&self, name: &str) -> Result<Vec<u8>, StorageError> {
        let path = self.path(name)?;
        self.block(async {
            let got = self.store.get(&path).await?;
            got.bytes().await
        })?
        .map(|b| b.to_vec())
        .map_err(|e| self.failed("read", name, e))
    }

    fn list(&self, prefix: &str) -> Result<Vec<String>, StorageError> {
        let dir = self.path(prefix)?;
        let listed = self
            .block(self.store.list_with_delimiter(Some(&dir)))?
            .map_err(|e| self.failed("list", prefix, e));
        let listed = match listed {
            Ok(l) => l,
            Err(StorageError::NotFound(_)) => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let last = |p: &ObjectPath| p.filename().map(str::to_string);
        let mut names: Vec<String> = listed
            .common_prefixes
            .iter()
            .filter_map(last)
            .chain(listed.objects.iter().filter_map(|o| last(&o.location)))
            .filter(|n| !n.starts_with('.'))
            .collect();
        names.sort();
        names.dedup();
        Ok(names)
    }

    fn delete_all(&self, prefix: &str) -> Result<(), StorageError> {
        let prefix = prefix.trim_end_matches('/');
        if prefix.is_empty() {
            // Never the whole storage.
            return Err(StorageError::BadName(prefix.to_string()));
        }
        let path = self.path(prefix)?;
        let store = self.store.clone();
        self.block(async move {
            let below: Vec<_> = store.list(Some(&path)).try_collect().await?;
            for o in below {
                match store.delete(&o.location).await {
                    Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                    Err(e) => return Err(e),
                }
            }
            // A blob of exactly that name.
            match store.delete(&path).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
                Err(e) => Err(e),
            }
        })?
        .map_err(|e| self.failed("delete", prefix, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkpoint::{CheckpointStore, Metadata};

    fn temp(name: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("gale-objstore-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn blobs_round_trip_list_and_delete_through_the_local_object_store() {
        let dir = temp("blobs");
        let s = open(dir.to_str().expect("utf-8")).expect("opens");
        s.put("chk-1/state/count/0", b"abc").expect("put");
        s.put("chk-1/_metadata", b"m").expect("put");
        s.put("chk-2/_metadata", b"n").expect("put");
        assert_eq!(s.get("chk-1/state/count/0").expect("get"), b"abc");
        assert_eq!(s.list("").expect("list"), ["chk-1", "chk-2"]);
        assert_eq!(s.list("chk-1").expect("list"), ["_metadata", "state"]);
        assert!(matches!(
            s.get("chk-3/_metadata"),
            Err(StorageError::NotFound(_))
        ));
        assert!(matches!(s.put("../x", b""), Err(StorageError::BadName(_))));
        assert!(matches!(s.delete_all(""), Err(StorageError::BadName(_))));
        s.delete_all("chk-1").expect("delete");
        // Empty directories go with their last file: the checkpoint is gone from listings.
        assert_eq!(s.list("").expect("list"), ["chk-2"]);
        assert!(s.list("nothing-here").expect("list").is_empty());
        // The same bytes are on disk where the layout says.
        assert_eq!(
            std::fs::read(dir.join("chk-2/_metadata")).expect("file"),
            b"n"
        );
        let url = format!("file://{}", dir.display());
        let via_url = open(&url).expect("opens a file URL");
        assert_eq!(via_url.get("chk-2/_metadata").expect("get"), b"n");
        let child = s.child("topo-1").expect("child");
        child.put("x", b"y").expect("put");
        assert_eq!(std::fs::read(dir.join("topo-1/x")).expect("file"), b"y");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_checkpoint_in_an_object_store_is_checked_like_one_in_a_directory() {
        let dir = temp("layout");
        let store = CheckpointStore::new(open(dir.to_str().expect("utf-8")).expect("opens"));
        let file = store.put_state(7, "count", 0, b"state").expect("state");
        let meta = Metadata {
            id: 7,
            savepoint: false,
            triggered_ms: 1,
            topology: "t".into(),
            max_parallelism: 128,
            states: vec![file],
            operators: Default::default(),
            finished: Vec::new(),
        };
        store.commit(&meta).expect("commit");
        assert_eq!(store.verify(7).expect("verifies").id, 7);
        // A bit flipped in the state file is caught.
        let path = dir.join("chk-00000000000000000007/state/count/0");
        let mut bytes = std::fs::read(&path).expect("file");
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        std::fs::write(&path, bytes).expect("write");
        assert!(store.verify(7).is_err());
        let (latest, skipped) = store.latest().expect("latest");
        assert!(latest.is_none());
        assert_eq!(skipped.len(), 1);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_url_without_its_feature_says_which_feature() {
        let e = open("s3://bucket/prefix").expect_err("no s3 feature in tests");
        assert!(e.to_string().contains("`s3`"), "{e}");
    }
}
