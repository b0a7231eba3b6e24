//! Local mode: every task of the topology in this process, one thread per executor, queues
//! in memory. It is the same plan and the same executors a worker runs, with an assignment
//! that puts every task in one worker.

use super::checkpointing::{self, TaskFailure};
use super::metrics::Metrics;
use super::placement::Placement;
use super::wiring::{self, Registry, Wiring};
use super::{acker_executor, spout_executor};
use crate::ack::{AckerMsg, Clock, Reply};
use crate::checkpoint::{CheckpointStore, Decision, LocalDir, Metadata, Restarts};
use crate::state::wall_ms;
use crate::topology::{ChainSpec, Kind, Topology, TopologyDesc};
use crate::transport::remote::Lane;
use crate::transport::{Message, queue, unbounded};
use crossbeam_channel::Receiver;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
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
    /// The clock message timeouts and complete latencies are measured with (default: the
    /// system clock; tests pass [`Clock::manual`] to control timeouts).
    pub clock: Option<Clock>,
    /// Where an `exactly_once` topology writes its checkpoints (`run --checkpoint-dir`);
    /// `None`: it takes none.
    pub checkpoint_dir: Option<std::path::PathBuf>,
    /// Start from the latest complete checkpoint in `checkpoint_dir` (`run --restore`),
    /// after a crash: sources rewind to it and sinks commit what it pre-committed.
    pub restore: bool,
    /// Start from the savepoint in this directory (`run --from-savepoint DIR`); a restart
    /// before this run's first checkpoint starts from it again.
    pub from_savepoint: Option<std::path::PathBuf>,
    /// Where the running attempt's counters are published (`run --ui`): each attempt (a
    /// restart from a checkpoint is a new one) puts its [`Metrics`] here as it starts.
    pub live: Option<LiveMetrics>,
}

/// The counters of the running attempt of a local run, as they are published.
pub type LiveMetrics = Arc<Mutex<Option<Arc<Metrics>>>>;

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
    /// Bolts: tuples failed (error, panic or explicit `fail`). Spouts: tuple trees failed,
    /// timeouts included.
    pub failed: u64,
    /// Bolts: inputs acked. Spouts: tuple trees completed (acking on).
    pub acked: u64,
    /// Spouts: tuple trees that timed out.
    pub timed_out: u64,
    /// Spouts: tuples replayed by the retry policy.
    pub replayed: u64,
    /// Spouts: tuples sent to the `failed` stream after their last attempt.
    pub dead_lettered: u64,
    /// Spouts: the most tuples one task had in flight at once.
    pub max_in_flight: u64,
    /// Spouts: median emit-to-complete latency.
    pub latency_p50: Option<Duration>,
    /// Spouts: 99th percentile emit-to-complete latency.
    pub latency_p99: Option<Duration>,
    /// Windows: the tuples sent to the `late` stream (later than the allowed lateness);
    /// `None` for a component without one.
    pub late: Option<u64>,
    /// Windows: an edge reads the `late` stream (if none does, its tuples are counted in
    /// `late` and go nowhere).
    pub late_read: bool,
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
    /// Per fused chain: the most batches seen waiting in its input queue.
    pub max_queue_depth: Vec<u64>,
    /// Tuple trees were tracked (`at_least_once` with ackers).
    pub tracking: bool,
    /// Trees left in the ackers' maps when they stopped (0 unless something leaked).
    pub acker_pending_at_end: u64,
    /// Trees the ackers dropped because they were not completed in time.
    pub acker_expired: u64,
    /// The checkpoints completed (`exactly_once` with a checkpoint directory), oldest
    /// first.
    pub checkpoints: Vec<crate::checkpoint::Completed>,
    /// The failures the run restarted after (`exactly_once`), in order.
    pub failures: Vec<TaskFailure>,
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
    /// An `exactly_once` run failed and its restart strategy does not restart it again.
    #[error("{failure}; not restarted after {restarts} restarts: {reason}")]
    Failed {
        /// The failure that stopped it.
        failure: TaskFailure,
        /// The restarts it had.
        restarts: u32,
        /// Why no more.
        reason: String,
    },
    /// A restart setting given at run time cannot be used.
    #[error(transparent)]
    Restart(crate::checkpoint::BadRestartSetting),
    /// The checkpoint directory could not be read.
    #[error("the checkpoints cannot be read: {0}")]
    Checkpoints(crate::checkpoint::CheckpointError),
}

