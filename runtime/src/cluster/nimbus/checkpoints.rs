//! Nimbus as the checkpoint coordinator of its `exactly_once` topologies (Flink's
//! JobManager): one driver thread per topology runs the pure [`Coordinator`] with the
//! clock, the shared checkpoint storage and the workers' control streams at its edge.
//!
//! - A **run** is one placement version of the topology: every worker of it started
//!   together from one checkpoint. The driver follows the topology's current run; it starts
//!   triggering once every worker of the run has opened its stream (said hello).
//! - **Triggers** go to every worker (the ones with sources inject barriers); each task's
//!   acknowledgement names its state file, which the worker wrote to the storage. Once all
//!   tasks have acknowledged, the driver writes `_metadata` (copying the final state of
//!   finished tasks in), then records the checkpoint in nimbus's store (the completed
//!   checkpoint store: only now does it count), then tells every worker, and sinks commit.
//! - **Failures**: a task that fails, a worker whose stream closes (a killed process, a
//!   lost machine), a worker that says hello twice in one run (its process restarted, its
//!   state is lost) or was moved: the run is over. Pending checkpoints abort; after the
//!   delay of the topology's restart strategy every worker is placed anew and restores the
//!   recorded checkpoint (the newest that verifies); when the strategy gives up, the
//!   topology stops, listed as failed with the reason.
//! - A restarted nimbus knows no pending checkpoint: workers that reconnect (not fresh)
//!   make it restart the topology from the recorded checkpoint, as Flink does after a
//!   JobManager failover.

use crate::api::TaskId;
use crate::checkpoint::object_storage;
use crate::checkpoint::{
    CheckpointError, CheckpointKind, CheckpointStorage, CheckpointStore, Command, Completed,
    Coordinator, Decision as RestartDecision, FinishedTask, Input, Metadata, OperatorState,
    Restarts, StateFile, StorageFailure,
};
use crate::cluster::checkpoint_plan::{config_of, restart_of};
use crate::cluster::controller::State;
use crate::cluster::controller::{self, checkpoints as decide};
use crate::cluster::proto::{
    CheckpointCommand, CheckpointDone, CheckpointHello, CheckpointPlan, CheckpointStatus,
    CheckpointTrigger, CheckpointWelcome, SavepointReply, StateFileInfo, checkpoint_command,
    checkpoint_report,
};
use crate::cluster::store::MetaStore;
use crate::state::wall_ms;
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, unbounded};
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tonic::Status;

/// Where a driver sends one worker's commands (its control stream).
pub(crate) type Commands = tokio::sync::mpsc::UnboundedSender<Result<CheckpointCommand, Status>>;

/// A savepoint's answer, to the `Savepoint` call waiting for it.
pub(crate) type SavepointAnswer = tokio::sync::oneshot::Sender<Result<SavepointReply, Status>>;

/// Checkpoint ids reserved in the record at a time.
const RESERVE_IDS: u64 = 1024;

/// How long a restart or give-up whose record could not be written waits to try again.
const RETRY_MS: u64 = 1_000;

/// What reaches a driver.
#[derive(Debug)]
pub(crate) enum Event {
    /// A worker opened its control stream `conn`.
    Hello {
        hello: CheckpointHello,
        conn: u64,
        commands: Commands,
    },
    /// A report on stream `conn`.
    Report {
        conn: u64,
        report: checkpoint_report::Report,
    },
    /// Stream `conn` ended.
    Closed { conn: u64 },
    /// `gale savepoint`: take one, copy it to `dir` (empty: keep it in place).
    Savepoint { dir: String, reply: SavepointAnswer },
}

/// What nimbus's state and store are to a driver: it decides under the state's lock and
/// persists like every other decision.
#[derive(Debug, Clone)]
pub(crate) struct Control {
    pub(crate) state: Arc<Mutex<State>>,
    pub(crate) store: Arc<dyn MetaStore>,
}

impl Control {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Carries out a decision; false if the store refused it (logged).
    fn carry_out(&self, state: &mut State, d: controller::Decision) -> bool {
        match controller::carry_out(self.store.as_ref(), state, d) {
            Ok(log) => {
                for line in log {
                    tracing::info!("{line}");
                }
                true
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot persist a checkpoint change");
                false
            }
        }
    }
}

/// What `gale list` shows of a topology's checkpoints, as its driver saw them.
#[derive(Debug, Clone, Default)]
pub(crate) struct Stats {
    last: Option<Completed>,
    completed: u64,
    failed: u64,
}

