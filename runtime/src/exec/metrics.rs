//! Counters every task reports into, read by the progress display and the run summary.

use super::health::ExecutorProgress;
use crate::ack::Histogram;
use crate::ack::spout_tracker::SpoutCounts;
use crate::topology::TopologyDesc;
use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering::Relaxed};

/// The newest errors kept per component.
pub const ERRORS_KEPT: usize = 20;

/// One task's counters (its component's counters are their sums).
#[derive(Debug)]
pub struct TaskMetrics {
    /// Tuples emitted.
    pub emitted: AtomicU64,
    /// Tuples executed (bolts).
    pub executed: AtomicU64,
    /// Bolts: inputs acked. Spouts: tuple trees completed.
    pub acked: AtomicU64,
    /// Bolts: tuples failed. Spouts: tuple trees failed.
    pub failed: AtomicU64,
    /// Nanoseconds the task spent blocked sending downstream, its consumers' queues full
    /// (backpressure).
    pub blocked_ns: AtomicU64,
    /// Event time: the watermark its head operator was last given (milliseconds),
    /// `i64::MIN` while it has none.
    pub watermark_ms: AtomicI64,
}

impl TaskMetrics {
    /// Zeroed counters, no watermark.
    pub const fn new() -> Self {
        TaskMetrics {
            emitted: AtomicU64::new(0),
            executed: AtomicU64::new(0),
            acked: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            blocked_ns: AtomicU64::new(0),
            watermark_ms: AtomicI64::new(i64::MIN),
        }
    }
}

impl Default for TaskMetrics {
    fn default() -> Self {
        TaskMetrics::new()
    }
}

/// An error a task reported (a failed tuple's error or panic message).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskError {
    /// Milliseconds since the Unix epoch.
    pub time_ms: u64,
    /// The task's id.
    pub task: u32,
    /// What went wrong.
    pub message: String,
    /// How many errors the component reported before this one.
    pub seq: u64,
    /// The worker the task runs in (on a cluster, as nimbus saw it).
    pub worker: Option<u32>,
}

/// What one task's counters read at one moment.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TaskReading {
    /// Its index within its component.
    pub index: u32,
    /// Its task id.
    pub task: u32,
    /// The worker it runs in (on a cluster).
    pub worker: Option<u32>,
    /// Tuples emitted.
    pub emitted: u64,
    /// Tuples executed.
    pub executed: u64,
    /// Inputs (bolts) or trees (spouts) acked.
    pub acked: u64,
    /// Inputs (bolts) or trees (spouts) failed.
    pub failed: u64,
    /// Batches waiting in its executor's input queue.
    pub queue_depth: u64,
    /// Nanoseconds blocked sending downstream, in all.
    pub blocked_ns: u64,
    /// The watermark it was last given, if any.
    pub watermark_ms: Option<i64>,
}

/// What one component's counters read at one moment: the sums, its tasks, its errors.
#[derive(Debug, Clone, Default)]
pub struct ComponentReading {
    /// Tuples emitted.
    pub emitted: u64,
    /// Tuples executed.
    pub executed: u64,
    /// Inputs (bolts) or trees (spouts) acked.
    pub acked: u64,
    /// Inputs (bolts) or trees (spouts) failed.
    pub failed: u64,
    /// Windows: tuples sent to the `late` stream.
    pub late: u64,
    /// Spouts: the emit-to-complete latency of tuple trees (microseconds).
    pub latency: Histogram,
    /// The tasks read (on a worker: the ones it runs).
    pub tasks: Vec<TaskReading>,
    /// Its newest errors, oldest first.
    pub errors: Vec<TaskError>,
}

