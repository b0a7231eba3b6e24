//! A deterministic simulation of the control plane: nimbus (the real controller, its real
//! store code over a [`MemStore`]), supervisors (the real [`supervisor_plan`] and
//! [`RestartPolicy`]) and worker processes, driven by a seeded random schedule of faults on
//! a simulated clock: lost requests, lost and late replies, worker crashes (kill -9), supervisor
//! crashes (its workers run on; restarted, it adopts them) and restarts, nimbus crashes and
//! restarts, partitions between nimbus and any host and between any two hosts (the data
//! links between their workers), a clock that jumps, and users submitting, killing and
//! rebalancing topologies.
//!
//! After every step it checks the invariants; after the faults stop and a quiet period it
//! checks that the cluster converged:
//!
//! - never two processes of one (topology, worker index) in its current incarnation, and
//!   never two processes running on one slot (a second one fails to bind, as a real one);
//! - every topology with enough slots is fully running once faults stop;
//! - a killed topology leaves no process, and no stale process (of an incarnation that
//!   was replaced) survives the quiet period;
//! - a finite topology finishes exactly once, and a finished worker never runs its
//!   executors again (a late reply may make a supervisor start it: it must exit);
//! - a nimbus restart loses nothing it acknowledged, and ids are never given twice;
//! - a worker is linked to at most one process of each peer (the handshake's fencing by
//!   incarnation), and once faults stop the workers of every running topology are linked
//!   pairwise (every worker followed every move of its peers).
//!
//! `GALE_SIM_SEEDS=N` sets how many seeds `many_seeds` runs (default 300; CI runs more in
//! release). A failing seed prints the one-line command that replays it:
//! `GALE_SIM_SEED=<seed> cargo test -p gale --test sim replay -- --nocapture`.
//!
//! What is simplified: a worker's work does not depend on its peers (the data plane is
//! links only, with the handshake's rule; the bytes and the handshake itself are tested in
//! `transport::net`); requests are delivered at once or lost, replies to supervisors may
//! also come late (after newer ones). Late replies to workers are not simulated: what they
//! carry only moves forward (an incarnation replaced or a topology killed stays so, and a
//! newer version is fetched whole), so a late one says nothing a lost one does not.

use gale::cluster::controller::{self, Decision, Effect, State, beats, commands};
use gale::cluster::proto::{
    Assignment, ChainPlan, LocalAssignment, ParallelismChange, Plan, RunningWorker,
    SupervisorHeartbeatRequest, TopologyRecord, WorkerHeartbeatRequest,
};
use gale::cluster::restart::{CrashHistory, RestartPolicy};
use gale::cluster::store::{MemStore, MetaStore};
use gale::cluster::supervisor_plan::{self, SupervisorAction, WorkerKey, WorkerView};
use gale::cluster::worker::{Follow, abandoned, follow};
use prost::Message;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::{Duration, Instant};

/// The schedule's randomness: the runtime's SplitMix64, seeded.
struct Rng(gale::rng::Rng);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0.next_u64() % n.max(1)
    }

    fn chance(&mut self, p: f64) -> bool {
        (self.0.next_u64() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }

    fn secs(&mut self, lo: u64, hi: u64) -> Duration {
        Duration::from_millis(lo * 1000 + self.below((hi - lo) * 1000 + 1))
    }
}

const STEP: Duration = Duration::from_millis(100);
const NIMBUS_TICK: Duration = Duration::from_millis(500);
const BEAT: Duration = Duration::from_secs(1);
const SUPERVISOR_TIMEOUT: Duration = Duration::from_secs(3);
const WORKER_TIMEOUT: Duration = Duration::from_secs(6);
const FAULTS_FOR: Duration = Duration::from_secs(90);
const QUIET_FOR: Duration = Duration::from_secs(90);
const SUPERVISORS: usize = 3;
const PORTS: u32 = 3;
const SHA: &str = "5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a";

/// What a simulated worker process is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Started; fetches its assignment at its next step.
    Fetching,
    /// Running its executors.
    Running,
    /// Every executor finished: it beats `finished` until nimbus has it, then exits 0.
    Finishing,
}

#[derive(Debug)]
struct Proc {
    topo: String,
    index: u32,
    since: u64,
    supervisor: usize,
    port: u32,
    phase: Phase,
    next_beat: Duration,
    /// Finite topologies: work left before it finishes.
    work_left: Option<Duration>,
    /// The assignment it runs with (fetched at start, followed when it changes).
    view: Option<Assignment>,
    /// Its supervisor crashed since it started (its parent is gone for good, even once a
    /// restarted supervisor adopts it).
    orphan: bool,
    /// When nimbus last answered it.
    last_answer: Duration,
}

#[derive(Debug)]
struct SupWorker {
    view: WorkerView,
    pid: Option<u32>,
    crashes: CrashHistory,
    started: Option<Instant>,
}

#[derive(Debug)]
struct Sup {
    /// Bumped at each start: a reply to an earlier process's request is dropped.
    generation: u32,
    id: String,
    ports: Vec<u32>,
    up: bool,
    down_until: Duration,
    next_beat: Duration,
    workers: BTreeMap<WorkerKey, SupWorker>,
    /// Its list of worker processes (the `workers` file: it survives a crash).
    listed: Vec<(u32, LocalAssignment)>,
}

