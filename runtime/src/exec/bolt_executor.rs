//! The executor loop of a chain headed by a bolt: reads its tasks' input channels (see
//! [`super::input`]) and keeps their state (see [`super::channels`]).

use super::chain::BoltRunner;
use super::channels::EndOutcome;
use super::executor_tasks;
use super::idleness::Idleness;
use super::input::{ChannelQueue, Input, InputError};
use super::placement::Placement;
use super::wiring::{Registry, Wiring};
use crate::checkpoint::{Align, Aligner, CheckpointKind};
use crate::codec::Codec;
use crate::topology::{BoltChainSpec, TopologyDesc};
use crate::transport::{Control, Message};
use std::sync::Mutex;
use std::time::Instant;

/// Report counters every this many batches (and whenever the executor goes idle).
const REPORT_EVERY: u32 = 64;

/// A bolt-headed chain typed by its input, with the receive side of its queues.
pub(crate) struct TypedBoltChain<In, F> {
    build: F,
    /// Per executor, its input channels (taken when it starts).
    inputs: Mutex<Vec<Option<Vec<ChannelQueue<In>>>>>,
}

impl<In, F> TypedBoltChain<In, F> {
    pub(crate) fn new(build: F) -> Self {
        TypedBoltChain {
            build,
            inputs: Mutex::new(Vec::new()),
        }
    }
}

