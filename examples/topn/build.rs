//! Compiles the topology into `$OUT_DIR/topn.rs`.
fn main() {
    gale_compiler::compile_or_exit("topologies/topn.topo");
}
