//! The JSON the REST API answers and the web UI reads, the same in cluster and local mode,
//! and how it is made from a plan, the components' readings and their [`History`].

use super::history::{self, History, Rates};
use crate::exec::metrics::ComponentReading;
use crate::topology::{Kind, TopologyDesc};
use serde::Serialize;
use std::collections::BTreeMap;

/// The wall clock, milliseconds since the Unix epoch.
pub fn wall_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// The newest errors a topology's page shows.
pub const ERRORS_SHOWN: usize = 50;

/// `GET /api/v1/session`: who the browser is to the server.
#[derive(Debug, Clone, Serialize)]
pub struct SessionView {
    /// `cluster` (nimbus) or `local` (`run --ui`).
    pub mode: &'static str,
    /// Actions (and reads, unless public) need the cluster secret.
    pub secret_required: bool,
    /// Reads need no secret.
    pub public_read: bool,
    /// The browser's session was opened with the secret.
    pub authenticated: bool,
    /// The session's CSRF token (send it in `X-CSRF-Token` on actions).
    pub csrf: Option<String>,
}

/// A supervisor.
#[derive(Debug, Clone, Serialize)]
pub struct SupervisorView {
    /// Its id.
    pub id: String,
    /// The host its workers listen on.
    pub host: String,
    /// Its worker ports.
    pub slots: Vec<u32>,
    /// Slots running workers.
    pub used: u32,
    /// Slots free.
    pub free: u32,
    /// It heartbeats.
    pub alive: bool,
    /// Milliseconds since its last heartbeat.
    pub last_heartbeat_ms: u64,
}

/// `GET /api/v1/cluster`.
#[derive(Debug, Clone, Serialize)]
pub struct ClusterView {
    /// `cluster` or `local`.
    pub mode: &'static str,
    /// Every supervisor.
    pub supervisors: Vec<SupervisorView>,
    /// Slots of live supervisors.
    pub slots_total: u32,
    /// Of those, running workers.
    pub slots_used: u32,
    /// Of those, free.
    pub slots_free: u32,
    /// Topologies known.
    pub topologies: usize,
}

/// A worker of a topology.
#[derive(Debug, Clone, Serialize)]
pub struct WorkerView {
    /// Its index in the topology.
    pub index: u32,
    /// Its supervisor.
    pub supervisor: String,
    /// Its host.
    pub host: String,
    /// Its data-plane port (its slot).
    pub port: u32,
    /// `alive`, `starting`, `restarting`, `silent`, `finished`, ...
    pub state: String,
    /// Restarts by its supervisor.
    pub restarts: u32,
    /// Why its last process ended.
    pub last_exit: String,
    /// Milliseconds since its last heartbeat.
    pub last_heartbeat_ms: u64,
    /// `component:executor` units it runs.
    pub executors: Vec<String>,
    /// The port of its `/metrics` (0: none).
    pub metrics_port: u32,
}

/// A fused chain of the plan.
#[derive(Debug, Clone, Serialize)]
pub struct ChainView {
    /// Its components, head first.
    pub components: Vec<String>,
    /// Its tasks.
    pub tasks: u32,
    /// Its executors now.
    pub executors: u32,
    /// Its head is a spout.
    pub spout: bool,
}

/// A component of the plan.
#[derive(Debug, Clone, Serialize)]
pub struct ComponentPlanView {
    /// Its name.
    pub name: String,
    /// `spout` or `bolt`.
    pub kind: String,
    /// What it runs.
    pub operator: String,
    /// The index of its chain.
    pub chain: u32,
    /// Its tasks.
    pub tasks: u32,
    /// Its first task id.
    pub first_task: u32,
    /// The `.topo` line it is declared at.
    pub line: u32,
}

/// An edge of the plan.
#[derive(Debug, Clone, Serialize)]
pub struct EdgeView {
    /// The producer.
    pub from: String,
    /// The consumer.
    pub to: String,
    /// The producer's stream.
    pub stream: String,
    /// The grouping keyword.
    pub grouping: String,
    /// Its argument, or empty.
    pub detail: String,
    /// Inside a fused chain.
    pub fused: bool,
}

