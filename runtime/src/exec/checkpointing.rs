//! The local edge of checkpoints: the trigger the spout executors read to inject barriers,
//! where every task hands its snapshot when its barrier passes (and its final state when
//! it finishes), what a restarted task restores, how a task's failure stops the run, and
//! the driver thread that runs the pure [`Coordinator`] with the clock and the
//! [`CheckpointStore`] in local mode. On a cluster nimbus coordinates: a worker's
//! [`Checkpointing`] is made by [`cluster`], its tasks' reports are written to the shared
//! storage by [`super::uploads`], and the worker sets its triggers and completions as
//! nimbus sends them.

use crate::api::{TaskId, TaskState};
use crate::checkpoint::{
    CheckpointError, CheckpointKind, CheckpointStorage, CheckpointStore, Command, Completed,
    Coordinator, FinishedTask, Input, LocalDir, Metadata, StateFile, StorageFailure,
};
use crate::exec::savepoints::{self, Answer};
use crate::grouping::key_group_range;
use crate::state::wall_ms;
use crate::topology::TopologyDesc;
use crossbeam_channel::{Receiver, Sender, unbounded};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Why a run of an `exactly_once` topology failed: the first task that failed, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskFailure {
    /// Its component (or the executor thread, or the checkpoint driver).
    pub component: String,
    /// The task, when one task failed (not for a whole executor or the driver).
    pub task: Option<TaskId>,
    /// What happened.
    pub reason: String,
    /// Whether a restart from the last checkpoint may get past it (a failed or panicked
    /// tuple may; a state that cannot be restored will not).
    pub retryable: bool,
}

impl std::fmt::Display for TaskFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.task {
            Some(t) => write!(f, "`{}` task {t}: {}", self.component, self.reason),
            None => write!(f, "`{}`: {}", self.component, self.reason),
        }
    }
}

/// How long a task works at a time on a snapshot it takes a key group at a time, between
/// batches: the longest pause such a snapshot causes is about this (or one key group's
/// encoding, if longer).
pub(crate) const SNAPSHOT_STEP: Duration = Duration::from_millis(1);

/// How often the driver looks for savepoint requests.
const SAVEPOINT_LOOK: Duration = Duration::from_millis(50);

/// Checkpoint storage shared by the tasks and whoever writes their snapshots.
pub(crate) type SharedStorage = Arc<dyn CheckpointStorage>;

/// What a task tells the driver (or, on a cluster, its worker's uploader).
#[derive(Debug)]
pub(crate) enum Report {
    /// It passed checkpoint `id`'s barrier with its state (`None`: it keeps none), which
    /// the driver encodes and writes: the task goes on at once (an asynchronous write).
    Snapshotted {
        id: u64,
        task: TaskId,
        operator: &'static str,
        index: u32,
        state: Option<TaskState>,
    },
    /// It finished, with its final state (`None`: it keeps none).
    Finished {
        task: TaskId,
        operator: &'static str,
        index: u32,
        state: Option<TaskState>,
    },
}

/// What a task restores when the run starts.
#[derive(Debug, Default)]
pub(crate) struct Restore {
    /// Its state in the checkpoint restored (`None`: a fresh start, or it kept none).
    pub(crate) state: Option<TaskState>,
    /// It had finished when the checkpoint was taken: it is not run again.
    pub(crate) finished: bool,
}

/// Each task's state of one operator in a checkpoint: (task index, state).
type OperatorStates = Vec<(u32, TaskState)>;

/// The checkpoint a run restarts from, and its state files, decoded once per operator.
#[derive(Debug)]
struct Restored {
    /// Where it is: the run's checkpoints, or a savepoint's directory.
    store: CheckpointStore<SharedStorage>,
    meta: Metadata,
    /// Per operator, each task's state in the checkpoint.
    decoded: Mutex<HashMap<String, Arc<OperatorStates>>>,
}