/// How a request went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Delivery {
    /// It never reached nimbus.
    Lost,
    /// Nimbus handled it and the caller got the reply.
    Answered,
    /// Nimbus handled it but the reply was lost.
    ReplyLost,
}

struct World {
    seed: u64,
    rng: Rng,
    base: Instant,
    t: Duration,
    store: MemStore,
    nimbus: Option<State>,
    nimbus_down_until: Duration,
    next_tick: Duration,
    sups: Vec<Sup>,
    procs: BTreeMap<u32, Proc>,
    next_pid: u32,
    /// Partitions between nimbus and a host, until when.
    cut: BTreeMap<usize, Duration>,
    /// Partitions between two hosts (the lower first), until when: their workers' data
    /// links break and cannot form.
    split: BTreeMap<(usize, usize), Duration>,
    /// The data links between worker processes (the lower pid first).
    links: BTreeSet<(u32, u32)>,
    loss: f64,
    policy: RestartPolicy,
    /// Ground truth: every id nimbus ever gave.
    ids_given: BTreeSet<String>,
    /// Ground truth: the topologies nimbus persisted and has not removed.
    persisted: BTreeSet<String>,
    /// How often each topology became finished.
    finished_count: BTreeMap<String, u32>,
    /// Work per worker of the finite topologies.
    finite: BTreeMap<String, Duration>,
    trace: VecDeque<String>,
    /// Supervisor heartbeat replies on their way: (when, supervisor, its generation, the
    /// assignments).
    delayed: Vec<(Duration, usize, u32, Vec<LocalAssignment>)>,
    /// Print every event (`replay` does).
    verbose: bool,
}

impl World {
    fn new(seed: u64) -> World {
        let mut rng = Rng(gale::rng::Rng::seeded(seed));
        let loss = [0.0, 0.02, 0.1, 0.3][rng.below(4) as usize];
        let sups = (0..SUPERVISORS)
            .map(|i| Sup {
                generation: 0,
                id: format!("sup{i}"),
                ports: (0..PORTS).map(|p| 6700 + p).collect(),
                up: true,
                down_until: Duration::ZERO,
                next_beat: Duration::from_millis(100 * i as u64),
                workers: BTreeMap::new(),
                listed: Vec::new(),
            })
            .collect();
        let store = MemStore::default();
        let base = Instant::now();
        let nimbus = State::recover(&store, SUPERVISOR_TIMEOUT, WORKER_TIMEOUT, base)
            .expect("an empty store recovers");
        World {
            seed,
            rng,
            base,
            t: Duration::ZERO,
            store,
            nimbus: Some(nimbus),
            nimbus_down_until: Duration::ZERO,
            next_tick: Duration::ZERO,
            sups,
            procs: BTreeMap::new(),
            next_pid: 100,
            cut: BTreeMap::new(),
            split: BTreeMap::new(),
            links: BTreeSet::new(),
            loss,
            policy: RestartPolicy {
                first: Duration::from_millis(500),
                max: Duration::from_secs(8),
                healthy_after: Duration::from_secs(20),
            },
            ids_given: BTreeSet::new(),
            persisted: BTreeSet::new(),
            finished_count: BTreeMap::new(),
            finite: BTreeMap::new(),
            trace: VecDeque::new(),
            delayed: Vec::new(),
            verbose: false,
        }
    }

    fn now(&self) -> Instant {
        self.base + self.t
    }

    fn say(&mut self, line: String) {
        if self.verbose {
            eprintln!("[{:>7.1}s] {line}", self.t.as_secs_f64());
        }
        if self.trace.len() == 60 {
            self.trace.pop_front();
        }
        self.trace
            .push_back(format!("[{:>7.1}s] {line}", self.t.as_secs_f64()));
    }

    fn fail(&self, what: String) -> ! {
        let trace: Vec<&str> = self.trace.iter().map(String::as_str).collect();
        panic!(
            "simulation seed {} (loss {}): {what}\nreplay: GALE_SIM_SEED={} cargo test -p gale --test sim replay -- --nocapture\nlast events:\n{}",
            self.seed,
            self.loss,
            self.seed,
            trace.join("\n")
        );
    }

    /// Whether a request from `host` (`None`: a user's CLI) reaches nimbus, and its reply
    /// the caller.
    fn deliver(&mut self, host: Option<usize>, faults: bool) -> Delivery {
        if self.nimbus.is_none() || host.is_some_and(|h| self.cut.contains_key(&h)) {
            return Delivery::Lost;
        }
        if faults && self.rng.chance(self.loss / 2.0) {
            return Delivery::Lost;
        }
        if faults && self.rng.chance(self.loss / 2.0) {
            return Delivery::ReplyLost;
        }
        Delivery::Answered
    }

