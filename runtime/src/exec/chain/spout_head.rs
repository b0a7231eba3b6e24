//! The head of a spout chain ([`SpoutHead`]) and the emitter `next_tuple` writes to
//! ([`SpoutCollector`]), which starts tuple trees and keeps track of them.

use super::{Discard, Downstream, SpoutRunner};
use crate::ack::{
    AckOutbox, AckerMsg, Anchor, Anchoring, Clock, Outcome, Reply, RetryPolicy, Rng, SpoutTracker,
    TupleIds,
};
use crate::api::{Emitter, Spout, SpoutStatus, TaskId};
use crate::exec::checkpointing::CheckpointTo;
use crate::exec::wiring::Wiring;

/// A spout and where its output goes: the head of a spout chain. `F` is where tuples go
/// after their last failed attempt (the spout's `failed` stream), for spouts with a retry
/// policy.
#[derive(Debug)]
pub struct SpoutHead<S: Spout, D, F = Discard> {
    component: usize,
    /// The spout and its chain. During a burst they are moved out into locals (when small:
    /// [`MOVE_LIMIT`]), whose counters the optimizer keeps in registers where fields
    /// behind `&mut self` are stored to memory on every tuple; `None` only if a burst
    /// panicked.
    chain: Option<Chain<S, D>>,
    failed: F,
    state: Tracking<S::Out>,
    /// Where its snapshots go (`exactly_once` with checkpoints), its name and task index.
    checkpoints: Option<CheckpointTo>,
    /// It had finished in the checkpoint it restored: it emits nothing more.
    finished_on_restore: bool,
    /// A snapshot may be pending in a fused stage of its chain (true from a barrier until
    /// advancing them says none is): each tuple's trip down the chain is then timed, as a
    /// pause ([`Downstream::snapshot_paused`]).
    snapshots_pending: bool,
}

/// A spout and the fused chain it emits into.
#[derive(Debug)]
struct Chain<S, D> {
    spout: S,
    out: D,
}

/// The largest spout and chain moved into locals for a burst (a copy there and back per
/// burst of up to 1,024 calls: in the fused-chain benchmark 1.4G tuples/s moved, 0.94G in
/// place); larger ones run in place.
const MOVE_LIMIT: usize = 16 * 1024;

/// A spout task's acking state.
#[derive(Debug)]
struct Tracking<T> {
    /// Trees are tracked through ackers (`at_least_once` with ackers).
    tracked: bool,
    task: TaskId,
    rng: Rng,
    acks: Option<AckOutbox>,
    tracker: SpoutTracker<T>,
    /// `max_spout_pending`, or unbounded.
    limit: usize,
    clock: Clock,
    /// Message ids to ack at once (untracked emits with an id, trees with no tuple).
    immediate: Vec<u64>,
    /// Outcomes decided during `next_tuple`, handled after it returns.
    outcomes: Vec<Outcome<T>>,
}

impl<S: Spout, D: Downstream<S::Out>> SpoutHead<S, D, Discard> {
    /// Component `component` running `spout`, emitting into `out`.
    pub fn new(component: usize, spout: S, out: D) -> Self {
        SpoutHead::with_failed(component, spout, out, Discard)
    }
}

impl<S: Spout, D: Downstream<S::Out>, F: Downstream<S::Out>> SpoutHead<S, D, F> {
    /// A spout with a retry policy: a tuple whose last attempt failed goes to `failed`.
    pub fn with_failed(component: usize, spout: S, out: D, failed: F) -> Self {
        SpoutHead {
            component,
            chain: Some(Chain { spout, out }),
            failed,
            checkpoints: None,
            finished_on_restore: false,
            snapshots_pending: false,
            state: Tracking {
                tracked: false,
                task: 0,
                rng: Rng::seeded(component as u64),
                acks: None,
                tracker: SpoutTracker::new(1, None),
                limit: usize::MAX,
                clock: Clock::system(),
                immediate: Vec::new(),
                outcomes: Vec::new(),
            },
        }
    }
}

