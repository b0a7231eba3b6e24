//! What the checkpoints of an `exactly_once` topology change in nimbus's record, as pure
//! decisions: a completed checkpoint becomes the one a restart restores (Flink's completed
//! checkpoint store: it counts only once it is recorded here, persisted), a failed run is
//! restarted from it (every worker placed anew, restoring it), and a topology whose
//! restart strategy gave up stops for good with the reason.
//!
//! A run is a placement version: every worker of it started together from one checkpoint.
//! Each function takes the run it is about and refuses (`None`) when the topology has moved
//! on to another run since, so a late decision about an old run changes nothing.

use super::placement::place_all;
use super::state::{State, Topo};
use super::{Decision, Effect};
use crate::cluster::proto::CheckpointRecord;
use std::time::Instant;

/// The topology `id` if it still runs run `run` (placement version).
fn current<'a>(state: &'a State, id: &str, run: u64) -> Option<&'a Topo> {
    state.topologies.get(id).filter(|t| {
        !t.record.finished
            && t.record.checkpoints.is_some()
            && t.record
                .assignment
                .as_ref()
                .is_some_and(|a| a.placement_version == run && !a.workers.is_empty())
    })
}

/// The run (placement version) topology `id` runs now, with its workers' incarnations by
/// index, if it runs (`None`: gone, finished, failed or waiting for slots).
pub fn run_of(state: &State, id: &str) -> Option<(u64, Vec<(u32, u64)>)> {
    let t = state.topologies.get(id)?;
    let a = t.record.assignment.as_ref()?;
    // A run on fewer workers than planned (no free slot) is a run too.
    (!t.record.finished && !a.workers.is_empty()).then(|| {
        let workers = a.workers.iter().map(|w| (w.index, w.since)).collect();
        (a.placement_version, workers)
    })
}

/// Checkpoint `checkpoint` of run `run` of topology `id` is durable in store `from`:
/// record it as the one a restart restores. `None` when the run was replaced meanwhile
/// (the checkpoint must then not complete: the new run restores an older one).
pub fn completed(
    state: &State,
    id: &str,
    run: u64,
    from: &str,
    checkpoint: u64,
) -> Option<Decision> {
    let topo = current(state, id, run)?;
    let mut next = topo.clone();
    let r = next.record.checkpoints.get_or_insert_with(Default::default);
    r.restore_from = from.to_string();
    r.restore_id = checkpoint;
    let mut d = Decision::default();
    d.push(Effect::Put(Box::new(next)));
    Some(d)
}

/// Checkpoint ids below `upto` may be used by run `run` of topology `id`: recorded, so a
/// restarted nimbus triggers above them. `None` when the run was replaced.
pub fn reserve_ids(state: &State, id: &str, run: u64, upto: u64) -> Option<Decision> {
    let topo = current(state, id, run)?;
    let mut next = topo.clone();
    let r = next.record.checkpoints.get_or_insert_with(Default::default);
    r.reserved_ids = r.reserved_ids.max(upto);
    let mut d = Decision::default();
    d.push(Effect::Put(Box::new(next)));
    Some(d)
}

/// Run `run` of topology `id` failed (`reason`): every worker is placed anew, restoring
/// checkpoint `checkpoint` of store `from` (`checkpoint` 0: a fresh start). `None` when the
/// run was already replaced.
pub fn restart(
    state: &State,
    id: &str,
    run: u64,
    (from, checkpoint): (&str, u64),
    reason: &str,
    now: Instant,
) -> Option<Decision> {
    let topo = current(state, id, run)?;
    let mut failed = topo.clone();
    let r = failed
        .record
        .checkpoints
        .get_or_insert_with(Default::default);
    r.restore_from = from.to_string();
    r.restore_id = checkpoint;
    r.restarts += 1;
    r.last_failure = reason.to_string();
    let restarts = r.restarts;
    let placed = place_all(state, &failed, true, now)?;
    let version = placed.record.assignment.as_ref().map_or(0, |a| a.version);
    let mut d = Decision::default();
    d.push(Effect::Put(Box::new(placed)));
    d.say(format!(
        "restarting `{id}` from {} (restart {restarts}, version {version}): {reason}",
        if checkpoint == 0 {
            "the start".to_string()
        } else {
            format!("checkpoint {checkpoint}")
        }
    ));
    Some(d)
}

