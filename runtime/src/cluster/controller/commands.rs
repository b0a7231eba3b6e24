//! What a user asks of nimbus: submit, kill, rebalance. Each is checked against the state
//! and returns the changes to make, or why it is refused.

use super::placement::place_all;
use super::state::{KillTarget, State, Topo};
use super::validate::validate_plan;
use super::{Decision, Effect, Refused};
use crate::cluster::proto::{
    Assignment, CheckpointAssignment, CheckpointRecord, ParallelismChange, Plan, TopologyRecord,
};
use std::collections::HashMap;
use std::time::Instant;

/// A submitted topology as nimbus admitted it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Admitted {
    /// Its id, `name-N`, never given before.
    pub id: String,
    /// The workers it got slots for now (fewer than planned while the cluster lacks room).
    pub workers: u32,
}

/// Checks a plan before its binary is uploaded: valid, and its name not running.
pub fn check_submit(state: &State, plan: &Plan) -> Result<(), Refused> {
    validate_plan(plan)?;
    if state.by_name(&plan.name).is_some() {
        return Err(Refused::AlreadyExists(format!(
            "topology `{}` is already running; kill it first",
            plan.name
        )));
    }
    Ok(())
}

/// Admits a topology whose binary (`sha256`) nimbus has: a fresh id (the counter moves
/// first), its record, and the slots free now. `wall_ms` is the wall clock, recorded as
/// its submission time.
pub fn submit(
    state: &State,
    plan: Plan,
    sha256: String,
    now: Instant,
    wall_ms: u64,
) -> Result<(Decision, Admitted), Refused> {
    check_submit(state, &plan)?;
    let (id, next) = state.next_topology_id(&plan.name);
    let parallelism = plan.chains.iter().map(|c| c.parallelism).collect();
    // An exactly_once topology's checkpoints go below its storage, one directory per
    // topology id; its first run restores the savepoint it was submitted with, if any.
    let checkpoints = plan.checkpoints.as_ref().map(|c| CheckpointAssignment {
        storage: format!("{}/{id}", c.storage.trim_end_matches('/')),
        restore_from: c.from_savepoint.clone(),
        restore_id: c.from_savepoint_id,
    });
    let record = TopologyRecord {
        checkpoints: checkpoints.as_ref().map(|c| CheckpointRecord {
            restore_from: c.restore_from.clone(),
            restore_id: c.restore_id,
            ..Default::default()
        }),
        id: id.clone(),
        assignment: Some(Assignment {
            topology_id: id.clone(),
            name: plan.name.clone(),
            sha256: sha256.clone(),
            version: 0,
            parallelism,
            ackers: plan.ackers,
            workers: Vec::new(),
            executors: Vec::new(),
            config: plan.config.clone(),
            placement_version: 0,
            finished_workers: Vec::new(),
            checkpoints,
        }),
        plan: Some(plan),
        sha256,
        submitted_ms: wall_ms,
        finished: false,
    };
    let fresh = Topo {
        record,
        beats: HashMap::new(),
        since: now,
        started: HashMap::new(),
    };
    let topo = place_all(state, &fresh, true, now).unwrap_or(fresh);
    let workers = topo
        .record
        .assignment
        .as_ref()
        .map_or(0, |a| a.workers.len() as u32);
    let mut d = Decision::default();
    d.push(Effect::NextId(next));
    d.push(Effect::Put(Box::new(topo)));
    d.say(format!("submitted `{id}` on {workers} workers"));
    Ok((d, Admitted { id, workers }))
}

/// Kills what `gale kill NAME` means (see [`State::to_kill`]); returns the ids removed.
pub fn kill(state: &State, name: &str) -> Result<(Decision, Vec<String>), Refused> {
    let target = state
        .to_kill(name)
        .ok_or_else(|| Refused::NotFound(format!("no topology `{name}`")))?;
    let ids = match target {
        KillTarget::Running(id) => vec![id],
        KillTarget::Finished(ids) => ids,
    };
    let mut d = Decision::default();
    for id in &ids {
        d.push(Effect::Remove(id.clone()));
        d.say(format!("killed `{id}`"));
    }
    Ok((d, ids))
}

/// Changes the executors of some components of the running topology `name` (or id) and
/// places it anew; returns its id and new version.
pub fn rebalance(
    state: &State,
    name: &str,
    changes: &[ParallelismChange],
    now: Instant,
) -> Result<(Decision, String, u64), Refused> {
    let topo = state
        .running(name)
        .ok_or_else(|| Refused::NotFound(format!("no running topology `{name}`")))?;
    let id = topo.record.id.clone();
    let chains = topo
        .record
        .plan
        .as_ref()
        .map(|p| p.chains.clone())
        .unwrap_or_default();
    let mut changed = topo.clone();
    let Some(a) = changed.record.assignment.as_mut() else {
        return Err(Refused::Unavailable(format!("`{id}` has no assignment")));
    };
    for ch in changes {
        let Some((i, chain)) = chains
            .iter()
            .enumerate()
            .find(|(_, c)| c.components.contains(&ch.component))
        else {
            return Err(Refused::Invalid(format!(
                "topology `{name}` has no component `{}`",
                ch.component
            )));
        };
        if ch.parallelism == 0 || ch.parallelism > chain.tasks {
            return Err(Refused::Invalid(format!(
                "component `{}` has {} tasks: its parallelism must be 1..={}",
                ch.component, chain.tasks, chain.tasks
            )));
        }
        if let Some(p) = a.parallelism.get_mut(i) {
            *p = ch.parallelism;
        }
    }
    let placed = place_all(state, &changed, true, now)
        .ok_or_else(|| Refused::Unavailable("rebalance produced no assignment".into()))?;
    let version = placed.record.assignment.as_ref().map_or(0, |a| a.version);
    let mut d = Decision::default();
    d.push(Effect::Put(Box::new(placed)));
    d.say(format!("rebalanced `{id}` (version {version})"));
    Ok((d, id, version))
}