/// A topology's plan.
#[derive(Debug, Clone, Serialize)]
pub struct PlanView {
    /// Worker processes.
    pub workers: u32,
    /// Acker tasks.
    pub ackers: u32,
    /// Config overrides given at submit.
    pub config: BTreeMap<String, String>,
    /// The fused chains.
    pub chains: Vec<ChainView>,
    /// Every component, in plan order.
    pub components: Vec<ComponentPlanView>,
    /// Every edge.
    pub edges: Vec<EdgeView>,
}

impl PlanView {
    /// The plan of a compiled topology, with `executors` per chain (its own parallelism
    /// where not given).
    pub fn of_desc(desc: &TopologyDesc, executors: &[u32], ackers: u32) -> PlanView {
        PlanView {
            workers: 1,
            ackers,
            config: BTreeMap::new(),
            chains: desc
                .chains
                .iter()
                .enumerate()
                .map(|(i, c)| ChainView {
                    components: c
                        .components
                        .iter()
                        .map(|&k| desc.components[k].name.to_string())
                        .collect(),
                    tasks: c.tasks,
                    executors: executors.get(i).copied().unwrap_or(c.parallelism),
                    spout: desc.components[c.components[0]].kind == Kind::Spout,
                })
                .collect(),
            components: desc
                .components
                .iter()
                .map(|c| ComponentPlanView {
                    name: c.name.to_string(),
                    kind: kind_name(c.kind).to_string(),
                    operator: c.operator.to_string(),
                    chain: c.chain as u32,
                    tasks: c.tasks,
                    first_task: c.first_task,
                    line: c.line,
                })
                .collect(),
            edges: desc
                .edges
                .iter()
                .map(|e| EdgeView {
                    from: desc.components[e.from].name.to_string(),
                    to: desc.components[e.to].name.to_string(),
                    stream: desc.components[e.from]
                        .streams
                        .get(e.stream)
                        .map_or_else(String::new, |s| s.name.to_string()),
                    grouping: e.grouping.to_string(),
                    detail: e.detail.to_string(),
                    fused: e.fused,
                })
                .collect(),
        }
    }

    /// Per component (plan order): whether it is a spout.
    pub fn spouts(&self) -> Vec<bool> {
        self.components.iter().map(|c| c.kind == "spout").collect()
    }
}

/// `spout` or `bolt`.
pub fn kind_name(kind: Kind) -> &'static str {
    match kind {
        Kind::Spout => "spout",
        Kind::Bolt => "bolt",
    }
}

/// A latency summary, milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LatencyView {
    /// The median.
    pub p50: f64,
    /// The 99th percentile.
    pub p99: f64,
    /// Tuple trees measured.
    pub count: u64,
}

impl LatencyView {
    /// The summary of a histogram of microseconds (`None` when it is empty).
    pub fn of(h: &crate::ack::Histogram) -> Option<LatencyView> {
        let ms = |us: u64| us as f64 / 1000.0;
        Some(LatencyView {
            p50: ms(h.quantile(0.5)?),
            p99: ms(h.quantile(0.99)?),
            count: h.count(),
        })
    }
}

/// One task's counters.
#[derive(Debug, Clone, Serialize)]
pub struct TaskView {
    /// Its task id.
    pub task: u32,
    /// Its worker (cluster mode).
    pub worker: Option<u32>,
    /// Tuples emitted.
    pub emitted: u64,
    /// Tuples executed.
    pub executed: u64,
    /// Acked.
    pub acked: u64,
    /// Failed.
    pub failed: u64,
    /// Batches waiting in its executor's queue.
    pub queue_depth: u64,
    /// Milliseconds blocked sending downstream, in all.
    pub backpressure_ms: u64,
    /// Its watermark (ms), if any.
    pub watermark_ms: Option<i64>,
}

/// One component's counters and rates.
#[derive(Debug, Clone, Serialize)]
pub struct ComponentView {
    /// Its name.
    pub name: String,
    /// `spout` or `bolt`.
    pub kind: String,
    /// The `.topo` line it is declared at.
    pub line: u32,
    /// Tuples emitted.
    pub emitted: u64,
    /// Tuples executed.
    pub executed: u64,
    /// Bolts: inputs acked. Spouts: trees completed.
    pub acked: u64,
    /// Bolts: inputs failed. Spouts: trees failed.
    pub failed: u64,
    /// Windows: tuples sent to the `late` stream.
    pub late: u64,
    /// Emitted (spouts) or executed (bolts) per second over the last 10 s.
    pub tuples_per_second: f64,
    /// Rates over the last 10 s.
    pub rate_10s: Rates,
    /// Rates over the last 10 min.
    pub rate_10m: Rates,
    /// Spouts: complete latency of its tuple trees since its workers started (the
    /// topology's `latency_ms` is over the last 10 s).
    pub latency_ms: Option<LatencyView>,
    /// Batches waiting in its executors' queues (the largest).
    pub queue_depth: u64,
    /// Milliseconds its tasks spent blocked sending downstream, in all.
    pub backpressure_ms: u64,
    /// The share of the last 10 s its executors spent blocked (0 to 1).
    pub backpressure_ratio: f64,
    /// The event time it has reached (ms), if it has watermarks.
    pub watermark_ms: Option<i64>,
    /// Its tasks.
    pub tasks: Vec<TaskView>,
}

