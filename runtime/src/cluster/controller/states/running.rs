//! A running topology: every worker has a slot. A worker fails when its supervisor dies
//! or it stays silent for the worker timeout (it never started, say because its port is
//! taken, or it hangs). Only a failed worker moves — to a free slot, on another
//! supervisor when one has room — and the others keep running (they follow the moved
//! peer; its new incarnation fences the old process off). A worker that finished never
//! moves. With no free slot, a worker of a dead supervisor makes the topology shrink onto
//! what is left (all restart); a silent one on a live supervisor stays where it is, for its
//! supervisor to restart.

use crate::cluster::controller::placement::{
    move_worker, place_all, slot_of, supervisors, taken_by_others,
};
use crate::cluster::controller::{Decision, Effect, State, Topo};
use crate::cluster::scheduler::{Slot, replacement_slot};
use std::time::Instant;

/// Why a worker failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// Its supervisor stopped heartbeating.
    SupervisorLost,
    /// It did not heartbeat for the worker timeout.
    Silent,
}

impl Failure {
    fn as_str(self) -> &'static str {
        match self {
            Failure::SupervisorLost => "its supervisor is lost",
            Failure::Silent => "it is silent",
        }
    }
}

/// The workers of `topo` that failed at `now`, by index.
pub fn failed_workers(state: &State, topo: &Topo, now: Instant) -> Vec<(u32, Failure)> {
    let Some(a) = topo.record.assignment.as_ref() else {
        return Vec::new();
    };
    a.workers
        .iter()
        .filter(|w| !a.finished_workers.contains(&w.index))
        .filter_map(|w| {
            if !state.supervisor_alive(&w.supervisor, now) {
                return Some((w.index, Failure::SupervisorLost));
            }
            let last = topo
                .beats
                .get(&w.index)
                .map_or_else(|| topo.watched_since(w.index), |b| b.at);
            (now.saturating_duration_since(last) > state.worker_timeout)
                .then_some((w.index, Failure::Silent))
        })
        .collect()
}

/// Moves the failed workers of `topo`, if any.
pub fn step(state: &State, topo: &Topo, now: Instant) -> Decision {
    let mut d = Decision::default();
    let failed = failed_workers(state, topo, now);
    if failed.is_empty() {
        return d;
    }
    let id = topo.record.id.as_str();
    let taken = taken_by_others(state, id);
    let sups = supervisors(state, now);
    let mut next = topo.clone();
    for (index, why) in failed {
        let own: Vec<Slot> = next
            .record
            .assignment
            .iter()
            .flat_map(|a| &a.workers)
            .map(slot_of)
            .collect();
        let Some(from) = next
            .record
            .assignment
            .iter()
            .flat_map(|a| &a.workers)
            .find(|w| w.index == index)
            .map(slot_of)
        else {
            continue;
        };
        match replacement_slot(&sups, &taken, &own, &from) {
            Some(to) => {
                move_worker(state, &mut next, index, &to, now);
                d.say(format!(
                    "moved worker {index} of `{id}` from {}:{} to {}:{} ({})",
                    from.supervisor,
                    from.port,
                    to.supervisor,
                    to.port,
                    why.as_str()
                ));
            }
            None if why == Failure::SupervisorLost => {
                // Nowhere to go: run on the slots that are left.
                let mut shrink = Decision::default();
                if let Some(placed) = place_all(state, topo, false, now) {
                    let n = placed
                        .record
                        .assignment
                        .as_ref()
                        .map_or(0, |a| a.workers.len());
                    shrink.say(format!(
                        "no free slot for worker {index} of `{id}` ({}): placed it on {n} workers",
                        why.as_str()
                    ));
                    shrink.push(Effect::Put(Box::new(placed)));
                }
                return shrink;
            }
            None => {
                // Its supervisor restarts it; judge it again a worker timeout from now.
                next.started.insert(index, now);
                next.beats.remove(&index);
                d.say(format!(
                    "worker {index} of `{id}` on {}:{} {}, and no other slot is free: leaving it to its supervisor",
                    from.supervisor,
                    from.port,
                    why.as_str()
                ));
            }
        }
    }
    d.push(Effect::Put(Box::new(next)));
    d
}
