//! # gale-compiler
//!
//! Turns a `.topo` file into Rust:
//!
//! ```text
//! .topo text ──parse──▶ ast::File ──check──▶ graph::Graph ──plan──▶ plan::Plan ──codegen──▶ Rust
//! ```
//!
//! Use it from `build.rs` like `tonic-build`:
//!
//! ```text
//! // build.rs
//! fn main() {
//!     gale_compiler::compile_or_exit("topologies/wordcount.topo");
//! }
//! ```
//!
//! and pull the result in with `gale::include_topology!("wordcount")`.

pub mod ast;
mod build;
pub mod check;
pub mod codegen;
pub mod diagnostic;
pub mod graph;
pub mod ops;
pub mod parse;
pub mod plan;
pub mod savepoint;

pub use build::{CompileError, compile, compile_against_savepoint, compile_or_exit, compile_to};
pub use diagnostic::{Diagnostic, Diagnostics};

/// The whole pipeline on one source text: parse, check, plan, generate.
///
/// Returns the formatted Rust module, or every diagnostic found.
pub fn compile_str(file_name: &str, source: &str) -> Result<String, Diagnostics> {
    let graph = front_end(file_name, source)?;
    let plan = plan::plan(&graph);
    Ok(codegen::generate(&graph, &plan))
}

/// Parse and check: the front end shared by `build.rs` and the `topology!` macro.
pub fn front_end(file_name: &str, source: &str) -> Result<graph::Graph, Diagnostics> {
    let file = parse::parse(source)?;
    check::check(&file, source, file_name)
}
