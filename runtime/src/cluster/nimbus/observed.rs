//! What nimbus has seen of its topologies' tasks, from the workers' heartbeats: the
//! counters of every component and task summed over the workers, kept across worker
//! restarts and rebalances (a new worker process counts from zero: what the one before it
//! counted is carried), the newest errors with their worker, and each topology's
//! [`History`]. Pure: no clock or I/O of its own. In memory only: a restarted nimbus
//! counts from what the workers running then report.

use crate::cluster::proto::ComponentStats;
use crate::exec::metrics::{ComponentReading, TaskError, TaskReading};
use crate::web::history::{History, Rates};
use std::collections::{BTreeMap, HashMap};

/// One worker's last heartbeat.
#[derive(Debug, Clone, Default)]
struct WorkerSeen {
    /// The process that sent it (its random incarnation number).
    process: u64,
    /// Its earlier processes, whose counts were carried: a late beat of one is ignored.
    retired: Vec<u64>,
    /// By component name.
    readings: BTreeMap<String, ComponentReading>,
}

/// One topology's observations.
#[derive(Debug, Clone, Default)]
struct TopologySeen {
    /// By worker index: its current process's last beat.
    workers: BTreeMap<u32, WorkerSeen>,
    /// By component name: what processes that are gone counted.
    carried: BTreeMap<String, ComponentReading>,
    history: History,
    /// The components of the history's samples, in their order.
    names: Vec<String>,
}

impl TopologySeen {
    /// Moves what `seen` counted into `carried`.
    fn carry(&mut self, seen: WorkerSeen) {
        for (name, r) in seen.readings {
            self.carried.entry(name).or_default().absorb(&r, false);
        }
    }
}

/// Every topology's observations.
#[derive(Debug, Default)]
pub struct Observed {
    topologies: HashMap<String, TopologySeen>,
}

/// A component's reading from a heartbeat's stats, its tasks and errors marked as worker
/// `worker`'s.
pub fn reading(s: &ComponentStats, worker: u32) -> ComponentReading {
    let latency = s.latency.as_ref().map_or_else(Default::default, |l| {
        crate::ack::Histogram::from_buckets(
            l.buckets.iter().copied().zip(l.counts.iter().copied()),
            l.sum_us,
        )
    });
    let mut r = ComponentReading {
        emitted: s.emitted,
        executed: s.executed,
        acked: s.acked,
        failed: s.failed,
        late: s.late,
        latency,
        tasks: s
            .tasks
            .iter()
            .map(|t| TaskReading {
                index: 0,
                task: t.task,
                worker: Some(worker),
                emitted: t.emitted,
                executed: t.executed,
                acked: t.acked,
                failed: t.failed,
                queue_depth: t.queue_depth,
                blocked_ns: t.blocked_us.saturating_mul(1_000),
                watermark_ms: None,
            })
            .collect(),
        errors: s
            .errors
            .iter()
            .map(|e| TaskError {
                time_ms: e.time_ms,
                task: e.task,
                message: e.message.clone(),
                seq: e.seq,
                worker: Some(worker),
            })
            .collect(),
    };
    // A heartbeat carries the component's watermark, not each task's: it goes on the
    // first task, so that the component's (their lowest) is it.
    if s.has_watermark
        && let Some(t) = r.tasks.first_mut()
    {
        t.watermark_ms = Some(s.watermark_ms);
    }
    r
}

impl Observed {
    /// Nothing seen yet.
    pub fn new() -> Self {
        Observed::default()
    }

    /// A heartbeat of worker `worker` (its process `process`, a number that process chose
    /// as it started) of `topology`: its counters since that process started. A new
    /// process's first beat carries what the previous one counted.
    pub fn beat(&mut self, topology: &str, worker: u32, process: u64, stats: &[ComponentStats]) {
        let t = self.topologies.entry(topology.to_string()).or_default();
        let mut retired = Vec::new();
        if let Some(mut old) = t.workers.remove(&worker) {
            if old.retired.contains(&process) {
                t.workers.insert(worker, old);
                return;
            }
            retired = std::mem::take(&mut old.retired);
            if old.process != process {
                retired.push(old.process);
                t.carry(old);
            }
        }
        t.workers.insert(
            worker,
            WorkerSeen {
                process,
                retired,
                readings: stats
                    .iter()
                    .map(|s| (s.component.clone(), reading(s, worker)))
                    .collect(),
            },
        );
    }

    /// Keeps only the topologies `keep` says exist, and in each only the workers of its
    /// assignment (`workers(topology)`): what the others counted is carried.
    pub fn retain(&mut self, keep: impl Fn(&str) -> Option<Vec<u32>>) {
        self.topologies.retain(|id, t| {
            let Some(live) = keep(id) else {
                return false;
            };
            let gone: Vec<u32> = t
                .workers
                .keys()
                .filter(|w| !live.contains(w))
                .copied()
                .collect();
            for w in gone {
                if let Some(seen) = t.workers.remove(&w) {
                    t.carry(seen);
                }
            }
            true
        });
    }

