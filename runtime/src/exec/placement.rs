//! Placement: which worker process runs each executor. Local mode puts everything in
//! worker 0; a cluster worker gets its placement from nimbus's assignment and reaches the
//! executors of other workers through the data plane.

use super::executor_tasks;
use super::input::ChannelQueue;
use super::wiring::ChannelSenders;
use crate::ack::AckerMsg;
use crate::api::TaskId;
use crate::codec::Codec;
use crate::topology::{Kind, TopologyDesc};
use crate::transport::net::{ChannelId, DataPlane, Inbound};
use crate::transport::remote::{
    Lane, LateInbound, NetSender, TaskInbound, TreeFailer, channel_id, input_channel_id,
};
use crate::transport::roots::SentRoots;
use crate::transport::{Message, TaskSender, Upstream, queue};
use crossbeam_channel::{Receiver, Sender};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

/// A unit's senders (one per task, in task order) and, per executor, its queue's receive
/// side (`None` for an executor in another worker).
pub(crate) type Inboxes<T> = (Vec<TaskSender<T>>, Vec<Option<Receiver<Message<T>>>>);

/// A bolt chain's senders (per task, one per input channel) and, per executor, its input
/// channels' queues (`None` for an executor in another worker).
pub(crate) type ChannelInboxes<T> = (ChannelSenders<T>, Vec<Option<Vec<ChannelQueue<T>>>>);

/// Which worker runs each executor, and how to reach the others.
pub struct Placement {
    me: u32,
    /// Per chain, per executor: its worker.
    executors: Vec<Vec<u32>>,
    /// Per acker: its worker.
    ackers: Vec<u32>,
    net: Option<Net>,
    /// Fails the trees of tuples the data plane cannot send (given the acker senders when
    /// they are made).
    failer: Arc<TreeFailer>,
    /// Workers whose link went down or came back, in order: the spouts fail at once the
    /// trees whose acker runs there (see [`Placement::lost_ackers_since`]).
    losses: Mutex<Vec<u32>>,
    /// `losses.len()`, read without the lock on every spout loop.
    loss_count: AtomicUsize,
}

/// The data plane, the inbounds registered with it for this worker's tasks, and the
/// roots of the trees sent to each peer.
struct Net {
    plane: Arc<DataPlane>,
    late: HashMap<ChannelId, Arc<LateInbound>>,
    roots: Arc<SentRoots>,
}

impl std::fmt::Debug for Placement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Placement")
            .field("me", &self.me)
            .field("executors", &self.executors)
            .field("ackers", &self.ackers)
            .finish()
    }
}

/// The executors of one queue-owning unit: a chain, or the ackers.
struct Unit<'a> {
    tasks: u32,
    parallelism: u32,
    first_task: TaskId,
    workers: &'a [u32],
}

impl Placement {
    /// Everything in this process (local mode).
    pub fn local(desc: &TopologyDesc) -> Self {
        Placement {
            me: 0,
            executors: desc
                .chains
                .iter()
                .map(|c| vec![0; c.parallelism as usize])
                .collect(),
            ackers: vec![0; super::wiring::ackers(desc) as usize],
            net: None,
            failer: Arc::default(),
            losses: Mutex::new(Vec::new()),
            loss_count: AtomicUsize::new(0),
        }
    }

    /// Worker `me` of an assignment: `executors[chain][e]` and `ackers[a]` name workers.
    pub fn worker(me: u32, executors: Vec<Vec<u32>>, ackers: Vec<u32>) -> Self {
        Placement {
            me,
            executors,
            ackers,
            net: None,
            failer: Arc::default(),
            losses: Mutex::new(Vec::new()),
            loss_count: AtomicUsize::new(0),
        }
    }

    /// This worker's index.
    pub fn me(&self) -> u32 {
        self.me
    }

    /// True when executor `e` of `chain` runs here.
    pub fn is_local(&self, chain: usize, e: u32) -> bool {
        self.executors
            .get(chain)
            .and_then(|w| w.get(e as usize))
            .is_some_and(|&w| w == self.me)
    }

    /// True when acker `a` runs here.
    pub fn is_local_acker(&self, a: u32) -> bool {
        self.ackers.get(a as usize).is_some_and(|&w| w == self.me)
    }

