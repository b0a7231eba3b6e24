//! The supervisor (Flink's TaskManager): offers worker slots (ports) to nimbus, runs each
//! worker nimbus assigns to it as a process of the topology's binary, restarts a worker
//! that dies, and kills the workers of topologies that are killed or moved elsewhere.
//!
//! It heartbeats every second; the reply is its whole assignment, so it converges on what
//! nimbus wants after any failure of either. While nimbus is unreachable it keeps its
//! workers as they are. Its workers outlive it: restarted, it adopts the ones still
//! running (see [`super::adoption`]).

use super::adoption::{self, Record};
use super::client::{Client, connect, source_chain, status_text};
use super::proto::{DownloadRequest, LocalAssignment, RunningWorker, SupervisorHeartbeatRequest};
use super::restart::{CrashHistory, RestartPolicy, exit_reason};
use super::security::Security;
use super::submit::hex;
use super::supervisor_plan::{self, SupervisorAction, WorkerView};
use crate::logs::LogConfig;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;
use tokio::process::{Child, Command};

/// How a supervisor runs.
#[derive(Debug, Clone)]
pub struct SupervisorConfig {
    /// Nimbus's URL.
    pub nimbus: String,
    /// This supervisor's id (unique in the cluster).
    pub id: String,
    /// The address its workers listen on.
    pub host: String,
    /// Its worker slots: one port each.
    pub ports: Vec<u32>,
    /// Binaries and worker logs.
    pub dir: PathBuf,
    /// Secret and TLS (handed to its workers too).
    pub security: Security,
    /// When crashed workers are restarted.
    pub restart: RestartPolicy,
    /// How it logs; the workers it starts log the same way.
    pub logs: LogConfig,
}

/// How often a supervisor heartbeats.
pub const HEARTBEAT: Duration = Duration::from_secs(1);
/// How often a supervisor looks for workers that exited (and restarts them).
pub const REAP: Duration = Duration::from_millis(20);

/// A worker's running process: one this supervisor started, or one it adopted (started by
/// an earlier supervisor process, watched by pid).
enum Process {
    Child(Child),
    Adopted(u32),
}

impl Process {
    fn id(&self) -> Option<u32> {
        match self {
            Process::Child(c) => c.id(),
            Process::Adopted(pid) => Some(*pid),
        }
    }
}

/// A worker process.
struct Worker {
    assignment: LocalAssignment,
    process: Option<Process>,
    /// When its current (or last) process started; `None` before the first start.
    started: Option<Instant>,
    crashes: CrashHistory,
    /// It exited with status 0: finished its input, or told to stop; not restarted for
    /// this version.
    done: bool,
    /// Do not restart before this (a crashing worker backs off).
    not_before: Instant,
}

type Key = supervisor_plan::WorkerKey;

/// Binaries being downloaded, by SHA-256: a download runs in the background, so a large
/// binary never holds up the heartbeats (a supervisor busy downloading would look dead).
type Downloads = BTreeMap<String, tokio::task::JoinHandle<Result<PathBuf, String>>>;

/// Runs a supervisor until the process is stopped.
pub async fn serve(config: SupervisorConfig) -> Result<(), String> {
    if config.ports.is_empty() {
        return Err("a supervisor needs at least one slot (--ports)".into());
    }
    for sub in ["binaries", "logs"] {
        let d = config.dir.join(sub);
        std::fs::create_dir_all(&d).map_err(|e| format!("cannot create {}: {e}", d.display()))?;
    }
    tracing::info!(
        supervisor = %config.id,
        "supervisor `{}`: slots {:?} on {}, nimbus {}",
        config.id,
        config.ports,
        config.host,
        config.nimbus
    );
    let mut workers = adopt(&config, Instant::now());
    let mut listed = save_list(&config, &workers, None);
    let mut client: Option<Client> = None;
    let mut nimbus_down = false;
    // What nimbus wanted at the last heartbeat: a worker that dies between heartbeats is
    // restarted from it at once (within one `REAP` period), not at the next heartbeat.
    let mut wanted: Vec<LocalAssignment> = Vec::new();
    let mut downloads = Downloads::new();
    loop {
        reap(&config.restart, &mut workers);
        listed = save_list(&config, &workers, Some(listed));
        if client.is_none() {
            match connect(&config.nimbus, &config.security).await {
                Ok(c) => client = Some(c),
                Err(e) => {
                    if !nimbus_down {
                        tracing::warn!(error = %e, "cannot connect to nimbus; keeping the workers running");
                    }
                    nimbus_down = true;
                }
            }
        }
        if let Some(c) = client.as_mut() {
            let req = SupervisorHeartbeatRequest {
                id: config.id.clone(),
                host: config.host.clone(),
                ports: config.ports.clone(),
                workers: running(&workers),
            };
            match tokio::time::timeout(Duration::from_secs(5), c.supervisor_heartbeat(req)).await {
                Ok(Ok(reply)) => {
                    if nimbus_down {
                        tracing::info!("nimbus is back");
                    }
                    nimbus_down = false;
                    wanted = reply.into_inner().assignments;
                    sync(&config, Some(c), &mut workers, &mut downloads, &wanted).await;
                }
                Ok(Err(s)) if s.code() == tonic::Code::Unauthenticated => {
                    return Err(format!("nimbus {}", status_text(&s)));
                }
                Ok(Err(s)) => {
                    if !nimbus_down {
                        tracing::warn!(error = %status_text(&s), "heartbeat failed");
                    }
                    nimbus_down = true;
                    client = None;
                }
                Err(_) => {
                    nimbus_down = true;
                    client = None;
                }
            }
        }
        // Until the next heartbeat, watch the processes: restart a dead one as soon as
        // its backoff allows.
        let next_beat = Instant::now() + HEARTBEAT;
        while Instant::now() < next_beat {
            tokio::time::sleep(REAP).await;
            if reap(&config.restart, &mut workers) || restartable(&workers, Instant::now()) {
                sync(
                    &config,
                    client.as_mut(),
                    &mut workers,
                    &mut downloads,
                    &wanted,
                )
                .await;
            }
            listed = save_list(&config, &workers, Some(listed));
        }
    }
}

