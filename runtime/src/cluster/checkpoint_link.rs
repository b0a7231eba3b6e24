//! A worker's checkpoint control path to nimbus (the coordinator), for an `exactly_once`
//! topology: the stream opened before its executors start (so nimbus knows every process
//! that may have sent data in a run), its tasks' snapshots written to the shared storage
//! and reported, and nimbus's triggers and completions handed to its tasks.

use super::client::{Client, status_text};
use super::proto::{
    CheckpointAssignment, CheckpointCommand, CheckpointHello, CheckpointReport, StateFileInfo,
    TaskDecline, TaskFinished, TaskSnapshot, WorkerFailure, checkpoint_command, checkpoint_report,
};
use crate::checkpoint::{
    CheckpointError, CheckpointStorage, CheckpointStore, StateFile, object_storage,
};
use crate::exec::checkpointing::{self, Checkpointing, Report};
use crate::exec::uploads::{Upload, Uploader};
use crate::topology::TopologyDesc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};

/// How long a worker waits for nimbus to take its hello before it gives up (and exits:
/// its supervisor starts it again).
pub const HELLO_TIMEOUT: Duration = Duration::from_secs(20);

/// The checkpoints of this worker's run: the shared half its tasks use, and the reports
/// they will send.
pub(crate) struct Prepared {
    pub(crate) shared: Arc<Checkpointing>,
    reports: crossbeam_channel::Receiver<Report>,
}

/// Why a worker cannot run its part of a run's checkpoints.
#[derive(Debug)]
pub(crate) struct PrepareError {
    /// What went wrong.
    pub(crate) message: String,
    /// Whether trying again may succeed (storage unreachable for now).
    pub(crate) retryable: bool,
}

impl PrepareError {
    fn of(what: String, e: &CheckpointError) -> Self {
        PrepareError {
            message: format!("{what}: {e}"),
            retryable: e.is_retryable(),
        }
    }
}

/// Opens the storage `a` names and reads the checkpoint this run restores (checked whole
/// and against this binary's operators), for `desc`.
pub(crate) fn prepare(
    desc: &'static TopologyDesc,
    a: &CheckpointAssignment,
) -> Result<Prepared, PrepareError> {
    let open = |location: &str| -> Result<Arc<dyn CheckpointStorage>, PrepareError> {
        object_storage::open(location)
            .map(|s| Arc::new(s) as Arc<dyn CheckpointStorage>)
            .map_err(|e| PrepareError::of("checkpoint storage".into(), &e.into()))
    };
    let storage = open(&a.storage)?;
    let what = || format!("cannot restore checkpoint {}", a.restore_id);
    let restored = if a.restore_id == 0 {
        None
    } else {
        let from = if a.restore_from == a.storage {
            storage.clone()
        } else {
            open(&a.restore_from)?
        };
        let meta = CheckpointStore::new(from.clone())
            .verify(a.restore_id)
            .map_err(|e| PrepareError::of(what(), &e))?;
        checkpointing::compatible(desc, &meta).map_err(|e| PrepareError::of(what(), &e))?;
        Some((from, meta))
    };
    let (shared, reports) = checkpointing::cluster(desc, storage, restored);
    shared
        .check_restore()
        .map_err(|e| PrepareError::of(what(), &e))?;
    Ok(Prepared { shared, reports })
}

/// The running link: where the uploader sends reports.
pub(crate) struct Link {
    reports: UnboundedSender<CheckpointReport>,
}

impl Link {
    /// Reports that this worker cannot run (`retryable`: a restart may get past it).
    pub(crate) fn fail(&self, reason: String, retryable: bool) {
        let _ = self.reports.send(CheckpointReport {
            report: Some(checkpoint_report::Report::Failure(WorkerFailure {
                reason,
                retryable,
            })),
        });
    }
}

/// Opens the control stream with `hello` and waits until nimbus took it (its answer's
/// headers came), then keeps it open, reopening it (not fresh) if it breaks, handing
/// nimbus's commands to `shared` (`None`: a worker that only reports why it cannot run).
pub(crate) fn open(
    rt: &tokio::runtime::Runtime,
    client: Client,
    hello: CheckpointHello,
    shared: Option<Arc<Checkpointing>>,
) -> Result<Link, OpenError> {
    let (reports, rx) = unbounded_channel();
    let (opened, first) = tokio::sync::oneshot::channel();
    rt.spawn(keep_open(client, hello, rx, shared, opened));
    match rt.block_on(async { tokio::time::timeout(HELLO_TIMEOUT, first).await }) {
        Ok(Ok(Ok(()))) => Ok(Link { reports }),
        Ok(Ok(Err(Refusal::Refused(e)))) => Err(OpenError::Refused(e)),
        Ok(Ok(Err(Refusal::Unreachable(e)))) => Err(OpenError::Unreachable(e)),
        Ok(Err(_)) => Err(OpenError::Unreachable(
            "the checkpoint stream ended before it opened".into(),
        )),
        Err(_) => Err(OpenError::Unreachable(format!(
            "nimbus did not open the checkpoint stream within {HELLO_TIMEOUT:?}"
        ))),
    }
}

