//! What a window's aggregation reads and gives: `sum(f)`, `min(f)`, `max(f)` and `avg(f)`
//! read a numeric field of the input (`E0426`: no such field, not a number, or an input that
//! is a stream set and so has no fields), and the result field of the output schema has the
//! aggregate's type (`E0423`: `count` gives `u64`, `avg` `f64`, `sum`/`min`/`max` the
//! field's own type).
//!
//! Only schemas declared in the file are checked here; rustc checks imported ones.

use super::components::Checked;
use super::scope::{Scope, TypeDef};
use super::suggest::{list, similar};
use crate::ast::{Prim, TypeKind};
use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::ops::window::{Aggregation, WindowCall};

/// Checks the aggregation of window `c` (keyed by `key`).
pub(crate) fn check(
    c: &Checked<'_>,
    w: &WindowCall,
    key: &[String],
    scope: &Scope<'_>,
    diags: &mut Diagnostics,
) {
    let field_type = match w.aggregation.field() {
        Some(field) => match read_field(c, &w.aggregation, field, scope, diags) {
            Some(t) => Some(t),
            None => return,
        },
        None => None,
    };
    let want = match (&w.aggregation, field_type) {
        (Aggregation::Count, _) => TypeKind::Prim(Prim::U64),
        (Aggregation::Avg(_), _) => TypeKind::Prim(Prim::F64),
        (Aggregation::Sum(_) | Aggregation::Min(_) | Aggregation::Max(_), Some(t)) => t.clone(),
        _ => return,
    };
    result_type(c, &w.aggregation, &want, key, scope, diags);
}

/// The name of the aggregation (`sum`).
fn name(a: &Aggregation) -> &'static str {
    match a {
        Aggregation::Count => "count",
        Aggregation::Sum(_) => "sum",
        Aggregation::Min(_) => "min",
        Aggregation::Max(_) => "max",
        Aggregation::Avg(_) => "avg",
        Aggregation::Reduce(_) => "reduce",
        Aggregation::Aggregate(_) => "aggregate",
        Aggregation::Apply(_) => "apply",
    }
}

/// The type of the field `sum(f)` (and the others) reads, if it is one they can aggregate;
/// `None` after reporting, or for an imported schema.
fn read_field<'a>(
    c: &Checked<'_>,
    a: &Aggregation,
    field: &crate::ast::RustPath,
    scope: &Scope<'a>,
    diags: &mut Diagnostics,
) -> Option<&'a TypeKind> {
    let input = c.node.input.as_deref()?;
    let agg = name(a);
    let decl = match scope.resolve(input)? {
        TypeDef::Set(_) => {
            diags.push(
                Diagnostic::error(
                    "E0426",
                    format!(
                        "`{agg}({})` over the stream set `{input}`, which has no fields",
                        field.text
                    ),
                    field.span,
                )
                .with_label(format!("`{input}` is a stream set"))
                .with_help(
                    "aggregate a set's tuples with `count`, `reduce(f)`, `aggregate(T)` or \
                     `apply(T)`, or `map` each stream to one schema before the window",
                ),
            );
            return None;
        }
        TypeDef::Tuple(t) => &t.fields,
        TypeDef::External => return None,
    };
    let known = || decl.iter().map(|f| f.name.name.as_str());
    let Some(f) = decl.iter().find(|f| f.name.name == field.text) else {
        let help = match similar(&field.text, known()) {
            Some(close) => format!(
                "did you mean `{close}`? `{input}` has the fields {}",
                list(known())
            ),
            None if decl.is_empty() => format!("`{input}` has no fields"),
            None => format!("`{input}` has the fields {}", list(known())),
        };
        diags.push(
            Diagnostic::error(
                "E0426",
                format!(
                    "`{agg}({})`: tuple `{input}` has no field `{}`",
                    field.text, field.text
                ),
                field.span,
            )
            .with_label("unknown field")
            .with_help(help),
        );
        return None;
    };
    let numeric = match &f.ty.kind {
        TypeKind::Prim(Prim::Bool) => matches!(a, Aggregation::Min(_) | Aggregation::Max(_)),
        TypeKind::Prim(_) => true,
        // An imported type may be a number of the user's; rustc checks it.
        TypeKind::Named(n) => !matches!(
            scope.resolve(&n.name),
            Some(TypeDef::Tuple(_) | TypeDef::Set(_))
        ),
        TypeKind::String
        | TypeKind::Str
        | TypeKind::Bytes
        | TypeKind::Option(_)
        | TypeKind::Vec(_) => false,
    };
    if !numeric {
        let wanted = match a {
            Aggregation::Min(_) | Aggregation::Max(_) => "a number or a `bool`",
            _ => "an integer or a float",
        };
        diags.push(
            Diagnostic::error(
                "E0426",
                format!(
                    "`{agg}({})` aggregates a `{}`, which is not a number",
                    field.text, f.ty.kind
                ),
                field.span,
            )
            .with_label(format!("`{input}.{}` is a `{}`", field.text, f.ty.kind))
            .with_help(format!(
                "`{agg}` reads {wanted}; for anything else, write an `aggregate(T)` with your own `gale::state::AggregateFunction`"
            )),
        );
        return None;
    }
    Some(&f.ty.kind)
}

/// `E0423`: the one result field of the output schema (besides the key and the bounds) has
/// the type the aggregate gives. A schema without exactly one is reported elsewhere.
fn result_type(
    c: &Checked<'_>,
    a: &Aggregation,
    want: &TypeKind,
    key: &[String],
    scope: &Scope<'_>,
    diags: &mut Diagnostics,
) {
    let Some(out) = c.decl.output.as_ref() else {
        return;
    };
    let schema = out.ty.name.as_str();
    let Some(fields) = scope.fields(schema) else {
        return;
    };
    let results: Vec<_> = fields
        .iter()
        .filter(|f| {
            let n = f.name.name.as_str();
            !key.iter().any(|k| k == n) && n != "start" && n != "end"
        })
        .collect();
    let [result] = results.as_slice() else {
        return;
    };
    // By spelling: a named type's span is not part of its identity.
    if result.ty.kind.to_string() == want.to_string() {
        return;
    }
    let agg = match a.field() {
        Some(f) => format!("{}({})", name(a), f.text),
        None => name(a).to_string(),
    };
    diags.push(
        Diagnostic::error(
            "E0423",
            format!(
                "`{agg}` gives a `{want}`, but `{schema}.{}` is a `{}`",
                result.name.name, result.ty.kind
            ),
            result.ty.span,
        )
        .with_label(format!("expected `{want}`"))
        .with_help(format!(
            "declare `{}: {want}` in `{schema}`",
            result.name.name
        )),
    );
}
