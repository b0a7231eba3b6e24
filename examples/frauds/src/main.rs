//! Fraud detection on event time, as a Gale topology binary: per-card sliding sums over
//! out-of-order transactions, alerts over a limit, sessions of activity, and the
//! transactions that come too late printed on their own.
//!
//! ```text
//! cargo run -p frauds -- run
//! cargo run -p frauds -- run --set disorder=8000 --set limit=20000
//! ```

mod ops;

gale::include_topology!("frauds");

fn main() -> std::process::ExitCode {
    gale::main(frauds::topology())
}
