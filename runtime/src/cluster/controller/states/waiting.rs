//! A topology with fewer workers than its plan asks for (none, at first): whenever the
//! free slots change, it is placed anew on as many as it can get (all its workers restart
//! then, with the executors spread over the new worker count). Meanwhile the workers it
//! has are watched as a running topology's are.

use super::running;
use crate::cluster::controller::placement::place_all;
use crate::cluster::controller::{Decision, Effect, State, Topo};
use std::time::Instant;

/// Places `topo` on more slots if there are; else watches its workers.
pub fn step(state: &State, topo: &Topo, now: Instant) -> Decision {
    let Some(placed) = place_all(state, topo, false, now) else {
        return running::step(state, topo, now);
    };
    let mut d = Decision::default();
    let (workers, version) = placed
        .record
        .assignment
        .as_ref()
        .map_or((0, 0), |a| (a.workers.len(), a.version));
    d.say(format!(
        "placed `{}` on {workers} of {} workers (version {version})",
        topo.record.id,
        topo.wanted_workers()
    ));
    d.push(Effect::Put(Box::new(placed)));
    d
}
