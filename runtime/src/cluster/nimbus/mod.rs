//! Nimbus (Storm's Nimbus, Flink's JobManager): receives topology binaries, stores them by
//! content hash, schedules their executors onto supervisor slots, watches heartbeats and
//! reassigns the workers of dead supervisors and silent workers. Its metadata lives in a
//! [`MetaStore`]; a restarted nimbus recovers every topology and assignment from it, and
//! the cluster keeps running while it is down.

mod blobs;
mod checkpoints;
mod http;
mod observed;

use super::auth_gate::AuthGate;
use super::client::MAX_MESSAGE;
use super::controller::state::now_ms;
use super::controller::{self, Decision, Refused, State, beats, commands};
use super::credential::Caller;
use super::proto::nimbus_server::{Nimbus, NimbusServer};
use super::proto::{
    Assignment, AssignmentRequest, BinaryChunk, CheckpointCommand, CheckpointReport,
    DownloadRequest, KillReply, KillRequest, ListReply, ListRequest, RebalanceReply,
    RebalanceRequest, SavepointReply, SavepointRequest, SubmitChunk, SubmitReply,
    SupervisorHeartbeatReply, SupervisorHeartbeatRequest, SupervisorStatus, TopologyStatus,
    WorkerHeartbeatReply, WorkerHeartbeatRequest, checkpoint_report, submit_chunk,
};
use super::security::Security;
use super::store::{FileStore, MetaStore};
use blobs::Blobs;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio_stream::Stream;
use tonic::{Request, Response, Status, Streaming};

/// The most concurrent HTTP/2 streams (calls) one connection may have open.
pub const MAX_STREAMS_PER_CONNECTION: u32 = 16;
/// The most header bytes a request may carry.
pub const MAX_HEADER_BYTES: u32 = 16 << 10;
/// How long an upload may wait for its next chunk before it is abandoned (slow bodies).
pub const CHUNK_TIMEOUT: Duration = Duration::from_secs(30);

/// How nimbus runs.
#[derive(Debug, Clone)]
pub struct NimbusConfig {
    /// The gRPC address.
    pub listen: SocketAddr,
    /// Where the store and the binaries live.
    pub dir: PathBuf,
    /// Secret and TLS.
    pub security: Security,
    /// A supervisor silent this long is dead; its workers move.
    pub supervisor_timeout: Duration,
    /// A worker silent this long (while its supervisor lives) is moved to another slot.
    pub worker_timeout: Duration,
    /// The largest binary accepted.
    pub max_binary: u64,
    /// Where the REST API listens (`None`: it does not run).
    pub http: Option<SocketAddr>,
    /// `http` was not asked for but is the default: if its port is taken, nimbus runs
    /// without the API (and says so) instead of failing.
    pub http_optional: bool,
    /// The API's reads need no secret (actions still do).
    pub http_public_read: bool,
}

impl NimbusConfig {
    /// Defaults: Storm's timeouts scaled down (supervisor 10 s, worker 30 s), 512 MiB
    /// binaries.
    pub fn new(listen: SocketAddr, dir: PathBuf) -> Self {
        NimbusConfig {
            listen,
            dir,
            security: Security::default(),
            supervisor_timeout: Duration::from_secs(10),
            worker_timeout: Duration::from_secs(30),
            max_binary: 512 << 20,
            http: None,
            http_optional: false,
            http_public_read: false,
        }
    }
}

/// The nimbus service.
#[derive(Debug)]
pub struct NimbusService {
    state: Arc<Mutex<State>>,
    store: Arc<dyn MetaStore>,
    blobs: Blobs,
    security: Security,
    max_binary: u64,
    /// The checkpoint coordinators of exactly_once topologies.
    checkpoints: checkpoints::Drivers,
    /// What the workers' heartbeats said about their tasks.
    observed: Mutex<observed::Observed>,
}

