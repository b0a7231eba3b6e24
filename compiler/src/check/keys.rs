//! Keys: a component fed by a keyed edge (`fields(...)`) owns a contiguous range of the
//! `max_parallelism` key groups per task, so it cannot have more tasks than there are key
//! groups (`E0417`); and a built-in with keyed state (`process(T)`) must be keyed one way,
//! every input edge `fields(...)` by the same fields or none (`E0418`).

use super::components::Checked;
use super::edges::CheckedEdge;
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
        let key = |e: &CheckedEdge<'_>| match &e.decl.grouping.kind {
            GroupingKind::Fields(f) => Some(f.iter().map(|f| f.name.clone()).collect::<Vec<_>>()),
            _ => None,
        };
        let Some(other) = inputs[1..].iter().find(|e| key(e) != key(first)) else {
            continue;
        };
        let describe = |e: &CheckedEdge<'_>| match key(e) {
            Some(f) => format!("`fields({})`", f.join(", ")),
            None => "an edge that is not `fields(...)`".to_string(),
        };
        diags.push(
            Diagnostic::error(
                "E0418",
                format!(
                    "`{}` keeps keyed state, but its inputs are keyed differently",
                    c.node.name
                ),
                other.decl.grouping.span,
            )
            .with_label(format!("keyed by {}", describe(other)))
            .with_note(
                first.decl.grouping.span,
                format!("keyed by {}", describe(first)),
            )
            .with_help(
                "a key's state lives in one task: key every input edge by the same fields, \
                 or none of them",
            ),
        );
    }
}