    /// The worker of executor `e` of `chain`.
    pub fn worker_of(&self, chain: usize, e: u32) -> u32 {
        self.executors[chain][e as usize]
    }

    /// The worker that runs task `task` (of a component, or an acker), if there is one.
    pub fn worker_of_task(&self, desc: &TopologyDesc, task: TaskId) -> Option<u32> {
        let first_acker = super::wiring::first_acker_task(desc);
        if task >= first_acker {
            return self.ackers.get((task - first_acker) as usize).copied();
        }
        let c = &desc.components[desc.component_of_task(task)?];
        let chain = &desc.chains[c.chain];
        let index = task - c.first_task;
        (0..chain.parallelism)
            .find(|&e| executor_tasks(chain.tasks, chain.parallelism, e).contains(&index))
            .and_then(|e| self.executors.get(c.chain)?.get(e as usize).copied())
    }

    /// The ackers (by index) that run in this worker.
    pub fn local_ackers(&self) -> Vec<u32> {
        (0..self.ackers.len() as u32)
            .filter(|&a| self.is_local_acker(a))
            .collect()
    }

    /// The data-plane channels of every input of this worker's tasks: bolt-headed chains'
    /// inputs, the ackers' inputs and (acking on) the spouts' replies.
    pub fn local_channels(&self, desc: &TopologyDesc) -> Vec<ChannelId> {
        let tracking = super::wiring::tracking(desc);
        let mut out = Vec::new();
        for (i, chain) in desc.chains.iter().enumerate() {
            let head = &desc.components[chain.components[0]];
            let lane = match head.kind {
                Kind::Bolt => Lane::Input,
                Kind::Spout if tracking => Lane::Replies,
                Kind::Spout => continue,
            };
            let producers = match lane {
                Lane::Input => super::ends::upstreams(desc, chain.components[0]),
                Lane::Replies => Vec::new(),
            };
            for e in 0..chain.parallelism {
                if self.is_local(i, e) {
                    for t in executor_tasks(chain.tasks, chain.parallelism, e) {
                        let task = head.first_task + t;
                        match lane {
                            Lane::Input => {
                                out.extend(producers.iter().map(|&u| input_channel_id(u, task)))
                            }
                            Lane::Replies => out.push(channel_id(task, lane)),
                        }
                    }
                }
            }
        }
        if tracking {
            let first = super::wiring::first_acker_task(desc);
            for a in 0..self.ackers.len() as u32 {
                if self.is_local_acker(a) {
                    out.push(channel_id(first + a, Lane::Input));
                }
            }
        }
        out
    }

    /// Connects the data plane: `late` are the inbounds it was started with (one per
    /// [`Placement::local_channels`] entry); the senders to other workers record in
    /// `roots` the trees they send into each.
    pub fn connect(
        &mut self,
        plane: Arc<DataPlane>,
        late: HashMap<ChannelId, Arc<LateInbound>>,
        roots: Arc<SentRoots>,
    ) {
        self.net = Some(Net { plane, late, roots });
    }

    /// The roots sent to each peer, when the data plane is connected.
    pub fn sent_roots(&self) -> Option<Arc<SentRoots>> {
        self.net.as_ref().map(|n| Arc::clone(&n.roots))
    }

    /// The link to `worker` went down or came back: trees whose acker runs there are lost
    /// (their acker died, or their start was sent while the link was down).
    pub fn record_loss(&self, worker: u32) {
        let mut losses = self.losses.lock().unwrap_or_else(PoisonError::into_inner);
        losses.push(worker);
        self.loss_count.store(losses.len(), Ordering::Release);
    }

    /// The ackers (by index) on the workers lost since `seen` (a position in the losses,
    /// advanced past them); empty, after one atomic load, when there is none.
    pub fn lost_ackers_since(&self, seen: &mut usize) -> Vec<u32> {
        if self.loss_count.load(Ordering::Acquire) == *seen {
            return Vec::new();
        }
        let losses = self.losses.lock().unwrap_or_else(PoisonError::into_inner);
        let lost = &losses[(*seen).min(losses.len())..];
        let ackers = (0..self.ackers.len() as u32)
            .filter(|&a| lost.contains(&self.ackers[a as usize]))
            .collect();
        *seen = losses.len();
        ackers
    }

