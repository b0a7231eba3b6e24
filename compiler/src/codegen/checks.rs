//! Compile-time assertions for what only rustc can know: that the Rust type a component
//! names really is a spout or bolt of the declared schemas, that imported tuple types
//! derive `gale::Tuple`, and that `fields(x)` names a field of an imported tuple.
//!
//! Each assertion is a constant named after the `.topo` location it checks
//! (`WORDCOUNT_TOPO_LINE_11_BOLT_SPLIT`), so rustc's error shows the line to fix.

use super::rust::{ident, path};
use crate::ast::{ComponentKind, Operator};
use crate::graph::{Graph, Grouping, Node};
use proc_macro2::TokenStream;
use quote::{format_ident, quote};

fn file_stem(graph: &Graph) -> String {
    let base = graph
        .file_name
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or(&graph.file_name);
    let stem: String = base
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    // A Rust identifier cannot start with a digit (`01-ingest.topo`).
    if stem.starts_with(|c: char| c.is_ascii_digit()) {
        format!("_{stem}")
    } else {
        stem
    }
}

fn out_type(c: &Node) -> TokenStream {
    match &c.output_type {
        Some(t) => {
            let t = ident(t);
            quote!(#t)
        }
        None => quote!(()),
    }
}

/// Every assertion of a topology.
pub fn assertions(graph: &Graph) -> TokenStream {
    let stem = file_stem(graph);
    let mut out = TokenStream::new();
    for c in &graph.components {
        let Operator::User(p) = &c.op else { continue };
        let ty = path(&p.text);
        let o = out_type(c);
        let (kind, check) = match (c.kind, &c.input) {
            (ComponentKind::Spout, _) => ("SPOUT", quote!(__gale::assert_spout::<#ty, #o>())),
            (ComponentKind::Bolt, Some(input)) => {
                let i = ident(input);
                ("BOLT", quote!(__gale::assert_bolt::<#ty, #i, #o>()))
            }
            (ComponentKind::Bolt, None) => continue,
        };
        let name = format_ident!(
            "{}_LINE_{}_{}_{}",
            stem,
            c.line,
            kind,
            c.name.to_ascii_uppercase()
        );
        out.extend(quote!(const #name: () = #check;));
    }
    // Imported (external) schemas must be tuples; their fields are checked here.
    let mut external: Vec<&str> = Vec::new();
    for c in &graph.components {
        for s in c.input.iter().chain(c.outputs.iter().map(|o| &o.schema)) {
            if graph.tuple(s).is_none() && !external.contains(&s.as_str()) {
                external.push(s);
            }
        }
    }
    for s in &external {
        let t = ident(s);
        let name = format_ident!("{}_TUPLE_{}", stem, s.to_ascii_uppercase());
        out.extend(quote!(const #name: () = __gale::assert_tuple::<#t>();));
    }
    for e in &graph.edges {
        let (Grouping::Fields(fields) | Grouping::PartialKey(fields)) = &e.grouping else {
            continue;
        };
        let schema = &graph.components[e.from].outputs[e.stream].schema;
        if graph.tuple(schema).is_some() {
            continue;
        }
        let t = ident(schema);
        for f in fields {
            let name = format_ident!("{}_LINE_{}_FIELD_{}", stem, e.line, f.to_ascii_uppercase());
            let msg = format!(
                "{}:{}:{}: the grouping names field `{f}`, but tuple `{schema}` has no such field",
                graph.file_name, e.line, e.column
            );
            out.extend(quote! {
                const #name: () = ::core::assert!(__gale::has_field(<#t as __gale::Tuple>::FIELDS, #f), #msg);
            });
        }
    }
    out
}
