//! Bolts: the processing steps of a topology.

use super::{Emitter, TaskContext, TaskState};
use std::fmt;

/// Why a bolt could not process a tuple. Any error converts into it, so `?` works in
/// [`Bolt::execute`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fail {
    /// What went wrong.
    pub message: String,
}

impl Fail {
    /// A failure with a message.
    pub fn new(message: impl Into<String>) -> Self {
        Fail {
            message: message.into(),
        }
    }
}

impl fmt::Display for Fail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl<E: std::error::Error> From<E> for Fail {
    fn from(e: E) -> Self {
        Fail::new(e.to_string())
    }
}

/// The result of processing one tuple: `Ok(())`, or a failure that is counted, logged and
/// (with `guarantee = at_least_once`) fails the tuple's tree so the spout can replay it.
pub type ExecResult = Result<(), Fail>;

/// A processing step (Storm's `IBasicBolt`, Flink's `ProcessFunction`).
///
/// Each task gets its own instance, built with `Default` on the executor thread and then
/// [`prepare`](Bolt::prepare)d. Equal keys reach the same instance under a `fields`
/// grouping, so plain fields are per-key state in effect (Storm's style); for state that
/// must survive a failure, declare it through a [`ProcessBolt`](crate::ProcessBolt).
///
/// ```
/// use gale::{Bolt, Emitter, ExecResult};
///
/// #[derive(Default)]
/// struct Double;
///
/// impl Bolt for Double {
///     type In = u64;
///     type Out = u64;
///     fn execute(&mut self, n: u64, out: &mut impl Emitter<u64>) -> ExecResult {
///         out.emit(n * 2);
///         Ok(())
///     }
/// }
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a bolt: it does not implement `gale::Bolt`",
    label = "a bolt is expected here",
    note = "a `.topo` file names `{Self}` in a `bolt` declaration; if `{Self}` is a spout, declare it with `spout name = {Self}() -> Output`"
)]
pub trait Bolt: Send + 'static {
    /// The input schema.
    type In;
    /// What it emits: a tuple type, a stream-set enum, or `()` for a sink.
    type Out;

    /// Called once on the executor thread before the first `execute`.
    fn prepare(&mut self, ctx: &TaskContext) {
        let _ = ctx;
    }

    /// Process one tuple, emitting zero or more.
    fn execute(&mut self, input: Self::In, out: &mut impl Emitter<Self::Out>) -> ExecResult;

    /// Called once when every upstream task has finished (finite inputs), before the end of
    /// stream is passed downstream: a last chance to emit (final counts, open windows).
    fn finish(&mut self, out: &mut impl Emitter<Self::Out>) {
        let _ = out;
    }

    /// Called when the task's event time advances: `watermark` (epoch ms) is the minimum
    /// over its input channels (Flink's watermark: no tuple at or before it is still
    /// coming). Event-time operators (windows) fire here; the watermark is then passed on
    /// downstream.
    fn on_watermark(&mut self, watermark: i64, out: &mut impl Emitter<Self::Out>) {
        let _ = (watermark, out);
    }

    /// How often it wants [`Bolt::on_tick`] (`None`, the default: never). Asked once, after
    /// `prepare`; its executor then wakes at least this often even while its input is
    /// empty.
    fn tick_interval(&self) -> Option<std::time::Duration> {
        None
    }

    /// Processing time advanced to `now_ms` (epoch ms): processing-time windows and timers
    /// fire here, whether or not input arrives.
    fn on_tick(&mut self, now_ms: u64, out: &mut impl Emitter<Self::Out>) {
        let _ = (now_ms, out);
    }

    /// Its state for a checkpoint (`guarantee = exactly_once`), taken when the checkpoint's
    /// barrier passes it: every tuple before the barrier has been executed, none after
    /// (Flink's `CheckpointedFunction::snapshotState`). A sink that writes to an outside
    /// system pre-commits here what it wrote since the last barrier (see
    /// [`TransactionalSink`](crate::TransactionalSink)). `None`, the default: it keeps no
    /// state a restore would need.
    ///
    /// `checkpoint` is the checkpoint's id, or [`FINAL_SNAPSHOT`](crate::FINAL_SNAPSHOT) for
    /// the final state of a task whose input ended (after its `finish`), which every later
    /// checkpoint holds. An `Err` fails the task (a state that cannot be taken cannot be
    /// checkpointed): the run restarts from its last checkpoint.
    fn snapshot_state(&mut self, checkpoint: u64) -> Result<Option<TaskState>, Fail> {
        let _ = checkpoint;
        Ok(None)
    }
    /// Starts its snapshot for checkpoint `checkpoint` without holding up the stream:
    /// [`SnapshotStep::Ready`] with the state at once, or [`SnapshotStep::Pending`] when
    /// the rest is taken by [`continue_snapshot`](Bolt::continue_snapshot) between batches
    /// (the barrier goes on at once; the checkpoint waits for the state). A bolt that
    /// returns `Pending` must keep what it snapshots as it was at the barrier while it
    /// goes on processing (copy-on-write): the built-in `process(T)` encodes a key group
    /// before the first write to it after the barrier. The default: `snapshot_state`.
    fn begin_snapshot(&mut self, checkpoint: u64) -> Result<SnapshotStep, Fail> {
        self.snapshot_state(checkpoint).map(SnapshotStep::Ready)
    }
    /// Goes on with the snapshot [`begin_snapshot`](Bolt::begin_snapshot) left pending,
    /// for about `budget`: `Ready` with the state once it is whole. Called only after a
    /// `Pending`.
    fn continue_snapshot(&mut self, budget: std::time::Duration) -> Result<SnapshotStep, Fail> {
        let _ = budget;
        Err(Fail::new(
            "`begin_snapshot` returned `Pending`, but `continue_snapshot` is not implemented",
        ))
    }
    /// Called once, after [`prepare`](Bolt::prepare), when the topology takes checkpoints:
    /// `restored` is what [`snapshot_state`](Bolt::snapshot_state) gave the checkpoint the
    /// run restarts from (`None`: a fresh start, or it kept nothing). Flink's
    /// `initializeState`. An `Err` stops the run: the state cannot be used. The default
    /// accepts a fresh start and refuses state it would drop.
    fn initialize_state(&mut self, restored: Option<TaskState>) -> ExecResult {
        match restored {
            None => Ok(()),
            Some(_) => Err(Fail::new(
                "the checkpoint holds state for it, but it does not implement \
                 `initialize_state` to restore it",
            )),
        }
    }
    /// Checkpoint `id` is complete (durable, every task's state in it): a transactional
    /// sink commits what it pre-committed for it and for any earlier one (a notification
    /// can be missed: the next covers it). Flink's `notifyCheckpointComplete`.
    fn notify_checkpoint_complete(&mut self, id: u64) -> ExecResult {
        let _ = id;
        Ok(())
    }
}

/// Where a snapshot begun by [`Bolt::begin_snapshot`] stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SnapshotStep {
    /// It is whole: the state (`None`: none to keep).
    Ready(Option<TaskState>),
    /// More is to come from [`Bolt::continue_snapshot`].
    Pending,
}
