//! The `exactly_once_rescaled` topology binary: `exactly_once` with another task count,
//! which the savepoint test restores into.

fn main() -> std::process::ExitCode {
    gale::main(gale_tests::exactly_once_rescaled::topology())
}
