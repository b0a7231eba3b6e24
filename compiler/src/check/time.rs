//! Event time and windows: where time comes from, that every event-time window has it on
//! every path upstream, and that windows are shaped right.
//!
//! | code | what |
//! |------|------|
//! | `E0419` | an event-time window with no `timestamp(...)` on some path upstream (the path is named) |
//! | `E0420` | `timestamp(f)`: no field `f` in the output schema, or not a time (`u64` ms, or a named type implementing `gale::window::Timestamp`) |
//! | `E0422` | a window on an unkeyed input with parallelism > 1 |
//! | `E0423` | a window's output schema without its key fields, `start`, `end` and one result field (`reduce`: its input schema) |
//! | `E0423`, `E0426` | an aggregation's field and result type: see `aggregations` |
//! | `E0424` | `watermark`/`idle` without `timestamp`, `lateness` on something not a window, an unknown watermark strategy |
//! | `W0605` | under `at_least_once`, a window (with its lateness) longer than `message_timeout` |
//!
//! Time travels with a field: a component's output tuples carry event time if it declares
//! `timestamp(f)`, or if its input carries time in field `f` and its output schema has a
//! field `f` too (a `map` that keeps the field keeps the time).

use super::components::Checked;
use super::edges::CheckedEdge;
use super::scope::{Scope, TypeDef};
use crate::ast::{OpArg, Operator, Prim, TypeKind};
use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::graph::{Config, EventTime, Guarantee, WatermarkStrategy};
use crate::ops::window::{Aggregation, Kind, WindowCall};