/// Run `run` of topology `id` failed and is not restarted (`reason`): the topology stops
/// for good, listed as failed with the reason; its workers are told to stop.
pub fn give_up(state: &State, id: &str, run: u64, reason: &str) -> Option<Decision> {
    let topo = current(state, id, run)?;
    let mut failed = topo.clone();
    failed.record.finished = true;
    let r: &mut CheckpointRecord = failed
        .record
        .checkpoints
        .get_or_insert_with(Default::default);
    r.failed = reason.to_string();
    r.last_failure = reason.to_string();
    let mut d = Decision::default();
    d.push(Effect::Put(Box::new(failed)));
    d.say(format!("`{id}` failed and is not restarted: {reason}"));
    Some(d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::controller::{apply, commands};
    use crate::cluster::proto::Plan;
    use crate::cluster::proto::{
        ChainPlan, CheckpointPlan, RunningWorker, SupervisorHeartbeatRequest,
    };
    use std::time::Duration;

    fn cluster(now: Instant) -> (State, String) {
        let store = crate::cluster::store::MemStore::default();
        let t = Duration::from_secs(10);
        let mut state = State::recover(&store, t, t, now).expect("empty store");
        crate::cluster::controller::beats::supervisor(
            &mut state,
            SupervisorHeartbeatRequest {
                id: "s1".into(),
                host: "127.0.0.1".into(),
                ports: vec![7000, 7001],
                workers: Vec::<RunningWorker>::new(),
            },
            now,
        )
        .expect("registers");
        let plan = Plan {
            name: "eo".into(),
            workers: 2,
            chains: vec![ChainPlan {
                components: vec!["src".into()],
                tasks: 2,
                parallelism: 2,
                spout: true,
            }],
            checkpoints: Some(CheckpointPlan {
                storage: "/tmp/ck".into(),
                ..Default::default()
            }),
            ..Default::default()
        };
        let (d, admitted) =
            commands::submit(&state, plan, "ab".repeat(32), now, 0).expect("admitted");
        for e in d.effects {
            apply(&mut state, e);
        }
        (state, admitted.id)
    }

    fn carry(state: &mut State, d: Decision) {
        for e in d.effects {
            apply(state, e);
        }
    }

    #[test]
    fn a_completed_checkpoint_is_what_a_restart_restores() {
        let now = Instant::now();
        let (mut state, id) = cluster(now);
        let (run, workers) = run_of(&state, &id).expect("runs");
        assert_eq!(workers.len(), 2);
        let a = state.topologies[&id]
            .record
            .assignment
            .clone()
            .expect("assigned");
        let ck = a.checkpoints.clone().expect("exactly_once has checkpoints");
        assert_eq!(ck.storage, format!("/tmp/ck/{id}"));
        assert_eq!(ck.restore_id, 0, "a fresh start");

        let d = completed(&state, &id, run, &ck.storage, 4).expect("current run");
        carry(&mut state, d);
        let d =
            restart(&state, &id, run, (&ck.storage, 4), "lost worker 1", now).expect("current run");
        carry(&mut state, d);
        let (next, _) = run_of(&state, &id).expect("runs");
        assert!(next > run, "a new run");
        let a = state.topologies[&id]
            .record
            .assignment
            .clone()
            .expect("assigned");
        let ck = a.checkpoints.expect("checkpoints");
        assert_eq!(
            (ck.restore_from.as_str(), ck.restore_id),
            (ck.storage.as_str(), 4)
        );
        assert!(
            a.workers.iter().all(|w| w.since == a.placement_version),
            "all restart"
        );
        let rec = state.topologies[&id]
            .record
            .checkpoints
            .clone()
            .expect("record");
        assert_eq!(
            (rec.restarts, rec.last_failure.as_str()),
            (1, "lost worker 1")
        );

        // Decisions about the old run change nothing.
        assert!(completed(&state, &id, run, &ck.storage, 5).is_none());
        assert!(restart(&state, &id, run, (&ck.storage, 4), "late", now).is_none());
        assert!(give_up(&state, &id, run, "late").is_none());

        let d = give_up(&state, &id, next, "the restart strategy is `none`").expect("current");
        carry(&mut state, d);
        let t = &state.topologies[&id];
        assert!(t.record.finished);
        assert_eq!(
            t.record.checkpoints.as_ref().map(|c| c.failed.as_str()),
            Some("the restart strategy is `none`")
        );
        assert!(
            run_of(&state, &id).is_none(),
            "a failed topology runs no more"
        );
        assert!(state.assignments_of("s1").is_empty(), "its workers stop");
    }
}
