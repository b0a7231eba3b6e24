//! Nimbus's side of the HTTP server ([`crate::web`]): the REST API, web UI and `/metrics`
//! answer from nimbus's state (topologies, assignments, supervisors, workers) and from what
//! it [`Observed`](super::observed::Observed) in the workers' heartbeats; `kill`,
//! `rebalance` and `savepoint` are the same decisions as the gRPC calls.

use super::{NimbusService, refused};
use crate::cluster::controller::commands;
use crate::cluster::proto::{
    CheckpointStatus, ParallelismChange, Plan, SupervisorStatus, TopologyStatus, WorkerInfo,
};
use crate::exec::metrics::ComponentReading;
use crate::web::api::{ApiError, Backend, Killed, Rebalanced, Savepointed};
use crate::web::history::History;
use crate::web::prometheus::{ClusterSnapshot, Snapshot, TopologySnapshot};
use crate::web::view::{
    self, ActionsView, ChainView, CheckpointsView, ClusterView, ComponentPlanView, EdgeView,
    HistoryView, PlanView, SupervisorView, TargetGroup, TopologySummary, TopologyView, WorkerView,
};
use axum::http::StatusCode;
use futures::future::BoxFuture;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

/// Nimbus as the HTTP server's backend.
pub(super) struct NimbusBackend {
    pub(super) nimbus: Arc<NimbusService>,
}

impl From<tonic::Status> for ApiError {
    fn from(s: tonic::Status) -> ApiError {
        let code = match s.code() {
            tonic::Code::NotFound => StatusCode::NOT_FOUND,
            tonic::Code::AlreadyExists => StatusCode::CONFLICT,
            tonic::Code::InvalidArgument => StatusCode::BAD_REQUEST,
            tonic::Code::Unavailable | tonic::Code::DeadlineExceeded => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            tonic::Code::FailedPrecondition => StatusCode::CONFLICT,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiError::new(code, s.message())
    }
}

/// A topology as the views need it.
struct Seen {
    status: TopologyStatus,
    plan: PlanView,
    readings: Vec<ComponentReading>,
    history: History,
    exactly_once: bool,
}

/// The plan nimbus holds, with the executors of the current assignment. A plan from a
/// binary older than its component list gets one from its chains.
pub(super) fn plan_view(p: &Plan, executors: &[u32]) -> PlanView {
    let chains: Vec<ChainView> = p
        .chains
        .iter()
        .enumerate()
        .map(|(i, c)| ChainView {
            components: c.components.clone(),
            tasks: c.tasks,
            executors: executors.get(i).copied().unwrap_or(c.parallelism),
            spout: c.spout,
        })
        .collect();
    let components = if p.components.is_empty() {
        p.chains
            .iter()
            .enumerate()
            .flat_map(|(i, c)| {
                c.components
                    .iter()
                    .enumerate()
                    .map(move |(k, name)| ComponentPlanView {
                        name: name.clone(),
                        kind: if c.spout && k == 0 { "spout" } else { "bolt" }.to_string(),
                        operator: String::new(),
                        chain: i as u32,
                        tasks: c.tasks,
                        first_task: 0,
                        line: 0,
                    })
            })
            .collect()
    } else {
        p.components
            .iter()
            .map(|c| ComponentPlanView {
                name: c.name.clone(),
                kind: c.kind.clone(),
                operator: c.operator.clone(),
                chain: c.chain,
                tasks: c.tasks,
                first_task: c.first_task,
                line: c.line,
            })
            .collect()
    };
    PlanView {
        workers: p.workers,
        ackers: p.ackers,
        config: p
            .config
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        chains,
        components,
        edges: p
            .edges
            .iter()
            .map(|e| EdgeView {
                from: e.from.clone(),
                to: e.to.clone(),
                stream: e.stream.clone(),
                grouping: e.grouping.clone(),
                detail: e.detail.clone(),
                fused: e.fused,
            })
            .collect(),
    }
}

fn worker_view(w: &WorkerInfo) -> WorkerView {
    WorkerView {
        index: w.index,
        supervisor: w.supervisor.clone(),
        host: w.host.clone(),
        port: w.port,
        state: w.state.clone(),
        restarts: w.restarts,
        last_exit: w.last_exit.clone(),
        last_heartbeat_ms: w.last_heartbeat_ms,
        executors: w.executors.clone(),
        metrics_port: w.metrics_port,
    }
}

fn checkpoints_view(c: &CheckpointStatus) -> CheckpointsView {
    CheckpointsView {
        last_id: c.last_id,
        last_duration_ms: c.last_duration_ms,
        last_bytes: c.last_bytes,
        last_alignment_ms: c.last_alignment_ms,
        last_pause_us: c.last_pause_us,
        completed: c.completed,
        failed: c.failed,
        restarts: c.restarts,
        last_failure: c.last_failure.clone(),
        storage: c.storage.clone(),
    }
}

impl NimbusBackend {
    /// Every topology's status, plan, readings and history.
    fn seen(&self) -> (Vec<Seen>, Vec<SupervisorStatus>) {
        let (topologies, supervisors) = self.nimbus.status();
        let plans: BTreeMap<String, (Plan, Vec<u32>)> = {
            let state = self.nimbus.state();
            state
                .topologies
                .iter()
                .filter_map(|(id, t)| {
                    let p = t.record.plan.clone()?;
                    let executors = t
                        .record
                        .assignment
                        .as_ref()
                        .map(|a| a.parallelism.clone())
                        .unwrap_or_default();
                    Some((id.clone(), (p, executors)))
                })
                .collect()
        };
        let observed = self.nimbus.observed();
        let seen = topologies
            .into_iter()
            .map(|status| {
                let (plan, exactly_once) = plans.get(&status.id).map_or_else(
                    || (plan_view(&Plan::default(), &[]), false),
                    |(p, e)| (plan_view(p, e), p.checkpoints.is_some()),
                );
                let names: Vec<String> = plan.components.iter().map(|c| c.name.clone()).collect();
                Seen {
                    readings: observed.readings(&status.id, &names),
                    history: observed.history(&status.id),
                    status,
                    plan,
                    exactly_once,
                }
            })
            .collect();
        (seen, supervisors)
    }

