//! A supervisor's decisions, as pure code: given the workers it runs and the ones nimbus
//! wants (its heartbeat's reply), which to stop and which to start. The supervisor's loop
//! (`supervisor.rs`) carries them out with real processes; the deterministic simulation
//! with simulated ones.

use crate::cluster::proto::LocalAssignment;
use std::collections::BTreeMap;
use std::time::Instant;

/// A worker by topology id and index.
pub type WorkerKey = (String, u32);

/// What a supervisor knows of one worker it runs (or ran).
#[derive(Debug, Clone)]
pub struct WorkerView {
    /// What it was started for.
    pub assignment: LocalAssignment,
    /// Its process is running.
    pub running: bool,
    /// Its process exited with status 0 (finished, or told to stop): not started again
    /// for this incarnation.
    pub done: bool,
    /// It crashed: not started again before this.
    pub not_before: Instant,
}

/// One thing to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SupervisorAction {
    /// Stop (kill) this worker's process and forget it: nimbus no longer wants it, or
    /// wants another incarnation, slot or binary for it.
    Stop(WorkerKey),
    /// Start (or restart) a process for this assignment.
    Start(LocalAssignment),
}

/// True if `have` runs what `want` asks for: topology, index, incarnation, port and binary
/// all match (anything else is another topology's or an older assignment's worker).
pub fn is_wanted(have: &LocalAssignment, want: &LocalAssignment) -> bool {
    have.topology_id == want.topology_id
        && have.worker == want.worker
        && have.version == want.version
        && have.port == want.port
        && have.sha256 == want.sha256
}

/// The actions that make the workers what nimbus wants at `now`: first every stop, then
/// every start (a wanted worker with no process that is neither done nor backing off).
pub fn plan(
    workers: &BTreeMap<WorkerKey, WorkerView>,
    wanted: &[LocalAssignment],
    now: Instant,
) -> Vec<SupervisorAction> {
    let wanted: BTreeMap<WorkerKey, &LocalAssignment> = wanted
        .iter()
        .map(|a| ((a.topology_id.clone(), a.worker), a))
        .collect();
    let mut actions = Vec::new();
    let mut stopped = Vec::new();
    for (k, w) in workers {
        if wanted.get(k).is_none_or(|a| !is_wanted(&w.assignment, a)) {
            actions.push(SupervisorAction::Stop(k.clone()));
            stopped.push(k);
        }
    }
    for (k, a) in &wanted {
        let startable = match workers.get(k) {
            Some(w) if !stopped.contains(&k) => !w.running && !w.done && now >= w.not_before,
            _ => true,
        };
        if startable {
            actions.push(SupervisorAction::Start((*a).clone()));
        }
    }
    actions
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn la(id: &str, worker: u32, version: u64) -> LocalAssignment {
        LocalAssignment {
            topology_id: id.into(),
            worker,
            port: 6700 + worker,
            sha256: "ab".into(),
            version,
        }
    }

    fn view(a: LocalAssignment, running: bool, done: bool, not_before: Instant) -> WorkerView {
        WorkerView {
            assignment: a,
            running,
            done,
            not_before,
        }
    }

    #[test]
    fn starts_the_missing_stops_the_unwanted_and_the_outdated() {
        let now = Instant::now();
        let mut workers = BTreeMap::new();
        workers.insert(("t".into(), 0), view(la("t", 0, 1), true, false, now));
        workers.insert(("t".into(), 1), view(la("t", 1, 1), true, false, now));
        workers.insert(("old".into(), 0), view(la("old", 0, 1), true, false, now));
        // Worker 1 moved here in a new incarnation; worker 2 is new; `old` was killed.
        let wanted = [la("t", 0, 1), la("t", 1, 3), la("t", 2, 3)];
        let got = plan(&workers, &wanted, now);
        assert_eq!(
            got,
            vec![
                SupervisorAction::Stop(("old".into(), 0)),
                SupervisorAction::Stop(("t".into(), 1)),
                SupervisorAction::Start(la("t", 1, 3)),
                SupervisorAction::Start(la("t", 2, 3)),
            ]
        );
    }

    #[test]
    fn a_done_worker_stays_done_and_a_crashed_one_waits_out_its_backoff() {
        let now = Instant::now();
        let later = now + Duration::from_secs(2);
        let mut workers = BTreeMap::new();
        workers.insert(("t".into(), 0), view(la("t", 0, 1), false, true, now));
        workers.insert(("t".into(), 1), view(la("t", 1, 1), false, false, later));
        let wanted = [la("t", 0, 1), la("t", 1, 1)];
        assert!(plan(&workers, &wanted, now).is_empty());
        assert_eq!(
            plan(&workers, &wanted, later),
            vec![SupervisorAction::Start(la("t", 1, 1))]
        );
    }
}