    /// The readings of `components` (plan order) of `topology`: carried plus every
    /// worker's.
    pub fn readings(&self, topology: &str, components: &[String]) -> Vec<ComponentReading> {
        let Some(t) = self.topologies.get(topology) else {
            return vec![ComponentReading::default(); components.len()];
        };
        components
            .iter()
            .map(|name| {
                let mut r = t.carried.get(name).cloned().unwrap_or_default();
                for w in t.workers.values() {
                    if let Some(now) = w.readings.get(name) {
                        r.absorb(now, true);
                    }
                }
                r
            })
            .collect()
    }

    /// Records `topology`'s readings at `time_ms` in its history.
    pub fn sample(&mut self, topology: &str, time_ms: u64, components: &[String], spout: &[bool]) {
        let readings = self.readings(topology, components);
        let t = self.topologies.entry(topology.to_string()).or_default();
        if t.names != components {
            // A plan of other components (a new topology under a reused id): a new past.
            t.history = History::new();
            t.names = components.to_vec();
        }
        t.history.record(time_ms, &readings, spout);
    }

    /// Component `component`'s rates over the last `window_ms`.
    pub fn rates(&self, topology: &str, component: &str, window_ms: u64) -> Rates {
        self.topologies
            .get(topology)
            .and_then(|t| {
                let i = t.names.iter().position(|n| n == component)?;
                Some(t.history.rates(i, window_ms))
            })
            .unwrap_or_default()
    }

    /// `topology`'s history (empty when nothing was seen).
    pub fn history(&self, topology: &str) -> History {
        self.topologies
            .get(topology)
            .map(|t| t.history.clone())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::proto::{ErrorReport, TaskStats};

    fn stats(component: &str, executed: u64, task: u32) -> ComponentStats {
        ComponentStats {
            component: component.into(),
            executed,
            tasks: vec![TaskStats {
                task,
                executed,
                queue_depth: 3,
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    fn names() -> Vec<String> {
        vec!["count".to_string()]
    }

    #[test]
    fn counters_survive_a_worker_restart_and_a_rebalance() {
        let mut o = Observed::new();
        o.beat("t", 0, 100, &[stats("count", 40, 0)]);
        o.beat("t", 1, 200, &[stats("count", 60, 1)]);
        assert_eq!(o.readings("t", &names())[0].executed, 100);
        // Worker 0 restarts: its new process counts from zero.
        o.beat("t", 0, 101, &[stats("count", 5, 0)]);
        let r = &o.readings("t", &names())[0];
        assert_eq!(r.executed, 105);
        let t0 = r.tasks.iter().find(|t| t.task == 0).expect("task 0");
        assert_eq!(t0.executed, 45);
        assert_eq!(t0.queue_depth, 3, "the live process's queue depth");
        assert_eq!(t0.worker, Some(0));
        // A rebalance down to one worker: worker 1 is gone, task 1 moves to worker 0.
        o.retain(|_| Some(vec![0]));
        let mut both = stats("count", 7, 0);
        both.tasks.push(TaskStats {
            task: 1,
            ..Default::default()
        });
        o.beat("t", 0, 102, &[both]);
        let r = &o.readings("t", &names())[0];
        assert_eq!(r.executed, 112);
        let t1 = r.tasks.iter().find(|t| t.task == 1).expect("task 1");
        assert_eq!((t1.executed, t1.worker), (60, Some(0)));
        // The same process beating again replaces its counts.
        o.beat("t", 0, 102, &[stats("count", 9, 0)]);
        assert_eq!(o.readings("t", &names())[0].executed, 114);
        // A late beat of a process that was replaced counts nothing again.
        o.beat("t", 0, 101, &[stats("count", 6, 0)]);
        o.beat("t", 0, 102, &[stats("count", 9, 0)]);
        assert_eq!(o.readings("t", &names())[0].executed, 114);
        // A killed topology is forgotten.
        o.retain(|_| None);
        assert_eq!(o.readings("t", &names())[0].executed, 0);
    }

    #[test]
    fn errors_are_kept_once_with_their_worker() {
        let mut o = Observed::new();
        let mut s = stats("count", 1, 0);
        s.errors = vec![ErrorReport {
            time_ms: 5,
            task: 0,
            message: "boom".into(),
            seq: 0,
        }];
        o.beat("t", 2, 1, std::slice::from_ref(&s));
        o.beat("t", 2, 1, std::slice::from_ref(&s));
        // The process restarts: its errors are carried, not doubled.
        o.beat("t", 2, 9, &[stats("count", 0, 0)]);
        let errors = &o.readings("t", &names())[0].errors;
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].worker, Some(2));
        assert_eq!(errors[0].message, "boom");
    }
}