/// Runs every task of `topology` in this process until its spouts are done (or it is
/// stopped) and everything has drained.
///
/// An `exactly_once` topology with a checkpoint directory takes checkpoints, and a task
/// that fails (a tuple that fails or panics) stops every task: the run restarts from the
/// last completed checkpoint, as its restart strategy allows, sources rewinding and
/// transactional sinks committing what that checkpoint pre-committed. The summary then
/// counts the last attempt, and lists the failures.
pub fn run_local(topology: Topology, options: RunOptions) -> Result<Summary, RunError> {
    let desc = topology.desc;
    let exactly_once = desc.settings.guarantee == crate::topology::Guarantee::ExactlyOnce;
    let stop = options.stop.clone().unwrap_or_default();
    let deadline = options.duration.map(|d| Instant::now() + d);
    let dir = match (&options.checkpoint_dir, exactly_once) {
        (Some(dir), true) => dir.clone(),
        _ => {
            let run = run_attempt(&topology, &options, &stop, deadline, None)?;
            return Ok(run.summary);
        }
    };
    let store = CheckpointStore::new(LocalDir::new(&dir));
    let completed = Arc::new(Mutex::new(Vec::new()));
    let strategy = desc
        .settings
        .restart
        .with_overrides(|k| crate::topology::config_value(desc, k).cloned())
        .map_err(RunError::Restart)?;
    let mut restarts = Restarts::new(strategy, wall_ms());
    let mut failures = Vec::new();
    let at = |dir: &std::path::Path, meta: Metadata| checkpointing::StartFrom {
        dir: dir.to_path_buf(),
        meta,
    };
    // The checkpoints already in the directory belong to earlier runs: a restart of this
    // one takes only its own (newer) ones, else what it started from.
    let floor = store
        .ids()
        .map_err(RunError::Checkpoints)?
        .last()
        .copied()
        .unwrap_or(0);
    // What a restart starts from when this run has no checkpoint yet.
    let origin = match &options.from_savepoint {
        Some(sp) => {
            let (root, meta) = savepoint_at(sp)?;
            tracing::info!(
                checkpoint = meta.id,
                "starting from savepoint {} in {}",
                meta.id,
                root.display()
            );
            Some(at(&root, meta))
        }
        None if options.restore => match latest_checkpoint(&store, 0)? {
            (Some(m), _) => Some(at(&dir, m)),
            (None, 0) => {
                tracing::warn!(
                    "no complete checkpoint in {} to restore: starting afresh",
                    dir.display()
                );
                None
            }
            // Committed output may be there: starting afresh would write it again.
            (None, skipped) => {
                return Err(RunError::Checkpoints(
                    crate::checkpoint::CheckpointError::NoneUsable {
                        dir: dir.display().to_string(),
                        skipped,
                    },
                ));
            }
        },
        None => None,
    };
    if let Some(o) = &origin {
        checkpointing::compatible(desc, &o.meta).map_err(RunError::Checkpoints)?;
    }
    let mut restore = origin.clone();
    loop {
        let (shared, driver) = checkpointing::local(desc, &dir, restore.take(), completed.clone());
        // Every task's state must be restorable before any task starts (a task that
        // found out alone would already have let its sink drop what it had pending).
        shared.check_restore().map_err(RunError::Checkpoints)?;
        let run = run_attempt(
            &topology,
            &options,
            &stop,
            deadline,
            Some((shared.clone(), driver)),
        )?;
        let Some(failure) = shared.failure() else {
            let mut s = run.summary;
            s.checkpoints =
                std::mem::take(&mut *completed.lock().unwrap_or_else(|p| p.into_inner()));
            s.failures = failures;
            return Ok(s);
        };
        failures.push(failure.clone());
        let count = restarts.count();
        let give_up = |reason: String| RunError::Failed {
            failure: failure.clone(),
            restarts: count,
            reason,
        };
        if !failure.retryable {
            return Err(give_up("a restart would fail the same way".into()));
        }
        if stop.load(Ordering::Relaxed) {
            return Err(give_up("the run was being stopped".into()));
        }
        match restarts.failed(wall_ms()) {
            Decision::GiveUp { reason } => return Err(give_up(reason)),
            Decision::Restart { delay_ms } => {
                std::thread::sleep(Duration::from_millis(delay_ms));
                restore = latest_checkpoint(&store, floor)?
                    .0
                    .map(|m| at(&dir, m))
                    .or_else(|| origin.clone());
                match &restore {
                    Some(r) => tracing::info!(
                        restart = restarts.count(),
                        checkpoint = r.meta.id,
                        "restart {}: restoring checkpoint {} (in {})",
                        restarts.count(),
                        r.meta.id,
                        r.dir.display()
                    ),
                    None => tracing::info!(
                        restart = restarts.count(),
                        "restart {}: no checkpoint completed yet, starting afresh",
                        restarts.count()
                    ),
                }
            }
        }
    }
}

