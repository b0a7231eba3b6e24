//! State schemas and savepoint compatibility. Every component has a stable id for its
//! state (its name, or `uid "..."`) and a *state schema*: a description of what its state
//! in a checkpoint is made of (the operator, the key it is kept by with its types, the
//! schema of its input), recorded in the binary and in every checkpoint's metadata. A
//! restore from a savepoint whose schema for an operator differs is refused at run time,
//! naming the operator; [`check_savepoint`] (`gale check --savepoint DIR`, or
//! `compile_against_savepoint` in `build.rs`) reports the same before deploy, as
//! diagnostics at the `.topo` lines of the operators (`E0701`, `E0702`), which no engine
//! does.

use crate::ast::{ComponentKind, Operator, Span};
use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::graph::Graph;
use std::path::Path;

/// The state schema of component `c` (empty: it keeps no state).
pub fn state_schema(graph: &Graph, c: usize) -> String {
    let node = &graph.components[c];
    let schema = |name: &str| match graph.tuple(name) {
        Some(t) => {
            let fields: Vec<String> = t
                .fields
                .iter()
                .map(|(n, ty)| format!("{n}: {}", ty.kind))
                .collect();
            format!("{name} {{ {} }}", fields.join(", "))
        }
        None => name.to_string(),
    };
    let input = node.input.as_deref().map(schema).unwrap_or_default();
    let key = crate::codegen::wiring::key_fields(graph, c).map(|fields| {
        let types = node.input.as_deref().and_then(|i| graph.tuple(i));
        let typed: Vec<String> = fields
            .iter()
            .map(
                |f| match types.and_then(|t| t.fields.iter().find(|(n, _)| n == f)) {
                    Some((_, ty)) => format!("{f}: {}", ty.kind),
                    None => f.clone(),
                },
            )
            .collect();
        format!("({})", typed.join(", "))
    });
    let text: String = node.op.text().split_whitespace().collect();
    match &node.op {
        Operator::User(_) => match node.kind {
            ComponentKind::Spout => format!("spout {text}"),
            ComponentKind::Bolt => format!("bolt {text} of {input}"),
        },
        Operator::Builtin(call) => match call.name.name.as_str() {
            "map" | "filter" | "flat_map" => String::new(),
            "file_source" => "file_source: position".to_string(),
            "file_sink" => format!("file_sink of {input}: pre-committed parts"),
            "transactional" => format!("{text} of {input}: pre-committed transactions"),
            _ => match key {
                Some(k) => format!("{text} keyed by {k} of {input}"),
                None => format!("{text} of {input}"),
            },
        },
    }
}

/// An operator's state in a savepoint's metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedOperator {
    /// Its uid.
    pub uid: String,
    /// Its state schema then.
    pub schema: String,
    /// The savepoint holds state of it (one that kept none may change freely).
    pub has_state: bool,
}

/// Why a savepoint could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SavepointReadError {
    /// The directory or its metadata could not be read.
    #[error("`{path}`: {source}")]
    Io {
        /// The file or directory.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// No complete checkpoint (`chk-*/_metadata`) in it.
    #[error("`{0}` holds no complete savepoint (no `chk-*/_metadata`)")]
    Empty(String),
    /// The metadata is not Gale's.
    #[error("`{path}` is not a Gale checkpoint's metadata: {what}")]
    Bad {
        /// The file.
        path: String,
        /// What is wrong.
        what: String,
    },
}

