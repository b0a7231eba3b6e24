//! Key groups: a component fed by a keyed edge (`fields(...)`) owns a contiguous range of
//! the `max_parallelism` key groups per task, so it cannot have more tasks than there are
//! key groups (`E0417`).

use super::components::Checked;
use super::edges::CheckedEdge;
use crate::ast::GroupingKind;
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
