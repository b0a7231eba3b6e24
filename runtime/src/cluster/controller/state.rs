//! What nimbus knows: topologies with their assignments, supervisors, heartbeats; the
//! queries on it (what a supervisor runs, what `gale list` shows, what `kill NAME` means),
//! and how it is loaded from and written to the [`MetaStore`]. The decisions that change
//! it are in the controller's other modules.

use crate::cluster::proto::{
    CheckpointStatus, ComponentStats, LocalAssignment, RunningWorker, SupervisorStatus,
    TopologyRecord, TopologyStatus, WorkerInfo, WorkerSlot,
};
use crate::cluster::store::{MetaStore, StoreError};
use prost::Message;
use std::collections::{BTreeMap, HashMap};
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
    /// The process that sent it.
    pub pid: u32,
    /// The last reason the worker gave for being unhealthy (empty: none), kept from
    /// earlier beats.
    pub unhealthy: String,
    /// Its executors run: it is past its start (a worker that crashes as its executors
    /// open never reports this).
    pub running: bool,
    /// The port of its `/metrics` (0: none).
    pub metrics_port: u32,
}

/// What a worker is doing, as `gale list` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkerState {
    /// Its current process heartbeats.
    Alive,
    /// Its process runs but has not heartbeated yet.
    Starting,
    /// Its process crashed; the supervisor waits out a backoff before the next start.
    Restarting,
    /// It has not heartbeated for the worker timeout.
    Silent,
    /// Its supervisor is dead, but it heartbeats: it runs on (a restarted supervisor
    /// adopts it).
    Orphan,
    /// Its supervisor is dead, and it is silent.
    Lost,
    /// It (or its whole topology) finished.
    Finished,
    /// Its supervisor does not report it (not started yet, or a report is on its way).
    Unknown,
}

impl WorkerState {
    /// The word `gale list` prints.
    pub fn as_str(self) -> &'static str {
        match self {
            WorkerState::Alive => "alive",
            WorkerState::Starting => "starting",
            WorkerState::Restarting => "restarting",
            WorkerState::Silent => "silent",
            WorkerState::Orphan => "orphan",
            WorkerState::Lost => "lost",
            WorkerState::Finished => "finished",
            WorkerState::Unknown => "unknown",
        }
    }
}

/// A topology nimbus runs.
#[derive(Debug, Clone)]
pub struct Topo {
    /// What is persisted.
    pub record: TopologyRecord,
    /// Per worker index, its last heartbeat.
    pub beats: HashMap<u32, WorkerBeat>,
    /// When this nimbus started watching it, or placed all its workers anew (their grace
    /// period starts here).
    pub since: Instant,
    /// Per worker index moved alone since then: when its new incarnation started.
    pub started: HashMap<u32, Instant>,
}

impl Topo {
    /// The number of workers its plan asks for.
    pub fn wanted_workers(&self) -> usize {
        self.record.plan.as_ref().map_or(1, |p| p.workers) as usize
    }

    /// When nimbus started waiting for worker `index`'s current incarnation: a worker that
    /// has not heartbeated since is silent one worker timeout after this.
    pub fn watched_since(&self, index: u32) -> Instant {
        self.started.get(&index).copied().unwrap_or(self.since)
    }

    /// True when worker `index` has finished its input (recorded by nimbus).
    pub fn worker_finished(&self, index: u32) -> bool {
        self.record
            .assignment
            .as_ref()
            .is_some_and(|a| a.finished_workers.contains(&index))
    }
}

/// Nimbus's whole state.
#[derive(Debug, Clone)]
pub struct State {
    /// By topology id.
    pub topologies: BTreeMap<String, Topo>,
    /// By supervisor id.
    pub supervisors: BTreeMap<String, SupervisorState>,
    /// Heartbeats older than this mark a supervisor dead.
    pub supervisor_timeout: Duration,
    /// Heartbeats older than this mark a worker dead: it is moved to another slot.
    pub worker_timeout: Duration,
    /// The number the next submitted topology's id ends with. Persisted (under
    /// [`NEXT_ID_KEY`]) before any topology uses it, so an id is never given twice, not even
    /// after a kill or a nimbus restart.
    pub next_id: u64,
}

