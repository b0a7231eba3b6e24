//! A throwaway user crate outside the workspace, as a new user would write one: a
//! `Cargo.toml` with path dependencies on the workspace's crates, files, and `cargo`.
//!
//! Every such crate builds into one shared target directory (`target/user-crates` in the
//! workspace), so only the first build compiles Gale and its dependencies.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A crate in a temporary directory, removed on drop.
pub struct UserCrate {
    dir: PathBuf,
}

/// The workspace root (this crate's parent directory).
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from(".."), Path::to_path_buf)
}

/// The `Cargo.toml` dependency lines that point at the workspace's crates.
pub fn path_dependencies() -> String {
    let root = workspace();
    format!(
        "[dependencies]\ngale = {{ path = {:?} }}\n\n[build-dependencies]\ngale-compiler = {{ path = {:?} }}\n",
        root.join("runtime"),
        root.join("compiler"),
    )
}

impl UserCrate {
    /// An empty crate directory named after `name` (and this process).
    pub fn new(name: &str) -> std::io::Result<Self> {
        let dir = std::env::temp_dir().join(format!("gale-user-{name}-{}", std::process::id()));
        if dir.exists() {
            std::fs::remove_dir_all(&dir)?;
        }
        std::fs::create_dir_all(&dir)?;
        Ok(UserCrate { dir })
    }

    /// The crate's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Writes `text` to `path` (relative to the crate), creating directories.
    pub fn file(&self, path: &str, text: &str) -> std::io::Result<()> {
        let path = self.dir.join(path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(path, text)
    }

    /// Runs `cargo <args>` in the crate, with the shared target directory.
    pub fn cargo(&self, args: &[&str]) -> std::io::Result<Output> {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        Command::new(cargo)
            .args(args)
            .current_dir(&self.dir)
            .env("CARGO_TARGET_DIR", workspace().join("target/user-crates"))
            .env("CARGO_TERM_COLOR", "never")
            // What the workspace's own profile says (line tables only): the shared target
            // directory stays small on a CI machine's disk.
            .env("CARGO_PROFILE_DEV_DEBUG", "line-tables-only")
            .env_remove("RUSTFLAGS")
            .output()
    }
}

impl Drop for UserCrate {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