    /// What nimbus does with a decision: persist, apply, and (for the checks) note what
    /// changed.
    fn carry_out(&mut self, decision: Decision) {
        let Some(state) = self.nimbus.as_mut() else {
            return;
        };
        for e in &decision.effects {
            match e {
                Effect::Put(topo) => {
                    let id = topo.record.id.clone();
                    let was_finished = state.topologies.get(&id).is_some_and(|t| t.record.finished);
                    if !state.topologies.contains_key(&id) {
                        if !self.ids_given.insert(id.clone()) {
                            self.fail(format!("id `{id}` was given twice"));
                        }
                        self.persisted.insert(id.clone());
                    }
                    if topo.record.finished && !was_finished {
                        *self.finished_count.entry(id.clone()).or_default() += 1;
                    }
                }
                Effect::Remove(id) => {
                    self.persisted.remove(id);
                }
                Effect::NextId(_) => {}
            }
        }
        let log = decision.log.clone();
        if let Err(e) = controller::carry_out(&self.store, state, decision) {
            self.fail(format!("the in-memory store refused a change: {e}"));
        }
        for line in log {
            self.say(format!("nimbus: {line}"));
        }
    }

    fn step(&mut self, faults: bool) {
        self.t += STEP;
        if faults {
            self.inject_faults();
        }
        self.heal_expired();
        if self.t >= self.next_tick {
            self.next_tick = self.t + NIMBUS_TICK;
            if let Some(state) = &self.nimbus {
                let d = controller::tick(state, self.now());
                self.carry_out(d);
            }
        }
        self.deliver_delayed();
        for s in 0..self.sups.len() {
            if self.sups[s].up && self.t >= self.sups[s].next_beat {
                self.sups[s].next_beat = self.t + BEAT;
                self.reap(s);
                self.supervisor_beat(s, faults);
            }
        }
        let pids: Vec<u32> = self.procs.keys().copied().collect();
        for pid in pids {
            self.worker_step(pid, faults);
        }
        self.update_links();
        self.check_always();
    }

    /// The data plane, as its handshake fences it: two running workers of one topology are
    /// linked while their hosts can reach each other and each one's view of the assignment
    /// names the other's incarnation (a handshake is refused otherwise, and a worker that
    /// follows a moved peer drops its old link).
    fn update_links(&mut self) {
        let linkable = |w: &World, a: u32, b: u32| {
            let (Some(p), Some(q)) = (w.procs.get(&a), w.procs.get(&b)) else {
                return false;
            };
            let knows = |p: &Proc, q: &Proc| {
                p.view.as_ref().is_some_and(|v| {
                    v.workers
                        .iter()
                        .any(|w| w.index == q.index && w.since == q.since && w.port == q.port)
                })
            };
            let pair = (
                p.supervisor.min(q.supervisor),
                p.supervisor.max(q.supervisor),
            );
            p.topo == q.topo
                && p.index != q.index
                && p.phase != Phase::Fetching
                && q.phase != Phase::Fetching
                && !w.split.contains_key(&pair)
                && knows(p, q)
                && knows(q, p)
        };
        let links = std::mem::take(&mut self.links);
        self.links = links
            .into_iter()
            .filter(|&(a, b)| linkable(self, a, b))
            .collect();
        let pids: Vec<u32> = self.procs.keys().copied().collect();
        for (i, &a) in pids.iter().enumerate() {
            for &b in &pids[i + 1..] {
                if !self.links.contains(&(a, b)) && linkable(self, a, b) {
                    self.links.insert((a, b));
                }
            }
        }
    }

    fn inject_faults(&mut self) {
        let t = self.t;
        if self.rng.chance(0.01) && !self.procs.is_empty() {
            let i = self.rng.below(self.procs.len() as u64) as usize;
            if let Some(&pid) = self.procs.keys().nth(i) {
                self.say(format!("fault: kill -9 worker process {pid}"));
                self.exit(pid, 137);
            }
        }
        if self.rng.chance(0.002) {
            let s = self.rng.below(SUPERVISORS as u64) as usize;
            if self.sups[s].up {
                let d = self.rng.secs(1, 15);
                self.say(format!(
                    "fault: supervisor {s} crashes for {:.1} s",
                    d.as_secs_f64()
                ));
                self.crash_supervisor(s, t + d);
            }
        }
        if self.rng.chance(0.002) && self.nimbus.is_some() {
            let d = self.rng.secs(1, 10);
            self.say(format!(
                "fault: nimbus crashes for {:.1} s",
                d.as_secs_f64()
            ));
            self.nimbus = None;
            self.nimbus_down_until = t + d;
        }
        if self.rng.chance(0.003) {
            let h = self.rng.below(SUPERVISORS as u64) as usize;
            let d = self.rng.secs(1, 20);
            self.say(format!(
                "fault: host {h} cut off from nimbus for {:.1} s",
                d.as_secs_f64()
            ));
            self.cut.insert(h, t + d);
        }
        if self.rng.chance(0.003) {
            let a = self.rng.below(SUPERVISORS as u64) as usize;
            let b = (a + 1 + self.rng.below(SUPERVISORS as u64 - 1) as usize) % SUPERVISORS;
            let d = self.rng.secs(1, 20);
            self.say(format!(
                "fault: hosts {a} and {b} cut off from each other for {:.1} s",
                d.as_secs_f64()
            ));
            self.split.insert((a.min(b), a.max(b)), t + d);
        }
        if self.rng.chance(0.0005) {
            let jump = self.rng.secs(5, 40);
            self.say(format!(
                "fault: the clock jumps {:.1} s",
                jump.as_secs_f64()
            ));
            self.t += jump;
        }
        if self.rng.chance(0.004) {
            self.user_submits();
        }
        if self.rng.chance(0.002) {
            self.user_kills();
        }
        if self.rng.chance(0.0015) {
            self.user_rebalances();
        }
    }

