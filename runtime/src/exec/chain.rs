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
//! chain where tuples leave it through a grouping.

use super::wiring::Wiring;
use crate::api::{Bolt, Emitter, Spout, SpoutStatus, TaskId};

/// The plumbing every link of a chain has besides [`Emitter`].
pub trait Downstream<T>: Emitter<T> + Send {
    /// Prepares the bolts from here on.
    fn open(&mut self, wiring: &Wiring);
    /// Sends every partly filled batch now (the executor is about to wait).
    fn flush(&mut self);
    /// The input is complete: finish the bolts from here on, flush, and pass the end of
    /// stream to every consumer task.
    fn finish(&mut self);
    /// Adds local counters to the shared metrics and resets them.
    fn report(&mut self, wiring: &Wiring);
}

/// A sink's output: nothing.
impl Downstream<()> for () {
    fn open(&mut self, _: &Wiring) {}
    fn flush(&mut self) {}
    fn finish(&mut self) {}
    fn report(&mut self, _: &Wiring) {}
}

/// A bolt and where its output goes.
#[derive(Debug)]
pub struct Stage<B, D> {
    component: usize,
    bolt: B,
    out: D,
    /// False when the upstream [`Counted`] already counts this stage's input (a fused edge
    /// from a single-stream producer): one memory counter less per tuple.
    count: bool,
    executed: u64,
    failed: u64,
    task: TaskId,
}

impl<B: Bolt, D: Downstream<B::Out>> Stage<B, D> {
    /// Component `component` running `bolt`, emitting into `out`.
    pub fn new(component: usize, bolt: B, out: D) -> Self {
        Stage {
            component,
            bolt,
            out,
            count: true,
            executed: 0,
            failed: 0,
            task: 0,
        }
    }
}

impl<B: Bolt, D: Downstream<B::Out>> Stage<B, D> {
    /// A stage fed through a fused edge by [`Counted::feeding`], which counts its input.
    pub fn fused(component: usize, bolt: B, out: D) -> Self {
        let mut s = Stage::new(component, bolt, out);
        s.count = false;
        s
    }
}

impl<B: Bolt, D: Downstream<B::Out>> Emitter<B::In> for Stage<B, D> {
    #[inline]
    fn emit(&mut self, tuple: B::In) {
        if self.count {
            self.executed += 1;
        }
        if let Err(e) = self.bolt.execute(tuple, &mut self.out) {
            self.failed += 1;
            if self.failed <= 10 || self.failed.is_power_of_two() {
                eprintln!(
                    "gale: task {} failed a tuple ({} so far): {e}",
                    self.task, self.failed
                );
            }
        }
    }

    /// A fused edge is one-to-one: a direct emit into it is an ordinary emit.
    #[inline]
    fn emit_direct(&mut self, _task: TaskId, tuple: B::In) {
        self.emit(tuple);
    }
}

impl<B: Bolt, D: Downstream<B::Out>> Downstream<B::In> for Stage<B, D> {
    fn open(&mut self, wiring: &Wiring) {
        self.task = wiring.task_id(self.component);
        self.bolt.prepare(&wiring.context(self.component));
        self.out.open(wiring);
    }

    fn flush(&mut self) {
        self.out.flush();
    }

    fn finish(&mut self) {
        self.bolt.finish(&mut self.out);
        self.out.finish();
    }

    fn report(&mut self, wiring: &Wiring) {
        wiring
            .metrics()
            .add(self.component, 0, self.executed, self.failed);
        self.executed = 0;
        self.failed = 0;
        self.out.report(wiring);
    }
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
    fn open(&mut self, wiring: &Wiring) {
        self.inner.open(wiring);
    }
    fn flush(&mut self) {
        self.inner.flush();
    }
    fn finish(&mut self) {
        self.inner.finish();
    }
    fn report(&mut self, wiring: &Wiring) {
        wiring.metrics().add(self.component, self.emitted, 0, 0);
        if let Some(consumer) = self.feeds {
            wiring.metrics().add(consumer, 0, self.emitted, 0);
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
    fn report(&mut self, wiring: &Wiring) {
        self.first.report(wiring);
        self.second.report(wiring);
    }
}

/// One task of a chain headed by a spout, as the spout executor drives it.
pub trait SpoutRunner: Send {
    /// Opens the spout and prepares the fused bolts.
    fn open(&mut self, wiring: &Wiring);
    /// Asks the spout for tuples up to `max` times, stopping early when it is idle or done.
    /// (The loop lives here, in monomorphised code, so a fused chain runs without a
    /// dynamic call per tuple.)
    fn run_burst(&mut self, max: u32) -> SpoutStatus;
    /// Sends partly filled batches.
    fn flush(&mut self);
    /// Closes the spout, finishes the chain and ends its output streams.
    fn finish(&mut self);
    /// Reports counters.
    fn report(&mut self, wiring: &Wiring);
}

/// One task of a chain headed by a bolt, as the bolt executor drives it.
pub trait BoltRunner<In>: Send {
    /// Prepares the bolts.
    fn open(&mut self, wiring: &Wiring);
    /// Processes a batch of input tuples.
    fn run_batch(&mut self, batch: Vec<In>);
    /// Sends partly filled batches.
    fn flush(&mut self);
    /// Finishes the chain and ends its output streams.
    fn finish(&mut self);
    /// Reports counters.
    fn report(&mut self, wiring: &Wiring);
}

impl<In, D: Downstream<In>> BoltRunner<In> for D {
    fn open(&mut self, wiring: &Wiring) {
        Downstream::open(self, wiring);
    }
    fn run_batch(&mut self, batch: Vec<In>) {
        for t in batch {
            self.emit(t);
        }
    }
    fn flush(&mut self) {
        Downstream::flush(self);
    }
    fn finish(&mut self) {
        Downstream::finish(self);
    }
    fn report(&mut self, wiring: &Wiring) {
        Downstream::report(self, wiring);
    }
}

/// A spout and where its output goes: the head of a spout chain.
#[derive(Debug)]
pub struct SpoutHead<S, D> {
    component: usize,
    spout: S,
    out: D,
}

impl<S: Spout, D: Downstream<S::Out>> SpoutHead<S, D> {
    /// Component `component` running `spout`, emitting into `out`.
    pub fn new(component: usize, spout: S, out: D) -> Self {
        SpoutHead {
            component,
            spout,
            out,
        }
    }
}

impl<S: Spout, D: Downstream<S::Out>> SpoutRunner for SpoutHead<S, D> {
    fn open(&mut self, wiring: &Wiring) {
        self.spout.open(&wiring.context(self.component));
        self.out.open(wiring);
    }
    #[inline]
    fn run_burst(&mut self, max: u32) -> SpoutStatus {
        for _ in 0..max {
            match self.spout.next_tuple(&mut self.out) {
                SpoutStatus::Active => {}
                other => return other,
            }
        }
        SpoutStatus::Active
    }
    fn flush(&mut self) {
        self.out.flush();
    }
    fn finish(&mut self) {
        self.spout.close();
        self.out.finish();
    }
    fn report(&mut self, wiring: &Wiring) {
        self.out.report(wiring);
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
    fn open(&mut self, _: &Wiring) {}
    fn flush(&mut self) {}
    fn finish(&mut self) {}
    fn report(&mut self, _: &Wiring) {}
}