/// The workers listed by an earlier process of this supervisor that still run: adopted.
fn adopt(config: &SupervisorConfig, now: Instant) -> BTreeMap<Key, Worker> {
    let mut workers = BTreeMap::new();
    for r in adoption::load(&config.dir) {
        let a = r.assignment;
        if !adoption::runs(r.pid, &a) {
            continue;
        }
        tracing::info!(
            topology = %a.topology_id,
            worker = a.worker,
            pid = r.pid,
            "adopted worker {} of `{}` on port {} (pid {}), still running",
            a.worker,
            a.topology_id,
            a.port,
            r.pid
        );
        workers.insert(
            (a.topology_id.clone(), a.worker),
            Worker {
                assignment: a,
                process: Some(Process::Adopted(r.pid)),
                started: Some(now),
                crashes: CrashHistory::default(),
                done: false,
                not_before: now,
            },
        );
    }
    workers
}

/// Rewrites the list of worker processes when it differs from `before` (what was last
/// written); returns what the list now holds.
fn save_list(
    config: &SupervisorConfig,
    workers: &BTreeMap<Key, Worker>,
    before: Option<Vec<Record>>,
) -> Vec<Record> {
    let now: Vec<Record> = workers
        .values()
        .filter_map(|w| {
            Some(Record {
                pid: w.process.as_ref()?.id()?,
                assignment: w.assignment.clone(),
            })
        })
        .collect();
    if before.as_ref() != Some(&now)
        && let Err(e) = adoption::save(&config.dir, &now)
    {
        // Not fatal: a restarted supervisor then cannot adopt, and its workers' ports are
        // taken until they learn from nimbus that they were replaced.
        tracing::error!(
            error = %e,
            "cannot write {}",
            config.dir.join(adoption::FILE).display()
        );
    }
    now
}

/// True when a worker has no process, is not done, and its backoff is over.
fn restartable(workers: &BTreeMap<Key, Worker>, now: Instant) -> bool {
    workers
        .values()
        .any(|w| w.process.is_none() && !w.done && w.started.is_some() && now >= w.not_before)
}

/// Notes workers that exited (true if one did); a crashed one backs off before its
/// restart.
fn reap(policy: &RestartPolicy, workers: &mut BTreeMap<Key, Worker>) -> bool {
    let now = Instant::now();
    let mut any = false;
    for ((id, n), w) in workers.iter_mut() {
        let exit = match w.process.as_mut() {
            None => continue,
            Some(Process::Child(child)) => match child.try_wait() {
                Ok(Some(status)) if status.success() => Some(None),
                Ok(Some(status)) => Some(Some(exit_reason(&status))),
                _ => None,
            },
            // Not our child: how it ended is unknown. Counted as a crash; a worker that
            // had finished exits again at once when restarted (nimbus lists it finished).
            Some(Process::Adopted(pid)) => (!adoption::runs(*pid, &w.assignment))
                .then(|| Some("exited while adopted (status unknown)".to_string())),
        };
        if let Some(reason) = exit {
            any = true;
            w.process = None;
            if let Some(reason) = reason {
                let started = w.started.unwrap_or(now);
                w.not_before = policy.crashed(&mut w.crashes, started, now, reason);
                tracing::warn!(
                    topology = %id,
                    worker = *n,
                    "worker {n} of `{id}` died ({}, crash {} in a row); restarting it in {:.1} s",
                    w.crashes.last_exit,
                    w.crashes.consecutive,
                    w.not_before.duration_since(now).as_secs_f64()
                );
            } else {
                w.done = true;
                tracing::info!(topology = %id, worker = *n, "worker {n} of `{id}` exited (finished)");
            }
        }
    }
    any
}