/// The newest complete and whole checkpoint in `store` with an id above `floor`, saying
/// which newer ones it passed over and why (truncated, bit-flipped, never completed); and
/// how many of those had completed (were damaged: they may have had output committed).
fn latest_checkpoint(
    store: &CheckpointStore<LocalDir>,
    floor: u64,
) -> Result<(Option<Metadata>, usize), RunError> {
    let (latest, skipped) = store.latest_after(floor).map_err(RunError::Checkpoints)?;
    for s in &skipped {
        tracing::warn!(
            checkpoint = s.id,
            "skipping checkpoint {}: {}",
            s.id,
            s.error
        );
    }
    let damaged = skipped
        .iter()
        .filter(|s| !matches!(s.error, crate::checkpoint::CheckpointError::Incomplete(_)))
        .count();
    Ok((latest, damaged))
}

/// The savepoint `path` names: a directory `savepoint --dir` wrote (its newest complete
/// checkpoint), or one checkpoint's own directory (`.../chk-<id>`, as `savepoint`
/// prints it). Returns the store's root and the metadata.
fn savepoint_at(path: &std::path::Path) -> Result<(std::path::PathBuf, Metadata), RunError> {
    let own = path
        .file_name()
        .and_then(|n| n.to_str()?.strip_prefix("chk-")?.parse::<u64>().ok());
    if let (Some(id), Some(root)) = (own, path.parent()) {
        let meta = CheckpointStore::new(LocalDir::new(root))
            .verify(id)
            .map_err(RunError::Checkpoints)?;
        return Ok((root.to_path_buf(), meta));
    }
    let from = CheckpointStore::new(LocalDir::new(path));
    match latest_checkpoint(&from, 0)?.0 {
        Some(meta) => Ok((path.to_path_buf(), meta)),
        None => Err(RunError::Checkpoints(
            crate::checkpoint::CheckpointError::NoSavepoint(path.display().to_string()),
        )),
    }
}

/// One attempt of a run, finished.
struct Attempt {
    summary: Summary,
}

