//! Tuple schemas and stream sets: every field type and stream type must name a tuple
//! (`E0201`, `E0202`), names inside one declaration are unique (`E0105`, `E0106`), a
//! tuple may not contain itself except through a `Vec` (`E0204`), and a stream set has at
//! least one stream (`E0205`).

use super::scope::{Scope, TypeDef, rust_keyword};
use super::suggest::upper_camel;
use crate::ast::{File, Ident, StreamDecl, TupleDecl, Type, TypeKind};
use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::graph::{OutStream, StreamSet, TupleSchema};
use std::collections::HashMap;

/// Checks every `tuple` declaration and returns the schemas, in declaration order.
pub(crate) fn check_tuples(
    file: &File,
    scope: &Scope<'_>,
    diags: &mut Diagnostics,
) -> Vec<TupleSchema> {
    for t in &file.tuples {
        let mut seen: HashMap<&str, &Ident> = HashMap::new();
        for f in &t.fields {
            rust_keyword(&f.name, "field", diags);
            if let Some(first) = seen.insert(&f.name.name, &f.name) {
                diags.push(
                    Diagnostic::error(
                        "E0105",
                        format!(
                            "field `{}` is declared twice in tuple `{}`",
                            f.name.name, t.name.name
                        ),
                        f.name.span,
                    )
                    .with_label("declared again here")
                    .with_note(first.span, "first declared here"),
                );
            }
            check_type(&f.ty, scope, diags);
        }
    }
    recursion(file, diags);
    file.tuples
        .iter()
        .map(|t| TupleSchema {
            name: t.name.name.clone(),
            fields: t
                .fields
                .iter()
                .map(|f| (f.name.name.clone(), f.ty.clone()))
                .collect(),
        })
        .collect()
}

/// Checks a field type: named types must be tuples (declared or imported).
fn check_type(ty: &Type, scope: &Scope<'_>, diags: &mut Diagnostics) {
    match &ty.kind {
        TypeKind::Option(inner) | TypeKind::Vec(inner) => check_type(inner, scope, diags),
        TypeKind::Named(name) => schema(name, scope, diags),
        TypeKind::Prim(_) | TypeKind::String | TypeKind::Str | TypeKind::Bytes => {}
    }
}

/// Requires `name` to be a tuple schema: declared with `tuple` or imported.
pub(crate) fn schema(name: &Ident, scope: &Scope<'_>, diags: &mut Diagnostics) {
    match scope.resolve(&name.name) {
        Some(TypeDef::Tuple(_) | TypeDef::External) => {}
        Some(TypeDef::Set(set)) => diags.push(
            Diagnostic::error(
                "E0202",
                format!("`{}` is a stream set, not a tuple", name.name),
                name.span,
            )
            .with_label("expected a tuple")
            .with_note(set.name.span, "stream set declared here")
            .with_help("a stream set is a component's output (`-> Routed`) or a bolt's input (`Join(Routed)`), not a field or a stream"),
        ),
        None => scope.unknown(name, diags),
    }
}

/// Checks every `streams` declaration and returns the sets, in declaration order.
pub(crate) fn check_stream_sets(
    file: &File,
    scope: &Scope<'_>,
    diags: &mut Diagnostics,
) -> Vec<StreamSet> {
    let mut sets = Vec::new();
    for set in &file.stream_sets {
        if set.streams.is_empty() {
            diags.push(
                Diagnostic::error(
                    "E0205",
                    format!("stream set `{}` has no streams", set.name.name),
                    set.name.span,
                )
                .with_label("empty stream set")
                .with_help(
                    "declare its streams: `streams Name { normal: Schema, alerts: Schema }`",
                ),
            );
        }
        let mut seen: HashMap<String, &Ident> = HashMap::new();
        for s in &set.streams {
            let variant = upper_camel(&s.name.name);
            if let Some(first) = seen.insert(variant.clone(), &s.name) {
                let message = if first.name == s.name.name {
                    format!(
                        "stream `{}` is declared twice in `{}`",
                        s.name.name, set.name.name
                    )
                } else {
                    format!(
                        "streams `{}` and `{}` would both become the variant `{}::{variant}`",
                        first.name, s.name.name, set.name.name
                    )
                };
                diags.push(
                    Diagnostic::error("E0106", message, s.name.span)
                        .with_label("declared again here")
                        .with_note(first.span, "first declared here"),
                );
            }
            schema(&s.ty, scope, diags);
        }
        sets.push(StreamSet {
            name: set.name.name.clone(),
            streams: set.streams.iter().map(out_stream).collect(),
        });
    }
    sets
}

/// Reports tuples that contain themselves other than through a `Vec` (infinite size).
fn recursion(file: &File, diags: &mut Diagnostics) {
    let by_name: HashMap<&str, &TupleDecl> = file
        .tuples
        .iter()
        .map(|t| (t.name.name.as_str(), t))
        .collect();
    let mut reported: Vec<&str> = Vec::new();
    for t in &file.tuples {
        if reported.contains(&t.name.name.as_str()) {
            continue;
        }
        let mut path = vec![t.name.name.as_str()];
        if let Some(field_span) = contains(t, &t.name.name, &by_name, &mut path) {
            path.push(&t.name.name);
            reported.extend(path.iter().copied());
            diags.push(
                Diagnostic::error(
                    "E0204",
                    format!(
                        "tuple `{}` contains itself: {}",
                        t.name.name,
                        path.join(" -> ")
                    ),
                    field_span,
                )
                .with_label("this field makes the tuple infinitely large")
                .with_help("wrap the field's type in `Vec<...>`"),
            );
        }
    }
}

/// Whether `t` contains `target` directly or through `Option`; returns the span of the
/// field of `t` that leads there and extends `path` with the tuples on the way.
fn contains<'a>(
    t: &'a TupleDecl,
    target: &str,
    by_name: &HashMap<&str, &'a TupleDecl>,
    path: &mut Vec<&'a str>,
) -> Option<crate::ast::Span> {
    for f in &t.fields {
        let Some(name) = held(&f.ty) else { continue };
        if name == target {
            return Some(f.ty.span);
        }
        if path.contains(&name) {
            continue;
        }
        if let Some(inner) = by_name.get(name) {
            path.push(name);
            if contains(inner, target, by_name, path).is_some() {
                return Some(f.ty.span);
            }
            path.pop();
        }
    }
    None
}

/// The tuple a field holds inline (directly or in an `Option`), if any.
fn held(ty: &Type) -> Option<&str> {
    match &ty.kind {
        TypeKind::Named(n) => Some(&n.name),
        TypeKind::Option(inner) => held(inner),
        _ => None,
    }
}

/// The output stream a stream-set member declares; its enum variant is its name in
/// UpperCamelCase.
pub(super) fn out_stream(s: &StreamDecl) -> OutStream {
    OutStream {
        name: s.name.name.clone(),
        schema: s.ty.name.clone(),
        direct: s.direct,
        variant: Some(upper_camel(&s.name.name)),
    }
}
