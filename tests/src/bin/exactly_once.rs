//! The `exactly_once` topology binary the exactly-once tests run and kill.

fn main() -> std::process::ExitCode {
    gale::main(gale_tests::exactly_once::topology())
}
