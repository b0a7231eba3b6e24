//! Warnings: the file compiles, but a setting cannot work as meant.
//!
//! | code | what |
//! |------|------|
//! | `W0601` | `ackers = 0` with a spout that has `attempts`: every tuple is acked when emitted, so nothing is ever replayed |
//! | `W0602` | `global` into a bolt with parallelism > 1: every tuple goes to one task, the other executors idle |
//! | `W0603` | `fields(...)` or `partial_key(...)` on a float field: equal-looking values (`0.1 + 0.2` and `0.3`, `-0.0` and `0.0`) can reach different tasks |
//! | `W0604` | an unknown config key one edit away from a known one (`message_timout`): it is passed to components, and the setting keeps its default |
//!
//! Each is reported once, at the text to change, with the related place as a note.

use super::components::Checked;
use super::edges::CheckedEdge;
use super::scope::Scope;
use super::suggest::one_edit_away;
use crate::ast::{ConfigBlock, ConfigValue, GroupingKind, Prim, TypeKind};
use crate::diagnostic::{Diagnostic, Diagnostics};

/// The keys `config` knows (see `config.rs`).
const KNOWN_KEYS: &[&str] = &[
    "guarantee",
    "message_timeout",
    "max_spout_pending",
    "ackers",
    "workers",
    "batch_size",
    "queue_capacity",
    // Read by the runtime from the config entries (see `gale::exec::health`, `max_frame`
    // in `gale::transport::remote`).
    "hang_timeout",
    "max_frame",
    "max_parallelism",
    "checkpoint_interval",
    "checkpoint_timeout",
    "max_concurrent_checkpoints",
    "retained_checkpoints",
    "restart_strategy",
    "restart_attempts",
    "restart_delay",
    "restart_max_delay",
    "restart_failure_interval",
];

/// Runs every warning rule.
pub(crate) fn check(
    blocks: &[ConfigBlock],
    components: &[Checked<'_>],
    edges: &[CheckedEdge<'_>],
    scope: &Scope<'_>,
    diags: &mut Diagnostics,
) {
    config_keys(blocks, diags);
    ackers_with_attempts(blocks, components, diags);
    for e in edges {
        global_into_parallel(e, &components[e.edge.to], diags);
        float_keys(e, &components[e.edge.from], scope, diags);
    }
}

/// `W0604`: `message_timout = 30s` is a typo, not a setting for components.
fn config_keys(blocks: &[ConfigBlock], diags: &mut Diagnostics) {
    for entry in blocks.iter().flat_map(|b| &b.entries) {
        let key = entry.key.name.as_str();
        if KNOWN_KEYS.contains(&key) {
            continue;
        }
        if let Some(known) = one_edit_away(key, KNOWN_KEYS.iter().copied()) {
            diags.push(
                Diagnostic::warning(
                    "W0604",
                    format!("unknown setting `{key}`: did you mean `{known}`?"),
                    entry.key.span,
                )
                .with_label(format!("did you mean `{known}`?"))
                .with_help(format!(
                    "`{key}` is passed to components as is and `{known}` keeps its default; \
                     write `{known}` to set it"
                )),
            );
        }
    }
}

/// `W0601`: with `ackers = 0` every spout tuple is acked as soon as it is emitted, so a
/// spout's `attempts` can never replay anything.
fn ackers_with_attempts(
    blocks: &[ConfigBlock],
    components: &[Checked<'_>],
    diags: &mut Diagnostics,
) {
    let Some(ackers) = blocks
        .iter()
        .flat_map(|b| &b.entries)
        .find(|e| e.key.name == "ackers" && e.value == ConfigValue::Int(0))
    else {
        return;
    };
    for c in components {
        let Some(attempts) = c.decl.attempts else {
            continue;
        };
        diags.push(
            Diagnostic::warning(
                "W0601",
                format!(
                    "`ackers = 0`: the spout `{}` can never replay a tuple",
                    c.node.name
                ),
                crate::ast::Span::new(ackers.key.span.start, ackers.value_span.end),
            )
            .with_label("every spout tuple is acked as soon as it is emitted")
            .with_note(attempts.span, "replays asked for here")
            .with_help(
                "remove `ackers = 0` (the default is one acker), or remove `attempts` \
                 from the spout",
            ),
        );
    }
}

/// `W0602`: `global` sends the whole stream to the consumer's lowest task.
fn global_into_parallel(e: &CheckedEdge<'_>, consumer: &Checked<'_>, diags: &mut Diagnostics) {
    if e.decl.grouping.kind != GroupingKind::Global || consumer.node.parallelism <= 1 {
        return;
    }
    let n = consumer.node.parallelism;
    let mut d = Diagnostic::warning(
        "W0602",
        format!(
            "`global` sends every tuple to one task of `{}`: {} of its {n} executors stay idle",
            consumer.node.name,
            n - 1
        ),
        e.decl.grouping.span,
    )
    .with_label("the whole stream goes to the lowest task");
    if let Some(p) = consumer.decl.parallelism {
        d = d.with_note(p.span, "parallelism set here");
    }
    diags.push(d.with_help(format!(
        "give `{}` `parallelism 1`, or spread the stream with `shuffle` or `fields(...)`",
        consumer.node.name
    )));
}

/// `W0603`: floats make poor keys.
fn float_keys(
    e: &CheckedEdge<'_>,
    producer: &Checked<'_>,
    scope: &Scope<'_>,
    diags: &mut Diagnostics,
) {
    let (GroupingKind::Fields(names) | GroupingKind::PartialKey(names)) = &e.decl.grouping.kind
    else {
        return;
    };
    let schema = &producer.node.outputs[e.edge.stream].schema;
    let Some(fields) = scope.fields(schema) else {
        return;
    };
    for name in names {
        let Some(field) = fields.iter().find(|f| f.name.name == name.name) else {
            continue;
        };
        if !is_float(&field.ty.kind) {
            continue;
        }
        diags.push(
            Diagnostic::warning(
                "W0603",
                format!("grouping by the float field `{}`", name.name),
                name.span,
            )
            .with_label("equal-looking floats can reach different tasks")
            .with_note(field.ty.span, "declared as a float here")
            .with_help(
                "floats are hashed by their bits: `0.1 + 0.2` and `0.3`, or `-0.0` and `0.0`, \
                 are different keys; group by an integer or string field (a rounded value, an id)",
            ),
        );
    }
}

/// `f32`, `f64`, or an `Option` of one.
fn is_float(kind: &TypeKind) -> bool {
    match kind {
        TypeKind::Prim(Prim::F32 | Prim::F64) => true,
        TypeKind::Option(inner) => is_float(&inner.kind),
        _ => false,
    }
}
