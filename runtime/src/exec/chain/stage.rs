//! A bolt in a chain ([`Stage`]) and the emitter its `execute` writes to
//! ([`BoltCollector`]), which anchors, acks and fails.

use super::{BoltRunner, Downstream};
use crate::ack::{AckOutbox, Anchor, Anchoring, Rng, TupleIds};
use crate::api::{Bolt, Emitter, SnapshotStep, TaskId};
use crate::exec::checkpointing::CheckpointTo;
use crate::exec::wiring::Wiring;
use std::panic::{AssertUnwindSafe, catch_unwind};

/// Counters of one bolt task since the last report.
#[derive(Debug, Default)]
struct Counts {
    executed: u64,
    failed: u64,
    acked: u64,
}

/// A bolt and where its output goes. `COUNT` is false when the upstream
/// [`Counted`](super::Counted) already counts this stage's input (a fused edge from a
/// single-stream producer, built with [`Stage::fused`]): one memory counter less per
/// tuple, decided at compile time.
#[derive(Debug)]
pub struct Stage<B, D, const COUNT: bool = true> {
    component: usize,
    name: &'static str,
    bolt: B,
    out: D,
    counts: Counts,
    task: TaskId,
    /// Messages to the ackers (acking on).
    acks: Option<AckOutbox>,
    rng: Rng,
    /// Where its snapshots go (`exactly_once` with checkpoints).
    checkpoints: Option<CheckpointTo>,
    /// Where its failures' errors are recorded (set when it opens).
    errors: Option<crate::exec::metrics::ErrorSink>,
    /// It had finished in the checkpoint it restored: its input ends again at once, and
    /// its `finish` (which emitted then) does not run again.
    finished_on_restore: bool,
    /// The newest checkpoint completion it heard of.
    notified: u64,
    /// A snapshot its bolt takes a key group at a time: the checkpoint, and the longest
    /// the task stopped processing for it so far.
    pending: Option<(u64, std::time::Duration)>,
    /// As the head of a chain: a snapshot may be pending in it or in a fused stage below
    /// (true from a barrier until advancing the snapshots says none is). Each input's
    /// trip down the chain is then timed, as a pause ([`Downstream::snapshot_paused`]);
    /// the stages themselves check nothing per tuple.
    chain_pending: bool,
}

impl<B: Bolt, D: Downstream<B::Out>> Stage<B, D, true> {
    /// Component `component` running `bolt`, emitting into `out`.
    pub fn new(component: usize, bolt: B, out: D) -> Self {
        Stage::build(component, bolt, out)
    }
}

impl<B: Bolt, D: Downstream<B::Out>> Stage<B, D, false> {
    /// A stage fed through a fused edge by [`Counted::feeding`](super::Counted::feeding),
    /// which counts its input.
    pub fn fused(component: usize, bolt: B, out: D) -> Self {
        Stage::build(component, bolt, out)
    }
}

impl<B: Bolt, D: Downstream<B::Out>, const COUNT: bool> Stage<B, D, COUNT> {
    fn build(component: usize, bolt: B, out: D) -> Self {
        Stage {
            component,
            name: "",
            bolt,
            out,
            counts: Counts::default(),
            task: 0,
            acks: None,
            rng: Rng::seeded(component as u64),
            checkpoints: None,
            errors: None,
            finished_on_restore: false,
            notified: 0,
            pending: None,
            chain_pending: false,
        }
    }

