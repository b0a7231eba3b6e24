//! Points the generated assertions at the macro input they check.
//!
//! Codegen names each compile-time check after the line it checks (the gate
//! `main_rs_line_12_bolt_avg` and its module of the same name, the constant
//! `TOPOLOGY__LINE_14_FIELD_SENSOR`), which is what a user reads in a generated file. Inside
//! a macro rustc shows no generated code, only a span, so each such item is given the span
//! of the code it is about: the operator of a component (`Average` in
//! `bolt avg = Average(Reading)`), the field named by a `fields(x)` grouping. rustc then
//! underlines that token instead of the whole macro call.

use crate::source_text::SourceText;
use gale_compiler::graph::Graph;
use proc_macro2::{Delimiter, Group, Span, TokenStream, TokenTree};

/// `tokens` with every `const *_LINE_<n>_*: ... ;`, `fn *_line_<n>_* ... { }` and
/// `mod *_line_<n>_* { }` item spanned at its source.
pub(crate) fn point_assertions_at_source(
    tokens: TokenStream,
    graph: &Graph,
    source: &SourceText,
) -> TokenStream {
    let anchor = |name: &str| anchor(name, graph, source);
    respan_stream(tokens, &anchor)
}

/// Where the check item `name` should point, if it names a line.
fn anchor(name: &str, graph: &Graph, source: &SourceText) -> Option<Span> {
    let (_, after) = name
        .split_once("_LINE_")
        .or_else(|| name.split_once("_line_"))?;
    let digits = after.find(|c: char| !c.is_ascii_digit())?;
    let line: usize = after[..digits].parse().ok()?;
    let what = &after[digits..];
    if let Some(field) = what.strip_prefix("_FIELD_") {
        return source.last_on_line(line, |t| t.eq_ignore_ascii_case(field));
    }
    // `_bolt_avg`: the component of that kind and name on that line.
    let component = graph
        .components
        .iter()
        .filter(|c| c.line == line)
        .find(|c| {
            what.strip_prefix("_spout_")
                .or_else(|| what.strip_prefix("_bolt_"))
                .is_some_and(|n| n == c.name)
        })
        .or_else(|| graph.components.iter().find(|c| c.line == line))?;
    source.span_at(component.op.span().start)
}

/// How a check item ends.
#[derive(Clone, Copy, PartialEq, Eq)]
enum End {
    /// `const X: () = ...;`
    Semicolon,
    /// `fn x() -> T { ... }`, `mod x { ... }`
    Body,
}

fn respan_stream(tokens: TokenStream, anchor: &impl Fn(&str) -> Option<Span>) -> TokenStream {
    let mut out = Vec::new();
    let mut target: Option<(Span, End)> = None;
    let mut iter = tokens.into_iter().peekable();
    while let Some(tree) = iter.next() {
        if target.is_none()
            && let TokenTree::Ident(i) = &tree
            && let Some(TokenTree::Ident(name)) = iter.peek()
        {
            let end = match i.to_string().as_str() {
                "const" => Some(End::Semicolon),
                "fn" | "mod" => Some(End::Body),
                _ => None,
            };
            target = end.and_then(|end| anchor(&name.to_string()).map(|span| (span, end)));
        }
        let tree = match (target, tree) {
            (Some((span, end)), tree) => {
                let done = match (&tree, end) {
                    (TokenTree::Punct(p), End::Semicolon) => p.as_char() == ';',
                    (TokenTree::Group(g), End::Body) => g.delimiter() == Delimiter::Brace,
                    _ => false,
                };
                let tree = set_span(tree, span);
                if done {
                    target = None;
                }
                tree
            }
            (None, TokenTree::Group(g)) => {
                let mut inner = Group::new(g.delimiter(), respan_stream(g.stream(), anchor));
                inner.set_span(g.span());
                TokenTree::Group(inner)
            }
            (None, tree) => tree,
        };
        out.push(tree);
    }
    out.into_iter().collect()
}

/// The token (and everything inside it) at `span`.
fn set_span(tree: TokenTree, span: Span) -> TokenTree {
    match tree {
        TokenTree::Group(g) => {
            let stream = g.stream().into_iter().map(|t| set_span(t, span)).collect();
            let mut inner = Group::new(g.delimiter(), stream);
            inner.set_span(span);
            TokenTree::Group(inner)
        }
        mut tree => {
            tree.set_span(span);
            tree
        }
    }
}
