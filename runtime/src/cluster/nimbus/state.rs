//! What nimbus knows: topologies with their assignments, supervisors, heartbeats; and the
//! decisions it makes from them (scheduling, reassignment, listing). No I/O here except
//! through the [`MetaStore`] it persists topologies to.

use crate::cluster::proto::{
    Assignment, ComponentStats, ExecutorPlacement, LocalAssignment, Plan, RunningWorker,
    SupervisorStatus, TopologyRecord, TopologyStatus, WorkerInfo, WorkerSlot,
};
use crate::cluster::scheduler::{self, Slot, Supervisor};
use crate::cluster::store::{MetaStore, StoreError};
use prost::Message;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// A supervisor as nimbus last heard of it.
#[derive(Debug, Clone)]
pub struct SupervisorState {
    /// The address its workers listen on.
    pub host: String,
    /// Its worker ports.
    pub ports: Vec<u32>,
    /// Its last heartbeat (or nimbus's start, for one known only from the store).
    pub last: Instant,
    /// The workers it said it runs.
    pub running: Vec<RunningWorker>,
}

/// A worker's last heartbeat.
#[derive(Debug, Clone)]
pub struct WorkerBeat {
    /// When it arrived.
    pub at: Instant,
    /// The assignment version the worker runs.
    pub version: u64,
    /// Its counters.
    pub stats: Vec<ComponentStats>,
    /// Every executor of it finished.
    pub finished: bool,
}

/// A topology nimbus runs.
#[derive(Debug, Clone)]
pub struct Topo {
    /// What is persisted.
    pub record: TopologyRecord,
    /// Per worker index, its last heartbeat.
    pub beats: HashMap<u32, WorkerBeat>,
    /// When this nimbus started watching it (its workers' grace period starts here).
    pub since: Instant,
}

/// Nimbus's whole state.
#[derive(Debug)]
pub struct State {
    /// By topology id.
    pub topologies: BTreeMap<String, Topo>,
    /// By supervisor id.
    pub supervisors: BTreeMap<String, SupervisorState>,
    /// Heartbeats older than this mark a supervisor dead.
    pub supervisor_timeout: Duration,
    /// Heartbeats older than this mark a worker dead (its slot is avoided).
    pub worker_timeout: Duration,
    /// Slots whose worker stopped heartbeating, avoided until their supervisor is fresh.
    pub bad_slots: BTreeSet<Slot>,
}

