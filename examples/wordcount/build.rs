//! Compiles the topology into `$OUT_DIR/wordcount.rs`.
fn main() {
    gale_compiler::compile_or_exit("topologies/wordcount.topo");
}
