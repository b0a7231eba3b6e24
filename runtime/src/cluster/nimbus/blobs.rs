//! Topology binaries, stored by their SHA-256. An upload is written to a temporary file
//! while it is hashed, and kept only if its size and hash are what the header said.

use crate::cluster::proto::{SubmitChunk, submit_chunk};
use crate::cluster::submit::{CHUNK, hex};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::io::AsyncWriteExt;
use tonic::{Status, Streaming};

/// The binaries directory.
#[derive(Debug)]
pub(crate) struct Blobs {
    dir: PathBuf,
    /// Numbers the temporary files of uploads, so concurrent uploads of one binary never
    /// share one.
    uploads: AtomicU64,
}

fn valid_sha(sha: &str) -> bool {
    sha.len() == 64
        && sha
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

impl Blobs {
    pub(crate) fn open(dir: PathBuf) -> Result<Blobs, String> {
        std::fs::create_dir_all(&dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        Ok(Blobs {
            dir,
            uploads: AtomicU64::new(0),
        })
    }

    /// Receives `size` bytes that must hash to `sha`.
    pub(crate) async fn receive(
        &self,
        sha: &str,
        size: u64,
        stream: &mut Streaming<SubmitChunk>,
    ) -> Result<(), Status> {
        if !valid_sha(sha) {
            return Err(Status::invalid_argument(
                "sha256 must be 64 lowercase hex digits",
            ));
        }
        let final_path = self.dir.join(sha);
        let n = self.uploads.fetch_add(1, Ordering::Relaxed);
        let tmp = self
            .dir
            .join(format!(".{sha}.{}.{n}.part", std::process::id()));
        let io = |e: std::io::Error| Status::internal(format!("storing the binary: {e}"));
        let mut file = tokio::fs::File::create(&tmp).await.map_err(io)?;
        let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
        let mut got = 0u64;
        let result = async {
            loop {
                let next = tokio::time::timeout(super::CHUNK_TIMEOUT, stream.message()).await;
                let Some(chunk) = next.map_err(|_| {
                    Status::deadline_exceeded(format!(
                        "the upload sent nothing for {} s; abandoned",
                        super::CHUNK_TIMEOUT.as_secs()
                    ))
                })??
                else {
                    break;
                };
                let Some(submit_chunk::Part::Data(data)) = chunk.part else {
                    return Err(Status::invalid_argument("a second header in the upload"));
                };
                got += data.len() as u64;
                if got > size {
                    return Err(Status::invalid_argument(format!(
                        "the upload is larger than the {size} bytes the header announced"
                    )));
                }
                ctx.update(&data);
                file.write_all(&data).await.map_err(io)?;
            }
            if got != size {
                return Err(Status::invalid_argument(format!(
                    "the upload has {got} bytes, the header announced {size}"
                )));
            }
            let actual = hex(ctx.finish().as_ref());
            if actual != sha {
                return Err(Status::invalid_argument(format!(
                    "the upload hashes to {actual}, the header announced {sha}"
                )));
            }
            file.sync_all().await.map_err(io)?;
            Ok(())
        }
        .await;
        match result {
            Ok(()) => tokio::fs::rename(&tmp, &final_path).await.map_err(io),
            Err(e) => {
                let _ = tokio::fs::remove_file(&tmp).await;
                Err(e)
            }
        }
    }

    /// A stored binary in chunks.
    pub(crate) async fn chunks(&self, sha: &str) -> Result<Vec<Vec<u8>>, Status> {
        if !valid_sha(sha) {
            return Err(Status::invalid_argument(
                "sha256 must be 64 lowercase hex digits",
            ));
        }
        let bytes = tokio::fs::read(self.dir.join(sha))
            .await
            .map_err(|e| Status::not_found(format!("no binary {sha}: {e}")))?;
        Ok(bytes.chunks(CHUNK).map(<[u8]>::to_vec).collect())
    }
}