    /// Runs `f` on the bolt with a collector outside any input (at its end, on a
    /// watermark): what it emits is not anchored.
    fn untracked(&mut self, f: impl FnOnce(&mut B, &mut BoltCollector<'_, D>)) {
        let mut rng = self.rng.clone();
        let mut out = BoltCollector::new(
            &mut self.out,
            Input::Untracked(&mut rng),
            self.acks.as_mut(),
            &mut self.counts,
        );
        f(&mut self.bolt, &mut out);
    }

    /// As the head of a chain with a snapshot pending, executes one input and times its
    /// trip down the chain: a tuple may first encode the key group it writes to
    /// (copy-on-write), and the stages with a snapshot pending count that as a pause.
    #[cold]
    #[inline(never)]
    fn execute_timed(&mut self, tuple: B::In, anchoring: Option<Anchoring<'_>>) -> bool {
        let started = std::time::Instant::now();
        let ok = self.execute(tuple, anchoring);
        Downstream::snapshot_paused(self, started.elapsed());
        ok
    }

    /// A call that began at `started` while a snapshot is pending (a tuple, a watermark or
    /// a tick: each may first encode the groups it changes) counts as a pause.
    fn note_pause(&mut self, started: Option<std::time::Instant>) {
        if let (Some(t), Some((_, longest))) = (started, self.pending.as_mut()) {
            *longest = (*longest).max(t.elapsed());
        }
    }

    /// Executes one tuple; `anchoring` is its trees (`None`: untracked). Returns false
    /// when the bolt failed it (an error or a panic, both logged).
    #[inline]
    fn execute(&mut self, tuple: B::In, anchoring: Option<Anchoring<'_>>) -> bool {
        if COUNT {
            self.counts.executed += 1;
        }
        let Stage {
            bolt,
            out,
            acks,
            counts,
            rng,
            ..
        } = self;
        let input = match anchoring {
            None => Input::Untracked(rng),
            Some(a) => Input::Tracked(a),
        };
        match run_bolt(bolt, out, acks.as_mut(), counts, tuple, input) {
            Ok(()) => true,
            Err(why) => self.failed(why),
        }
    }
}

impl<B: Bolt, D: Downstream<B::Out>, const COUNT: bool> Stage<B, D, COUNT> {
    /// Executes a batch of untracked tuples with one collector and one `catch_unwind` for
    /// the whole batch (the per-tuple path costs a landing pad and a collector per tuple):
    /// after a tuple fails or panics, the rest of the batch goes on in a new one.
    fn run_untracked(&mut self, batch: Vec<B::In>) {
        if COUNT {
            self.counts.executed += batch.len() as u64;
        }
        let mut tuples = batch.into_iter();
        loop {
            let Stage {
                bolt,
                out,
                acks,
                counts,
                rng,
                ..
            } = self;
            let mut collector =
                BoltCollector::new(out, Input::Untracked(rng), acks.as_mut(), counts);
            let result = catch_unwind(AssertUnwindSafe(|| {
                for t in tuples.by_ref() {
                    if let Err(e) = bolt.execute(t, &mut collector) {
                        return Err(e.message);
                    }
                }
                Ok(())
            }));
            let why = match result {
                Ok(Ok(())) => return,
                Ok(Err(why)) => why,
                Err(panic) => panicked(panic.as_ref()),
            };
            self.failed(why);
        }
    }
}

impl<B: Bolt, D, const COUNT: bool> Stage<B, D, COUNT> {
    /// One step of the snapshot in progress, for about `budget`; sent once whole.
    fn snapshot_step(&mut self, budget: std::time::Duration) {
        let (Some((id, longest)), Some(to)) = (self.pending, &self.checkpoints) else {
            self.pending = None;
            return;
        };
        let started = std::time::Instant::now();
        match self.bolt.continue_snapshot(budget) {
            Ok(SnapshotStep::Ready(state)) => {
                self.pending = None;
                to.send(id, longest.max(started.elapsed()), state);
            }
            Ok(SnapshotStep::Pending) => {
                self.pending = Some((id, longest.max(started.elapsed())));
            }
            Err(e) => {
                self.pending = None;
                to.fail(
                    format!("its snapshot for checkpoint {id} failed: {e}"),
                    true,
                );
            }
        }
    }

    /// Takes the rest of the snapshot in progress at once (a newer barrier, or the end).
    fn complete_pending(&mut self) {
        while self.pending.is_some() {
            self.snapshot_step(std::time::Duration::MAX);
        }
    }

