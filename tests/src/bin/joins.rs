//! The `joins` topology binary the join test submits to a cluster.

fn main() -> std::process::ExitCode {
    gale::main(gale_tests::joins::topology())
}
