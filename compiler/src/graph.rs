//! The typed logical graph: what the checker produces from an [`ast::File`](crate::ast::File)
//! once every name is resolved and every rule holds. The planner and codegen read only this.

use crate::ast::{ComponentKind, Operator, Span, Type};
use std::collections::BTreeMap;

/// A checked `.topo` file: its schemas and one checked topology.
#[derive(Debug, Clone, PartialEq)]
pub struct Graph {
    /// The topology's name (`wordcount`); the generated module's name.
    pub name: String,
    /// The `use` trees, verbatim (`crate::ops::{SplitWords, CountWords}`).
    pub uses: Vec<String>,
    /// Tuple schemas declared in the file.
    pub tuples: Vec<TupleSchema>,
    /// Stream sets declared in the file.
    pub stream_sets: Vec<StreamSet>,
    /// Typed configuration.
    pub config: Config,
    /// Components; a component's id is its index here.
    pub components: Vec<Node>,
    /// Edges, in declaration order.
    pub edges: Vec<GraphEdge>,
    /// The file's name as given to the compiler (for messages in generated assertions).
    pub file_name: String,
    /// The warnings the checker found (the file compiles; see `grammar/README.md`).
    pub warnings: crate::diagnostic::Diagnostics,
}

/// A declared tuple schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TupleSchema {
    /// Name (also the Rust struct's).
    pub name: String,
    /// Fields in order.
    pub fields: Vec<(String, Type)>,
}

/// A declared stream set (`streams Routed { ... }`), generated as an enum.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamSet {
    /// Name (also the Rust enum's).
    pub name: String,
    /// Streams in order.
    pub streams: Vec<OutStream>,
}

/// One output stream of a component.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutStream {
    /// Stream name (`default` for a single-tuple output).
    pub name: String,
    /// The schema's name (a declared tuple, or an imported Rust type deriving `gale::Tuple`).
    pub schema: String,
    /// Whether the stream is direct.
    pub direct: bool,
    /// The enum variant carrying it (`Alerts`) when the component's output is a stream set.
    pub variant: Option<String>,
}

/// Where a schema comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SchemaOrigin {
    /// Declared with `tuple` in the file: its fields are known.
    Declared,
    /// Imported by `use`: a Rust type that must derive `gale::Tuple` (checked by rustc).
    External,
}

/// A component (spout or bolt) after checking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// Its name in the topology.
    pub name: String,
    /// Spout or bolt.
    pub kind: ComponentKind,
    /// What runs.
    pub op: Operator,
    /// Input schema (bolts only).
    pub input: Option<String>,
    /// The Rust type of its output (`Word`, a stream-set enum such as `Routed`, or `None`
    /// for a sink whose `Out` is `()`).
    pub output_type: Option<String>,
    /// Its output streams (empty for a sink; one `default` stream for a single tuple),
    /// then, for a spout with a retry policy, its `failed` stream.
    pub outputs: Vec<OutStream>,
    /// A spout's retry policy (`attempts N backoff D`); `None` for bolts and for spouts
    /// that leave replays to their own `fail`.
    pub retry: Option<Retry>,
    /// `timestamp(field) watermark ...`: its output tuples' event time.
    pub event_time: Option<EventTime>,
    /// The event-time field of its input tuples, when every path upstream has one (the
    /// same field in every stream of an input stream set).
    pub input_time: Option<String>,
    /// The event-time field of each stream of its input stream set, when every path into
    /// that stream has one (one entry for a tuple input: `input_time`).
    pub input_times: Vec<Option<String>>,
    /// A window's `late` stream (after its output), and its allowed lateness in ms.
    pub late: Option<(usize, u64)>,
    /// `ttl D` on a keyed built-in: its keyed state's time to live, ms.
    pub state_ttl_ms: Option<u64>,
    /// The id of its state in checkpoints and savepoints: `uid "..."`, or its name.
    pub uid: String,
    /// Number of executors (threads).
    pub parallelism: u32,
    /// Number of tasks (>= parallelism).
    pub tasks: u32,
    /// 1-based line and column of the declaration, for generated assertions.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// The declaration's span.
    pub span: Span,
}

impl Node {
    /// The streams its output declares: every output stream but the `failed` stream of a
    /// retry policy.
    pub fn declared_outputs(&self) -> &[OutStream] {
        let end = self
            .retry
            .map(|r| r.failed_stream)
            .or(self.late.map(|l| l.0))
            .unwrap_or(self.outputs.len());
        self.outputs.get(..end).unwrap_or(&self.outputs)
    }