/// The store key of a topology's record.
fn key(id: &str) -> String {
    format!("topologies/{id}")
}

/// The store key of the topology id counter.
pub const NEXT_ID_KEY: &str = "meta/next-topology-id";

/// What `gale kill NAME` removes, decided by [`State::to_kill`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KillTarget {
    /// The running topology of that name (or with that id): its workers are stopped.
    Running(String),
    /// No topology of that name runs: these finished records are removed.
    Finished(Vec<String>),
}

/// The number an id `name-N` ends with.
fn id_number(id: &str) -> Option<u64> {
    id.rsplit_once('-').and_then(|(_, n)| n.parse().ok())
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
        now: Instant,
    ) -> Result<State, String> {
        let mut state = State {
            topologies: BTreeMap::new(),
            supervisors: BTreeMap::new(),
            supervisor_timeout,
            worker_timeout,
            next_id: 1,
        };
        if let Some(bytes) = store.get(NEXT_ID_KEY).map_err(|e| e.to_string())? {
            let text = String::from_utf8_lossy(&bytes);
            state.next_id = text.trim().parse().map_err(|_| {
                format!("store entry `{NEXT_ID_KEY}` is corrupt: `{text}` is not a number")
            })?;
        }
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
            // Records older than the counter (written by an older nimbus) still bound it.
            if let Some(n) = id_number(&record.id) {
                state.next_id = state.next_id.max(n + 1);
            }
            state.topologies.insert(
                record.id.clone(),
                Topo {
                    record,
                    beats: HashMap::new(),
                    since: now,
                    started: HashMap::new(),
                },
            );
        }
        Ok(state)
    }

    /// The running topology called `name_or_id`, or with that id.
    pub fn running(&self, name_or_id: &str) -> Option<&Topo> {
        self.by_name(name_or_id).or_else(|| {
            self.topologies
                .get(name_or_id)
                .filter(|t| !t.record.finished)
        })
    }

    /// The id the next topology called `name` gets, and the counter to persist (with
    /// [`State::save_next_id`]) before using it.
    pub fn next_topology_id(&self, name: &str) -> (String, u64) {
        (format!("{name}-{}", self.next_id), self.next_id + 1)
    }

    /// Persists the id counter `next`; only then may the id before it be used.
    pub fn save_next_id(store: &dyn MetaStore, next: u64) -> Result<(), StoreError> {
        store.put(NEXT_ID_KEY, next.to_string().as_bytes())
    }

    /// What `gale kill NAME` means: the running topology of that name, or the one with that
    /// id; failing both, the finished records of that name. `None` if there is nothing.
    pub fn to_kill(&self, name: &str) -> Option<KillTarget> {
        if let Some(t) = self.by_name(name) {
            return Some(KillTarget::Running(t.record.id.clone()));
        }
        if let Some(t) = self.topologies.get(name) {
            return Some(if t.record.finished {
                KillTarget::Finished(vec![name.to_string()])
            } else {
                KillTarget::Running(name.to_string())
            });
        }
        let finished: Vec<String> = self
            .topologies
            .values()
            .filter(|t| t.record.plan.as_ref().is_some_and(|p| p.name == name))
            .map(|t| t.record.id.clone())
            .collect();
        (!finished.is_empty()).then_some(KillTarget::Finished(finished))
    }

    /// Persists a topology's record as it is in memory (or its absence).
    pub fn save(&self, store: &dyn MetaStore, id: &str) -> Result<(), StoreError> {
        Self::save_topo(store, id, self.topologies.get(id))
    }

    /// Persists `topo` as the record of `id` (`None`: deletes it). Nimbus persists a change
    /// this way before it puts it in memory, so memory never holds what the store lacks.
    pub fn save_topo(
        store: &dyn MetaStore,
        id: &str,
        topo: Option<&Topo>,
    ) -> Result<(), StoreError> {
        match topo {
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

    /// Puts a (persisted) topology into the state.
    pub fn put(&mut self, topo: Topo) {
        self.topologies.insert(topo.record.id.clone(), topo);
    }

    /// The workers assigned to supervisor `sid`.
    pub fn assignments_of(&self, sid: &str) -> Vec<LocalAssignment> {
        let mut out = Vec::new();
        for t in self.topologies.values().filter(|t| !t.record.finished) {
            let Some(a) = &t.record.assignment else {
                continue;
            };
            for w in a
                .workers
                .iter()
                .filter(|w| w.supervisor == sid && !a.finished_workers.contains(&w.index))
            {
                out.push(LocalAssignment {
                    topology_id: t.record.id.clone(),
                    worker: w.index,
                    port: w.port,
                    sha256: t.record.sha256.clone(),
                    version: w.since,
                });
            }
        }
        out
    }

    /// What a worker is doing, from its heartbeats and its supervisor's report of its
    /// process: alive only if the process its supervisor runs now has heartbeated recently
    /// (a crash-looping worker whose earlier process beat once is not alive).
    pub fn worker_state(
        &self,
        t: &Topo,
        w: &WorkerSlot,
        process: Option<&RunningWorker>,
        now: Instant,
    ) -> WorkerState {
        if t.record.finished {
            return WorkerState::Finished;
        }
        let beat = t.beats.get(&w.index);
        if !self.supervisor_alive(&w.supervisor, now) {
            let beating = beat
                .is_some_and(|b| b.running && now.duration_since(b.at) < self.supervisor_timeout);
            return if beating {
                WorkerState::Orphan
            } else {
                WorkerState::Lost
            };
        }
        if t.worker_finished(w.index) || beat.is_some_and(|b| b.finished) {
            return WorkerState::Finished;
        }
        let Some(p) = process else {
            return WorkerState::Unknown;
        };
        if p.backoff {
            return WorkerState::Restarting;
        }
        match beat {
            Some(b) if b.pid == p.pid || b.pid == 0 => {
                if !b.running && now.duration_since(b.at) < self.worker_timeout {
                    WorkerState::Starting
                } else if now.duration_since(b.at) < self.worker_timeout {
                    WorkerState::Alive
                } else {
                    WorkerState::Silent
                }
            }
            _ if now.duration_since(t.watched_since(w.index)) < self.worker_timeout => {
                WorkerState::Starting
            }
            _ => WorkerState::Silent,
        }
    }

    /// The status `gale list` shows; `wall_ms` is the wall clock (milliseconds since the
    /// Unix epoch), for uptimes.
    pub fn status(
        &self,
        now: Instant,
        wall_ms: u64,
    ) -> (Vec<TopologyStatus>, Vec<SupervisorStatus>) {
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
                        let process = self.supervisors.get(&w.supervisor).and_then(|s| {
                            s.running.iter().find(|r| {
                                r.topology_id == t.record.id
                                    && r.worker == w.index
                                    && r.version == w.since
                            })
                        });
                        let state = self.worker_state(t, w, process, now);
                        WorkerInfo {
                            index: w.index,
                            supervisor: w.supervisor.clone(),
                            host: w.host.clone(),
                            port: w.port,
                            last_heartbeat_ms: beat.map_or(0, |b| ms(now.duration_since(b.at))),
                            alive: matches!(state, WorkerState::Alive | WorkerState::Orphan),
                            restarts: process.map_or(0, |p| p.restarts),
                            last_exit: process.map_or_else(String::new, |p| p.last_exit.clone()),
                            state: state.as_str().to_string(),
                            unhealthy: beat.map_or_else(String::new, |b| b.unhealthy.clone()),
                            metrics_port: beat.map_or(0, |b| b.metrics_port),
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
                                c.late += s.late;
                                c.rate += s.rate;
                            }
                            None => components.push(s.clone()),
                        }
                    }
                }
                let failure = t
                    .record
                    .checkpoints
                    .as_ref()
                    .map_or_else(String::new, |c| c.failed.clone());
                let status = if !failure.is_empty() {
                    "failed"
                } else if t.record.finished {
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
                    uptime_ms: wall_ms.saturating_sub(t.record.submitted_ms),
                    workers,
                    components,
                    // The record's part; nimbus adds what its checkpoint coordinator saw.
                    checkpoints: t.record.checkpoints.as_ref().map(|c| CheckpointStatus {
                        restarts: c.restarts,
                        last_failure: c.last_failure.clone(),
                        last_id: c.restore_id,
                        storage: a
                            .checkpoints
                            .as_ref()
                            .map_or_else(String::new, |k| k.storage.clone()),
                        ..Default::default()
                    }),
                    failure,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::proto::{ChainPlan, Plan};
    use crate::cluster::store::FileStore;

    fn plan(name: &str) -> Plan {
        Plan {
            name: name.into(),
            workers: 1,
            ackers: 0,
            chains: vec![ChainPlan {
                components: vec!["a".into()],
                tasks: 1,
                parallelism: 1,
                spout: true,
            }],
            config: Default::default(),
            checkpoints: None,
            ..Default::default()
        }
    }

    fn store(name: &str) -> (FileStore, std::path::PathBuf) {
        let dir = std::env::temp_dir().join(format!("gale-state-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        (FileStore::open(&dir).unwrap(), dir)
    }

    /// What nimbus's submit does: persist the counter, then the record, then memory.
    fn submit(state: &mut State, store: &FileStore, name: &str) -> String {
        let (d, admitted) = crate::cluster::controller::commands::submit(
            state,
            plan(name),
            "00".repeat(32),
            Instant::now(),
            0,
        )
        .unwrap();
        crate::cluster::controller::carry_out(store, state, d).unwrap();
        admitted.id
    }

    #[test]
    fn ids_are_never_reused_after_a_kill_or_a_restart() {
        let (store, dir) = store("ids");
        let t = Duration::from_secs(10);
        let mut state = State::recover(&store, t, t, Instant::now()).unwrap();
        assert_eq!(submit(&mut state, &store, "wc"), "wc-1");
        // Killed: the record goes, the counter stays.
        State::save_topo(&store, "wc-1", None).unwrap();
        state.topologies.remove("wc-1");
        assert_eq!(submit(&mut state, &store, "wc"), "wc-2");
        assert_eq!(submit(&mut state, &store, "other"), "other-3");
        State::save_topo(&store, "wc-2", None).unwrap();
        State::save_topo(&store, "other-3", None).unwrap();
        // A new nimbus on the same store, with no topology left in it.
        let mut again = State::recover(&store, t, t, Instant::now()).unwrap();
        assert!(again.topologies.is_empty());
        assert_eq!(submit(&mut again, &store, "wc"), "wc-4");
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn kill_by_name_means_the_running_topology() {
        let (store, dir) = store("kill");
        let t = Duration::from_secs(10);
        let mut state = State::recover(&store, t, t, Instant::now()).unwrap();
        let first = submit(&mut state, &store, "wc");
        if let Some(t) = state.topologies.get_mut(&first) {
            t.record.finished = true;
        }
        let second = submit(&mut state, &store, "wc");
        assert_eq!(
            state.to_kill("wc"),
            Some(KillTarget::Running(second.clone()))
        );
        assert_eq!(
            state.to_kill(&first),
            Some(KillTarget::Finished(vec![first.clone()]))
        );
        state.topologies.remove(&second);
        assert_eq!(
            state.to_kill("wc"),
            Some(KillTarget::Finished(vec![first.clone()]))
        );
        assert_eq!(state.to_kill("nope"), None);
        assert!(state.running(&first).is_none(), "finished is not running");
        let _ = std::fs::remove_dir_all(dir);
    }
}