impl<In, F> BoltChainSpec for TypedBoltChain<In, F>
where
    In: Codec + Send + 'static,
    F: Fn(&Wiring) -> Box<dyn BoltRunner<In>> + Send + Sync,
{
    fn make_inboxes(
        &self,
        desc: &'static TopologyDesc,
        registry: &mut Registry,
        chain: usize,
        placement: &Placement,
    ) {
        let c = &desc.chains[chain];
        let capacity = desc.settings.queue_capacity as usize;
        let (senders, inputs) = placement.chain_channel_inboxes(desc, chain, capacity);
        registry.insert_channels::<In>(c.components[0], senders);
        *self.inputs.lock().unwrap_or_else(|p| p.into_inner()) = inputs;
    }

    fn run_executor(&self, base: &Wiring, chain: usize, executor: u32) {
        let desc = base.desc;
        let c = &desc.chains[chain];
        let queues = self
            .inputs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get_mut(executor as usize)
            .and_then(Option::take)
            .unwrap_or_else(|| panic!("gale: executor {executor} of chain {chain} started twice"));
        let range = executor_tasks(c.tasks, c.parallelism, executor);
        let wirings: Vec<Wiring> = range.map(|i| base.for_task(i)).collect();
        let mut runners: Vec<Box<dyn BoltRunner<In>>> =
            wirings.iter().map(|w| (self.build)(w)).collect();
        for (r, w) in runners.iter_mut().zip(&wirings) {
            r.open(w);
        }
        let mut input = Input::new(queues, runners.len());
        let mut live = (0..runners.len() as u32)
            .filter(|&s| !input.channels().is_complete(s))
            .count();
        // The newest checkpoint completion the tasks heard of.
        let mut notified = 0u64;
        if live == 0 {
            for (r, w) in runners.iter_mut().zip(&wirings) {
                r.finish();
                r.report(w);
            }
            wait_final(base, &mut notified, &mut runners);
            return;
        }
        // Per task, the last watermark its operators were given.
        let mut delivered = vec![i64::MIN; runners.len()];
        let shown = Shown {
            wirings: &wirings,
            head: c.components[0],
        };
        let mut idleness = Idleness::new(desc, input.channels(), Instant::now());
        let watch_idle = idleness.watched();
        // Processing-time windows and timers: the executor wakes at least this often.
        let tick = runners
            .iter()
            .fold(None, |t, r| super::chain::shortest(t, r.tick_interval()));
        let mut next_tick = Instant::now();
        let wait = match (watch_idle, tick) {
            (false, None) => None,
            (true, t) => Some(t.map_or(idleness.poll(), |t| t.min(idleness.poll()))),
            (false, t) => t,
        };
        // With checkpoints, a task also wakes to hear of completions and failures.
        let wait = match (&base.checkpoints, wait) {
            (Some(_), w) => Some(w.map_or(CHECKPOINT_POLL, |w| w.min(CHECKPOINT_POLL))),
            (None, w) => w,
        };
        let mut since_report = 0u32;
        // A task of this executor has a snapshot taken a key group at a time pending.
        let mut snapshots = false;
        let progress = base.metrics.executor_progress(chain, executor);
        // Per task, the alignment of its channels on checkpoint barriers.
        let n = input.channels().len();
        let mut aligners: Vec<Aligner> = (0..runners.len() as u32)
            .map(|slot| {
                let mine =
                    (0..n).filter(|&c| input.channels().get(c).is_some_and(|s| s.slot == slot));
                Aligner::for_channels(n, mine, 0)
            })
            .collect();
        let started = Instant::now();
        let now_ms = || started.elapsed().as_millis() as u64;
        while live > 0 {
            if let Some(c) = &base.checkpoints {
                if c.aborted() {
                    // A task failed: stop now, without finishing (the run restarts).
                    progress.waiting();
                    return;
                }
                if let Some(done) = c.newly_completed(&mut notified) {
                    for r in runners.iter_mut() {
                        r.notify_complete(done);
                    }
                }
            }
            // A producer gone without its end of stream no longer holds an alignment.
            for c in input.take_closed() {
                let Some(s) = input.channels().get(c).map(|c| c.slot as usize) else {
                    continue;
                };
                let actions = aligners[s].end(c, now_ms());
                snapshots |= align(
                    actions,
                    &mut input,
                    &mut idleness,
                    &mut runners[s],
                    base.checkpoints.as_deref(),
                );
            }
            let (ch, msg) = match input.try_next() {
                Some(m) => m,
                None => {
                    // A trickle of input never times out and never fills 64 batches in a
                    // row: look at the idle channels and the clock whenever the input runs
                    // dry.
                    if watch_idle {
                        go_idle(&idleness, &mut input, &mut delivered, &mut runners, shown);
                    }
                    if let Some(t) = tick {
                        tick_all(t, &mut next_tick, &mut runners);
                    }
                    if snapshots {
                        snapshots = advance_all(&mut runners);
                    }
                    for (r, w) in runners.iter_mut().zip(&wirings) {
                        r.flush();
                        r.report(w);
                    }
                    since_report = 0;
                    progress.waiting();
                    // A snapshot still pending goes on while the input is empty: do not
                    // sleep on the input then.
                    let shortened = snapshots;
                    let wait = if shortened {
                        Some(std::time::Duration::ZERO)
                    } else {
                        wait
                    };
                    let next = match wait {
                        Some(w) => input.next_timeout(w),
                        None => input.next(),
                    };
                    match next {
                        Ok(m) => m,
                        Err(InputError::Timeout) => {
                            // A stall: a full blocked channel may hold back a producer
                            // whose other task owes a barrier (not a wait cut short for a
                            // pending snapshot).
                            if !shortened {
                                input.hold_full_blocked();
                            }
                            if watch_idle {
                                go_idle(&idleness, &mut input, &mut delivered, &mut runners, shown);
                            }
                            if let Some(t) = tick {
                                tick_all(t, &mut next_tick, &mut runners);
                            }
                            continue;
                        }
                        Err(InputError::AllBlocked) => {
                            // A bug: a task waits for barriers no open channel can bring.
                            // Say so, and read everything again rather than hang.
                            tracing::error!(
                                chain,
                                executor,
                                "chain {chain} executor {executor}: every open input \
                                 channel was blocked for a checkpoint barrier; alignment \
                                 abandoned"
                            );
                            for c in 0..input.channels().len() {
                                input.unblock(c);
                            }
                            continue;
                        }
                        // Every producer is gone.
                        Err(InputError::Closed) => break,
                    }
                }
            };
            if watch_idle {
                idleness.saw(ch, Instant::now());
                // A channel that was idle is back: it counts in its task's watermark again
                // (which never goes back: its tuples at or before it are late).
                if input.channels().get(ch).is_some_and(|c| c.idle) {
                    let _ = input.channels_mut().set_idle(ch, false);
                }
            }
            // Batches still queued behind this one: `queued() + 1` could count a batch a
            // producer pushed into the slot this one just freed.
            let queued = input.queued() as u64;
            progress.took(queued + 1);
            match msg {
                Message::Batch {
                    slot, tuples, ids, ..
                } => {
                    base.metrics.saw_queue_depth(chain, queued);
                    runners[slot as usize].run_batch(tuples, ids);
                    if snapshots {
                        // Snapshots taken a key group at a time go on between batches.
                        snapshots = advance_all(&mut runners);
                    }
                    since_report += 1;
                    if since_report >= REPORT_EVERY {
                        if watch_idle {
                            go_idle(&idleness, &mut input, &mut delivered, &mut runners, shown);
                        }
                        if let Some(t) = tick {
                            tick_all(t, &mut next_tick, &mut runners);
                        }
                        for (r, w) in runners.iter_mut().zip(&wirings) {
                            r.report(w);
                        }
                        since_report = 0;
                    }
                }
                Message::End { from, slot } => match input.channels_mut().end(ch, from) {
                    // Once per task: a repeated or foreign end changes nothing.
                    EndOutcome::Completed { slot } => {
                        let s = slot as usize;
                        // Its last channel: an alignment waiting on it completes first.
                        if let Some(a) = aligners.get_mut(s) {
                            let actions = a.end(ch, now_ms());
                            snapshots |= align(
                                actions,
                                &mut input,
                                &mut idleness,
                                &mut runners[s],
                                base.checkpoints.as_deref(),
                            );
                        }
                        runners[s].finish();
                        runners[s].report(&wirings[s]);
                        live -= 1;
                    }
                    EndOutcome::Ended => {
                        // An ended channel no longer holds its task's event time back, nor
                        // its alignment on a barrier.
                        let wm = input.channels().task_watermark(slot);
                        deliver(wm, slot as usize, &mut delivered, &mut runners, shown);
                        if let Some(a) = aligners.get_mut(slot as usize) {
                            let actions = a.end(ch, now_ms());
                            snapshots |= align(
                                actions,
                                &mut input,
                                &mut idleness,
                                &mut runners[slot as usize],
                                base.checkpoints.as_deref(),
                            );
                        }
                    }
                    EndOutcome::Repeated => {}
                    EndOutcome::Foreign => tracing::warn!(
                        chain,
                        executor,
                        "chain {chain} executor {executor}: ignored an end of {from:?} \
                         on the input channel of {:?}",
                        input.channels().get(ch).map(|c| c.upstream)
                    ),
                },
                Message::Control {
                    slot,
                    from,
                    control: Control::Watermark(ts),
                } => {
                    // Recorded per channel; when the task's watermark (the minimum over its
                    // channels) advances, its operators get it and pass it on.
                    if let Some(wm) = input.channels_mut().watermark(ch, from, ts) {
                        deliver(wm, slot as usize, &mut delivered, &mut runners, shown);
                    }
                }
                Message::Control {
                    slot,
                    control: Control::Barrier { id, savepoint },
                    ..
                } => {
                    let kind = if savepoint {
                        CheckpointKind::Savepoint
                    } else {
                        CheckpointKind::Periodic
                    };
                    let s = slot as usize;
                    if let Some(a) = aligners.get_mut(s) {
                        let actions = a.barrier(ch, id, kind, now_ms());
                        snapshots |= align(
                            actions,
                            &mut input,
                            &mut idleness,
                            &mut runners[s],
                            base.checkpoints.as_deref(),
                        );
                    }
                }
            }
        }
        // A snapshot still pending (the input closed without its end) is sent now.
        while snapshots {
            snapshots = advance_all(&mut runners);
        }
        // Done: nothing pending, whatever it last took (a finished executor is not hung).
        progress.waiting();
        for (r, w) in runners.iter_mut().zip(&wirings) {
            r.report(w);
        }
        wait_final(base, &mut notified, &mut runners);
    }
}

