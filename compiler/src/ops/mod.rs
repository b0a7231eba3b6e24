//! The built-in operators, one file each (as Hydro's `graph/ops/`): what a built-in takes
//! (its arguments, checked with spans), what it outputs, and the Rust that builds it. The
//! runtime half of each is the file of the same name in `gale::ops`; the four windows
//! (`tumbling.rs`, `sliding.rs`, `session.rs`, `count_window.rs` here, each a kind of
//! `window.rs`) share one, `gale::ops::window`, their assigners being
//! `gale::window::Assigner`. Adding a built-in
//! touches its two files, [`ALL`] and the `builtin_kw` keywords of `grammar/topo.pest`
//! (a test keeps those two lists equal).

mod count_window;
mod file_sink;
mod file_source;
mod filter;
mod flat_map;
mod function;
mod interval_join;
pub mod join;
mod map;
mod process;
mod session;
mod sliding;
mod transactional;
mod tumbling;
pub mod window;
mod window_join;

use crate::ast::{BuiltinCall, OpArg, RustPath};
use crate::diagnostic::{Diagnostic, Diagnostics};
use proc_macro2::TokenStream;

/// What a built-in outputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outputs {
    /// The schema written after `->` (required).
    Declared,
    /// Its input schema (`-> Schema`, if written, must be the input's).
    Input,
    /// The schema after `->`, or nothing (a sink).
    Optional,
    /// Nothing: it is a sink (`-> Schema` is `E0429`).
    Nothing,
}

/// Where a built-in is built: what the generated code knows around it.
pub struct Site {
    /// Its input tuple type.
    pub input: TokenStream,
    /// Its output type (`()` for a sink).
    pub out: TokenStream,
    /// When every input edge is `fields(...)` by the same fields: a closure taking an
    /// input tuple to its key (`|t: &Word| t.word.clone()`).
    pub key: Option<TokenStream>,
    /// Those fields (empty when the input is not keyed).
    pub key_fields: Vec<String>,
    /// The event time of an input tuple (`|t: &Click| t.at`), when a `timestamp(field)`
    /// upstream gives one.
    pub timestamp: Option<TokenStream>,
    /// `lateness D`, in ms.
    pub lateness_ms: u64,
    /// `ttl D`, in ms: the keyed state's time to live.
    pub ttl_ms: Option<u64>,
    /// The output schema's fields, in order (empty when unknown: an imported type).
    pub out_fields: Vec<String>,
    /// When the input is a stream set: its enum's variants, in order (else empty).
    pub input_variants: Vec<String>,
}

/// `op`, with its keyed state's time to live when the component has a `ttl`.
fn with_ttl(op: TokenStream, site: &Site) -> TokenStream {
    match site.ttl_ms {
        Some(ms) => quote::quote!(#op.with_ttl(#ms)),
        None => op,
    }
}

/// A built-in operator.
pub trait Builtin: Sync {
    /// Its keyword in a `.topo` file.
    fn name(&self) -> &'static str;
    /// How it is written, for messages: `map(f)`.
    fn usage(&self) -> &'static str;
    /// What it outputs.
    fn outputs(&self) -> Outputs;
    /// Checks the arguments of `call` (`E0416`).
    fn check(&self, call: &BuiltinCall, diags: &mut Diagnostics);
    /// Whether it is a source: declared as a `spout` (every other built-in is a bolt).
    fn is_source(&self) -> bool {
        false
    }
    /// Whether, ending an `exactly_once` topology, its writes would repeat after a restart
    /// (`E0508`): true for one that runs user code (`process`); false for pure functions
    /// and for the transactional sinks.
    fn writes_outside(&self) -> bool {
        false
    }
    /// Whether its input must be keyed one way: every input edge `fields(...)` by the same
    /// fields, or none (`E0418` otherwise).
    fn keys_its_input(&self) -> bool {
        false
    }
    /// The window it is, if it is one (its call already checked).
    fn window(&self, call: &BuiltinCall) -> Option<window::WindowCall> {
        let _ = call;
        None
    }
    /// Whether it has a `late` stream, of its input schema, for tuples later than its
    /// allowed lateness (windows and joins do).
    fn late_stream(&self, call: &BuiltinCall) -> bool {
        self.window(call).is_some()
    }
    /// The join it is, if it is one (its call already checked).
    fn join(&self, call: &BuiltinCall) -> Option<join::JoinCall> {
        let _ = call;
        None
    }
    /// The Rust expression that builds it (a `gale::Bolt`) at `site`; only called on a
    /// call [`Builtin::check`] accepted.
    fn construct(&self, call: &BuiltinCall, site: &Site) -> TokenStream;
}

/// Every built-in.
pub const ALL: &[&dyn Builtin] = &[
    &map::MAP,
    &filter::FILTER,
    &flat_map::FLAT_MAP,
    &process::Process,
    &tumbling::TUMBLING,
    &sliding::SLIDING,
    &session::SESSION,
    &count_window::COUNT_WINDOW,
    &window_join::WINDOW_JOIN,
    &interval_join::INTERVAL_JOIN,
    &transactional::Transactional,
    &file_sink::FileSink,
    &file_source::FileSource,
];

/// The built-in called `name`.
pub fn find(name: &str) -> Option<&'static dyn Builtin> {
    ALL.iter().copied().find(|b| b.name() == name)
}