impl<S, D, F> SpoutHead<S, D, F>
where
    S: Spout,
    S::Out: Clone,
    D: Downstream<S::Out>,
    F: Downstream<S::Out>,
{
    /// Calls the spout back for every decided outcome.
    fn settle(&mut self) {
        let Some(c) = &mut self.chain else { return };
        for msg_id in self.state.immediate.drain(..) {
            c.spout.ack(msg_id);
        }
        for outcome in std::mem::take(&mut self.state.outcomes) {
            self.apply(outcome);
        }
    }

    fn apply(&mut self, outcome: Outcome<S::Out>) {
        let Some(c) = &mut self.chain else { return };
        match outcome {
            Outcome::Acked { msg_id } => c.spout.ack(msg_id),
            Outcome::Retrying => {}
            Outcome::Failed { msg_id, payload } => {
                c.spout.fail(msg_id);
                if let Some(t) = payload {
                    // Unanchored: a dead letter is not replayed again.
                    self.failed.emit(t);
                }
            }
        }
    }
}

impl<S, D, F> SpoutRunner for SpoutHead<S, D, F>
where
    S: Spout,
    S::Out: Clone + Send,
    D: Downstream<S::Out>,
    F: Downstream<S::Out>,
{
    fn open(&mut self, wiring: &Wiring) {
        let desc = wiring.desc();
        let st = &mut self.state;
        st.task = wiring.task_id(self.component);
        st.rng = Rng::for_task(st.task);
        st.acks = wiring.acker_outbox();
        st.tracked = st.acks.is_some();
        st.clock = wiring.clock().clone();
        let retry = desc.components[self.component].retry.map(|r| RetryPolicy {
            attempts: r.attempts.max(1),
            backoff_us: r.backoff_ms.saturating_mul(1000),
        });
        st.tracker =
            SpoutTracker::new(desc.settings.message_timeout_ms.saturating_mul(1000), retry);
        if st.tracked {
            st.limit = desc
                .settings
                .max_spout_pending
                .map_or(usize::MAX, |n| n.max(1) as usize);
        }
        let Some(c) = &mut self.chain else { return };
        c.spout.open(&wiring.context(self.component));
        self.checkpoints = CheckpointTo::of(wiring, self.component);
        if let Some(to) = &self.checkpoints
            && let Some(restore) = to.restore()
        {
            self.finished_on_restore = restore.finished;
            // A replayable source rewinds to its position in the checkpoint.
            if let Err(e) = c.spout.initialize_state(restore.state) {
                to.fail(format!("`initialize_state` failed: {e}"), false);
            }
        }
        c.out.open(wiring);
        self.failed.open(wiring);
    }

    fn barrier(&mut self, id: u64, savepoint: bool) {
        let Some(c) = &mut self.chain else { return };
        if let Some(to) = &self.checkpoints {
            let started = std::time::Instant::now();
            match c.spout.snapshot_state(id) {
                Ok(state) => to.send(id, started.elapsed(), state),
                Err(e) => to.fail(
                    format!("its snapshot for checkpoint {id} failed: {e}"),
                    true,
                ),
            }
        }
        c.out.barrier(id, savepoint);
        self.failed.barrier(id, savepoint);
        self.snapshots_pending = true;
    }

    fn notify_complete(&mut self, id: u64) {
        if let Some(c) = &mut self.chain {
            c.out.notify_complete(id);
        }
        self.failed.notify_complete(id);
    }

    #[inline]
    fn run_burst(&mut self, max: u32) -> SpoutStatus {
        if self.finished_on_restore {
            return SpoutStatus::Done;
        }
        let bounded = self.state.limit != usize::MAX;
        let timed = self.snapshots_pending;
        let status = if std::mem::size_of::<Chain<S, D>>() <= MOVE_LIMIT {
            let Some(mut chain) = self.chain.take() else {
                return SpoutStatus::Done;
            };
            let status = if timed {
                burst::<S, D, true>(&mut chain, &mut self.state, max, bounded)
            } else {
                burst::<S, D, false>(&mut chain, &mut self.state, max, bounded)
            };
            self.chain = Some(chain);
            status
        } else {
            let Some(chain) = &mut self.chain else {
                return SpoutStatus::Done;
            };
            if timed {
                burst::<S, D, true>(chain, &mut self.state, max, bounded)
            } else {
                burst::<S, D, false>(chain, &mut self.state, max, bounded)
            }
        };
        if !self.state.immediate.is_empty() || !self.state.outcomes.is_empty() {
            self.settle();
        }
        status
    }

    fn on_replies(&mut self, replies: Vec<Reply>) {
        let now = self.state.clock.now_us();
        for reply in replies {
            let outcome = match reply {
                Reply::Complete(root) => self.state.tracker.completed(root, now),
                Reply::Failed(root) => self.state.tracker.failed(root, now),
            };
            if let Some(o) = outcome {
                self.apply(o);
            }
        }
    }

    fn fail_trees(&mut self, lost: &dyn Fn(u64) -> bool) {
        if !self.state.tracked {
            return;
        }
        let now = self.state.clock.now_us();
        for (root, outcome) in self.state.tracker.fail_where(now, lost) {
            if let Some(acks) = &mut self.state.acks {
                // Should the tree have reached a new acker after all: drop it there.
                acks.send(AckerMsg::Forget { root });
            }
            self.apply(outcome);
        }
    }

    fn tick(&mut self) {
        if !self.state.tracked {
            return;
        }
        let now = self.state.clock.now_us();
        for (root, outcome) in self.state.tracker.sweep(now) {
            if let Some(acks) = &mut self.state.acks {
                acks.send(AckerMsg::Forget { root });
            }
            self.apply(outcome);
        }
        while self.state.tracker.in_flight() < self.state.limit {
            let Some(r) = self.state.tracker.due_replay(now) else {
                break;
            };
            let Some(c) = &mut self.chain else { return };
            emit_tracked(&mut c.out, &mut self.state, r.msg_id, r.attempt, r.payload);
        }
        self.settle();
    }

    fn settled(&self) -> bool {
        self.state.tracker.settled()
            && self.state.immediate.is_empty()
            && self.state.outcomes.is_empty()
    }

    fn stop(&mut self) {
        let Some(c) = &mut self.chain else { return };
        for msg_id in self.state.tracker.stop() {
            c.spout.fail(msg_id);
        }
    }

    fn flush(&mut self) {
        if let Some(c) = &mut self.chain {
            c.out.flush();
        }
        self.failed.flush();
        if let Some(a) = &mut self.state.acks {
            a.flush();
        }
    }

    fn finish(&mut self) {
        self.settle();
        let Some(c) = &mut self.chain else { return };
        c.spout.close();
        // Its final position: every later checkpoint holds it.
        if let Some(to) = &self.checkpoints {
            match c.spout.snapshot_state(crate::api::FINAL_SNAPSHOT) {
                Ok(state) => to.finished(state),
                Err(e) => to.fail(format!("its final snapshot failed: {e}"), true),
            }
        }
        c.out.finish();
        self.failed.finish();
        let task = self.state.task;
        if let Some(a) = &mut self.state.acks {
            a.finish(task);
        }
    }

    fn report(&mut self, wiring: &Wiring) {
        if self.state.tracked {
            let counts = std::mem::take(&mut self.state.tracker.counts);
            wiring
                .metrics()
                .add_spout(self.component, wiring.task_index, &counts);
        }
        if let Some(c) = &mut self.chain {
            c.out.report(wiring);
        }
        self.failed.report(wiring);
    }

    fn advance_snapshots(&mut self, budget: std::time::Duration) -> bool {
        let out = self
            .chain
            .as_mut()
            .is_some_and(|c| c.out.advance_snapshots(budget));
        self.snapshots_pending = self.failed.advance_snapshots(budget) | out;
        self.snapshots_pending
    }
}