impl ComponentReading {
    /// Adds `other`'s counters, latencies, tasks and errors to this one: the readings of
    /// another worker (`current`: its queue depths, workers and watermarks are live), or
    /// the last reading of a process that is gone (not `current`: only its counts stay).
    /// A task in both has its counters summed.
    pub fn absorb(&mut self, other: &ComponentReading, current: bool) {
        self.emitted += other.emitted;
        self.executed += other.executed;
        self.acked += other.acked;
        self.failed += other.failed;
        self.late += other.late;
        self.latency.merge(&other.latency);
        for t in &other.tasks {
            let mut t = t.clone();
            if !current {
                t.queue_depth = 0;
                t.worker = None;
                t.watermark_ms = None;
            }
            match self.tasks.iter_mut().find(|mine| mine.task == t.task) {
                Some(mine) => {
                    mine.emitted += t.emitted;
                    mine.executed += t.executed;
                    mine.acked += t.acked;
                    mine.failed += t.failed;
                    mine.blocked_ns += t.blocked_ns;
                    if current {
                        mine.queue_depth = t.queue_depth;
                        mine.worker = t.worker;
                        mine.watermark_ms = t.watermark_ms.or(mine.watermark_ms);
                    }
                }
                None => self.tasks.push(t),
            }
        }
        self.tasks.sort_by_key(|t| t.task);
        for e in &other.errors {
            if !self.errors.contains(e) {
                self.errors.push(e.clone());
            }
        }
        self.errors.sort_by_key(|e| e.time_ms);
        let extra = self.errors.len().saturating_sub(ERRORS_KEPT);
        self.errors.drain(..extra);
    }

    /// Batches waiting in its executors' input queues (the largest).
    pub fn queue_depth(&self) -> u64 {
        self.tasks.iter().map(|t| t.queue_depth).max().unwrap_or(0)
    }

    /// Nanoseconds its tasks spent blocked sending downstream, in all.
    pub fn blocked_ns(&self) -> u64 {
        self.tasks.iter().map(|t| t.blocked_ns).sum()
    }

    /// The lowest watermark of its tasks that have one: the event time the component has
    /// reached (`None` until one of its tasks has a watermark).
    pub fn watermark_ms(&self) -> Option<i64> {
        self.tasks.iter().filter_map(|t| t.watermark_ms).min()
    }
}

/// Per-component counters.
#[derive(Debug, Default)]
pub struct ComponentMetrics {
    /// Tuples emitted.
    pub emitted: AtomicU64,
    /// Tuples executed (bolts).
    pub executed: AtomicU64,
    /// Bolts: tuples failed (an error, a panic or an explicit `fail`). Spouts: tuple trees
    /// failed, timeouts included.
    pub failed: AtomicU64,
    /// Bolts: inputs acked. Spouts: tuple trees completed.
    pub acked: AtomicU64,
    /// Spouts: tuple trees timed out.
    pub timed_out: AtomicU64,
    /// Spouts: tuples replayed by the retry policy.
    pub replayed: AtomicU64,
    /// Spouts: tuples sent to the `failed` stream after their last attempt.
    pub dead_lettered: AtomicU64,
    /// Spouts: the most tuples one task had in flight at once.
    pub max_in_flight: AtomicU64,
    /// Spouts: emit-to-complete latency of tuple trees, microseconds.
    pub latency: Mutex<Histogram>,
    /// Windows: tuples sent to the `late` stream (later than the allowed lateness), whether
    /// or not an edge reads that stream.
    pub late: AtomicU64,
    /// The component is a window, with a `late` stream (set when its tasks open).
    pub has_late_stream: AtomicBool,
    /// By task index within the component.
    pub tasks: Box<[TaskMetrics]>,
    /// Its newest errors, oldest first (at most [`ERRORS_KEPT`]).
    pub errors: Mutex<VecDeque<TaskError>>,
    /// Errors reported, ever (the next error's `seq`).
    pub error_count: AtomicU64,
}

impl ComponentMetrics {
    /// Task `index`'s counters; a counter no one reads for a task the plan does not have.
    fn task(&self, index: u32) -> &TaskMetrics {
        static NONE: TaskMetrics = TaskMetrics::new();
        self.tasks.get(index as usize).unwrap_or(&NONE)
    }

    /// Its newest errors, oldest first.
    pub fn recent_errors(&self) -> Vec<TaskError> {
        let errors = self.errors.lock().unwrap_or_else(|p| p.into_inner());
        errors.iter().cloned().collect()
    }
}

/// The acker tasks' counters.
#[derive(Debug, Default)]
pub struct AckerMetrics {
    /// Trees still pending in an acker's map when it stopped (0 unless something leaked).
    pub pending_at_end: AtomicU64,
    /// Trees an acker dropped because they were not completed in time.
    pub expired: AtomicU64,
    /// Trees pending right now (updated as the ackers run).
    pub pending: AtomicU64,
}