struct Handle {
    events: Sender<Event>,
    stats: Arc<Mutex<Stats>>,
    thread: std::thread::JoinHandle<()>,
}

/// Every exactly_once topology's driver, started on first need.
pub(crate) struct Drivers {
    control: Control,
    /// Where checkpoints go when a topology's plan names no storage.
    default_storage: String,
    running: Mutex<HashMap<String, Handle>>,
    next_conn: std::sync::atomic::AtomicU64,
}

impl std::fmt::Debug for Drivers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Drivers")
            .field("default_storage", &self.default_storage)
            .finish_non_exhaustive()
    }
}

impl Drivers {
    /// The drivers of a nimbus whose default checkpoint storage is `default_storage`.
    pub(crate) fn new(control: Control, default_storage: String) -> Self {
        Drivers {
            control,
            default_storage,
            running: Mutex::new(HashMap::new()),
            next_conn: std::sync::atomic::AtomicU64::new(1),
        }
    }

    /// The storage for a plan that names none.
    pub(crate) fn default_storage(&self) -> &str {
        &self.default_storage
    }

    /// A fresh stream id.
    pub(crate) fn conn(&self) -> u64 {
        self.next_conn
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    }

    /// The driver of topology `id`, started if it is not running; `Err` says why there is
    /// none (no such topology, not exactly_once, finished).
    pub(crate) fn driver(&self, id: &str) -> Result<Sender<Event>, Status> {
        let mut running = self.running.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(h) = running.get(id)
            && !h.thread.is_finished()
        {
            return Ok(h.events.clone());
        }
        // Finished drivers of topologies gone are forgotten.
        {
            let state = self.control.state();
            running.retain(|id, _| state.topologies.contains_key(id));
        }
        let (plan, name, storage, restarts_so_far) = {
            let state = self.control.state();
            let t = state
                .topologies
                .get(id)
                .ok_or_else(|| Status::not_found(format!("no topology `{id}`")))?;
            if t.record.finished {
                return Err(Status::failed_precondition(format!(
                    "topology `{id}` is not running"
                )));
            }
            let plan = t
                .record
                .plan
                .as_ref()
                .and_then(|p| p.checkpoints.clone())
                .ok_or_else(|| {
                    Status::failed_precondition(format!(
                        "topology `{id}` is not exactly_once: it takes no checkpoints"
                    ))
                })?;
            let storage = t
                .record
                .assignment
                .as_ref()
                .and_then(|a| a.checkpoints.as_ref())
                .map(|c| c.storage.clone())
                .unwrap_or_default();
            let so_far = t.record.checkpoints.as_ref().map_or(0, |c| c.restarts);
            let name = t
                .record
                .plan
                .as_ref()
                .map(|p| p.name.clone())
                .unwrap_or_default();
            (plan, name, storage, so_far)
        };
        let storage = object_storage::open(&storage)
            .map_err(|e| Status::unavailable(format!("checkpoints of `{id}`: {e}")))?;
        let restarts = restart_of(plan.restart.as_ref()).map_err(Status::invalid_argument)?;
        let (events, rx) = unbounded();
        let stats = Arc::new(Mutex::new(Stats::default()));
        let driver = Driver::new(
            id.to_string(),
            name,
            plan,
            storage,
            self.control.clone(),
            rx,
            Restarts::new(restarts, wall_ms()).resumed(restarts_so_far),
            stats.clone(),
        );
        // Every line the driver logs names its topology.
        let span = tracing::info_span!("checkpoints", topology = %id);
        let thread = std::thread::Builder::new()
            .name(format!("checkpoints-{id}"))
            .spawn(move || {
                let _in = span.enter();
                driver.run()
            })
            .map_err(|e| Status::internal(format!("cannot start a checkpoint driver: {e}")))?;
        running.insert(
            id.to_string(),
            Handle {
                events: events.clone(),
                stats,
                thread,
            },
        );
        Ok(events)
    }

    /// What `gale list` shows of topology `id`'s checkpoints, added to `status` (the
    /// record's part).
    pub(crate) fn fill(&self, id: &str, status: &mut CheckpointStatus) {
        let running = self.running.lock().unwrap_or_else(|p| p.into_inner());
        let Some(h) = running.get(id) else {
            return;
        };
        let s = h.stats.lock().unwrap_or_else(|p| p.into_inner());
        status.completed = s.completed;
        status.failed = s.failed;
        if let Some(c) = &s.last {
            status.last_id = c.id;
            status.last_duration_ms = c.duration_ms;
            status.last_bytes = c.bytes;
            status.last_alignment_ms = c.alignment_ms;
            status.last_pause_us = c.pause_us;
        }
    }
}

