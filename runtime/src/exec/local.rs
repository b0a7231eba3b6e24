//! Local mode: every task of the topology in this process, one thread per executor, queues
//! in memory. It is the same plan and the same executors a worker runs, with an assignment
//! that puts every task in one worker.

use super::metrics::Metrics;
use super::spout_executor;
use super::wiring::{Registry, Wiring};
use crate::topology::{ChainSpec, Kind, Topology};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How to run a topology locally.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Stop the spouts after this long (then drain). `None`: run until the spouts are done
    /// or `stop` is set.
    pub duration: Option<Duration>,
    /// Set to stop the spouts from outside (Ctrl-C); the topology then drains and ends.
    pub stop: Option<Arc<AtomicBool>>,
    /// Called about every 500 ms with the live counters (the progress display).
    pub progress: Option<fn(&Progress<'_>)>,
}

/// A live view of a running topology, for the progress display.
#[derive(Debug)]
pub struct Progress<'a> {
    /// The topology.
    pub topology: &'a Topology,
    /// Time since start.
    pub elapsed: Duration,
    /// Live counters.
    pub metrics: &'a Metrics,
}

/// The counts of one component at the end of a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComponentSummary {
    /// Component name.
    pub name: &'static str,
    /// Spout or bolt.
    pub kind: Kind,
    /// Its tasks.
    pub tasks: u32,
    /// Tuples emitted.
    pub emitted: u64,
    /// Tuples executed.
    pub executed: u64,
    /// Tuples whose execution failed.
    pub failed: u64,
}

/// What a finished local run reports.
#[derive(Debug, Clone)]
pub struct Summary {
    /// The topology's name.
    pub topology: &'static str,
    /// Wall time from start to the end of the last task.
    pub elapsed: Duration,
    /// Per component, in declaration order.
    pub components: Vec<ComponentSummary>,
    /// Per fused chain: the deepest its input queue got, in batches.
    pub max_queue_depth: Vec<u64>,
}

/// A local run that could not complete.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// An executor thread panicked (its message was printed to stderr).
    #[error("executor `{thread}` panicked: {message}")]
    ExecutorPanicked {
        /// The executor's thread name (`component-index`).
        thread: String,
        /// The panic message.
        message: String,
    },
    /// The generated code registered no factory for a chain (a codegen bug).
    #[error("chain {0} has no factory")]
    MissingChain(usize),
    /// The OS refused to start a thread.
    #[error("could not start an executor thread: {0}")]
    Spawn(#[from] std::io::Error),
}

/// Runs every task of `topology` in this process until its spouts are done (or it is
/// stopped) and everything has drained.
pub fn run_local(topology: Topology, options: RunOptions) -> Result<Summary, RunError> {
    let desc = topology.desc;
    let metrics = Arc::new(Metrics::new(desc));
    let stop = options.stop.clone().unwrap_or_default();
    let mut registry = Registry::default();
    for (i, spec) in topology.chains.iter().enumerate() {
        match spec {
            Some(ChainSpec::Bolt(b)) => b.make_inboxes(desc, &mut registry, i),
            Some(ChainSpec::Spout(_)) => {}
            None => return Err(RunError::MissingChain(i)),
        }
    }
    let base = Wiring::base(desc, Arc::new(registry), metrics.clone(), stop.clone());
    let start = Instant::now();
    let mut handles: Vec<JoinHandle<()>> = Vec::new();
    for (i, spec) in topology.chains.iter().enumerate() {
        let chain = &desc.chains[i];
        let head = desc.components[chain.components[0]].name;
        for e in 0..chain.parallelism {
            let w = base.for_task(0);
            let name = format!("{head}-{e}");
            let h = match spec {
                Some(ChainSpec::Spout(f)) => {
                    let f = f.clone();
                    std::thread::Builder::new()
                        .name(name)
                        .spawn(move || spout_executor::run(&f, &w, i, e))?
                }
                Some(ChainSpec::Bolt(b)) => {
                    let b = b.clone();
                    std::thread::Builder::new()
                        .name(name)
                        .spawn(move || b.run_executor(&w, i, e))?
                }
                None => return Err(RunError::MissingChain(i)),
            };
            handles.push(h);
        }
    }
    drop(base);
    let mut last_progress = Instant::now();
    loop {
        if let Some(bad) = handles.iter().position(|h| h.is_finished()) {
            // Collect finished threads; a panic ends the run with an error.
            let h = handles.swap_remove(bad);
            let thread = h.thread().name().unwrap_or("executor").to_string();
            if let Err(payload) = h.join() {
                stop.store(true, Ordering::Relaxed);
                return Err(RunError::ExecutorPanicked {
                    thread,
                    message: panic_message(&payload),
                });
            }
            continue;
        }
        if handles.is_empty() {
            break;
        }
        if let Some(d) = options.duration
            && start.elapsed() >= d
        {
            stop.store(true, Ordering::Relaxed);
        }
        if let Some(show) = options.progress
            && last_progress.elapsed() >= Duration::from_millis(500)
        {
            show(&Progress {
                topology: &topology,
                elapsed: start.elapsed(),
                metrics: &metrics,
            });
            last_progress = Instant::now();
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let elapsed = start.elapsed();
    let snap = metrics.snapshot();
    Ok(Summary {
        topology: desc.name,
        elapsed,
        components: desc
            .components
            .iter()
            .zip(snap)
            .map(|(c, (emitted, executed, failed))| ComponentSummary {
                name: c.name,
                kind: c.kind,
                tasks: c.tasks,
                emitted,
                executed,
                failed,
            })
            .collect(),
        max_queue_depth: metrics
            .max_queue_depth
            .iter()
            .map(|d| d.load(Ordering::Relaxed))
            .collect(),
    })
}

fn panic_message(payload: &Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "(no message)".to_string()
    }
}

impl Summary {
    /// The summary for one component, by name.
    pub fn component(&self, name: &str) -> Option<&ComponentSummary> {
        self.components.iter().find(|c| c.name == name)
    }

    /// A human-readable table: per component, tuples emitted and executed and throughput.
    pub fn render(&self) -> String {
        let secs = self.elapsed.as_secs_f64().max(1e-9);
        let mut s = format!(
            "topology `{}` finished in {:.3} s\n{:<16} {:>5} {:>5} {:>13} {:>13} {:>8} {:>14}\n",
            self.topology,
            secs,
            "component",
            "kind",
            "tasks",
            "emitted",
            "executed",
            "failed",
            "tuples/s"
        );
        for c in &self.components {
            let (kind, work) = match c.kind {
                Kind::Spout => ("spout", c.emitted),
                Kind::Bolt => ("bolt", c.executed),
            };
            s.push_str(&format!(
                "{:<16} {:>5} {:>5} {:>13} {:>13} {:>8} {:>14.0}\n",
                c.name,
                kind,
                c.tasks,
                c.emitted,
                if c.kind == Kind::Spout {
                    "-".to_string()
                } else {
                    c.executed.to_string()
                },
                c.failed,
                work as f64 / secs
            ));
        }
        s
    }
}
