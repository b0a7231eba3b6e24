//! Edges: both ends exist (`E0301`), the stream exists and is named when it must be
//! (`E0302`, `E0308`, `E0311`), schemas agree (`E0303`), grouping fields exist (`E0304`),
//! `direct` matches the stream (`E0305`, `E0306`), spouts receive nothing (`E0307`), no
//! edge is written twice (`E0309`), every bolt is fed (`E0407`), and an edge into a
//! stream-set input feeds one of its streams (`E0312`, `E0313`).
//!
//! A spout with `attempts` has two streams: its output, which an edge without a stream
//! name reads, and `failed`.

use super::components::Checked;
use super::scope::Scope;
use super::suggest::{list, similar};
use crate::ast::{ComponentKind, Edge, GroupingKind, Ident, Span, Topology};
use crate::diagnostic::{Diagnostic, Diagnostics, line_col};
use crate::graph::{FAILED_STREAM, GraphEdge, Grouping};
use std::collections::HashMap;

/// A checked edge and the declaration it comes from.
pub(crate) struct CheckedEdge<'a> {
    /// The edge as it goes into the graph.
    pub edge: GraphEdge,
    /// The declaration.
    pub decl: &'a Edge,
}

/// Checks every edge; returns those whose ends and stream resolved.
pub(crate) fn check<'a>(
    topology: &'a Topology,
    components: &[Checked<'_>],
    scope: &Scope<'_>,
    source: &str,
    diags: &mut Diagnostics,
) -> Vec<CheckedEdge<'a>> {
    let mut ids: HashMap<&str, usize> = HashMap::new();
    for (id, c) in components.iter().enumerate() {
        ids.entry(c.node.name.as_str()).or_insert(id);
    }
    let mut edges = Vec::new();
    let mut seen: HashMap<(usize, usize, usize), &Edge> = HashMap::new();
    for e in &topology.edges {
        let from = lookup(&e.from, &ids, diags);
        let to = lookup(&e.to, &ids, diags);
        // An edge into a spout goes no further: no schema check, no cycle through it.
        if let Some(to) = to
            && into_spout(e, &components[to], diags)
        {
            continue;
        }
        let Some(from) = from else { continue };
        let Some(stream) = stream(e, &components[from], diags) else {
            continue;
        };
        let Some(to) = to else { continue };
        if let Some(first) = seen.insert((from, stream, to), e) {
            diags.push(
                Diagnostic::error("E0309", "this edge is declared twice", e.span)
                    .with_label("declared again here")
                    .with_note(first.span, "first declared here")
                    .with_help("remove one of them; a consumer subscribes to a stream once"),
            );
            continue;
        }
        let producer = &components[from];
        let input = schemas(e, producer, stream, &components[to], diags).flatten();
        let direct = producer.node.outputs[stream].direct;
        direct_rules(e, producer, stream, direct, diags);
        fields(e, &producer.node.outputs[stream].schema, scope, diags);
        let (line, column) = line_col(source, e.span.start);
        edges.push(CheckedEdge {
            edge: GraphEdge {
                from,
                stream,
                to,
                input,
                grouping: grouping(&e.grouping.kind),
                line,
                column,
            },
            decl: e,
        });
    }
    unfed_bolts(topology, components, diags);
    edges
}

/// The id of the component `name`, or `E0301`.
fn lookup(name: &Ident, ids: &HashMap<&str, usize>, diags: &mut Diagnostics) -> Option<usize> {
    if let Some(id) = ids.get(name.name.as_str()) {
        return Some(*id);
    }
    let mut d = Diagnostic::error(
        "E0301",
        format!("cannot find component `{}`", name.name),
        name.span,
    )
    .with_label("no spout or bolt has this name");
    if let Some(close) = similar(&name.name, ids.keys().copied()) {
        d = d.with_help(format!("a component with a similar name exists: `{close}`"));
    }
    diags.push(d);
    None
}

/// `E0307`: spouts are sources. True when the edge goes into a spout.
fn into_spout(e: &Edge, to: &Checked<'_>, diags: &mut Diagnostics) -> bool {
    let spout = to.node.kind == ComponentKind::Spout;
    if spout {
        diags.push(
            Diagnostic::error(
                "E0307",
                format!("edge into the spout `{}`", e.to.name),
                e.to.span,
            )
            .with_label("spouts cannot receive tuples")
            .with_note(to.decl.name.span, "declared as a spout here")
            .with_help("only bolts consume streams; declare it as a `bolt` with an input schema"),
        );
    }
    spout
}