/// An error, with where it was declared.
#[derive(Debug, Clone, Serialize)]
pub struct ErrorView {
    /// Milliseconds since the Unix epoch.
    pub time_ms: u64,
    /// The component.
    pub component: String,
    /// The task id.
    pub task: u32,
    /// The worker (cluster mode).
    pub worker: Option<u32>,
    /// The component's `.topo` line.
    pub line: u32,
    /// What went wrong.
    pub message: String,
}

/// An exactly_once topology's checkpoints.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CheckpointsView {
    /// The newest completed checkpoint.
    pub last_id: u64,
    /// Its trigger-to-complete time.
    pub last_duration_ms: u64,
    /// Its size.
    pub last_bytes: u64,
    /// Its longest barrier alignment.
    pub last_alignment_ms: u64,
    /// Its longest task pause.
    pub last_pause_us: u64,
    /// Checkpoints completed.
    pub completed: u64,
    /// Checkpoints failed.
    pub failed: u64,
    /// Restarts from a checkpoint.
    pub restarts: u32,
    /// Why the last one failed.
    pub last_failure: String,
    /// Where they are kept.
    pub storage: String,
}

/// A topology in the list.
#[derive(Debug, Clone, Serialize)]
pub struct TopologySummary {
    /// Its id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// `running`, `finished`, `waiting`, `failed`, `killed`, ...
    pub status: String,
    /// Its assignment version.
    pub version: u64,
    /// Milliseconds since it was submitted (or started).
    pub uptime_ms: u64,
    /// Worker restarts.
    pub restarts: u32,
    /// Its workers.
    pub workers: Vec<WorkerView>,
    /// Why it stopped for good.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub failure: String,
    /// Tuples per second emitted by its spouts over the last 10 s.
    pub throughput: f64,
    /// An exactly_once topology's checkpoints.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checkpoints: Option<CheckpointsView>,
}

/// The actions a topology offers.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct ActionsView {
    /// `POST .../kill`.
    pub kill: bool,
    /// `POST .../rebalance`.
    pub rebalance: bool,
    /// `POST .../savepoint`.
    pub savepoint: bool,
}

/// `GET /api/v1/topologies/{id}`.
#[derive(Debug, Clone, Serialize)]
pub struct TopologyView {
    /// What the list shows.
    #[serde(flatten)]
    pub summary: TopologySummary,
    /// The `.topo` file.
    pub source: String,
    /// Complete latency of the last 10 s over all spouts.
    pub latency_ms: Option<LatencyView>,
    /// Its plan.
    pub plan: PlanView,
    /// Every component of the plan.
    pub components: Vec<ComponentView>,
    /// The newest errors, newest first.
    pub errors: Vec<ErrorView>,
    /// What it offers.
    pub actions: ActionsView,
    /// The server's clock when this was read (milliseconds since the Unix epoch): the
    /// charts put live points on the history's clock.
    pub time_ms: u64,
}

/// One point of `GET /api/v1/topologies/{id}/history`.
#[derive(Debug, Clone, Serialize)]
pub struct PointView {
    /// Milliseconds since the Unix epoch.
    pub time_ms: u64,
    /// Tuples per second emitted by the spouts.
    pub throughput: f64,
    /// Complete latency median (ms).
    pub latency_p50_ms: Option<f64>,
    /// Its 99th percentile.
    pub latency_p99_ms: Option<f64>,
    /// Per component: tuples per second.
    pub components: BTreeMap<String, f64>,
}

/// `GET /api/v1/topologies/{id}/history`.
#[derive(Debug, Clone, Serialize)]
pub struct HistoryView {
    /// The time between samples.
    pub interval_ms: u64,
    /// Oldest first, up to ten minutes.
    pub samples: Vec<PointView>,
}

