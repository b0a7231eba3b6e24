//! Fraud detection on event time, as a Gale topology: per-card sliding sums over
//! out-of-order transactions, alerts over a limit, sessions of activity, transactions
//! joined with the card's logins of the seconds before, and the transactions that come too
//! late printed on their own.
//!
//! The binary (`src/main.rs`) runs it; the generators are public so that tests can compute
//! what it must print.

pub mod ops;

gale::include_topology!("frauds");