/// Shared by every task of a run: the trigger, the way back to the driver, what the run
/// restores, and whether it failed.
#[derive(Debug)]
pub(crate) struct Checkpointing {
    store: CheckpointStore<SharedStorage>,
    desc: &'static TopologyDesc,
    /// The newest checkpoint triggered (0: none yet).
    trigger: AtomicU64,
    /// The newest checkpoint completed (0: none in this run).
    completed: AtomicU64,
    /// The final checkpoint (every task finished) is complete: finished tasks may end.
    all_committed: AtomicBool,
    /// A task failed: every executor stops now, without finishing.
    aborted: AtomicBool,
    failure: Mutex<Option<TaskFailure>>,
    restored: Option<Restored>,
    to_driver: Sender<Report>,
    /// Per pending checkpoint, the longest any task waited for its barriers, ms.
    alignment: Mutex<BTreeMap<u64, u64>>,
    /// Per pending checkpoint, the longest any task stopped processing to snapshot, µs.
    pauses: Mutex<BTreeMap<u64, u64>>,
    /// The checkpoints triggered as savepoints.
    savepoints: Mutex<BTreeSet<u64>>,
    /// Checkpoints aborted (on a cluster, as nimbus said): a snapshot for one that comes
    /// late is not written.
    abandoned: Mutex<BTreeSet<u64>>,
}

impl Checkpointing {
    /// The newest checkpoint triggered (0: none): a spout executor injects its barrier once.
    pub(crate) fn triggered(&self) -> u64 {
        self.trigger.load(Ordering::Acquire)
    }

    /// Whether checkpoint `id` is a savepoint (its barriers say so).
    pub(crate) fn is_savepoint(&self, id: u64) -> bool {
        self.savepoints
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(&id)
    }

    /// The newest checkpoint completed in this run (0: none).
    pub(crate) fn completed(&self) -> u64 {
        self.completed.load(Ordering::Acquire)
    }

    /// Every task finished and the final checkpoint is complete.
    pub(crate) fn all_committed(&self) -> bool {
        self.all_committed.load(Ordering::Acquire)
    }

    /// A task failed: the run stops.
    pub(crate) fn aborted(&self) -> bool {
        self.aborted.load(Ordering::Acquire)
    }

