//! Snapshots of the plan and the generated Rust for the examples' `.topo` files and a few
//! of the UI pass fixtures. Review a
//! changed snapshot with `cargo insta review` (or `INSTA_UPDATE=always`); never hand-edit.

use std::path::Path;

fn load(rel: &str) -> (String, String) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(rel);
    let source = std::fs::read_to_string(&path).expect("read the example .topo");
    (rel.to_string(), source)
}

#[test]
fn wordcount_generated_code() {
    let (name, source) = load("examples/wordcount/topologies/wordcount.topo");
    let code = gale_compiler::compile_str(&name, &source).expect("wordcount compiles");
    insta::assert_snapshot!("wordcount_rs", code);
}

#[test]
fn wordcount_plan() {
    let (name, source) = load("examples/wordcount/topologies/wordcount.topo");
    let graph = gale_compiler::front_end(&name, &source).expect("wordcount checks");
    insta::assert_debug_snapshot!("wordcount_plan", gale_compiler::plan::plan(&graph));
}

#[test]
fn fused_chain_plan_fuses_every_none_edge() {
    let (name, source) = load("bench/topologies/fused_chain.topo");
    let graph = gale_compiler::front_end(&name, &source).expect("checks");
    let plan = gale_compiler::plan::plan(&graph);
    assert_eq!(plan.chains.len(), 1);
    assert_eq!(plan.chains[0].members, vec![0, 1, 2, 3, 4]);
    insta::assert_snapshot!(
        "fused_chain_rs",
        gale_compiler::codegen::generate(&graph, &plan)
    );
}

#[test]
fn retry_spouts_plan_never_fuses_the_failed_stream() {
    let (name, source) = load("compiler/tests/ui/pass/retry.topo");
    let graph = gale_compiler::front_end(&name, &source).expect("checks");
    let plan = gale_compiler::plan::plan(&graph);
    let edge = |from: &str, stream: &str| {
        graph
            .edges
            .iter()
            .position(|e| {
                let c = &graph.components[e.from];
                c.name == from && c.outputs[e.stream].name == stream
            })
            .expect("edge")
    };
    // `lines.failed -> dead : none` comes first, with equal parallelism: still not fused.
    assert!(!plan.fused[edge("lines", "failed")]);
    assert!(plan.fused[edge("lines", "default")]);
    insta::assert_snapshot!("retry_rs", gale_compiler::codegen::generate(&graph, &plan));
}

#[test]
fn keyed_process_generated_code_keys_by_the_edge_fields() {
    let (name, source) = load("tests/topologies/keyed_state.topo");
    let code = gale_compiler::compile_str(&name, &source).expect("compiles");
    assert!(
        code.contains("ProcessOp::keyed("),
        "fed by fields(user): keyed"
    );
    insta::assert_snapshot!("keyed_state_rs", code);
}

#[test]
fn windows_generated_code() {
    let (name, source) = load("tests/topologies/windows.topo");
    let code = gale_compiler::compile_str(&name, &source).expect("compiles");
    assert!(
        code.contains("WindowOutputs::new("),
        "the late stream is routed"
    );
    insta::assert_snapshot!("windows_rs", code);
}

#[test]
fn a_ttl_reaches_the_operators_it_is_given_to() {
    let (name, source) = load("tests/topologies/state_ttl.topo");
    let code = gale_compiler::compile_str(&name, &source).expect("compiles");
    assert_eq!(
        code.matches(".with_ttl(100u64)").count(),
        2,
        "`fresh` and `fresh_windows`, not the two without a ttl"
    );
    insta::assert_snapshot!("state_ttl_rs", code);
}

#[test]
fn exactly_once_io_builtins_and_restart_strategy_reach_the_generated_code() {
    let (name, source) = load("tests/topologies/exactly_once.topo");
    let code = gale_compiler::compile_str(&name, &source).expect("compiles");
    let flat: String = code.split_whitespace().collect();
    assert!(
        flat.contains("FileSource::<Line,>::new(\"${input}\""),
        "the file source"
    );
    assert!(
        flat.contains("TransactionalOp::new(__gale::FileSink::<Count>::new(\"${output}\"),)"),
        "the file sink, by two-phase commit"
    );
    assert!(
        flat.contains(
            "restart:__gale::RestartStrategy::FixedDelay{attempts:1000u32,delay_ms:10u64,}"
        ),
        "restart_strategy = fixed_delay, its attempts and delay"
    );
    insta::assert_snapshot!("exactly_once_rs", code);
}