/// A Prometheus HTTP service discovery group.
#[derive(Debug, Clone, Serialize)]
pub struct TargetGroup {
    /// `host:port` of each endpoint.
    pub targets: Vec<String>,
    /// Labels of the group.
    pub labels: BTreeMap<String, String>,
}

/// Every component of `plan` with its reading (zeros where there is none).
pub fn components(
    plan: &PlanView,
    readings: &[ComponentReading],
    history: &History,
) -> Vec<ComponentView> {
    let empty = ComponentReading::default();
    plan.components
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let r = readings.get(i).unwrap_or(&empty);
            let short = history.rates(i, history::SHORT_MS);
            let spout = c.kind == "spout";
            ComponentView {
                name: c.name.clone(),
                kind: c.kind.clone(),
                line: c.line,
                emitted: r.emitted,
                executed: r.executed,
                acked: r.acked,
                failed: r.failed,
                late: r.late,
                tuples_per_second: if spout { short.emitted } else { short.executed },
                rate_10s: short,
                rate_10m: history.rates(i, history::KEEP_MS),
                latency_ms: if spout {
                    LatencyView::of(&r.latency)
                } else {
                    None
                },
                queue_depth: r.queue_depth(),
                backpressure_ms: r.blocked_ns() / 1_000_000,
                backpressure_ratio: history.backpressure(
                    i,
                    plan.chains
                        .get(c.chain as usize)
                        .map_or(c.tasks, |chain| chain.executors),
                    history::SHORT_MS,
                ),
                watermark_ms: r.watermark_ms(),
                tasks: r
                    .tasks
                    .iter()
                    .map(|t| TaskView {
                        task: t.task,
                        worker: t.worker,
                        emitted: t.emitted,
                        executed: t.executed,
                        acked: t.acked,
                        failed: t.failed,
                        queue_depth: t.queue_depth,
                        backpressure_ms: t.blocked_ns / 1_000_000,
                        watermark_ms: t.watermark_ms,
                    })
                    .collect(),
            }
        })
        .collect()
}

/// The newest errors of every component, newest first, each with its `.topo` line.
pub fn errors(plan: &PlanView, readings: &[ComponentReading]) -> Vec<ErrorView> {
    let mut all: Vec<ErrorView> = plan
        .components
        .iter()
        .zip(readings)
        .flat_map(|(c, r)| {
            r.errors.iter().map(|e| ErrorView {
                time_ms: e.time_ms,
                component: c.name.clone(),
                task: e.task,
                worker: e.worker,
                line: c.line,
                message: e.message.clone(),
            })
        })
        .collect();
    all.sort_by_key(|e| std::cmp::Reverse(e.time_ms));
    all.truncate(ERRORS_SHOWN);
    all
}

/// Tuples per second emitted by the spouts over the last 10 s.
pub fn throughput(plan: &PlanView, history: &History) -> f64 {
    plan.components
        .iter()
        .enumerate()
        .filter(|(_, c)| c.kind == "spout")
        .map(|(i, _)| history.rates(i, history::SHORT_MS).emitted)
        .sum()
}

/// The complete latency over all spouts: the last 10 s, else all time.
pub fn latency(
    plan: &PlanView,
    readings: &[ComponentReading],
    history: &History,
) -> Option<LatencyView> {
    if let Some(h) = history.latency(history::SHORT_MS) {
        return LatencyView::of(&h);
    }
    let mut all = crate::ack::Histogram::default();
    for (c, r) in plan.components.iter().zip(readings) {
        if c.kind == "spout" {
            all.merge(&r.latency);
        }
    }
    LatencyView::of(&all)
}

/// The charts' points.
pub fn history_view(plan: &PlanView, history: &History) -> HistoryView {
    HistoryView {
        interval_ms: history::INTERVAL_MS,
        samples: history
            .points(&plan.spouts())
            .into_iter()
            .map(|p| PointView {
                time_ms: p.time_ms,
                throughput: p.throughput,
                latency_p50_ms: p.latency_p50_ms,
                latency_p99_ms: p.latency_p99_ms,
                components: plan
                    .components
                    .iter()
                    .map(|c| c.name.clone())
                    .zip(p.components)
                    .collect(),
            })
            .collect(),
    }
}
