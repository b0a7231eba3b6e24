//! Counters every task reports into, read by the progress display and the run summary.

use super::health::ExecutorProgress;
use crate::ack::Histogram;
use crate::ack::spout_tracker::SpoutCounts;
use crate::topology::TopologyDesc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};

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
                .map(|_| ComponentMetrics::default())
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

    /// Adds a task's local counts.
    pub fn add(&self, component: usize, emitted: u64, executed: u64, failed: u64) {
        let c = &self.components[component];
        add(&c.emitted, emitted);
        add(&c.executed, executed);
        add(&c.failed, failed);
    }

    /// Adds a bolt task's acked inputs.
    pub fn add_acked(&self, component: usize, acked: u64) {
        add(&self.components[component].acked, acked);
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

    /// Adds a spout task's acking counters.
    pub fn add_spout(&self, component: usize, s: &SpoutCounts) {
        let c = &self.components[component];
        add(&c.acked, s.acked);
        add(&c.failed, s.failed);
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