/// One worker's open stream.
#[derive(Debug)]
struct Conn {
    worker: u32,
    commands: Commands,
}

/// The savepoint requests of a run: waiting for their trigger, and being taken.
#[derive(Debug, Default)]
struct Asked {
    waiting: VecDeque<(String, SavepointAnswer)>,
    taking: BTreeMap<u64, (String, SavepointAnswer)>,
}

impl Asked {
    fn refuse_all(&mut self, why: &str) {
        let all = std::mem::take(&mut self.waiting)
            .into_iter()
            .chain(std::mem::take(&mut self.taking).into_values());
        for (_, reply) in all {
            let _ = reply.send(Err(Status::unavailable(why.to_string())));
        }
    }
}

/// The run a driver follows.
#[derive(Debug, Default)]
struct Run {
    /// Its placement version.
    version: u64,
    /// Every worker's incarnation in it.
    incarnations: BTreeMap<u32, u64>,
    /// The checkpoint it restored.
    restored: (String, u64),
    conns: BTreeMap<u64, Conn>,
    said_hello: BTreeSet<u32>,
    coordinator: Option<Coordinator>,
    /// What arrived before the coordinator started (finished tasks of a short run).
    early: Vec<Input>,
    /// Per pending checkpoint: the tasks that acknowledged it and their state files.
    acked: BTreeMap<u64, (BTreeSet<TaskId>, Vec<StateFile>)>,
    /// Per pending checkpoint: the longest alignment (ms) and pause (µs) reported.
    noted: BTreeMap<u64, (u64, u64)>,
    /// The tasks that finished, with their final state files.
    finished: BTreeMap<TaskId, Option<StateFile>>,
    savepoints: BTreeSet<u64>,
    asked: Asked,
    /// It failed: when to act on it (wall ms; `None`: done with it), and why.
    failed: Option<(Option<u64>, String)>,
    /// What to do then: stop the topology (the restart strategy gave up: why), or
    /// restart it.
    give_up: Option<String>,
    /// Its final checkpoint completed: the topology is done.
    done: bool,
}

struct Driver {
    id: String,
    name: String,
    plan: CheckpointPlan,
    storage: object_storage::ObjectStorage,
    store: CheckpointStore<Arc<dyn CheckpointStorage>>,
    control: Control,
    events: Receiver<Event>,
    restarts: Restarts,
    stats: Arc<Mutex<Stats>>,
    /// Task id → (operator uid, task index).
    tasks: BTreeMap<TaskId, (String, u32)>,
    /// The newest checkpoint id this driver triggered or found.
    max_id: u64,
    /// Ids below this are reserved in the record.
    reserved_upto: u64,
    run: Option<Run>,
}

impl Driver {
    #[allow(clippy::too_many_arguments)]
    fn new(
        id: String,
        name: String,
        plan: CheckpointPlan,
        storage: object_storage::ObjectStorage,
        control: Control,
        events: Receiver<Event>,
        restarts: Restarts,
        stats: Arc<Mutex<Stats>>,
    ) -> Self {
        let tasks = plan
            .operators
            .iter()
            .flat_map(|o| (0..o.tasks).map(move |i| (o.first_task + i, (o.uid.clone(), i))))
            .collect();
        let shared: Arc<dyn CheckpointStorage> = Arc::new(storage.clone());
        Driver {
            id,
            name,
            plan,
            storage,
            store: CheckpointStore::new(shared),
            control,
            events,
            restarts,
            stats,
            tasks,
            max_id: 0,
            reserved_upto: 0,
            run: None,
        }
    }

    fn run(mut self) {
        loop {
            match self.events.recv_timeout(Duration::from_millis(5)) {
                Ok(e) => self.event(e),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return,
            }
            if !self.tick() {
                if let Some(r) = self.run.as_mut() {
                    r.asked.refuse_all("the topology is not running");
                }
                return;
            }
        }
    }

