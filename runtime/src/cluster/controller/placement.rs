//! Where a topology's workers run: placing all of them (a fresh topology, a rebalance, a
//! topology that lost or gained room) and moving one that failed.

use super::state::{State, Topo};
use crate::cluster::proto::{ExecutorPlacement, WorkerSlot};
use crate::cluster::scheduler::{self, Slot, Supervisor};
use std::collections::BTreeSet;
use std::time::Instant;

/// The supervisors as the scheduler sees them at `now`.
pub fn supervisors(state: &State, now: Instant) -> Vec<Supervisor> {
    state
        .supervisors
        .iter()
        .map(|(sid, s)| Supervisor {
            id: sid.clone(),
            ports: s.ports.clone(),
            alive: state.supervisor_alive(sid, now),
        })
        .collect()
}

/// The slots the workers of every unfinished topology but `id` hold.
pub fn taken_by_others(state: &State, id: &str) -> BTreeSet<Slot> {
    state
        .topologies
        .iter()
        .filter(|(other, t)| *other != id && !t.record.finished)
        .flat_map(|(_, t)| t.record.assignment.iter().flat_map(|a| &a.workers))
        .map(slot_of)
        .collect()
}

/// The slot a worker holds.
pub fn slot_of(w: &WorkerSlot) -> Slot {
    Slot {
        supervisor: w.supervisor.clone(),
        port: w.port,
    }
}

/// `topo` with all its workers placed anew: keeps the slots still usable, adds free ones
/// up to the plan's worker count, and spreads the executors over them. Every worker gets
/// a new incarnation (all restart) and the placement version moves. `None` if the slots
/// stay the same and `force` is false (nothing to do).
pub fn place_all(state: &State, topo: &Topo, force: bool, now: Instant) -> Option<Topo> {
    let id = topo.record.id.as_str();
    let want = topo.wanted_workers() as u32;
    let mut topo = topo.clone();
    let a = topo.record.assignment.as_mut()?;
    let keep: Vec<Slot> = a.workers.iter().map(slot_of).collect();
    let slots = scheduler::choose_slots(
        want,
        &supervisors(state, now),
        &taken_by_others(state, id),
        &keep,
    );
    if slots == keep && !force {
        return None;
    }
    a.version += 1;
    let version = a.version;
    a.workers = slots
        .iter()
        .enumerate()
        .map(|(i, s)| WorkerSlot {
            index: i as u32,
            supervisor: s.supervisor.clone(),
            host: state
                .supervisors
                .get(&s.supervisor)
                .map_or_else(String::new, |x| x.host.clone()),
            port: s.port,
            since: version,
        })
        .collect();
    a.executors = if slots.is_empty() {
        Vec::new()
    } else {
        scheduler::place(&a.parallelism, a.ackers, slots.len() as u32)
            .into_iter()
            .map(|(u, w)| ExecutorPlacement {
                chain: u.chain,
                index: u.index,
                worker: w,
            })
            .collect()
    };
    a.placement_version = version;
    // New executors everywhere: whatever finished before runs again. An exactly_once
    // topology's run restores the last checkpoint its record holds.
    a.finished_workers.clear();
    if let (Some(ck), Some(rec)) = (a.checkpoints.as_mut(), topo.record.checkpoints.as_ref()) {
        ck.restore_from = rec.restore_from.clone();
        ck.restore_id = rec.restore_id;
    }
    topo.beats.clear();
    topo.started.clear();
    topo.since = now;
    Some(topo)
}

/// Moves worker `index` of `topo` off `failed` (its slot) to `to`: only its incarnation
/// changes; its executors and every other worker stay as they are.
pub fn move_worker(state: &State, topo: &mut Topo, index: u32, to: &Slot, now: Instant) {
    let Some(a) = topo.record.assignment.as_mut() else {
        return;
    };
    a.version += 1;
    let version = a.version;
    if let Some(w) = a.workers.iter_mut().find(|w| w.index == index) {
        w.supervisor = to.supervisor.clone();
        w.port = to.port;
        w.host = state
            .supervisors
            .get(&to.supervisor)
            .map_or_else(String::new, |x| x.host.clone());
        w.since = version;
    }
    topo.beats.remove(&index);
    topo.started.insert(index, now);
}