/// The store key of a topology's record.
fn key(id: &str) -> String {
    format!("topologies/{id}")
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

impl State {
    /// Loads every topology from the store. Supervisors their assignments name are assumed
    /// alive until they miss a heartbeat timeout from now, so a restarted nimbus does not
    /// reassign a cluster that kept running while it was down.
    pub fn recover(
        store: &dyn MetaStore,
        supervisor_timeout: Duration,
        worker_timeout: Duration,
    ) -> Result<State, String> {
        let now = Instant::now();
        let mut state = State {
            topologies: BTreeMap::new(),
            supervisors: BTreeMap::new(),
            supervisor_timeout,
            worker_timeout,
            bad_slots: BTreeSet::new(),
        };
        let keys = store.list("topologies/").map_err(|e| e.to_string())?;
        for k in keys {
            let Some(bytes) = store.get(&k).map_err(|e| e.to_string())? else {
                continue;
            };
            let record = TopologyRecord::decode(bytes.as_slice())
                .map_err(|e| format!("store entry `{k}` is corrupt: {e}"))?;
            for w in record.assignment.iter().flat_map(|a| &a.workers) {
                let s = state
                    .supervisors
                    .entry(w.supervisor.clone())
                    .or_insert_with(|| SupervisorState {
                        host: w.host.clone(),
                        ports: Vec::new(),
                        last: now,
                        running: Vec::new(),
                    });
                if !s.ports.contains(&w.port) {
                    s.ports.push(w.port);
                }
            }
            state.topologies.insert(
                record.id.clone(),
                Topo {
                    record,
                    beats: HashMap::new(),
                    since: now,
                },
            );
        }
        Ok(state)
    }

    /// Persists a topology's record.
    pub fn save(&self, store: &dyn MetaStore, id: &str) -> Result<(), StoreError> {
        match self.topologies.get(id) {
            Some(t) => store.put(&key(id), &t.record.encode_to_vec()),
            None => store.delete(&key(id)),
        }
    }

    /// True when the supervisor heartbeated within the timeout.
    pub fn supervisor_alive(&self, id: &str, now: Instant) -> bool {
        self.supervisors
            .get(id)
            .is_some_and(|s| now.duration_since(s.last) < self.supervisor_timeout)
    }

    /// The running (not finished) topology called `name`.
    pub fn by_name(&self, name: &str) -> Option<&Topo> {
        self.topologies
            .values()
            .find(|t| t.record.plan.as_ref().is_some_and(|p| p.name == name) && !t.record.finished)
    }

    /// Adds a submitted topology and schedules it. Returns its id.
    pub fn add(&mut self, plan: Plan, sha256: String, now: Instant) -> String {
        let n = self
            .topologies
            .keys()
            .filter_map(|k| k.rsplit_once('-').and_then(|(_, n)| n.parse::<u64>().ok()))
            .max()
            .unwrap_or(0)
            + 1;
        let id = format!("{}-{n}", plan.name);
        let parallelism = plan.chains.iter().map(|c| c.parallelism).collect();
        let record = TopologyRecord {
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
            }),
            plan: Some(plan),
            sha256,
            submitted_ms: now_ms(),
            finished: false,
        };
        self.topologies.insert(
            id.clone(),
            Topo {
                record,
                beats: HashMap::new(),
                since: now,
            },
        );
        self.schedule(&id, true, now);
        id
    }

    /// (Re)computes a topology's assignment: keeps the slots of its workers that are still
    /// usable, replaces the others, and spreads the executors. Returns true if it changed
    /// (the version is bumped then). `force` re-places executors even if the slots stay.
    pub fn schedule(&mut self, id: &str, force: bool, now: Instant) -> bool {
        let supervisors: Vec<Supervisor> = self
            .supervisors
            .iter()
            .map(|(sid, s)| Supervisor {
                id: sid.clone(),
                ports: s.ports.clone(),
                alive: self.supervisor_alive(sid, now),
            })
            .collect();
        let mut taken: BTreeSet<Slot> = self.bad_slots.clone();
        for (other, t) in &self.topologies {
            if other != id && !t.record.finished {
                for w in t.record.assignment.iter().flat_map(|a| &a.workers) {
                    taken.insert(Slot {
                        supervisor: w.supervisor.clone(),
                        port: w.port,
                    });
                }
            }
        }
        let Some(topo) = self.topologies.get_mut(id) else {
            return false;
        };
        let want = topo.record.plan.as_ref().map_or(1, |p| p.workers);
        let Some(a) = topo.record.assignment.as_mut() else {
            return false;
        };
        let keep: Vec<Slot> = a
            .workers
            .iter()
            .map(|w| Slot {
                supervisor: w.supervisor.clone(),
                port: w.port,
            })
            .collect();
        let slots = scheduler::choose_slots(want, &supervisors, &taken, &keep);
        if slots == keep && !force {
            return false;
        }
        a.workers = slots
            .iter()
            .enumerate()
            .map(|(i, s)| WorkerSlot {
                index: i as u32,
                supervisor: s.supervisor.clone(),
                host: self
                    .supervisors
                    .get(&s.supervisor)
                    .map_or_else(String::new, |x| x.host.clone()),
                port: s.port,
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
        a.version += 1;
        topo.beats.clear();
        topo.since = now;
        true
    }

    /// Topologies to reschedule now: those with a worker on a dead supervisor, or whose
    /// worker stopped heartbeating (its slot is then avoided), or still waiting for slots.
    pub fn needing_reschedule(&mut self, now: Instant) -> Vec<String> {
        let mut out = Vec::new();
        let mut bad = Vec::new();
        for (id, t) in &self.topologies {
            if t.record.finished {
                continue;
            }
            let Some(a) = &t.record.assignment else {
                continue;
            };
            let want = t.record.plan.as_ref().map_or(1, |p| p.workers) as usize;
            let mut needs = a.workers.is_empty() || a.workers.len() < want;
            for w in &a.workers {
                if !self.supervisor_alive(&w.supervisor, now) {
                    needs = true;
                    continue;
                }
                let last = t.beats.get(&w.index).map_or(t.since, |b| b.at);
                let done = t.beats.get(&w.index).is_some_and(|b| b.finished);
                if !done && now.duration_since(last) > self.worker_timeout {
                    bad.push(Slot {
                        supervisor: w.supervisor.clone(),
                        port: w.port,
                    });
                    needs = true;
                }
            }
            if needs {
                out.push(id.clone());
            }
        }
        self.bad_slots.extend(bad);
        out
    }

    /// The workers assigned to supervisor `sid`.
    pub fn assignments_of(&self, sid: &str) -> Vec<LocalAssignment> {
        let mut out = Vec::new();
        for t in self.topologies.values().filter(|t| !t.record.finished) {
            let Some(a) = &t.record.assignment else {
                continue;
            };
            for w in a.workers.iter().filter(|w| w.supervisor == sid) {
                out.push(LocalAssignment {
                    topology_id: t.record.id.clone(),
                    worker: w.index,
                    port: w.port,
                    sha256: t.record.sha256.clone(),
                    version: a.version,
                });
            }
        }
        out
    }

    /// The status `gale list` shows.
    pub fn status(&self, now: Instant) -> (Vec<TopologyStatus>, Vec<SupervisorStatus>) {
        let ms = |d: Duration| d.as_millis() as u64;
        let topologies = self
            .topologies
            .values()
            .map(|t| {
                let a = t.record.assignment.clone().unwrap_or_default();
                let names: Vec<String> = t
                    .record
                    .plan
                    .iter()
                    .flat_map(|p| &p.chains)
                    .map(|c| c.components.join("+"))
                    .collect();
                let workers = a
                    .workers
                    .iter()
                    .map(|w| {
                        let beat = t.beats.get(&w.index);
                        WorkerInfo {
                            index: w.index,
                            supervisor: w.supervisor.clone(),
                            host: w.host.clone(),
                            port: w.port,
                            last_heartbeat_ms: beat.map_or(0, |b| ms(now.duration_since(b.at))),
                            alive: beat
                                .is_some_and(|b| now.duration_since(b.at) < self.worker_timeout),
                            executors: a
                                .executors
                                .iter()
                                .filter(|e| e.worker == w.index)
                                .map(|e| match names.get(e.chain as usize) {
                                    Some(n) => format!("{n}:{}", e.index),
                                    None => format!("__acker:{}", e.index),
                                })
                                .collect(),
                        }
                    })
                    .collect();
                let mut components: Vec<ComponentStats> = Vec::new();
                for b in t.beats.values() {
                    for s in &b.stats {
                        match components.iter_mut().find(|c| c.component == s.component) {
                            Some(c) => {
                                c.emitted += s.emitted;
                                c.executed += s.executed;
                                c.acked += s.acked;
                                c.failed += s.failed;
                                c.rate += s.rate;
                            }
                            None => components.push(s.clone()),
                        }
                    }
                }
                let status = if t.record.finished {
                    "finished"
                } else if a.workers.is_empty() {
                    "waiting"
                } else {
                    "running"
                };
                TopologyStatus {
                    id: t.record.id.clone(),
                    name: a.name.clone(),
                    status: status.to_string(),
                    version: a.version,
                    uptime_ms: now_ms().saturating_sub(t.record.submitted_ms),
                    workers,
                    components,
                }
            })
            .collect();
        let supervisors = self
            .supervisors
            .iter()
            .map(|(id, s)| SupervisorStatus {
                id: id.clone(),
                host: s.host.clone(),
                ports: s.ports.clone(),
                used: self
                    .topologies
                    .values()
                    .filter(|t| !t.record.finished)
                    .flat_map(|t| t.record.assignment.iter().flat_map(|a| &a.workers))
                    .filter(|w| &w.supervisor == id)
                    .count() as u32,
                last_heartbeat_ms: ms(now.duration_since(s.last)),
                alive: self.supervisor_alive(id, now),
            })
            .collect();
        (topologies, supervisors)
    }
}
