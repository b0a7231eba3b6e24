//! Joins (`window_join`, `interval_join`): a stream set of two streams in (`E0425`), both
//! fed (`E0425`) and on event time (`E0419`, naming the path without it), keyed or run by
//! one executor (`E0422`); under `at_least_once`, held longer than `message_timeout`
//! (`W0605`). That both streams are keyed alike is `keys::check_one_key` (`E0418`).

use super::components::Checked;
use super::edges::CheckedEdge;
use super::time::untimed_path;
use crate::ast::{GroupingKind, Operator};
use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::graph::{Config, Guarantee};
use crate::ops::join::JoinCall;

/// Checks every join.
pub(crate) fn check(
    components: &[Checked<'_>],
    edges: &[CheckedEdge<'_>],
    config: &Config,
    diags: &mut Diagnostics,
) {
    for (i, c) in components.iter().enumerate() {
        let Operator::Builtin(call) = &c.decl.op else {
            continue;
        };
        let Some(j) = crate::ops::find(&call.name.name).and_then(|b| b.join(call)) else {
            continue;
        };
        join(i, &j, components, edges, config, diags);
    }
}

fn join(
    i: usize,
    j: &JoinCall,
    components: &[Checked<'_>],
    edges: &[CheckedEdge<'_>],
    config: &Config,
    diags: &mut Diagnostics,
) {
    let c = &components[i];
    let name = &c.node.name;
    let call_span = c.decl.op.span();
    let Some(input) = &c.decl.input else { return };
    let streams = match &c.input_streams {
        Some(s) if s.len() == 2 => s,
        Some(s) => {
            diags.push(
                Diagnostic::error(
                    "E0425",
                    format!(
                        "`{name}` joins two streams, but its input `{}` has {}",
                        input.name,
                        s.len()
                    ),
                    input.span,
                )
                .with_label("expected a stream set of two streams")
                .with_help("declare the two sides, left first: `streams Pair { orders: Order, payments: Payment }`"),
            );
            return;
        }
        None => {
            if c.input_known {
                diags.push(
                    Diagnostic::error(
                        "E0425",
                        format!("`{name}` joins two streams, but its input `{}` is one tuple", input.name),
                        input.span,
                    )
                    .with_label("expected a stream set of two streams")
                    .with_help("declare the two sides, left first (`streams Pair { orders: Order, payments: Payment }`), consume it (`Pair`) and feed each (`orders -> j.orders`)"),
                );
            }
            return;
        }
    };
    let inputs: Vec<&CheckedEdge<'_>> = edges.iter().filter(|e| e.edge.to == i).collect();
    for (s, stream) in streams.iter().enumerate() {
        if !inputs.iter().any(|e| e.edge.feeds(s)) {
            diags.push(
                Diagnostic::error(
                    "E0425",
                    format!(
                        "nothing feeds the stream `{}` of `{name}`'s input",
                        stream.name
                    ),
                    input.span,
                )
                .with_label(format!(
                    "`{}` has no edge into `{}`",
                    input.name, stream.name
                ))
                .with_help(format!(
                    "connect a producer of `{}`: `producer -> {name}.{}`",
                    stream.schema, stream.name
                )),
            );
            return;
        }
    }
    for (s, t) in c.node.input_times.iter().enumerate() {
        if t.is_some() {
            continue;
        }
        let path = untimed_path(i, Some(s), components, edges);
        diags.push(
            Diagnostic::error(
                "E0419",
                format!(
                    "the join `{name}` has no event time on its input stream `{}`",
                    streams[s].name
                ),
                call_span,
            )
            .with_label("no `timestamp(...)` upstream")
            .with_help(format!(
                "on the path {}, no component declares `timestamp(field)` (or one drops the field): declare `timestamp(field) watermark bounded(5s)` where the time enters",
                path.join(" -> ")
            )),
        );
    }
    let keyed = inputs
        .iter()
        .all(|e| matches!(e.decl.grouping.kind, GroupingKind::Fields(_)));
    if !keyed && (c.node.parallelism > 1 || c.node.tasks > 1) {
        let (span, runs) = super::time::spread(c);
        diags.push(
            Diagnostic::error(
                "E0422",
                format!("the join `{name}` is not keyed but runs {runs}"),
                span,
            )
            .with_label("pairs would be split across tasks and never meet")
            .with_help(format!(
                "key both streams (`orders -> {name}.orders : fields(user)`), or run it as one task (`parallelism 1`, no `tasks`)"
            )),
        );
    }
    if config.guarantee == Guarantee::AtLeastOnce {
        let held = j.span_ms().saturating_add(c.node.late.map_or(0, |l| l.1));
        if held > config.message_timeout_ms {
            diags.push(
                Diagnostic::warning(
                    "W0605",
                    format!(
                        "the join `{name}` holds tuples {held} ms, longer than `message_timeout` ({} ms)",
                        config.message_timeout_ms
                    ),
                    call_span,
                )
                .with_label("longer than the message timeout")
                .with_help("under `at_least_once` the tuples it holds time out and are replayed: raise `message_timeout` above the join's span plus its lateness"),
            );
        }
    }
}
