//! Worker mode: a topology binary started by a supervisor runs its share of the topology.
//!
//! It fetches the assignment from nimbus, starts the data plane to its peer workers, runs
//! its executors, and heartbeats its counters and its executors' progress every second.
//! An executor with input pending and no progress for the topology's `hang_timeout` makes
//! the worker unhealthy: it says why in one last heartbeat and exits with an error, so its
//! supervisor restarts it (see [`crate::exec::health`]). It also exits when nimbus says so
//! (the topology was killed, or reassigned: the supervisor starts it again with the new
//! assignment), or, with finite input, when every executor has finished. It outlives its
//! supervisor, as Storm's workers do: a supervisor killed and restarted adopts its running
//! workers, so the data flows on; an orphan exits only once nimbus too has not answered
//! for [`ORPHAN_TIMEOUT`] (see [`abandoned`]), so nothing runs on forever unwatched.
//!
//! When a heartbeat reply names a newer assignment version, the worker fetches the
//! assignment and [`follow`]s it: if it was itself replaced (its incarnation changed, or it
//! is no longer in the assignment) or the executors moved, it stops at once; otherwise it
//! points its data plane at every peer that moved.

use super::checkpoint_link;
use super::client::{Client, connect, status_text};
use super::proto::{
    Assignment, AssignmentRequest, CheckpointHello, ExecutorProgress, WorkerHeartbeatReply,
    WorkerHeartbeatRequest,
};
use super::security::Security;
use super::worker_stats::{self, Reading, WorkerMetrics};
use crate::ack::Clock;
use crate::exec::ends::ended_by_finished;
use crate::exec::health::{self, DEFAULT_HANG_TIMEOUT, Sample, assess};
use crate::exec::local::{Launched, launch};
use crate::exec::placement::Placement;
use crate::exec::replay;
use crate::topology::{ChainDesc, ComponentDesc, Topology, TopologyDesc};
use crate::transport::net::{ChannelId, DataPlane, Inbound, NetConfig, NetTls};
use crate::transport::remote::LateInbound;
use crate::transport::roots::{self, SentRoots};
use std::collections::{BTreeMap, HashMap};
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// What a supervisor tells a worker process on its command line.
#[derive(Debug, Clone)]
pub struct WorkerArgs {
    /// Nimbus's URL.
    pub nimbus: String,
    /// The topology's id.
    pub topology: String,
    /// This worker's index in the assignment.
    pub worker: u32,
    /// The assignment version its supervisor started it for (`None`: whatever is current).
    pub version: Option<u64>,
    /// The SHA-256 of the binary its supervisor started (`None`: not checked).
    pub sha256: Option<String>,
}

/// How often a worker heartbeats.
pub const HEARTBEAT: Duration = Duration::from_secs(1);
/// How long a worker waits for its peers before it starts anyway (it heartbeats meanwhile).
pub const PEER_WAIT: Duration = Duration::from_secs(20);

/// Runs worker `args.worker` of `topology` until it is told to stop or finishes. Returns
/// the process exit code: 0 when finished or told to stop, 1 on an error (the supervisor
/// restarts it).
pub fn run(topology: Topology, args: &WorkerArgs) -> u8 {
    // Every line this thread logs names the worker (its executors' spans are children).
    let span = tracing::info_span!("worker", topology = %args.topology, worker = args.worker);
    let _in = span.enter();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!(error = %e, "cannot start the I/O runtime");
            return 1;
        }
    };
    match run_in(&rt, topology, args) {
        Ok(()) => 0,
        Err(e) => {
            tracing::error!(
                "worker {} of {}: {e}; exiting with an error",
                args.worker,
                args.topology
            );
            1
        }
    }
}

