//! The building blocks of a fused chain.
//!
//! Generated code nests them into one monomorphised value per chain task, e.g. for
//! `split -> count : none` followed by `count -> print : global`:
//!
//! ```text
//! Stage<SplitWords, Counted<Stage<CountWords, Counted<Router<Count, Global>>>>>
//! ```
//!
//! Each [`Stage`] owns one bolt and calls the next one directly: no queue, no copy, no
//! serialization between fused operators. A [`Router`](crate::grouping::Router) ends the
//! chain where tuples leave it through a grouping; a [`SpoutHead`] starts a spout's chain.
//!
//! With acking on, tuples move down a chain through
//! [`emit_tracked`](Downstream::emit_tracked), which carries the anchors of the emit so
//! that each copy leaving through a router gets fresh edge ids.

mod spout_head;
mod stage;
mod timestamped;
mod window_outputs;

pub use spout_head::{SpoutCollector, SpoutHead};
pub(crate) use stage::panic_text;
pub use stage::{BoltCollector, Stage};
pub use timestamped::Timestamped;
pub use window_outputs::WindowOutputs;

use super::wiring::Wiring;
use crate::ack::{Anchoring, Reply, TupleIds};
use crate::api::{Emitter, SpoutStatus, TaskId};
use std::time::Duration;

