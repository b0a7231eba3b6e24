//! The local edge of checkpoints: the trigger the spout executors read to inject barriers,
//! where every task hands its snapshot when its barrier passes (and its final state when
//! it finishes), what a restarted task restores, how a task's failure stops the run, and
//! the driver thread that runs the pure [`Coordinator`] with the clock and the
//! [`CheckpointStore`]. Locally only for now; the cluster's control path comes next.

use crate::api::{TaskId, TaskState};
use crate::checkpoint::{
    CheckpointError, CheckpointStore, Command, Completed, Coordinator, FinishedTask, Input,
    LocalDir, Metadata, StateFile, StorageFailure,
};
use crate::grouping::key_group_range;
use crate::state::wall_ms;
use crate::topology::TopologyDesc;
use crossbeam_channel::{Receiver, Sender, unbounded};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Why a run of an `exactly_once` topology failed: the first task that failed, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskFailure {
    /// Its component.
    pub component: String,
    /// The task.
    pub task: TaskId,
    /// What happened.
    pub reason: String,
    /// Whether a restart from the last checkpoint may get past it (a failed or panicked
    /// tuple may; a state that cannot be restored will not).
    pub retryable: bool,
}

impl std::fmt::Display for TaskFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "`{}` task {}: {}",
            self.component, self.task, self.reason
        )
    }
}

/// What a task tells the driver.
#[derive(Debug)]
enum Report {
    /// It passed checkpoint `id`'s barrier: its state file, or why it could not be written.
    Snapshotted {
        id: u64,
        task: TaskId,
        file: Result<Option<StateFile>, CheckpointError>,
    },
    /// It finished, with its final state (encoded; `None`: it keeps none).
    Finished {
        task: TaskId,
        operator: &'static str,
        index: u32,
        state: Option<Vec<u8>>,
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
    meta: Metadata,
    /// Per operator, each task's state in the checkpoint.
    decoded: Mutex<HashMap<String, Arc<OperatorStates>>>,
}

/// Shared by every task of a run: the trigger, the way back to the driver, what the run
/// restores, and whether it failed.
#[derive(Debug)]
pub(crate) struct Checkpointing {
    store: CheckpointStore<LocalDir>,
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
}

impl Checkpointing {
    /// The newest checkpoint triggered (0: none): a spout executor injects its barrier once.
    pub(crate) fn triggered(&self) -> u64 {
        self.trigger.load(Ordering::Acquire)
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

    /// A task failed: the first failure is the run's; every executor stops.
    pub(crate) fn fail(&self, failure: TaskFailure) {
        let mut first = self.failure.lock().unwrap_or_else(|p| p.into_inner());
        if first.is_none() {
            eprintln!("gale: {failure}: the run stops and restarts from its last checkpoint");
            *first = Some(failure);
        }
        self.aborted.store(true, Ordering::Release);
    }

    /// Task `task` (task `index` of `operator`) passed checkpoint `id`'s barrier with
    /// `state`. Nothing is taken once the run failed: a task past its failure holds no
    /// state a checkpoint may keep.
    fn snapshot(
        &self,
        id: u64,
        operator: &str,
        index: u32,
        task: TaskId,
        state: Option<TaskState>,
    ) {
        if self.aborted() {
            return;
        }
        let file = match state {
            None => Ok(None),
            Some(s) => self
                .store
                .put_state(id, operator, index, &crate::codec::to_bytes(&s))
                .map(Some),
        };
        // The driver is gone only when the run is over: nothing waits for this any more.
        let _ = self.to_driver.send(Report::Snapshotted { id, task, file });
    }

    fn finished(&self, operator: &'static str, index: u32, task: TaskId, state: Option<TaskState>) {
        if self.aborted() {
            return;
        }
        let state = state.map(|s| crate::codec::to_bytes(&s));
        let _ = self.to_driver.send(Report::Finished {
            task,
            operator,
            index,
            state,
        });
    }

    /// What task `index` of `operator` (now `tasks` tasks) restores.
    fn restore(&self, operator: &str, index: u32, tasks: u32) -> Result<Restore, CheckpointError> {
        let Some(r) = &self.restored else {
            return Ok(Restore::default());
        };
        let meta = &r.meta;
        let Some(&before) = meta.operators.get(operator) else {
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
            let bytes = self.store.state(&r.meta, operator, f.task)?;
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
            operator: c.name,
            index: wiring.task_index,
            tasks: c.tasks,
            task: wiring.task_id(component),
        })
    }

    /// The task passed checkpoint `id`'s barrier with `state`.
    pub(crate) fn send(&self, id: u64, state: Option<TaskState>) {
        self.to
            .snapshot(id, self.operator, self.index, self.task, state);
    }

    /// The task finished with `state`: every checkpoint from now on holds it.
    pub(crate) fn finished(&self, state: Option<TaskState>) {
        self.to
            .finished(self.operator, self.index, self.task, state);
    }

