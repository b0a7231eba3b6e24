//! A running topology: every worker has a slot. A worker fails when it stays silent for the
//! worker timeout (it never started, say because its port is taken, or it hangs), or for
//! the supervisor timeout once its supervisor is lost too (nobody will restart it). A worker
//! outlives its supervisor, as in Storm: while it heartbeats it keeps its slot, and a
//! restarted supervisor adopts it. Only a failed worker moves — to a free slot, on another
//! supervisor when one has room — and the others keep running (they follow the moved
//! peer; its new incarnation fences the old process off). A worker that finished never
//! moves. With no free slot, a worker of a dead supervisor makes the topology shrink onto
//! what is left (all restart); a silent one on a live supervisor stays where it is, for its
//! supervisor to restart. An `exactly_once` topology restarts all its workers instead
//! (from its last checkpoint: see [`crate::cluster::controller::checkpoints`]).

use crate::cluster::controller::placement::{
    move_worker, place_all, slot_of, supervisors, taken_by_others,
};
use crate::cluster::controller::{Decision, Effect, State, Topo};
use crate::cluster::scheduler::{Slot, replacement_slot};
use std::time::Instant;

/// Why a worker failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// Its supervisor stopped heartbeating, and so did it.
    SupervisorLost,
    /// It did not heartbeat for the worker timeout.
    Silent,
}

