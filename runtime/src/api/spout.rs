//! Spouts: the sources of a topology.

use super::{Emitter, Fail, TaskContext, TaskState};

/// What a spout's [`Spout::next_tuple`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpoutStatus {
    /// It emitted (or may emit more right away): call again.
    Active,
    /// Nothing to emit now: the executor flushes pending batches and backs off briefly.
    Idle,
    /// The source is exhausted: it is never called again. When every spout task is done and
    /// everything downstream has drained, the topology ends.
    Done,
}

/// A source of tuples (Storm's `IRichSpout`).
///
/// Each task gets its own instance, built with `Default` on the executor thread and then
/// [`open`](Spout::open)ed. `next_tuple` is called in a loop; it should emit a few tuples
/// and return rather than block.
///
/// ```
/// use gale::{Emitter, Spout, SpoutStatus};
///
/// #[derive(Default)]
/// struct Numbers { next: u64 }
///
/// impl Spout for Numbers {
///     type Out = u64;
///     fn next_tuple(&mut self, out: &mut impl Emitter<u64>) -> SpoutStatus {
///         if self.next == 100 { return SpoutStatus::Done; }
///         out.emit(self.next);
///         self.next += 1;
///         SpoutStatus::Active
///     }
/// }
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a spout: it does not implement `gale::Spout`",
    label = "a spout is expected here",
    note = "a `.topo` file names `{Self}` in a `spout` declaration; if `{Self}` is a bolt, declare it with `bolt name = {Self}(Input) -> Output`"
)]
pub trait Spout: Send + 'static {
    /// What it emits: a tuple type, or a stream-set enum generated from a `streams` declaration.
    type Out;

    /// Called once on the executor thread before the first `next_tuple`.
    fn open(&mut self, ctx: &TaskContext) {
        let _ = ctx;
    }

    /// Emit zero or more tuples and say whether there may be more.
    fn next_tuple(&mut self, out: &mut impl Emitter<Self::Out>) -> SpoutStatus;

    /// The tuple tree of message `msg_id` was fully processed (with `guarantee = at_least_once`).
    fn ack(&mut self, msg_id: u64) {
        let _ = msg_id;
    }

    /// The tuple tree of message `msg_id` failed or timed out; the spout may replay it.
    fn fail(&mut self, msg_id: u64) {
        let _ = msg_id;
    }

    /// Called once when the task stops (after `Done`, or when the topology is stopped).
    fn close(&mut self) {}

    /// Its position for a checkpoint (`guarantee = exactly_once`), taken between two calls
    /// of `next_tuple` as the checkpoint's barrier is sent: what it emitted before is in
    /// the checkpoint, what it emits after is not (an offset, a sequence number). `None`,
    /// the default: it keeps none (and so cannot be replayed: a restore starts it afresh).
    /// `checkpoint` is the checkpoint's id, or [`FINAL_SNAPSHOT`](crate::FINAL_SNAPSHOT)
    /// once the spout is done (after `close`). An `Err` fails the task.
    fn snapshot_state(&mut self, checkpoint: u64) -> Result<Option<TaskState>, Fail> {
        let _ = checkpoint;
        Ok(None)
    }
    /// Called once, after [`open`](Spout::open), when the topology takes checkpoints:
    /// `restored` is the position [`snapshot_state`](Spout::snapshot_state) gave the
    /// checkpoint the run restarts from (`None`: a fresh start). A replayable source
    /// rewinds to it: what it emits next is what came after it. An `Err` stops the run.
    fn initialize_state(&mut self, restored: Option<TaskState>) -> Result<(), Fail> {
        match restored {
            None => Ok(()),
            Some(_) => Err(Fail::new(
                "the checkpoint holds a position for it, but it does not implement \
                 `initialize_state` to rewind to it",
            )),
        }
    }
}