/// Up to `max` calls of `next_tuple`; `TIMED`: a snapshot is pending in the chain (two
/// loops, so that the untimed one calls nothing out of line).
#[inline]
fn burst<S: Spout, D: Downstream<S::Out>, const TIMED: bool>(
    chain: &mut Chain<S, D>,
    state: &mut Tracking<S::Out>,
    max: u32,
    bounded: bool,
) -> SpoutStatus
where
    S::Out: Clone,
{
    let mut out = SpoutCollector {
        out: &mut chain.out,
        state,
    };
    for _ in 0..max {
        if bounded && out.state.tracker.in_flight() >= out.state.limit {
            return SpoutStatus::Idle;
        }
        let next = if TIMED {
            timed_next(&mut chain.spout, &mut out)
        } else {
            chain.spout.next_tuple(&mut out)
        };
        if next != SpoutStatus::Active {
            return next;
        }
    }
    SpoutStatus::Active
}

/// One call of `next_tuple` while a snapshot is pending in the chain: its trip down the
/// chain is timed, and counted as a pause by the stages with a snapshot pending.
#[cold]
#[inline(never)]
fn timed_next<S: Spout, D: Downstream<S::Out>>(
    spout: &mut S,
    out: &mut SpoutCollector<'_, D, S::Out>,
) -> SpoutStatus
where
    S::Out: Clone,
{
    let started = std::time::Instant::now();
    let status = spout.next_tuple(out);
    out.out.snapshot_paused(started.elapsed());
    status
}

