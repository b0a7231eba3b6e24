//! Execution: executors (threads) running the tasks of fused chains, and the local runner
//! that starts them all in one process.

pub(crate) mod acker_executor;
pub(crate) mod bolt_executor;
pub mod chain;
pub(crate) mod channels;
pub(crate) mod checkpointing;
pub(crate) mod ends;
pub mod health;
pub(crate) mod idleness;
pub(crate) mod input;
pub mod local;
pub mod metrics;
pub mod placement;
pub(crate) mod replay;
pub mod savepoints;
pub(crate) mod spout_executor;
pub(crate) mod uploads;
pub mod wiring;

/// The task indexes (0-based, within the chain) that executor `e` of `parallelism` runs,
/// out of `tasks`: contiguous, as even as possible.
pub fn executor_tasks(tasks: u32, parallelism: u32, e: u32) -> std::ops::Range<u32> {
    let p = parallelism.max(1) as u64;
    let t = tasks as u64;
    let start = (e as u64 * t / p) as u32;
    let end = ((e as u64 + 1) * t / p) as u32;
    start..end
}

#[cfg(test)]
mod tests {
    use super::executor_tasks;

    #[test]
    fn tasks_are_spread_evenly_and_completely() {
        for tasks in 1..20u32 {
            for par in 1..=tasks {
                let mut seen = Vec::new();
                for e in 0..par {
                    let r = executor_tasks(tasks, par, e);
                    assert!(
                        !r.is_empty(),
                        "executor {e} of {par} got no task of {tasks}"
                    );
                    seen.extend(r);
                }
                assert_eq!(seen, (0..tasks).collect::<Vec<_>>());
            }
        }
    }
}