/// Runs nimbus until the process is stopped.
pub async fn serve(config: NimbusConfig) -> Result<(), String> {
    config.security.check_bind(&config.listen)?;
    std::fs::create_dir_all(&config.dir)
        .map_err(|e| format!("cannot create {}: {e}", config.dir.display()))?;
    let store: Arc<dyn MetaStore> =
        Arc::new(FileStore::open(config.dir.join("store")).map_err(|e| e.to_string())?);
    let state = State::recover(
        store.as_ref(),
        config.supervisor_timeout,
        config.worker_timeout,
        Instant::now(),
    )?;
    if !state.topologies.is_empty() {
        tracing::info!(
            "recovered {} topologies from {}",
            state.topologies.len(),
            config.dir.display()
        );
    }
    let state = Arc::new(Mutex::new(state));
    let control = checkpoints::Control {
        state: state.clone(),
        store: store.clone(),
    };
    let default_storage = config.dir.join("checkpoints").display().to_string();
    let service = Arc::new(NimbusService {
        state,
        checkpoints: checkpoints::Drivers::new(control, default_storage),
        store,
        blobs: Blobs::open(config.dir.join("binaries"))?,
        security: config.security.clone(),
        max_binary: config.max_binary,
        observed: Mutex::new(observed::Observed::new()),
    });
    if let Some(addr) = config.http {
        config.security.check_bind(&addr)?;
        match tokio::net::TcpListener::bind(addr).await {
            Ok(listener) => {
                let tls = match &config.security.tls {
                    Some(f) => Some(crate::web::tls::server_config(&f.cert, &f.key)?),
                    None => None,
                };
                let policy = crate::web::auth::Policy {
                    secret: config.security.secret.clone().map(
                        |s| -> crate::web::auth::SecretCheck {
                            Arc::new(move |candidate: &[u8]| s.matches(candidate))
                        },
                    ),
                    public_read: config.http_public_read,
                    tls: tls.is_some(),
                };
                let scheme = if tls.is_some() { "https" } else { "http" };
                let backend = Arc::new(http::NimbusBackend {
                    nimbus: service.clone(),
                });
                let app = crate::web::api::router(backend, policy);
                crate::web::spawn(listener, tls, app, "REST API")
                    .map_err(|e| format!("the REST API on {addr}: {e}"))?;
                tracing::info!(
                    "web UI on {scheme}://{addr}/, REST API on {scheme}://{addr}/api/v1/, metrics on {scheme}://{addr}/metrics"
                );
            }
            Err(e) if config.http_optional => tracing::warn!(
                error = %e,
                "no REST API: cannot listen on {addr} (choose one with --http ADDR)"
            ),
            Err(e) => return Err(format!("cannot listen on {addr} (--http): {e}")),
        }
    }
    let watcher = service.clone();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_millis(500)).await;
            watcher.watch(Instant::now());
            watcher.observe(now_ms());
        }
    });
    // Limits on what one connection may hold: streams, header bytes, idle peers. The
    // secret is checked from the headers before a body is read (see `AuthGate`).
    let mut builder = tonic::transport::Server::builder()
        .max_concurrent_streams(MAX_STREAMS_PER_CONNECTION)
        .concurrency_limit_per_connection(MAX_STREAMS_PER_CONNECTION as usize)
        .http2_max_header_list_size(MAX_HEADER_BYTES)
        .http2_keepalive_interval(Some(Duration::from_secs(20)))
        .http2_keepalive_timeout(Some(Duration::from_secs(10)))
        .tcp_keepalive(Some(Duration::from_secs(60)));
    if let Some(tls) = config.security.server_tls()? {
        builder = builder
            .tls_config(tls)
            .map_err(|e| format!("TLS settings: {e}"))?;
    }
    let server = NimbusServer::from_arc(service)
        .max_decoding_message_size(MAX_MESSAGE)
        .max_encoding_message_size(MAX_MESSAGE);
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", config.listen))?;
    tracing::info!(
        "nimbus listening on {} ({}, {})",
        config.listen,
        if config.security.secret.is_some() {
            "secret required"
        } else {
            "no secret: loopback only"
        },
        if config.security.tls.is_some() {
            "TLS"
        } else {
            "plaintext"
        }
    );
    builder
        .add_service(AuthGate::new(server, config.security.clone()))
        .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener))
        .await
        .map_err(|e| format!("nimbus server: {e}"))
}

impl NimbusService {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Carries out a decision (persisting each change before making it) and logs it.
    fn carry_out(&self, state: &mut State, decision: Decision) -> Result<(), Status> {
        match controller::carry_out(self.store.as_ref(), state, decision) {
            Ok(log) => {
                for line in log {
                    tracing::info!("{line}");
                }
                Ok(())
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot persist a change");
                Err(Status::internal(format!("cannot persist the change: {e}")))
            }
        }
    }