    fn heal_expired(&mut self) {
        let t = self.t;
        self.cut.retain(|_, until| *until > t);
        self.split.retain(|_, until| *until > t);
        if self.nimbus.is_none() && t >= self.nimbus_down_until {
            self.restart_nimbus();
        }
        for s in 0..self.sups.len() {
            if !self.sups[s].up && t >= self.sups[s].down_until {
                self.sups[s].up = true;
                self.sups[s].generation += 1;
                self.sups[s].next_beat = t;
                self.say(format!("supervisor {s} starts"));
                self.adopt(s);
            }
        }
    }

    fn heal_all(&mut self) {
        self.cut.clear();
        self.split.clear();
        if self.nimbus.is_none() {
            self.restart_nimbus();
        }
        let t = self.t;
        for s in &mut self.sups {
            s.down_until = s.down_until.min(t);
        }
    }

    fn restart_nimbus(&mut self) {
        let state =
            match State::recover(&self.store, SUPERVISOR_TIMEOUT, WORKER_TIMEOUT, self.now()) {
                Ok(s) => s,
                Err(e) => self.fail(format!("nimbus cannot recover: {e}")),
            };
        let recovered: BTreeSet<String> = state.topologies.keys().cloned().collect();
        if recovered != self.persisted {
            self.fail(format!(
                "a restarted nimbus lost or invented topologies: recovered {recovered:?}, acknowledged {:?}",
                self.persisted
            ));
        }
        self.say(format!("nimbus starts: recovered {recovered:?}"));
        self.nimbus = Some(state);
    }

    fn crash_supervisor(&mut self, s: usize, until: Duration) {
        let sup = &mut self.sups[s];
        sup.up = false;
        sup.down_until = until;
        // Its list of processes is on disk; what it knew in memory is lost.
        sup.listed = std::mem::take(&mut sup.workers)
            .into_values()
            .filter_map(|w| Some((w.pid?, w.view.assignment)))
            .collect();
        // Its workers run on, orphans.
        for p in self.procs.values_mut().filter(|p| p.supervisor == s) {
            p.orphan = true;
        }
    }

    /// A starting supervisor adopts the processes of its list that still run the worker
    /// the list names (the real one checks `/proc`: alive, and the same command line).
    fn adopt(&mut self, s: usize) {
        let now = self.now();
        for (pid, a) in std::mem::take(&mut self.sups[s].listed) {
            let runs = self.procs.get(&pid).is_some_and(|p| {
                p.supervisor == s
                    && p.topo == a.topology_id
                    && p.index == a.worker
                    && p.since == a.version
            });
            if !runs {
                continue;
            }
            self.say(format!(
                "supervisor {s}: adopts worker {} of `{}` (pid {pid})",
                a.worker, a.topology_id
            ));
            self.sups[s].workers.insert(
                (a.topology_id.clone(), a.worker),
                SupWorker {
                    view: WorkerView {
                        assignment: a,
                        running: true,
                        done: false,
                        not_before: now,
                    },
                    pid: Some(pid),
                    crashes: CrashHistory::default(),
                    started: Some(now),
                },
            );
        }
    }

    fn user_submits(&mut self) {
        let live = self.nimbus.as_ref().map_or(0, |s| {
            s.topologies.values().filter(|t| !t.record.finished).count()
        });
        if live >= 3 {
            return;
        }
        let n = self.rng.below(4);
        let name = format!("topo{n}");
        let workers = 1 + self.rng.below(3) as u32;
        let finite = self.rng.chance(0.4);
        let plan = Plan {
            name: name.clone(),
            workers,
            ackers: 1,
            chains: vec![
                ChainPlan {
                    components: vec!["spout".into()],
                    tasks: 4,
                    parallelism: 2,
                    spout: true,
                },
                ChainPlan {
                    components: vec!["bolt".into()],
                    tasks: 4,
                    parallelism: 3,
                    spout: false,
                },
            ],
            config: Default::default(),
            checkpoints: None,
            ..Default::default()
        };
        let delivery = self.deliver(None, true);
        if delivery == Delivery::Lost {
            return;
        }
        let Some(state) = &self.nimbus else { return };
        match commands::submit(state, plan, SHA.into(), self.now(), 0) {
            Ok((d, admitted)) => {
                if finite {
                    let work = self.rng.secs(2, 12);
                    self.finite.insert(admitted.id.clone(), work);
                }
                self.say(format!(
                    "user: submit `{name}` ({workers} workers{}) -> {}",
                    if finite { ", finite" } else { "" },
                    admitted.id
                ));
                self.carry_out(d);
            }
            Err(e) => self.say(format!("user: submit `{name}` refused: {e}")),
        }
    }