/// How often a task of a run with checkpoints looks for completions and failures while
/// its input is empty.
const CHECKPOINT_POLL: std::time::Duration = std::time::Duration::from_millis(20);

/// With checkpoints: once every task of the executor finished, waits for the final
/// checkpoint, on which their sinks commit.
fn wait_final<In>(base: &Wiring, notified: &mut u64, runners: &mut [Box<dyn BoltRunner<In>>]) {
    if let Some(c) = &base.checkpoints {
        c.wait_final(notified, |id| {
            for r in runners.iter_mut() {
                r.notify_complete(id);
            }
        });
    }
}

/// Ticks every task when its tick is due (processing time, epoch ms).
fn tick_all<In>(
    every: std::time::Duration,
    next: &mut Instant,
    runners: &mut [Box<dyn BoltRunner<In>>],
) {
    let now = Instant::now();
    if now < *next {
        return;
    }
    *next = now + every;
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    for r in runners.iter_mut() {
        r.tick(ms);
    }
}

/// Marks the channels idle that are due, and hands each task whose watermark that advances
/// its new watermark.
fn go_idle<In>(
    idleness: &Idleness,
    input: &mut Input<In>,
    delivered: &mut [i64],
    runners: &mut [Box<dyn BoltRunner<In>>],
    shown: Shown<'_>,
) {
    for ch in idleness.due(input.channels(), Instant::now()) {
        let Some(slot) = input.channels().get(ch).map(|c| c.slot as usize) else {
            continue;
        };
        if let Some(wm) = input.channels_mut().set_idle(ch, true) {
            deliver(wm, slot, delivered, runners, shown);
        }
    }
}

