//! Spouts and bolts: unique names (`E0104`), resolved input and output schemas
//! (`E0201`–`E0203`), the shape each kind needs (`E0404`–`E0409`, `E0411`), and
//! parallelism and task counts (`E0401`–`E0403`, `E0410`), and a spout's retry policy
//! (`E0412`–`E0415`, `E0504`, in `retry`).

use super::schemas::{out_stream, schema};
use super::scope::{Scope, TypeDef};
use crate::ast::{Component, ComponentKind, ConfigBlock, Count, Ident, Operator, Output, Topology};
use crate::diagnostic::{Diagnostic, Diagnostics, line_col};
use crate::graph::{Node, OutStream};
use crate::ops::{Builtin, Outputs};
use std::collections::HashMap;

/// A checked component: its graph node and what the edge checks need to know.
pub(crate) struct Checked<'a> {
    /// The node as it goes into the graph.
    pub node: Node,
    /// The declaration it comes from.
    pub decl: &'a Component,
    /// The input schema resolved to a tuple (schema checks on edges are meaningful).
    pub input_known: bool,
    /// The output resolved (stream lookups on edges are meaningful).
    pub output_known: bool,
    /// Whether the output is a stream set rather than a single tuple.
    pub stream_set: bool,
    /// The index in `node.outputs` of the `failed` stream that `attempts` adds to a spout.
    pub failed_stream: Option<usize>,
    /// The index in `node.outputs` of a window's `late` stream.
    pub late_stream: Option<usize>,
    /// When its input is a stream set: the set's streams (edges feed one each).
    pub input_streams: Option<Vec<OutStream>>,
}

impl Checked<'_> {
    /// The streams its output declares, without the `failed` stream.
    pub fn declared_outputs(&self) -> &[OutStream] {
        let end = self
            .failed_stream
            .or(self.late_stream)
            .unwrap_or(self.node.outputs.len());
        self.node.outputs.get(..end).unwrap_or(&self.node.outputs)
    }
}

/// Checks every component, in declaration order (a component's id is its index).
pub(crate) fn check<'a>(
    topology: &'a Topology,
    scope: &Scope<'_>,
    source: &str,
    diags: &mut Diagnostics,
) -> Vec<Checked<'a>> {
    let mut seen: HashMap<&str, &Ident> = HashMap::new();
    let mut checked = Vec::with_capacity(topology.components.len());
    for c in &topology.components {
        if let Some(first) = seen.insert(&c.name.name, &c.name) {
            diags.push(
                Diagnostic::error(
                    "E0104",
                    format!("the component `{}` is defined twice", c.name.name),
                    c.name.span,
                )
                .with_label("defined again here")
                .with_note(first.span, "first defined here")
                .with_help("component names must be unique within a topology"),
            );
        }
        checked.push(component(c, &topology.configs, scope, source, diags));
    }
    checked
}

