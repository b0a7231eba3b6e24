//! The fraud-detection topology as a binary.
//!
//! ```text
//! cargo run -p frauds -- run
//! cargo run -p frauds -- run --set disorder=8000 --set limit=20000
//! ```

fn main() -> std::process::ExitCode {
    gale::main(frauds::frauds::topology())
}