    /// Follows the topology's current run and ticks its coordinator; false once the
    /// topology is gone, finished or failed (the driver ends).
    fn tick(&mut self) -> bool {
        let now = wall_ms();
        let current = {
            let state = self.control.state();
            match state.topologies.get(&self.id) {
                None => return false,
                Some(t) if t.record.finished => return false,
                Some(t) => decide::run_of(&state, &self.id).map(|(v, workers)| {
                    let restored = t
                        .record
                        .assignment
                        .as_ref()
                        .and_then(|a| a.checkpoints.as_ref())
                        .map(|c| (c.restore_from.clone(), c.restore_id))
                        .unwrap_or_default();
                    (v, workers, restored)
                }),
            }
        };
        let Some((version, workers, restored)) = current else {
            // Waiting for slots: no run.
            return true;
        };
        let incarnations: BTreeMap<u32, u64> = workers.into_iter().collect();
        match &self.run {
            Some(r) if r.version == version => {
                if r.incarnations != incarnations {
                    let moved: Vec<String> = incarnations
                        .iter()
                        .filter(|(w, i)| r.incarnations.get(w) != Some(i))
                        .map(|(w, _)| w.to_string())
                        .collect();
                    self.fail(
                        format!("worker {} moved: its state is lost", moved.join(", ")),
                        true,
                    );
                    if let Some(r) = self.run.as_mut() {
                        r.incarnations = incarnations;
                    }
                }
            }
            _ => self.adopt(version, incarnations, restored),
        }
        let Some(run) = self.run.as_mut() else {
            return true;
        };
        if run.coordinator.is_none()
            && run.failed.is_none()
            && run.incarnations.keys().all(|w| run.said_hello.contains(w))
        {
            self.start_coordinator();
        }
        let run = self.run.as_mut().expect("adopted above");
        match &run.failed {
            Some((Some(at), reason)) if now >= *at => {
                let reason = reason.clone();
                let done = match run.give_up.clone() {
                    Some(why) => self.give_up(&format!("{reason}; {why}")),
                    None => self.restart(&reason),
                };
                if let Some(run) = self.run.as_mut() {
                    // Done with it, or its record could not be written: try again soon.
                    let at = (!done).then_some(now + RETRY_MS);
                    run.failed = Some((at, reason));
                }
            }
            Some(_) => {}
            None => {
                if let Some(c) = run.coordinator.as_mut() {
                    let cmds = c.handle(Input::Tick { now_ms: now });
                    self.commands(cmds);
                }
            }
        }
        true
    }

    /// Follows run `version` from now on (the one before is over).
    fn adopt(&mut self, version: u64, incarnations: BTreeMap<u32, u64>, restored: (String, u64)) {
        if let Some(old) = self.run.as_mut() {
            old.asked
                .refuse_all("the topology restarted before the savepoint completed");
        }
        tracing::info!(
            run = version,
            "checkpoints of `{}`: run {version} ({} workers) restores {}",
            self.id,
            incarnations.len(),
            if restored.1 == 0 {
                "nothing (a fresh start)".to_string()
            } else {
                format!("checkpoint {} of {}", restored.1, restored.0)
            }
        );
        let recorded = self.recorded();
        let stale = recorded.1 != restored.1 || recorded.1 > 0 && recorded.0 != restored.0;
        self.run = Some(Run {
            version,
            incarnations,
            restored: restored.clone(),
            ..Default::default()
        });
        if stale {
            // This driver did not follow the run from its start (nimbus restarted), and
            // checkpoints completed since: its workers' state is not what the record says
            // a restart restores.
            self.fail(
                format!(
                    "run {version} started from checkpoint {}, the last recorded one is {} \
                     (nimbus restarted meanwhile)",
                    restored.1, recorded.1
                ),
                true,
            );
        }
    }

    /// The checkpoint the record says a restart restores (store, id), and the ids reserved.
    fn recorded(&self) -> (String, u64) {
        let state = self.control.state();
        state
            .topologies
            .get(&self.id)
            .and_then(|t| t.record.checkpoints.as_ref())
            .map(|c| (c.restore_from.clone(), c.restore_id))
            .unwrap_or_default()
    }

    /// The ids a restarted nimbus must not trigger again: below the record's reservation.
    fn reserved(&self) -> u64 {
        let state = self.control.state();
        state
            .topologies
            .get(&self.id)
            .and_then(|t| t.record.checkpoints.as_ref())
            .map_or(0, |c| c.reserved_ids)
    }