/// The index of the producer's stream the edge reads.
fn stream(e: &Edge, producer: &Checked<'_>, diags: &mut Diagnostics) -> Option<usize> {
    if !producer.output_known {
        return None;
    }
    let outputs = &producer.node.outputs;
    let name = &producer.node.name;
    if outputs.is_empty() {
        diags.push(
            Diagnostic::error(
                "E0311",
                format!("`{name}` has no output to send"),
                e.from.span,
            )
            .with_label("this component is a sink")
            .with_note(producer.decl.name.span, "declared without `->` here")
            .with_help("give it an output: `-> Schema`"),
        );
        return None;
    }
    let declared = producer.declared_outputs().len();
    match &e.stream {
        None if declared == 1 => Some(0),
        None => {
            let names = list(outputs.iter().map(|s| s.name.as_str()));
            diags.push(
                Diagnostic::error(
                    "E0308",
                    format!("`{name}` has several streams; name one"),
                    e.from.span,
                )
                .with_label("which stream?")
                .with_help(format!(
                    "write `{name}.stream -> {}`; its streams are {names}",
                    e.to.name
                )),
            );
            None
        }
        Some(s) => {
            if let Some(i) = outputs.iter().position(|o| o.name == s.name)
                && (producer.stream_set
                    || s.name == "default"
                    || producer.failed_stream == Some(i)
                    || producer.late_stream == Some(i))
            {
                return Some(i);
            }
            diags.push(unknown_stream(e, s, producer));
            None
        }
    }
}

/// `E0302`, with a help line for what the producer does offer.
fn unknown_stream(e: &Edge, s: &Ident, producer: &Checked<'_>) -> Diagnostic {
    let name = &producer.node.name;
    let outputs = &producer.node.outputs;
    let names = || list(outputs.iter().map(|s| s.name.as_str()));
    let d = Diagnostic::error(
        "E0302",
        format!("`{name}` has no stream `{}`", s.name),
        s.span,
    )
    .with_label("unknown stream");
    if producer.stream_set {
        return match similar(&s.name, outputs.iter().map(|o| o.name.as_str())) {
            Some(close) => d.with_help(format!(
                "did you mean `{close}`? its streams are {}",
                names()
            )),
            None => d.with_help(format!("its streams are {}", names())),
        };
    }
    let to = &e.to.name;
    if producer.failed_stream.is_some() {
        return d.with_help(format!(
            "`{name}` has two streams, its output and `{FAILED_STREAM}`: write `{name} -> {to}` \
             or `{name}.{FAILED_STREAM} -> {to}`"
        ));
    }
    if s.name == FAILED_STREAM && producer.node.kind == ComponentKind::Spout {
        return d.with_help(format!(
            "only a spout that retries has a `{FAILED_STREAM}` stream: add `attempts N` to \
             the spout `{name}` to give it one"
        ));
    }
    d.with_help(format!(
        "`{name}` has a single output stream; write `{name} -> {to}` without a stream name"
    ))
}