    /// Whether `stream` (an index into `outputs`) is the `failed` stream of a retry policy.
    pub fn is_failed_stream(&self, stream: usize) -> bool {
        self.retry.is_some_and(|r| r.failed_stream == stream)
    }
}

/// Where event time comes from: `timestamp(at) watermark bounded(5s) idle 30s`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventTime {
    /// The field of the output tuples holding the time (epoch ms).
    pub field: String,
    /// How watermarks follow the timestamps.
    pub watermark: WatermarkStrategy,
    /// Channels silent this long are idle (ms).
    pub idle_ms: Option<u64>,
}

/// A watermark strategy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WatermarkStrategy {
    /// `bounded(D)`: timestamps are at most `D` ms out of order.
    Bounded(u64),
    /// `monotonous`: timestamps never go back (`bounded(0ms)`).
    Monotonous,
    /// `custom(path)`: a user `gale::window::WatermarkGenerator`.
    Custom(String),
}

/// The name of a window's stream of late tuples.
pub const LATE_STREAM: &str = "late";

/// A spout's retry policy: `attempts 3 backoff 100ms`.
///
/// The runtime replays a failed or timed-out spout tuple itself, up to `attempts` emits in
/// all; a tuple whose last attempt fails is emitted, unanchored, on the `failed` stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retry {
    /// Attempts in all, the first emit included (at least 1).
    pub attempts: u32,
    /// The wait before the first replay, in milliseconds; it doubles for each later one.
    pub backoff_ms: u64,
    /// The index of the `failed` stream in the spout's `outputs` (after its own streams).
    pub failed_stream: usize,
}

/// The key groups of a keyed edge when `max_parallelism` is not set (Flink's default).
pub const DEFAULT_MAX_PARALLELISM: u64 = 128;

/// The checkpoint interval of an `exactly_once` topology that sets none (ms).
pub const DEFAULT_CHECKPOINT_INTERVAL_MS: u64 = 10_000;

/// The most key groups `max_parallelism` may ask for (Flink's bound, 2^15).
pub const MAX_MAX_PARALLELISM: u64 = 32_768;

/// The backoff of a retry policy written without `backoff`, in milliseconds.
pub const DEFAULT_BACKOFF_MS: u64 = 100;

/// The name of the stream a retry policy adds to its spout.
pub const FAILED_STREAM: &str = "failed";

/// An edge after checking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphEdge {
    /// Producer component id.
    pub from: usize,
    /// Index into the producer's `outputs`.
    pub stream: usize,
    /// Consumer component id.
    pub to: usize,
    /// The stream of the consumer's input stream set it feeds; `None` when it feeds the
    /// consumer's whole input (a tuple input, or a stream set sent whole, such as a join's
    /// `late` stream).
    pub input: Option<usize>,
    /// The grouping with fields resolved.
    pub grouping: Grouping,
    /// 1-based line of the edge, for generated assertions.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
}

impl GraphEdge {
    /// Whether it feeds stream `s` of its consumer's input (stream 0 of a tuple input).
    pub fn feeds(&self, s: usize) -> bool {
        self.input.is_none_or(|i| i == s)
    }
}

/// A resolved grouping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Grouping {
    /// Random, evenly spread.
    Shuffle,
    /// By the values of these fields (in order).
    Fields(Vec<String>),
    /// Every task gets every tuple.
    All,
    /// The lowest task id gets everything.
    Global,
    /// One-to-one forward (fusable).
    None,
    /// The emitter chooses the task.
    Direct,
    /// Same worker if possible.
    LocalOrShuffle,
    /// A Rust path to a `gale::CustomGrouping` type built with `Default`.
    Custom(String),
    /// Partial key grouping on these fields.
    PartialKey(Vec<String>),
}

impl Grouping {
    /// The keyword as written in `.topo`.
    pub fn keyword(&self) -> &'static str {
        match self {
            Grouping::Shuffle => "shuffle",
            Grouping::Fields(_) => "fields",
            Grouping::All => "all",
            Grouping::Global => "global",
            Grouping::None => "none",
            Grouping::Direct => "direct",
            Grouping::LocalOrShuffle => "local_or_shuffle",
            Grouping::Custom(_) => "custom",
            Grouping::PartialKey(_) => "partial_key",
        }
    }
}

/// The guarantee a topology runs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Guarantee {
    /// No tracking (the default).
    #[default]
    AtMostOnce,
    /// Storm's acking.
    AtLeastOnce,
    /// Flink's checkpoints.
    ExactlyOnce,
}