/// Runs the topology once: until it is done, or (with checkpoints) until a task failed
/// and every executor stopped.
fn run_attempt(
    topology: &Topology,
    options: &RunOptions,
    stop: &Arc<AtomicBool>,
    deadline: Option<Instant>,
    checkpoints: Option<(Arc<checkpointing::Checkpointing>, checkpointing::Driver)>,
) -> Result<Attempt, RunError> {
    let desc = topology.desc;
    let clock = options.clock.clone().unwrap_or_default();
    let placement = Arc::new(Placement::local(desc));
    let driver_done = Arc::new(AtomicBool::new(false));
    let (shared, driver) = match checkpoints {
        Some((shared, driver)) => (Some(shared), Some(driver)),
        None => (None, None),
    };
    let Launched {
        mut handles,
        metrics,
        tracking,
        start,
        ..
    } = launch(
        desc.name,
        topology,
        placement,
        stop.clone(),
        clock,
        shared.clone(),
    )?;
    if let Some(live) = &options.live {
        *live.lock().unwrap_or_else(|p| p.into_inner()) = Some(metrics.clone());
    }
    let driver = match driver {
        Some(d) => {
            let done = driver_done.clone();
            let span = tracing::info_span!("checkpoints", topology = %desc.name);
            Some(
                std::thread::Builder::new()
                    .name("__checkpoints".into())
                    .spawn(move || {
                        let _in = span.enter();
                        d.run(&done)
                    })?,
            )
        }
        None => None,
    };
    let mut last_progress = Instant::now();
    loop {
        if let Some(bad) = handles.iter().position(|h| h.is_finished()) {
            // Collect finished threads. A panic ends the run with an error, or, with
            // checkpoints, fails it: every executor stops, and it restarts.
            let h = handles.swap_remove(bad);
            let thread = h.thread().name().unwrap_or("executor").to_string();
            if let Err(payload) = h.join() {
                let message = panic_message(&payload);
                match &shared {
                    Some(c) => c.fail(TaskFailure {
                        component: thread,
                        task: None,
                        reason: format!("its executor panicked: {message}"),
                        retryable: true,
                    }),
                    None => {
                        stop.store(true, Ordering::Relaxed);
                        return Err(RunError::ExecutorPanicked { thread, message });
                    }
                }
            }
            continue;
        }
        if handles.is_empty() {
            break;
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            stop.store(true, Ordering::Relaxed);
        }
        if let Some(show) = options.progress
            && last_progress.elapsed() >= Duration::from_millis(500)
        {
            show(&Progress {
                topology,
                elapsed: start.elapsed(),
                metrics: &metrics,
            });
            last_progress = Instant::now();
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let elapsed = start.elapsed();
    driver_done.store(true, Ordering::Release);
    if let Some(d) = driver {
        let _ = d.join();
    }
    Ok(Attempt {
        summary: summary(desc, &metrics, elapsed, tracking),
    })
}

/// The executors of this worker, started.
pub(crate) struct Launched {
    /// One per executor thread.
    pub(crate) handles: Vec<JoinHandle<()>>,
    /// Their live counters.
    pub(crate) metrics: Arc<Metrics>,
    /// Tuple trees are tracked.
    pub(crate) tracking: bool,
    /// Senders to every acker task, by index (empty unless tracking).
    pub(crate) ackers: Vec<crate::transport::TaskSender<AckerMsg>>,
    /// When they started.
    pub(crate) start: Instant,
    /// The executors started: name (`component:index` of the chain's head, `__acker:index`),
    /// chain (`chains.len()` for ackers) and index, for their
    /// [`Metrics::executor_progress`].
    pub(crate) executors: Vec<(String, usize, u32)>,
}

/// Builds the queues of every task `placement` puts in this worker (and senders to all
/// the others) and starts this worker's executors, each thread in its
/// [`executor_span`](crate::logs::executor_span) (`label`: the topology's id on a cluster,
/// its name in a local run; a child of the caller's span).
pub(crate) fn launch(
    label: &str,
    topology: &Topology,
    placement: Arc<Placement>,
    stop: Arc<AtomicBool>,
    clock: Clock,
    checkpoints: Option<Arc<super::checkpointing::Checkpointing>>,
) -> Result<Launched, RunError> {
    let desc = topology.desc;
    let metrics = Arc::new(Metrics::new(desc));
    let mut registry = Registry::default();
    for (i, spec) in topology.chains.iter().enumerate() {
        match spec {
            Some(ChainSpec::Bolt(b)) => b.make_inboxes(desc, &mut registry, i, &placement),
            Some(ChainSpec::Spout(_)) => {}
            None => return Err(RunError::MissingChain(i)),
        }
    }
    if desc.settings.guarantee == crate::topology::Guarantee::ExactlyOnce && checkpoints.is_none() {
        tracing::warn!(
            "`guarantee = exactly_once` takes checkpoints with a checkpoint \
             directory (`run --checkpoint-dir DIR`) or on a cluster (`submit`); this run \
             has none and runs untracked (at_most_once)"
        );
    }
    let tracking = wiring::tracking(desc);
    let mut reply_inboxes = if tracking {
        spout_reply_inboxes(desc, &mut registry, &placement)
    } else {
        Vec::new()
    };
    let mut acker_senders = Vec::new();
    let acker_inboxes = if tracking {
        let capacity = desc.settings.queue_capacity as usize;
        let (senders, receivers) = placement.acker_inboxes(desc, || queue(capacity));
        acker_senders = senders.clone();
        registry.insert::<AckerMsg>(wiring::acker_key(desc), senders);
        receivers
    } else {
        Vec::new()
    };
    let mut base = Wiring::base(
        desc,
        Arc::new(registry),
        metrics.clone(),
        stop,
        clock,
        placement.clone(),
    );
    base.checkpoints = checkpoints;
    let start = Instant::now();
    let mut handles: Vec<JoinHandle<()>> = Vec::new();
    let mut executors = Vec::new();
    for (i, rx) in acker_inboxes.into_iter().enumerate() {
        let Some(rx) = rx else { continue };
        executors.push((format!("__acker:{i}"), desc.chains.len(), i as u32));
        let w = base.for_task(0);
        let span = crate::logs::executor_span(label, "__acker", i as u32, i as u32..i as u32 + 1);
        handles.push(
            std::thread::Builder::new()
                .name(format!("__acker-{i}"))
                .spawn(move || {
                    let _in = span.enter();
                    acker_executor::run(&w, i as u32, rx)
                })?,
        );
    }
    for (i, spec) in topology.chains.iter().enumerate() {
        let chain = &desc.chains[i];
        let head = desc.components[chain.components[0]].name;
        for e in 0..chain.parallelism {
            if !placement.is_local(i, e) {
                continue;
            }
            let w = base.for_task(0);
            let name = format!("{head}-{e}");
            executors.push((format!("{head}:{e}"), i, e));
            let first = desc.components[chain.components[0]].first_task;
            let tasks = super::executor_tasks(chain.tasks, chain.parallelism, e);
            let span =
                crate::logs::executor_span(label, head, e, first + tasks.start..first + tasks.end);
            let h = match spec {
                Some(ChainSpec::Spout(f)) => {
                    let f = f.clone();
                    let replies = reply_inboxes
                        .iter_mut()
                        .find(|(c, x, _)| *c == i && *x == e)
                        .and_then(|(_, _, rx)| rx.take());
                    std::thread::Builder::new().name(name).spawn(move || {
                        let _in = span.enter();
                        spout_executor::run(&f, &w, i, e, replies)
                    })?
                }
                Some(ChainSpec::Bolt(b)) => {
                    let b = b.clone();
                    std::thread::Builder::new().name(name).spawn(move || {
                        let _in = span.enter();
                        b.run_executor(&w, i, e)
                    })?
                }
                None => return Err(RunError::MissingChain(i)),
            };
            handles.push(h);
        }
    }
    Ok(Launched {
        handles,
        metrics,
        tracking,
        ackers: acker_senders,
        start,
        executors,
    })
}

/// Per local spout executor, an unbounded inbox for acker replies; the senders are
/// registered per spout component, by task index. Returns (chain, executor, receiver).
#[allow(clippy::type_complexity)]
fn spout_reply_inboxes(
    desc: &'static TopologyDesc,
    registry: &mut Registry,
    placement: &Placement,
) -> Vec<(usize, u32, Option<Receiver<Message<Reply>>>)> {
    let mut inboxes = Vec::new();
    for (i, chain) in desc.chains.iter().enumerate() {
        let head = chain.components[0];
        if desc.components[head].kind != Kind::Spout {
            continue;
        }
        let (senders, receivers) = placement.chain_inboxes(desc, i, Lane::Replies, unbounded);
        for (e, rx) in receivers.into_iter().enumerate() {
            inboxes.push((i, e as u32, rx));
        }
        registry.insert::<Reply>(head, senders);
    }
    inboxes
}

fn summary(
    desc: &'static TopologyDesc,
    metrics: &Metrics,
    elapsed: Duration,
    tracking: bool,
) -> Summary {
    let load = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
    Summary {
        topology: desc.name,
        elapsed,
        components: desc
            .components
            .iter()
            .zip(&metrics.components)
            .enumerate()
            .map(|(i, (c, m))| {
                let latency = m.latency.lock().unwrap_or_else(|p| p.into_inner());
                let q = |q: f64| latency.quantile(q).map(Duration::from_micros);
                ComponentSummary {
                    name: c.name,
                    kind: c.kind,
                    tasks: c.tasks,
                    emitted: load(&m.emitted),
                    executed: load(&m.executed),
                    failed: load(&m.failed),
                    acked: load(&m.acked),
                    timed_out: load(&m.timed_out),
                    replayed: load(&m.replayed),
                    dead_lettered: load(&m.dead_lettered),
                    max_in_flight: load(&m.max_in_flight),
                    latency_p50: q(0.5),
                    latency_p99: q(0.99),
                    late: m
                        .has_late_stream
                        .load(Ordering::Relaxed)
                        .then(|| load(&m.late)),
                    late_read: late_stream_read(desc, i),
                }
            })
            .collect(),
        max_queue_depth: metrics.max_queue_depth.iter().map(load).collect(),
        tracking,
        acker_pending_at_end: load(&metrics.ackers.pending_at_end),
        acker_expired: load(&metrics.ackers.expired),
        checkpoints: Vec::new(),
        failures: Vec::new(),
    }
}

/// Whether an edge reads the `late` stream of window `component`.
fn late_stream_read(desc: &TopologyDesc, component: usize) -> bool {
    let Some(late) = desc.components[component]
        .streams
        .iter()
        .position(|s| s.name == LATE_STREAM)
    else {
        return false;
    };
    desc.edges
        .iter()
        .any(|e| e.from == component && e.stream == late)
}

/// The name of a window's stream of late tuples (as the compiler names it).
const LATE_STREAM: &str = "late";

fn panic_message(payload: &Box<dyn std::any::Any + Send>) -> String {
    super::chain::panic_text(payload.as_ref())
}

impl Summary {
    /// The summary for one component, by name.
    pub fn component(&self, name: &str) -> Option<&ComponentSummary> {
        self.components.iter().find(|c| c.name == name)
    }

    /// A human-readable table: per component, tuples emitted and executed and throughput
    /// (`per second`: tuples emitted per second for a spout, executed per second for a
    /// bolt, as a line under the table says).
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
            "per second"
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
        s.push_str(
            "per second: tuples emitted per second for spouts, executed per second for bolts\n",
        );
        s.push_str(&self.render_late());
        if self.tracking {
            s.push_str(&self.render_acking());
        }
        if let Some(last) = self.checkpoints.last() {
            let most = |f: fn(&crate::checkpoint::Completed) -> u64| {
                self.checkpoints.iter().map(f).max().unwrap_or(0)
            };
            s.push_str(&format!(
                "checkpoints: {} completed, the last {} ({} ms from trigger to durable, {} \
                 bytes); the longest {} ms, alignment at most {} ms, a task paused at most \
                 {:.3} ms to snapshot\n",
                self.checkpoints.len(),
                last.id,
                last.duration_ms,
                last.bytes,
                most(|c| c.duration_ms),
                most(|c| c.alignment_ms),
                most(|c| c.pause_us) as f64 / 1e3,
            ));
        }
        if !self.failures.is_empty() {
            s.push_str(&format!(
                "restarts: {} (from the last completed checkpoint each time)\n",
                self.failures.len()
            ));
            for f in &self.failures {
                s.push_str(&format!("  after {f}\n"));
            }
        }
        s
    }

    /// Per window, the tuples later than its allowed lateness, on its `late` stream:
    /// `counts: 12 late tuples (on \`counts.late\`)`, and a warning when no edge reads it.
    fn render_late(&self) -> String {
        let mut s = String::new();
        for c in &self.components {
            let Some(n) = c.late else { continue };
            let plural = if n == 1 { "" } else { "s" };
            let read = if c.late_read || n == 0 {
                ""
            } else {
                ", which no edge reads"
            };
            s.push_str(&format!(
                "{}: {n} late tuple{plural} (on `{}.late`{read})\n",
                c.name, c.name
            ));
        }
        s
    }

    /// The acking table: per spout, trees acked, failed, timed out, replayed and
    /// dead-lettered, the most in flight, and complete latency; per bolt, acked and failed.
    fn render_acking(&self) -> String {
        let ms = |d: Option<Duration>| {
            d.map_or("-".to_string(), |d| format!("{:.3}", d.as_secs_f64() * 1e3))
        };
        let mut s = format!(
            "acking: trees left in the ackers at the end {}, expired in the ackers {}\n\
             {:<16} {:>11} {:>9} {:>9} {:>9} {:>9} {:>9} {:>11} {:>11}\n",
            self.acker_pending_at_end,
            self.acker_expired,
            "component",
            "acked",
            "failed",
            "timed out",
            "replayed",
            "dead",
            "in flight",
            "p50 ms",
            "p99 ms"
        );
        for c in &self.components {
            let spout = c.kind == Kind::Spout;
            let or_dash = |v: u64| {
                if spout {
                    v.to_string()
                } else {
                    "-".to_string()
                }
            };
            s.push_str(&format!(
                "{:<16} {:>11} {:>9} {:>9} {:>9} {:>9} {:>9} {:>11} {:>11}\n",
                c.name,
                c.acked,
                c.failed,
                or_dash(c.timed_out),
                or_dash(c.replayed),
                or_dash(c.dead_lettered),
                or_dash(c.max_in_flight),
                if spout {
                    ms(c.latency_p50)
                } else {
                    "-".to_string()
                },
                if spout {
                    ms(c.latency_p99)
                } else {
                    "-".to_string()
                },
            ));
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn component(name: &'static str, late: Option<u64>, late_read: bool) -> ComponentSummary {
        ComponentSummary {
            name,
            kind: Kind::Bolt,
            tasks: 1,
            emitted: 0,
            executed: 0,
            failed: 0,
            acked: 0,
            timed_out: 0,
            replayed: 0,
            dead_lettered: 0,
            max_in_flight: 0,
            latency_p50: None,
            latency_p99: None,
            late,
            late_read,
        }
    }

    #[test]
    fn the_summary_shows_each_windows_late_tuples() {
        let summary = Summary {
            topology: "t",
            elapsed: Duration::from_secs(1),
            components: vec![
                component("counts", Some(12), true),
                component("sums", Some(1), false),
                component("sessions", Some(0), false),
                component("print", None, false),
            ],
            max_queue_depth: Vec::new(),
            tracking: false,
            acker_pending_at_end: 0,
            acker_expired: 0,
            checkpoints: Vec::new(),
            failures: Vec::new(),
        };
        let text = summary.render();
        let late: Vec<&str> = text.lines().filter(|l| l.contains(" late tuple")).collect();
        assert_eq!(
            late,
            [
                "counts: 12 late tuples (on `counts.late`)",
                "sums: 1 late tuple (on `sums.late`, which no edge reads)",
                "sessions: 0 late tuples (on `sessions.late`)",
            ],
            "{text}"
        );
    }
}