/// `E0303`: the producer's stream carries the consumer's input schema. Into a stream-set
/// input, the edge feeds one of its streams: the one it names (`-> pay.orders`, `E0313` if
/// there is none such), else the one stream of the sent schema (`E0312` when several
/// are); a stream of the set itself (a join's `late` stream) feeds it whole. Returns
/// `Some(that stream's index)`, `Some(None)` when the edge feeds the whole input, `None`
/// when it was reported.
fn schemas(
    e: &Edge,
    producer: &Checked<'_>,
    stream: usize,
    consumer: &Checked<'_>,
    diags: &mut Diagnostics,
) -> Option<Option<usize>> {
    let (Some(input), true) = (&consumer.decl.input, consumer.input_known) else {
        return Some(None);
    };
    let sent = &producer.node.outputs[stream].schema;
    let what = match &e.stream {
        Some(s) => format!("`{}.{}`", e.from.name, s.name),
        None => format!("`{}`", e.from.name),
    };
    let Some(streams) = &consumer.input_streams else {
        if let Some(named) = &e.input {
            diags.push(
                Diagnostic::error(
                    "E0313",
                    format!(
                        "`{}` consumes the tuple `{}`, which has no streams to name",
                        e.to.name, input.name
                    ),
                    named.span,
                )
                .with_label("not a stream of the input")
                .with_note(input.span, format!("`{}` consumes `{}`", e.to.name, input.name))
                .with_help(format!(
                    "write `... -> {}`; an input stream is named only when the input is a stream set",
                    e.to.name
                )),
            );
            return None;
        }
        if *sent != input.name {
            diags.push(mismatch(
                e,
                &what,
                sent,
                &e.to.name,
                &input.name,
                input.span,
            ));
            return None;
        }
        return Some(None);
    };
    if *sent == input.name && e.input.is_none() {
        return Some(None);
    }
    let names = || list(streams.iter().map(|s| s.name.as_str()));
    if let Some(named) = &e.input {
        let Some(i) = streams.iter().position(|s| s.name == named.name) else {
            let help = match similar(&named.name, streams.iter().map(|s| s.name.as_str())) {
                Some(close) => format!("did you mean `{close}`? its streams are {}", names()),
                None => format!("its streams are {}", names()),
            };
            diags.push(
                Diagnostic::error(
                    "E0313",
                    format!(
                        "the input `{}` of `{}` has no stream `{}`",
                        input.name, e.to.name, named.name
                    ),
                    named.span,
                )
                .with_label("unknown input stream")
                .with_note(
                    input.span,
                    format!("`{}` consumes the stream set `{}`", e.to.name, input.name),
                )
                .with_help(help),
            );
            return None;
        };
        if streams[i].schema != *sent {
            let into = format!("`{}.{}`", e.to.name, named.name);
            diags.push(mismatch(
                e,
                &what,
                sent,
                &into,
                &streams[i].schema,
                input.span,
            ));
            return None;
        }
        return Some(Some(i));
    }
    let matching: Vec<usize> = (0..streams.len())
        .filter(|&i| streams[i].schema == *sent)
        .collect();
    match matching.as_slice() {
        [i] => Some(Some(*i)),
        [] => {
            let schemas = list(streams.iter().map(|s| s.schema.as_str()));
            diags.push(
                Diagnostic::error(
                    "E0303",
                    format!(
                        "schema mismatch: {what} sends `{sent}` but no stream of `{}`'s input `{}` carries it",
                        e.to.name, input.name
                    ),
                    e.span,
                )
                .with_label(format!("this edge carries `{sent}`"))
                .with_note(input.span, format!("`{}` consumes the stream set `{}`, of {schemas}", e.to.name, input.name))
                .with_help("connect a producer of one of those schemas, or convert with a `map` bolt"),
            );
            None
        }
        several => {
            let candidates = list(several.iter().map(|&i| streams[i].name.as_str()));
            diags.push(
                Diagnostic::error(
                    "E0312",
                    format!(
                        "`{}` has several input streams of `{sent}`; name the one this edge feeds",
                        e.to.name
                    ),
                    e.to.span,
                )
                .with_label("which input stream?")
                .with_note(
                    input.span,
                    format!("`{}` consumes the stream set `{}`", e.to.name, input.name),
                )
                .with_help(format!(
                    "write `{} -> {}.stream`; the streams of `{sent}` are {candidates}",
                    edge_source(e),
                    e.to.name
                )),
            );
            None
        }
    }
}

/// `E0303`: `what` sends `sent`, but `into` expects `expected` (declared at `input`).
fn mismatch(
    e: &Edge,
    what: &str,
    sent: &str,
    into: &str,
    expected: &str,
    input: Span,
) -> Diagnostic {
    let into = if into.starts_with('`') {
        into.to_string()
    } else {
        format!("`{into}`")
    };
    Diagnostic::error(
        "E0303",
        format!("schema mismatch: {what} sends `{sent}` but {into} expects `{expected}`"),
        e.span,
    )
    .with_label(format!("this edge carries `{sent}`"))
    .with_note(input, format!("{into} consumes `{expected}`"))
    .with_help("connect a producer of the right schema, or convert with a `map` bolt")
}

/// `E0305`/`E0306`: the `direct` grouping exactly on direct streams.
fn direct_rules(
    e: &Edge,
    producer: &Checked<'_>,
    stream: usize,
    direct: bool,
    diags: &mut Diagnostics,
) {
    let is_direct_grouping = e.grouping.kind == GroupingKind::Direct;
    let stream_name = &producer.node.outputs[stream].name;
    let failed = producer.failed_stream == Some(stream);
    let which = if producer.stream_set || failed {
        format!("the stream `{}.{stream_name}`", e.from.name)
    } else {
        format!("the output of `{}`", e.from.name)
    };
    if is_direct_grouping && !direct {
        let (note, help) = if failed {
            (
                "the `failed` stream comes from `attempts` here",
                "the `failed` stream is never direct: group it another way, such as `shuffle`",
            )
        } else {
            (
                "declared here",
                "declare the stream `direct` (`-> direct Schema`, or `name: direct Schema` in a stream set)",
            )
        };
        diags.push(
            Diagnostic::error(
                "E0305",
                format!("`direct` grouping on {which}, which is not direct"),
                e.grouping.span,
            )
            .with_label("the producer does not choose the receiving task")
            .with_note(declared_at(producer, stream), note)
            .with_help(help),
        );
    } else if direct && !is_direct_grouping {
        diags.push(
            Diagnostic::error(
                "E0306",
                format!(
                    "{which} is direct, but the edge groups it by `{}`",
                    e.grouping.kind.keyword()
                ),
                e.grouping.span,
            )
            .with_label("a direct stream needs the `direct` grouping")
            .with_note(declared_at(producer, stream), "declared direct here")
            .with_help(format!(
                "write `{} -> {} : direct`",
                edge_source(e),
                e.to.name
            )),
        );
    }
}