/// The counters of a running topology.
#[derive(Debug)]
pub struct Metrics {
    /// By component id.
    pub components: Vec<ComponentMetrics>,
    /// By chain id: the most batches seen waiting in any executor's input queue.
    pub max_queue_depth: Vec<AtomicU64>,
    /// The ackers, together.
    pub ackers: AckerMetrics,
    /// By chain id, then executor index: each executor's progress (for hang detection).
    /// The acker executors come last, as chain `chains.len()`.
    pub progress: Vec<Vec<ExecutorProgress>>,
}

impl Metrics {
    /// Zeroed counters for a topology.
    pub fn new(desc: &TopologyDesc) -> Self {
        Metrics {
            components: desc
                .components
                .iter()
                .map(|c| ComponentMetrics {
                    tasks: (0..c.tasks).map(|_| TaskMetrics::default()).collect(),
                    ..ComponentMetrics::default()
                })
                .collect(),
            max_queue_depth: desc.chains.iter().map(|_| AtomicU64::new(0)).collect(),
            ackers: AckerMetrics::default(),
            progress: desc
                .chains
                .iter()
                .map(|c| c.parallelism)
                .chain([super::wiring::ackers(desc)])
                .map(|n| (0..n).map(|_| ExecutorProgress::default()).collect())
                .collect(),
        }
    }

    /// The progress of executor `executor` of chain `chain` (`chain == chains.len()`: an
    /// acker); for an executor the plan does not have, a counter no one reads.
    pub fn executor_progress(&self, chain: usize, executor: u32) -> &ExecutorProgress {
        static NONE: ExecutorProgress = ExecutorProgress::new();
        self.progress
            .get(chain)
            .and_then(|c| c.get(executor as usize))
            .unwrap_or(&NONE)
    }

    /// Adds the local counts of task `task` (its index within the component).
    pub fn add(&self, component: usize, task: u32, emitted: u64, executed: u64, failed: u64) {
        let c = &self.components[component];
        add(&c.emitted, emitted);
        add(&c.executed, executed);
        add(&c.failed, failed);
        let t = c.task(task);
        add(&t.emitted, emitted);
        add(&t.executed, executed);
        add(&t.failed, failed);
    }

    /// Adds a bolt task's acked inputs.
    pub fn add_acked(&self, component: usize, task: u32, acked: u64) {
        let c = &self.components[component];
        add(&c.acked, acked);
        add(&c.task(task).acked, acked);
    }

    /// Adds time task `task` of `component` spent blocked sending downstream.
    pub fn add_blocked(&self, component: usize, task: u32, ns: u64) {
        add(&self.components[component].task(task).blocked_ns, ns);
    }

    /// Task `task` of `component` was given the watermark `ms`.
    pub fn set_watermark(&self, component: usize, task: u32, ms: i64) {
        self.components[component]
            .task(task)
            .watermark_ms
            .store(ms, Relaxed);
    }

    /// Records an error of task `task_id` (its id) of `component`, at `time_ms` (wall
    /// clock); the oldest kept is dropped past [`ERRORS_KEPT`].
    pub fn error(&self, component: usize, task_id: u32, time_ms: u64, message: String) {
        let c = &self.components[component];
        let seq = c.error_count.fetch_add(1, Relaxed);
        let mut errors = c.errors.lock().unwrap_or_else(|p| p.into_inner());
        if errors.len() >= ERRORS_KEPT {
            errors.pop_front();
        }
        errors.push_back(TaskError {
            time_ms,
            task: task_id,
            message,
            seq,
            worker: None,
        });
    }

    /// A window task of `component` opened: the component has a `late` stream.
    pub fn has_late_stream(&self, component: usize) {
        self.components[component]
            .has_late_stream
            .store(true, Relaxed);
    }

    /// Adds a window task's tuples sent to its `late` stream.
    pub fn add_late(&self, component: usize, late: u64) {
        add(&self.components[component].late, late);
    }

    /// Adds the acking counters of spout task `task` (its index within the component).
    pub fn add_spout(&self, component: usize, task: u32, s: &SpoutCounts) {
        let c = &self.components[component];
        add(&c.acked, s.acked);
        add(&c.failed, s.failed);
        let t = c.task(task);
        add(&t.acked, s.acked);
        add(&t.failed, s.failed);
        add(&c.timed_out, s.timed_out);
        add(&c.replayed, s.replayed);
        add(&c.dead_lettered, s.dead_lettered);
        c.max_in_flight.fetch_max(s.max_in_flight, Relaxed);
        if s.latency.count() > 0 {
            c.latency
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .merge(&s.latency);
        }
    }