    fn user_kills(&mut self) {
        let Some(state) = &self.nimbus else { return };
        let names: Vec<String> = state
            .topologies
            .values()
            .filter_map(|t| t.record.plan.as_ref().map(|p| p.name.clone()))
            .collect();
        if names.is_empty() {
            return;
        }
        let name = names[self.rng.below(names.len() as u64) as usize].clone();
        if self.deliver(None, true) == Delivery::Lost {
            return;
        }
        let Some(state) = &self.nimbus else { return };
        match commands::kill(state, &name) {
            Ok((d, ids)) => {
                self.say(format!("user: kill `{name}` -> {ids:?}"));
                self.carry_out(d);
            }
            Err(e) => self.say(format!("user: kill `{name}` refused: {e}")),
        }
    }

    fn user_rebalances(&mut self) {
        let Some(state) = &self.nimbus else { return };
        let names: Vec<String> = state
            .topologies
            .values()
            .filter(|t| !t.record.finished)
            .filter_map(|t| t.record.plan.as_ref().map(|p| p.name.clone()))
            .collect();
        if names.is_empty() {
            return;
        }
        let name = names[self.rng.below(names.len() as u64) as usize].clone();
        let change = ParallelismChange {
            component: "bolt".into(),
            parallelism: 1 + self.rng.below(4) as u32,
        };
        if self.deliver(None, true) == Delivery::Lost {
            return;
        }
        let Some(state) = &self.nimbus else { return };
        match commands::rebalance(state, &name, &[change], self.now()) {
            Ok((d, id, version)) => {
                // New executors everywhere: a finite topology's workers start their work over.
                self.say(format!(
                    "user: rebalance `{name}` -> {id} version {version}"
                ));
                self.carry_out(d);
            }
            Err(e) => self.say(format!("user: rebalance `{name}` refused: {e}")),
        }
    }

    /// The supervisor notes processes that exited (done in `exit` already) — nothing to
    /// poll in the simulation, kept for the order of a real heartbeat.
    fn reap(&mut self, _s: usize) {}

    fn supervisor_beat(&mut self, s: usize, faults: bool) {
        let running: Vec<RunningWorker> = self.sups[s]
            .workers
            .iter()
            .map(|((id, n), w)| RunningWorker {
                topology_id: id.clone(),
                worker: *n,
                port: w.view.assignment.port,
                pid: w.pid.unwrap_or(0),
                version: w.view.assignment.version,
                restarts: w.crashes.restarts,
                sha256: w.view.assignment.sha256.clone(),
                last_exit: w.crashes.last_exit.clone(),
                backoff: w.pid.is_none() && !w.view.done,
            })
            .collect();
        let req = SupervisorHeartbeatRequest {
            id: self.sups[s].id.clone(),
            host: format!("host{s}"),
            ports: self.sups[s].ports.clone(),
            workers: running,
        };
        let delivery = self.deliver(Some(s), faults);
        if delivery == Delivery::Lost {
            return;
        }
        let now = self.now();
        let Some(state) = self.nimbus.as_mut() else {
            return;
        };
        let (fresh, mut wanted) = match beats::supervisor(state, req, now) {
            Ok(x) => x,
            Err(e) => self.fail(format!("a valid supervisor beat was refused: {e}")),
        };
        if fresh {
            let d = controller::tick(state, now);
            if !d.is_empty() {
                self.carry_out(d);
                wanted = self
                    .nimbus
                    .as_ref()
                    .map(|st| st.assignments_of(&self.sups[s].id))
                    .unwrap_or_default();
            }
        }
        if delivery == Delivery::ReplyLost {
            return;
        }
        if faults && self.rng.chance(self.loss / 2.0) {
            // The reply arrives late, after newer ones maybe.
            let at = self.t + Duration::from_millis(300 + self.rng.below(2700));
            self.delayed.push((at, s, self.sups[s].generation, wanted));
            return;
        }
        self.sync(s, &wanted);
    }

    fn deliver_delayed(&mut self) {
        let t = self.t;
        let (due, later): (Vec<_>, Vec<_>) = std::mem::take(&mut self.delayed)
            .into_iter()
            .partition(|d| d.0 <= t);
        self.delayed = later;
        for (_, s, generation, wanted) in due {
            if self.sups[s].up && self.sups[s].generation == generation {
                self.say(format!("supervisor {s}: a late heartbeat reply arrives"));
                self.sync(s, &wanted);
            }
        }
    }

    fn sync(&mut self, s: usize, wanted: &[LocalAssignment]) {
        let now = self.now();
        let views: BTreeMap<WorkerKey, WorkerView> = self.sups[s]
            .workers
            .iter()
            .map(|(k, w)| (k.clone(), w.view.clone()))
            .collect();
        for action in supervisor_plan::plan(&views, wanted, now) {
            match action {
                SupervisorAction::Stop(k) => {
                    if let Some(w) = self.sups[s].workers.remove(&k)
                        && let Some(pid) = w.pid
                    {
                        self.say(format!(
                            "supervisor {s}: stops worker {} of `{}` (pid {pid})",
                            k.1, k.0
                        ));
                        self.procs.remove(&pid);
                    }
                }
                SupervisorAction::Start(a) => self.spawn(s, a),
            }
        }
    }

