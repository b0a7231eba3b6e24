//! Compiles the topology into `$OUT_DIR/frauds.rs`.
fn main() {
    gale_compiler::compile_or_exit("topologies/frauds.topo");
}
