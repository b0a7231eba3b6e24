//! Unit tests of the checker on whole sources; the UI fixtures cover each diagnostic.

use crate::graph::{Grouping, Guarantee};

fn graph(src: &str) -> crate::graph::Graph {
    match crate::front_end("t.topo", src) {
        Ok(g) => g,
        Err(d) => panic!("{}", d.render("t.topo", src)),
    }
}

fn codes(src: &str) -> Vec<&'static str> {
    match crate::front_end("t.topo", src) {
        Ok(_) => panic!("expected errors"),
        Err(d) => d.items.iter().map(|d| d.code).collect(),
    }
}

#[test]
fn word_count_graph() {
    let g = graph(include_str!("../../tests/ui/pass/wordcount.topo"));
    assert_eq!(g.name, "wordcount");
    assert_eq!(g.file_name, "t.topo");
    assert_eq!(
        g.uses,
        ["crate::ops::{RandomSentences, SplitWords, CountWords, Print}"]
    );
    assert_eq!(g.config.guarantee, Guarantee::AtLeastOnce);
    assert_eq!(g.config.workers, 2);
    let names: Vec<&str> = g.components.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["sentences", "split", "count", "print"]);
    let count = &g.components[2];
    assert_eq!((count.parallelism, count.tasks), (4, 8));
    assert_eq!(count.input.as_deref(), Some("Word"));
    assert_eq!(count.output_type.as_deref(), Some("Count"));
    assert_eq!(count.outputs[0].name, "default");
    assert_eq!(g.components[3].outputs, []);
    assert_eq!(g.components[3].output_type, None);
    assert_eq!(g.edges[1].grouping, Grouping::Fields(vec!["word".into()]));
    assert_eq!((g.edges[1].from, g.edges[1].to), (1, 2));
    assert_eq!(g.components[0].line, 11);
    assert_eq!(g.components[0].column, 5);
}

#[test]
fn stream_sets_and_defaults() {
    let g = graph(
        "use x::{S, Sink};
         tuple A { v: u32 }
         streams R { ok: A, high_temp: direct A }
         topology t {
            spout s = S -> A
            bolt r = S(A) -> R parallelism 3
            bolt f = filter(keep)(A)
            bolt k = Sink(A)
            s -> r
            r.ok -> f
            r.high_temp -> k : direct
         }",
    );
    let r = &g.components[1];
    assert_eq!((r.parallelism, r.tasks), (3, 3));
    assert_eq!(r.output_type.as_deref(), Some("R"));
    assert_eq!(r.outputs[1].variant.as_deref(), Some("HighTemp"));
    assert!(r.outputs[1].direct);
    assert_eq!(g.edges[2].stream, 1);
    assert_eq!(g.edges[0].grouping, Grouping::Shuffle);
    let f = &g.components[2];
    assert_eq!(f.output_type.as_deref(), Some("A"));
    assert_eq!(f.outputs[0].schema, "A");
    assert_eq!(g.stream_sets[0].streams[0].variant.as_deref(), Some("Ok"));
}

#[test]
fn all_errors_reported() {
    let c = codes(
        "tuple A { v: u32 }
         topology t {
            spout s = S -> A parallelism 0
            bolt b = B(A) -> Nope
            s -> c
            s -> b : fields(w)
         }",
    );
    assert_eq!(c, ["E0401", "E0201", "E0301", "E0304"]);
}

#[test]
fn no_topology() {
    assert_eq!(codes("tuple A { v: u32 }"), ["E0101"]);
}

#[test]
fn retry_policy_and_failed_stream() {
    let g = graph(
        "use x::{S, W, Sink};
         topology t {
            config { guarantee = at_least_once }
            spout s = S -> W attempts 4 parallelism 2
            spout q = S -> W backoff 1s attempts 2
            bolt a = Sink(W)
            bolt b = Sink(W)
            s -> a
            s.failed -> b
            q.default -> a
         }",
    );
    let s = &g.components[0];
    let retry = s.retry.expect("a retry policy");
    assert_eq!((retry.attempts, retry.backoff_ms), (4, 100));
    assert_eq!(retry.failed_stream, 1);
    assert_eq!(s.outputs[1].name, "failed");
    assert_eq!(s.outputs[1].schema, "W");
    assert!(!s.outputs[1].direct);
    assert_eq!(s.declared_outputs().len(), 1);
    assert!(s.is_failed_stream(1) && !s.is_failed_stream(0));
    assert_eq!(g.components[1].retry.map(|r| r.backoff_ms), Some(1_000));
    // An unnamed edge reads the spout's own output, not `failed` (no `E0308`).
    assert_eq!((g.edges[0].stream, g.edges[1].stream), (0, 1));
    assert_eq!(g.edges[2].stream, 0);
    assert_eq!(g.components[2].retry, None);
}

#[test]
fn retry_needs_acking_unless_the_guarantee_is_invalid() {
    let src = |guarantee: &str| {
        format!(
            "use x::{{S, W}}; topology t {{ config {{ guarantee = {guarantee} }} spout s = S -> W attempts 2 }}"
        )
    };
    assert_eq!(codes(&src("at_most_once")), ["E0504"]);
    assert_eq!(codes(&src("exactly_once")), ["E0504"]);
    assert_eq!(codes(&src("at_least_one")), ["E0502"]);
    assert_eq!(codes(&src("3")), ["E0501"]);
}

#[test]
fn failed_edges_check_even_when_the_policy_is_wrong() {
    let c = codes(
        "use x::{S, W, Sink};
         topology t {
            spout s = S -> W attempts 0
            bolt b = Sink(W)
            s.failed -> b
         }",
    );
    assert_eq!(c, ["E0504", "E0414"]);
}

#[test]
fn checkpoint_settings_reach_the_binary_under_exactly_once_only() {
    let src = |config: &str| {
        format!(
            "use x::{{S, W, P}}; topology t {{ config {{ {config} }} spout s = S -> W bolt p = P(W) idempotent s -> p }}"
        )
    };
    let code = |config: &str| crate::compile_str("t.topo", &src(config)).expect("compiles");
    let interval = |code: &str| {
        code.split("interval_ms:")
            .nth(1)
            .and_then(|r| r.split(',').next())
            .map(|v| v.split_whitespace().collect::<String>())
    };
    assert_eq!(
        interval(&code("guarantee = exactly_once")).as_deref(),
        Some("::core::option::Option::Some(10000u64)"),
        "the default interval"
    );
    assert_eq!(
        interval(&code(
            "guarantee = exactly_once, checkpoint_interval = 250ms"
        ))
        .as_deref(),
        Some("::core::option::Option::Some(250u64)")
    );
    assert_eq!(
        interval(&code("guarantee = at_least_once")).as_deref(),
        Some("::core::option::Option::None")
    );
    let g = graph(&src(
        "guarantee = exactly_once, retained_checkpoints = 3, max_concurrent_checkpoints = 2, checkpoint_timeout = 1m",
    ));
    assert_eq!(
        (
            g.config.retained_checkpoints,
            g.config.max_concurrent_checkpoints,
            g.config.checkpoint_timeout_ms
        ),
        (3, 2, 60_000)
    );
}