    fn summary(s: &Seen) -> TopologySummary {
        let t = &s.status;
        TopologySummary {
            id: t.id.clone(),
            name: t.name.clone(),
            status: t.status.clone(),
            version: t.version,
            uptime_ms: t.uptime_ms,
            restarts: t.workers.iter().map(|w| w.restarts).sum(),
            workers: t.workers.iter().map(worker_view).collect(),
            failure: t.failure.clone(),
            throughput: view::throughput(&s.plan, &s.history),
            checkpoints: t.checkpoints.as_ref().map(checkpoints_view),
        }
    }
}

impl Backend for NimbusBackend {
    fn mode(&self) -> &'static str {
        "cluster"
    }

    fn cluster(&self) -> ClusterView {
        let (topologies, supervisors) = self.nimbus.status();
        let supervisors: Vec<SupervisorView> = supervisors
            .into_iter()
            .map(|s| SupervisorView {
                free: (s.ports.len() as u32).saturating_sub(s.used),
                id: s.id,
                host: s.host,
                slots: s.ports,
                used: s.used,
                alive: s.alive,
                last_heartbeat_ms: s.last_heartbeat_ms,
            })
            .collect();
        let live = supervisors.iter().filter(|s| s.alive);
        let slots_total: u32 = live.clone().map(|s| s.slots.len() as u32).sum();
        let slots_used: u32 = live.map(|s| s.used).sum();
        ClusterView {
            mode: "cluster",
            supervisors,
            slots_total,
            slots_used,
            slots_free: slots_total.saturating_sub(slots_used),
            topologies: topologies.len(),
        }
    }

    fn topologies(&self) -> Vec<TopologySummary> {
        self.seen().0.iter().map(Self::summary).collect()
    }

    fn topology(&self, id: &str) -> Option<TopologyView> {
        let (seen, _) = self.seen();
        let s = seen.into_iter().find(|s| s.status.id == id)?;
        let running = matches!(s.status.status.as_str(), "running" | "waiting");
        Some(TopologyView {
            summary: Self::summary(&s),
            source: self
                .nimbus
                .state()
                .topologies
                .get(id)
                .and_then(|t| t.record.plan.as_ref())
                .map_or_else(String::new, |p| p.source.clone()),
            latency_ms: view::latency(&s.plan, &s.readings, &s.history),
            components: view::components(&s.plan, &s.readings, &s.history),
            errors: view::errors(&s.plan, &s.readings),
            actions: ActionsView {
                kill: true,
                rebalance: running,
                savepoint: running && s.exactly_once,
            },
            plan: s.plan,
            time_ms: view::wall_ms(),
        })
    }