    /// What the heartbeats said.
    fn observed(&self) -> MutexGuard<'_, observed::Observed> {
        self.observed.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Forgets killed topologies and workers no longer assigned (carrying their counts),
    /// and records a history sample of every topology.
    fn observe(&self, wall_ms: u64) {
        let plans: Vec<Watched> = {
            let state = self.state();
            state
                .topologies
                .iter()
                .map(|(id, t)| {
                    let plan = t
                        .record
                        .plan
                        .as_ref()
                        .map(|p| http::plan_view(p, &[]))
                        .map(|p| {
                            (
                                p.components.iter().map(|c| c.name.clone()).collect(),
                                p.spouts(),
                            )
                        })
                        .unwrap_or_default();
                    let workers = t
                        .record
                        .assignment
                        .iter()
                        .flat_map(|a| a.workers.iter().map(|w| w.index))
                        .collect();
                    Watched {
                        id: id.clone(),
                        components: plan.0,
                        spouts: plan.1,
                        workers,
                    }
                })
                .collect()
        };
        let mut observed = self.observed();
        observed.retain(|id| plans.iter().find(|w| w.id == id).map(|w| w.workers.clone()));
        for w in &plans {
            observed.sample(&w.id, wall_ms, &w.components, &w.spouts);
        }
    }

    /// Every topology's status (as `gale list` shows it): its counters as observed (kept
    /// across worker restarts and rebalances), with rates over the last 10 s, and its
    /// checkpoints as the coordinator saw them.
    fn status(&self) -> (Vec<TopologyStatus>, Vec<SupervisorStatus>) {
        let (mut topologies, supervisors) = self.state().status(Instant::now(), now_ms());
        let observed = self.observed();
        for t in &mut topologies {
            if let Some(c) = t.checkpoints.as_mut() {
                self.checkpoints.fill(&t.id, c);
            }
            let names: Vec<String> = t.components.iter().map(|c| c.component.clone()).collect();
            let readings = observed.readings(&t.id, &names);
            for (c, r) in t.components.iter_mut().zip(readings) {
                c.emitted = r.emitted;
                c.executed = r.executed;
                c.acked = r.acked;
                c.failed = r.failed;
                c.late = r.late;
                let rates = observed.rates(&t.id, &c.component, crate::web::history::SHORT_MS);
                c.emitted_per_second = rates.emitted;
                c.executed_per_second = rates.executed;
            }
        }
        (topologies, supervisors)
    }

    /// Takes a savepoint of the running topology `name` (or id), copied to `dir` when it
    /// is not empty; waits for it to complete.
    async fn take_savepoint(&self, name: &str, dir: String) -> Result<SavepointReply, Status> {
        let id = self
            .state()
            .running(name)
            .map(|t| t.record.id.clone())
            .ok_or_else(|| Status::not_found(format!("no running topology `{name}`")))?;
        let events = self.checkpoints.driver(&id)?;
        let (reply, answer) = tokio::sync::oneshot::channel();
        events
            .send(checkpoints::Event::Savepoint { dir, reply })
            .map_err(|_| Status::unavailable("the checkpoint coordinator stopped"))?;
        match tokio::time::timeout(SAVEPOINT_TIMEOUT, answer).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(Status::unavailable(
                "the checkpoint coordinator stopped before the savepoint completed",
            )),
            Err(_) => Err(Status::deadline_exceeded(format!(
                "the savepoint of `{id}` did not complete within {SAVEPOINT_TIMEOUT:?}"
            ))),
        }
    }

    /// The failure detector's tick.
    fn watch(&self, now: Instant) {
        let mut state = self.state();
        let decision = controller::tick(&state, now);
        // A failure is logged by `carry_out`; the next tick tries again.
        let _ = self.carry_out(&mut state, decision);
    }
}

/// A topology as [`NimbusService::observe`] samples it.
struct Watched {
    id: String,
    /// Its components, plan order.
    components: Vec<String>,
    /// Which of them are spouts.
    spouts: Vec<bool>,
    /// Its assignment's workers.
    workers: Vec<u32>,
}

/// The gRPC status of a refusal.
fn refused(r: Refused) -> Status {
    match r {
        Refused::NotFound(m) => Status::not_found(m),
        Refused::AlreadyExists(m) => Status::already_exists(m),
        Refused::Invalid(m) => Status::invalid_argument(m),
        Refused::Unavailable(m) => Status::unavailable(m),
    }
}

type ChunkStream = Pin<Box<dyn Stream<Item = Result<BinaryChunk, Status>> + Send>>;
type CommandStream = Pin<Box<dyn Stream<Item = Result<CheckpointCommand, Status>> + Send>>;

/// How long `Savepoint` waits for the savepoint to complete.
pub const SAVEPOINT_TIMEOUT: Duration = Duration::from_secs(120);

