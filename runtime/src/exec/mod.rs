//! Execution: executors (threads) running the tasks of fused chains, and the local runner
//! that starts them all in one process.

pub(crate) mod acker_executor;
pub(crate) mod bolt_executor;
pub mod chain;
pub mod local;
pub mod metrics;
pub(crate) mod spout_executor;
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

/// The inboxes of a chain: one queue per executor (made by `make_queue`), and one sender
/// per task, in task-index order, addressing the task's slot in its executor. Returns the
/// senders and, per executor, its receiver.
pub(crate) fn chain_inboxes<T>(
    chain: &crate::topology::ChainDesc,
    first_task: u32,
    make_queue: impl Fn() -> (
        crossbeam_channel::Sender<crate::transport::Message<T>>,
        crossbeam_channel::Receiver<crate::transport::Message<T>>,
    ),
) -> (
    Vec<crate::transport::TaskSender<T>>,
    Vec<crossbeam_channel::Receiver<crate::transport::Message<T>>>,
) {
    let mut senders = Vec::with_capacity(chain.tasks as usize);
    let mut receivers = Vec::with_capacity(chain.parallelism as usize);
    for e in 0..chain.parallelism {
        let (tx, rx) = make_queue();
        let range = executor_tasks(chain.tasks, chain.parallelism, e);
        for i in range.clone() {
            senders.push(crate::transport::TaskSender::local(
                tx.clone(),
                i - range.start,
                first_task + i,
            ));
        }
        receivers.push(rx);
    }
    (senders, receivers)
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