/// Carries out what a task's aligner said: stop reading a channel, or pass the barrier on
/// (every tuple before it has been processed) and read its channels again.
///
/// On `Snapshot` the barrier goes down the chain (each stage snapshots as it passes) and
/// how long the alignment took is noted for the checkpoint's summary. An abandoned one is
/// not declined: the newer checkpoint that overtook it subsumes it when it completes. An
/// unblocked channel starts its idleness timeout afresh (it was held, not silent).
fn align<In>(
    actions: Vec<Align>,
    input: &mut Input<In>,
    idleness: &mut Idleness,
    runner: &mut Box<dyn BoltRunner<In>>,
    checkpoints: Option<&crate::exec::checkpointing::Checkpointing>,
) -> bool {
    let mut delivered = false;
    let mut unblock = |input: &mut Input<In>, channels: Vec<usize>| {
        let now = Instant::now();
        for ch in channels {
            input.unblock(ch);
            idleness.saw(ch, now);
        }
    };
    for action in actions {
        match action {
            Align::Block(ch) => {
                input.block(ch);
            }
            Align::Snapshot {
                id,
                kind,
                alignment_ms,
                unblock: channels,
            } => {
                if let Some(c) = checkpoints {
                    c.aligned(id, alignment_ms);
                }
                runner.barrier(id, kind == CheckpointKind::Savepoint);
                delivered = true;
                unblock(input, channels);
            }
            Align::Abort {
                unblock: channels, ..
            } => unblock(input, channels),
        }
    }
    delivered
}