    fn history(&self, id: &str) -> Option<HistoryView> {
        let (seen, _) = self.seen();
        let s = seen.into_iter().find(|s| s.status.id == id)?;
        Some(view::history_view(&s.plan, &s.history))
    }

    fn kill(&self, id: &str) -> Result<Killed, ApiError> {
        let nimbus = &self.nimbus;
        let mut state = nimbus.state();
        let (decision, ids) = commands::kill(&state, id).map_err(refused)?;
        nimbus.carry_out(&mut state, decision)?;
        Ok(Killed { killed: ids })
    }

    fn rebalance(
        &self,
        id: &str,
        parallelism: BTreeMap<String, u32>,
    ) -> Result<Rebalanced, ApiError> {
        let changes: Vec<ParallelismChange> = parallelism
            .into_iter()
            .map(|(component, parallelism)| ParallelismChange {
                component,
                parallelism,
            })
            .collect();
        let nimbus = &self.nimbus;
        let mut state = nimbus.state();
        let (decision, id, version) =
            commands::rebalance(&state, id, &changes, Instant::now()).map_err(refused)?;
        nimbus.carry_out(&mut state, decision)?;
        Ok(Rebalanced { id, version })
    }

    fn savepoint(
        &self,
        id: &str,
        dir: String,
    ) -> BoxFuture<'static, Result<Savepointed, ApiError>> {
        let nimbus = self.nimbus.clone();
        let id = id.to_string();
        Box::pin(async move {
            let reply = nimbus.take_savepoint(&id, dir).await?;
            Ok(Savepointed {
                id: reply.id,
                path: reply.path,
            })
        })
    }

    fn metrics(&self) -> String {
        let (seen, supervisors) = self.seen();
        let alive: Vec<&SupervisorStatus> = supervisors.iter().filter(|s| s.alive).collect();
        let slots_total: u32 = alive.iter().map(|s| s.ports.len() as u32).sum();
        let slots_used: u32 = alive.iter().map(|s| s.used).sum();
        Snapshot {
            cluster: Some(ClusterSnapshot {
                supervisors_alive: alive.len() as u32,
                supervisors_dead: (supervisors.len() - alive.len()) as u32,
                slots_used,
                slots_free: slots_total.saturating_sub(slots_used),
            }),
            topologies: seen
                .into_iter()
                .map(|s| TopologySnapshot {
                    id: s.status.id.clone(),
                    name: s.status.name.clone(),
                    status: Some(s.status.status.clone()),
                    uptime_seconds: Some(s.status.uptime_ms as f64 / 1000.0),
                    workers: Some(s.status.workers.len() as u32),
                    restarts: Some(s.status.workers.iter().map(|w| w.restarts).sum()),
                    checkpoints: s.status.checkpoints.as_ref().map(checkpoints_view),
                    plan: s.plan,
                    readings: s.readings,
                    worker: None,
                })
                .collect(),
        }
        .render()
    }

    fn targets(&self) -> Vec<TargetGroup> {
        let (topologies, _) = self.nimbus.status();
        let scheme = if self.nimbus.security.tls.is_some() {
            "https"
        } else {
            "http"
        };
        topologies
            .iter()
            .flat_map(|t| {
                t.workers
                    .iter()
                    .filter(|w| w.metrics_port > 0 && w.state != "finished")
                    .map(move |w| TargetGroup {
                        targets: vec![format!("{}:{}", w.host, w.metrics_port)],
                        // The metrics carry `topology`, `topology_id` and `worker`
                        // themselves: a target label of the same name would rename them.
                        labels: BTreeMap::from([
                            ("__scheme__".to_string(), scheme.to_string()),
                            ("supervisor".to_string(), w.supervisor.clone()),
                        ]),
                    })
            })
            .collect()
    }
}