fn component<'a>(
    c: &'a Component,
    configs: &[ConfigBlock],
    scope: &Scope<'_>,
    source: &str,
    diags: &mut Diagnostics,
) -> Checked<'a> {
    shape(c, diags);
    let mut input_streams = None;
    let input_known = match &c.input {
        // A bolt may consume a stream set: each input edge feeds one of its streams.
        Some(input) => match scope.resolve(&input.name) {
            Some(TypeDef::Set(set)) if c.kind == ComponentKind::Bolt => {
                input_streams = Some(set.streams.iter().map(out_stream).collect());
                true
            }
            _ => {
                let errors = diags.items.len();
                schema(input, scope, diags);
                diags.items.len() == errors
            }
        },
        None => false,
    };
    let builtin = match &c.op {
        Operator::Builtin(call) => {
            let op = crate::ops::find(&call.name.name);
            if let Some(op) = op {
                op.check(call, diags);
            }
            op
        }
        Operator::User(_) => None,
    };
    let same_as_input = builtin.is_some_and(|b| b.outputs() == Outputs::Input);
    let (output_type, mut outputs, output_known, stream_set) = match &c.output {
        _ if same_as_input => same_output(c, builtin, c.output.as_ref(), diags),
        Some(out) => output(out, scope, diags),
        None => (None, Vec::new(), true, false),
    };
    let parallelism = count(c, c.parallelism, "parallelism", diags);
    let tasks = count(c, c.tasks, "tasks", diags);
    if let (Some(p), Some(t)) = (c.parallelism, c.tasks)
        && t.value > 0
        && t.value < p.value
    {
        diags.push(
            Diagnostic::error(
                "E0403",
                format!(
                    "`{}` has fewer tasks ({}) than executors ({})",
                    c.name.name, t.value, p.value
                ),
                t.span,
            )
            .with_label("fewer tasks than the parallelism")
            .with_note(p.span, "parallelism given here")
            .with_help(
                "each executor runs at least one task: make `tasks` at least the parallelism",
            ),
        );
    }
    let policy = super::retry::check(c, &mut outputs, stream_set, configs, diags);
    // A window's (a join's) late tuples go to its `late` stream, after its own output.
    let late = match (&c.op, &c.input) {
        (Operator::Builtin(call), Some(input)) if builtin.is_some_and(|b| b.late_stream(call)) => {
            outputs.push(OutStream {
                name: crate::graph::LATE_STREAM.to_string(),
                schema: input.name.clone(),
                direct: false,
                variant: None,
            });
            Some((outputs.len() - 1, c.lateness.map_or(0, |l| l.value.value)))
        }
        _ => None,
    };
    let parallelism = parallelism.unwrap_or(1);
    let (line, column) = line_col(source, c.span.start);
    let node = Node {
        name: c.name.name.clone(),
        kind: c.kind,
        op: c.op.clone(),
        input: c.input.as_ref().map(|i| i.name.clone()),
        output_type,
        outputs,
        retry: policy.retry,
        event_time: None,
        input_time: None,
        input_times: Vec::new(),
        late,
        state_ttl_ms: c.ttl.map(|t| t.value.value),
        uid: c
            .uid
            .as_ref()
            .map_or_else(|| c.name.name.clone(), |(u, _)| u.clone()),
        parallelism,
        tasks: tasks.unwrap_or(parallelism),
        line,
        column,
        span: c.span,
    };
    Checked {
        node,
        decl: c,
        input_known,
        output_known,
        stream_set,
        failed_stream: policy.failed_stream,
        late_stream: late.map(|l| l.0),
        input_streams,
    }
}

/// What each kind of component must and must not have.
fn shape(c: &Component, diags: &mut Diagnostics) {
    let name = &c.name.name;
    match c.kind {
        ComponentKind::Spout => {
            if let Some(input) = &c.input {
                diags.push(
                    Diagnostic::error(
                        "E0404",
                        format!("spout `{name}` cannot have an input"),
                        input.span,
                    )
                    .with_label("a spout has no input")
                    .with_help(format!(
                        "spouts are sources; to consume `{}`, declare a `bolt`",
                        input.name
                    )),
                );
            }
            if c.output.is_none() {
                diags.push(
                    Diagnostic::error(
                        "E0405",
                        format!("spout `{name}` has no output"),
                        c.name.span,
                    )
                    .with_label("a spout must emit tuples")
                    .with_help("name what it emits: `-> Schema`"),
                );
            }
            let source = match &c.op {
                Operator::Builtin(call) => {
                    crate::ops::find(&call.name.name).is_some_and(|b| b.is_source())
                }
                Operator::User(_) => true,
            };
            if !source {
                diags.push(
                    Diagnostic::error(
                        "E0409",
                        format!("the built-in `{}` cannot be a spout", builtin_name(&c.op)),
                        c.op.span(),
                    )
                    .with_label("built-ins transform tuples; they do not produce them")
                    .with_help("declare it as a `bolt` fed by an edge"),
                );
            }
        }
        ComponentKind::Bolt => {
            if c.input.is_none() {
                diags.push(
                    Diagnostic::error(
                        "E0406",
                        format!("bolt `{name}` has no input schema"),
                        c.name.span,
                    )
                    .with_label("the input schema is missing")
                    .with_help(format!(
                        "write the schema it consumes in parentheses: `{}(Schema)`",
                        c.op.text()
                    )),
                );
            }
            let builtin = match &c.op {
                Operator::Builtin(call) => crate::ops::find(&call.name.name),
                Operator::User(_) => None,
            };
            if builtin.is_some_and(|b| b.is_source()) {
                diags.push(
                    Diagnostic::error(
                        "E0428",
                        format!("the built-in `{}` is a spout", builtin_name(&c.op)),
                        c.op.span(),
                    )
                    .with_label("a source, declared as a bolt")
                    .with_help(format!(
                        "declare it `spout {} = {} -> Schema`",
                        c.name.name,
                        c.op.text()
                    )),
                );
            }
            if let (Some(b), Some(out)) = (builtin, &c.output)
                && b.outputs() == Outputs::Nothing
            {
                diags.push(
                    Diagnostic::error(
                        "E0429",
                        format!("`{}` is a sink: it emits nothing", builtin_name(&c.op)),
                        out.span,
                    )
                    .with_label("an output on a sink")
                    .with_help("remove the `-> Schema`"),
                );
            }
            let declared = builtin.is_some_and(|b| b.outputs() == Outputs::Declared);
            if declared && c.output.is_none() {
                diags.push(
                    Diagnostic::error(
                        "E0411",
                        format!("`{}` needs an output schema", builtin_name(&c.op)),
                        c.span,
                    )
                    .with_label("no `-> Schema`")
                    .with_help("name the schema its function returns: `-> Schema`"),
                );
            }
        }
    }
}

