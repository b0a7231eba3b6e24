//! Compiles the benchmark topologies.
fn main() {
    for t in [
        "fused_chain",
        "unfused_chain",
        "wc_p1",
        "wc_p2",
        "wc_p2_acked",
        "win_p1",
        "win_p2",
        "join_p1",
        "join_p2",
        "ck_1s",
        "ck_10s",
        "kc_u64_p1",
        "kc_u64_p2",
        "kc_emit_p2",
        "kc_str_p1",
        "kc_str_p2",
        "kc_inline_p1",
        "kc_inline_p2",
        "kc_acked_p2",
        "kc_cluster",
    ] {
        gale_compiler::compile_or_exit(format!("topologies/{t}.topo"));
    }
}