/// The one argument of `call`, a Rust function; `E0416` otherwise.
pub(crate) fn one_function<'a>(
    op: &dyn Builtin,
    call: &'a BuiltinCall,
    diags: &mut Diagnostics,
) -> Option<&'a RustPath> {
    match call.args.as_slice() {
        [OpArg::Path(p)] => Some(p),
        [] => {
            diags.push(
                bad_args(
                    op,
                    call,
                    "takes a Rust function, and none is given".into(),
                    call.span,
                )
                .with_label("no function"),
            );
            None
        }
        [other] => {
            diags.push(
                bad_args(
                    op,
                    call,
                    format!("takes a Rust function, found {}", other.kind()),
                    other.span(),
                )
                .with_label("not a function path"),
            );
            None
        }
        [_, extra, ..] => {
            diags.push(
                bad_args(
                    op,
                    call,
                    format!("takes one argument, found {}", call.args.len()),
                    extra.span(),
                )
                .with_label("one argument too many"),
            );
            None
        }
    }
}

/// The one argument of `call`, a string; `E0416` otherwise.
pub(crate) fn one_string<'a>(
    op: &dyn Builtin,
    call: &'a BuiltinCall,
    what: &str,
    diags: &mut Diagnostics,
) -> Option<&'a str> {
    let (msg, span, label) = match call.args.as_slice() {
        [OpArg::Str { value, .. }] => return Some(value),
        [] => (
            format!("takes {what}, and none is given"),
            call.span,
            "no string",
        ),
        [other] => (
            format!("takes {what}, found {}", other.kind()),
            other.span(),
            "not a string",
        ),
        [_, extra, ..] => (
            format!("takes one argument, found {}", call.args.len()),
            extra.span(),
            "one argument too many",
        ),
    };
    diags.push(bad_args(op, call, msg, span).with_label(label));
    None
}

/// The string argument of an accepted one-string call (`file_source("x")`).
pub(crate) fn string_arg(call: &BuiltinCall) -> String {
    match call.args.first() {
        Some(OpArg::Str { value, .. }) => value.clone(),
        _ => String::new(),
    }
}

/// `E0416`: the arguments of a built-in are wrong.
pub(crate) fn bad_args(
    op: &dyn Builtin,
    call: &BuiltinCall,
    what: String,
    span: crate::ast::Span,
) -> Diagnostic {
    Diagnostic::error("E0416", format!("`{}` {what}", call.name.name), span)
        .with_help(format!("write it `{}`", op.usage()))
}

/// The function argument of an accepted one-function call.
pub(crate) fn function_tokens(call: &BuiltinCall) -> TokenStream {
    match call.args.first() {
        Some(OpArg::Path(p)) => crate::codegen::rust::path(&p.text),
        _ => quote::quote!(::core::compile_error!("a built-in without its function")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_grammar_lists_every_builtin_and_no_other() {
        let grammar = include_str!("../../../grammar/topo.pest");
        let line = grammar
            .lines()
            .find(|l| l.starts_with("builtin_kw"))
            .expect("builtin_kw rule");
        let mut listed: Vec<&str> = line.split('"').skip(1).step_by(2).collect();
        let mut table: Vec<&str> = ALL.iter().map(|b| b.name()).collect();
        listed.sort_unstable();
        table.sort_unstable();
        assert_eq!(listed, table);
    }
}