/// Emits a tracked tuple: a new root, one edge per copy, an `Init` to its acker. (Out of
/// line: the untracked path must stay small enough to inline through a fused chain.)
#[inline(never)]
fn emit_tracked<T: Clone, D: Downstream<T>>(
    out: &mut D,
    st: &mut Tracking<T>,
    msg_id: u64,
    attempt: u32,
    tuple: T,
) {
    let root = st.rng.next_id();
    let payload = st.tracker.keeps_payload().then(|| tuple.clone());
    let mut spout = [Anchor::of(TupleIds::One((root, 0)))];
    // Before the emit, which may block on backpressure: that wait is part of the latency.
    // (Read per tree: a reading shared by several emits would carry a backpressure wait
    // between them into the later trees' ages, and time them out early.)
    let now = st.clock.now_us();
    out.emit_tracked(tuple, &mut Anchoring::new(&mut spout, &mut st.rng));
    let [spout] = spout;
    if spout.ack_val == 0 && !spout.failed {
        // No copy left the spout (nobody subscribes): the tree is complete already.
        st.tracker.counts.acked += 1;
        st.tracker.counts.latency.record(0);
        st.immediate.push(msg_id);
        return;
    }
    st.tracker.emitted(root, msg_id, attempt, payload, now);
    let Some(acks) = &mut st.acks else { return };
    if spout.failed {
        // A bolt fused into the spout's chain failed it: fail now, and have the acker
        // ignore what its children still send.
        acks.send(AckerMsg::Forget { root });
        if let Some(o) = st.tracker.failed(root, now) {
            st.outcomes.push(o);
        }
        return;
    }
    acks.send(AckerMsg::Init {
        root,
        val: spout.ack_val,
        spout: st.task,
    });
}

/// What a spout's `next_tuple` writes to.
#[derive(Debug)]
pub struct SpoutCollector<'a, D, T> {
    out: &'a mut D,
    state: &'a mut Tracking<T>,
}

impl<T: Clone, D: Downstream<T>> Emitter<T> for SpoutCollector<'_, D, T> {
    #[inline]
    fn emit(&mut self, tuple: T) {
        self.out.emit(tuple);
    }

    #[inline]
    fn emit_direct(&mut self, task: TaskId, tuple: T) {
        self.out.emit_direct(task, tuple);
    }

    #[inline]
    fn emit_with_id(&mut self, msg_id: u64, tuple: T) {
        if self.state.tracked {
            emit_tracked(self.out, self.state, msg_id, 1, tuple);
        } else {
            self.out.emit(tuple);
            self.state.immediate.push(msg_id);
        }
    }
}
