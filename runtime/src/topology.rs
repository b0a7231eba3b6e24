//! A topology as the runtime sees it: a static description (the physical plan the compiler
//! computed, as data) plus, per fused chain, a factory that builds one task of the chain.
//!
//! Generated code builds a [`Topology`] with [`Topology::new`], [`Topology::spout_chain`] and
//! [`Topology::bolt_chain`]; the local runner (and, later, a worker) instantiates the tasks
//! it is assigned.

use crate::exec::chain::{BoltRunner, SpoutRunner};
use crate::exec::wiring::Wiring;
use std::sync::Arc;

/// A value from a topology's `config { ... }` block.
#[derive(Debug, Clone, PartialEq)]
pub enum ConfigValue {
    /// An integer.
    Int(u64),
    /// A float.
    Float(f64),
    /// A boolean.
    Bool(bool),
    /// A string.
    Str(&'static str),
    /// A duration, in milliseconds.
    DurationMs(u64),
    /// A bare word (`at_least_once`).
    Word(&'static str),
}

/// Spout or bolt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A source.
    Spout,
    /// A processing step.
    Bolt,
}

/// The processing guarantee.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Guarantee {
    /// No tracking.
    AtMostOnce,
    /// Storm's acking.
    AtLeastOnce,
    /// Flink's checkpoints.
    ExactlyOnce,
}

/// Settings the runtime itself reads from the config block.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// Processing guarantee.
    pub guarantee: Guarantee,
    /// Tuple-tree timeout in milliseconds.
    pub message_timeout_ms: u64,
    /// Bound on tuples in flight per spout task (None: unbounded).
    pub max_spout_pending: Option<u64>,
    /// Number of acker tasks (None: one; 0: spout tuples are acked as they are emitted).
    pub ackers: Option<u64>,
    /// Number of worker processes on a cluster.
    pub workers: u64,
    /// Tuples per transfer batch.
    pub batch_size: u64,
    /// Batches an executor's input holds before its producers block: shared out evenly
    /// among its input channels (one per producer task and edge), at least 2 each.
    pub queue_capacity: u64,
    /// The key groups of every keyed edge (`max_parallelism`): fixed, whatever the task
    /// counts, so keyed state moves between tasks by whole key groups.
    pub max_parallelism: u32,
    /// How checkpoints are taken (`checkpoint_interval`... under `exactly_once`; no
    /// interval otherwise).
    pub checkpoints: crate::checkpoint::CheckpointConfig,
    /// How a failed `exactly_once` run restarts from its last checkpoint
    /// (`restart_strategy`...).
    pub restart: crate::checkpoint::RestartStrategy,
}

/// One output stream of a component.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamDesc {
    /// Name (`default` for a single output).
    pub name: &'static str,
    /// Schema name.
    pub schema: &'static str,
    /// Declared direct.
    pub direct: bool,
}

/// One component (spout or bolt) of the plan.
#[derive(Debug, Clone, PartialEq)]
pub struct ComponentDesc {
    /// Name in the topology.
    pub name: &'static str,
    /// Spout or bolt.
    pub kind: Kind,
    /// What runs (`SplitWords`, `map(upper)`).
    pub operator: &'static str,
    /// Input schema (bolts).
    pub input: Option<&'static str>,
    /// Output streams.
    pub streams: &'static [StreamDesc],
    /// Executors.
    pub parallelism: u32,
    /// Tasks.
    pub tasks: u32,
    /// Id of its first task; its tasks are `first_task..first_task + tasks`.
    pub first_task: u32,
    /// The fused chain it belongs to.
    pub chain: usize,
    /// Line of its declaration in the `.topo` file.
    pub line: u32,
    /// A spout's retry policy (`attempts N backoff D`): the runtime replays failed tuples
    /// itself and sends a tuple that failed its last attempt to the spout's `failed` stream.
    pub retry: Option<RetryDesc>,
    /// `idle D` (with `timestamp(...)`, or inherited from the component whose time it
    /// carries): its output channels silent this long (ms) are left out of their
    /// consumers' watermark until they send again; 0: never.
    pub idle_ms: u64,
    /// The id of its state in checkpoints and savepoints (`uid "..."`, or its name).
    pub uid: &'static str,
    /// What its state is made of (empty: it keeps none), compared on a restore: a
    /// savepoint whose schema for this uid differs is refused.
    pub state_schema: &'static str,
}

/// A spout's retry policy, from `attempts N backoff D` in the `.topo` file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryDesc {
    /// Attempts in all, the first emit included (at least 1).
    pub attempts: u32,
    /// Wait before the first replay, in milliseconds; it doubles before each later one.
    pub backoff_ms: u64,
    /// Index of the spout's `failed` stream in [`ComponentDesc::streams`].
    pub failed_stream: usize,
}

/// A fused chain: components joined one-to-one with equal parallelism, run as one task.
#[derive(Debug, Clone, PartialEq)]
pub struct ChainDesc {
    /// Member component ids, head first.
    pub components: &'static [usize],
    /// Executors.
    pub parallelism: u32,
    /// Tasks.
    pub tasks: u32,
}

/// An edge of the plan.
#[derive(Debug, Clone, PartialEq)]
pub struct EdgeDesc {
    /// Producer component id.
    pub from: usize,
    /// Producer stream index.
    pub stream: usize,
    /// Consumer component id.
    pub to: usize,
    /// Grouping keyword (`fields`).
    pub grouping: &'static str,
    /// Grouping argument as written (`word`, a custom grouping's path), or empty.
    pub detail: &'static str,
    /// True when the edge is inside a fused chain (a direct call, no queue).
    pub fused: bool,
}

