//! Counters every task reports into, read by the progress display and the run summary.

use crate::topology::TopologyDesc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Per-component counters.
#[derive(Debug, Default)]
pub struct ComponentMetrics {
    /// Tuples emitted.
    pub emitted: AtomicU64,
    /// Tuples executed (bolts).
    pub executed: AtomicU64,
    /// Tuples whose `execute` returned an error.
    pub failed: AtomicU64,
}

/// The counters of a running topology.
#[derive(Debug)]
pub struct Metrics {
    /// By component id.
    pub components: Vec<ComponentMetrics>,
    /// By chain id: the deepest any executor's input queue was seen, in batches.
    pub max_queue_depth: Vec<AtomicU64>,
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
        }
    }

    /// Adds a task's local counts.
    pub fn add(&self, component: usize, emitted: u64, executed: u64, failed: u64) {
        let c = &self.components[component];
        if emitted > 0 {
            c.emitted.fetch_add(emitted, Relaxed);
        }
        if executed > 0 {
            c.executed.fetch_add(executed, Relaxed);
        }
        if failed > 0 {
            c.failed.fetch_add(failed, Relaxed);
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