    /// A tuple failed: counted and logged; under `exactly_once` the task fails, and the
    /// run restarts from its last checkpoint (Flink's failover).
    #[cold]
    #[inline(never)]
    fn failed(&mut self, why: String) -> bool {
        self.counts.failed += 1;
        log_failure(self.name, self.task, self.counts.failed, &why);
        if let Some(errors) = &mut self.errors {
            errors.report(&why);
        }
        if let Some(to) = &self.checkpoints {
            to.fail(format!("a tuple failed: {why}"), true);
        }
        false
    }
}

/// Logs a failed tuple: the first ten, then every power of two.
#[cold]
#[inline(never)]
fn log_failure(name: &str, task: TaskId, failed: u64, why: &str) {
    if failed <= 10 || failed.is_power_of_two() {
        tracing::warn!(
            component = %name,
            task,
            failed,
            "bolt `{name}` task {task} failed a tuple ({failed} so far): {why}"
        );
    }
}

/// The tracked path, kept out of line so that the untracked one (acking off) inlines
/// through a whole fused chain.
#[inline(never)]
fn emit_tracked_out<T, D: Downstream<T>>(out: &mut D, tuple: T, a: &mut Anchoring<'_>) {
    out.emit_tracked(tuple, a);
}

#[inline(never)]
fn emit_direct_tracked_out<T, D: Downstream<T>>(
    out: &mut D,
    task: TaskId,
    tuple: T,
    a: &mut Anchoring<'_>,
) {
    out.emit_direct_tracked(task, tuple, a);
}

/// Runs `execute` on one tuple, catching a panic. On success an auto-acked tracked input
/// is counted; on failure its anchors are marked failed and the reason is returned.
#[inline]
fn run_bolt<B: Bolt, D: Downstream<B::Out>>(
    bolt: &mut B,
    out: &mut D,
    acks: Option<&mut AckOutbox>,
    counts: &mut Counts,
    tuple: B::In,
    input: Input<'_>,
) -> Result<(), String> {
    let mut collector = BoltCollector::new(out, input, acks, counts);
    let result = catch_unwind(AssertUnwindSafe(|| bolt.execute(tuple, &mut collector)));
    // An input whose anchor the bolt took is counted when the bolt acks the anchor.
    let auto_acked = matches!(collector.input, Input::Tracked(_)) && !collector.anchor_taken;
    let why = match result {
        Ok(Ok(())) => {
            if auto_acked {
                counts.acked += 1;
            }
            return Ok(());
        }
        Ok(Err(e)) => e.message,
        Err(panic) => panicked(panic.as_ref()),
    };
    if let Input::Tracked(a) = &mut collector.input {
        a.fail();
    }
    Err(why)
}

#[cold]
fn panicked(payload: &(dyn std::any::Any + Send)) -> String {
    format!("panicked: {}", panic_text(payload))
}

/// The text of a panic payload.
pub(crate) fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "(no message)".to_string()
    }
}

impl<B: Bolt, D: Downstream<B::Out>, const COUNT: bool> Emitter<B::In> for Stage<B, D, COUNT> {
    #[inline]
    fn emit(&mut self, tuple: B::In) {
        self.execute(tuple, None);
    }

    /// A fused edge is one-to-one: a direct emit into it is an ordinary emit.
    #[inline]
    fn emit_direct(&mut self, _task: TaskId, tuple: B::In) {
        self.emit(tuple);
    }
}

impl<B: Bolt, D: Downstream<B::Out>, const COUNT: bool> Downstream<B::In> for Stage<B, D, COUNT> {
    /// A fused stage: the tuple is processed inside its producer's `execute`, so it shares
    /// the producer's anchors; a failure here fails them.
    #[inline]
    fn emit_tracked(&mut self, tuple: B::In, anchoring: &mut Anchoring<'_>) {
        self.execute(tuple, Some(anchoring.reborrow()));
    }