    /// The failure that stopped the run, if one did.
    pub(crate) fn failure(&self) -> Option<TaskFailure> {
        self.failure
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// After an executor's tasks all finished: waits for the final checkpoint (or the run's
    /// failure), handing `notify` every completion newer than `notified`.
    pub(crate) fn wait_final(&self, notified: &mut u64, mut notify: impl FnMut(u64)) {
        loop {
            let all = self.all_committed();
            if let Some(done) = self.newly_completed(notified) {
                notify(done);
            }
            if all || self.aborted() {
                return;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// A checkpoint newer than `notified` completed: the newest, to hand the tasks.
    pub(crate) fn newly_completed(&self, notified: &mut u64) -> Option<u64> {
        let done = self.completed();
        (done > *notified).then(|| {
            *notified = done;
            done
        })
    }

    /// The coordinator (nimbus) triggered checkpoint `id`: this worker's spout executors
    /// inject its barrier.
    pub(crate) fn trigger(&self, id: u64, savepoint: bool) {
        if savepoint {
            self.savepoints
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(id);
        }
        self.trigger.fetch_max(id, Ordering::AcqRel);
    }

    /// The coordinator says checkpoint `id` is complete (`last`: the final one, every task
    /// had finished): the tasks are notified, sinks commit.
    pub(crate) fn complete(&self, id: u64, last: bool) {
        self.completed.fetch_max(id, Ordering::AcqRel);
        if last {
            self.all_committed.store(true, Ordering::Release);
        }
        let prune = |m: &Mutex<BTreeMap<u64, u64>>| {
            m.lock()
                .unwrap_or_else(|p| p.into_inner())
                .retain(|k, _| *k > id);
        };
        prune(&self.alignment);
        prune(&self.pauses);
        self.abandoned
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|k| *k > id);
    }

    /// Checkpoint `id` was aborted: a snapshot of it that comes late is not written.
    pub(crate) fn abandon(&self, id: u64) {
        self.abandoned
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id);
    }

    /// Whether checkpoint `id` was aborted.
    pub(crate) fn is_abandoned(&self, id: u64) -> bool {
        self.abandoned
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(&id)
    }

    /// The longest alignment (ms) and snapshot pause (µs) any task of this process had for
    /// checkpoint `id` so far.
    pub(crate) fn noted_for(&self, id: u64) -> (u64, u64) {
        let get = |m: &Mutex<BTreeMap<u64, u64>>| {
            m.lock()
                .unwrap_or_else(|p| p.into_inner())
                .get(&id)
                .copied()
                .unwrap_or(0)
        };
        (get(&self.alignment), get(&self.pauses))
    }

    /// Where snapshots are written.
    pub(crate) fn store(&self) -> &CheckpointStore<SharedStorage> {
        &self.store
    }

    /// A task waited `ms` for the barriers of checkpoint `id` on all its inputs.
    pub(crate) fn aligned(&self, id: u64, ms: u64) {
        let mut a = self.alignment.lock().unwrap_or_else(|p| p.into_inner());
        let slot = a.entry(id).or_default();
        *slot = (*slot).max(ms);
    }

    /// A task failed: the first failure is the run's; every executor stops.
    pub(crate) fn fail(&self, failure: TaskFailure) {
        let mut first = self.failure.lock().unwrap_or_else(|p| p.into_inner());
        if first.is_none() {
            tracing::error!(
                component = %failure.component,
                task = failure.task,
                "{failure}: the run stops and restarts from its last checkpoint"
            );
            *first = Some(failure);
        }
        self.aborted.store(true, Ordering::Release);
    }

    /// Task `task` (task `index` of `operator`) passed checkpoint `id`'s barrier with
    /// `state`. Nothing is taken once the run failed: a task past its failure holds no
    /// state a checkpoint may keep. `paused` is the longest the task stopped processing
    /// for it (taking the state at once, or its longest step when taken a key group at a
    /// time): the longest such pause is the checkpoint's.
    fn snapshot(
        &self,
        id: u64,
        operator: &'static str,
        index: u32,
        task: TaskId,
        paused: Duration,
        state: Option<TaskState>,
    ) {
        if self.aborted() {
            return;
        }
        {
            let mut p = self.pauses.lock().unwrap_or_else(|p| p.into_inner());
            let slot = p.entry(id).or_default();
            *slot = (*slot).max(paused.as_micros() as u64);
        }
        // The driver is gone only when the run is over: nothing waits for this any more.
        let _ = self.to_driver.send(Report::Snapshotted {
            id,
            task,
            operator,
            index,
            state,
        });
    }

    fn finished(&self, operator: &'static str, index: u32, task: TaskId, state: Option<TaskState>) {
        if self.aborted() {
            return;
        }
        let _ = self.to_driver.send(Report::Finished {
            task,
            operator,
            index,
            state,
        });
    }

    /// Checks that every task of the topology can restore its state from the checkpoint
    /// the run starts from (decoding each operator's state once; the tasks reuse it).
    pub(crate) fn check_restore(&self) -> Result<(), CheckpointError> {
        if self.restored.is_none() {
            return Ok(());
        }
        for c in self.desc.components {
            for i in 0..c.tasks {
                self.restore(c.uid, i, c.tasks)?;
            }
        }
        Ok(())
    }

    /// What task `index` of `operator` (now `tasks` tasks) restores.
    fn restore(&self, operator: &str, index: u32, tasks: u32) -> Result<Restore, CheckpointError> {
        let Some(r) = &self.restored else {
            return Ok(Restore::default());
        };
        let meta = &r.meta;
        let Some(before) = meta.operators.get(operator).map(|o| o.tasks) else {
            // An operator the checkpoint does not know: it starts afresh.
            return Ok(Restore::default());
        };
        let finished = |i: u32| {
            meta.finished
                .iter()
                .any(|f| f.operator == operator && f.task == i)
        };
        let states = self.decoded(r, operator)?;
        let same = before == tasks;
        let finished = if same {
            finished(index)
        } else {
            (0..before).all(finished)
        };
        if states.is_empty() {
            return Ok(Restore {
                state: None,
                finished,
            });
        }
        let keyed = states
            .iter()
            .all(|(_, s)| matches!(s, TaskState::KeyGroups(_)));
        if !keyed {
            if !same {
                return Err(CheckpointError::Rescaled {
                    id: meta.id,
                    operator: operator.to_string(),
                    from: before,
                    to: tasks,
                });
            }
            let state = states
                .iter()
                .find(|(i, _)| *i == index)
                .map(|(_, s)| s.clone());
            return Ok(Restore { state, finished });
        }
        let m = self.desc.settings.max_parallelism;
        if meta.max_parallelism != m {
            return Err(CheckpointError::MaxParallelism {
                id: meta.id,
                from: meta.max_parallelism,
                to: m,
            });
        }
        let mine = key_group_range(index as usize, tasks as usize, m);
        let groups = states
            .iter()
            .flat_map(|(_, s)| match s {
                TaskState::KeyGroups(g) => g.as_slice(),
                TaskState::Task(_) => &[],
            })
            .filter(|(g, _)| mine.contains(g))
            .cloned()
            .collect();
        Ok(Restore {
            state: Some(TaskState::KeyGroups(groups)),
            finished,
        })
    }

    /// Every task's state of `operator` in the restored checkpoint, read and checked once.
    fn decoded(
        &self,
        r: &Restored,
        operator: &str,
    ) -> Result<Arc<OperatorStates>, CheckpointError> {
        let mut cache = r.decoded.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(d) = cache.get(operator) {
            return Ok(d.clone());
        }
        let mut out = Vec::new();
        for f in r.meta.states.iter().filter(|s| s.operator == operator) {
            let bytes = r.store.state(&r.meta, operator, f.task)?;
            let state = crate::codec::from_bytes::<TaskState>(&bytes).map_err(|e| {
                CheckpointError::BadState {
                    id: r.meta.id,
                    operator: operator.to_string(),
                    task: f.task,
                    what: e.to_string(),
                }
            })?;
            out.push((f.task, state));
        }
        let d = Arc::new(out);
        cache.insert(operator.to_string(), d.clone());
        Ok(d)
    }
}

/// Where one operator task's snapshots go: the run's checkpoints, its name and its index.
#[derive(Debug, Clone)]
pub(crate) struct CheckpointTo {
    to: Arc<Checkpointing>,
    operator: &'static str,
    index: u32,
    tasks: u32,
    task: TaskId,
}

impl CheckpointTo {
    /// Component `component`'s task on `wiring`, if the run takes checkpoints.
    pub(crate) fn of(wiring: &crate::exec::wiring::Wiring, component: usize) -> Option<Self> {
        let c = &wiring.desc.components[component];
        Some(CheckpointTo {
            to: wiring.checkpoints.clone()?,
            operator: c.uid,
            index: wiring.task_index,
            tasks: c.tasks,
            task: wiring.task_id(component),
        })
    }

    /// The task passed checkpoint `id`'s barrier with `state`; it stopped processing for
    /// at most `paused` at a time to take it.
    pub(crate) fn send(&self, id: u64, paused: Duration, state: Option<TaskState>) {
        self.to
            .snapshot(id, self.operator, self.index, self.task, paused, state);
    }

    /// The task finished with `state`: every checkpoint from now on holds it.
    pub(crate) fn finished(&self, state: Option<TaskState>) {
        self.to
            .finished(self.operator, self.index, self.task, state);
    }

    /// What the task restores; a checkpoint it cannot use fails the run (for good: a
    /// restart would read the same checkpoint), and `None` says not to initialize the
    /// task's state at all (a sink would drop what the checkpoint had pending).
    pub(crate) fn restore(&self) -> Option<Restore> {
        match self.to.restore(self.operator, self.index, self.tasks) {
            Ok(r) => Some(r),
            Err(e) => {
                self.fail(format!("cannot restore its state: {e}"), false);
                None
            }
        }
    }

    /// The task failed (`retryable`: a restart may get past it).
    pub(crate) fn fail(&self, reason: String, retryable: bool) {
        self.to.fail(TaskFailure {
            component: self.operator.to_string(),
            task: Some(self.task),
            reason,
            retryable,
        });
    }
}

/// Whether `desc` can restore checkpoint `meta`: every operator with state in it is
/// still there, with the state schema it had then (one that kept no state may change).
pub(crate) fn compatible(desc: &TopologyDesc, meta: &Metadata) -> Result<(), CheckpointError> {
    for c in desc.components {
        if let Some(was) = meta.operators.get(c.uid)
            && meta.states.iter().any(|s| s.operator == c.uid)
            && was.schema != c.state_schema
        {
            return Err(CheckpointError::Incompatible {
                id: meta.id,
                operator: c.uid.to_string(),
                was: was.schema.clone(),
                now: c.state_schema.to_string(),
            });
        }
    }
    for s in &meta.states {
        if !desc.components.iter().any(|c| c.uid == s.operator) {
            return Err(CheckpointError::Unclaimed {
                id: meta.id,
                operator: s.operator.clone(),
            });
        }
    }
    Ok(())
}

/// The driver: runs the coordinator until the run is over or failed.
pub(crate) struct Driver {
    shared: Arc<Checkpointing>,
    from_tasks: Receiver<Report>,
    coordinator: Coordinator,
    /// Per pending checkpoint, the tasks that acknowledged it and their state files.
    acked: BTreeMap<u64, (BTreeSet<TaskId>, Vec<StateFile>)>,
    /// The tasks that finished: their operator, index and final state.
    finished: BTreeMap<TaskId, (&'static str, u32, Option<Vec<u8>>)>,
    desc: &'static TopologyDesc,
    /// Completed checkpoints, for the run summary.
    completed: Arc<Mutex<Vec<Completed>>>,
    /// The run's checkpoint directory (where savepoint requests arrive).
    dir: PathBuf,
    /// Savepoint requests not yet triggered, oldest first.
    asked: std::collections::VecDeque<savepoints::Request>,
    /// Savepoints triggered, by id: the request each answers.
    answering: BTreeMap<u64, savepoints::Request>,
    /// Per checkpoint persisted, the bytes of finished tasks' states written into it (the
    /// coordinator counts only what acknowledgements carried).
    finished_bytes: BTreeMap<u64, u64>,
}

/// A checkpoint to start from: its metadata, in the directory holding it (the run's
/// checkpoint directory, or a savepoint's).
#[derive(Debug, Clone)]
pub(crate) struct StartFrom {
    /// The directory (a checkpoint store's root).
    pub(crate) dir: PathBuf,
    /// The checkpoint's metadata.
    pub(crate) meta: Metadata,
}

/// The shared half of a run's checkpoints, writing to `store` and restoring `restored`
/// (the store holding the checkpoint, and its metadata), and where its tasks' reports
/// arrive.
fn shared(
    desc: &'static TopologyDesc,
    store: SharedStorage,
    restored: Option<(SharedStorage, Metadata)>,
) -> (Arc<Checkpointing>, Receiver<Report>) {
    let (to_driver, from_tasks) = unbounded();
    let shared = Arc::new(Checkpointing {
        store: CheckpointStore::new(store),
        desc,
        trigger: AtomicU64::new(0),
        completed: AtomicU64::new(0),
        all_committed: AtomicBool::new(false),
        aborted: AtomicBool::new(false),
        failure: Mutex::new(None),
        restored: restored.map(|(from, meta)| Restored {
            store: CheckpointStore::new(from),
            meta,
            decoded: Mutex::new(HashMap::new()),
        }),
        to_driver,
        alignment: Mutex::new(BTreeMap::new()),
        pauses: Mutex::new(BTreeMap::new()),
        savepoints: Mutex::new(BTreeSet::new()),
        abandoned: Mutex::new(BTreeSet::new()),
    });
    (shared, from_tasks)
}

/// The checkpoints of one run of a worker of an `exactly_once` topology on a cluster:
/// state written to `storage` (every machine's), restoring `restored` (the store holding
/// the checkpoint, and its metadata). Nimbus coordinates: the worker hands its triggers
/// and completions to the shared half ([`Checkpointing::trigger`],
/// [`Checkpointing::complete`]) and runs the reports through [`super::uploads`].
pub(crate) fn cluster(
    desc: &'static TopologyDesc,
    storage: SharedStorage,
    restored: Option<(SharedStorage, Metadata)>,
) -> (Arc<Checkpointing>, Receiver<Report>) {
    shared(desc, storage, restored)
}

/// The checkpoints of one attempt of a local `exactly_once` run, written under `dir`,
/// restoring `restored` (the checkpoint the attempt starts from): the shared half for the
/// tasks, and the driver to run on its own thread, which lists the completed ones in
/// `completed`.
pub(crate) fn local(
    desc: &'static TopologyDesc,
    dir: &Path,
    restored: Option<StartFrom>,
    completed: Arc<Mutex<Vec<Completed>>>,
) -> (Arc<Checkpointing>, Driver) {
    let store: SharedStorage = Arc::new(LocalDir::new(dir));
    let restored = restored.map(|r| {
        let from: SharedStorage = Arc::new(LocalDir::new(r.dir));
        (from, r.meta)
    });
    let (shared, from_tasks) = shared(desc, store, restored);
    let last = shared
        .store
        .ids()
        .ok()
        .and_then(|ids| ids.last().copied())
        .unwrap_or(0)
        .max(shared.restored.as_ref().map_or(0, |r| r.meta.id));
    let tasks = desc
        .components
        .iter()
        .flat_map(|c| c.first_task..c.first_task + c.tasks);
    let mut coordinator = Coordinator::new(desc.settings.checkpoints, tasks, last);
    // What earlier runs left complete (not savepoints) ages out like this run's own; what
    // they left incomplete (no metadata: it never completed, and never will) goes now.
    let mut earlier = Vec::new();
    for id in shared.store.ids().unwrap_or_default() {
        match shared.store.metadata(id) {
            Ok(m) if m.kind() == CheckpointKind::Periodic => earlier.push(id),
            Ok(_) => {}
            Err(CheckpointError::Incomplete(_)) => {
                let _ = shared.store.discard(id);
            }
            Err(_) => {}
        }
    }
    coordinator.adopt_retained(earlier);
    let driver = Driver {
        shared: shared.clone(),
        from_tasks,
        coordinator,
        acked: BTreeMap::new(),
        finished: BTreeMap::new(),
        desc,
        completed,
        dir: dir.to_path_buf(),
        asked: std::collections::VecDeque::new(),
        answering: BTreeMap::new(),
        finished_bytes: BTreeMap::new(),
    };
    (shared, driver)
}

impl Driver {
    /// Runs until `done` is set (the run is over) or a task failed; checkpoints still
    /// pending then are aborted (they have no `_metadata`, and a restore skips them).
    pub(crate) fn run(mut self, done: &AtomicBool) {
        let mut next_tick = Instant::now();
        let mut next_look = Instant::now();
        while !done.load(Ordering::Acquire) {
            if self.shared.aborted() {
                self.handle(Input::Failed);
                self.answer_all("the run failed; it restarts from its last checkpoint");
                return;
            }
            if Instant::now() >= next_look {
                // Savepoints asked for (`savepoint --checkpoint-dir`).
                for r in savepoints::take_requests(&self.dir) {
                    self.asked.push_back(r);
                    self.handle(Input::Savepoint { now_ms: wall_ms() });
                }
                next_look = Instant::now() + SAVEPOINT_LOOK;
            }
            if let Ok(r) = self.from_tasks.recv_timeout(Duration::from_millis(5)) {
                // A snapshot of a checkpoint no longer pending (aborted) is not written.
                let late = matches!(&r, Report::Snapshotted { id, .. }
                    if !self.coordinator.pending().any(|p| p == *id));
                if !late {
                    let input = self.report(r);
                    self.handle(input);
                }
            }
            if Instant::now() >= next_tick {
                self.handle(Input::Tick { now_ms: wall_ms() });
                next_tick = Instant::now() + Duration::from_millis(5);
            }
        }
        self.answer_all("the run ended before the savepoint completed");
    }

    /// Answers every savepoint request still open with `why` not.
    fn answer_all(&mut self, why: &str) {
        let open = std::mem::take(&mut self.answering)
            .into_values()
            .chain(std::mem::take(&mut self.asked));
        for r in open {
            savepoints::answer(&self.dir, &r.nonce, Answer::Refused(why.to_string()));
        }
    }

    /// Savepoint `id` completed: copies it where it was asked for, and answers.
    fn savepoint_done(&mut self, id: u64) {
        let Some(r) = self.answering.remove(&id) else {
            return;
        };
        let name = crate::checkpoint::checkpoint_dir(id);
        let answer = match &r.target {
            None => Answer::Taken {
                id,
                dir: self.dir.join(name),
            },
            Some(t) => match self
                .shared
                .store
                .copy_to(id, &CheckpointStore::new(LocalDir::new(t)))
            {
                Ok(_) => Answer::Taken {
                    id,
                    dir: t.join(name),
                },
                Err(e) => Answer::Refused(format!("copying it to `{}`: {e}", t.display())),
            },
        };
        savepoints::answer(&self.dir, &r.nonce, answer);
    }

    fn report(&mut self, r: Report) -> Input {
        match r {
            Report::Snapshotted {
                id,
                task,
                operator,
                index,
                state,
            } => match state
                .map(|s| {
                    let bytes = crate::codec::to_bytes(&s);
                    self.shared.store.put_state(id, operator, index, &bytes)
                })
                .transpose()
            {
                Ok(file) => {
                    let bytes = file.as_ref().map_or(0, |f| f.bytes);
                    let entry = self.acked.entry(id).or_default();
                    entry.0.insert(task);
                    entry.1.extend(file);
                    Input::Ack {
                        id,
                        task,
                        bytes,
                        alignment_ms: 0,
                    }
                }
                Err(e) => Input::Decline {
                    id,
                    task,
                    reason: e.to_string(),
                },
            },
            Report::Finished {
                task,
                operator,
                index,
                state,
            } => {
                let state = state.map(|s| crate::codec::to_bytes(&s));
                self.finished.insert(task, (operator, index, state));
                Input::Finished {
                    task,
                    now_ms: wall_ms(),
                }
            }
        }
    }

    /// The metadata of checkpoint `id`: the state files of the tasks that acknowledged
    /// it, and the final state of those that had finished (written into it now).
    fn metadata(&mut self, id: u64) -> Result<Metadata, CheckpointError> {
        let (acked, mut states) = self.acked.remove(&id).unwrap_or_default();
        let mut finished = Vec::new();
        for (task, (operator, index, state)) in &self.finished {
            if acked.contains(task) {
                continue;
            }
            finished.push(FinishedTask {
                operator: operator.to_string(),
                task: *index,
            });
            if let Some(bytes) = state {
                states.push(self.shared.store.put_state(id, operator, *index, bytes)?);
                *self.finished_bytes.entry(id).or_default() += bytes.len() as u64;
            }
        }
        Ok(Metadata {
            id,
            savepoint: self.shared.is_savepoint(id),
            triggered_ms: wall_ms(),
            topology: self.desc.name.to_string(),
            max_parallelism: self.desc.settings.max_parallelism,
            states,
            operators: self
                .desc
                .components
                .iter()
                .map(|c| {
                    let op = crate::checkpoint::OperatorState {
                        tasks: c.tasks,
                        schema: c.state_schema.to_string(),
                    };
                    (c.uid.to_string(), op)
                })
                .collect(),
            finished,
        })
    }

    /// Adds to `done` what the tasks noted besides their acknowledgements: the longest
    /// alignment and the longest pause; forgets what older checkpoints noted (they will
    /// not complete any more).
    fn noted(&mut self, done: &mut Completed) {
        done.bytes += self.finished_bytes.remove(&done.id).unwrap_or(0);
        self.finished_bytes.retain(|id, _| *id > done.id);
        let take = |m: &Mutex<BTreeMap<u64, u64>>| {
            let mut m = m.lock().unwrap_or_else(|p| p.into_inner());
            let v = m.remove(&done.id);
            m.retain(|id, _| *id > done.id);
            v
        };
        if let Some(ms) = take(&self.shared.alignment) {
            done.alignment_ms = done.alignment_ms.max(ms);
        }
        if let Some(us) = take(&self.shared.pauses) {
            done.pause_us = done.pause_us.max(us);
        }
    }

    fn handle(&mut self, input: Input) {
        let mut queue = std::collections::VecDeque::from(self.coordinator.handle(input));
        while let Some(cmd) = queue.pop_front() {
            match cmd {
                Command::Trigger { id, kind, .. } => {
                    if kind == CheckpointKind::Savepoint {
                        self.shared
                            .savepoints
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .insert(id);
                        if let Some(r) = self.asked.pop_front() {
                            self.answering.insert(id, r);
                        }
                    }
                    self.shared.trigger.store(id, Ordering::Release);
                }
                Command::Persist { id } => {
                    let result = self
                        .metadata(id)
                        .and_then(|meta| self.shared.store.commit(&meta))
                        .map_err(|e| StorageFailure::from(&e));
                    queue.extend(self.coordinator.handle(Input::Persisted {
                        id,
                        now_ms: wall_ms(),
                        result,
                    }));
                }
                Command::Complete(mut done) => {
                    self.noted(&mut done);
                    self.shared.completed.fetch_max(done.id, Ordering::AcqRel);
                    if self.coordinator.final_checkpoint() == Some(done.id) {
                        self.shared.all_committed.store(true, Ordering::Release);
                    }
                    if done.kind == CheckpointKind::Savepoint {
                        self.savepoint_done(done.id);
                    }
                    if let Ok(mut c) = self.completed.lock() {
                        c.push(done);
                    }
                }
                Command::Abort { id, reason } => {
                    self.acked.remove(&id);
                    if let Some(r) = self.answering.remove(&id) {
                        savepoints::answer(
                            &self.dir,
                            &r.nonce,
                            Answer::Refused(format!("{reason:?}")),
                        );
                    }
                    if self.coordinator.final_checkpoint() == Some(id) {
                        // The finished tasks wait for it: without it nothing commits.
                        self.shared.fail(TaskFailure {
                            component: "__checkpoints".into(),
                            task: None,
                            reason: format!("the final checkpoint {id} failed: {reason:?}"),
                            retryable: true,
                        });
                    }
                    if !self.shared.aborted() {
                        tracing::warn!(checkpoint = id, "checkpoint {id} aborted: {reason:?}");
                    }
                    let _ = self.shared.store.discard(id);
                }
                Command::Discard { id } => {
                    if let Err(e) = self.shared.store.discard(id) {
                        tracing::warn!(checkpoint = id, error = %e, "could not delete checkpoint {id}");
                    }
                }
            }
        }
    }
}