    fn spawn(&mut self, s: usize, a: LocalAssignment) {
        let now = self.now();
        let k = (a.topology_id.clone(), a.worker);
        let pid = self.next_pid;
        self.next_pid += 1;
        let w = self.sups[s]
            .workers
            .entry(k.clone())
            .or_insert_with(|| SupWorker {
                view: WorkerView {
                    assignment: a.clone(),
                    running: false,
                    done: false,
                    not_before: now,
                },
                pid: None,
                crashes: CrashHistory::default(),
                started: None,
            });
        if w.started.is_some() {
            w.crashes.restarts += 1;
        }
        w.started = Some(now);
        w.view.running = true;
        w.pid = Some(pid);
        // Workers of one topology finish at different times (their shares differ).
        let work_left = self
            .finite
            .get(&a.topology_id)
            .map(|w| w.mul_f64(0.3 + self.rng.below(1000) as f64 / 500.0));
        self.procs.insert(
            pid,
            Proc {
                topo: a.topology_id.clone(),
                index: a.worker,
                since: a.version,
                supervisor: s,
                port: a.port,
                phase: Phase::Fetching,
                next_beat: self.t + BEAT,
                work_left,
                view: None,
                orphan: false,
                last_answer: self.t,
            },
        );
        self.say(format!(
            "supervisor {s}: starts worker {} of `{}` incarnation {} on port {} (pid {pid})",
            a.worker, a.topology_id, a.version, a.port
        ));
    }

    /// A process exits with `code`; its supervisor notes it.
    fn exit(&mut self, pid: u32, code: i32) {
        let Some(p) = self.procs.remove(&pid) else {
            return;
        };
        let now = self.now();
        let policy = self.policy;
        if let Some(w) = self.sups[p.supervisor]
            .workers
            .get_mut(&(p.topo.clone(), p.index))
            && w.pid == Some(pid)
        {
            w.pid = None;
            w.view.running = false;
            // An adopted process is not the supervisor's child: its exit status is unknown
            // and counts as a crash.
            if code == 0 && !p.orphan {
                w.view.done = true;
            } else {
                let started = w.started.unwrap_or(now);
                w.view.not_before =
                    policy.crashed(&mut w.crashes, started, now, format!("exit {code}"));
            }
        }
    }

    fn worker_step(&mut self, pid: u32, faults: bool) {
        let Some(p) = self.procs.get(&pid) else {
            return;
        };
        if abandoned(p.orphan, self.t.saturating_sub(p.last_answer)) {
            self.say(format!(
                "worker pid {pid}: no supervisor and no answer from nimbus; exits"
            ));
            return self.exit(pid, 0);
        }
        let host = p.supervisor;
        let (topo, index, since) = (p.topo.clone(), p.index, p.since);
        match p.phase {
            Phase::Fetching => {
                // A real worker binds its port first: taken by another process, it fails.
                let (sup, port) = (p.supervisor, p.port);
                if self
                    .procs
                    .iter()
                    .any(|(&q, o)| q != pid && o.supervisor == sup && o.port == port)
                {
                    self.say(format!("worker pid {pid}: port {port} is taken"));
                    return self.exit(pid, 1);
                }
                // Connect and fetch the assignment, as a real worker does at once.
                let delivery = self.deliver(Some(host), faults);
                if delivery != Delivery::Answered {
                    return self.exit(pid, 1);
                }
                // What the real worker checks in the assignment it fetched: its own
                // incarnation, and that it has not finished already.
                let fetched = self
                    .nimbus
                    .as_ref()
                    .and_then(|s| s.topologies.get(&topo))
                    .and_then(|t| Some((t.record.assignment.clone()?, t.record.finished)));
                let current = fetched.as_ref().and_then(|(a, finished)| {
                    let w = a.workers.iter().find(|w| w.index == index)?;
                    Some((w.since, *finished || a.finished_workers.contains(&index)))
                });
                match current {
                    None => self.exit(pid, 1),
                    Some((s, _)) if s != since => self.exit(pid, 0),
                    Some((_, true)) => {
                        self.say(format!("worker pid {pid}: already finished; exits"));
                        self.exit(pid, 0);
                    }
                    Some(_) => {
                        self.check_not_finished(pid);
                        if let Some(p) = self.procs.get_mut(&pid) {
                            p.phase = Phase::Running;
                            p.view = fetched.map(|(a, _)| a);
                        }
                    }
                }
            }
            Phase::Running | Phase::Finishing => {
                if let Some(p) = self.procs.get_mut(&pid)
                    && p.phase == Phase::Running
                    && let Some(left) = p.work_left.as_mut()
                {
                    *left = left.saturating_sub(STEP);
                    if left.is_zero() {
                        p.phase = Phase::Finishing;
                    }
                }
                let Some(p) = self.procs.get(&pid) else {
                    return;
                };
                if self.t < p.next_beat {
                    return;
                }
                let req = WorkerHeartbeatRequest {
                    topology_id: p.topo.clone(),
                    worker: p.index,
                    version: p.since,
                    finished: p.phase == Phase::Finishing,
                    pid,
                    ..Default::default()
                };
                if let Some(p) = self.procs.get_mut(&pid) {
                    p.next_beat = self.t + BEAT;
                }
                let delivery = self.deliver(Some(host), faults);
                if delivery == Delivery::Lost {
                    return;
                }
                let now = self.now();
                let Some(state) = self.nimbus.as_mut() else {
                    return;
                };
                let (d, reply) = beats::worker(state, req.clone(), now);
                self.carry_out(d);
                if delivery == Delivery::ReplyLost {
                    return;
                }
                if let Some(p) = self.procs.get_mut(&pid) {
                    p.last_answer = self.t;
                }
                if !reply.keep_running {
                    self.say(format!("worker pid {pid}: nimbus says stop"));
                    self.exit(pid, 0);
                } else if req.finished {
                    self.say(format!("worker pid {pid}: finished"));
                    self.exit(pid, 0);
                } else {
                    self.follow_newer(pid, reply.assignment_version, faults);
                }
            }
        }
    }