    /// Every worker of the run said hello: checkpoints start. What earlier runs left that
    /// this run does not build on goes: incomplete checkpoints, complete ones newer than
    /// what it restored (never recorded: their run was replaced before), finished states.
    fn start_coordinator(&mut self) {
        let Some(run) = self.run.as_mut() else {
            return;
        };
        let own = run.restored.0 == self.storage.location();
        let restored = if own { run.restored.1 } else { 0 };
        let mut retained = Vec::new();
        for id in self.store.ids().unwrap_or_default() {
            self.max_id = self.max_id.max(id);
            let builds_on = own && id <= restored;
            match self.store.metadata(id) {
                Ok(m) if builds_on => {
                    // Kept savepoints stay; periodic ones age out as this run's own do.
                    if m.kind() == CheckpointKind::Periodic {
                        retained.push(id);
                    }
                }
                // Never recorded (its run was replaced first), or never completed.
                Ok(_) => {
                    let _ = self.store.discard(id);
                }
                Err(CheckpointError::Incomplete(_)) => {
                    let _ = self.store.discard(id);
                }
                Err(e) if !builds_on && !e.is_retryable() => {
                    let _ = self.store.discard(id);
                }
                // Storage trouble (retryable), or damage to one it builds on: left alone.
                Err(_) => {}
            }
        }
        let _ = self.store.discard_finished_except(run.version);
        self.max_id = self.max_id.max(run.restored.1);
        let reserved = self.reserved();
        self.max_id = self.max_id.max(reserved);
        let Some(run) = self.run.as_mut() else {
            return;
        };
        let mut c = Coordinator::new(
            config_of(&self.plan),
            self.tasks.keys().copied(),
            self.max_id,
        );
        c.adopt_retained(retained);
        run.coordinator = Some(c);
        tracing::info!(
            run = run.version,
            "checkpoints of `{}`: every worker of run {} is up",
            self.id,
            run.version
        );
        let early = std::mem::take(&mut run.early);
        for input in early {
            self.input(input);
        }
    }

    fn input(&mut self, input: Input) {
        let Some(run) = self.run.as_mut() else {
            return;
        };
        if run.failed.is_some() {
            return;
        }
        match run.coordinator.as_mut() {
            Some(c) => {
                let cmds = c.handle(input);
                self.commands(cmds);
            }
            None => run.early.push(input),
        }
    }

    fn event(&mut self, e: Event) {
        match e {
            Event::Hello {
                hello,
                conn,
                commands,
            } => {
                // A hello of a run the driver has not seen yet: look at the state first.
                if self
                    .run
                    .as_ref()
                    .is_none_or(|r| r.version < hello.placement_version)
                {
                    self.tick();
                }
                self.hello(hello, conn, commands);
            }
            Event::Report { conn, report } => self.report(conn, report),
            Event::Closed { conn } => {
                let Some(run) = self.run.as_mut() else {
                    return;
                };
                if let Some(c) = run.conns.remove(&conn)
                    && !run.done
                {
                    self.fail(
                        format!("lost worker {} (its checkpoint stream closed)", c.worker),
                        true,
                    );
                }
            }
            Event::Savepoint { dir, reply } => self.savepoint(dir, reply),
        }
    }

    fn hello(&mut self, hello: CheckpointHello, conn: u64, commands: Commands) {
        let welcome = |accepted: bool, reason: String| {
            let _ = commands.send(Ok(CheckpointCommand {
                command: Some(checkpoint_command::Command::Welcome(CheckpointWelcome {
                    accepted,
                    reason,
                })),
            }));
        };
        let Some(run) = self.run.as_mut() else {
            welcome(false, "the topology has no run now".into());
            return;
        };
        if hello.placement_version != run.version
            || run.incarnations.get(&hello.worker) != Some(&hello.incarnation)
        {
            welcome(
                false,
                format!(
                    "worker {} of run {} (incarnation {}) is not of the current run {}",
                    hello.worker, hello.placement_version, hello.incarnation, run.version
                ),
            );
            return;
        }
        if let Some((_, reason)) = &run.failed {
            welcome(false, format!("the run failed ({reason}); it restarts"));
            return;
        }
        if run.done {
            welcome(false, "the topology finished".into());
            return;
        }
        let problem = if run.said_hello.contains(&hello.worker) {
            Some(format!(
                "worker {} restarted (now pid {}): its state is lost",
                hello.worker, hello.pid
            ))
        } else if !hello.fresh {
            Some(format!(
                "worker {} reconnected after its stream broke (or nimbus restarted): reports \
                 may be lost",
                hello.worker
            ))
        } else {
            None
        };
        if let Some(reason) = problem {
            welcome(false, reason.clone());
            self.fail(reason, true);
            return;
        }
        run.said_hello.insert(hello.worker);
        welcome(true, String::new());
        run.conns.insert(
            conn,
            Conn {
                worker: hello.worker,
                commands,
            },
        );
    }