/// What the heartbeat reports: every worker with a process, and every crashed one waiting
/// out its backoff (pid 0).
fn running(workers: &BTreeMap<Key, Worker>) -> Vec<RunningWorker> {
    workers
        .iter()
        .filter_map(|((id, n), w)| {
            let pid = w.process.as_ref().and_then(Process::id);
            let backoff = pid.is_none() && !w.done && w.started.is_some();
            if pid.is_none() && !backoff {
                return None;
            }
            Some(RunningWorker {
                topology_id: id.clone(),
                worker: *n,
                port: w.assignment.port,
                pid: pid.unwrap_or(0),
                version: w.assignment.version,
                restarts: w.crashes.restarts,
                sha256: w.assignment.sha256.clone(),
                last_exit: w.crashes.last_exit.clone(),
                backoff,
            })
        })
        .collect()
}

/// Makes the running workers what nimbus wants (decided by [`supervisor_plan::plan`]):
/// kills the unwanted and outdated ones, starts (or restarts) the wanted ones.
async fn sync(
    config: &SupervisorConfig,
    mut client: Option<&mut Client>,
    workers: &mut BTreeMap<Key, Worker>,
    downloads: &mut Downloads,
    wanted: &[LocalAssignment],
) {
    let views: BTreeMap<Key, WorkerView> = workers
        .iter()
        .map(|(k, w)| {
            let view = WorkerView {
                assignment: w.assignment.clone(),
                running: w.process.is_some(),
                done: w.done,
                not_before: w.not_before,
            };
            (k.clone(), view)
        })
        .collect();
    for action in supervisor_plan::plan(&views, wanted, Instant::now()) {
        match action {
            SupervisorAction::Stop(k) => {
                if let Some(mut w) = workers.remove(&k) {
                    match w.process.as_mut() {
                        Some(Process::Child(child)) => {
                            let _ = child.kill().await;
                        }
                        Some(Process::Adopted(pid)) => {
                            if adoption::runs(*pid, &w.assignment) {
                                let _ = adoption::kill(*pid);
                            }
                        }
                        None => continue,
                    }
                    tracing::info!(
                        topology = %k.0,
                        worker = k.1,
                        "stopped worker {} of `{}`",
                        k.1,
                        k.0
                    );
                }
            }
            SupervisorAction::Start(a) => {
                start(config, client.as_deref_mut(), workers, downloads, a).await;
            }
        }
    }
}

/// The binary `sha`, if it is here; otherwise starts (or checks on) its download in the
/// background and returns `None` for now.
async fn binary(
    config: &SupervisorConfig,
    client: Option<&mut Client>,
    downloads: &mut Downloads,
    sha: &str,
) -> Option<PathBuf> {
    let path = config.dir.join("binaries").join(sha);
    if path.exists() {
        return Some(path);
    }
    if let Some(task) = downloads.get(sha) {
        if !task.is_finished() {
            return None;
        }
        let done = downloads.remove(sha)?;
        return match done.await {
            Ok(Ok(p)) => Some(p),
            Ok(Err(e)) => {
                tracing::error!(error = %e, "cannot get binary {sha}");
                None
            }
            Err(e) => {
                tracing::error!(error = %e, "the download of binary {sha} failed");
                None
            }
        };
    }
    let Some(client) = client else {
        tracing::warn!("binary {sha} is needed but nimbus is unreachable");
        return None;
    };
    let (config, mut client, key) = (config.clone(), client.clone(), sha.to_string());
    let task = tokio::spawn(async move { ensure_binary(&config, Some(&mut client), &key).await });
    downloads.insert(sha.to_string(), task);
    None
}

