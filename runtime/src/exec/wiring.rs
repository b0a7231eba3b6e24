//! Wiring: what a task is given to find its consumers' queues while it is being built.

use super::metrics::Metrics;
use crate::ack::{AckOutbox, AckerMsg, Clock};
use crate::api::{TaskContext, TaskId};
use crate::topology::{Guarantee, TopologyDesc};
use crate::transport::{TaskSender, Upstream};
use std::any::Any;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

/// The senders of every bolt-headed chain's tasks, by head component id, type-erased.
#[derive(Default)]
pub struct Registry {
    senders: HashMap<usize, Arc<dyn Any + Send + Sync>>,
}

/// The senders to a bolt chain's tasks: per task index, one per input channel (sorted by
/// producer).
#[derive(Debug)]
pub(crate) struct ChannelSenders<T> {
    by_task: Vec<Vec<(Upstream, TaskSender<T>)>>,
}

impl<T> ChannelSenders<T> {
    /// Per task index, its channels' senders.
    pub(crate) fn new(mut by_task: Vec<Vec<(Upstream, TaskSender<T>)>>) -> Self {
        for t in &mut by_task {
            t.sort_by_key(|(u, _)| *u);
        }
        ChannelSenders { by_task }
    }

    /// Per task index, the sender of producer `from`'s channel into it, if `from` feeds
    /// the chain.
    pub(crate) fn of(&self, from: Upstream) -> Option<Vec<TaskSender<T>>> {
        self.by_task
            .iter()
            .map(|t| {
                t.binary_search_by_key(&from, |(u, _)| *u)
                    .ok()
                    .map(|i| t[i].1.clone())
            })
            .collect()
    }
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("components", &self.senders.keys())
            .finish()
    }
}

impl Registry {
    /// Registers the senders of a component's tasks (indexed by task index).
    pub(crate) fn insert<T: Send + 'static>(
        &mut self,
        component: usize,
        senders: Vec<TaskSender<T>>,
    ) {
        self.senders.insert(component, Arc::new(senders));
    }

    /// Registers the senders of a bolt chain's input channels.
    pub(crate) fn insert_channels<T: Send + 'static>(
        &mut self,
        component: usize,
        senders: ChannelSenders<T>,
    ) {
        self.senders.insert(component, Arc::new(senders));
    }

    /// Per task index of `component`, the sender of `from`'s channel into it.
    pub(crate) fn channel_senders<T: Send + 'static>(
        &self,
        component: usize,
        from: Upstream,
    ) -> Vec<TaskSender<T>> {
        let any = self.senders.get(&component).unwrap_or_else(|| {
            panic!("gale: no input queue for component {component} (a codegen bug)")
        });
        any.downcast_ref::<ChannelSenders<T>>()
            .unwrap_or_else(|| {
                panic!(
                    "gale: input channels of component {component} have another type (a codegen bug)"
                )
            })
            .of(from)
            .unwrap_or_else(|| {
                panic!("gale: {from:?} is not an input channel of component {component} (a plan bug)")
            })
    }

    pub(crate) fn get<T: Send + 'static>(&self, component: usize) -> Vec<TaskSender<T>> {
        let any = self.senders.get(&component).unwrap_or_else(|| {
            panic!("gale: no input queue for component {component} (a codegen bug)")
        });
        any.downcast_ref::<Vec<TaskSender<T>>>()
            .unwrap_or_else(|| {
                panic!(
                    "gale: input queue of component {component} has another type (a codegen bug)"
                )
            })
            .clone()
    }
}

/// Handed to a chain factory while one task of the chain is built.
#[derive(Debug)]
pub struct Wiring {
    pub(crate) desc: &'static TopologyDesc,
    pub(crate) registry: Arc<Registry>,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) stop: Arc<AtomicBool>,
    /// The task's index within its chain (equal for every member).
    pub(crate) task_index: u32,
    /// The time acking sees.
    pub(crate) clock: Clock,
    /// Which worker runs each executor.
    pub(crate) placement: Arc<super::placement::Placement>,
    /// Checkpoints (`exactly_once` with a checkpoint directory): `None` takes none.
    pub(crate) checkpoints: Option<Arc<super::checkpointing::Checkpointing>>,
}