    fn report(&mut self, conn: u64, report: checkpoint_report::Report) {
        use checkpoint_report::Report as R;
        let Some(run) = self.run.as_mut() else {
            return;
        };
        if !run.conns.contains_key(&conn) {
            return;
        }
        let file = |s: Option<StateFileInfo>| {
            s.map(|s| StateFile {
                operator: s.operator,
                task: s.task,
                bytes: s.bytes,
                sha256: s.sha256,
            })
        };
        match report {
            R::Hello(_) => {}
            R::Snapshot(s) => {
                // An ack of a checkpoint no longer pending (aborted) is dropped.
                let pending = run
                    .coordinator
                    .as_ref()
                    .is_some_and(|c| c.pending().any(|p| p == s.id));
                if !pending {
                    return;
                }
                let state = file(s.state);
                let bytes = state.as_ref().map_or(0, |f| f.bytes);
                let entry = run.acked.entry(s.id).or_default();
                entry.0.insert(s.task);
                entry.1.extend(state);
                let noted = run.noted.entry(s.id).or_default();
                noted.0 = noted.0.max(s.alignment_ms);
                noted.1 = noted.1.max(s.pause_us);
                self.input(Input::Ack {
                    id: s.id,
                    task: s.task,
                    bytes,
                    alignment_ms: s.alignment_ms,
                });
            }
            R::Decline(d) => self.input(Input::Decline {
                id: d.id,
                task: d.task,
                reason: d.reason,
            }),
            R::Finished(f) => {
                run.finished.insert(f.task, file(f.state));
                self.input(Input::Finished {
                    task: f.task,
                    now_ms: wall_ms(),
                });
            }
            R::Failure(f) => self.fail(f.reason, f.retryable),
        }
    }

    fn savepoint(&mut self, dir: String, reply: SavepointAnswer) {
        let running = self
            .run
            .as_ref()
            .is_some_and(|r| r.coordinator.is_some() && r.failed.is_none() && !r.done);
        if !running {
            let _ = reply.send(Err(Status::unavailable(format!(
                "topology `{}` is not running now (starting or restarting): try again",
                self.id
            ))));
            return;
        }
        if let Some(run) = self.run.as_mut() {
            run.asked.waiting.push_back((dir, reply));
        }
        self.input(Input::Savepoint { now_ms: wall_ms() });
    }

    /// Sends `cmd` to every worker of the run.
    fn broadcast(&self, cmd: checkpoint_command::Command) {
        if let Some(run) = &self.run {
            for c in run.conns.values() {
                let _ = c.commands.send(Ok(CheckpointCommand {
                    command: Some(cmd.clone()),
                }));
            }
        }
    }

    fn commands(&mut self, cmds: Vec<Command>) {
        let mut queue = VecDeque::from(cmds);
        while let Some(cmd) = queue.pop_front() {
            match cmd {
                Command::Trigger { id, kind, .. } => {
                    self.max_id = self.max_id.max(id);
                    self.reserve(id);
                    let savepoint = kind == CheckpointKind::Savepoint;
                    if let Some(run) = self.run.as_mut()
                        && savepoint
                    {
                        run.savepoints.insert(id);
                        if let Some(r) = run.asked.waiting.pop_front() {
                            run.asked.taking.insert(id, r);
                        }
                    }
                    self.broadcast(checkpoint_command::Command::Trigger(CheckpointTrigger {
                        id,
                        savepoint,
                    }));
                }
                Command::Persist { id } => {
                    let result = self.persist(id);
                    if let Some(c) = self.run.as_mut().and_then(|r| r.coordinator.as_mut()) {
                        queue.extend(c.handle(Input::Persisted {
                            id,
                            now_ms: wall_ms(),
                            result,
                        }));
                    }
                }
                Command::Complete(done) => self.complete(done),
                Command::Abort { id, reason } => {
                    self.broadcast(checkpoint_command::Command::Abort(id));
                    let _ = self.store.discard(id);
                    let Some(run) = self.run.as_mut() else {
                        continue;
                    };
                    run.acked.remove(&id);
                    run.noted.remove(&id);
                    if let Some((_, reply)) = run.asked.taking.remove(&id) {
                        let _ = reply.send(Err(Status::aborted(format!(
                            "savepoint {id} aborted: {reason:?}"
                        ))));
                    }
                    let last = run
                        .coordinator
                        .as_ref()
                        .and_then(Coordinator::final_checkpoint);
                    if run.failed.is_none() {
                        self.stats().failed += 1;
                        tracing::warn!(
                            checkpoint = id,
                            "checkpoint {id} of `{}` aborted: {reason:?}",
                            self.id
                        );
                    }
                    if last == Some(id) {
                        self.fail(
                            format!("the final checkpoint {id} failed: {reason:?}"),
                            true,
                        );
                    }
                }
                Command::Discard { id } => {
                    if let Err(e) = self.store.discard(id) {
                        tracing::warn!(
                            checkpoint = id,
                            error = %e,
                            "could not delete checkpoint {id}"
                        );
                    }
                }
            }
        }
    }

