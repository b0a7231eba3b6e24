//! The I/O built-ins' rules: a `file_source`'s output is one `String` field (`E0430`); and
//! the exactly-once sink rule (`E0508`), which no engine checks: a topology that declares
//! `guarantee = exactly_once` and ends in a sink whose writes would repeat after a restart
//! does not build. A restart replays what came after the last checkpoint, so every bolt
//! that ends the topology (no edge leaves it) must write by two-phase commit
//! (`transactional(T)`, `file_sink("dir")`) or say that a repeated write does no harm
//! (`idempotent`). Pure built-ins (`map`, windows, joins...) that end it write nothing
//! outside and pass.

use super::components::Checked;
use super::edges::CheckedEdge;
use super::scope::Scope;
use crate::ast::{Operator, TypeKind};
use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::graph::{Config, Guarantee};

/// Reports every sink of an `exactly_once` topology that is neither transactional nor
/// idempotent.
pub(crate) fn check(
    config: &Config,
    components: &[Checked<'_>],
    edges: &[CheckedEdge<'_>],
    diags: &mut Diagnostics,
) {
    if config.guarantee != Guarantee::ExactlyOnce {
        return;
    }
    for (id, c) in components.iter().enumerate() {
        let decl = c.decl;
        let ends = !edges.iter().any(|e| e.edge.from == id);
        if !ends || decl.kind != crate::ast::ComponentKind::Bolt || decl.idempotent.is_some() {
            continue;
        }
        let writes_outside = match &decl.op {
            Operator::User(_) => true,
            Operator::Builtin(call) => {
                crate::ops::find(&call.name.name).is_some_and(|b| b.writes_outside())
            }
        };
        if !writes_outside {
            continue;
        }
        diags.push(
            Diagnostic::error(
                "E0508",
                format!(
                    "`{}` ends an `exactly_once` topology, but it is not transactional: \
                     after a restart its writes would repeat",
                    decl.name.name
                ),
                decl.op.span(),
            )
            .with_label("a sink that does not commit with checkpoints")
            .with_help(match &decl.op {
                Operator::User(p) => format!(
                    "make `{}` a `gale::TransactionalSink` and write it `transactional({})`, \
                     use `file_sink(\"dir\")`, or add `idempotent` if a repeated write does \
                     no harm",
                    p.text, p.text
                ),
                Operator::Builtin(call) => format!(
                    "`{}` runs your code: write the output through `transactional(T)` or \
                     `file_sink(\"dir\")`, or add `idempotent` if a repeated write does no \
                     harm",
                    call.name.name
                ),
            }),
        );
    }
}

/// `E0430`: the output schema of a `file_source` is not one `String` or `Str` field (a line). An
/// imported schema is not seen here: rustc checks that it is `From<String>`.
pub(crate) fn check_sources(
    components: &[Checked<'_>],
    scope: &Scope<'_>,
    diags: &mut Diagnostics,
) {
    for c in components {
        let decl = c.decl;
        let Operator::Builtin(call) = &decl.op else {
            continue;
        };
        if call.name.name != "file_source" {
            continue;
        }
        let Some(out) = &decl.output else { continue };
        let Some(fields) = scope.fields(&out.ty.name) else {
            continue;
        };
        if let [f] = fields
            && matches!(f.ty.kind, TypeKind::String | TypeKind::Str)
        {
            continue;
        }
        let found = fields
            .iter()
            .map(|f| format!("{}: {}", f.name.name, f.ty.kind))
            .collect::<Vec<_>>()
            .join(", ");
        diags.push(
            Diagnostic::error(
                "E0430",
                format!(
                    "`file_source` emits lines: `{}` must have one field, a `String` or a `Str`",
                    out.ty.name
                ),
                out.ty.span,
            )
            .with_label(format!("{{ {found} }}"))
            .with_help("declare a line tuple: `tuple Line { text: String }` and `-> Line`"),
        );
    }
}

/// `E0431`: a `uid` that cannot name the state's files (empty, a `/`, `.` or `..`, a
/// control character), or that two components share (their state would mix).
pub(crate) fn check_uids(components: &[Checked<'_>], diags: &mut Diagnostics) {
    let mut seen: std::collections::HashMap<&str, &Checked<'_>> = Default::default();
    for c in components {
        let uid = c.node.uid.as_str();
        let span = c.decl.uid.as_ref().map_or(c.decl.name.span, |(_, s)| *s);
        let bad = uid.is_empty()
            || uid == "."
            || uid == ".."
            || uid.contains('/')
            || uid.contains('\\')
            || uid.chars().any(char::is_control);
        if bad {
            diags.push(
                Diagnostic::error(
                    "E0431",
                    format!(
                        "the uid `{uid}` of `{}` cannot name its state",
                        c.decl.name.name
                    ),
                    span,
                )
                .with_label("not a usable id")
                .with_help("a uid is a non-empty name without `/`, such as `\"counter-v2\"`"),
            );
            continue;
        }
        if let Some(first) = seen.insert(uid, c)
            // Two components of one name are `E0104` already.
            && first.decl.name.name != c.decl.name.name
        {
            let first_span = first
                .decl
                .uid
                .as_ref()
                .map_or(first.decl.name.span, |(_, s)| *s);
            diags.push(
                Diagnostic::error(
                    "E0431",
                    format!(
                        "`{}` and `{}` have the same uid `{uid}`: their state would mix",
                        first.decl.name.name, c.decl.name.name
                    ),
                    span,
                )
                .with_label("the same uid again")
                .with_note(first_span, "first here")
                .with_help("give each stateful component its own `uid \"...\"`"),
            );
        }
    }
}

/// `E0432`: two `file_sink`s writing to the same directory (their part files, named by
/// task, would overwrite each other's, and each one's recovery would delete the other's).
pub(crate) fn check_sink_dirs(components: &[Checked<'_>], diags: &mut Diagnostics) {
    let mut seen: std::collections::HashMap<&str, &Checked<'_>> = Default::default();
    for c in components {
        let Operator::Builtin(call) = &c.decl.op else {
            continue;
        };
        if call.name.name != "file_sink" {
            continue;
        }
        let Some(crate::ast::OpArg::Str { value, span }) = call.args.first() else {
            continue;
        };
        if let Some(first) = seen.insert(value, c) {
            let first_span = match &first.decl.op {
                Operator::Builtin(f) => f.args.first().map_or(f.span, |a| a.span()),
                Operator::User(p) => p.span,
            };
            diags.push(
                Diagnostic::error(
                    "E0432",
                    format!(
                        "`{}` and `{}` both write to `{value}`",
                        first.decl.name.name, c.decl.name.name
                    ),
                    *span,
                )
                .with_label("the same directory again")
                .with_note(first_span, "first here")
                .with_help("give each file sink its own directory"),
            );
        }
    }
}