/// Starts the process of worker `a` once its binary is here (its download runs in the
/// background; a later heartbeat starts the worker).
async fn start(
    config: &SupervisorConfig,
    client: Option<&mut Client>,
    workers: &mut BTreeMap<Key, Worker>,
    downloads: &mut Downloads,
    a: LocalAssignment,
) {
    let k = (a.topology_id.clone(), a.worker);
    let w = workers.entry(k.clone()).or_insert_with(|| Worker {
        assignment: a.clone(),
        process: None,
        started: None,
        crashes: CrashHistory::default(),
        done: false,
        not_before: Instant::now(),
    });
    if a.sha256.len() != 64 || !a.sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
        tracing::error!(
            topology = %k.0,
            "`{}` has a malformed binary hash `{}`",
            k.0,
            a.sha256
        );
        return;
    }
    let Some(binary) = binary(config, client, downloads, &a.sha256).await else {
        return;
    };
    match spawn(config, &binary, &a) {
        Ok(child) => {
            tracing::info!(
                topology = %a.topology_id,
                worker = a.worker,
                "{} worker {} of `{}` on port {} (pid {})",
                if w.started.is_some() {
                    "restarted"
                } else {
                    "started"
                },
                a.worker,
                a.topology_id,
                a.port,
                child.id().unwrap_or(0)
            );
            if w.started.is_some() {
                w.crashes.restarts += 1;
            }
            w.started = Some(Instant::now());
            w.process = Some(Process::Child(child));
        }
        Err(e) => tracing::error!(
            topology = %a.topology_id,
            worker = a.worker,
            error = %e,
            "cannot start worker {}",
            a.worker
        ),
    }
}

/// The path of a binary, downloaded from nimbus and checked against its hash if needed.
async fn ensure_binary(
    config: &SupervisorConfig,
    client: Option<&mut Client>,
    sha: &str,
) -> Result<PathBuf, String> {
    if sha.len() != 64 || !sha.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!("malformed hash `{sha}`"));
    }
    let path = config.dir.join("binaries").join(sha);
    if path.exists() {
        return Ok(path);
    }
    let Some(client) = client else {
        return Err("nimbus is unreachable: cannot download it".into());
    };
    let mut stream = client
        .download(DownloadRequest {
            sha256: sha.to_string(),
        })
        .await
        .map_err(|s| status_text(&s))?
        .into_inner();
    let tmp = config
        .dir
        .join("binaries")
        .join(format!(".{sha}.{}.part", std::process::id()));
    let io = |e: std::io::Error| e.to_string();
    let mut file = tokio::fs::File::create(&tmp).await.map_err(io)?;
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    while let Some(chunk) = stream.message().await.map_err(|s| status_text(&s))? {
        ctx.update(&chunk.data);
        file.write_all(&chunk.data).await.map_err(io)?;
    }
    file.sync_all().await.map_err(io)?;
    drop(file);
    let actual = hex(ctx.finish().as_ref());
    if actual != sha {
        let _ = tokio::fs::remove_file(&tmp).await;
        return Err(format!(
            "downloaded binary hashes to {actual}, expected {sha}; discarded"
        ));
    }
    set_executable(&tmp)?;
    tokio::fs::rename(&tmp, &path).await.map_err(io)?;
    tracing::info!("downloaded binary {sha}");
    Ok(path)
}

fn set_executable(path: &Path) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
        .map_err(|e| format!("chmod {}: {e}", path.display()))
}

/// Starts a worker process, its output appended to its log file.
fn spawn(config: &SupervisorConfig, binary: &Path, a: &LocalAssignment) -> Result<Child, String> {
    let logs = config.dir.join("logs").join(&a.topology_id);
    std::fs::create_dir_all(&logs).map_err(|e| format!("{}: {e}", logs.display()))?;
    let log_path = logs.join(format!("worker-{}.log", a.worker));
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .map_err(|e| format!("{}: {e}", log_path.display()))?;
    let err = log.try_clone().map_err(|e| e.to_string())?;
    let mut cmd = Command::new(binary);
    cmd.arg("worker")
        .arg("--nimbus")
        .arg(&config.nimbus)
        .arg("--topology")
        .arg(&a.topology_id)
        .arg("--worker")
        .arg(a.worker.to_string())
        .arg("--version")
        .arg(a.version.to_string())
        .arg("--sha256")
        .arg(&a.sha256)
        .stdin(Stdio::null())
        .stdout(Stdio::from(log))
        .stderr(Stdio::from(err))
        .kill_on_drop(true);
    // The worker runs user code: it gets its topology's worker credential, never the
    // cluster secret (not even one this supervisor inherited in its environment).
    cmd.env_remove(super::security::ENV_SECRET);
    for (k, v) in config.security.for_worker(&a.topology_id)?.to_env() {
        cmd.env(k, v);
    }
    // Its log lines look like this supervisor's (`--log-format`, `RUST_LOG`).
    cmd.envs(config.logs.to_env());
    cmd.spawn()
        .map_err(|e| format!("cannot run {}: {}", binary.display(), source_chain(&e)))
}