impl Failure {
    fn as_str(self) -> &'static str {
        match self {
            Failure::SupervisorLost => "its supervisor is lost and it is silent",
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
            let last = topo
                .beats
                .get(&w.index)
                .map_or_else(|| topo.watched_since(w.index), |b| b.at);
            let silent = now.saturating_duration_since(last);
            if !state.supervisor_alive(&w.supervisor, now) {
                // Nobody restarts it: once it is silent too, it moves as soon as its
                // supervisor would have been judged lost.
                return (silent > state.supervisor_timeout)
                    .then_some((w.index, Failure::SupervisorLost));
            }
            (silent > state.worker_timeout).then_some((w.index, Failure::Silent))
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
    if topo.record.checkpoints.is_some() {
        // exactly_once: a worker alone cannot move (its state went with it); every worker
        // is placed anew and restores the last recorded checkpoint.
        if let Some(placed) = place_all(state, topo, true, now) {
            let which: Vec<String> = failed.iter().map(|(i, _)| i.to_string()).collect();
            d.say(format!(
                "placed every worker of `{id}` anew: worker {} failed ({}); they restore its last checkpoint",
                which.join(", "),
                failed[0].1.as_str()
            ));
            d.push(Effect::Put(Box::new(placed)));
        }
        return d;
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::controller::state::SupervisorState;
    use crate::cluster::controller::{Effect, Phase, apply, commands, phase, tick};
    use crate::cluster::proto::{ChainPlan, Plan, WorkerHeartbeatRequest};
    use std::time::Duration;

    const T: Duration = Duration::from_secs(10);

    fn cluster(now: Instant, sups: &[(&str, &[u32])]) -> State {
        let store = crate::cluster::store::MemStore::default();
        let mut s = State::recover(&store, T, T, now).unwrap();
        for (id, ports) in sups {
            s.supervisors.insert(
                id.to_string(),
                SupervisorState {
                    host: format!("{id}.host"),
                    ports: ports.to_vec(),
                    last: now,
                    running: Vec::new(),
                },
            );
        }
        s
    }

    fn submit(state: &mut State, workers: u32, now: Instant) -> String {
        let plan = Plan {
            name: "wc".into(),
            workers,
            ackers: 1,
            chains: vec![ChainPlan {
                components: vec!["a".into()],
                tasks: 4,
                parallelism: 4,
                spout: true,
            }],
            config: Default::default(),
            checkpoints: None,
            ..Default::default()
        };
        let (d, admitted) = commands::submit(state, plan, "ab".repeat(32), now, 0).unwrap();
        for e in d.effects {
            apply(state, e);
        }
        admitted.id
    }

    fn beat_all(state: &mut State, id: &str, now: Instant) {
        let a = state.topologies[id].record.assignment.clone().unwrap();
        for w in &a.workers {
            beat_one(state, id, w.index, now);
        }
    }

    fn beat_one(state: &mut State, id: &str, index: u32, now: Instant) {
        let a = state.topologies[id].record.assignment.clone().unwrap();
        for w in a.workers.iter().filter(|w| w.index == index) {
            let req = WorkerHeartbeatRequest {
                topology_id: id.into(),
                worker: w.index,
                version: w.since,
                pid: 1,
                ..Default::default()
            };
            let (d, reply) = crate::cluster::controller::beats::worker(state, req, now);
            assert!(reply.keep_running);
            for e in d.effects {
                apply(state, e);
            }
        }
    }

    fn run_tick(state: &mut State, now: Instant) -> Vec<String> {
        let d = tick(state, now);
        let log = d.log.clone();
        for e in d.effects {
            apply(state, e);
        }
        log
    }

    #[test]
    fn only_the_worker_of_a_lost_supervisor_moves_and_prefers_another_supervisor() {
        let t0 = Instant::now();
        let mut state = cluster(t0, &[("a", &[1, 2]), ("b", &[1, 2]), ("c", &[1])]);
        let id = submit(&mut state, 2, t0);
        let before = state.topologies[&id].record.assignment.clone().unwrap();
        assert_eq!(before.workers.len(), 2);
        let lost = before.workers[1].supervisor.clone();
        // Every supervisor but `lost` keeps beating; all workers beat.
        let t1 = t0 + T + Duration::from_secs(1);
        for (sid, s) in state.supervisors.iter_mut() {
            if *sid != lost {
                s.last = t1;
            }
        }
        beat_all(&mut state, &id, t1);
        // A worker outlives its supervisor: while it beats, it stays.
        assert!(run_tick(&mut state, t1).is_empty());
        assert_eq!(
            state.topologies[&id].record.assignment,
            Some(before.clone())
        );
        // Then worker 1 falls silent too (the beats of the others go on): it moves.
        let t2 = t1 + T + Duration::from_secs(1);
        for (sid, s) in state.supervisors.iter_mut() {
            if *sid != lost {
                s.last = t2;
            }
        }
        beat_one(&mut state, &id, 0, t2);
        let log = run_tick(&mut state, t2);
        let after = state.topologies[&id].record.assignment.clone().unwrap();
        assert_eq!(
            after.workers[0], before.workers[0],
            "the healthy worker stays"
        );
        assert_ne!(after.workers[1].supervisor, lost);
        assert_ne!(
            after.workers[1].supervisor, after.workers[0].supervisor,
            "spread over supervisors: {log:?}"
        );
        assert!(after.workers[1].since > before.workers[1].since);
        assert_eq!(after.placement_version, before.placement_version);
        assert_eq!(after.executors, before.executors, "no executor moves");
        assert!(log.iter().any(|l| l.contains("moved worker 1")), "{log:?}");
    }

    #[test]
    fn a_silent_worker_moves_alone_and_a_finished_one_never_moves() {
        let t0 = Instant::now();
        let mut state = cluster(t0, &[("a", &[1, 2]), ("b", &[1, 2])]);
        let id = submit(&mut state, 2, t0);
        let before = state.topologies[&id].record.assignment.clone().unwrap();
        // Worker 0 finishes; worker 1 never beats.
        let req = WorkerHeartbeatRequest {
            topology_id: id.clone(),
            worker: 0,
            version: before.workers[0].since,
            finished: true,
            ..Default::default()
        };
        let (d, _) = crate::cluster::controller::beats::worker(&mut state, req, t0);
        assert!(matches!(d.effects.as_slice(), [Effect::Put(_)]));
        for e in d.effects {
            apply(&mut state, e);
        }
        let t1 = t0 + T + Duration::from_secs(1);
        for s in state.supervisors.values_mut() {
            s.last = t1;
        }
        run_tick(&mut state, t1);
        let after = state.topologies[&id].record.assignment.clone().unwrap();
        assert_eq!(after.workers[0], before.workers[0], "finished: never moved");
        assert_ne!(after.workers[1], before.workers[1], "silent: moved");
        assert_eq!(after.finished_workers, vec![0]);
        assert_eq!(phase(&state.topologies[&id]), Phase::Running);
        // Worker 1 (its new incarnation) finishes too: the topology is finished.
        let req = WorkerHeartbeatRequest {
            topology_id: id.clone(),
            worker: 1,
            version: after.workers[1].since,
            finished: true,
            ..Default::default()
        };
        let (d, _) = crate::cluster::controller::beats::worker(&mut state, req, t1);
        assert!(d.log.iter().any(|l| l.contains("finished")));
        for e in d.effects {
            apply(&mut state, e);
        }
        assert_eq!(phase(&state.topologies[&id]), Phase::Finished);
        assert!(state.assignments_of("a").is_empty() && state.assignments_of("b").is_empty());
    }

    #[test]
    fn a_silent_worker_with_nowhere_to_go_stays_and_nothing_restarts() {
        let t0 = Instant::now();
        let mut state = cluster(t0, &[("a", &[1]), ("b", &[1])]);
        let id = submit(&mut state, 2, t0);
        let before = state.topologies[&id].record.assignment.clone().unwrap();
        let t1 = t0 + T + Duration::from_secs(1);
        for s in state.supervisors.values_mut() {
            s.last = t1;
        }
        let log = run_tick(&mut state, t1);
        let after = state.topologies[&id].record.assignment.clone().unwrap();
        assert_eq!(after.version, before.version, "{log:?}");
        assert_eq!(after.workers, before.workers);
        assert!(
            log.iter()
                .any(|l| l.contains("leaving it to its supervisor")),
            "{log:?}"
        );
        // Judged again only a worker timeout later.
        assert!(run_tick(&mut state, t1 + Duration::from_secs(1)).is_empty());
    }

    #[test]
    fn a_waiting_topology_is_placed_when_room_appears() {
        let t0 = Instant::now();
        let mut state = cluster(t0, &[]);
        let id = submit(&mut state, 2, t0);
        assert_eq!(phase(&state.topologies[&id]), Phase::Waiting);
        state.supervisors.insert(
            "a".into(),
            SupervisorState {
                host: "h".into(),
                ports: vec![1, 2],
                last: t0,
                running: Vec::new(),
            },
        );
        let log = run_tick(&mut state, t0);
        assert!(log.iter().any(|l| l.contains("placed")), "{log:?}");
        assert_eq!(phase(&state.topologies[&id]), Phase::Running);
        assert_eq!(state.assignments_of("a").len(), 2);
    }
}