/// Steps every task's snapshots taken a key group at a time, the executor's step
/// ([`SNAPSHOT_STEP`](crate::exec::checkpointing::SNAPSHOT_STEP)) shared among them: the
/// executor pauses about that long per pass, however many tasks it runs. True while one is
/// still pending.
fn advance_all<In>(runners: &mut [Box<dyn BoltRunner<In>>]) -> bool {
    let n = runners.len().max(1) as u32;
    let budget = crate::exec::checkpointing::SNAPSHOT_STEP / n;
    let mut pending = false;
    for r in runners.iter_mut() {
        pending |= r.advance_snapshots(budget);
    }
    pending
}

/// Hands task `slot` its watermark `wm` if it is ahead of the last one it was given (a
/// task's event time never goes back; `i64::MIN` is no watermark at all).
fn deliver<In>(
    wm: i64,
    slot: usize,
    delivered: &mut [i64],
    runners: &mut [Box<dyn BoltRunner<In>>],
    shown: Shown<'_>,
) {
    if wm > i64::MIN && wm > delivered[slot] {
        delivered[slot] = wm;
        runners[slot].watermark(wm);
        if let Some(w) = shown.wirings.get(slot) {
            w.metrics().set_watermark(shown.head, w.task_index, wm);
        }
    }
}