    #[inline]
    fn emit_direct_tracked(&mut self, _task: TaskId, tuple: B::In, anchoring: &mut Anchoring<'_>) {
        self.emit_tracked(tuple, anchoring);
    }

    fn open(&mut self, wiring: &Wiring) {
        self.task = wiring.task_id(self.component);
        self.name = wiring.desc().components[self.component].name;
        self.rng = Rng::for_task(self.task);
        self.acks = wiring.acker_outbox();
        self.bolt.prepare(&wiring.context(self.component));
        self.checkpoints = CheckpointTo::of(wiring, self.component);
        self.errors = Some(crate::exec::metrics::ErrorSink::new(
            wiring.metrics.clone(),
            self.component,
            self.task,
        ));
        if let Some(to) = &self.checkpoints
            && let Some(restore) = to.restore()
        {
            self.finished_on_restore = restore.finished;
            if let Err(e) = self.bolt.initialize_state(restore.state) {
                to.fail(format!("`initialize_state` failed: {e}"), false);
            }
        }
        self.out.open(wiring);
    }

    fn flush(&mut self) {
        self.out.flush();
        if let Some(a) = &mut self.acks {
            a.flush();
        }
    }

    fn finish(&mut self) {
        self.complete_pending();
        if !self.finished_on_restore {
            self.untracked(|bolt, out| bolt.finish(out));
        }
        // Its final state, after what `finish` emitted: every later checkpoint holds it.
        if let Some(to) = &self.checkpoints {
            match self.bolt.snapshot_state(crate::api::FINAL_SNAPSHOT) {
                Ok(state) => to.finished(state),
                Err(e) => to.fail(format!("its final snapshot failed: {e}"), true),
            }
        }
        self.out.finish();
        if let Some(a) = &mut self.acks {
            a.finish(self.task);
        }
    }

    fn watermark(&mut self, watermark: i64) {
        let started = self.pending.map(|_| std::time::Instant::now());
        self.untracked(|bolt, out| bolt.on_watermark(watermark, out));
        self.note_pause(started);
        self.out.watermark(watermark);
    }

    fn barrier(&mut self, id: u64, savepoint: bool) {
        // The bolt has processed every tuple before the barrier (the chain is direct
        // calls), none after: its state now is the checkpoint's. A snapshot it takes a key
        // group at a time goes on after the barrier has passed.
        self.complete_pending();
        if let Some(to) = &self.checkpoints {
            let started = std::time::Instant::now();
            match self.bolt.begin_snapshot(id) {
                Ok(SnapshotStep::Ready(state)) => to.send(id, started.elapsed(), state),
                Ok(SnapshotStep::Pending) => self.pending = Some((id, started.elapsed())),
                Err(e) => to.fail(
                    format!("its snapshot for checkpoint {id} failed: {e}"),
                    true,
                ),
            }
        }
        self.out.barrier(id, savepoint);
    }

    fn advance_snapshots(&mut self, budget: std::time::Duration) -> bool {
        if self.pending.is_some() {
            self.snapshot_step(budget);
        }
        let below = self.out.advance_snapshots(budget);
        self.pending.is_some() | below
    }

    fn snapshot_paused(&mut self, took: std::time::Duration) {
        if let Some((_, longest)) = &mut self.pending {
            *longest = (*longest).max(took);
        }
        self.out.snapshot_paused(took);
    }

    fn notify_complete(&mut self, id: u64) {
        if id > self.notified {
            self.notified = id;
            if let Err(e) = self.bolt.notify_checkpoint_complete(id)
                && let Some(to) = &self.checkpoints
            {
                to.fail(format!("committing checkpoint {id} failed: {e}"), true);
            }
        }
        self.out.notify_complete(id);
    }

    fn tick_interval(&self) -> Option<std::time::Duration> {
        super::shortest(self.bolt.tick_interval(), self.out.tick_interval())
    }

