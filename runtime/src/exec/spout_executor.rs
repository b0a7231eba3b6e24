//! The executor loop of a chain headed by a spout.

use super::chain::SpoutRunner;
use super::executor_tasks;
use super::wiring::Wiring;
use crate::ack::{AckOutbox, Reply};
use crate::api::SpoutStatus;
use crate::topology::SpoutFactory;
use crate::transport::Message;
use crossbeam_channel::Receiver;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// Calls to `next_tuple` per task before the executor looks at the others and the stop flag.
const BURST: u32 = 1024;
/// How long an executor whose spouts are all idle waits before asking again.
const IDLE_WAIT: Duration = Duration::from_millis(1);
/// The longest a partly filled batch of a busy spout waits before it is sent (Flink's
/// `execution.buffer-timeout`, 100 ms by default): a slow but never idle spout's tuples
/// and watermarks still flow.
const FLUSH_EVERY: Duration = Duration::from_millis(100);

/// One spout task and where it is in its life.
struct Task {
    runner: Box<dyn SpoutRunner>,
    wiring: Wiring,
    /// The spout said `Done` (or the topology is stopping): no more `next_tuple`.
    exhausted: bool,
}

/// Runs executor `executor` of spout chain `chain` until every task is done (and, with
/// acking, every tuple it emitted is acked or failed) or the topology is stopped; then ends
/// the chain's output streams. `replies` is the executor's inbox from the ackers.
pub(crate) fn run(
    factory: &SpoutFactory,
    base: &Wiring,
    chain: usize,
    executor: u32,
    replies: Option<Receiver<Message<Reply>>>,
) {
    let c = &base.desc.chains[chain];
    let range = executor_tasks(c.tasks, c.parallelism, executor);
    let mut tasks: Vec<Option<Task>> = range
        .map(|i| {
            let wiring = base.for_task(i);
            let mut runner = factory(&wiring);
            runner.open(&wiring);
            Some(Task {
                runner,
                wiring,
                exhausted: false,
            })
        })
        .collect();
    let mut live = tasks.len();
    let mut stopped = false;
    let progress = base.metrics.executor_progress(chain, executor);
    // Position in the placement's log of lost workers.
    let mut losses_seen = 0;
    let ackers = base.placement.acker_count() as usize;
    let mut last_flush = std::time::Instant::now();
    // The newest checkpoint whose barrier this executor's tasks sent, and the newest
    // completion they heard of.
    let mut injected = 0u64;
    let mut notified = 0u64;
    // Tasks that finished, kept to hear of the final checkpoint (their fused sinks commit
    // on it).
    let mut finished: Vec<Task> = Vec::new();
    while live > 0 {
        if let Some(c) = &base.checkpoints {
            if c.aborted() {
                // A task failed: stop now, without ending the streams (the run restarts).
                progress.waiting();
                return;
            }
            let t = c.triggered();
            if t > injected {
                // Every checkpoint triggered since the last look (a savepoint may be
                // followed at once by a periodic one), in order; at the start, the newest.
                let from = if injected == 0 { t } else { injected + 1 };
                for id in from..=t {
                    let savepoint = c.is_savepoint(id);
                    for task in tasks.iter_mut().flatten() {
                        task.runner.barrier(id, savepoint);
                    }
                }
                injected = t;
            }
            if let Some(done) = c.newly_completed(&mut notified) {
                for task in tasks.iter_mut().flatten() {
                    task.runner.notify_complete(done);
                }
            }
        }
        let lost = base.placement.lost_ackers_since(&mut losses_seen);
        if !lost.is_empty() {
            let lost_root = |root: u64| lost.contains(&(AckOutbox::acker_of(root, ackers) as u32));
            for t in tasks.iter_mut().flatten() {
                t.runner.fail_trees(&lost_root);
            }
        }
        // A spout always has work in hand: its next round of calls.
        progress.took(1);
        if !stopped && base.stop.load(Ordering::Relaxed) {
            stopped = true;
            for t in tasks.iter_mut().flatten() {
                t.exhausted = true;
                t.runner.stop();
            }
        }
        if let Some(rx) = &replies {
            while let Ok(msg) = rx.try_recv() {
                deliver(&mut tasks, msg);
            }
        }
        let mut all_idle = true;
        let step = crate::exec::checkpointing::SNAPSHOT_STEP / (tasks.len().max(1) as u32);
        for slot in tasks.iter_mut() {
            let Some(task) = slot else { continue };
            task.runner.tick();
            let mut idle = task.exhausted;
            if !task.exhausted {
                match task.runner.run_burst(BURST) {
                    SpoutStatus::Active => {}
                    SpoutStatus::Idle => idle = true,
                    SpoutStatus::Done => {
                        task.exhausted = true;
                        idle = true;
                    }
                }
            }
            if base.checkpoints.is_some() {
                // Fused bolts' snapshots taken a key group at a time go on between bursts
                // (the executor's step shared among its tasks).
                task.runner.advance_snapshots(step);
            }
            if idle {
                // Nothing more right now: do not let a partial batch wait for the next tuple.
                task.runner.flush();
            } else {
                all_idle = false;
            }
            task.runner.report(&task.wiring);
            if task.exhausted && task.runner.settled() {
                task.runner.finish();
                task.runner.report(&task.wiring);
                if let Some(t) = slot.take()
                    && base.checkpoints.is_some()
                {
                    finished.push(t);
                }
                live -= 1;
            }
        }
        if !all_idle && last_flush.elapsed() >= FLUSH_EVERY {
            for t in tasks.iter_mut().flatten() {
                t.runner.flush();
            }
            last_flush = std::time::Instant::now();
        }
        if all_idle && live > 0 {
            match &replies {
                Some(rx) => {
                    if let Ok(msg) = rx.recv_timeout(IDLE_WAIT) {
                        deliver(&mut tasks, msg);
                    }
                }
                None => std::thread::sleep(IDLE_WAIT),
            }
        }
    }
    // Done: a finished executor is not hung.
    progress.waiting();
    if let Some(c) = &base.checkpoints {
        c.wait_final(&mut notified, |id| {
            for t in &mut finished {
                t.runner.notify_complete(id);
            }
        });
    }
}

fn deliver(tasks: &mut [Option<Task>], msg: Message<Reply>) {
    if let Message::Batch { slot, tuples, .. } = msg
        && let Some(Some(task)) = tasks.get_mut(slot as usize)
    {
        task.runner.on_replies(tuples);
    }
}