    /// What the task restores; a checkpoint it cannot use fails the run (for good: a
    /// restart would read the same checkpoint).
    pub(crate) fn restore(&self) -> Restore {
        match self.to.restore(self.operator, self.index, self.tasks) {
            Ok(r) => r,
            Err(e) => {
                self.fail(format!("cannot restore its state: {e}"), false);
                Restore::default()
            }
        }
    }

    /// The task failed (`retryable`: a restart may get past it).
    pub(crate) fn fail(&self, reason: String, retryable: bool) {
        self.to.fail(TaskFailure {
            component: self.operator.to_string(),
            task: self.task,
            reason,
            retryable,
        });
    }
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
}

/// The checkpoints of one attempt of a local `exactly_once` run, written under `dir`,
/// restoring `restored` (the checkpoint the attempt starts from): the shared half for the
/// tasks, and the driver to run on its own thread, which lists the completed ones in
/// `completed`.
pub(crate) fn local(
    desc: &'static TopologyDesc,
    dir: &std::path::Path,
    restored: Option<Metadata>,
    completed: Arc<Mutex<Vec<Completed>>>,
) -> (Arc<Checkpointing>, Driver) {
    let (to_driver, from_tasks) = unbounded();
    let store = CheckpointStore::new(LocalDir::new(dir));
    let last = store
        .ids()
        .ok()
        .and_then(|ids| ids.last().copied())
        .unwrap_or(0)
        .max(restored.as_ref().map_or(0, |m| m.id));
    let shared = Arc::new(Checkpointing {
        store,
        desc,
        trigger: AtomicU64::new(0),
        completed: AtomicU64::new(0),
        all_committed: AtomicBool::new(false),
        aborted: AtomicBool::new(false),
        failure: Mutex::new(None),
        restored: restored.map(|meta| Restored {
            meta,
            decoded: Mutex::new(HashMap::new()),
        }),
        to_driver,
    });
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
            Ok(m) if m.kind() == crate::checkpoint::CheckpointKind::Periodic => earlier.push(id),
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
    };
    (shared, driver)
}

impl Driver {
    /// Runs until `done` is set (the run is over) or a task failed; checkpoints still
    /// pending then are aborted (they have no `_metadata`, and a restore skips them).
    pub(crate) fn run(mut self, done: &AtomicBool) {
        let mut next_tick = Instant::now();
        while !done.load(Ordering::Acquire) {
            if self.shared.aborted() {
                self.handle(Input::Failed);
                return;
            }
            if let Ok(r) = self.from_tasks.recv_timeout(Duration::from_millis(5)) {
                let input = self.report(r);
                self.handle(input);
            }
            if Instant::now() >= next_tick {
                self.handle(Input::Tick { now_ms: wall_ms() });
                next_tick = Instant::now() + Duration::from_millis(5);
            }
        }
    }

    fn report(&mut self, r: Report) -> Input {
        match r {
            Report::Snapshotted { id, task, file } => match file {
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
            }
        }
        Ok(Metadata {
            id,
            // Savepoints are not asked for locally yet.
            savepoint: false,
            triggered_ms: wall_ms(),
            topology: self.desc.name.to_string(),
            max_parallelism: self.desc.settings.max_parallelism,
            states,
            operators: self
                .desc
                .components
                .iter()
                .map(|c| (c.name.to_string(), c.tasks))
                .collect(),
            finished,
        })
    }

    fn handle(&mut self, input: Input) {
        let mut queue = std::collections::VecDeque::from(self.coordinator.handle(input));
        while let Some(cmd) = queue.pop_front() {
            match cmd {
                Command::Trigger { id, .. } => self.shared.trigger.store(id, Ordering::Release),
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
                Command::Complete(done) => {
                    self.shared.completed.fetch_max(done.id, Ordering::AcqRel);
                    if self.coordinator.final_checkpoint() == Some(done.id) {
                        self.shared.all_committed.store(true, Ordering::Release);
                    }
                    if let Ok(mut c) = self.completed.lock() {
                        c.push(done);
                    }
                }
                Command::Abort { id, reason } => {
                    self.acked.remove(&id);
                    if self.coordinator.final_checkpoint() == Some(id) {
                        // The finished tasks wait for it: without it nothing commits.
                        self.shared.fail(TaskFailure {
                            component: "__checkpoints".into(),
                            task: 0,
                            reason: format!("the final checkpoint {id} failed: {reason:?}"),
                            retryable: true,
                        });
                    }
                    if !self.shared.aborted() {
                        eprintln!("gale: checkpoint {id} aborted: {reason:?}");
                    }
                    let _ = self.shared.store.discard(id);
                }
                Command::Discard { id } => {
                    if let Err(e) = self.shared.store.discard(id) {
                        eprintln!("gale: could not delete checkpoint {id}: {e}");
                    }
                }
            }
        }
    }
}
