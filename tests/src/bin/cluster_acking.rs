//! The `cluster_acking` topology binary the cluster tests submit.

fn main() -> std::process::ExitCode {
    gale::main(gale_tests::cluster_acking::topology())
}
