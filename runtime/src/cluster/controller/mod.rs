//! Nimbus's decisions, as pure code: every function here takes what nimbus knows (its
//! [`State`]), what it observed (a request, a heartbeat) and the time, and returns a
//! [`Decision`]: the changes to make, in order, and what to log. Nothing here does I/O or
//! reads a clock. Nimbus (`cluster::nimbus`) is the edge: it persists each change of a
//! decision to its store and only then applies it to memory ([`apply`]), answers the
//! gRPC call, and logs. The deterministic simulation (`runtime/tests/sim.rs`) drives the
//! same functions with simulated supervisors, workers, network and clock.
//!
//! A topology is in one of the [`Phase`]s; what happens to it on each tick of the failure
//! detector is decided by that phase's file in [`states`] (as Arroyo's controller does):
//! [`states::waiting`] places a topology that lacks slots, [`states::running`] moves the
//! workers that failed (only those), [`states::finished`] keeps a finished one as it is.
//! Commands (submit, kill, rebalance) are in [`commands`], heartbeats in [`beats`].

pub mod beats;
pub mod checkpoints;
pub mod commands;
pub mod placement;
pub mod state;
pub mod states;
pub mod validate;

pub use state::{KillTarget, State, SupervisorState, Topo, WorkerBeat, WorkerState};

use std::time::Instant;

/// One change nimbus makes to what it keeps. Each is persisted (if it is persistent)
/// before it is applied, so memory never holds what the store lacks.
#[derive(Debug, Clone)]
pub enum Effect {
    /// The topology id counter moves to this number (persisted under
    /// [`state::NEXT_ID_KEY`] before the id before it is used).
    NextId(u64),
    /// A topology's record (new or changed), persisted, then held.
    Put(Box<Topo>),
    /// A topology is removed: its record is deleted, then it is forgotten.
    Remove(String),
}

/// What a decision changes, and what nimbus says about it.
#[derive(Debug, Clone, Default)]
pub struct Decision {
    /// The changes, in order.
    pub effects: Vec<Effect>,
    /// Lines for nimbus's log (without the `gale nimbus:` prefix).
    pub log: Vec<String>,
}

impl Decision {
    /// Adds a change.
    pub fn push(&mut self, effect: Effect) {
        self.effects.push(effect);
    }

    /// Adds a log line.
    pub fn say(&mut self, line: impl Into<String>) {
        self.log.push(line.into());
    }

    /// Appends another decision's changes and lines.
    pub fn extend(&mut self, other: Decision) {
        self.effects.extend(other.effects);
        self.log.extend(other.log);
    }

    /// True when nothing changes.
    pub fn is_empty(&self) -> bool {
        self.effects.is_empty()
    }
}

/// Why nimbus refuses a request: what the caller did wrong, or what it must wait for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    /// There is no such topology (or no running one of that name).
    #[error("{0}")]
    NotFound(String),
    /// A topology of that name already runs.
    #[error("{0}")]
    AlreadyExists(String),
    /// The request is malformed or out of bounds.
    #[error("{0}")]
    Invalid(String),
    /// Not possible yet (no slot assigned yet): worth retrying.
    #[error("{0}")]
    Unavailable(String),
}

impl Refused {
    /// Whether asking again later may succeed.
    pub fn retryable(&self) -> bool {
        matches!(self, Refused::Unavailable(_))
    }
}

/// Applies one (already persisted) change to memory.
pub fn apply(state: &mut State, effect: Effect) {
    match effect {
        Effect::NextId(n) => state.next_id = n,
        Effect::Put(topo) => state.put(*topo),
        Effect::Remove(id) => {
            state.topologies.remove(&id);
        }
    }
}

/// A topology's phase, from its record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// It has fewer workers than its plan asks for (none at all, at first).
    Waiting,
    /// Every worker has a slot.
    Running,
    /// Every worker finished its input; nothing runs.
    Finished,
}

/// The phase `topo` is in.
pub fn phase(topo: &Topo) -> Phase {
    if topo.record.finished {
        return Phase::Finished;
    }
    let have = topo
        .record
        .assignment
        .as_ref()
        .map_or(0, |a| a.workers.len());
    if have < topo.wanted_workers() {
        Phase::Waiting
    } else {
        Phase::Running
    }
}

/// The failure detector's tick: each topology's phase decides what to do with it. The
/// decisions are made one after the other, each seeing the slots the ones before took.
pub fn tick(state: &State, now: Instant) -> Decision {
    let mut decision = Decision::default();
    let mut scratch: Option<State> = None;
    let ids: Vec<String> = state.topologies.keys().cloned().collect();
    for id in ids {
        let current = scratch.as_ref().unwrap_or(state);
        let Some(topo) = current.topologies.get(&id) else {
            continue;
        };
        let step = match phase(topo) {
            Phase::Waiting => states::waiting::step(current, topo, now),
            Phase::Running => states::running::step(current, topo, now),
            Phase::Finished => states::finished::step(current, topo, now),
        };
        if step.is_empty() {
            continue;
        }
        // Later topologies must see the slots this one took.
        let next = scratch.get_or_insert_with(|| state.clone());
        for e in step.effects.iter().cloned() {
            apply(next, e);
        }
        decision.extend(step);
    }
    decision
}

/// Writes one change to the store (a change that lives only in memory writes nothing).
/// Nimbus calls this before [`apply`]: a change the store refused is not made.
pub fn persist(
    store: &dyn crate::cluster::store::MetaStore,
    effect: &Effect,
) -> Result<(), crate::cluster::store::StoreError> {
    match effect {
        Effect::NextId(n) => State::save_next_id(store, *n),
        Effect::Put(topo) => State::save_topo(store, &topo.record.id, Some(topo)),
        Effect::Remove(id) => State::save_topo(store, id, None),
    }
}

/// Persists and applies every change of `decision`, in order, stopping at the first the
/// store refuses (the ones before it stay made: the store and memory agree either way).
pub fn carry_out(
    store: &dyn crate::cluster::store::MetaStore,
    state: &mut State,
    decision: Decision,
) -> Result<Vec<String>, crate::cluster::store::StoreError> {
    for e in decision.effects {
        persist(store, &e)?;
        apply(state, e);
    }
    Ok(decision.log)
}
