//! The `windows_properties` topology binary the window property test submits to a cluster.

fn main() -> std::process::ExitCode {
    gale::main(gale_tests::windows_properties::topology())
}