    /// Makes sure id `id` is below the record's reservation (in blocks of
    /// [`RESERVE_IDS`]): a restarted nimbus never triggers it again, so no late upload of
    /// an old run lands in a new checkpoint of the same id.
    fn reserve(&mut self, id: u64) {
        if id < self.reserved_upto {
            return;
        }
        let Some(version) = self.run.as_ref().map(|r| r.version) else {
            return;
        };
        let upto = id + RESERVE_IDS;
        let mut state = self.control.state();
        if let Some(d) = decide::reserve_ids(&state, &self.id, version, upto)
            && self.control.carry_out(&mut state, d)
        {
            self.reserved_upto = upto;
        }
    }

    fn stats(&self) -> MutexGuard<'_, Stats> {
        self.stats.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Writes checkpoint `id`'s metadata, then records it as the one a restart restores.
    fn persist(&mut self, id: u64) -> Result<(), StorageFailure> {
        let Some(run) = self.run.as_mut() else {
            return Err(StorageFailure {
                message: "no run".into(),
                retryable: false,
            });
        };
        let (acked, mut states) = run.acked.remove(&id).unwrap_or_default();
        let mut finished = Vec::new();
        let failure = |e: &crate::checkpoint::CheckpointError| StorageFailure::from(e);
        for (task, state) in &run.finished {
            if acked.contains(task) {
                continue;
            }
            let Some((operator, index)) = self.tasks.get(task) else {
                continue;
            };
            finished.push(FinishedTask {
                operator: operator.clone(),
                task: *index,
            });
            if let Some(file) = state {
                let copied = self
                    .store
                    .copy_finished_state(run.version, id, file)
                    .map_err(|e| failure(&e))?;
                states.push(copied);
            }
        }
        let meta = Metadata {
            id,
            savepoint: run.savepoints.contains(&id),
            triggered_ms: wall_ms(),
            topology: self.name.clone(),
            max_parallelism: self.plan.max_parallelism,
            states,
            operators: self
                .plan
                .operators
                .iter()
                .map(|o| {
                    let op = OperatorState {
                        tasks: o.tasks,
                        schema: o.schema.clone(),
                    };
                    (o.uid.clone(), op)
                })
                .collect(),
            finished,
        };
        self.store.commit(&meta).map_err(|e| failure(&e))?;
        let version = run.version;
        let mut state = self.control.state();
        match decide::completed(&state, &self.id, version, self.storage.location(), id) {
            Some(d) => {
                if self.control.carry_out(&mut state, d) {
                    Ok(())
                } else {
                    Err(StorageFailure {
                        message: "nimbus's store refused the record of it".into(),
                        retryable: true,
                    })
                }
            }
            None => Err(StorageFailure {
                message: "the run it belongs to was replaced".into(),
                retryable: false,
            }),
        }
    }

    fn complete(&mut self, mut done: Completed) {
        let Some(run) = self.run.as_mut() else {
            return;
        };
        if let Some((a, p)) = run.noted.remove(&done.id) {
            done.alignment_ms = done.alignment_ms.max(a);
            done.pause_us = done.pause_us.max(p);
        }
        run.noted.retain(|id, _| *id > done.id);
        let last = run
            .coordinator
            .as_ref()
            .and_then(Coordinator::final_checkpoint)
            == Some(done.id);
        if last {
            run.done = true;
        }
        let answer = run.asked.taking.remove(&done.id);
        self.broadcast(checkpoint_command::Command::Complete(CheckpointDone {
            id: done.id,
            last,
        }));
        if let Some((dir, reply)) = answer {
            let _ = reply.send(self.copy_savepoint(done.id, &dir));
        }
        let mut s = self.stats();
        s.completed += 1;
        s.last = Some(done);
    }