/// Checks event time and windows; records each component's event time in its node.
pub(crate) fn check(
    components: &mut [Checked<'_>],
    edges: &[CheckedEdge<'_>],
    scope: &Scope<'_>,
    config: &Config,
    diags: &mut Diagnostics,
) {
    for c in components.iter_mut() {
        c.node.event_time = declared_time(c, scope, diags);
        if let Some(l) = c.decl.lateness
            && c.late_stream.is_some()
            && l.value.value == 0
        {
            diags.push(
                Diagnostic::error(
                    "E0421",
                    format!("`{}` has a lateness of zero", c.node.name),
                    l.value.span,
                )
                .with_label("zero allows nothing")
                .with_help("remove it (no lateness is the default), or allow some: `lateness 5s`"),
            );
        }
        if let Some(l) = c.decl.lateness
            && c.late_stream.is_none()
        {
            diags.push(
                Diagnostic::error(
                    "E0424",
                    format!("`lateness` on `{}`, which is not a window", c.node.name),
                    l.span,
                )
                .with_label("only windows have a lateness")
                .with_help("remove it, or give it to the window that should accept late tuples"),
            );
        }
    }
    propagate(components, edges, scope);
    super::joins::check(components, edges, config, diags);
    for i in 0..components.len() {
        let Some(w) = window_of(&components[i]) else {
            continue;
        };
        window(i, &w, components, edges, scope, config, diags);
    }
}

/// Where an unkeyed window or join is spread over several tasks (its `tasks` clause, or its
/// `parallelism`), and how to say so: `2 executors`, `3 tasks`.
pub(crate) fn spread(c: &Checked<'_>) -> (crate::ast::Span, String) {
    match (c.decl.tasks, c.decl.parallelism) {
        (Some(t), _) if c.node.tasks > c.node.parallelism => {
            (t.span, format!("{} tasks", c.node.tasks))
        }
        (_, Some(p)) => (p.span, format!("{} executors", c.node.parallelism)),
        (Some(t), None) => (t.span, format!("{} tasks", c.node.tasks)),
        (None, None) => (c.decl.name.span, format!("{} tasks", c.node.tasks)),
    }
}

fn window_of(c: &Checked<'_>) -> Option<WindowCall> {
    let Operator::Builtin(call) = &c.decl.op else {
        return None;
    };
    crate::ops::find(&call.name.name)?.window(call)
}

/// The fields of a schema declared in the file (`None`: imported, or unknown).
fn fields<'a>(scope: &Scope<'a>, schema: &str) -> Option<Vec<(&'a str, &'a TypeKind)>> {
    match scope.resolve(schema) {
        Some(TypeDef::Tuple(t)) => Some(
            t.fields
                .iter()
                .map(|f| (f.name.name.as_str(), &f.ty.kind))
                .collect(),
        ),
        _ => None,
    }
}

/// `timestamp(f) watermark ... idle ...` of component `c`.
fn declared_time(c: &Checked<'_>, scope: &Scope<'_>, diags: &mut Diagnostics) -> Option<EventTime> {
    let decl = c.decl;
    let Some(field) = &decl.timestamp else {
        for (what, span) in [
            ("watermark", decl.watermark.as_ref().map(|w| w.span)),
            ("idle", decl.idle.map(|i| i.span)),
        ] {
            if let Some(span) = span {
                diags.push(
                    Diagnostic::error(
                        "E0424",
                        format!("`{what}` on `{}`, which has no `timestamp(...)`", c.node.name),
                        span,
                    )
                    .with_label("watermarks follow timestamps")
                    .with_help("name the field holding the event time first: `timestamp(at) watermark bounded(5s)`"),
                );
            }
        }
        return None;
    };
    let mut ok = true;
    match c.node.output_type.as_deref() {
        None => {
            ok = false;
            diags.push(
                Diagnostic::error(
                    "E0420",
                    format!("`{}` has no output to take a timestamp from", c.node.name),
                    field.span,
                )
                .with_label("a sink has no output tuples")
                .with_help(
                    "declare `timestamp(...)` on the component whose output carries the time",
                ),
            );
        }
        Some(schema) if matches!(scope.resolve(schema), Some(TypeDef::Set(_))) => {
            ok = false;
            diags.push(
                Diagnostic::error(
                    "E0420",
                    format!("`{}` outputs the stream set `{schema}`: it has no one timestamp field", c.node.name),
                    field.span,
                )
                .with_label("a timestamp needs one tuple schema")
                .with_help("declare `timestamp(...)` on a component with a single output schema, upstream or downstream of this one"),
            );
        }
        Some(schema) => {
            if let Some(fs) = fields(scope, schema) {
                match fs.iter().find(|(n, _)| *n == field.name) {
                    None => {
                        ok = false;
                        let names: Vec<String> = fs.iter().map(|(n, _)| format!("`{n}`")).collect();
                        diags.push(
                            Diagnostic::error(
                                "E0420",
                                format!(
                                    "`{schema}` has no field `{}` to take the timestamp from",
                                    field.name
                                ),
                                field.span,
                            )
                            .with_label("no such field")
                            .with_help(format!("its fields are {}", names.join(", "))),
                        );
                    }
                    Some((_, kind)) if !is_time(kind) => {
                        ok = false;
                        diags.push(
                            Diagnostic::error(
                                "E0420",
                                format!("the timestamp field `{}` of `{schema}` is not a time", field.name),
                                field.span,
                            )
                            .with_label("expected `u64` (epoch milliseconds) or a named type")
                            .with_help("event time is a `u64` of milliseconds since the epoch, or a type you define implementing `gale::window::Timestamp`"),
                        );
                    }
                    Some(_) => {}
                }
            }
        }
    }
    let watermark = match decl.watermark.as_ref().map(|w| &w.strategy) {
        None => WatermarkStrategy::Monotonous,
        Some(OpArg::Path(p)) if p.text == "monotonous" => WatermarkStrategy::Monotonous,
        Some(OpArg::Call(call)) if call.name.name == "bounded" => match call.args.as_slice() {
            [OpArg::Duration(d)] => WatermarkStrategy::Bounded(d.value),
            _ => {
                ok = false;
                diags.push(strategy_error(
                    call.span,
                    "`bounded` takes one duration: `bounded(5s)`",
                ));
                WatermarkStrategy::Monotonous
            }
        },
        Some(OpArg::Call(call)) if call.name.name == "custom" => match call.args.as_slice() {
            [OpArg::Path(p)] => WatermarkStrategy::Custom(p.text.clone()),
            _ => {
                ok = false;
                diags.push(strategy_error(
                    call.span,
                    "`custom` takes a Rust type: `custom(crate::MyWatermarks)`",
                ));
                WatermarkStrategy::Monotonous
            }
        },
        Some(other) => {
            ok = false;
            diags.push(strategy_error(other.span(), "unknown watermark strategy"));
            WatermarkStrategy::Monotonous
        }
    };
    ok.then(|| EventTime {
        field: field.name.clone(),
        watermark,
        idle_ms: decl.idle.map(|i| i.value.value),
    })
}

fn strategy_error(span: crate::ast::Span, what: &str) -> Diagnostic {
    Diagnostic::error("E0424", what.to_string(), span)
        .with_label("not a watermark strategy")
        .with_help("the strategies are `bounded(5s)` (at most 5 s out of order), `monotonous` and `custom(path::To::Generator)`")
}

fn is_time(kind: &TypeKind) -> bool {
    matches!(kind, TypeKind::Prim(Prim::U64) | TypeKind::Named(_))
}

/// Sets each node's `input_times` (per stream of its input: the field every producer
/// into that stream carries time in) and `input_time` (the field, when every stream has
/// the same one).
fn propagate(components: &mut [Checked<'_>], edges: &[CheckedEdge<'_>], scope: &Scope<'_>) {
    let n = components.len();
    let mut out: Vec<Option<String>> = vec![None; n];
    // At most n rounds: the graph is acyclic (a cycle is reported elsewhere).
    for _ in 0..=n {
        let mut changed = false;
        for i in 0..n {
            let streams = components[i].input_streams.as_ref().map_or(1, Vec::len);
            let input_times: Vec<Option<String>> = (0..streams)
                .map(|s| {
                    let inputs: Vec<usize> = edges
                        .iter()
                        .filter(|e| e.edge.to == i && e.edge.feeds(s))
                        .map(|e| e.edge.from)
                        .collect();
                    match inputs.split_first() {
                        Some((first, rest)) => out[*first]
                            .clone()
                            .filter(|f| rest.iter().all(|p| out[*p].as_ref() == Some(f))),
                        None => None,
                    }
                })
                .collect();
            let input_time = match input_times.split_first() {
                Some((Some(f), rest)) if rest.iter().all(|t| t.as_ref() == Some(f)) => {
                    Some(f.clone())
                }
                _ => None,
            };
            let c = &components[i];
            let own = c.node.event_time.as_ref().map(|t| t.field.clone());
            let carried = input_time.clone().filter(|f| {
                c.node.output_type.as_deref().is_some_and(|o| {
                    fields(scope, o).is_none_or(|fs| fs.iter().any(|(n, _)| n == f))
                })
            });
            let next = own.or(carried);
            let node = &mut components[i].node;
            if next != out[i] || node.input_time != input_time || node.input_times != input_times {
                out[i] = next;
                node.input_time = input_time;
                node.input_times = input_times;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
}

/// Whether every stream of `c`'s input carries event time.
pub(crate) fn timed_input(c: &Checked<'_>) -> bool {
    !c.node.input_times.is_empty() && c.node.input_times.iter().all(Option::is_some)
}

/// A path from a source to `to` along which no component declares or carries time.
/// Into a stream-set input, `stream` picks the stream the path enters by.
pub(crate) fn untimed_path(
    to: usize,
    stream: Option<usize>,
    components: &[Checked<'_>],
    edges: &[CheckedEdge<'_>],
) -> Vec<String> {
    let mut path = vec![components[to].node.name.clone()];
    let mut at = to;
    for step in 0..components.len() {
        let producers: Vec<usize> = edges
            .iter()
            .filter(|e| e.edge.to == at && (step > 0 || stream.is_none_or(|s| e.edge.feeds(s))))
            .map(|e| e.edge.from)
            .collect();
        let timed = |p: usize| {
            let c = &components[p];
            c.node.event_time.is_some() || c.node.input_time.is_some()
        };
        match producers.iter().find(|&&p| !timed(p)).or(producers.first()) {
            Some(&p) => {
                path.push(components[p].node.name.clone());
                if components[p].node.event_time.is_some() {
                    break;
                }
                at = p;
            }
            None => break,
        }
    }
    path.reverse();
    path
}

#[allow(clippy::too_many_arguments)]
fn window(
    i: usize,
    w: &WindowCall,
    components: &[Checked<'_>],
    edges: &[CheckedEdge<'_>],
    scope: &Scope<'_>,
    config: &Config,
    diags: &mut Diagnostics,
) {
    let c = &components[i];
    let call_span = c.decl.op.span();
    let event_time = !w.processing_time && !matches!(w.kind, Kind::Count { .. });
    if event_time && !timed_input(c) {
        let path = untimed_path(i, None, components, edges);
        diags.push(
            Diagnostic::error(
                "E0419",
                format!("the event-time window `{}` has no event time on its input", c.node.name),
                call_span,
            )
            .with_label("no `timestamp(...)` upstream")
            .with_help(format!(
                "on the path {}, no component declares `timestamp(field)` (or one drops the field): declare `timestamp(field) watermark bounded(5s)` where the time enters, or end the window's arguments with `processing_time`",
                path.join(" -> ")
            )),
        );
    }
    let inputs: Vec<&CheckedEdge<'_>> = edges.iter().filter(|e| e.edge.to == i).collect();
    let key: Option<Vec<String>> = match inputs.first().map(|e| &e.decl.grouping.kind) {
        Some(crate::ast::GroupingKind::Fields(f)) => {
            Some(f.iter().map(|f| f.name.clone()).collect())
        }
        _ => None,
    };
    if key.is_none() && (c.node.parallelism > 1 || c.node.tasks > 1) {
        let (span, runs) = spread(c);
        diags.push(
            Diagnostic::error(
                "E0422",
                format!("the window `{}` is not keyed but runs {runs}", c.node.name),
                span,
            )
            .with_label("each task would see part of every window")
            .with_help("key its input (`-> window : fields(user)`), or run it as one task (`parallelism 1`, no `tasks`)"),
        );
    }
    output_shape(c, w, key.as_deref().unwrap_or(&[]), scope, diags);
    super::aggregations::check(c, w, key.as_deref().unwrap_or(&[]), scope, diags);
    if config.guarantee == Guarantee::AtLeastOnce
        && let Some(span_ms) = w.span_ms()
    {
        let open = span_ms.saturating_add(c.node.late.map_or(0, |l| l.1));
        if open > config.message_timeout_ms {
            diags.push(
                Diagnostic::warning(
                    "W0605",
                    format!(
                        "the window `{}` stays open {} ms, longer than `message_timeout` ({} ms)",
                        c.node.name, open, config.message_timeout_ms
                    ),
                    call_span,
                )
                .with_label("longer than the message timeout")
                .with_help("under `at_least_once` the tuples it holds time out and are replayed: raise `message_timeout` above the window size plus its lateness"),
            );
        }
    }
}

/// `E0423`: what a window's output schema must hold.
fn output_shape(
    c: &Checked<'_>,
    w: &WindowCall,
    key: &[String],
    scope: &Scope<'_>,
    diags: &mut Diagnostics,
) {
    let (Some(out), Some(input)) = (c.decl.output.as_ref(), c.node.input.as_deref()) else {
        return;
    };
    let schema = out.ty.name.as_str();
    match &w.aggregation {
        Aggregation::Apply(_) => {}
        Aggregation::Reduce(_) => {
            if schema != input {
                diags.push(
                    Diagnostic::error(
                        "E0423",
                        format!(
                            "`{}` reduces `{input}` tuples, so it outputs `{input}`",
                            c.node.name
                        ),
                        out.ty.span,
                    )
                    .with_label(format!("expected `{input}`"))
                    .with_help(format!(
                        "write `-> {input}`; to output another schema, use `aggregate(T)`"
                    )),
                );
            }
        }
        _ => {
            let Some(fs) = fields(scope, schema) else {
                return;
            };
            let mut missing: Vec<String> = key
                .iter()
                .filter(|k| !fs.iter().any(|(n, _)| n == *k))
                .map(|k| format!("`{k}`"))
                .collect();
            for bound in ["start", "end"] {
                match fs.iter().find(|(n, _)| *n == bound) {
                    Some((_, TypeKind::Prim(Prim::U64))) => {}
                    _ => missing.push(format!("`{bound}: u64`")),
                }
            }
            let results: Vec<&str> = fs
                .iter()
                .map(|(n, _)| *n)
                .filter(|n| !key.iter().any(|k| k == n) && *n != "start" && *n != "end")
                .collect();
            let result_ok = results.len() == 1;
            if missing.is_empty() && result_ok {
                return;
            }
            let mut what = Vec::new();
            if !missing.is_empty() {
                what.push(format!("it lacks {}", missing.join(", ")));
            }
            if !result_ok {
                what.push(format!(
                    "it needs exactly one field for the result besides the key and the bounds, and has {}",
                    results.len()
                ));
            }
            let want: Vec<String> = key
                .iter()
                .map(|k| format!("{k}: ..."))
                .chain(["start: u64".into(), "end: u64".into(), "result: ...".into()])
                .collect();
            diags.push(
                Diagnostic::error(
                    "E0423",
                    format!("`{schema}` cannot hold the results of the window `{}`", c.node.name),
                    out.ty.span,
                )
                .with_label(what.join("; "))
                .with_help(format!("a window result is its key, its bounds and its aggregate: `tuple {schema} {{ {} }}`", want.join(", "))),
            );
        }
    }
}