#[tonic::async_trait]
impl Nimbus for NimbusService {
    async fn submit(
        &self,
        request: Request<Streaming<SubmitChunk>>,
    ) -> Result<Response<SubmitReply>, Status> {
        self.security.check(&request)?;
        let mut stream = request.into_inner();
        let first = tokio::time::timeout(CHUNK_TIMEOUT, stream.message())
            .await
            .map_err(|_| Status::deadline_exceeded("no upload header within 30 s"))?;
        let header = match first? {
            Some(SubmitChunk {
                part: Some(submit_chunk::Part::Header(h)),
            }) => h,
            _ => {
                return Err(Status::invalid_argument(
                    "the first message must be the header",
                ));
            }
        };
        let mut plan = header
            .plan
            .clone()
            .ok_or_else(|| Status::invalid_argument("the header has no plan"))?;
        if let Some(ck) = plan.checkpoints.as_mut()
            && ck.storage.is_empty()
        {
            // Reachable from this machine only: fine for one machine, a shared mount, or
            // a test cluster; a real cluster names an object store at submit.
            ck.storage = self.checkpoints.default_storage().to_string();
            let remote = self.state().supervisors.values().any(|s| {
                !(s.host.is_empty() || s.host == "localhost" || s.host.starts_with("127."))
            });
            if remote {
                tracing::warn!(
                    topology = %plan.name,
                    "`{}` keeps its checkpoints in {} (no --checkpoint-dir), \
                     which workers on other machines cannot reach: give `submit \
                     --checkpoint-dir` a shared directory or an object store",
                    plan.name, ck.storage
                );
            }
        }
        if header.size > self.max_binary {
            return Err(Status::invalid_argument(format!(
                "binary of {} bytes exceeds the limit of {} bytes",
                header.size, self.max_binary
            )));
        }
        commands::check_submit(&self.state(), &plan).map_err(refused)?;
        self.blobs
            .receive(&header.sha256, header.size, &mut stream)
            .await?;
        let mut state = self.state();
        let (decision, admitted) =
            commands::submit(&state, plan, header.sha256, Instant::now(), now_ms())
                .map_err(refused)?;
        self.carry_out(&mut state, decision)?;
        Ok(Response::new(SubmitReply {
            topology_id: admitted.id,
            workers: admitted.workers,
        }))
    }

    async fn list(&self, request: Request<ListRequest>) -> Result<Response<ListReply>, Status> {
        self.security.check(&request)?;
        let (topologies, supervisors) = self.status();
        Ok(Response::new(ListReply {
            topologies,
            supervisors,
        }))
    }

    async fn kill(&self, request: Request<KillRequest>) -> Result<Response<KillReply>, Status> {
        self.security.check(&request)?;
        let name = request.into_inner().name;
        let mut state = self.state();
        let (decision, ids) = commands::kill(&state, &name).map_err(refused)?;
        self.carry_out(&mut state, decision)?;
        Ok(Response::new(KillReply {
            topology_id: ids.join(", "),
        }))
    }

    async fn rebalance(
        &self,
        request: Request<RebalanceRequest>,
    ) -> Result<Response<RebalanceReply>, Status> {
        self.security.check(&request)?;
        let req = request.into_inner();
        let mut state = self.state();
        let (decision, id, version) =
            commands::rebalance(&state, &req.name, &req.changes, Instant::now())
                .map_err(refused)?;
        self.carry_out(&mut state, decision)?;
        Ok(Response::new(RebalanceReply {
            topology_id: id,
            version,
        }))
    }

    async fn supervisor_heartbeat(
        &self,
        request: Request<SupervisorHeartbeatRequest>,
    ) -> Result<Response<SupervisorHeartbeatReply>, Status> {
        self.security.check(&request)?;
        let req = request.into_inner();
        let id = req.id.clone();
        let now = Instant::now();
        let mut state = self.state();
        let (fresh, mut assignments) = beats::supervisor(&mut state, req, now).map_err(refused)?;
        if fresh {
            tracing::info!(supervisor = %id, "supervisor `{id}` is up");
            // Topologies waiting for slots may fit now: decide at once, not at the next tick.
            let decision = controller::tick(&state, now);
            if !decision.is_empty() {
                self.carry_out(&mut state, decision)?;
                assignments = state.assignments_of(&id);
            }
        }
        Ok(Response::new(SupervisorHeartbeatReply { assignments }))
    }

    type DownloadStream = ChunkStream;