    /// A worker told of a newer assignment version fetches it and does what the real
    /// worker's [`follow`] says: stop if it was replaced, else follow its moved peers.
    fn follow_newer(&mut self, pid: u32, version: u64, faults: bool) {
        let Some(p) = self.procs.get(&pid) else {
            return;
        };
        let Some(view) = p.view.clone() else { return };
        if version <= view.version {
            return;
        }
        let (host, topo, index) = (p.supervisor, p.topo.clone(), p.index);
        if self.deliver(Some(host), faults) != Delivery::Answered {
            return;
        }
        let Some(newer) = self
            .nimbus
            .as_ref()
            .and_then(|s| s.topologies.get(&topo))
            .and_then(|t| t.record.assignment.clone())
        else {
            return;
        };
        match follow(index, &view, &newer) {
            Follow::Stop(reason) => {
                self.say(format!("worker pid {pid}: {reason}; exits"));
                self.exit(pid, 0);
            }
            Follow::Peers(_) => {
                if let Some(p) = self.procs.get_mut(&pid) {
                    p.view = Some(newer);
                }
            }
        }
    }

    /// The record of topology `id` as the store has it.
    fn stored(&self, id: &str) -> Option<TopologyRecord> {
        let bytes = self.store.get(&format!("topologies/{id}")).ok()??;
        TopologyRecord::decode(bytes.as_slice()).ok()
    }

    /// A worker that finished (recorded so) must never run its executors again in that
    /// incarnation, nor any worker of a finished topology.
    fn check_not_finished(&self, pid: u32) {
        let Some(p) = self.procs.get(&pid) else {
            return;
        };
        let Some(r) = self.stored(&p.topo) else {
            return;
        };
        let Some(a) = r.assignment.as_ref() else {
            return;
        };
        let same = a
            .workers
            .iter()
            .any(|w| w.index == p.index && w.since == p.since);
        if r.finished || (same && a.finished_workers.contains(&p.index)) {
            self.fail(format!(
                "worker {} of `{}` (incarnation {}) started again after it finished",
                p.index, p.topo, p.since
            ));
        }
    }

    fn check_always(&self) {
        // One process per slot.
        let mut slots = BTreeSet::new();
        for p in self.procs.values() {
            if !slots.insert((p.supervisor, p.port)) {
                self.fail(format!("two processes on slot {}:{}", p.supervisor, p.port));
            }
        }
        // One process per (topology, index) in its current incarnation.
        let mut current = BTreeSet::new();
        for p in self.procs.values() {
            let Some(r) = self.stored(&p.topo) else {
                continue;
            };
            let Some(a) = r.assignment else { continue };
            if a.workers
                .iter()
                .any(|w| w.index == p.index && w.since == p.since)
                && !current.insert((p.topo.clone(), p.index))
            {
                self.fail(format!(
                    "two processes of worker {} of `{}` in incarnation {}",
                    p.index, p.topo, p.since
                ));
            }
        }
        // Fencing: a worker is linked to at most one process of each of its peers, and only
        // to processes of its own topology.
        let mut peers: BTreeMap<(u32, u32), u32> = BTreeMap::new();
        for &(a, b) in &self.links {
            for (me, other) in [(a, b), (b, a)] {
                let (Some(p), Some(q)) = (self.procs.get(&me), self.procs.get(&other)) else {
                    self.fail(format!("a link {a}-{b} to a process that is gone"));
                };
                if p.topo != q.topo {
                    self.fail(format!(
                        "process {me} of `{}` linked to one of `{}`",
                        p.topo, q.topo
                    ));
                }
                if let Some(twin) = peers.insert((me, q.index), other) {
                    self.fail(format!(
                        "process {me} is linked to two processes of worker {} of `{}`: {twin} and {other}",
                        q.index, q.topo
                    ));
                }
            }
        }
        for (id, n) in &self.finished_count {
            if *n > 1 {
                self.fail(format!("`{id}` finished {n} times"));
            }
        }
    }

