//! Nimbus (Storm's Nimbus, Flink's JobManager): receives topology binaries, stores them by
//! content hash, schedules their executors onto supervisor slots, watches heartbeats and
//! reassigns the workers of dead supervisors and silent workers. Its metadata lives in a
//! [`MetaStore`]; a restarted nimbus recovers every topology and assignment from it, and
//! the cluster keeps running while it is down.

mod blobs;
pub mod state;

use super::auth_gate::AuthGate;
use super::client::MAX_MESSAGE;
use super::credential::Caller;
use super::proto::nimbus_server::{Nimbus, NimbusServer};
use super::proto::{
    Assignment, AssignmentRequest, BinaryChunk, DownloadRequest, KillReply, KillRequest, ListReply,
    ListRequest, RebalanceReply, RebalanceRequest, SubmitChunk, SubmitReply,
    SupervisorHeartbeatReply, SupervisorHeartbeatRequest, WorkerHeartbeatReply,
    WorkerHeartbeatRequest, submit_chunk,
};
use super::security::Security;
use super::store::{FileStore, MetaStore};
use blobs::Blobs;
use state::{KillTarget, State, SupervisorState, Topo, WorkerBeat};
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
        }
    }
}

/// The nimbus service.
#[derive(Debug)]
pub struct NimbusService {
    state: Mutex<State>,
    store: Arc<dyn MetaStore>,
    blobs: Blobs,
    security: Security,
    max_binary: u64,
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
    )?;
    if !state.topologies.is_empty() {
        eprintln!(
            "gale nimbus: recovered {} topologies from {}",
            state.topologies.len(),
            config.dir.display()
        );
    }
    let service = Arc::new(NimbusService {
        state: Mutex::new(state),
        store,
        blobs: Blobs::open(config.dir.join("binaries"))?,
        security: config.security.clone(),
        max_binary: config.max_binary,
    });
    let watcher = service.clone();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_millis(500)).await;
            watcher.watch(Instant::now());
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
    eprintln!(
        "gale nimbus: listening on {} ({}, {})",
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

    /// Persists `topo` as topology `id` (`None`: its removal), and only then makes it the
    /// state: a change the store refused is not made.
    fn commit(&self, state: &mut State, id: &str, topo: Option<Topo>) -> Result<(), Status> {
        State::save_topo(self.store.as_ref(), id, topo.as_ref())
            .map_err(|e| Status::internal(format!("cannot persist topology `{id}`: {e}")))?;
        match topo {
            Some(t) => state.put(t),
            None => {
                state.topologies.remove(id);
            }
        }
        Ok(())
    }

    /// Recomputes topology `id`'s assignment and commits it if it changed; true if it did.
    fn reschedule(
        &self,
        state: &mut State,
        id: &str,
        force: bool,
        now: Instant,
    ) -> Result<bool, Status> {
        let Some(topo) = state.rescheduled(id, force, now) else {
            return Ok(false);
        };
        self.commit(state, id, Some(topo))?;
        Ok(true)
    }

    /// The failure detector: reschedules topologies that lost a supervisor or a worker.
    fn watch(&self, now: Instant) {
        let mut state = self.state();
        let ids = state.needing_reschedule(now);
        for id in ids {
            match self.reschedule(&mut state, &id, false, now) {
                Ok(true) => {
                    if let Some(a) = state
                        .topologies
                        .get(&id)
                        .and_then(|t| t.record.assignment.as_ref())
                    {
                        eprintln!(
                            "gale nimbus: reassigned `{id}` (version {}): {} workers",
                            a.version,
                            a.workers.len()
                        );
                    }
                }
                Ok(false) => {}
                Err(e) => eprintln!("gale nimbus: {}", e.message()),
            }
        }
        state.bad_slots.clear();
    }
}