/// The plumbing every link of a chain has besides [`Emitter`].
pub trait Downstream<T>: Emitter<T> + Send {
    /// Emits a tuple that belongs to the tuple trees of `anchoring` (acking on).
    fn emit_tracked(&mut self, tuple: T, anchoring: &mut Anchoring<'_>);
    /// Emits a tuple to one task, in the trees of `anchoring` (acking on).
    fn emit_direct_tracked(&mut self, task: TaskId, tuple: T, anchoring: &mut Anchoring<'_>);
    /// Prepares the bolts from here on.
    fn open(&mut self, wiring: &Wiring);
    /// Sends every partly filled batch now (the executor is about to wait).
    fn flush(&mut self);
    /// The input is complete: finish the bolts from here on, flush, and pass the end of
    /// stream to every consumer task.
    fn finish(&mut self);
    /// Adds local counters to the shared metrics and resets them.
    fn report(&mut self, wiring: &Wiring);
    /// Event time reached `watermark` (epoch ms) on this output: passed to every
    /// consumer, which forwards it (an operator with windows fires them first). A link
    /// that carries no event time ignores it.
    fn watermark(&mut self, watermark: i64) {
        let _ = watermark;
    }
    /// Checkpoint `id`'s barrier (`savepoint`: one a user asked for): every tuple before it
    /// has gone down the chain. Each link passes it on after what came before it, to every
    /// consumer task; nothing may drop it (a checkpoint waits for every task), so every
    /// link implements this.
    fn barrier(&mut self, id: u64, savepoint: bool);
    /// Checkpoint `id` is complete: the bolts from here on in this chain hear of it
    /// (transactional sinks commit). A link that holds no bolt and feeds none in this
    /// chain (a router, a sink's `()`) ignores it; every other link passes it on.
    fn notify_complete(&mut self, id: u64) {
        let _ = id;
    }
    /// How often the bolts from here on (in this chain) want a tick.
    fn tick_interval(&self) -> Option<Duration> {
        None
    }
    /// Processing time reached `now_ms`: ticks the bolts from here on in this chain
    /// (consumers in other executors tick themselves).
    fn tick(&mut self, now_ms: u64) {
        let _ = now_ms;
    }
    /// Goes on with the snapshots of the stages below that are taken a key group at a
    /// time (see [`crate::Bolt::begin_snapshot`]), for about `budget` each; true while one
    /// is still pending. Every wrapper must pass it on (no default: a stage behind one that
    /// does not would never finish its snapshot).
    fn advance_snapshots(&mut self, budget: Duration) -> bool;
    /// An input's trip down the chain took `took` while a snapshot was pending in it
    /// (each tuple may first encode the key group it writes to: copy-on-write). The head
    /// times the trip, only then; the stages with a snapshot pending count it as a pause,
    /// and check nothing per tuple. Every wrapper must pass it on (no default, as for
    /// [`advance_snapshots`](Downstream::advance_snapshots)).
    fn snapshot_paused(&mut self, took: Duration);
}

/// A sink's output: nothing.
impl Downstream<()> for () {
    fn emit_tracked(&mut self, _: (), _: &mut Anchoring<'_>) {}
    fn emit_direct_tracked(&mut self, _: TaskId, _: (), _: &mut Anchoring<'_>) {}
    fn open(&mut self, _: &Wiring) {}
    fn flush(&mut self) {}
    fn finish(&mut self) {}
    fn report(&mut self, _: &Wiring) {}
    fn barrier(&mut self, _: u64, _: bool) {}
    fn advance_snapshots(&mut self, _: Duration) -> bool {
        false
    }
    fn snapshot_paused(&mut self, _: Duration) {}
}

/// Counts what a component emits, then passes it on.
#[derive(Debug)]
pub struct Counted<D> {
    component: usize,
    /// A fused consumer whose input is exactly this output: its `executed` count.
    feeds: Option<usize>,
    emitted: u64,
    inner: D,
}

impl<D> Counted<D> {
    /// Counts the output of `component`.
    pub fn new(component: usize, inner: D) -> Self {
        Counted {
            component,
            feeds: None,
            emitted: 0,
            inner,
        }
    }

    /// Counts the output of `component`, which is also the whole input of the fused
    /// `consumer` (built with [`Stage::fused`]).
    pub fn feeding(component: usize, consumer: usize, inner: D) -> Self {
        Counted {
            component,
            feeds: Some(consumer),
            emitted: 0,
            inner,
        }
    }
}

impl<T, D: Emitter<T>> Emitter<T> for Counted<D> {
    #[inline]
    fn emit(&mut self, tuple: T) {
        self.emitted += 1;
        self.inner.emit(tuple);
    }

    #[inline]
    fn emit_direct(&mut self, task: TaskId, tuple: T) {
        self.emitted += 1;
        self.inner.emit_direct(task, tuple);
    }
}

impl<T, D: Downstream<T>> Downstream<T> for Counted<D> {
    #[inline]
    fn emit_tracked(&mut self, tuple: T, anchoring: &mut Anchoring<'_>) {
        self.emitted += 1;
        self.inner.emit_tracked(tuple, anchoring);
    }
    #[inline]
    fn emit_direct_tracked(&mut self, task: TaskId, tuple: T, anchoring: &mut Anchoring<'_>) {
        self.emitted += 1;
        self.inner.emit_direct_tracked(task, tuple, anchoring);
    }
    fn open(&mut self, wiring: &Wiring) {
        self.inner.open(wiring);
    }
    fn flush(&mut self) {
        self.inner.flush();
    }
    fn finish(&mut self) {
        self.inner.finish();
    }
    fn watermark(&mut self, watermark: i64) {
        self.inner.watermark(watermark);
    }
    fn barrier(&mut self, id: u64, savepoint: bool) {
        self.inner.barrier(id, savepoint);
    }
    fn notify_complete(&mut self, id: u64) {
        self.inner.notify_complete(id);
    }
    fn tick_interval(&self) -> Option<Duration> {
        self.inner.tick_interval()
    }
    fn tick(&mut self, now_ms: u64) {
        self.inner.tick(now_ms);
    }
    fn advance_snapshots(&mut self, budget: Duration) -> bool {
        self.inner.advance_snapshots(budget)
    }
    fn snapshot_paused(&mut self, took: Duration) {
        self.inner.snapshot_paused(took);
    }
    fn report(&mut self, wiring: &Wiring) {
        let task = wiring.task_index;
        wiring
            .metrics()
            .add(self.component, task, self.emitted, 0, 0);
        if let Some(consumer) = self.feeds {
            wiring.metrics().add(consumer, task, 0, self.emitted, 0);
        }
        self.emitted = 0;
        self.inner.report(wiring);
    }
}

/// One stream consumed by two (or, nested, more) edges: each gets every tuple.
#[derive(Debug)]
pub struct Tee<A, B> {
    first: A,
    second: B,
}

impl<A, B> Tee<A, B> {
    /// Sends every tuple to `first` (a clone) and to `second`.
    pub fn new(first: A, second: B) -> Self {
        Tee { first, second }
    }
}

impl<T: Clone, A: Emitter<T>, B: Emitter<T>> Emitter<T> for Tee<A, B> {
    #[inline]
    fn emit(&mut self, tuple: T) {
        self.first.emit(tuple.clone());
        self.second.emit(tuple);
    }

    #[inline]
    fn emit_direct(&mut self, task: TaskId, tuple: T) {
        self.first.emit_direct(task, tuple.clone());
        self.second.emit_direct(task, tuple);
    }
}

impl<T: Clone, A: Downstream<T>, B: Downstream<T>> Downstream<T> for Tee<A, B> {
    #[inline]
    fn emit_tracked(&mut self, tuple: T, anchoring: &mut Anchoring<'_>) {
        self.first.emit_tracked(tuple.clone(), anchoring);
        self.second.emit_tracked(tuple, anchoring);
    }
    #[inline]
    fn emit_direct_tracked(&mut self, task: TaskId, tuple: T, anchoring: &mut Anchoring<'_>) {
        self.first
            .emit_direct_tracked(task, tuple.clone(), anchoring);
        self.second.emit_direct_tracked(task, tuple, anchoring);
    }
    fn open(&mut self, wiring: &Wiring) {
        self.first.open(wiring);
        self.second.open(wiring);
    }
    fn flush(&mut self) {
        self.first.flush();
        self.second.flush();
    }
    fn finish(&mut self) {
        self.first.finish();
        self.second.finish();
    }
    fn watermark(&mut self, watermark: i64) {
        self.first.watermark(watermark);
        self.second.watermark(watermark);
    }
    fn barrier(&mut self, id: u64, savepoint: bool) {
        self.first.barrier(id, savepoint);
        self.second.barrier(id, savepoint);
    }
    fn notify_complete(&mut self, id: u64) {
        self.first.notify_complete(id);
        self.second.notify_complete(id);
    }
    fn tick_interval(&self) -> Option<Duration> {
        shortest(self.first.tick_interval(), self.second.tick_interval())
    }
    fn tick(&mut self, now_ms: u64) {
        self.first.tick(now_ms);
        self.second.tick(now_ms);
    }
    fn advance_snapshots(&mut self, budget: Duration) -> bool {
        let first = self.first.advance_snapshots(budget);
        self.second.advance_snapshots(budget) | first
    }
    fn snapshot_paused(&mut self, took: Duration) {
        self.first.snapshot_paused(took);
        self.second.snapshot_paused(took);
    }
    fn report(&mut self, wiring: &Wiring) {
        self.first.report(wiring);
        self.second.report(wiring);
    }
}

/// One task of a chain headed by a spout, as the spout executor drives it.
pub trait SpoutRunner: Send {
    /// Opens the spout and prepares the fused bolts.
    fn open(&mut self, wiring: &Wiring);
    /// Checkpoint `id` was triggered: snapshot the spout and send the barrier down its
    /// chain.
    fn barrier(&mut self, id: u64, savepoint: bool);
    /// Checkpoint `id` is complete: the spout and the fused bolts hear of it.
    fn notify_complete(&mut self, id: u64);
    /// Asks the spout for tuples up to `max` times, stopping early when it is idle or done,
    /// or when `max_spout_pending` tuples are in flight (then it reports `Idle`). (The loop
    /// lives here, in monomorphised code, so a fused chain runs without a dynamic call per
    /// tuple.)
    fn run_burst(&mut self, max: u32) -> SpoutStatus;
    /// The ackers' word on some of this task's tuple trees (one clock reading for all).
    fn on_replies(&mut self, replies: Vec<Reply>);
    /// Times out old trees and replays failed tuples that are due.
    fn tick(&mut self);
    /// Fails at once the trees in flight whose root `lost` says is lost (their acker's
    /// worker went away), without waiting for their timeout.
    fn fail_trees(&mut self, lost: &dyn Fn(u64) -> bool);
    /// Nothing in flight and nothing waiting for a replay: the task may finish.
    fn settled(&self) -> bool;
    /// The topology is stopping: no more replays.
    fn stop(&mut self);
    /// Sends partly filled batches.
    fn flush(&mut self);
    /// Closes the spout, finishes the chain and ends its output streams.
    fn finish(&mut self);
    /// Reports counters.
    fn report(&mut self, wiring: &Wiring);
    /// Goes on with the fused bolts' snapshots taken a key group at a time; true while one
    /// is still pending.
    fn advance_snapshots(&mut self, budget: Duration) -> bool;
}

/// One task of a chain headed by a bolt, as the bolt executor drives it.
pub trait BoltRunner<In>: Send {
    /// Prepares the bolts.
    fn open(&mut self, wiring: &Wiring);
    /// Processes a batch of input tuples, with their tree ids when acking is on (`ids` is
    /// then as long as `batch`; else it is empty).
    fn run_batch(&mut self, batch: Vec<In>, ids: Vec<TupleIds>);
    /// Sends partly filled batches.
    fn flush(&mut self);
    /// Finishes the chain and ends its output streams.
    fn finish(&mut self);
    /// Reports counters.
    fn report(&mut self, wiring: &Wiring);
    /// The task's event time (the minimum watermark over its input channels) advanced.
    fn watermark(&mut self, watermark: i64);
    /// Every input channel of the task delivered checkpoint `id`'s barrier: pass it on.
    fn barrier(&mut self, id: u64, savepoint: bool);
    /// Checkpoint `id` is complete: the bolts hear of it (transactional sinks commit).
    fn notify_complete(&mut self, id: u64);
    /// How often the chain wants a tick (`None`: never).
    fn tick_interval(&self) -> Option<Duration>;
    /// Processing time reached `now_ms`.
    fn tick(&mut self, now_ms: u64);
    /// Goes on with snapshots taken a key group at a time, for about `budget` each; true
    /// while one is still pending.
    fn advance_snapshots(&mut self, budget: Duration) -> bool;
}

/// The shorter of two tick intervals.
pub(crate) fn shortest(a: Option<Duration>, b: Option<Duration>) -> Option<Duration> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// A stream nobody subscribes to: its tuples are dropped (as in Storm).
#[derive(Debug, Clone, Copy, Default)]
pub struct Discard;

impl<T> Emitter<T> for Discard {
    #[inline]
    fn emit(&mut self, _tuple: T) {}
    #[inline]
    fn emit_direct(&mut self, _task: TaskId, _tuple: T) {}
}

impl<T> Downstream<T> for Discard {
    #[inline]
    fn emit_tracked(&mut self, _: T, _: &mut Anchoring<'_>) {}
    #[inline]
    fn emit_direct_tracked(&mut self, _: TaskId, _: T, _: &mut Anchoring<'_>) {}
    fn open(&mut self, _: &Wiring) {}
    fn flush(&mut self) {}
    fn finish(&mut self) {}
    fn report(&mut self, _: &Wiring) {}
    // No consumer waits for it.
    fn barrier(&mut self, _: u64, _: bool) {}
    fn advance_snapshots(&mut self, _: Duration) -> bool {
        false
    }
    fn snapshot_paused(&mut self, _: Duration) {}
}