/// The operators recorded in the newest complete checkpoint under `dir` (a savepoint's
/// directory, as `savepoint --dir` writes it, or a checkpoint directory).
pub fn read_savepoint(dir: &Path) -> Result<Vec<SavedOperator>, SavepointReadError> {
    let io = |path: &Path| {
        let path = path.display().to_string();
        move |source| SavepointReadError::Io { path, source }
    };
    let mut metas: Vec<_> = std::fs::read_dir(dir)
        .map_err(io(dir))?
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("chk-"))
        .map(|e| e.path().join("_metadata"))
        .filter(|m| m.exists())
        .collect();
    metas.sort();
    let meta = metas
        .pop()
        .ok_or_else(|| SavepointReadError::Empty(dir.display().to_string()))?;
    let text = std::fs::read_to_string(&meta).map_err(io(&meta))?;
    let bad = |what: &str| SavepointReadError::Bad {
        path: meta.display().to_string(),
        what: what.to_string(),
    };
    let body = text
        .strip_prefix("gale-checkpoint 1 ")
        .and_then(|t| t.split_once('\n'))
        .map(|(_, b)| b)
        .ok_or_else(|| bad("no `gale-checkpoint 1` header"))?;
    let json: serde_json::Value =
        serde_json::from_str(body).map_err(|e| bad(&format!("unreadable JSON: {e}")))?;
    let ops = json
        .get("operators")
        .and_then(|o| o.as_object())
        .ok_or_else(|| bad("no `operators`"))?;
    let with_state: std::collections::BTreeSet<&str> = json
        .get("states")
        .and_then(|s| s.as_array())
        .into_iter()
        .flatten()
        .filter_map(|s| s.get("operator")?.as_str())
        .collect();
    Ok(ops
        .iter()
        .map(|(uid, o)| SavedOperator {
            has_state: with_state.contains(uid.as_str()),
            uid: uid.clone(),
            schema: o
                .get("schema")
                .and_then(|s| s.as_str())
                .unwrap_or_default()
                .to_string(),
        })
        .collect())
}

/// Checks `graph` against the operators of a savepoint: `E0701` for an operator whose
/// state schema changed, `E0702` for state in the savepoint that no operator would take.
/// `topology: Span` is where the topology is declared (what `E0702` points at).
pub fn check_against(
    graph: &Graph,
    saved: &[SavedOperator],
    topology: Span,
    diags: &mut Diagnostics,
) {
    for s in saved {
        let found = graph.components.iter().position(|n| n.uid == s.uid);
        if !s.has_state {
            continue;
        }
        let Some(c) = found else {
            diags.push(
                Diagnostic::error(
                    "E0702",
                    format!(
                        "the savepoint holds the state of `{}`, which this topology does \
                         not have",
                        s.uid
                    ),
                    topology,
                )
                .with_label("no operator here takes it")
                .with_help(format!(
                    "a restore would drop it: keep an operator with `uid \"{}\"`, or \
                     take a savepoint of a topology without it",
                    s.uid
                )),
            );
            continue;
        };
        let now = state_schema(graph, c);
        if now != s.schema {
            let node = &graph.components[c];
            diags.push(
                Diagnostic::error(
                    "E0701",
                    format!(
                        "the state of `{}` in the savepoint is not what it keeps now",
                        node.name
                    ),
                    node.op.span(),
                )
                .with_label(format!("now: {now}"))
                .with_help(format!(
                    "the savepoint has `{}`; a restore would be refused. Keep the operator \
                     as it was, or give the new one another `uid` (it then starts empty)",
                    s.schema
                )),
            );
        }
    }
}

/// Checks the `.topo` file `source` (named `file_name`) against the savepoint in `dir`:
/// its own diagnostics first; then, if it is sound, `E0701`/`E0702`.
pub fn check_savepoint(file_name: &str, source: &str, dir: &Path) -> Result<(), Diagnostics> {
    let graph = crate::front_end(file_name, source)?;
    // The topology's name in its declaration.
    let topology = source
        .find(&format!("topology {}", graph.name))
        .map_or(Span::new(0, 0), |at| {
            let start = at + "topology ".len();
            Span::new(start, start + graph.name.len())
        });
    let saved = read_savepoint(dir).map_err(|e| {
        let mut d = Diagnostics::default();
        d.push(
            Diagnostic::error("E0703", format!("cannot read the savepoint: {e}"), topology)
                .with_label("checked against it"),
        );
        d
    })?;
    let mut diags = Diagnostics::default();
    check_against(&graph, &saved, topology, &mut diags);
    if diags.has_errors() {
        Err(diags)
    } else {
        Ok(())
    }
}