type ChunkStream = Pin<Box<dyn Stream<Item = Result<BinaryChunk, Status>> + Send>>;

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
        let plan = header
            .plan
            .clone()
            .ok_or_else(|| Status::invalid_argument("the header has no plan"))?;
        validate_plan(&plan)?;
        if header.size > self.max_binary {
            return Err(Status::invalid_argument(format!(
                "binary of {} bytes exceeds the limit of {} bytes",
                header.size, self.max_binary
            )));
        }
        if self.state().by_name(&plan.name).is_some() {
            return Err(Status::already_exists(format!(
                "topology `{}` is already running; kill it first",
                plan.name
            )));
        }
        self.blobs
            .receive(&header.sha256, header.size, &mut stream)
            .await?;
        let now = Instant::now();
        let mut state = self.state();
        if state.by_name(&plan.name).is_some() {
            return Err(Status::already_exists(format!(
                "topology `{}` is already running; kill it first",
                plan.name
            )));
        }
        let (id, next) = state.next_topology_id(&plan.name);
        State::save_next_id(self.store.as_ref(), next).map_err(|e| {
            Status::internal(format!("cannot persist the topology id counter: {e}"))
        })?;
        state.next_id = next;
        let topo = state.admitted(&id, plan, header.sha256, now);
        self.commit(&mut state, &id, Some(topo))?;
        let workers = state
            .topologies
            .get(&id)
            .and_then(|t| t.record.assignment.as_ref())
            .map_or(0, |a| a.workers.len() as u32);
        eprintln!("gale nimbus: submitted `{id}` on {workers} workers");
        Ok(Response::new(SubmitReply {
            topology_id: id,
            workers,
        }))
    }

    async fn list(&self, request: Request<ListRequest>) -> Result<Response<ListReply>, Status> {
        self.security.check(&request)?;
        let (topologies, supervisors) = self.state().status(Instant::now());
        Ok(Response::new(ListReply {
            topologies,
            supervisors,
        }))
    }

    async fn kill(&self, request: Request<KillRequest>) -> Result<Response<KillReply>, Status> {
        self.security.check(&request)?;
        let name = request.into_inner().name;
        let mut state = self.state();
        let target = state
            .to_kill(&name)
            .ok_or_else(|| Status::not_found(format!("no topology `{name}`")))?;
        let ids = match target {
            KillTarget::Running(id) => vec![id],
            KillTarget::Finished(ids) => ids,
        };
        for id in &ids {
            self.commit(&mut state, id, None)?;
            eprintln!("gale nimbus: killed `{id}`");
        }
        let id = ids.join(", ");
        Ok(Response::new(KillReply { topology_id: id }))
    }

    async fn rebalance(
        &self,
        request: Request<RebalanceRequest>,
    ) -> Result<Response<RebalanceReply>, Status> {
        self.security.check(&request)?;
        let req = request.into_inner();
        let mut state = self.state();
        let id = state
            .running(&req.name)
            .map(|t| t.record.id.clone())
            .ok_or_else(|| Status::not_found(format!("no running topology `{}`", req.name)))?;
        let topo = state
            .topologies
            .get(&id)
            .ok_or_else(|| Status::not_found("gone"))?;
        let plan = topo.record.plan.clone().unwrap_or_default();
        let mut parallelism = topo
            .record
            .assignment
            .as_ref()
            .map(|a| a.parallelism.clone())
            .unwrap_or_default();
        for ch in &req.changes {
            let Some((i, chain)) = plan
                .chains
                .iter()
                .enumerate()
                .find(|(_, c)| c.components.contains(&ch.component))
            else {
                return Err(Status::invalid_argument(format!(
                    "topology `{}` has no component `{}`",
                    req.name, ch.component
                )));
            };
            if ch.parallelism == 0 || ch.parallelism > chain.tasks {
                return Err(Status::invalid_argument(format!(
                    "component `{}` has {} tasks: its parallelism must be 1..={}",
                    ch.component, chain.tasks, chain.tasks
                )));
            }
            parallelism[i] = ch.parallelism;
        }
        // Decide on a copy; the state changes only once the store has the new record.
        let mut changed = topo.clone();
        if let Some(a) = changed.record.assignment.as_mut() {
            a.parallelism = parallelism;
        }
        let topo = state
            .reassigned(&id, changed, true, Instant::now())
            .ok_or_else(|| Status::internal("rebalance produced no assignment"))?;
        self.commit(&mut state, &id, Some(topo))?;
        let version = state
            .topologies
            .get(&id)
            .and_then(|t| t.record.assignment.as_ref())
            .map_or(0, |a| a.version);
        eprintln!("gale nimbus: rebalanced `{id}` (version {version})");
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
        if req.id.is_empty() || req.ports.is_empty() {
            return Err(Status::invalid_argument(
                "a supervisor needs an id and ports",
            ));
        }
        let now = Instant::now();
        let mut state = self.state();
        let fresh = !state.supervisor_alive(&req.id, now);
        state.supervisors.insert(
            req.id.clone(),
            SupervisorState {
                host: req.host,
                ports: req.ports,
                last: now,
                running: req.workers,
            },
        );
        if fresh {
            eprintln!("gale nimbus: supervisor `{}` is up", req.id);
            // Topologies waiting for slots may fit now.
            let waiting: Vec<String> = state
                .topologies
                .iter()
                .filter(|(_, t)| {
                    let want = t.record.plan.as_ref().map_or(1, |p| p.workers) as usize;
                    !t.record.finished
                        && t.record
                            .assignment
                            .as_ref()
                            .is_some_and(|a| a.workers.len() < want)
                })
                .map(|(id, _)| id.clone())
                .collect();
            for id in waiting {
                self.reschedule(&mut state, &id, false, now)?;
            }
        }
        Ok(Response::new(SupervisorHeartbeatReply {
            assignments: state.assignments_of(&req.id),
        }))
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
        let now = Instant::now();
        let mut state = self.state();
        let Some(topo) = state.topologies.get_mut(&req.topology_id) else {
            return Ok(Response::new(WorkerHeartbeatReply {
                keep_running: false,
                assignment_version: 0,
            }));
        };
        let version = topo.record.assignment.as_ref().map_or(0, |a| a.version);
        let current = topo.record.assignment.as_ref().is_some_and(|a| {
            a.workers
                .iter()
                .any(|w| w.index == req.worker && w.since == req.version)
        });
        if !current {
            return Ok(Response::new(WorkerHeartbeatReply {
                keep_running: false,
                assignment_version: version,
            }));
        }
        let unhealthy = if req.unhealthy.is_empty() {
            topo.beats
                .get(&req.worker)
                .map(|b| b.unhealthy.clone())
                .unwrap_or_default()
        } else {
            eprintln!(
                "gale nimbus: worker {} of `{}` is unhealthy: {}",
                req.worker, req.topology_id, req.unhealthy
            );
            req.unhealthy
        };
        topo.beats.insert(
            req.worker,
            WorkerBeat {
                at: now,
                version: req.version,
                stats: req.stats,
                finished: req.finished,
                pid: req.pid,
                unhealthy,
            },
        );
        let workers = topo
            .record
            .assignment
            .as_ref()
            .map_or(0, |a| a.workers.len());
        let all_done = (0..workers as u32).all(|w| topo.beats.get(&w).is_some_and(|b| b.finished));
        if all_done && !topo.record.finished {
            let mut done = topo.clone();
            done.record.finished = true;
            self.commit(&mut state, &req.topology_id, Some(done))?;
            eprintln!("gale nimbus: `{}` finished", req.topology_id);
        }
        Ok(Response::new(WorkerHeartbeatReply {
            keep_running: true,
            assignment_version: version,
        }))
    }
}