    /// How many ackers the topology has.
    pub fn acker_count(&self) -> u32 {
        self.ackers.len() as u32
    }

    /// The task indexes of `component` that run in this worker.
    pub fn local_tasks(&self, desc: &TopologyDesc, component: usize) -> Vec<usize> {
        let c = &desc.components[component];
        let chain = &desc.chains[c.chain];
        (0..chain.parallelism)
            .filter(|&e| self.is_local(c.chain, e))
            .flat_map(|e| executor_tasks(chain.tasks, chain.parallelism, e))
            .map(|t| t as usize)
            .collect()
    }

    /// The inboxes of `chain`: a queue (by `make_queue`) per local executor, a sender per
    /// task (in task order) that reaches it wherever it runs.
    pub(crate) fn chain_inboxes<T: Codec + Send + 'static>(
        &self,
        desc: &TopologyDesc,
        chain: usize,
        lane: Lane,
        make_queue: impl Fn() -> (Sender<Message<T>>, Receiver<Message<T>>),
    ) -> Inboxes<T> {
        let c = &desc.chains[chain];
        let unit = Unit {
            tasks: c.tasks,
            parallelism: c.parallelism,
            first_task: desc.components[c.components[0]].first_task,
            workers: &self.executors[chain],
        };
        self.inboxes(&unit, lane, make_queue)
    }

    /// The input channels of bolt-headed `chain`: per local task, a queue per producer,
    /// each an executor's share of its `capacity` batches ([`channel_capacity`]) (see [`super::input`]); per task, a sender per producer that
    /// reaches the task's queue for that producer wherever the task runs (in another
    /// worker: over the data-plane channel of that producer and task).
    pub(crate) fn chain_channel_inboxes<T: Codec + Send + 'static>(
        &self,
        desc: &TopologyDesc,
        chain: usize,
        capacity: usize,
    ) -> ChannelInboxes<T> {
        let c = &desc.chains[chain];
        let producers = super::ends::upstreams(desc, c.components[0]);
        let first_task = desc.components[c.components[0]].first_task;
        let mut senders = Vec::with_capacity(c.tasks as usize);
        let mut inputs = Vec::with_capacity(c.parallelism as usize);
        for e in 0..c.parallelism {
            let range = executor_tasks(c.tasks, c.parallelism, e);
            let worker = self.executors[chain][e as usize];
            if worker == self.me {
                let mut queues = Vec::with_capacity(range.len() * producers.len());
                let capacity = channel_capacity(capacity, range.len() * producers.len());
                for i in range.clone() {
                    let (task, slot) = (first_task + i, i - range.start);
                    let mut task_senders = Vec::with_capacity(producers.len());
                    for &from in &producers {
                        let (tx, rx) = queue(capacity);
                        let sender = TaskSender::local_channel(tx, slot, task, from);
                        self.attach_inbound(input_channel_id(from, task), &sender);
                        task_senders.push((from, sender));
                        queues.push((slot, from, rx));
                    }
                    senders.push(task_senders);
                }
                inputs.push(Some(queues));
            } else {
                for i in range {
                    let task = first_task + i;
                    let remote = |from: Upstream| {
                        let channel = input_channel_id(from, task);
                        (from, self.remote_sender(worker, channel, task, from))
                    };
                    senders.push(producers.iter().map(|&u| remote(u)).collect());
                }
                inputs.push(None);
            }
        }
        (ChannelSenders::new(senders), inputs)
    }

    /// Gives the data plane's inbound of `channel` (when this worker has one) `sender`.
    fn attach_inbound<T: Codec + Send + 'static>(
        &self,
        channel: ChannelId,
        sender: &TaskSender<T>,
    ) {
        if let Some(late) = self.net.as_ref().and_then(|n| n.late.get(&channel)) {
            late.set(Arc::new(TaskInbound::new(sender.clone())) as Arc<dyn Inbound>);
        }
    }

    /// A sender to `task` on `worker` over data-plane `channel`, for producer `from`.
    fn remote_sender<T: Codec + Send + 'static>(
        &self,
        worker: u32,
        channel: ChannelId,
        task: TaskId,
        from: Upstream,
    ) -> TaskSender<T> {
        let net = self.net.as_ref().unwrap_or_else(|| {
            panic!("gale: executor placed on worker {worker} but no data plane")
        });
        let out = net.plane.outbound(worker, channel);
        match net.roots.peer(worker) {
            Some(roots) => NetSender::recording(out, task, from, roots, self.failer.clone()),
            None => NetSender::task_sender(out, task, from, self.failer.clone()),
        }
    }

    /// The inboxes of the ackers (each acker is its own executor). Their senders also go
    /// to the data plane's senders, to fail the trees of tuples too large to send.
    pub(crate) fn acker_inboxes(
        &self,
        desc: &TopologyDesc,
        make_queue: impl Fn() -> (Sender<Message<AckerMsg>>, Receiver<Message<AckerMsg>>),
    ) -> Inboxes<AckerMsg> {
        let n = self.ackers.len() as u32;
        let unit = Unit {
            tasks: n,
            parallelism: n,
            first_task: super::wiring::first_acker_task(desc),
            workers: &self.ackers,
        };
        let inboxes = self.inboxes(&unit, Lane::Input, make_queue);
        self.failer.attach(inboxes.0.clone());
        inboxes
    }

    fn inboxes<T: Codec + Send + 'static>(
        &self,
        unit: &Unit<'_>,
        lane: Lane,
        make_queue: impl Fn() -> (Sender<Message<T>>, Receiver<Message<T>>),
    ) -> Inboxes<T> {
        let mut senders = Vec::with_capacity(unit.tasks as usize);
        let mut receivers = Vec::with_capacity(unit.parallelism as usize);
        for e in 0..unit.parallelism {
            let range = executor_tasks(unit.tasks, unit.parallelism, e);
            let worker = unit.workers[e as usize];
            if worker == self.me {
                let (tx, rx) = make_queue();
                for i in range.clone() {
                    let task = unit.first_task + i;
                    let sender = TaskSender::local(tx.clone(), i - range.start, task);
                    self.attach_inbound(channel_id(task, lane), &sender);
                    senders.push(sender);
                }
                receivers.push(Some(rx));
            } else {
                for i in range {
                    let task = unit.first_task + i;
                    let channel = channel_id(task, lane);
                    senders.push(self.remote_sender(worker, channel, task, Upstream::MERGED));
                }
                receivers.push(None);
            }
        }
        (senders, receivers)
    }
}

