//! `topology! { ... }`: the `.topo` language inline, through the compiler's own pipeline.
//!
//! The tokens become source text ([`SourceText`]), the text goes through
//! `gale_compiler::front_end` (parse and check, exactly as for a `.topo` file), and either
//! the diagnostics come back as `compile_error!`s at the offending tokens, or the plan and
//! codegen produce the same module `build.rs` would write, its assertions pointed at the
//! input they check ([`point_assertions_at_source`]).

use crate::diagnostics::{compile_errors, warnings};
use crate::respan::point_assertions_at_source;
use crate::source_text::SourceText;
use gale_compiler::{codegen, front_end, plan};
use proc_macro2::TokenStream;

/// The name the compiler gives the input when the macro's file is unknown.
const FILE_NAME: &str = "topology!";

/// The file the macro is called from (`src/main.rs`), for the messages of the checks that
/// rustc runs (`src/main.rs:12: bolt `avg`: ...`): its line numbers are the file's.
fn file_name() -> String {
    let file = proc_macro2::Span::call_site().file();
    if file.is_empty() || file.starts_with('<') {
        FILE_NAME.to_string()
    } else {
        file.replace('\\', "/")
    }
}

/// The generated `pub mod <name> { ... }`, or the diagnostics.
pub(crate) fn expand(input: TokenStream) -> TokenStream {
    let source = SourceText::from_tokens(input);
    match front_end(&file_name(), &source.text) {
        Ok(graph) => {
            let tokens = codegen::generate_tokens(&graph, &plan::plan(&graph));
            let mut tokens = point_assertions_at_source(tokens, &graph, &source);
            tokens.extend(warnings(&graph.warnings, &source));
            tokens
        }
        Err(diags) => compile_errors(&diags, &source),
    }
}