/// Where a task's new watermark is shown: the metrics of its chain's head component.
#[derive(Clone, Copy)]
struct Shown<'a> {
    wirings: &'a [Wiring],
    head: usize,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ack::{Clock, TupleIds};
    use crate::exec::metrics::Metrics;
    use crate::topology::{
        ChainDesc, ComponentDesc, EdgeDesc, Guarantee, Kind, Settings, StreamDesc,
    };
    use crate::transport::{TaskSender, Upstream};
    use std::sync::Arc;
    use std::sync::atomic::AtomicBool;
    use std::time::Duration;

    /// `ids` (spout, 2 tasks: 1, 2) -> `sink` (2 tasks: 3, 4, one executor), at most once.
    fn desc() -> &'static TopologyDesc {
        desc_idle(0)
    }

    /// The same, the spout's channels going idle after `idle_ms` (0: never).
    fn desc_idle(idle_ms: u64) -> &'static TopologyDesc {
        let component = |name, kind, first_task, chain, parallelism| ComponentDesc {
            name,
            kind,
            operator: name,
            input: None,
            streams: &[] as &[StreamDesc],
            parallelism,
            tasks: 2,
            first_task,
            chain,
            line: 1,
            retry: None,
            idle_ms: if kind == Kind::Spout { idle_ms } else { 0 },
            uid: "",
            state_schema: "",
        };
        Box::leak(Box::new(TopologyDesc {
            name: "t",
            source: "t.topo",
            components: Box::leak(Box::new([
                component("ids", Kind::Spout, 1, 0, 2),
                component("sink", Kind::Bolt, 3, 1, 1),
            ])),
            chains: Box::leak(Box::new([
                ChainDesc {
                    components: &[0],
                    parallelism: 2,
                    tasks: 2,
                },
                ChainDesc {
                    components: &[1],
                    parallelism: 1,
                    tasks: 2,
                },
            ])),
            edges: Box::leak(Box::new([EdgeDesc {
                from: 0,
                stream: 0,
                to: 1,
                grouping: "shuffle",
                detail: "",
                fused: false,
            }])),
            settings: Settings {
                guarantee: Guarantee::AtMostOnce,
                message_timeout_ms: 1000,
                max_spout_pending: None,
                ackers: Some(0),
                workers: 1,
                batch_size: 10,
                queue_capacity: 4,
                max_parallelism: 128,
                checkpoints: crate::checkpoint::CheckpointConfig::NONE,
                restart: crate::checkpoint::RestartStrategy::DEFAULT,
            },
            config: &[],
        }))
    }

    /// What the sink tasks saw, shared with the test: per task index, its tuples and
    /// how often it finished.
    #[derive(Default)]
    struct Seen {
        tuples: Vec<Vec<u64>>,
        finished: Vec<u32>,
        watermarks: Vec<Vec<i64>>,
        /// Per task, tuples (`t:N`) and barriers passed on (`b:ID`) in order.
        log: Vec<Vec<String>>,
    }

    struct Recording {
        task: usize,
        seen: Arc<Mutex<Seen>>,
    }

    impl BoltRunner<u64> for Recording {
        fn open(&mut self, _: &Wiring) {}
        fn run_batch(&mut self, batch: Vec<u64>, _: Vec<TupleIds>) {
            let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
            seen.log[self.task].extend(batch.iter().map(|t| format!("t:{t}")));
            seen.tuples[self.task].extend(batch);
        }
        fn flush(&mut self) {}
        fn finish(&mut self) {
            let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
            seen.finished[self.task] += 1;
        }
        fn report(&mut self, _: &Wiring) {}
        fn watermark(&mut self, w: i64) {
            let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
            seen.watermarks[self.task].push(w);
        }
        fn barrier(&mut self, id: u64, _savepoint: bool) {
            let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
            seen.log[self.task].push(format!("b:{id}"));
        }
        fn notify_complete(&mut self, _id: u64) {}
        fn tick_interval(&self) -> Option<Duration> {
            None
        }
        fn tick(&mut self, _: u64) {}
        fn advance_snapshots(&mut self, _: Duration) -> bool {
            false
        }
    }

    fn snapshot(s: &Arc<Mutex<Seen>>) -> (Vec<Vec<u64>>, Vec<u32>) {
        let s = s.lock().unwrap_or_else(|p| p.into_inner());
        (s.tuples.clone(), s.finished.clone())
    }

    /// Waits until `f` holds (false after 10 s).
    fn eventually(mut f: impl FnMut() -> bool) -> bool {
        let start = std::time::Instant::now();
        while start.elapsed() < Duration::from_secs(10) {
            if f() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        false
    }

    /// The sink executor running on its own thread, fed by the two spout tasks'
    /// channels.
    struct Harness {
        seen: Arc<Mutex<Seen>>,
        one: Upstream,
        two: Upstream,
        from_one: Vec<TaskSender<u64>>,
        from_two: Vec<TaskSender<u64>>,
        executor: std::thread::JoinHandle<()>,
    }

    fn harness(desc: &'static TopologyDesc) -> Harness {
        let seen = Arc::new(Mutex::new(Seen {
            tuples: vec![Vec::new(); 2],
            finished: vec![0; 2],
            watermarks: vec![Vec::new(); 2],
            log: vec![Vec::new(); 2],
        }));
        let shared = seen.clone();
        let chain = Arc::new(TypedBoltChain::<u64, _>::new(move |w: &Wiring| {
            Box::new(Recording {
                task: w.task_index as usize,
                seen: shared.clone(),
            }) as Box<dyn BoltRunner<u64>>
        }));
        let placement = Arc::new(Placement::local(desc));
        let mut registry = Registry::default();
        chain.make_inboxes(desc, &mut registry, 1, &placement);
        let registry = Arc::new(registry);
        let (one, two) = (Upstream::new(1, 0), Upstream::new(2, 0));
        let from_one: Vec<TaskSender<u64>> = registry.channel_senders(1, one);
        let from_two: Vec<TaskSender<u64>> = registry.channel_senders(1, two);
        let base = Wiring::base(
            desc,
            registry,
            Arc::new(Metrics::new(desc)),
            Arc::new(AtomicBool::new(false)),
            Clock::system(),
            placement,
        );
        let runner = chain.clone();
        let executor = std::thread::spawn(move || runner.run_executor(&base, 1, 0));
        Harness {
            seen,
            one,
            two,
            from_one,
            from_two,
            executor,
        }
    }

    #[test]
    fn duplicate_and_foreign_ends_neither_end_nor_hang_a_task() {
        let desc = desc();
        let Harness {
            seen,
            one,
            two,
            from_one,
            from_two,
            executor,
        } = harness(desc);

        // Task index 0 (task 3): producer 1 ends, twice; an end naming producer 9 and
        // one naming producer 1 arrive on producer 2's channel. None may end the task.
        from_one[0]
            .send_batch(vec![10, 11], Vec::new())
            .expect("sent");
        from_one[0].send_end(one).expect("sent");
        from_one[0].send_end(one).expect("sent");
        from_two[0].send_end(Upstream::new(9, 0)).expect("sent");
        from_two[0].send_end(one).expect("sent");
        from_two[0].send_batch(vec![20], Vec::new()).expect("sent");
        assert!(eventually(|| snapshot(&seen).0[0] == [10, 11, 20]));
        assert_eq!(snapshot(&seen).1, [0, 0], "no task finished early");
        // Task index 1 (task 4) is untouched by task 3's ends: it still gets tuples.
        from_two[1].send_batch(vec![40], Vec::new()).expect("sent");
        assert!(eventually(|| snapshot(&seen).0[1] == [40]));
        // Producer 2's own end completes task 3, once.
        from_two[0].send_end(two).expect("sent");
        assert!(eventually(|| snapshot(&seen).1 == [1, 0]));
        from_two[0].send_end(two).expect("sent");
        // Task 4 completes on its two channels' ends; the executor then returns (no hang).
        from_one[1].send_end(one).expect("sent");
        from_two[1].send_end(two).expect("sent");
        assert!(eventually(|| executor.is_finished()), "the executor hung");
        executor.join().expect("the executor");
        assert_eq!(
            snapshot(&seen),
            (vec![vec![10, 11, 20], vec![40]], vec![1, 1])
        );
    }

    #[test]
    fn a_task_watermark_is_the_minimum_over_its_channels_and_skips_an_idle_one() {
        let desc = desc_idle(50);
        let Harness {
            seen,
            one,
            two,
            from_one,
            from_two,
            executor,
        } = harness(desc);
        let watermarks =
            |t: usize| seen.lock().unwrap_or_else(|p| p.into_inner()).watermarks[t].clone();
        let wm = |w| Control::Watermark(w);
        // Task 3: both channels carry watermarks; its own is their minimum.
        from_one[0].send_control(wm(100)).expect("sent");
        from_two[0].send_control(wm(80)).expect("sent");
        assert!(eventually(|| watermarks(0) == [80]));
        from_two[0].send_control(wm(150)).expect("sent");
        assert!(eventually(|| watermarks(0) == [80, 100]));
        // Producer 1 falls silent: after 50 ms its channel is idle and no longer holds
        // task 3 back (producer 2 keeps sending).
        for w in [200, 300, 400] {
            from_two[0].send_control(wm(w)).expect("sent");
            std::thread::sleep(Duration::from_millis(30));
        }
        assert!(
            eventually(|| watermarks(0).last() == Some(&400)),
            "{:?}",
            watermarks(0)
        );
        // Producer 1 is back, behind: the task's watermark does not go back.
        from_one[0].send_control(wm(350)).expect("sent");
        from_two[0].send_control(wm(500)).expect("sent");
        std::thread::sleep(Duration::from_millis(20));
        let w = watermarks(0);
        assert!(w.windows(2).all(|p| p[0] < p[1]), "never back: {w:?}");
        // Task 4 got none of task 3's watermarks.
        assert!(watermarks(1).is_empty());
        for (s, from) in [(&from_one, one), (&from_two, two)] {
            for t in s {
                t.send_end(from).expect("sent");
            }
        }
        executor.join().expect("the executor returns");
    }

    #[test]
    fn a_barrier_blocks_its_channel_until_the_others_deliver_it() {
        let desc = desc();
        let Harness {
            seen,
            one,
            two,
            from_one,
            from_two,
            executor,
        } = harness(desc);
        let log = |t: usize| seen.lock().unwrap_or_else(|p| p.into_inner()).log[t].clone();
        let barrier = Control::Barrier {
            id: 1,
            savepoint: false,
        };
        // Task 3: producer 1's barrier comes first; what it sends after waits.
        from_one[0]
            .send_batch(vec![1, 2], Vec::new())
            .expect("sent");
        from_one[0].send_control(barrier).expect("sent");
        from_one[0].send_batch(vec![3], Vec::new()).expect("sent");
        from_two[0].send_batch(vec![10], Vec::new()).expect("sent");
        assert!(
            eventually(|| log(0) == ["t:1", "t:2", "t:10"]),
            "{:?}",
            log(0)
        );
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(
            log(0),
            ["t:1", "t:2", "t:10"],
            "3 is behind the barrier: not read"
        );
        // Task 4 is not held by task 3's alignment.
        from_one[1].send_batch(vec![40], Vec::new()).expect("sent");
        assert!(eventually(|| log(1) == ["t:40"]), "{:?}", log(1));
        // Producer 2's barrier: the task passes it on, then reads both channels again.
        from_two[0].send_control(barrier).expect("sent");
        from_two[0].send_batch(vec![11], Vec::new()).expect("sent");
        assert!(eventually(|| log(0).len() == 6), "{:?}", log(0));
        let got = log(0);
        assert_eq!(got[..4], ["t:1", "t:2", "t:10", "b:1"]);
        assert!(got[4..].contains(&"t:3".to_string()) && got[4..].contains(&"t:11".to_string()));
        // A repeated barrier of a done checkpoint blocks nothing.
        from_one[0].send_control(barrier).expect("sent");
        from_one[0].send_batch(vec![4], Vec::new()).expect("sent");
        assert!(eventually(
            || log(0).last().map(String::as_str) == Some("t:4")
        ));
        // Task 4: one channel's barrier, then the other channel ends: aligned.
        from_two[1].send_control(barrier).expect("sent");
        from_one[1].send_end(one).expect("sent");
        assert!(eventually(|| log(1) == ["t:40", "b:1"]), "{:?}", log(1));
        for (s, from) in [(&from_one, one), (&from_two, two)] {
            for t in s {
                let _ = t.send_end(from);
            }
        }
        assert!(eventually(|| executor.is_finished()), "the executor hung");
        executor.join().expect("the executor");
    }

    #[test]
    fn a_lost_end_keeps_the_task_running_until_it_comes_again() {
        let desc = desc();
        let Harness {
            seen,
            one,
            two,
            from_one,
            from_two,
            executor,
        } = harness(desc);
        // Task 3: producer 1's end is lost; producer 2 goes on and ends.
        from_one[0].send_batch(vec![1], Vec::new()).expect("sent");
        from_two[0].send_batch(vec![2], Vec::new()).expect("sent");
        from_two[0].send_end(two).expect("sent");
        from_two[1].send_end(two).expect("sent");
        from_one[1].send_end(one).expect("sent");
        // Task 4 finishes; task 3 neither finishes nor stops reading.
        assert!(eventually(|| snapshot(&seen).1 == [0, 1]));
        from_one[0].send_batch(vec![3], Vec::new()).expect("sent");
        assert!(eventually(|| snapshot(&seen).0[0] == [1, 2, 3]));
        std::thread::sleep(Duration::from_millis(30));
        assert_eq!(snapshot(&seen).1, [0, 1], "no end without producer 1's");
        assert!(!executor.is_finished());
        // The end comes again (the data plane resends it to a restarted peer): done.
        from_one[0].send_end(one).expect("sent");
        assert!(eventually(|| executor.is_finished()), "the executor hung");
        executor.join().expect("the executor");
        assert_eq!(snapshot(&seen).1, [1, 1]);
    }
}