    /// Savepoint `id` is complete: where it is, copied to `dir` first if one was given.
    fn copy_savepoint(&self, id: u64, dir: &str) -> Result<SavepointReply, Status> {
        let name = crate::checkpoint::checkpoint_dir(id);
        if dir.is_empty() {
            return Ok(SavepointReply {
                id,
                path: format!("{}/{name}", self.storage.location().trim_end_matches('/')),
            });
        }
        let to = object_storage::open(dir).map_err(|e| Status::invalid_argument(e.to_string()))?;
        self.store
            .copy_to(id, &CheckpointStore::new(to))
            .map_err(|e| Status::internal(format!("copying savepoint {id} to `{dir}`: {e}")))?;
        Ok(SavepointReply {
            id,
            path: format!("{}/{name}", dir.trim_end_matches('/')),
        })
    }

    /// The run failed (`reason`): pending checkpoints abort; a restart is scheduled by the
    /// restart strategy, or the topology stops.
    fn fail(&mut self, reason: String, retryable: bool) {
        let Some(run) = self.run.as_mut() else {
            return;
        };
        if run.failed.is_some() || run.done {
            return;
        }
        tracing::error!(
            run = run.version,
            "`{}` run {} failed: {reason}",
            self.id,
            run.version
        );
        run.failed = Some((None, reason.clone()));
        run.asked.refuse_all(&format!(
            "the topology failed before the savepoint completed: {reason}"
        ));
        let cmds = run
            .coordinator
            .as_mut()
            .map(|c| c.handle(Input::Failed))
            .unwrap_or_default();
        // The aborts are this failure's, not checkpoint failures of their own.
        for cmd in cmds {
            if let Command::Abort { id, .. } = cmd {
                self.broadcast(checkpoint_command::Command::Abort(id));
                let _ = self.store.discard(id);
            }
        }
        let now = wall_ms();
        let decision = if retryable {
            self.restarts.failed(now)
        } else {
            RestartDecision::GiveUp {
                reason: "a restart would fail the same way".into(),
            }
        };
        let Some(run) = self.run.as_mut() else {
            return;
        };
        // Acted on by the next tick (a restart after its delay; a give-up at once).
        match decision {
            RestartDecision::Restart { delay_ms } => {
                run.failed = Some((Some(now + delay_ms), reason));
            }
            RestartDecision::GiveUp { reason: why } => {
                run.give_up = Some(why);
                run.failed = Some((Some(now), reason));
            }
        }
    }

    /// Stops the topology for good with `why`; false if the record could not be written.
    fn give_up(&mut self, why: &str) -> bool {
        let Some(version) = self.run.as_ref().map(|r| r.version) else {
            return true;
        };
        let mut state = self.control.state();
        match decide::give_up(&state, &self.id, version, why) {
            Some(d) => self.control.carry_out(&mut state, d),
            // The run was replaced meanwhile: nothing to stop.
            None => true,
        }
    }

    /// Restarts the failed run from the recorded checkpoint: the newest at or before it
    /// that verifies (a damaged one is skipped, and says why; storage that cannot be read
    /// now makes it try again later). False when it must be tried again.
    fn restart(&mut self, reason: &str) -> bool {
        let Some(version) = self.run.as_ref().map(|r| r.version) else {
            return true;
        };
        let (from, recorded) = self.recorded();
        let mut chosen = recorded;
        if from == self.storage.location() && recorded > 0 {
            let ids = match self.store.ids() {
                Ok(ids) => ids,
                Err(e) => {
                    tracing::warn!(
                        error = %e,
                        "`{}`: cannot list its checkpoints; retrying",
                        self.id
                    );
                    return false;
                }
            };
            let mut usable = None;
            for id in ids.into_iter().rev().filter(|id| *id <= recorded) {
                match self.store.verify(id) {
                    Ok(_) => {
                        usable = Some(id);
                        break;
                    }
                    Err(e) if e.is_retryable() => {
                        tracing::warn!(
                            checkpoint = id,
                            error = %e,
                            "`{}`: cannot read checkpoint {id}; retrying",
                            self.id
                        );
                        return false;
                    }
                    Err(e) => {
                        tracing::warn!(
                            checkpoint = id,
                            "skipping checkpoint {id} of `{}`: {e}",
                            self.id
                        );
                    }
                }
            }
            match usable {
                Some(id) => chosen = id,
                None => {
                    let why = format!(
                        "{reason}; no checkpoint up to {recorded} in {from} is usable (named \
                         above): not restarting, which would write committed output again"
                    );
                    return self.give_up(&why);
                }
            }
        }
        let mut state = self.control.state();
        match decide::restart(
            &state,
            &self.id,
            version,
            (&from, chosen),
            reason,
            Instant::now(),
        ) {
            Some(d) => self.control.carry_out(&mut state, d),
            None => true,
        }
    }
}
