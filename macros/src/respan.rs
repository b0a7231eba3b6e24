//! Points the generated assertions at the macro input they check.
//!
//! Codegen names each compile-time assertion after the line it checks
//! (`TOPOLOGY__LINE_12_BOLT_AVG`), which is what a user reads in a generated file. Inside a
//! macro rustc shows no generated code, only a span, so each such constant is given the span
//! of the code it is about: the operator of a component (`Average` in
//! `bolt avg = Average(Reading)`), the field named by a `fields(x)` grouping. rustc then
//! underlines that token instead of the whole macro call.

use crate::source_text::SourceText;
use gale_compiler::graph::Graph;
use proc_macro2::{Group, Span, TokenStream, TokenTree};

/// `tokens` with every `const *_LINE_<n>_*: ... ;` item spanned at its source.
pub(crate) fn point_assertions_at_source(
    tokens: TokenStream,
    graph: &Graph,
    source: &SourceText,
) -> TokenStream {
    let anchor = |name: &str| anchor(name, graph, source);
    respan_stream(tokens, &anchor)
}

/// Where the assertion constant `name` should point, if it names a line.
fn anchor(name: &str, graph: &Graph, source: &SourceText) -> Option<Span> {
    let (_, after) = name.split_once("_LINE_")?;
    let digits = after.find(|c: char| !c.is_ascii_digit())?;
    let line: usize = after[..digits].parse().ok()?;
    let what = &after[digits..];
    if let Some(field) = what.strip_prefix("_FIELD_") {
        return source.last_on_line(line, |t| t.eq_ignore_ascii_case(field));
    }
    let component = graph.components.iter().find(|c| c.line == line)?;
    source.span_at(component.op.path().span.start)
}

fn respan_stream(tokens: TokenStream, anchor: &impl Fn(&str) -> Option<Span>) -> TokenStream {
    let mut out = Vec::new();
    let mut target: Option<Span> = None;
    let mut iter = tokens.into_iter().peekable();
    while let Some(tree) = iter.next() {
        if target.is_none()
            && matches!(&tree, TokenTree::Ident(i) if i == "const")
            && let Some(TokenTree::Ident(name)) = iter.peek()
        {
            target = anchor(&name.to_string());
        }
        let tree = match (target, tree) {
            (Some(span), tree) => {
                let end = matches!(&tree, TokenTree::Punct(p) if p.as_char() == ';');
                let tree = set_span(tree, span);
                if end {
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
