//! The HTTP server of nimbus (and of `run --ui`): the REST API under `/api/v1/`, the web
//! UI, Prometheus's `/metrics` and its service discovery. The answers come from a
//! [`Backend`] (nimbus's state, or a local run's metrics); who may ask is [`Policy`]'s.
//!
//! ```text
//! GET    /                                      the web UI: the cluster page
//! GET    /topologies/{id}                       the web UI: a topology's page
//! GET    /api/v1/session                        mode, whether a secret is needed, CSRF token
//! POST   /api/v1/session      {"secret": ".."}  log in: a session cookie and its CSRF token
//! DELETE /api/v1/session                        log out
//! GET    /api/v1/cluster                        supervisors, slots used and free
//! GET    /api/v1/topologies                     every topology: status, uptime, workers
//! GET    /api/v1/topologies/{id}                one topology: plan, components, tasks, errors
//! GET    /api/v1/topologies/{id}/history        the last 10 minutes, for charts
//! POST   /api/v1/topologies/{id}/kill           kill it
//! POST   /api/v1/topologies/{id}/rebalance      {"parallelism": {"count": 2}}
//! POST   /api/v1/topologies/{id}/savepoint      {"dir": ".."} (optional): take a savepoint
//! GET    /api/v1/prometheus/targets             Prometheus HTTP service discovery
//! GET    /metrics                               Prometheus text format
//! ```

use super::auth::{self, Denied, Policy, Sessions};
use super::view::{
    ClusterView, HistoryView, SessionView, TargetGroup, TopologySummary, TopologyView,
};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

/// An error answer: a status and `{"error": "..."}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// What went wrong.
    pub message: String,
}

impl ApiError {
    /// An error with `status`.
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
        }
    }
}

impl From<Denied> for ApiError {
    fn from(d: Denied) -> Self {
        ApiError::new(d.status(), d.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        #[derive(Serialize)]
        struct Body {
            error: String,
        }
        (
            self.status,
            Json(Body {
                error: self.message,
            }),
        )
            .into_response()
    }
}

/// What `kill` answers.
#[derive(Debug, Clone, Serialize)]
pub struct Killed {
    /// The topologies killed.
    pub killed: Vec<String>,
}

/// What `rebalance` answers.
#[derive(Debug, Clone, Serialize)]
pub struct Rebalanced {
    /// The topology.
    pub id: String,
    /// Its new assignment version.
    pub version: u64,
}

/// What `savepoint` answers.
#[derive(Debug, Clone, Serialize)]
pub struct Savepointed {
    /// The checkpoint id of the savepoint.
    pub id: u64,
    /// Where it is (for `submit --from-savepoint`).
    pub path: String,
}

/// Where the server's answers come from.
pub trait Backend: Send + Sync + 'static {
    /// `cluster` or `local`.
    fn mode(&self) -> &'static str;
    /// The cluster overview.
    fn cluster(&self) -> ClusterView;
    /// Every topology.
    fn topologies(&self) -> Vec<TopologySummary>;
    /// One topology (`None`: no such topology).
    fn topology(&self, id: &str) -> Option<TopologyView>;
    /// Its recent past (`None`: no such topology).
    fn history(&self, id: &str) -> Option<HistoryView>;
    /// Kills it.
    fn kill(&self, id: &str) -> Result<Killed, ApiError>;
    /// Gives its components these executors.
    fn rebalance(
        &self,
        id: &str,
        parallelism: BTreeMap<String, u32>,
    ) -> Result<Rebalanced, ApiError>;
    /// Takes a savepoint (copied to `dir` when given).
    fn savepoint(&self, id: &str, dir: String)
    -> BoxFuture<'static, Result<Savepointed, ApiError>>;
    /// The Prometheus text of everything it knows.
    fn metrics(&self) -> String;
    /// The workers' `/metrics` endpoints, for Prometheus's HTTP service discovery.
    fn targets(&self) -> Vec<TargetGroup>;
}

/// What the handlers share.
struct Server {
    backend: Arc<dyn Backend>,
    policy: Policy,
    sessions: Sessions,
}

type Shared = Arc<Server>;

impl Server {
    fn check(&self, headers: &HeaderMap, action: bool) -> Result<(), ApiError> {
        self.policy
            .check(headers, action, &self.sessions, Instant::now())
            .map_err(ApiError::from)
    }
}

/// The router of the whole HTTP server.
pub fn router(backend: Arc<dyn Backend>, policy: Policy) -> axum::Router {
    let server = Arc::new(Server {
        backend,
        policy,
        sessions: Sessions::new(),
    });
    axum::Router::new()
        .route("/", get(super::assets::index))
        .route("/topologies/{id}", get(super::assets::index))
        .route("/ui/app.js", get(super::assets::script))
        .route("/ui/style.css", get(super::assets::style))
        .route("/api/v1/session", get(session).post(login).delete(logout))
        .route("/api/v1/cluster", get(cluster))
        .route("/api/v1/topologies", get(topologies))
        .route("/api/v1/topologies/{id}", get(topology))
        .route("/api/v1/topologies/{id}/history", get(history))
        .route("/api/v1/topologies/{id}/kill", post(kill))
        .route("/api/v1/topologies/{id}/rebalance", post(rebalance))
        .route("/api/v1/topologies/{id}/savepoint", post(savepoint))
        .route("/api/v1/prometheus/targets", get(targets))
        .route("/metrics", get(metrics))
        .with_state(server)
}