fn run_in(
    rt: &tokio::runtime::Runtime,
    topology: Topology,
    args: &WorkerArgs,
) -> Result<(), String> {
    let security = Security::from_env()?;
    let parent = std::os::unix::process::parent_id();
    let mut client = rt.block_on(connect(&args.nimbus, &security))?;
    let assignment = rt
        .block_on(client.get_assignment(AssignmentRequest {
            topology_id: args.topology.clone(),
        }))
        .map_err(|s| format!("cannot get the assignment: {}", status_text(&s)))?
        .into_inner();
    if let Some(sha) = &args.sha256
        && *sha != assignment.sha256
    {
        return Err(format!(
            "this process runs binary {sha}, but topology `{}` is binary {}: not starting",
            args.topology, assignment.sha256
        ));
    }
    let since = assignment
        .workers
        .iter()
        .find(|w| w.index == args.worker)
        .map(|w| w.since)
        .ok_or_else(|| format!("topology `{}` has no worker {}", args.topology, args.worker))?;
    if let Some(v) = args.version
        && v != since
    {
        // The assignment moved on since the supervisor started this process: the
        // supervisor starts the worker of the new version; this one must not join it.
        tracing::info!(
            "started for version {v}, the assignment runs it at version {since}; exiting"
        );
        return Ok(());
    }
    if assignment.finished_workers.contains(&args.worker) {
        // A late or stale start (say, a supervisor acting on an old heartbeat reply): this
        // worker already finished its input; running it again would re-run it.
        tracing::info!("already finished; exiting");
        return Ok(());
    }
    let desc = cluster_desc(topology.desc, &assignment)?;
    crate::topology::set_config_overrides(
        assignment
            .config
            .iter()
            .map(|(k, v)| {
                let key: &'static str = Box::leak(k.clone().into_boxed_str());
                (key, crate::topology::ConfigValue::parse(v))
            })
            .collect(),
    );
    let me = args.worker;
    let mut placement = placement(desc, &assignment, me)?;
    let (listen, peers) = addresses(&assignment, me)?;
    let incarnations = assignment
        .workers
        .iter()
        .filter(|w| w.index != me)
        .map(|w| (w.index, w.since))
        .collect();
    security.check_bind(&listen)?;

    // The data plane needs every local channel before the typed queues exist.
    let late: HashMap<ChannelId, Arc<LateInbound>> = placement
        .local_channels(desc)
        .into_iter()
        .map(|c| (c, Arc::new(LateInbound::default())))
        .collect();
    let inbound: HashMap<ChannelId, Arc<dyn Inbound>> = late
        .iter()
        .map(|(c, l)| (*c, l.clone() as Arc<dyn Inbound>))
        .collect();
    let tls = match &security.tls {
        Some(f) => Some(NetTls::from_pem_files(&f.cert, &f.key, &f.ca)?),
        None => None,
    };
    let config = NetConfig {
        topology: plane_identity(&assignment),
        me,
        incarnation: since,
        incarnations,
        listen,
        peers,
        secret: security.data_plane_key(),
        tls,
        credit: 16,
        max_frame: crate::transport::remote::max_frame(desc).map_err(|e| e.to_string())?,
    };
    let plane = Arc::new(
        DataPlane::start(config, inbound, rt.handle())
            .map_err(|e| format!("cannot listen on {listen}: {e}"))?,
    );
    let inbounds = late.clone();
    let link_events = plane.watch_links();
    let period = Duration::from_millis(desc.settings.message_timeout_ms.max(1));
    let roots = SentRoots::new(peers_of(&assignment, me), period, roots::DEFAULT_CAP);
    placement.connect(plane.clone(), late, Arc::new(roots));
    // The worker's view of the assignment, followed as it changes.
    let mut view = assignment.clone();
    // Wait for the peers, heartbeating meanwhile: the wait must never look like a silent
    // worker to nimbus (whose worker timeout may be shorter than the wait).
    let wait_until = Instant::now() + PEER_WAIT;
    while !plane.wait_connected(HEARTBEAT) {
        if Instant::now() >= wait_until {
            tracing::warn!("not every peer is reachable yet; starting anyway");
            break;
        }
        let beat = WorkerHeartbeatRequest {
            topology_id: assignment.topology_id.clone(),
            worker: me,
            version: since,
            stats: Vec::new(),
            finished: false,
            pid: std::process::id(),
            ..Default::default()
        };
        match heartbeat(rt, &mut client, beat) {
            Ok(reply) if !reply.keep_running => {
                tracing::info!("nimbus says stop while waiting for peers");
                return Ok(());
            }
            Ok(reply) => {
                // Before the executors start, finished workers are read from `view` then.
                let no_ends = |_: &[u32]| {};
                if let Some(reason) =
                    follow_newer(rt, &mut client, &mut view, me, &plane, &reply, &no_ends)
                {
                    tracing::info!("{reason}; exiting");
                    return Ok(());
                }
            }
            Err(_) => {}
        }
    }
    let stop = Arc::new(AtomicBool::new(false));
    let topology = Topology {
        desc,
        chains: topology.chains,
    };
    let hang_timeout = crate::exec::health::hang_timeout(desc).unwrap_or_else(|e| {
        tracing::warn!(error = %e, "using a hang timeout of {DEFAULT_HANG_TIMEOUT:?}");
        DEFAULT_HANG_TIMEOUT
    });
    let placement = Arc::new(placement);
    // exactly_once: nimbus learns of this process before any of its executors sends a
    // tuple, so a restart of it within the run is seen (and the run restarted).
    let checkpoints = match (&assignment.checkpoints, desc.settings.guarantee) {
        (Some(a), crate::topology::Guarantee::ExactlyOnce) => {
            let hello = CheckpointHello {
                topology_id: assignment.topology_id.clone(),
                worker: me,
                placement_version: assignment.placement_version,
                incarnation: since,
                pid: std::process::id(),
                fresh: true,
            };
            match checkpoint_link::prepare(desc, a) {
                Ok(prepared) => {
                    match checkpoint_link::open(
                        rt,
                        client.clone(),
                        hello,
                        Some(prepared.shared.clone()),
                    ) {
                        Ok(link) => Some((prepared, link)),
                        Err(e @ checkpoint_link::OpenError::Refused(_)) => {
                            // Not this run's worker (any more): nimbus restarts the
                            // topology, and this process must not send a tuple.
                            tracing::warn!(error = %e, "the checkpoint link was refused; exiting");
                            return Ok(());
                        }
                        // Nimbus unreachable: an error, so the supervisor starts it again.
                        Err(e) => return Err(e.to_string()),
                    }
                }
                Err(e) => {
                    // Said to nimbus, which restarts the topology or, when a restart would
                    // read the same checkpoint, stops it with the reason.
                    if let Ok(link) = checkpoint_link::open(rt, client.clone(), hello, None) {
                        link.fail(e.message.clone(), e.retryable);
                        std::thread::sleep(Duration::from_secs(1));
                    }
                    return Err(e.message);
                }
            }
        }
        _ => None,
    };
    let shared = checkpoints.as_ref().map(|(p, _)| p.shared.clone());
    let Launched {
        mut handles,
        metrics,
        tracking,
        ackers,
        executors,
        ..
    } = launch(
        &assignment.topology_id,
        &topology,
        placement.clone(),
        stop.clone(),
        Clock::default(),
        shared.clone(),
    )
    .map_err(|e| e.to_string())?;
    if let Some((prepared, link)) = checkpoints {
        checkpoint_link::upload(prepared, link, assignment.placement_version, stop.clone())
            .map_err(|e| format!("cannot start the checkpoint uploader: {e}"))?;
    }
    if tracking {
        // A lost link fails the trees that went through it at once.
        replay::spawn(me, placement.clone(), link_events, ackers)
            .map_err(|e| format!("cannot start the replayer: {e}"))?;
    }
    // Workers that finished have exited and cannot send their ends again (to a restarted
    // worker): their streams into this one are over.
    let end_finished = |finished: &[u32]| {
        for (channel, producers) in ended_by_finished(desc, &placement, finished) {
            if let Some(inbound) = inbounds.get(&channel) {
                inbound.end(&producers);
            }
        }
    };
    end_finished(&view.finished_workers);
    tracing::info!(
        version = assignment.version,
        executors = handles.len(),
        "worker {me} of {} (version {}) running {} executors",
        assignment.topology_id,
        assignment.version,
        handles.len()
    );

    let health = Health {
        executors,
        timeout: hang_timeout,
    };
    let metrics_tls = match &security.tls {
        Some(f) => Some(crate::web::tls::server_config(&f.cert, &f.key)?),
        None => None,
    };
    // This process's number in the heartbeats (pids repeat across hosts and containers).
    let process = {
        use ring::rand::SecureRandom;
        let mut bytes = [0u8; 8];
        let _ = ring::rand::SystemRandom::new().fill(&mut bytes);
        (u64::from_le_bytes(bytes) ^ u64::from(std::process::id())).max(1)
    };
    let metrics_port = WorkerMetrics {
        topology_id: assignment.topology_id.clone(),
        worker: me,
        desc,
        metrics: metrics.clone(),
        placement: placement.clone(),
    }
    .serve(rt, listen.ip(), metrics_tls)?;
    let mut last = Reading::take(desc, &metrics, &placement);
    // The first `running` beat comes a heartbeat after the executors started: one that
    // panics while it opens ends the process before the worker is listed alive.
    let mut next_beat = Instant::now() + HEARTBEAT;
    let mut shut_down = false;
    let (mut said_orphan, mut last_answer) = (false, Instant::now());
    loop {
        if finished_beat_pending(shut_down, next_beat) {
            std::thread::sleep(Duration::from_millis(20));
            continue;
        }
        if let Some(i) = handles.iter().position(|h| h.is_finished()) {
            let h = handles.swap_remove(i);
            let name = h.thread().name().unwrap_or("executor").to_string();
            if h.join().is_err() {
                return Err(format!("executor `{name}` panicked"));
            }
            continue;
        }
        // A run that failed (exactly_once) is not finished: its executors stopped, and
        // the worker waits for nimbus to restart the topology.
        let finished = handles.is_empty() && !shared.as_ref().is_some_and(|s| s.aborted());
        let orphan = std::os::unix::process::parent_id() != parent;
        if orphan && !said_orphan {
            said_orphan = true;
            tracing::warn!("supervisor gone; running on until one adopts it");
        }
        if abandoned(orphan, last_answer.elapsed()) {
            tracing::warn!(
                "no supervisor, and nimbus has not answered for {ORPHAN_TIMEOUT:?}; exiting"
            );
            stop.store(true, Ordering::Relaxed);
            std::process::exit(0);
        }
        if finished || Instant::now() >= next_beat {
            if finished && !shut_down {
                plane.shutdown(Duration::from_secs(10));
                shut_down = true;
            }
            let now = Reading::take(desc, &metrics, &placement);
            let stats = worker_stats::stats(desc, &last, &now);
            last = now;
            let (executors, unhealthy) = health.check(&metrics);
            let beat = WorkerHeartbeatRequest {
                topology_id: assignment.topology_id.clone(),
                worker: me,
                version: since,
                stats,
                finished,
                pid: std::process::id(),
                running: true,
                executors,
                unhealthy: unhealthy.clone().unwrap_or_default(),
                metrics_port: u32::from(metrics_port),
                process,
            };
            if let Some(reason) = unhealthy {
                // The hung thread cannot be stopped: the process ends, its supervisor
                // restarts it (with backoff), and nimbus shows why.
                tracing::error!("unhealthy, exiting: {reason}");
                let _ = heartbeat(rt, &mut client, beat);
                return Err(format!("unhealthy: {reason}"));
            }
            let reply = heartbeat(rt, &mut client, beat);
            if reply.is_ok() {
                last_answer = Instant::now();
            }
            let answered = match reply {
                Ok(reply) if reply.keep_running => {
                    if let Some(reason) = follow_newer(
                        rt,
                        &mut client,
                        &mut view,
                        me,
                        &plane,
                        &reply,
                        &end_finished,
                    ) {
                        tracing::info!("{reason}; exiting");
                        stop.store(true, Ordering::Relaxed);
                        std::process::exit(0);
                    }
                    true
                }
                Ok(_) => {
                    tracing::info!("nimbus says stop (killed or reassigned)");
                    stop.store(true, Ordering::Relaxed);
                    std::process::exit(0);
                }
                // Nimbus down: keep running (Storm's promise); say it once per outage.
                Err(e) => {
                    tracing::warn!(error = %e, "heartbeat failed");
                    false
                }
            };
            // A finished worker exits only once nimbus has its last beat: exited without
            // it, it would look silent and be run again elsewhere.
            if finished && answered {
                tracing::info!("every executor finished");
                return Ok(());
            }
            next_beat = Instant::now() + HEARTBEAT;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The worker's watch over its executors' progress.
struct Health {
    /// Name, chain and index of each executor this worker runs.
    executors: Vec<(String, usize, u32)>,
    timeout: Duration,
}

impl Health {
    /// Every executor's progress for the heartbeat, and the reason this worker is unhealthy
    /// (an executor hung for the hang timeout), if it is.
    fn check(
        &self,
        metrics: &crate::exec::metrics::Metrics,
    ) -> (Vec<ExecutorProgress>, Option<String>) {
        let samples: Vec<Sample> = self
            .executors
            .iter()
            .map(|(_, c, e)| metrics.executor_progress(*c, *e).sample())
            .collect();
        let (stalled, hung) = assess(health::now_us(), &samples, self.timeout);
        let progress = self
            .executors
            .iter()
            .zip(&samples)
            .zip(&stalled)
            .map(|(((name, _, _), s), d)| ExecutorProgress {
                name: name.clone(),
                progress: s.progress,
                pending: s.pending,
                stalled_ms: d.as_millis() as u64,
            })
            .collect();
        let reason = hung.first().map(|h| {
            let others: Vec<&str> = hung[1..]
                .iter()
                .map(|o| self.executors[o.executor].0.as_str())
                .collect();
            format!(
                "executor `{}` has had input pending ({} messages) and made no progress for \
                 {:.1} s (hang_timeout {:?}){}",
                self.executors[h.executor].0,
                h.pending,
                h.stalled.as_secs_f64(),
                self.timeout,
                if others.is_empty() {
                    String::new()
                } else {
                    format!("; also stalled: {}", others.join(", "))
                }
            )
        });
        (progress, reason)
    }
}

/// True while a finished worker waits for its next try at telling nimbus (its plane is
/// shut down and the beat is not due yet).
fn finished_beat_pending(shut_down: bool, next_beat: Instant) -> bool {
    shut_down && Instant::now() < next_beat
}

/// What a worker's data plane proves to its peers in the handshake (under the secret's
/// HMAC): topology id, assignment version and binary. Peers of another version or binary
/// refuse each other, so a stale worker (cut off from nimbus but not from its peers) is
/// fenced off from the workers of the new assignment.
pub fn plane_identity(a: &Assignment) -> String {
    format!("{}@v{}#{}", a.topology_id, a.placement_version, a.sha256)
}

fn heartbeat(
    rt: &tokio::runtime::Runtime,
    client: &mut Client,
    beat: WorkerHeartbeatRequest,
) -> Result<WorkerHeartbeatReply, String> {
    rt.block_on(async {
        tokio::time::timeout(Duration::from_secs(3), client.worker_heartbeat(beat)).await
    })
    .map_err(|_| "timed out".to_string())?
    .map(|r| r.into_inner())
    .map_err(|s| status_text(&s))
}

/// How long a worker whose supervisor is gone runs on without an answer from nimbus.
pub const ORPHAN_TIMEOUT: Duration = Duration::from_secs(30);

/// Whether a worker exits because nobody watches it any more: its supervisor is gone (a
/// restarted one adopts it, so normally it runs on) and nimbus has not answered its
/// heartbeats for [`ORPHAN_TIMEOUT`] (it cannot learn that it was killed or replaced).
pub fn abandoned(supervisor_gone: bool, unanswered_for: Duration) -> bool {
    supervisor_gone && unanswered_for >= ORPHAN_TIMEOUT
}

/// What a worker does about a newer assignment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Follow {
    /// Stop at once: the worker was replaced, or the executors moved. The reason.
    Stop(String),
    /// Keep running; these peers moved (index, host, port, incarnation).
    Peers(Vec<(u32, String, u32, u64)>),
}

/// What worker `me`, running with assignment `view`, does about assignment `newer`: stop
/// when its own incarnation changed, when it is no longer in the assignment, or when the
/// placement changed (every worker restarts then); otherwise follow every peer whose
/// incarnation or address changed.
pub fn follow(me: u32, view: &Assignment, newer: &Assignment) -> Follow {
    if newer.placement_version != view.placement_version {
        return Follow::Stop(format!(
            "the executors moved (placement version {} to {})",
            view.placement_version, newer.placement_version
        ));
    }
    let since = |a: &Assignment| a.workers.iter().find(|w| w.index == me).map(|w| w.since);
    match (since(view), since(newer)) {
        (_, None) => return Follow::Stop("no longer in the assignment".into()),
        (Some(old), Some(new)) if old != new => {
            return Follow::Stop(format!(
                "replaced: worker {me} is now incarnation {new}, this is incarnation {old}"
            ));
        }
        _ => {}
    }
    let moved = newer
        .workers
        .iter()
        .filter(|w| w.index != me)
        .filter(|w| {
            !view.workers.iter().any(|o| {
                o.index == w.index && o.since == w.since && o.host == w.host && o.port == w.port
            })
        })
        .map(|w| (w.index, w.host.clone(), w.port, w.since))
        .collect();
    Follow::Peers(moved)
}

/// After a heartbeat `reply`: when it names a newer assignment than `view`, fetches it and
/// follows it (the moved peers' new addresses and incarnations go to `plane`; workers newly
/// listed as finished go to `finished`, whose ends into this worker are then over). `Some`
/// reason when this worker must stop. A failed fetch is retried at the next heartbeat.
fn follow_newer(
    rt: &tokio::runtime::Runtime,
    client: &mut Client,
    view: &mut Assignment,
    me: u32,
    plane: &DataPlane,
    reply: &WorkerHeartbeatReply,
    finished: &dyn Fn(&[u32]),
) -> Option<String> {
    if reply.assignment_version <= view.version {
        return None;
    }
    let request = AssignmentRequest {
        topology_id: view.topology_id.clone(),
    };
    let fetched = rt.block_on(async {
        tokio::time::timeout(Duration::from_secs(3), client.get_assignment(request)).await
    });
    let newer = match fetched {
        Ok(Ok(a)) => a.into_inner(),
        Ok(Err(s)) => {
            tracing::warn!(
                error = %status_text(&s),
                "cannot get assignment version {}",
                reply.assignment_version
            );
            return None;
        }
        Err(_) => {
            tracing::warn!("getting the assignment timed out");
            return None;
        }
    };
    if newer.version <= view.version {
        return None;
    }
    match follow(me, view, &newer) {
        Follow::Stop(reason) => Some(format!("assignment version {}: {reason}", newer.version)),
        Follow::Peers(moved) => {
            for (peer, host, port, since) in moved {
                let result = resolve(&host, port).and_then(|addr| {
                    plane
                        .update_peer(peer, addr, since)
                        .map_err(|e| e.to_string())
                });
                if let Err(e) = result {
                    // Keep the old view: the next heartbeat fetches and tries again.
                    tracing::warn!(peer, error = %e, "cannot follow worker {peer}");
                    return None;
                }
            }
            tracing::info!("following assignment version {}", newer.version);
            let newly: Vec<u32> = newer
                .finished_workers
                .iter()
                .copied()
                .filter(|w| !view.finished_workers.contains(w))
                .collect();
            if !newly.is_empty() {
                finished(&newly);
            }
            *view = newer;
            None
        }
    }
}

/// The socket address of `host:port`.
fn resolve(host: &str, port: u32) -> Result<SocketAddr, String> {
    let port = u16::try_from(port).map_err(|_| format!("port {port} out of range"))?;
    (host, port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {host}: {e}"))?
        .next()
        .ok_or_else(|| format!("{host} has no address"))
}

/// The binary's plan with the assignment's executors per chain and ackers (a rebalance
/// changes executors, never tasks, so groupings and keyed state keep their tasks).
pub fn cluster_desc(
    desc: &'static TopologyDesc,
    a: &Assignment,
) -> Result<&'static TopologyDesc, String> {
    if a.parallelism.len() != desc.chains.len() {
        return Err(format!(
            "the assignment has {} chains but this binary has {}: it is not the binary that was submitted",
            a.parallelism.len(),
            desc.chains.len()
        ));
    }
    let mut chains = Vec::with_capacity(desc.chains.len());
    for (c, &p) in desc.chains.iter().zip(&a.parallelism) {
        if p == 0 || p > c.tasks {
            return Err(format!(
                "the assignment gives a chain of {} tasks {p} executors",
                c.tasks
            ));
        }
        chains.push(ChainDesc {
            parallelism: p,
            ..c.clone()
        });
    }
    let components: Vec<ComponentDesc> = desc
        .components
        .iter()
        .map(|c| ComponentDesc {
            parallelism: chains[c.chain].parallelism,
            ..c.clone()
        })
        .collect();
    let mut settings = desc.settings.clone();
    settings.ackers = Some(u64::from(a.ackers));
    // `submit --set message_timeout=60s` overrides the `.topo` file's timeout (a plain
    // integer is seconds, as Storm's `topology.message.timeout.secs`).
    if let Some(text) = a.config.get("message_timeout") {
        match crate::topology::ConfigValue::parse(text) {
            crate::topology::ConfigValue::DurationMs(ms) => settings.message_timeout_ms = ms,
            crate::topology::ConfigValue::Int(s) => {
                settings.message_timeout_ms = s.saturating_mul(1000);
            }
            _ => {
                return Err(format!(
                    "message_timeout `{text}` is not a duration (say, 30s)"
                ));
            }
        }
    }
    settings.workers = a.workers.len() as u64;
    Ok(Box::leak(Box::new(TopologyDesc {
        chains: Box::leak(chains.into_boxed_slice()),
        components: Box::leak(components.into_boxed_slice()),
        settings,
        ..desc.clone()
    })))
}

/// Which worker runs each executor, from the assignment.
fn placement(desc: &TopologyDesc, a: &Assignment, me: u32) -> Result<Placement, String> {
    let n = a.workers.len() as u32;
    let mut executors: Vec<Vec<Option<u32>>> = desc
        .chains
        .iter()
        .map(|c| vec![None; c.parallelism as usize])
        .collect();
    let mut ackers = vec![None; a.ackers as usize];
    for e in &a.executors {
        if e.worker >= n {
            return Err(format!("executor placed on worker {} of {n}", e.worker));
        }
        let slot = if e.chain as usize == desc.chains.len() {
            ackers.get_mut(e.index as usize)
        } else {
            executors
                .get_mut(e.chain as usize)
                .and_then(|c| c.get_mut(e.index as usize))
        };
        match slot {
            Some(s) => *s = Some(e.worker),
            None => return Err(format!("no executor {} in chain {}", e.index, e.chain)),
        }
    }
    let missing = || "the assignment leaves an executor unplaced".to_string();
    let executors = executors
        .into_iter()
        .map(|c| {
            c.into_iter()
                .collect::<Option<Vec<u32>>>()
                .ok_or_else(missing)
        })
        .collect::<Result<Vec<_>, _>>()?;
    let ackers = ackers
        .into_iter()
        .collect::<Option<Vec<u32>>>()
        .ok_or_else(missing)?;
    if me >= n {
        return Err(format!(
            "this is worker {me}, but the assignment has {n} workers"
        ));
    }
    Ok(Placement::worker(me, executors, ackers))
}

/// Every worker index of the assignment but `me`.
fn peers_of(a: &Assignment, me: u32) -> Vec<u32> {
    a.workers
        .iter()
        .map(|w| w.index)
        .filter(|&i| i != me)
        .collect()
}

/// This worker's listen address and every peer's.
fn addresses(a: &Assignment, me: u32) -> Result<(SocketAddr, BTreeMap<u32, SocketAddr>), String> {
    let mut listen = None;
    let mut peers = BTreeMap::new();
    for w in &a.workers {
        let addr = resolve(&w.host, w.port)?;
        if w.index == me {
            listen = Some(addr);
        } else {
            peers.insert(w.index, addr);
        }
    }
    let listen = listen.ok_or_else(|| format!("worker {me} is not in the assignment"))?;
    Ok((listen, peers))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::proto::WorkerSlot;

    #[test]
    fn an_orphan_runs_on_while_nimbus_answers_it() {
        let s = Duration::from_secs;
        assert!(!abandoned(false, s(3600)), "supervised: never abandoned");
        assert!(!abandoned(true, s(1)), "an orphan nimbus answers runs on");
        assert!(!abandoned(true, ORPHAN_TIMEOUT - s(1)));
        assert!(abandoned(true, ORPHAN_TIMEOUT));
    }

    fn slot(index: u32, port: u32, since: u64) -> WorkerSlot {
        WorkerSlot {
            index,
            host: "127.0.0.1".into(),
            port,
            since,
            ..Default::default()
        }
    }

    fn assignment(version: u64, workers: Vec<WorkerSlot>) -> Assignment {
        Assignment {
            version,
            placement_version: 1,
            workers,
            ..Default::default()
        }
    }

    #[test]
    fn a_worker_follows_moved_peers_and_stops_when_replaced() {
        let view = assignment(
            1,
            vec![slot(0, 7000, 1), slot(1, 7001, 1), slot(2, 7002, 1)],
        );
        // Worker 2 moved: workers 0 and 1 follow it, nothing else.
        let moved = assignment(
            2,
            vec![slot(0, 7000, 1), slot(1, 7001, 1), slot(2, 7100, 2)],
        );
        assert_eq!(
            follow(0, &view, &moved),
            Follow::Peers(vec![(2, "127.0.0.1".into(), 7100, 2)])
        );
        assert_eq!(
            follow(1, &view, &moved),
            Follow::Peers(vec![(2, "127.0.0.1".into(), 7100, 2)])
        );
        // The old worker 2 sees it was replaced.
        assert!(matches!(follow(2, &view, &moved), Follow::Stop(r) if r.contains("replaced")));
        // A change of placement stops everyone; so does leaving the assignment.
        let rebalanced = Assignment {
            placement_version: 3,
            ..moved.clone()
        };
        assert!(matches!(follow(0, &view, &rebalanced), Follow::Stop(_)));
        let shrunk = assignment(3, vec![slot(0, 7000, 1), slot(1, 7001, 1)]);
        assert!(matches!(follow(2, &view, &shrunk), Follow::Stop(r) if r.contains("no longer")));
        // Nothing moved: nothing to do.
        assert_eq!(follow(0, &view, &view), Follow::Peers(Vec::new()));
    }

    #[test]
    fn the_plane_identity_binds_version_and_binary() {
        let a = Assignment {
            topology_id: "wc-3".into(),
            placement_version: 2,
            sha256: "ab".repeat(32),
            ..Default::default()
        };
        let newer = Assignment {
            placement_version: 3,
            ..a.clone()
        };
        let other_binary = Assignment {
            sha256: "cd".repeat(32),
            ..a.clone()
        };
        assert_eq!(plane_identity(&a), format!("wc-3@v2#{}", "ab".repeat(32)));
        assert_ne!(plane_identity(&a), plane_identity(&newer));
        assert_ne!(plane_identity(&a), plane_identity(&other_binary));
    }
}
