//! Heartbeats: what supervisors and workers report. Reports are facts recorded in memory
//! (they are not persisted: after a nimbus restart the next ones arrive within seconds);
//! a worker's report that it finished is a change of the record, decided here.

use super::state::{State, SupervisorState, WorkerBeat};
use super::{Decision, Effect, Refused};
use crate::cluster::proto::{
    LocalAssignment, SupervisorHeartbeatRequest, WorkerHeartbeatReply, WorkerHeartbeatRequest,
};
use std::time::Instant;

/// Records a supervisor's heartbeat; returns true if it was not known alive before (it
/// just started, or came back), and the workers it must run.
pub fn supervisor(
    state: &mut State,
    beat: SupervisorHeartbeatRequest,
    now: Instant,
) -> Result<(bool, Vec<LocalAssignment>), Refused> {
    if beat.id.is_empty() || beat.ports.is_empty() {
        return Err(Refused::Invalid(
            "a supervisor needs an id and ports".into(),
        ));
    }
    let fresh = !state.supervisor_alive(&beat.id, now);
    state.supervisors.insert(
        beat.id.clone(),
        SupervisorState {
            host: beat.host,
            ports: beat.ports,
            last: now,
            running: beat.workers,
        },
    );
    Ok((fresh, state.assignments_of(&beat.id)))
}

/// Records a worker's heartbeat if it comes from the current incarnation of its worker,
/// and tells it whether to keep running. A worker that reports it finished is recorded
/// in the assignment (persisted: it is not started again, and its peers know its channels
/// ended); when every worker has, the topology is finished.
pub fn worker(
    state: &mut State,
    beat: WorkerHeartbeatRequest,
    now: Instant,
) -> (Decision, WorkerHeartbeatReply) {
    let mut d = Decision::default();
    let Some(topo) = state.topologies.get_mut(&beat.topology_id) else {
        return (
            d,
            WorkerHeartbeatReply {
                keep_running: false,
                assignment_version: 0,
            },
        );
    };
    let Some(a) = topo.record.assignment.as_ref() else {
        return (d, WorkerHeartbeatReply::default());
    };
    let version = a.version;
    let current = !topo.record.finished
        && a.workers
            .iter()
            .any(|w| w.index == beat.worker && w.since == beat.version);
    let reply = WorkerHeartbeatReply {
        keep_running: current,
        assignment_version: version,
    };
    if !current {
        return (d, reply);
    }
    let newly_finished = beat.finished && !a.finished_workers.contains(&beat.worker);
    // A worker that called itself unhealthy (a hung executor) exits after that beat; the
    // reason stays for `gale list` while its next process heartbeats.
    let unhealthy = if beat.unhealthy.is_empty() {
        topo.beats
            .get(&beat.worker)
            .map(|b| b.unhealthy.clone())
            .unwrap_or_default()
    } else {
        d.say(format!(
            "worker {} of `{}` is unhealthy: {}",
            beat.worker, beat.topology_id, beat.unhealthy
        ));
        beat.unhealthy
    };
    topo.beats.insert(
        beat.worker,
        WorkerBeat {
            at: now,
            version: beat.version,
            stats: beat.stats,
            finished: beat.finished,
            pid: beat.pid,
            unhealthy,
            running: beat.running,
            metrics_port: beat.metrics_port,
        },
    );
    if newly_finished {
        let mut done = topo.clone();
        if let Some(a) = done.record.assignment.as_mut() {
            // A new version, so the other workers (told by their heartbeat replies) fetch
            // it and treat this worker's channels to them as ended.
            a.version += 1;
            a.finished_workers.push(beat.worker);
            a.finished_workers.sort_unstable();
            let all = a
                .workers
                .iter()
                .all(|w| a.finished_workers.contains(&w.index));
            if all && a.workers.len() >= done.wanted_workers() {
                done.record.finished = true;
                d.say(format!("`{}` finished", beat.topology_id));
            } else {
                d.say(format!(
                    "worker {} of `{}` finished",
                    beat.worker, beat.topology_id
                ));
            }
        }
        d.push(Effect::Put(Box::new(done)));
    }
    (d, reply)
}
