//! Spout retry policies, `attempts N backoff D`: only spouts replay (`E0412`), `backoff`
//! needs `attempts` (`E0413`), the attempts are between 1 and `u32::MAX` (`E0414`), the
//! spout emits one schema (`E0415`), and the topology acks (`E0504`).
//!
//! A policy gives its spout one more output stream, `failed`, after its own: it carries the
//! spout's tuples that failed their last attempt.

use super::config::require_acking;
use crate::ast::{Clause, Component, ComponentKind, ConfigBlock};
use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::graph::{DEFAULT_BACKOFF_MS, FAILED_STREAM, OutStream, Retry};

/// What a component's `attempts` and `backoff` clauses give it.
#[derive(Default)]
pub(crate) struct Policy {
    /// The policy, when it is valid.
    pub retry: Option<Retry>,
    /// The index of the `failed` stream appended to the outputs. It is appended whenever
    /// `attempts` is written on a spout with one output schema, even a wrong one, so that
    /// edges from it are checked without a cascade of unknown streams.
    pub failed_stream: Option<usize>,
}

/// Checks `c`'s retry clauses and appends the `failed` stream to `outputs` when it has one.
///
/// `stream_set` tells whether `outputs` come from a stream set; `configs` are the
/// topology's `config` blocks (a policy needs `guarantee = at_least_once`).
pub(crate) fn check(
    c: &Component,
    outputs: &mut Vec<OutStream>,
    stream_set: bool,
    configs: &[ConfigBlock],
    diags: &mut Diagnostics,
) -> Policy {
    if c.kind == ComponentKind::Bolt {
        for (keyword, clause) in [("attempts", c.attempts), ("backoff", c.backoff)] {
            if let Some(clause) = clause {
                diags.push(on_bolt(c, keyword, clause));
            }
        }
        return Policy::default();
    }
    let Some(attempts) = c.attempts else {
        if let Some(backoff) = c.backoff {
            diags.push(backoff_alone(c, backoff));
        }
        return Policy::default();
    };
    if stream_set {
        diags.push(stream_set_spout(c, attempts));
        return Policy::default();
    }
    let Some(schema) = outputs.first().map(|o| o.schema.clone()) else {
        return Policy::default(); // a spout without output: `E0405`
    };
    require_acking(
        configs,
        &format!("`attempts` on spout `{}`", c.name.name),
        attempts.span,
        "replays failed tuples, which only acking detects",
        diags,
    );
    let failed_stream = outputs.len();
    outputs.push(OutStream {
        name: FAILED_STREAM.to_string(),
        schema,
        direct: false,
        variant: None,
    });
    let retry = count(c, attempts, diags).map(|attempts| Retry {
        attempts,
        backoff_ms: c.backoff.map_or(DEFAULT_BACKOFF_MS, |b| b.value.value),
        failed_stream,
    });
    Policy {
        retry,
        failed_stream: Some(failed_stream),
    }
}

/// `E0412`: `attempts` or `backoff` on a bolt.
fn on_bolt(c: &Component, keyword: &str, clause: Clause) -> Diagnostic {
    Diagnostic::error(
        "E0412",
        format!("bolt `{}` cannot have `{keyword}`", c.name.name),
        clause.span,
    )
    .with_label("only spouts replay tuples")
    .with_help(
        "a tuple that fails in a bolt is replayed by the spout it came from: \
         write `attempts` and `backoff` on that spout",
    )
}

/// `E0413`: `backoff` without `attempts`.
fn backoff_alone(c: &Component, backoff: Clause) -> Diagnostic {
    Diagnostic::error(
        "E0413",
        format!("spout `{}` has `backoff` but no `attempts`", c.name.name),
        backoff.span,
    )
    .with_label("no replay to wait for")
    .with_help(
        "add `attempts N` (how often a tuple is emitted in all, the first emit included), \
         or remove `backoff`",
    )
}

/// `E0415`: `attempts` on a spout that emits a stream set.
fn stream_set_spout(c: &Component, attempts: Clause) -> Diagnostic {
    let d = Diagnostic::error(
        "E0415",
        format!(
            "spout `{}` cannot retry: its output is a stream set",
            c.name.name
        ),
        attempts.span,
    )
    .with_label("`attempts` needs a single output schema");
    let d = match &c.output {
        Some(out) => d.with_note(out.ty.span, "stream set"),
        None => d,
    };
    d.with_help(
        "the `failed` stream carries the spout's tuples, so the spout must emit one schema: \
         `-> Schema`",
    )
}

/// The number of attempts: at least 1, at most `u32::MAX` (`E0414`).
fn count(c: &Component, attempts: Clause, diags: &mut Diagnostics) -> Option<u32> {
    let n = attempts.value;
    let d = match u32::try_from(n.value) {
        Ok(0) => Diagnostic::error(
            "E0414",
            format!("`{}` has attempts 0", c.name.name),
            n.span,
        )
        .with_label("attempts must be at least 1")
        .with_help("the first emit counts: `attempts 1` never replays, `attempts 3` replays up to twice"),
        Ok(v) => return Some(v),
        Err(_) => Diagnostic::error(
            "E0414",
            format!("`{}` has too many attempts", c.name.name),
            n.span,
        )
        .with_label(format!("at most {}", u32::MAX)),
    };
    diags.push(d);
    None
}
