//! The local edge of checkpoints (issue 12, in progress): the trigger the spout executors
//! read to inject barriers, where every task hands its snapshot when its barrier passes,
//! and the driver thread that runs the pure [`Coordinator`] with the clock and the
//! [`CheckpointStore`]. Locally only for now; restore and the cluster's control path come
//! next.

use crate::api::TaskId;
use crate::checkpoint::{
    CheckpointError, CheckpointStore, Command, Completed, Coordinator, Input, LocalDir, Metadata,
    StateFile, StorageFailure,
};
use crate::state::wall_ms;
use crate::topology::TopologyDesc;
use crossbeam_channel::{Receiver, Sender, unbounded};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What a task says when its barrier passes.
#[derive(Debug)]
struct Snapshotted {
    id: u64,
    task: TaskId,
    /// Its state file, or why it could not be written.
    file: Result<Option<StateFile>, CheckpointError>,
}

/// Shared by every task of a run: the trigger and the way back to the driver.
#[derive(Debug)]
pub(crate) struct Checkpointing {
    store: CheckpointStore<LocalDir>,
    /// The newest checkpoint triggered (0: none yet).
    trigger: AtomicU64,
    to_driver: Sender<Snapshotted>,
}

impl Checkpointing {
    /// The newest checkpoint triggered (0: none): a spout executor injects its barrier once.
    pub(crate) fn triggered(&self) -> u64 {
        self.trigger.load(Ordering::Acquire)
    }

    /// Task `task` (task `index` of operator `operator`) passed checkpoint `id`'s barrier
    /// with `state` (`None`: it keeps none).
    pub(crate) fn snapshot(
        &self,
        id: u64,
        operator: &str,
        index: u32,
        task: TaskId,
        state: Option<Vec<u8>>,
    ) {
        let file = match state {
            None => Ok(None),
            Some(bytes) => self.store.put_state(id, operator, index, &bytes).map(Some),
        };
        // The driver is gone only when the run is over: nothing waits for this any more.
        let _ = self.to_driver.send(Snapshotted { id, task, file });
    }
}

/// Where one operator task's snapshots go: the run's checkpoints, its name and its index.
#[derive(Debug, Clone)]
pub(crate) struct CheckpointTo {
    to: Arc<Checkpointing>,
    operator: &'static str,
    index: u32,
}

impl CheckpointTo {
    /// Component `component`'s task on `wiring`, if the run takes checkpoints.
    pub(crate) fn of(wiring: &crate::exec::wiring::Wiring, component: usize) -> Option<Self> {
        Some(CheckpointTo {
            to: wiring.checkpoints.clone()?,
            operator: wiring.desc.components[component].name,
            index: wiring.task_index,
        })
    }

    /// Task `task` passed checkpoint `id`'s barrier with `state`.
    pub(crate) fn send(&self, id: u64, task: TaskId, state: Option<Vec<u8>>) {
        self.to.snapshot(id, self.operator, self.index, task, state);
    }
}

/// The driver: runs the coordinator until `done`.
pub(crate) struct Driver {
    shared: Arc<Checkpointing>,
    from_tasks: Receiver<Snapshotted>,
    coordinator: Coordinator,
    files: BTreeMap<u64, Vec<StateFile>>,
    desc: &'static TopologyDesc,
    /// Completed checkpoints, for the run summary.
    completed: Arc<Mutex<Vec<Completed>>>,
}

/// The checkpoints of a local `exactly_once` run, written under `dir`: the shared half for
/// the tasks, the driver to run on its own thread, and where the completed ones are listed.
pub(crate) fn local(
    desc: &'static TopologyDesc,
    dir: &std::path::Path,
) -> (Arc<Checkpointing>, Driver, Arc<Mutex<Vec<Completed>>>) {
    let (to_driver, from_tasks) = unbounded();
    let store = CheckpointStore::new(LocalDir::new(dir));
    let last = store
        .ids()
        .ok()
        .and_then(|ids| ids.last().copied())
        .unwrap_or(0);
    let shared = Arc::new(Checkpointing {
        store,
        trigger: AtomicU64::new(0),
        to_driver,
    });
    let tasks = desc
        .components
        .iter()
        .flat_map(|c| c.first_task..c.first_task + c.tasks);
    let completed = Arc::new(Mutex::new(Vec::new()));
    let driver = Driver {
        shared: shared.clone(),
        from_tasks,
        coordinator: Coordinator::new(desc.settings.checkpoints, tasks, last),
        files: BTreeMap::new(),
        desc,
        completed: completed.clone(),
    };
    (shared, driver, completed)
}

impl Driver {
    /// Runs until `done` is set (the run is over); checkpoints still pending then are left
    /// incomplete (they have no `_metadata`, and a restore skips them).
    pub(crate) fn run(mut self, done: &AtomicBool) {
        let mut next_tick = Instant::now();
        while !done.load(Ordering::Acquire) {
            if let Ok(s) = self.from_tasks.recv_timeout(Duration::from_millis(5)) {
                let input = self.snapshotted(s);
                self.handle(input);
            }
            if Instant::now() >= next_tick {
                self.handle(Input::Tick { now_ms: wall_ms() });
                next_tick = Instant::now() + Duration::from_millis(5);
            }
        }
    }

    fn snapshotted(&mut self, s: Snapshotted) -> Input {
        match s.file {
            Ok(file) => {
                if let Some(f) = file {
                    self.files.entry(s.id).or_default().push(f);
                }
                Input::Ack {
                    id: s.id,
                    task: s.task,
                    bytes: 0,
                    alignment_ms: 0,
                }
            }
            Err(e) => Input::Decline {
                id: s.id,
                task: s.task,
                reason: e.to_string(),
            },
        }
    }

    fn handle(&mut self, input: Input) {
        let mut queue = std::collections::VecDeque::from(self.coordinator.handle(input));
        while let Some(cmd) = queue.pop_front() {
            match cmd {
                Command::Trigger { id, .. } => self.shared.trigger.store(id, Ordering::Release),
                Command::Persist { id } => {
                    let meta = Metadata {
                        id,
                        // Savepoints are not asked for locally yet.
                        savepoint: false,
                        triggered_ms: wall_ms(),
                        topology: self.desc.name.to_string(),
                        max_parallelism: self.desc.settings.max_parallelism,
                        states: self.files.remove(&id).unwrap_or_default(),
                    };
                    let result = self
                        .shared
                        .store
                        .commit(&meta)
                        .map_err(|e| StorageFailure::from(&e));
                    queue.extend(self.coordinator.handle(Input::Persisted {
                        id,
                        now_ms: wall_ms(),
                        result,
                    }));
                }
                Command::Complete(done) => {
                    if let Ok(mut c) = self.completed.lock() {
                        c.push(done);
                    }
                }
                Command::Abort { id, reason } => {
                    self.files.remove(&id);
                    eprintln!("gale: checkpoint {id} aborted: {reason:?}");
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
