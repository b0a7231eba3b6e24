//! Keys: a component fed by a keyed edge (`fields(...)`) owns a contiguous range of the
//! `max_parallelism` key groups per task, so it cannot have more tasks than there are key
//! groups (`E0417`); and a built-in with keyed state (`process(T)`) must be keyed one way,
//! every input edge `fields(...)` by the same fields or none (`E0418`).

use super::components::Checked;
use super::edges::CheckedEdge;
use super::scope::Scope;
use crate::ast::{GroupingKind, Operator};
use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::graph::Config;

/// Reports every keyed consumer with more tasks than key groups.
pub(crate) fn check(
    config: &Config,
    components: &[Checked<'_>],
    edges: &[CheckedEdge<'_>],
    diags: &mut Diagnostics,
) {
    for (i, c) in components.iter().enumerate() {
        let Some(keyed) = edges
            .iter()
            .find(|e| e.edge.to == i && matches!(e.decl.grouping.kind, GroupingKind::Fields(_)))
        else {
            continue;
        };
        let tasks = u64::from(c.node.tasks);
        if tasks <= config.max_parallelism {
            continue;
        }
        let span = c
            .decl
            .tasks
            .or(c.decl.parallelism)
            .map_or(c.decl.name.span, |n| n.span);
        diags.push(
            Diagnostic::error(
                "E0417",
                format!(
                    "`{}` has {tasks} tasks, more than the {} key groups of its keyed input",
                    c.node.name, config.max_parallelism
                ),
                span,
            )
            .with_label("more tasks than key groups")
            .with_note(keyed.decl.grouping.span, "keyed here")
            .with_help(format!(
                "raise `max_parallelism` in the `config` block to at least {tasks} (it cannot \
                 change once the topology keeps state), or give `{}` fewer tasks",
                c.node.name
            )),
        );
    }
}

/// `E0418`: a built-in with keyed state fed by edges that key its input differently.
pub(crate) fn check_one_key(
    components: &[Checked<'_>],
    edges: &[CheckedEdge<'_>],
    scope: &Scope<'_>,
    diags: &mut Diagnostics,
) {
    for (i, c) in components.iter().enumerate() {
        let Operator::Builtin(call) = &c.decl.op else {
            continue;
        };
        if !crate::ops::find(&call.name.name).is_some_and(|b| b.keys_its_input()) {
            continue;
        }
        let inputs: Vec<&CheckedEdge<'_>> = edges.iter().filter(|e| e.edge.to == i).collect();
        let Some(first) = inputs.first() else {
            continue;
        };
        let Some(streams) = &c.input_streams else {
            if let Some(other) = inputs[1..].iter().find(|e| key(e) != key(first)) {
                diags.push(differently(
                    c,
                    other,
                    first,
                    describe(other),
                    describe(first),
                ));
            }
            continue;
        };
        // Into a stream set, the streams' key fields may have other names, but there must
        // be as many, of the same types, for equal keys to meet in one task.
        // None keyed is an unkeyed operator (one task, checked elsewhere); some keyed and
        // some not splits a key's tuples over tasks.
        let unkeyed = inputs.iter().find(|e| key(e).is_none());
        let keyed = inputs.iter().find(|e| key(e).is_some());
        if let (Some(other), Some(keyed)) = (unkeyed, keyed) {
            diags.push(differently(
                c,
                other,
                keyed,
                describe(other),
                describe(keyed),
            ));
            continue;
        }
        if unkeyed.is_some() {
            continue;
        }
        let typed = |e: &CheckedEdge<'_>| -> Option<Vec<String>> {
            let schema = &streams[e.edge.input?].schema;
            let decl = scope.fields(schema)?;
            key(e)?
                .iter()
                .map(|f| {
                    decl.iter()
                        .find(|d| d.name.name == *f)
                        .map(|d| format!("`{}`", d.ty.kind))
                })
                .collect()
        };
        let first_types = typed(first);
        let clash = inputs[1..].iter().find(|e| {
            let (a, b) = (key(e), key(first));
            let same_stream = e.edge.input == first.edge.input;
            let arity = a.as_ref().map(Vec::len) != b.as_ref().map(Vec::len);
            let types = match (typed(e), &first_types) {
                (Some(t), Some(f)) => t != *f,
                _ => false,
            };
            (same_stream && a != b) || arity || types
        });
        if let Some(other) = clash {
            let with_types = |e: &CheckedEdge<'_>| match typed(e) {
                Some(t) => format!("{} (of type {})", describe(e), t.join(", ")),
                None => describe(e),
            };
            diags.push(differently(
                c,
                other,
                first,
                with_types(other),
                with_types(first),
            ));
        }
    }
}

fn key(e: &CheckedEdge<'_>) -> Option<Vec<String>> {
    match &e.decl.grouping.kind {
        GroupingKind::Fields(f) => Some(f.iter().map(|f| f.name.clone()).collect()),
        _ => None,
    }
}

fn describe(e: &CheckedEdge<'_>) -> String {
    match key(e) {
        Some(f) => format!("`fields({})`", f.join(", ")),
        None => "an edge that is not `fields(...)`".to_string(),
    }
}

fn differently(
    c: &Checked<'_>,
    other: &CheckedEdge<'_>,
    first: &CheckedEdge<'_>,
    other_key: String,
    first_key: String,
) -> Diagnostic {
    let help = if c.input_streams.is_some() {
        "a key's state lives in one task: key every input edge `fields(...)`, each stream by \
         as many fields of the same types (`orders -> j.orders : fields(user)`, \
         `payments -> j.payments : fields(payer)`)"
    } else {
        "a key's state lives in one task: key every input edge by the same fields, or none of \
         them"
    };
    Diagnostic::error(
        "E0418",
        format!(
            "`{}` keeps keyed state, but its inputs are keyed differently",
            c.node.name
        ),
        other.decl.grouping.span,
    )
    .with_label(format!("keyed by {other_key}"))
    .with_note(first.decl.grouping.span, format!("keyed by {first_key}"))
    .with_help(help)
}