/// The whole static description of a compiled topology.
#[derive(Debug, Clone, PartialEq)]
pub struct TopologyDesc {
    /// Topology name.
    pub name: &'static str,
    /// The `.topo` file it came from.
    pub source: &'static str,
    /// Components, by id.
    pub components: &'static [ComponentDesc],
    /// Fused chains, by id.
    pub chains: &'static [ChainDesc],
    /// Edges.
    pub edges: &'static [EdgeDesc],
    /// Runtime settings.
    pub settings: Settings,
    /// Every config entry as written.
    pub config: &'static [(&'static str, ConfigValue)],
}

impl TopologyDesc {
    /// Total number of tasks.
    pub fn task_count(&self) -> u32 {
        self.components.iter().map(|c| c.tasks).sum()
    }

    /// The component owning a task id.
    pub fn component_of_task(&self, task: u32) -> Option<usize> {
        self.components
            .iter()
            .position(|c| task >= c.first_task && task < c.first_task + c.tasks)
    }
}

static OVERRIDES: std::sync::OnceLock<Vec<(&'static str, ConfigValue)>> =
    std::sync::OnceLock::new();

/// Overrides config entries for this process (the CLI's `run --set key=value`); only the
/// first call has an effect. Components see the override through
/// [`TaskContext::config`](crate::TaskContext::config).
pub fn set_config_overrides(entries: Vec<(&'static str, ConfigValue)>) {
    let _ = OVERRIDES.set(entries);
}

/// The value of config `key`: an override if one was set, else the `.topo` file's.
pub fn config_value(desc: &TopologyDesc, key: &str) -> Option<&'static ConfigValue> {
    OVERRIDES
        .get()
        .and_then(|o| o.iter().find(|(k, _)| *k == key))
        .or_else(|| desc.config.iter().find(|(k, _)| *k == key))
        .map(|(_, v)| v)
}

impl ConfigValue {
    /// Parses a command-line value: an integer, a float, `true`/`false`, a duration
    /// (`30s`), or else a string.
    pub fn parse(text: &str) -> ConfigValue {
        if let Ok(n) = text.parse::<u64>() {
            ConfigValue::Int(n)
        } else if let Ok(f) = text.parse::<f64>() {
            ConfigValue::Float(f)
        } else if text == "true" || text == "false" {
            ConfigValue::Bool(text == "true")
        } else if let Ok(d) = crate::cli::parse_duration(text) {
            ConfigValue::DurationMs(d.as_millis() as u64)
        } else {
            ConfigValue::Str(Box::leak(text.to_string().into_boxed_str()))
        }
    }
}

pub(crate) type SpoutFactory = Arc<dyn Fn(&Wiring) -> Box<dyn SpoutRunner> + Send + Sync>;

/// A chain whose head is a bolt, typed by its input; type-erased for the runner.
pub(crate) trait BoltChainSpec: Send + Sync {
    /// Creates the chain's input queues and registers their senders.
    fn make_inboxes(
        &self,
        desc: &'static TopologyDesc,
        registry: &mut crate::exec::wiring::Registry,
        chain: usize,
        placement: &crate::exec::placement::Placement,
    );
    /// Runs one executor of the chain on the current thread until its input ends.
    fn run_executor(&self, base: &Wiring, chain: usize, executor: u32);
}

pub(crate) enum ChainSpec {
    Spout(SpoutFactory),
    Bolt(Arc<dyn BoltChainSpec>),
}

/// A compiled topology: its description and how to build each chain's tasks.
pub struct Topology {
    pub(crate) desc: &'static TopologyDesc,
    pub(crate) chains: Vec<Option<ChainSpec>>,
}

impl std::fmt::Debug for Topology {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Topology")
            .field("desc", &self.desc)
            .finish()
    }
}

impl Topology {
    /// A topology with no chain factories yet (generated code adds one per chain).
    pub fn new(desc: &'static TopologyDesc) -> Self {
        Topology {
            desc,
            chains: desc.chains.iter().map(|_| None).collect(),
        }
    }

    /// The static description.
    pub fn desc(&self) -> &'static TopologyDesc {
        self.desc
    }

    /// Registers the factory of a chain headed by a spout.
    pub fn spout_chain<F, R>(&mut self, chain: usize, factory: F)
    where
        F: Fn(&Wiring) -> R + Send + Sync + 'static,
        R: SpoutRunner + 'static,
    {
        self.chains[chain] = Some(ChainSpec::Spout(Arc::new(move |w: &Wiring| {
            Box::new(factory(w)) as Box<dyn SpoutRunner>
        })));
    }

    /// Registers the factory of a chain headed by a bolt taking `In`.
    pub fn bolt_chain<In, F, R>(&mut self, chain: usize, factory: F)
    where
        In: crate::codec::Codec + Send + 'static,
        F: Fn(&Wiring) -> R + Send + Sync + 'static,
        R: BoltRunner<In> + 'static,
    {
        let build = move |w: &Wiring| Box::new(factory(w)) as Box<dyn BoltRunner<In>>;
        self.chains[chain] = Some(ChainSpec::Bolt(Arc::new(
            crate::exec::bolt_executor::TypedBoltChain::new(build),
        )));
    }
}
