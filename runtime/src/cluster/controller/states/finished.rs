//! A finished topology: every worker finished its input. Nothing runs and nothing is
//! restarted: its record stays (listed as `finished`) until `gale kill` removes it, and a
//! lost supervisor or a silent worker is no reason to run any of it again.

use crate::cluster::controller::{Decision, State, Topo};
use std::time::Instant;

/// Nothing to do.
pub fn step(_state: &State, _topo: &Topo, _now: Instant) -> Decision {
    Decision::default()
}
