//! The executor loop of a chain headed by a bolt.

use super::chain::BoltRunner;
use super::ends::{EndSet, upstreams};
use super::executor_tasks;
use super::placement::Placement;
use super::wiring::{Registry, Wiring};
use crate::codec::Codec;
use crate::topology::{BoltChainSpec, TopologyDesc};
use crate::transport::remote::Lane;
use crate::transport::{Message, queue};
use crossbeam_channel::{Receiver, TryRecvError};
use std::sync::Mutex;

/// Report counters every this many batches (and whenever the executor goes idle).
const REPORT_EVERY: u32 = 64;

/// A bolt-headed chain typed by its input, with the receive side of its queues.
pub(crate) struct TypedBoltChain<In, F> {
    build: F,
    receivers: Mutex<Vec<Option<Receiver<Message<In>>>>>,
}

impl<In, F> TypedBoltChain<In, F> {
    pub(crate) fn new(build: F) -> Self {
        TypedBoltChain {
            build,
            receivers: Mutex::new(Vec::new()),
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
        let (senders, receivers) =
            placement.chain_inboxes(desc, chain, Lane::Input, || queue(capacity));
        registry.insert::<In>(c.components[0], senders);
        *self.receivers.lock().unwrap_or_else(|p| p.into_inner()) = receivers;
    }

    fn run_executor(&self, base: &Wiring, chain: usize, executor: u32) {
        let desc = base.desc;
        let c = &desc.chains[chain];
        let rx = self
            .receivers
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
        let producers = upstreams(desc, c.components[0]);
        let mut ends = vec![EndSet::new(&producers); runners.len()];
        let mut live = runners.len();
        if producers.is_empty() {
            for (r, w) in runners.iter_mut().zip(&wirings) {
                r.finish();
                r.report(w);
            }
            return;
        }
        let mut since_report = 0u32;
        let progress = base.metrics.executor_progress(chain, executor);
        while live > 0 {
            let msg = match rx.try_recv() {
                Ok(m) => m,
                Err(TryRecvError::Empty) => {
                    for (r, w) in runners.iter_mut().zip(&wirings) {
                        r.flush();
                        r.report(w);
                    }
                    since_report = 0;
                    progress.waiting();
                    match rx.recv() {
                        Ok(m) => m,
                        Err(_) => break,
                    }
                }
                Err(TryRecvError::Disconnected) => break,
            };
            progress.took(rx.len() as u64 + 1);
            match msg {
                Message::Batch { slot, tuples, ids } => {
                    // Batches still queued behind this one: `len() + 1` could count a batch
                    // the producer pushed into the slot this one just freed.
                    base.metrics.saw_queue_depth(chain, rx.len() as u64);
                    runners[slot as usize].run_batch(tuples, ids);
                    since_report += 1;
                    if since_report >= REPORT_EVERY {
                        for (r, w) in runners.iter_mut().zip(&wirings) {
                            r.report(w);
                        }
                        since_report = 0;
                    }
                }
                Message::End { slot, from } => {
                    let s = slot as usize;
                    // True once per task: a repeated end changes nothing.
                    if ends[s].record(from) {
                        runners[s].finish();
                        runners[s].report(&wirings[s]);
                        live -= 1;
                    }
                }
            }
        }
        // Done: nothing pending, whatever it last took (a finished executor is not hung).
        progress.waiting();
        for (r, w) in runners.iter_mut().zip(&wirings) {
            r.report(w);
        }
    }
}