    /// After the quiet period: everything that should run runs, nothing else does.
    fn check_converged(&self) {
        let Some(state) = &self.nimbus else {
            self.fail("nimbus is down after the quiet period".into())
        };
        for (id, t) in &state.topologies {
            let Some(a) = t.record.assignment.as_ref() else {
                continue;
            };
            if t.record.finished {
                if let Some((pid, _)) = self.procs.iter().find(|(_, p)| &p.topo == id) {
                    self.fail(format!("`{id}` finished, but process {pid} of it runs"));
                }
                continue;
            }
            if self.finite.contains_key(id) {
                self.fail(format!(
                    "finite `{id}` did not finish after the quiet period"
                ));
            }
            if a.workers.len() < t.wanted_workers() {
                self.fail(format!(
                    "`{id}` has {} of {} workers though the cluster has room",
                    a.workers.len(),
                    t.wanted_workers()
                ));
            }
            for w in &a.workers {
                let sup = w
                    .supervisor
                    .trim_start_matches("sup")
                    .parse::<usize>()
                    .unwrap_or(usize::MAX);
                let running = self.procs.values().any(|p| {
                    &p.topo == id
                        && p.index == w.index
                        && p.since == w.since
                        && p.supervisor == sup
                        && p.port == w.port
                        && p.phase == Phase::Running
                });
                if !running {
                    self.fail(format!(
                        "worker {} of `{id}` (incarnation {}, {}:{}) is not running after the quiet period",
                        w.index, w.since, w.supervisor, w.port
                    ));
                }
            }
        }
        // The data plane converged too: the workers of every running topology are linked
        // pairwise (each followed every move of its peers).
        for (&a, p) in &self.procs {
            for (&b, q) in &self.procs {
                if a < b
                    && p.topo == q.topo
                    && p.phase == Phase::Running
                    && q.phase == Phase::Running
                    && !self.links.contains(&(a, b))
                {
                    self.fail(format!(
                        "workers {} (pid {a}) and {} (pid {b}) of `{}` are not linked after the quiet period",
                        p.index, q.index, p.topo
                    ));
                }
            }
        }
        for (pid, p) in &self.procs {
            let Some(t) = state.topologies.get(&p.topo) else {
                self.fail(format!(
                    "process {pid} of killed topology `{}` still runs",
                    p.topo
                ));
            };
            let current = t.record.assignment.as_ref().is_some_and(|a| {
                a.workers
                    .iter()
                    .any(|w| w.index == p.index && w.since == p.since && w.port == p.port)
            });
            if !current {
                self.fail(format!(
                    "stale process {pid} (worker {} of `{}`, incarnation {}) still runs",
                    p.index, p.topo, p.since
                ));
            }
        }
        for id in self.finite.keys() {
            if state.topologies.contains_key(id) && self.finished_count.get(id) != Some(&1) {
                self.fail(format!(
                    "finite `{id}` finished {:?} times",
                    self.finished_count.get(id)
                ));
            }
        }
    }
}

/// Runs one seed: faults, then healing and a quiet period, then the convergence checks.
fn run(seed: u64, verbose: bool) {
    let mut w = World::new(seed);
    w.verbose = verbose;
    // Something to run from the start.
    w.user_submits();
    while w.t < FAULTS_FOR {
        w.step(true);
    }
    w.say("faults stop; everything heals".into());
    w.heal_all();
    let end = w.t + QUIET_FOR;
    while w.t < end {
        w.step(false);
    }
    w.check_converged();
}

#[test]
fn many_seeds() {
    let seeds: u64 = std::env::var("GALE_SIM_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(300);
    let first: u64 = std::env::var("GALE_SIM_FIRST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    for seed in first..first + seeds {
        run(seed, false);
    }
}

/// Replays `GALE_SIM_SEED` (printed by a failing run).
#[test]
fn replay() {
    if let Some(seed) = std::env::var("GALE_SIM_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        run(seed, true);
    }
}

/// The simulation can fail: a controller that forgot to fence would be caught. Here, a
/// world where two processes of one worker run is reported with its replay command.
#[test]
fn a_violation_is_reported_with_its_replay_command() {
    let mut w = World::new(7);
    w.user_submits();
    while w.procs.is_empty() {
        w.step(false);
    }
    let (_, p) = w
        .procs
        .iter()
        .next()
        .map(|(k, p)| (*k, p))
        .expect("a process");
    let twin = Proc {
        topo: p.topo.clone(),
        index: p.index,
        since: p.since,
        supervisor: (p.supervisor + 1) % SUPERVISORS,
        port: p.port,
        phase: Phase::Running,
        next_beat: w.t,
        work_left: None,
        view: None,
        orphan: false,
        last_answer: w.t,
    };
    w.procs.insert(9999, twin);
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| w.check_always()));
    let message = caught
        .err()
        .and_then(|e| e.downcast_ref::<String>().cloned())
        .expect("the duplicate is caught");
    assert!(message.contains("two processes of worker"), "{message}");
    assert!(
        message.contains("GALE_SIM_SEED=7 cargo test -p gale --test sim replay"),
        "{message}"
    );
}