/// Where the producer declares `stream`: its output, or `attempts` for its `failed` stream.
fn declared_at(producer: &Checked<'_>, stream: usize) -> Span {
    let decl = producer.decl;
    if producer.failed_stream == Some(stream)
        && let Some(attempts) = decl.attempts
    {
        return attempts.span;
    }
    decl.output.as_ref().map_or(decl.span, |o| o.span)
}

fn edge_source(e: &Edge) -> String {
    match &e.stream {
        Some(s) => format!("{}.{}", e.from.name, s.name),
        None => e.from.name.clone(),
    }
}

/// `E0304`: `fields(x)` and `partial_key(x)` name fields of the stream's schema (declared
/// tuples only; an imported schema's fields are checked by rustc).
fn fields(e: &Edge, schema: &str, scope: &Scope<'_>, diags: &mut Diagnostics) {
    let (GroupingKind::Fields(names) | GroupingKind::PartialKey(names)) = &e.grouping.kind else {
        return;
    };
    if let Some(super::scope::TypeDef::Set(_)) = scope.resolve(schema) {
        diags.push(
            Diagnostic::error(
                "E0304",
                format!("`{schema}` is a stream set: it has no fields to group by"),
                e.grouping.span,
            )
            .with_label("a grouping by fields")
            .with_help(
                "group a stream set's tuples by `shuffle`, `global`, `all` or `custom(...)`",
            ),
        );
        return;
    }
    let Some(decl) = scope.fields(schema) else {
        return;
    };
    let known = || decl.iter().map(|f| f.name.name.as_str());
    for name in names {
        if known().any(|f| f == name.name) {
            continue;
        }
        let help = match similar(&name.name, known()) {
            Some(close) => format!(
                "did you mean `{close}`? `{schema}` has the fields {}",
                list(known())
            ),
            None if decl.is_empty() => format!("`{schema}` has no fields"),
            None => format!("`{schema}` has the fields {}", list(known())),
        };
        diags.push(
            Diagnostic::error(
                "E0304",
                format!("tuple `{schema}` has no field `{}`", name.name),
                name.span,
            )
            .with_label("unknown field")
            .with_help(help),
        );
    }
}

fn grouping(kind: &GroupingKind) -> Grouping {
    let names = |v: &[Ident]| v.iter().map(|i| i.name.clone()).collect();
    match kind {
        GroupingKind::Shuffle => Grouping::Shuffle,
        GroupingKind::Fields(f) => Grouping::Fields(names(f)),
        GroupingKind::All => Grouping::All,
        GroupingKind::Global => Grouping::Global,
        GroupingKind::None => Grouping::None,
        GroupingKind::Direct => Grouping::Direct,
        GroupingKind::LocalOrShuffle => Grouping::LocalOrShuffle,
        GroupingKind::Custom(p) => Grouping::Custom(p.text.clone()),
        GroupingKind::PartialKey(f) => Grouping::PartialKey(names(f)),
    }
}

/// `E0407`: a bolt that no edge feeds would never run.
///
/// An edge to an unknown component (`E0301`) was meant for some bolt: not for the one its
/// "did you mean" names, and, when nothing is close, perhaps for any. Those bolts are not
/// reported as unfed: the fix of the first error feeds them.
fn unfed_bolts(topology: &Topology, components: &[Checked<'_>], diags: &mut Diagnostics) {
    let names: Vec<&str> = components.iter().map(|c| c.node.name.as_str()).collect();
    let unknown_targets: Vec<Option<&str>> = topology
        .edges
        .iter()
        .filter(|e| !names.contains(&e.to.name.as_str()))
        .map(|e| similar(&e.to.name, names.iter().copied()))
        .collect();
    for c in components {
        if c.node.kind != ComponentKind::Bolt || c.decl.input.is_none() {
            continue;
        }
        if topology.edges.iter().any(|e| e.to.name == c.node.name) {
            continue;
        }
        let meant = |t: &Option<&str>| t.is_none_or(|t| t == c.node.name);
        if unknown_targets.iter().any(meant) {
            continue;
        }
        diags.push(
            Diagnostic::error(
                "E0407",
                format!("bolt `{}` has no input edge", c.node.name),
                c.decl.name.span,
            )
            .with_label("nothing sends tuples here")
            .with_help(format!("connect a producer: `producer -> {}`", c.node.name)),
        );
    }
}
