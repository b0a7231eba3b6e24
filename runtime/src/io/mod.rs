//! Sources and sinks that keep the exactly-once promise: a text file read as lines, its
//! position in the checkpoints ([`FileSource`]); and part files written by two-phase
//! commit ([`FileSink`]). `.topo` files name them `file_source("path")` and
//! `file_sink("dir")`.

mod file_sink;
mod file_source;

pub use file_sink::FileSink;
pub use file_source::FileSource;

use crate::api::TaskContext;
use crate::topology::ConfigValue;

/// Why a path's `${key}` could not be filled in. None is retryable: the `.topo` file or
/// the command line must change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    /// A `${` without its `}`.
    #[error("`{path}`: a `${{` without its `}}`")]
    Unclosed {
        /// The path as written.
        path: String,
    },
    /// No config entry of that name.
    #[error(
        "`{path}`: no config entry `{key}` (add it to the config block, or pass `--set {key}=...`)"
    )]
    NoEntry {
        /// The path as written.
        path: String,
        /// The key.
        key: String,
    },
    /// The entry is not a string or a number.
    #[error("`{path}`: config `{key}` is not a string")]
    NotAString {
        /// The path as written.
        path: String,
        /// The key.
        key: String,
    },
}

/// `path` with every `${key}` replaced by config entry `key` (a string or a number; the
/// `.topo` config or `run --set key=value`), so that one binary reads and writes where it
/// is told: `file_source("${input}")`.
pub fn expand(path: &str, ctx: &TaskContext) -> Result<String, PathError> {
    let mut out = String::new();
    let mut rest = path;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after.find('}').ok_or_else(|| PathError::Unclosed {
            path: path.to_string(),
        })?;
        let key = &after[..end];
        match ctx.config(key) {
            Some(ConfigValue::Str(s)) => out.push_str(s),
            Some(ConfigValue::Int(n)) => out.push_str(&n.to_string()),
            Some(_) => {
                return Err(PathError::NotAString {
                    path: path.to_string(),
                    key: key.to_string(),
                });
            }
            None => {
                return Err(PathError::NoEntry {
                    path: path.to_string(),
                    key: key.to_string(),
                });
            }
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}