/// Typed topology configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// `guarantee = at_most_once | at_least_once | exactly_once`.
    pub guarantee: Guarantee,
    /// `message_timeout = 30s` (ms).
    pub message_timeout_ms: u64,
    /// `max_spout_pending = N` (None: unbounded).
    pub max_spout_pending: Option<u64>,
    /// `ackers = N` (None: the runtime's default, one acker; 0 acks every spout tuple as
    /// soon as it is emitted).
    pub ackers: Option<u64>,
    /// `workers = N`.
    pub workers: u64,
    /// `batch_size = N`: tuples per transfer batch.
    pub batch_size: Option<u64>,
    /// `queue_capacity = N`: batches a task's input queue holds.
    pub queue_capacity: Option<u64>,
    /// `max_parallelism = N`: the key groups of every keyed (`fields`) edge, fixed whatever
    /// the task count (Flink's `maxParallelism`; default [`DEFAULT_MAX_PARALLELISM`]).
    pub max_parallelism: u64,
    /// `checkpoint_interval = 10s` (ms; `exactly_once` only; default
    /// [`DEFAULT_CHECKPOINT_INTERVAL_MS`] under `exactly_once`).
    pub checkpoint_interval_ms: Option<u64>,
    /// `checkpoint_timeout = 10m` (ms): a checkpoint not complete by then is aborted.
    pub checkpoint_timeout_ms: u64,
    /// `max_concurrent_checkpoints = N`: periodic checkpoints in flight at once.
    pub max_concurrent_checkpoints: u64,
    /// `retained_checkpoints = N`: completed checkpoints kept.
    pub retained_checkpoints: u64,
    /// `restart_strategy = ...` and its `restart_*` settings (`exactly_once` only).
    pub restart: Restart,
    /// Every other entry, passed to components through `TaskContext::config`.
    pub extra: BTreeMap<String, crate::ast::ConfigValue>,
}

/// How a failed `exactly_once` topology restarts (`restart_strategy`, Flink's
/// `restart-strategy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RestartKind {
    /// `none`: the first failure stops it.
    None,
    /// `fixed_delay`: `restart_attempts` restarts, `restart_delay` apart.
    FixedDelay,
    /// `exponential_backoff` (the default): the wait doubles from `restart_delay` up to
    /// `restart_max_delay`; `restart_attempts` in all, if given.
    #[default]
    ExponentialBackoff,
    /// `failure_rate`: at most `restart_attempts` failures per `restart_failure_interval`.
    FailureRate,
}

impl RestartKind {
    /// Its word in a `.topo` file.
    pub fn word(self) -> &'static str {
        match self {
            RestartKind::None => "none",
            RestartKind::FixedDelay => "fixed_delay",
            RestartKind::ExponentialBackoff => "exponential_backoff",
            RestartKind::FailureRate => "failure_rate",
        }
    }
}

/// The restart settings as written (unset ones take the strategy's defaults).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Restart {
    /// `restart_strategy`.
    pub kind: RestartKind,
    /// `restart_attempts`.
    pub attempts: Option<u64>,
    /// `restart_delay` (ms).
    pub delay_ms: Option<u64>,
    /// `restart_max_delay` (ms).
    pub max_delay_ms: Option<u64>,
    /// `restart_failure_interval` (ms).
    pub failure_interval_ms: Option<u64>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            guarantee: Guarantee::AtMostOnce,
            message_timeout_ms: 30_000,
            max_spout_pending: None,
            ackers: None,
            workers: 1,
            batch_size: None,
            queue_capacity: None,
            max_parallelism: DEFAULT_MAX_PARALLELISM,
            checkpoint_interval_ms: None,
            checkpoint_timeout_ms: 600_000,
            max_concurrent_checkpoints: 1,
            retained_checkpoints: 1,
            restart: Restart::default(),
            extra: BTreeMap::new(),
        }
    }
}

impl Graph {
    /// The component id with this name.
    pub fn component_id(&self, name: &str) -> Option<usize> {
        self.components.iter().position(|c| c.name == name)
    }

    /// The declared schema with this name (None for external schemas).
    pub fn tuple(&self, name: &str) -> Option<&TupleSchema> {
        self.tuples.iter().find(|t| t.name == name)
    }

    /// The stream set component `id` consumes, if its input is one.
    pub fn input_set(&self, id: usize) -> Option<&StreamSet> {
        let input = self.components.get(id)?.input.as_deref()?;
        self.stream_sets.iter().find(|s| s.name == input)
    }

    /// Edges entering component `id`.
    pub fn inputs_of(&self, id: usize) -> impl Iterator<Item = &GraphEdge> {
        self.edges.iter().filter(move |e| e.to == id)
    }

    /// Edges leaving component `id`.
    pub fn outputs_of(&self, id: usize) -> impl Iterator<Item = &GraphEdge> {
        self.edges.iter().filter(move |e| e.from == id)
    }
}
