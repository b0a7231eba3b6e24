//! Nimbus's REST API (JSON over HTTP, axum on nimbus's tokio runtime): what `gale list`
//! shows, per topology its plan and workers, and the `kill` and `rebalance` actions.
//!
//! ```text
//! GET  /api/v1/cluster                       supervisors, slots used and free
//! GET  /api/v1/topologies                    every topology: status, version, workers
//! GET  /api/v1/topologies/{id}               one topology: its plan, workers, counters
//! POST /api/v1/topologies/{id}/kill          kill it
//! POST /api/v1/topologies/{id}/rebalance     {"parallelism": {"relay": 1}}
//! ```
//!
//! With a cluster secret every request needs `Authorization: Bearer <secret>` (401 when
//! it is missing or malformed, 403 when it is wrong), reads too unless nimbus runs with
//! `--http-public-read`; only the admin secret is accepted (not a worker credential).
//! Actions need the header even then, which a browser never sends by itself: no CSRF.
//! Without a secret the API listens only on loopback, as the gRPC port does.

use super::{NimbusService, refused};
use crate::cluster::controller::commands;
use crate::cluster::controller::state::now_ms;
use crate::cluster::proto::{
    ComponentStats, ParallelismChange, SupervisorStatus, TopologyStatus, WorkerInfo,
};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

/// What the handlers share.
#[derive(Clone)]
struct Api {
    nimbus: Arc<NimbusService>,
    public_read: bool,
}

/// The router of the API.
pub(super) fn router(nimbus: Arc<NimbusService>, public_read: bool) -> axum::Router {
    axum::Router::new()
        .route("/api/v1/cluster", get(cluster))
        .route("/api/v1/topologies", get(topologies))
        .route("/api/v1/topologies/{id}", get(topology))
        .route("/api/v1/topologies/{id}/kill", post(kill))
        .route("/api/v1/topologies/{id}/rebalance", post(rebalance))
        .with_state(Api {
            nimbus,
            public_read,
        })
}

/// An error answer: a status and `{"error": "..."}`.
#[derive(Debug)]
struct ApiError(StatusCode, String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        #[derive(Serialize)]
        struct Body {
            error: String,
        }
        (self.0, Json(Body { error: self.1 })).into_response()
    }
}

impl From<tonic::Status> for ApiError {
    fn from(s: tonic::Status) -> ApiError {
        let code = match s.code() {
            tonic::Code::NotFound => StatusCode::NOT_FOUND,
            tonic::Code::AlreadyExists => StatusCode::CONFLICT,
            tonic::Code::InvalidArgument => StatusCode::BAD_REQUEST,
            tonic::Code::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiError(code, s.message().to_string())
    }
}

impl Api {
    /// Checks the bearer secret: for reads only if they are not public.
    fn authorize(&self, headers: &HeaderMap, action: bool) -> Result<(), ApiError> {
        let Some(secret) = &self.nimbus.security.secret else {
            return Ok(());
        };
        if !action && self.public_read {
            return Ok(());
        }
        let Some(value) = headers.get("authorization") else {
            return Err(ApiError(
                StatusCode::UNAUTHORIZED,
                "missing cluster secret: send `Authorization: Bearer <secret>`".into(),
            ));
        };
        let Some(token) = value.as_bytes().strip_prefix(b"Bearer ") else {
            return Err(ApiError(
                StatusCode::UNAUTHORIZED,
                "malformed `Authorization` header: expected `Bearer <cluster secret>`".into(),
            ));
        };
        if secret.matches(token) {
            Ok(())
        } else {
            Err(ApiError(
                StatusCode::FORBIDDEN,
                "wrong cluster secret".into(),
            ))
        }
    }