/// Why a worker's checkpoint stream did not open.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum OpenError {
    /// Nimbus answered: this process is not (or no longer) a worker of the current run.
    /// It must not run; nimbus restarts the topology. Not retryable.
    #[error("nimbus did not take this worker: {0}")]
    Refused(String),
    /// Nimbus could not be reached or did not answer: retryable (the supervisor starts
    /// the worker again).
    #[error("{0}")]
    Unreachable(String),
}

/// How the first answer on the stream went.
enum Refusal {
    Refused(String),
    Unreachable(String),
}

async fn keep_open(
    mut client: Client,
    hello: CheckpointHello,
    mut reports: UnboundedReceiver<CheckpointReport>,
    shared: Option<Arc<Checkpointing>>,
    opened: tokio::sync::oneshot::Sender<Result<(), Refusal>>,
) {
    let mut opened = Some(opened);
    let mut fresh = true;
    loop {
        let (out, outgoing) = unbounded_channel();
        let hello = CheckpointHello {
            fresh,
            ..hello.clone()
        };
        let _ = out.send(CheckpointReport {
            report: Some(checkpoint_report::Report::Hello(hello)),
        });
        let call = client
            .checkpoints(tokio_stream::wrappers::UnboundedReceiverStream::new(
                outgoing,
            ))
            .await;
        match call {
            Ok(response) => {
                let mut commands = response.into_inner();
                // The first command answers the hello: only an accepted worker runs.
                match commands.message().await {
                    Ok(Some(CheckpointCommand {
                        command: Some(checkpoint_command::Command::Welcome(w)),
                    })) => {
                        if let Some(o) = opened.take() {
                            let answer = if w.accepted {
                                Ok(())
                            } else {
                                Err(Refusal::Refused(w.reason))
                            };
                            let refused = answer.is_err();
                            let _ = o.send(answer);
                            if refused {
                                return;
                            }
                        }
                    }
                    Ok(_) | Err(_) => {
                        if let Some(o) = opened.take() {
                            let _ = o.send(Err(Refusal::Unreachable(
                                "the stream ended before nimbus answered".into(),
                            )));
                            return;
                        }
                    }
                }
                loop {
                    tokio::select! {
                        r = reports.recv() => match r {
                            Some(r) => { let _ = out.send(r); }
                            // The worker is done with checkpoints.
                            None => return,
                        },
                        c = commands.message() => match c {
                            Ok(Some(cmd)) => {
                                if let Some(s) = &shared {
                                    apply(s, cmd);
                                }
                            }
                            Ok(None) | Err(_) => break,
                        },
                    }
                }
            }
            Err(s) => {
                if let Some(o) = opened.take() {
                    let _ = o.send(Err(Refusal::Unreachable(status_text(&s))));
                    return;
                }
            }
        }
        fresh = false;
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

fn apply(shared: &Checkpointing, cmd: CheckpointCommand) {
    match cmd.command {
        Some(checkpoint_command::Command::Trigger(t)) => shared.trigger(t.id, t.savepoint),
        Some(checkpoint_command::Command::Complete(d)) => shared.complete(d.id, d.last),
        // An aborted checkpoint is never committed (the next restore drops what sinks
        // pre-committed for it); a snapshot of it that comes late is not written.
        Some(checkpoint_command::Command::Abort(id)) => shared.abandon(id),
        Some(checkpoint_command::Command::Welcome(_)) | None => {}
    }
}

/// Starts the thread that writes the tasks' snapshots (run `run`) and reports them over
/// `link`, and reports the run's failure once, until `stop`.
pub(crate) fn upload(
    prepared: Prepared,
    link: Link,
    run: u64,
    stop: Arc<AtomicBool>,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    let Prepared { shared, reports } = prepared;
    // Its lines name the worker, as the worker's own do.
    let span = tracing::Span::current();
    std::thread::Builder::new()
        .name("checkpoint-uploads".into())
        .spawn(move || {
            let _in = span.enter();
            let uploader = Uploader::new(shared.clone(), reports, run);
            let mut said_failure = false;
            while !stop.load(Ordering::Relaxed) {
                if let Some(u) = uploader.next(Duration::from_millis(20)) {
                    let _ = link.reports.send(report_of(u));
                }
                if !said_failure && let Some(f) = shared.failure() {
                    said_failure = true;
                    link.fail(f.to_string(), f.retryable);
                }
            }
        })
}

fn info(f: StateFile) -> StateFileInfo {
    StateFileInfo {
        operator: f.operator,
        task: f.task,
        bytes: f.bytes,
        sha256: f.sha256,
    }
}

fn report_of(u: Upload) -> CheckpointReport {
    use checkpoint_report::Report as R;
    let report = match u {
        Upload::Snapshot {
            id,
            task,
            state,
            alignment_ms,
            pause_us,
        } => R::Snapshot(TaskSnapshot {
            id,
            task,
            state: state.map(info),
            alignment_ms,
            pause_us,
        }),
        Upload::Decline { id, task, reason } => R::Decline(TaskDecline { id, task, reason }),
        Upload::Finished { task, state } => R::Finished(TaskFinished {
            task,
            state: state.map(info),
        }),
    };
    CheckpointReport {
        report: Some(report),
    }
}
