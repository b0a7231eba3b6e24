//! The executor loop of a chain headed by a spout.

use super::chain::SpoutRunner;
use super::executor_tasks;
use super::wiring::Wiring;
use crate::api::SpoutStatus;
use crate::topology::SpoutFactory;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// Calls to `next_tuple` per task before the executor looks at the others and the stop flag.
const BURST: u32 = 1024;
/// How long an executor whose spouts are all idle waits before asking again.
const IDLE_WAIT: Duration = Duration::from_millis(1);

/// Runs executor `executor` of spout chain `chain` until every task is done or the
/// topology is stopped; then ends the chain's output streams.
pub(crate) fn run(factory: &SpoutFactory, base: &Wiring, chain: usize, executor: u32) {
    let c = &base.desc.chains[chain];
    let range = executor_tasks(c.tasks, c.parallelism, executor);
    let wirings: Vec<Wiring> = range.map(|i| base.for_task(i)).collect();
    let mut tasks: Vec<Option<Box<dyn SpoutRunner>>> =
        wirings.iter().map(|w| Some(factory(w))).collect();
    for (t, w) in tasks.iter_mut().zip(&wirings) {
        if let Some(t) = t {
            t.open(w);
        }
    }
    let mut live = tasks.len();
    while live > 0 {
        let stopping = base.stop.load(Ordering::Relaxed);
        let mut all_idle = true;
        for (slot, w) in tasks.iter_mut().zip(&wirings) {
            let Some(task) = slot else { continue };
            let mut done = stopping;
            let mut idle = false;
            if !done {
                match task.run_burst(BURST) {
                    SpoutStatus::Active => {}
                    SpoutStatus::Idle => idle = true,
                    SpoutStatus::Done => done = true,
                }
            }
            if idle {
                // Nothing more right now: do not let a partial batch wait for the next tuple.
                task.flush();
            } else {
                all_idle = false;
            }
            task.report(w);
            if done {
                task.finish();
                task.report(w);
                *slot = None;
                live -= 1;
            }
        }
        if all_idle && live > 0 {
            std::thread::sleep(IDLE_WAIT);
        }
    }
}
