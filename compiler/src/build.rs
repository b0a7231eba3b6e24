//! The `build.rs` API, in the style of `tonic-build`: compile `.topo` files into `OUT_DIR`.

use std::path::{Path, PathBuf};

/// Why a `.topo` file could not be compiled.
#[derive(Debug, thiserror::Error)]
pub enum CompileError {
    /// The file could not be read, or the output not written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file has errors; `rendered` shows each like rustc (file:line:col, caret, help).
    #[error("{rendered}")]
    Invalid {
        /// Every diagnostic, rendered.
        rendered: String,
        /// How many errors.
        count: usize,
    },
    /// `OUT_DIR` is not set: `compile` is meant to run from a build script.
    #[error("OUT_DIR is not set: call gale_compiler::compile from build.rs, or use compile_to")]
    NoOutDir,
}

/// Compiles a `.topo` file (a path relative to the package root) into
/// `$OUT_DIR/<topology>.rs`, and tells Cargo to rerun the build script only when it changes.
/// Returns the generated file's path.
pub fn compile(topo: impl AsRef<Path>) -> Result<PathBuf, CompileError> {
    let out_dir = std::env::var_os("OUT_DIR").ok_or(CompileError::NoOutDir)?;
    let topo = topo.as_ref();
    println!("cargo::rerun-if-changed={}", topo.display());
    let (out, warnings) = compile_inner(topo, out_dir.as_ref())?;
    // Cargo shows each `cargo::warning` line as `warning: <package>@<version>: <line>`.
    for line in warnings.lines() {
        println!("cargo::warning={line}");
    }
    Ok(out)
}

/// [`compile`], printing the errors like rustc and exiting the build script on failure.
pub fn compile_or_exit(topo: impl AsRef<Path>) -> PathBuf {
    match compile(topo) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    }
}

/// [`compile`], after checking the `.topo` file against the savepoint in `savepoint` (a
/// directory `savepoint --dir` wrote): an operator whose state the savepoint holds in
/// another shape (`E0701`), or state no operator would take (`E0702`), fails the build at
/// that operator's `.topo` line, before anything is deployed.
pub fn compile_against_savepoint(
    topo: impl AsRef<Path>,
    savepoint: impl AsRef<Path>,
) -> Result<PathBuf, CompileError> {
    let topo = topo.as_ref();
    let savepoint = savepoint.as_ref();
    println!("cargo::rerun-if-changed={}", savepoint.display());
    let source = std::fs::read_to_string(topo).map_err(|source| CompileError::Io {
        path: topo.to_path_buf(),
        source,
    })?;
    let file_name = topo.to_string_lossy().replace('\\', "/");
    crate::savepoint::check_savepoint(&file_name, &source, savepoint).map_err(|d| {
        CompileError::Invalid {
            rendered: d.render(&file_name, &source),
            count: d.error_count(),
        }
    })?;
    compile(topo)
}

/// Compiles a `.topo` file into `out_dir/<topology>.rs`.
pub fn compile_to(
    topo: impl AsRef<Path>,
    out_dir: impl AsRef<Path>,
) -> Result<PathBuf, CompileError> {
    compile_inner(topo.as_ref(), out_dir.as_ref()).map(|(out, _)| out)
}

/// [`compile_to`], also returning the warnings, rendered (empty when there are none).
fn compile_inner(topo: &Path, out_dir: &Path) -> Result<(PathBuf, String), CompileError> {
    let source = std::fs::read_to_string(topo).map_err(|source| CompileError::Io {
        path: topo.to_path_buf(),
        source,
    })?;
    let file_name = topo.to_string_lossy().replace('\\', "/");
    let graph = crate::front_end(&file_name, &source).map_err(|d| CompileError::Invalid {
        rendered: d.render(&file_name, &source),
        count: d.error_count(),
    })?;
    let warnings = if graph.warnings.is_empty() {
        String::new()
    } else {
        graph.warnings.render(&file_name, &source)
    };
    let plan = crate::plan::plan(&graph);
    let code = crate::codegen::generate(&graph, &plan);
    let out = out_dir.join(format!("{}.rs", graph.name));
    // Leave the file untouched when nothing changed, so rustc's inputs keep their mtime.
    if std::fs::read_to_string(&out).ok().as_deref() != Some(code.as_str()) {
        std::fs::write(&out, code).map_err(|source| CompileError::Io {
            path: out.clone(),
            source,
        })?;
    }
    Ok((out, warnings))
}