impl Wiring {
    /// The topology's description.
    pub fn desc(&self) -> &'static TopologyDesc {
        self.desc
    }

    /// The senders to every task of `component` (which must head a chain whose input is
    /// a merged lane: a spout's replies), by task index.
    pub fn senders<T: Send + 'static>(&self, component: usize) -> Vec<TaskSender<T>> {
        self.registry.get(component)
    }

    /// The senders of input channel `from` to every task of bolt `component` (which must
    /// head a chain), by task index.
    pub fn channel_senders<T: Send + 'static>(
        &self,
        component: usize,
        from: Upstream,
    ) -> Vec<TaskSender<T>> {
        self.registry.channel_senders(component, from)
    }

    /// The id of this task's member in `component`.
    pub fn task_id(&self, component: usize) -> TaskId {
        self.desc.components[component].first_task + self.task_index
    }

    /// The context given to `component`'s `open`/`prepare`.
    pub fn context(&self, component: usize) -> TaskContext {
        TaskContext::new(self.desc, component, self.task_id(component))
    }

    /// Tuples per transfer batch.
    pub fn batch_size(&self) -> usize {
        self.desc.settings.batch_size.max(1) as usize
    }

    /// The run's counters.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// True when tuple trees are tracked: `guarantee = at_least_once` and at least one
    /// acker.
    pub fn tracking(&self) -> bool {
        tracking(self.desc)
    }

    /// The clock timeouts and latencies are measured with.
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// An outbox to the acker tasks, when tuple trees are tracked.
    pub fn acker_outbox(&self) -> Option<AckOutbox> {
        if !self.tracking() {
            return None;
        }
        let senders = self.registry.get::<AckerMsg>(acker_key(self.desc));
        Some(AckOutbox::new(senders, self.batch_size()))
    }

    /// Which target task indexes of `component` run in this worker (all, in local mode).
    pub fn local_tasks(&self, component: usize) -> Vec<usize> {
        self.placement.local_tasks(self.desc, component)
    }
}

/// The number of acker tasks: the `ackers` setting, else one (per worker).
pub fn ackers(desc: &TopologyDesc) -> u32 {
    desc.settings
        .ackers
        .map_or(1, |n| n.min(u64::from(u32::MAX)) as u32)
}

/// True when the topology tracks tuple trees: `at_least_once` with at least one acker.
pub fn tracking(desc: &TopologyDesc) -> bool {
    desc.settings.guarantee == Guarantee::AtLeastOnce && ackers(desc) > 0
}

/// The registry key of the acker tasks' inboxes (past every component id).
pub(crate) fn acker_key(desc: &TopologyDesc) -> usize {
    desc.components.len()
}

/// The id of the first acker task (after every component's tasks).
pub fn first_acker_task(desc: &TopologyDesc) -> TaskId {
    desc.task_count() + 1
}

impl Wiring {
    /// A run-wide wiring (task index 0) for the local runner.
    pub(crate) fn base(
        desc: &'static TopologyDesc,
        registry: Arc<Registry>,
        metrics: Arc<Metrics>,
        stop: Arc<AtomicBool>,
        clock: Clock,
        placement: Arc<super::placement::Placement>,
    ) -> Self {
        Wiring {
            desc,
            registry,
            metrics,
            stop,
            task_index: 0,
            clock,
            placement,
            checkpoints: None,
        }
    }

    /// The same wiring for task `task_index` of a chain.
    pub(crate) fn for_task(&self, task_index: u32) -> Wiring {
        Wiring {
            desc: self.desc,
            registry: self.registry.clone(),
            metrics: self.metrics.clone(),
            stop: self.stop.clone(),
            task_index,
            clock: self.clock.clone(),
            placement: self.placement.clone(),
            checkpoints: self.checkpoints.clone(),
        }
    }
}