fn builtin_name(op: &Operator) -> &str {
    match op {
        Operator::Builtin(call) => &call.name.name,
        Operator::User(_) => "user operator",
    }
}

type Streams = (Option<String>, Vec<OutStream>, bool, bool);

/// The output streams of `-> X`: one `default` stream, or one per stream of a set.
fn output(out: &Output, scope: &Scope<'_>, diags: &mut Diagnostics) -> Streams {
    let single = |schema: &str| OutStream {
        name: "default".to_string(),
        schema: schema.to_string(),
        direct: out.direct,
        variant: None,
    };
    match scope.resolve(&out.ty.name) {
        Some(TypeDef::Set(set)) => {
            if out.direct {
                diags.push(
                    Diagnostic::error(
                        "E0203",
                        format!("`direct` cannot apply to the stream set `{}`", out.ty.name),
                        out.span,
                    )
                    .with_label("`direct` before a stream set")
                    .with_help(format!(
                        "mark the streams inside `streams {} {{ ... }}` as `direct` instead",
                        out.ty.name
                    )),
                );
            }
            let streams = set.streams.iter().map(out_stream).collect();
            (Some(out.ty.name.clone()), streams, true, true)
        }
        Some(TypeDef::Tuple(_) | TypeDef::External) => (
            Some(out.ty.name.clone()),
            vec![single(&out.ty.name)],
            true,
            false,
        ),
        None => {
            scope.unknown(&out.ty, diags);
            (
                Some(out.ty.name.clone()),
                vec![single(&out.ty.name)],
                false,
                false,
            )
        }
    }
}

/// A built-in that emits what it receives (a filter): its output, if written, must equal
/// its input.
fn same_output(
    c: &Component,
    op: Option<&dyn Builtin>,
    out: Option<&Output>,
    diags: &mut Diagnostics,
) -> Streams {
    let Some(input) = &c.input else {
        return (None, Vec::new(), false, false);
    };
    let mut known = true;
    if let Some(out) = out
        && out.ty.name != input.name
    {
        // Its consumers would only see a cascade of mismatches: leave them unchecked.
        known = false;
        diags.push(
            Diagnostic::error(
                "E0408",
                format!(
                    "{} `{}` must output its input schema `{}`",
                    op.map_or("filter", |b| b.name()),
                    c.name.name,
                    input.name
                ),
                out.ty.span,
            )
            .with_label(format!(
                "expected `{}`, found `{}`",
                input.name, out.ty.name
            ))
            .with_note(input.span, "input schema")
            .with_help(format!(
                "a {} passes tuples through unchanged: write `-> {}` or leave the output out",
                op.map_or("filter", |b| b.name()),
                input.name
            )),
        );
    }
    let stream = OutStream {
        name: "default".to_string(),
        schema: input.name.clone(),
        direct: out.is_some_and(|o| o.direct),
        variant: None,
    };
    (Some(input.name.clone()), vec![stream], known, false)
}

/// A `parallelism` or `tasks` count: at least 1 (`E0401`, `E0402`), at most `u32::MAX`
/// (`E0410`).
fn count(c: &Component, n: Option<Count>, what: &str, diags: &mut Diagnostics) -> Option<u32> {
    let n = n?;
    if n.value == 0 {
        let code = if what == "tasks" { "E0402" } else { "E0401" };
        diags.push(
            Diagnostic::error(code, format!("`{}` has {what} 0", c.name.name), n.span)
                .with_label(format!("{what} must be at least 1")),
        );
        return None;
    }
    match u32::try_from(n.value) {
        Ok(v) => Some(v),
        Err(_) => {
            diags.push(
                Diagnostic::error(
                    "E0410",
                    format!("`{}` has too large a {what}", c.name.name),
                    n.span,
                )
                .with_label(format!("at most {}", u32::MAX)),
            );
            None
        }
    }
}