    fn tick(&mut self, now_ms: u64) {
        let started = self.pending.map(|_| std::time::Instant::now());
        self.untracked(|bolt, out| bolt.on_tick(now_ms, out));
        self.note_pause(started);
        self.out.tick(now_ms);
    }

    fn report(&mut self, wiring: &Wiring) {
        let c = std::mem::take(&mut self.counts);
        let m = wiring.metrics();
        m.add(self.component, wiring.task_index, 0, c.executed, c.failed);
        m.add_acked(self.component, wiring.task_index, c.acked);
        self.out.report(wiring);
    }
}

/// The head of a bolt chain: owns each input's lifecycle. With acking on, an input whose
/// `execute` (and the fused operators after it) succeeded is acked, else failed.
impl<B: Bolt, D: Downstream<B::Out>, const COUNT: bool> BoltRunner<B::In> for Stage<B, D, COUNT> {
    fn open(&mut self, wiring: &Wiring) {
        Downstream::open(self, wiring);
    }

    fn run_batch(&mut self, batch: Vec<B::In>, ids: Vec<TupleIds>) {
        if ids.is_empty() {
            if self.chain_pending {
                // Each tuple's copy-on-write counts as a pause: timed one by one.
                for t in batch {
                    self.execute_timed(t, None);
                }
            } else {
                self.run_untracked(batch);
            }
            return;
        }
        for (t, ids) in batch.into_iter().zip(ids) {
            if ids.is_none() {
                if self.chain_pending {
                    self.execute_timed(t, None);
                } else {
                    self.execute(t, None);
                }
                continue;
            }
            let mut input = [Anchor::of(ids)];
            let mut rng = std::mem::replace(&mut self.rng, Rng::seeded(0));
            let anchoring = Some(Anchoring::new(&mut input, &mut rng));
            let ok = if self.chain_pending {
                self.execute_timed(t, anchoring)
            } else {
                self.execute(t, anchoring)
            };
            self.rng = rng;
            let [input] = input;
            if let Some(acks) = &mut self.acks {
                if ok && !input.failed {
                    acks.ack(&input);
                } else {
                    acks.fail(&input);
                }
            }
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

    fn watermark(&mut self, watermark: i64) {
        Downstream::watermark(self, watermark);
    }

    fn barrier(&mut self, id: u64, savepoint: bool) {
        Downstream::barrier(self, id, savepoint);
        // A snapshot may now be pending here or below: until advancing them says not.
        self.chain_pending = true;
    }

    fn notify_complete(&mut self, id: u64) {
        Downstream::notify_complete(self, id);
    }

    fn tick_interval(&self) -> Option<std::time::Duration> {
        Downstream::tick_interval(self)
    }

    fn tick(&mut self, now_ms: u64) {
        Downstream::tick(self, now_ms);
    }

    fn advance_snapshots(&mut self, budget: std::time::Duration) -> bool {
        self.chain_pending = Downstream::advance_snapshots(self, budget);
        self.chain_pending
    }
}

/// The input being executed.
#[derive(Debug)]
enum Input<'a> {
    /// Not tracked; the generator is for `emit_anchored`.
    Untracked(&'a mut Rng),
    /// In these trees.
    Tracked(Anchoring<'a>),
}

/// What a bolt's `execute` writes to: emits go down the chain, anchored to the input (see
/// [`Emitter`] for the acking calls).
#[derive(Debug)]
pub struct BoltCollector<'a, D> {
    out: &'a mut D,
    input: Input<'a>,
    anchor_taken: bool,
    acks: Option<&'a mut AckOutbox>,
    acked: &'a mut u64,
    failed: &'a mut u64,
}

impl<'a, D> BoltCollector<'a, D> {
    /// A collector for one input (or, untracked, for a batch of them) writing to `out` and
    /// counting acks and fails in `counts`.
    fn new(
        out: &'a mut D,
        input: Input<'a>,
        acks: Option<&'a mut AckOutbox>,
        counts: &'a mut Counts,
    ) -> Self {
        BoltCollector {
            out,
            input,
            anchor_taken: false,
            acks,
            acked: &mut counts.acked,
            failed: &mut counts.failed,
        }
    }
}

impl<T, D: Downstream<T>> Emitter<T> for BoltCollector<'_, D> {
    #[inline]
    fn emit(&mut self, tuple: T) {
        match &mut self.input {
            Input::Untracked(_) => self.out.emit(tuple),
            Input::Tracked(a) => emit_tracked_out(self.out, tuple, a),
        }
    }

    #[inline]
    fn emit_direct(&mut self, task: TaskId, tuple: T) {
        match &mut self.input {
            Input::Untracked(_) => self.out.emit_direct(task, tuple),
            Input::Tracked(a) => emit_direct_tracked_out(self.out, task, tuple, a),
        }
    }

    fn anchor(&mut self) -> Anchor {
        match &mut self.input {
            Input::Tracked(a) if !self.anchor_taken => {
                self.anchor_taken = true;
                // A new edge under the input, held by the anchor: the input can be acked
                // now and the trees stay open until the anchor is.
                Anchor::of(a.child_ids())
            }
            _ => Anchor::none(),
        }
    }

    fn emit_anchored(&mut self, anchors: &mut [Anchor], tuple: T) {
        if self.acks.is_none() {
            return self.out.emit(tuple);
        }
        let rng = match &mut self.input {
            Input::Untracked(rng) => &mut **rng,
            Input::Tracked(a) => a.rng(),
        };
        self.out
            .emit_tracked(tuple, &mut Anchoring::new(anchors, rng));
    }

    fn emit_unanchored(&mut self, tuple: T) {
        self.out.emit(tuple);
    }

    fn ack(&mut self, anchor: Anchor) {
        if anchor.is_none() {
            return;
        }
        if let Some(acks) = &mut self.acks {
            if anchor.failed {
                acks.fail(&anchor);
                *self.failed += 1;
            } else {
                acks.ack(&anchor);
                *self.acked += 1;
            }
        }
    }

    fn fail(&mut self, anchor: Anchor) {
        if anchor.is_none() {
            return;
        }
        if let Some(acks) = &mut self.acks {
            acks.fail(&anchor);
            *self.failed += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::ExecResult;
    use std::time::Duration;

    /// Passes its input on.
    struct Pass;

    impl Bolt for Pass {
        type In = u64;
        type Out = u64;
        fn execute(&mut self, input: u64, out: &mut impl Emitter<u64>) -> ExecResult {
            out.emit(input);
            Ok(())
        }
    }

    /// Keeps nothing.
    struct Sink;

    impl Bolt for Sink {
        type In = u64;
        type Out = ();
        fn execute(&mut self, _: u64, _: &mut impl Emitter<()>) -> ExecResult {
            Ok(())
        }
    }

    #[test]
    fn a_pause_timed_by_the_head_reaches_the_fused_stage_whose_snapshot_is_pending() {
        let mut chain = Stage::new(0, Pass, Stage::fused(1, Sink, ()));
        chain.out.pending = Some((7, Duration::from_millis(2)));
        chain.snapshot_paused(Duration::from_millis(5));
        chain.snapshot_paused(Duration::from_millis(1));
        // The longest pause is kept; the head, with no snapshot of its own, records none.
        assert_eq!(chain.out.pending, Some((7, Duration::from_millis(5))));
        assert_eq!(chain.pending, None);
    }

    #[test]
    fn a_fused_stage_leaves_its_input_count_to_its_producer() {
        let mut chain = Stage::new(0, Pass, Stage::fused(1, Sink, ()));
        for t in 0..3 {
            chain.emit(t);
        }
        assert_eq!(chain.counts.executed, 3);
        assert_eq!(chain.out.counts.executed, 0);
    }
}
