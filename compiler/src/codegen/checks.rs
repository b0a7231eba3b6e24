//! Compile-time assertions for what only rustc can know about schemas: that imported tuple
//! types derive `gale::Tuple`, and that `fields(x)` names a field of an imported tuple.
//! (That a component's Rust type is a spout or bolt of the declared schemas is checked by
//! its gate, in `operators`.)
//!
//! Each assertion is a constant named after the `.topo` location it checks
//! (`WORDCOUNT_TOPO_LINE_11_BOLT_SPLIT`), so rustc's error shows the line to fix.

use super::rust::ident;
use crate::graph::{Graph, Grouping};
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

/// Every assertion of a topology.
pub fn assertions(graph: &Graph) -> TokenStream {
    let stem = file_stem(graph);
    let mut out = TokenStream::new();
    // Imported (external) schemas must be tuples; their fields are checked here.
    let mut external: Vec<&str> = Vec::new();
    for c in &graph.components {
        for s in c.input.iter().chain(c.outputs.iter().map(|o| &o.schema)) {
            let declared =
                graph.tuple(s).is_some() || graph.stream_sets.iter().any(|set| set.name == *s);
            if !declared && !external.contains(&s.as_str()) {
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