/// The batches each of an executor's `channels` input queues holds when the executor's
/// input is given `capacity` batches in all: an even share, at least [`MIN_CHANNEL_CAPACITY`]
/// (so a channel alone keeps a batch in flight while one is processed).
pub(crate) fn channel_capacity(capacity: usize, channels: usize) -> usize {
    capacity.div_ceil(channels.max(1)).max(MIN_CHANNEL_CAPACITY)
}

/// The fewest batches an input channel's queue holds.
pub(crate) const MIN_CHANNEL_CAPACITY: usize = 2;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_executors_capacity_is_shared_out_among_its_channels() {
        assert_eq!(channel_capacity(16, 1), 16);
        assert_eq!(channel_capacity(16, 2), 8);
        assert_eq!(channel_capacity(16, 3), 6);
        // At least two each, however many channels; no channel: the whole.
        assert_eq!(channel_capacity(16, 32), MIN_CHANNEL_CAPACITY);
        assert_eq!(channel_capacity(1, 1), MIN_CHANNEL_CAPACITY);
        assert_eq!(channel_capacity(16, 0), 16);
    }

    #[test]
    fn spouts_learn_of_each_lost_acker_once() {
        let p = Placement::worker(0, vec![vec![0, 1]], vec![0, 1, 2, 1]);
        let (mut a, mut b) = (0, 0);
        assert!(p.lost_ackers_since(&mut a).is_empty());
        p.record_loss(1);
        assert_eq!(p.lost_ackers_since(&mut a), [1, 3]);
        assert!(p.lost_ackers_since(&mut a).is_empty(), "once per loss");
        p.record_loss(2);
        assert_eq!(p.lost_ackers_since(&mut a), [2]);
        // Another executor, reading later, sees both losses.
        assert_eq!(p.lost_ackers_since(&mut b), [1, 2, 3]);
    }
}