    /// Reads every component's counters, with the tasks of the executors `runs_here`
    /// says this process runs (`(chain, executor)`).
    pub fn read(
        &self,
        desc: &TopologyDesc,
        runs_here: impl Fn(usize, u32) -> bool,
    ) -> Vec<ComponentReading> {
        desc.components
            .iter()
            .zip(&self.components)
            .map(|(d, m)| {
                let chain = &desc.chains[d.chain];
                let mut tasks = Vec::new();
                for e in 0..chain.parallelism {
                    if !runs_here(d.chain, e) {
                        continue;
                    }
                    let queue_depth = self.executor_progress(d.chain, e).sample().pending;
                    for index in super::executor_tasks(chain.tasks, chain.parallelism, e) {
                        let t = m.task(index);
                        let wm = t.watermark_ms.load(Relaxed);
                        tasks.push(TaskReading {
                            index,
                            task: d.first_task + index,
                            worker: None,
                            emitted: t.emitted.load(Relaxed),
                            executed: t.executed.load(Relaxed),
                            acked: t.acked.load(Relaxed),
                            failed: t.failed.load(Relaxed),
                            queue_depth,
                            blocked_ns: t.blocked_ns.load(Relaxed),
                            watermark_ms: (wm > i64::MIN).then_some(wm),
                        });
                    }
                }
                ComponentReading {
                    emitted: m.emitted.load(Relaxed),
                    executed: m.executed.load(Relaxed),
                    acked: m.acked.load(Relaxed),
                    failed: m.failed.load(Relaxed),
                    late: m.late.load(Relaxed),
                    latency: m.latency.lock().unwrap_or_else(|p| p.into_inner()).clone(),
                    tasks,
                    errors: m.recent_errors(),
                }
            })
            .collect()
    }

    /// Records a queue depth seen by an executor of `chain`.
    pub fn saw_queue_depth(&self, chain: usize, depth: u64) {
        self.max_queue_depth[chain].fetch_max(depth, Relaxed);
    }

    /// A snapshot of every component's counters: (emitted, executed, failed).
    pub fn snapshot(&self) -> Vec<(u64, u64, u64)> {
        self.components
            .iter()
            .map(|c| {
                (
                    c.emitted.load(Relaxed),
                    c.executed.load(Relaxed),
                    c.failed.load(Relaxed),
                )
            })
            .collect()
    }
}

fn add(counter: &AtomicU64, n: u64) {
    if n > 0 {
        counter.fetch_add(n, Relaxed);
    }
}

/// Where a task records its errors: the newest of them are kept in its component's
/// metrics for the REST API, the web UI and the heartbeats. A task failing every tuple
/// records at most one error per [`ErrorSink::EVERY`] after its first ten.
#[derive(Debug)]
pub struct ErrorSink {
    metrics: std::sync::Arc<Metrics>,
    component: usize,
    task: u32,
    recorded: u64,
    last: Option<std::time::Instant>,
}

impl ErrorSink {
    /// The shortest time between two recorded errors of a task, after its first ten.
    pub const EVERY: std::time::Duration = std::time::Duration::from_millis(100);

    /// The sink of task `task` (its id) of `component`.
    pub fn new(metrics: std::sync::Arc<Metrics>, component: usize, task: u32) -> Self {
        ErrorSink {
            metrics,
            component,
            task,
            recorded: 0,
            last: None,
        }
    }

    /// Records `message` unless the task recorded one less than [`ErrorSink::EVERY`] ago
    /// (after its first ten); true when it was recorded.
    pub fn report(&mut self, message: &str) -> bool {
        let now = std::time::Instant::now();
        if self.recorded >= 10
            && self
                .last
                .is_some_and(|l| now.duration_since(l) < Self::EVERY)
        {
            return false;
        }
        self.recorded += 1;
        self.last = Some(now);
        let wall_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        self.metrics
            .error(self.component, self.task, wall_ms, message.to_string());
        true
    }
}