    async fn download(
        &self,
        request: Request<DownloadRequest>,
    ) -> Result<Response<Self::DownloadStream>, Status> {
        // A worker may download its own topology's binary only.
        if let Caller::Worker { topology } = self.security.caller(&request)? {
            let own = self
                .state()
                .topologies
                .get(&topology)
                .is_some_and(|t| t.record.sha256 == request.get_ref().sha256);
            if !own {
                return Err(Status::permission_denied(format!(
                    "a worker credential of `{topology}` may only download that topology's binary"
                )));
            }
        }
        let sha = request.into_inner().sha256;
        let chunks = self.blobs.chunks(&sha).await?;
        Ok(Response::new(Box::pin(tokio_stream::iter(
            chunks.into_iter().map(|data| Ok(BinaryChunk { data })),
        ))))
    }

    async fn get_assignment(
        &self,
        request: Request<AssignmentRequest>,
    ) -> Result<Response<Assignment>, Status> {
        self.security
            .check_worker(&request, &request.get_ref().topology_id)?;
        let id = request.into_inner().topology_id;
        let state = self.state();
        let a = state
            .topologies
            .get(&id)
            .and_then(|t| t.record.assignment.clone())
            .ok_or_else(|| Status::not_found(format!("no topology `{id}`")))?;
        if a.workers.is_empty() {
            return Err(Status::unavailable(format!(
                "topology `{id}` has no slots yet"
            )));
        }
        Ok(Response::new(a))
    }

    async fn worker_heartbeat(
        &self,
        request: Request<WorkerHeartbeatRequest>,
    ) -> Result<Response<WorkerHeartbeatReply>, Status> {
        self.security
            .check_worker(&request, &request.get_ref().topology_id)?;
        let req = request.into_inner();
        // The worker process's own random number, else (an older worker) its pid.
        let process = if req.process != 0 {
            req.process
        } else {
            u64::from(req.pid)
        };
        let (topology, worker, stats) = (req.topology_id.clone(), req.worker, req.stats.clone());
        let reply = {
            let mut state = self.state();
            let (decision, reply) = beats::worker(&mut state, req, Instant::now());
            self.carry_out(&mut state, decision)?;
            reply
        };
        if reply.keep_running {
            self.observed().beat(&topology, worker, process, &stats);
        }
        Ok(Response::new(reply))
    }

    type CheckpointsStream = CommandStream;

    async fn checkpoints(
        &self,
        request: Request<Streaming<CheckpointReport>>,
    ) -> Result<Response<Self::CheckpointsStream>, Status> {
        let caller = self.security.caller(&request)?;
        let mut stream = request.into_inner();
        let first = tokio::time::timeout(CHUNK_TIMEOUT, stream.message())
            .await
            .map_err(|_| Status::deadline_exceeded("no hello within 30 s"))?;
        let hello = match first? {
            Some(CheckpointReport {
                report: Some(checkpoint_report::Report::Hello(h)),
            }) => h,
            _ => {
                return Err(Status::invalid_argument(
                    "the first message must be the hello",
                ));
            }
        };
        if !caller.may_act_for(&hello.topology_id) {
            return Err(Status::permission_denied(format!(
                "this worker credential is not for topology `{}`",
                hello.topology_id
            )));
        }
        let events = self.checkpoints.driver(&hello.topology_id)?;
        let conn = self.checkpoints.conn();
        let (commands, out) = tokio::sync::mpsc::unbounded_channel();
        events
            .send(checkpoints::Event::Hello {
                hello,
                conn,
                commands,
            })
            .map_err(|_| Status::unavailable("the checkpoint coordinator stopped"))?;
        tokio::spawn(async move {
            loop {
                match stream.message().await {
                    Ok(Some(CheckpointReport {
                        report: Some(report),
                    })) => {
                        if events
                            .send(checkpoints::Event::Report { conn, report })
                            .is_err()
                        {
                            break;
                        }
                    }
                    Ok(Some(_)) => {}
                    Ok(None) | Err(_) => break,
                }
            }
            let _ = events.send(checkpoints::Event::Closed { conn });
        });
        Ok(Response::new(Box::pin(
            tokio_stream::wrappers::UnboundedReceiverStream::new(out),
        )))
    }

    async fn savepoint(
        &self,
        request: Request<SavepointRequest>,
    ) -> Result<Response<SavepointReply>, Status> {
        self.security.check(&request)?;
        let req = request.into_inner();
        self.take_savepoint(&req.name, req.dir)
            .await
            .map(Response::new)
    }
}