async fn session(State(s): State<Shared>, headers: HeaderMap) -> Result<Response, ApiError> {
    s.policy.check_host(&headers)?;
    let now = Instant::now();
    let current = s.sessions.of_request(&headers, now);
    let (opened, authenticated, fresh) = match current {
        Some((o, a)) => (Some(o), a, false),
        // Without a secret every browser gets a session at once: its CSRF token guards
        // the actions.
        None if s.policy.secret.is_none() => {
            let o = s.sessions.open(now, false).map_err(|_| no_randomness())?;
            (Some(o), false, true)
        }
        None => (None, false, false),
    };
    let secret_required = s.policy.secret.is_some();
    let view = SessionView {
        mode: s.backend.mode(),
        secret_required,
        public_read: s.policy.public_read,
        authenticated: authenticated || !secret_required,
        csrf: opened
            .as_ref()
            .filter(|_| authenticated || !secret_required)
            .map(|o| o.csrf.clone()),
    };
    let mut response = Json(view).into_response();
    if fresh && let Some(o) = &opened {
        set_cookie(&mut response, &auth::set_cookie(&o.token, s.policy.tls));
    }
    Ok(response)
}

/// The body of `POST /api/v1/session`.
#[derive(Debug, Deserialize)]
struct Login {
    secret: Option<String>,
}

async fn login(
    State(s): State<Shared>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    s.policy.check_host(&headers)?;
    let login: Login = serde_json::from_slice(&body).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("expected {{\"secret\": \"<cluster secret>\"}}: {e}"),
        )
    })?;
    s.policy.admits(login.secret.as_deref())?;
    let opened = s
        .sessions
        .open(Instant::now(), s.policy.secret.is_some())
        .map_err(|_| no_randomness())?;
    #[derive(Serialize)]
    struct Answer {
        csrf: String,
    }
    let mut response = Json(Answer {
        csrf: opened.csrf.clone(),
    })
    .into_response();
    set_cookie(
        &mut response,
        &auth::set_cookie(&opened.token, s.policy.tls),
    );
    Ok(response)
}

async fn logout(State(s): State<Shared>, headers: HeaderMap) -> Result<Response, ApiError> {
    s.check(&headers, true)?;
    if let Some(token) = auth::cookie(&headers, auth::COOKIE) {
        s.sessions.close(&token);
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    set_cookie(&mut response, &auth::clear_cookie(s.policy.tls));
    Ok(response)
}

fn set_cookie(response: &mut Response, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
}

fn no_randomness() -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "the system's random number generator failed: try again",
    )
}

async fn cluster(
    State(s): State<Shared>,
    headers: HeaderMap,
) -> Result<Json<ClusterView>, ApiError> {
    s.check(&headers, false)?;
    Ok(Json(s.backend.cluster()))
}

async fn topologies(
    State(s): State<Shared>,
    headers: HeaderMap,
) -> Result<Json<Vec<TopologySummary>>, ApiError> {
    s.check(&headers, false)?;
    Ok(Json(s.backend.topologies()))
}

fn no_topology(id: &str) -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, format!("no topology `{id}`"))
}

async fn topology(
    State(s): State<Shared>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<TopologyView>, ApiError> {
    s.check(&headers, false)?;
    s.backend
        .topology(&id)
        .map(Json)
        .ok_or_else(|| no_topology(&id))
}

async fn history(
    State(s): State<Shared>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<HistoryView>, ApiError> {
    s.check(&headers, false)?;
    s.backend
        .history(&id)
        .map(Json)
        .ok_or_else(|| no_topology(&id))
}

async fn kill(
    State(s): State<Shared>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Killed>, ApiError> {
    s.check(&headers, true)?;
    s.backend.kill(&id).map(Json)
}

/// The body of `rebalance`: executors per component.
#[derive(Debug, Deserialize)]
struct RebalanceBody {
    parallelism: BTreeMap<String, u32>,
}

async fn rebalance(
    State(s): State<Shared>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Json<Rebalanced>, ApiError> {
    s.check(&headers, true)?;
    let req: RebalanceBody = serde_json::from_slice(&body).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("expected {{\"parallelism\": {{\"component\": executors}}}}: {e}"),
        )
    })?;
    s.backend.rebalance(&id, req.parallelism).map(Json)
}

/// The body of `savepoint` (optional).
#[derive(Debug, Default, Deserialize)]
struct SavepointBody {
    #[serde(default)]
    dir: String,
}

async fn savepoint(
    State(s): State<Shared>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Json<Savepointed>, ApiError> {
    s.check(&headers, true)?;
    let req: SavepointBody = if body.iter().all(u8::is_ascii_whitespace) {
        SavepointBody::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                format!("expected {{}} or {{\"dir\": \"<directory or URL>\"}}: {e}"),
            )
        })?
    };
    s.backend.savepoint(&id, req.dir).await.map(Json)
}

async fn targets(
    State(s): State<Shared>,
    headers: HeaderMap,
) -> Result<Json<Vec<TargetGroup>>, ApiError> {
    s.check(&headers, false)?;
    Ok(Json(s.backend.targets()))
}

async fn metrics(State(s): State<Shared>, headers: HeaderMap) -> Result<Response, ApiError> {
    s.check(&headers, false)?;
    Ok((
        [(header::CONTENT_TYPE, super::prometheus::CONTENT_TYPE)],
        s.backend.metrics(),
    )
        .into_response())
}