/// The longest topology name accepted (its id and store key must fit [`super::store::MAX_KEY_LEN`]).
pub const MAX_NAME: usize = 128;
/// The most fused chains a plan may have.
pub const MAX_CHAINS: usize = 4096;
/// The most tasks one chain may have.
pub const MAX_TASKS: u32 = 65_536;
/// The most executors a whole plan may have.
pub const MAX_EXECUTORS: u64 = 65_536;

/// A plan nimbus can schedule, or a clear error.
fn validate_plan(plan: &super::proto::Plan) -> Result<(), Status> {
    let bad = |m: String| Err(Status::invalid_argument(m));
    if plan.name.len() > MAX_NAME {
        return bad(format!(
            "topology name of {} bytes: at most {MAX_NAME} are allowed",
            plan.name.len()
        ));
    }
    if plan.name.is_empty()
        || !plan
            .name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_')
    {
        return bad(format!("invalid topology name `{}`", plan.name));
    }
    if plan.workers == 0 || plan.workers > 1024 {
        return bad(format!("workers must be 1..=1024, not {}", plan.workers));
    }
    if plan.chains.is_empty() {
        return bad("the plan has no chains".into());
    }
    if plan.chains.len() > MAX_CHAINS {
        return bad(format!(
            "the plan has {} chains: at most {MAX_CHAINS} are allowed",
            plan.chains.len()
        ));
    }
    let mut executors = 0u64;
    for c in &plan.chains {
        if c.parallelism == 0 || c.parallelism > c.tasks || c.components.is_empty() {
            return bad(format!("malformed chain {:?}", c.components));
        }
        if c.tasks > MAX_TASKS {
            return bad(format!(
                "chain {:?} has {} tasks: at most {MAX_TASKS} are allowed",
                c.components, c.tasks
            ));
        }
        executors += u64::from(c.parallelism);
    }
    if executors > MAX_EXECUTORS {
        return bad(format!(
            "the plan has {executors} executors: at most {MAX_EXECUTORS} are allowed"
        ));
    }
    if plan.ackers > 1024 {
        return bad(format!("ackers must be at most 1024, not {}", plan.ackers));
    }
    Ok(())
}