    fn status(&self) -> (Vec<TopologyStatus>, Vec<SupervisorStatus>) {
        let (mut topologies, supervisors) = self.nimbus.state().status(Instant::now(), now_ms());
        for t in &mut topologies {
            if let Some(c) = t.checkpoints.as_mut() {
                self.nimbus.checkpoints.fill(&t.id, c);
            }
        }
        (topologies, supervisors)
    }
}

/// A supervisor.
#[derive(Debug, Serialize)]
struct SupervisorJson {
    id: String,
    host: String,
    slots: Vec<u32>,
    used: u32,
    free: u32,
    alive: bool,
    last_heartbeat_ms: u64,
}

/// The cluster overview.
#[derive(Debug, Serialize)]
struct ClusterJson {
    supervisors: Vec<SupervisorJson>,
    slots_total: u32,
    slots_used: u32,
    slots_free: u32,
    topologies: usize,
}

/// A worker of a topology.
#[derive(Debug, Serialize)]
struct WorkerJson {
    index: u32,
    supervisor: String,
    host: String,
    port: u32,
    state: String,
    restarts: u32,
    last_exit: String,
    last_heartbeat_ms: u64,
    executors: Vec<String>,
}

/// One component's counters, summed over its workers.
#[derive(Debug, Serialize)]
struct ComponentJson {
    name: String,
    emitted: u64,
    executed: u64,
    acked: u64,
    failed: u64,
    /// Windows: tuples sent to the `late` stream (later than the allowed lateness).
    late: u64,
    /// Emitted (spouts) or executed (bolts) per second over the last heartbeat interval.
    tuples_per_second: f64,
}

/// A fused chain of the plan.
#[derive(Debug, Serialize)]
struct ChainJson {
    components: Vec<String>,
    tasks: u32,
    executors: u32,
    spout: bool,
}

/// A topology's plan as submitted (with the executors of its current assignment).
#[derive(Debug, Serialize)]
struct PlanJson {
    workers: u32,
    ackers: u32,
    chains: Vec<ChainJson>,
    config: BTreeMap<String, String>,
}

/// A topology in the list.
#[derive(Debug, Serialize)]
struct TopologyJson {
    id: String,
    name: String,
    status: String,
    version: u64,
    uptime_ms: u64,
    restarts: u32,
    workers: Vec<WorkerJson>,
    #[serde(skip_serializing_if = "Option::is_none")]
    plan: Option<PlanJson>,
    #[serde(skip_serializing_if = "Option::is_none")]
    components: Option<Vec<ComponentJson>>,
    /// Why it stopped for good (status `failed`).
    #[serde(skip_serializing_if = "String::is_empty")]
    failure: String,
    /// An exactly_once topology's checkpoints.
    #[serde(skip_serializing_if = "Option::is_none")]
    checkpoints: Option<CheckpointsJson>,
}

/// An exactly_once topology's checkpoints, as `gale list` shows them.
#[derive(Debug, Serialize)]
struct CheckpointsJson {
    last_id: u64,
    last_duration_ms: u64,
    last_bytes: u64,
    last_alignment_ms: u64,
    last_pause_us: u64,
    completed: u64,
    failed: u64,
    restarts: u32,
    last_failure: String,
    storage: String,
}

fn worker_json(w: &WorkerInfo) -> WorkerJson {
    WorkerJson {
        index: w.index,
        supervisor: w.supervisor.clone(),
        host: w.host.clone(),
        port: w.port,
        state: w.state.clone(),
        restarts: w.restarts,
        last_exit: w.last_exit.clone(),
        last_heartbeat_ms: w.last_heartbeat_ms,
        executors: w.executors.clone(),
    }
}

fn component_json(c: &ComponentStats) -> ComponentJson {
    ComponentJson {
        name: c.component.clone(),
        emitted: c.emitted,
        executed: c.executed,
        acked: c.acked,
        failed: c.failed,
        late: c.late,
        tuples_per_second: c.rate,
    }
}

fn topology_json(t: &TopologyStatus) -> TopologyJson {
    TopologyJson {
        id: t.id.clone(),
        name: t.name.clone(),
        status: t.status.clone(),
        version: t.version,
        uptime_ms: t.uptime_ms,
        restarts: t.workers.iter().map(|w| w.restarts).sum(),
        workers: t.workers.iter().map(worker_json).collect(),
        plan: None,
        components: None,
        failure: t.failure.clone(),
        checkpoints: t.checkpoints.as_ref().map(|c| CheckpointsJson {
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
        }),
    }
}

async fn cluster(
    State(api): State<Api>,
    headers: HeaderMap,
) -> Result<Json<ClusterJson>, ApiError> {
    api.authorize(&headers, false)?;
    let (topologies, supervisors) = api.status();
    let supervisors: Vec<SupervisorJson> = supervisors
        .into_iter()
        .map(|s| SupervisorJson {
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
    Ok(Json(ClusterJson {
        supervisors,
        slots_total,
        slots_used,
        slots_free: slots_total.saturating_sub(slots_used),
        topologies: topologies.len(),
    }))
}

async fn topologies(
    State(api): State<Api>,
    headers: HeaderMap,
) -> Result<Json<Vec<TopologyJson>>, ApiError> {
    api.authorize(&headers, false)?;
    Ok(Json(api.status().0.iter().map(topology_json).collect()))
}

async fn topology(
    State(api): State<Api>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<TopologyJson>, ApiError> {
    api.authorize(&headers, false)?;
    let status = api
        .status()
        .0
        .into_iter()
        .find(|t| t.id == id)
        .ok_or_else(|| ApiError(StatusCode::NOT_FOUND, format!("no topology `{id}`")))?;
    let plan = {
        let state = api.nimbus.state();
        state.topologies.get(&id).and_then(|t| {
            let p = t.record.plan.as_ref()?;
            let executors = t
                .record
                .assignment
                .as_ref()
                .map(|a| a.parallelism.clone())
                .unwrap_or_default();
            Some(PlanJson {
                workers: p.workers,
                ackers: p.ackers,
                chains: p
                    .chains
                    .iter()
                    .enumerate()
                    .map(|(i, c)| ChainJson {
                        components: c.components.clone(),
                        tasks: c.tasks,
                        executors: executors.get(i).copied().unwrap_or(c.parallelism),
                        spout: c.spout,
                    })
                    .collect(),
                config: p
                    .config
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
            })
        })
    };
    let mut json = topology_json(&status);
    // Every component of the plan, with zeros until its workers report.
    let mut components: Vec<ComponentJson> = plan
        .iter()
        .flat_map(|p| &p.chains)
        .flat_map(|c| &c.components)
        .map(|name| {
            status
                .components
                .iter()
                .find(|c| &c.component == name)
                .map_or_else(
                    || ComponentJson {
                        name: name.clone(),
                        emitted: 0,
                        executed: 0,
                        acked: 0,
                        failed: 0,
                        late: 0,
                        tuples_per_second: 0.0,
                    },
                    component_json,
                )
        })
        .collect();
    if components.is_empty() {
        components = status.components.iter().map(component_json).collect();
    }
    json.plan = plan;
    json.components = Some(components);
    Ok(Json(json))
}

/// What `kill` answers.
#[derive(Debug, Serialize)]
struct KilledJson {
    killed: Vec<String>,
}

async fn kill(
    State(api): State<Api>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<KilledJson>, ApiError> {
    api.authorize(&headers, true)?;
    let nimbus = &api.nimbus;
    let mut state = nimbus.state();
    let (decision, ids) = commands::kill(&state, &id).map_err(refused)?;
    nimbus.carry_out(&mut state, decision)?;
    Ok(Json(KilledJson { killed: ids }))
}

/// The body of `rebalance`: executors per component.
#[derive(Debug, Deserialize)]
struct RebalanceJson {
    parallelism: BTreeMap<String, u32>,
}

/// What `rebalance` answers.
#[derive(Debug, Serialize)]
struct RebalancedJson {
    id: String,
    version: u64,
}

async fn rebalance(
    State(api): State<Api>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Json<RebalancedJson>, ApiError> {
    api.authorize(&headers, true)?;
    let req: RebalanceJson = serde_json::from_slice(&body).map_err(|e| {
        ApiError(
            StatusCode::BAD_REQUEST,
            format!("expected {{\"parallelism\": {{\"component\": executors}}}}: {e}"),
        )
    })?;
    let changes: Vec<ParallelismChange> = req
        .parallelism
        .into_iter()
        .map(|(component, parallelism)| ParallelismChange {
            component,
            parallelism,
        })
        .collect();
    let nimbus = &api.nimbus;
    let mut state = nimbus.state();
    let (decision, id, version) =
        commands::rebalance(&state, &id, &changes, Instant::now()).map_err(refused)?;
    nimbus.carry_out(&mut state, decision)?;
    Ok(Json(RebalancedJson { id, version }))
}
