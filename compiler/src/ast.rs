//! The abstract syntax tree of a `.topo` file, exactly as written, with spans.
//!
//! The parser (`parse.rs`) builds it; the checker (`check.rs`) resolves names and turns it
//! into the typed logical graph of [`crate::graph`]. Nothing here is validated beyond syntax.

/// A byte range in the source text (`start..end`), used to point diagnostics at code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Span {
    /// Byte offset of the first character.
    pub start: usize,
    /// Byte offset one past the last character.
    pub end: usize,
}

impl Span {
    /// A span covering `start..end`.
    pub fn new(start: usize, end: usize) -> Self {
        Span { start, end }
    }
}

/// A name as written, with where it was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ident {
    /// The name.
    pub name: String,
    /// Where it appears.
    pub span: Span,
}

/// A Rust path as written (`crate::ops::SplitWords`, `upper`), kept verbatim for codegen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RustPath {
    /// The path text, segments joined by `::`, without whitespace.
    pub text: String,
    /// Where it appears.
    pub span: Span,
}

impl RustPath {
    /// The last segment: the name the path brings into scope (`SplitWords`).
    pub fn last_segment(&self) -> &str {
        self.text.rsplit("::").next().unwrap_or(&self.text)
    }
}

/// A whole `.topo` file.
#[derive(Debug, Clone, PartialEq)]
pub struct File {
    /// `use` declarations, in order.
    pub uses: Vec<Use>,
    /// `tuple` declarations, in order.
    pub tuples: Vec<TupleDecl>,
    /// `streams` declarations (named sets of output streams), in order.
    pub stream_sets: Vec<StreamSetDecl>,
    /// `topology` blocks, in order (usually one).
    pub topologies: Vec<Topology>,
}

/// `use crate::ops::{SplitWords, CountWords as Count};`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Use {
    /// The use tree verbatim, without `use` and `;` (`crate::ops::{SplitWords, CountWords as Count}`).
    pub tree: String,
    /// The names it brings into scope (`SplitWords`, `Count`), each with its span.
    pub imported: Vec<Ident>,
    /// The whole declaration.
    pub span: Span,
}

/// `tuple Word { word: String, count: u64 }`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TupleDecl {
    /// The schema's name; also the generated Rust struct's name.
    pub name: Ident,
    /// Its fields in order.
    pub fields: Vec<FieldDecl>,
    /// The whole declaration.
    pub span: Span,
}

/// One field of a tuple schema: `word: String`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldDecl {
    /// Field name.
    pub name: Ident,
    /// Field type.
    pub ty: Type,
}

/// A field type as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Type {
    /// What the type is.
    pub kind: TypeKind,
    /// Where it is written.
    pub span: Span,
}

/// The types a tuple field may have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TypeKind {
    /// `u8`, `u16`, `u32`, `u64`, `i8`, `i16`, `i32`, `i64`, `f32`, `f64`, `bool`.
    Prim(Prim),
    /// `String`.
    String,
    /// `Str`: a string of up to 24 bytes kept inline (`gale::Str`).
    Str,
    /// `bytes` (a `Vec<u8>`).
    Bytes,
    /// `Option<T>`.
    Option(Box<Type>),
    /// `Vec<T>`.
    Vec(Box<Type>),
    /// Another tuple: declared with `tuple`, or a Rust struct imported by `use` that
    /// derives `gale::Tuple`.
    Named(Ident),
}

impl std::fmt::Display for TypeKind {
    /// The `.topo` spelling (`Option<String>`).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TypeKind::Prim(p) => f.write_str(p.as_str()),
            TypeKind::String => f.write_str("String"),
            TypeKind::Str => f.write_str("Str"),
            TypeKind::Bytes => f.write_str("bytes"),
            TypeKind::Option(t) => write!(f, "Option<{}>", t.kind),
            TypeKind::Vec(t) => write!(f, "Vec<{}>", t.kind),
            TypeKind::Named(n) => f.write_str(&n.name),
        }
    }
}

/// Primitive scalar types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Prim {
    /// `u8`
    U8,
    /// `u16`
    U16,
    /// `u32`
    U32,
    /// `u64`
    U64,
    /// `i8`
    I8,
    /// `i16`
    I16,
    /// `i32`
    I32,
    /// `i64`
    I64,
    /// `f32`
    F32,
    /// `f64`
    F64,
    /// `bool`
    Bool,
}

impl Prim {
    /// The Rust spelling (`u64`).
    pub fn as_str(self) -> &'static str {
        match self {
            Prim::U8 => "u8",
            Prim::U16 => "u16",
            Prim::U32 => "u32",
            Prim::U64 => "u64",
            Prim::I8 => "i8",
            Prim::I16 => "i16",
            Prim::I32 => "i32",
            Prim::I64 => "i64",
            Prim::F32 => "f32",
            Prim::F64 => "f64",
            Prim::Bool => "bool",
        }
    }
}

/// `streams Routed { normal: Event, alerts: direct Alert }`: a named set of output streams.
/// A component whose output is a stream set emits values of a generated enum with one
/// variant per stream (`Routed::Normal(Event)`, `Routed::Alerts(Alert)`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamSetDecl {
    /// The set's name; also the generated enum's name.
    pub name: Ident,
    /// The streams, in order.
    pub streams: Vec<StreamDecl>,
    /// The whole declaration.
    pub span: Span,
}

/// One stream of a stream set: `alerts: direct Alert`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamDecl {
    /// The stream's name (`alerts`).
    pub name: Ident,
    /// Whether the stream is direct (consumers subscribe with the `direct` grouping and the
    /// emitter names the receiving task).
    pub direct: bool,
    /// The schema it carries.
    pub ty: Ident,
}

/// `topology wordcount { config {...} spout ... bolt ... edges }`
#[derive(Debug, Clone, PartialEq)]
pub struct Topology {
    /// The topology's name; also the generated module's name.
    pub name: Ident,
    /// The `config { ... }` blocks (normally zero or one).
    pub configs: Vec<ConfigBlock>,
    /// Spouts and bolts, in order.
    pub components: Vec<Component>,
    /// Edges, in order.
    pub edges: Vec<Edge>,
    /// The whole block.
    pub span: Span,
}

/// `config { guarantee = at_least_once, message_timeout = 30s, workers = 2 }`
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigBlock {
    /// Entries in order.
    pub entries: Vec<ConfigEntry>,
    /// The whole block.
    pub span: Span,
}

/// `key = value`
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigEntry {
    /// The key.
    pub key: Ident,
    /// The value.
    pub value: ConfigValue,
    /// Where the value is written.
    pub value_span: Span,
}

/// A configuration value.
#[derive(Debug, Clone, PartialEq)]
pub enum ConfigValue {
    /// `42`
    Int(u64),
    /// `0.5`
    Float(f64),
    /// `true` / `false`
    Bool(bool),
    /// `"text"` (escapes resolved)
    Str(String),
    /// `30s`, `250ms`, `5m`, `1h`, in milliseconds.
    DurationMs(u64),
    /// A bare word such as `at_least_once`.
    Word(String),
}

/// Whether a component is a spout or a bolt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ComponentKind {
    /// A source: no input, emits tuples.
    Spout,
    /// A processing step: one input schema, zero or more outputs.
    Bolt,
}

/// `bolt split = SplitWords(Sentence) -> Word parallelism 4 tasks 8`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Component {
    /// Spout or bolt.
    pub kind: ComponentKind,
    /// The component's name in the topology.
    pub name: Ident,
    /// What runs: a user Rust type or a built-in operator.
    pub op: Operator,
    /// The input schema written in parentheses; `None` for `()` or no parentheses.
    pub input: Option<Ident>,
    /// The output after `->`; `None` for a sink.
    pub output: Option<Output>,
    /// `parallelism N` (executors); defaults to 1.
    pub parallelism: Option<Count>,
    /// `tasks M`; defaults to the parallelism.
    pub tasks: Option<Count>,
    /// `attempts N` (spouts only): replay a failed tuple up to N attempts in all, then emit
    /// it on the spout's `failed` stream.
    pub attempts: Option<Clause>,
    /// `backoff D` (spouts with `attempts` only): the wait before the first replay, in
    /// milliseconds.
    pub backoff: Option<Clause>,
    /// `timestamp(field)`: its output tuples' event time is this field.
    pub timestamp: Option<Ident>,
    /// `watermark bounded(5s)`, `watermark monotonous`, `watermark custom(path)`.
    pub watermark: Option<Watermark>,
    /// `idle D`: its output channels are idle after this long without a tuple (ms).
    pub idle: Option<Clause>,
    /// `lateness D` (windows): the allowed lateness (ms).
    pub lateness: Option<Clause>,
    /// `ttl D` (`process`, windows, joins): a key's state lives this long after its last
    /// write (ms of processing time).
    pub ttl: Option<Clause>,
    /// `idempotent` (a sink of an `exactly_once` topology): writing a tuple twice does no
    /// harm, so it needs no transactions.
    pub idempotent: Option<Span>,
    /// `uid "..."`: the id of its state in checkpoints and savepoints (default: its name),
    /// and where it is written.
    pub uid: Option<(String, Span)>,
    /// The whole declaration.
    pub span: Span,
}

/// A number with its span (`parallelism 4`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Count {
    /// The value as written.
    pub value: u64,
    /// Where the number is.
    pub span: Span,
}

/// A component clause with its value: `attempts 3`, or `backoff 100ms` (the value in
/// milliseconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Clause {
    /// The value, with the span of the number or duration.
    pub value: Count,
    /// The whole clause, keyword included.
    pub span: Span,
}

/// A watermark strategy as written: `watermark bounded(5s)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Watermark {
    /// The strategy (`bounded(5s)`, `monotonous`, `custom(path)`).
    pub strategy: OpArg,
    /// The whole clause.
    pub span: Span,
}

/// What a component runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operator {
    /// A Rust type implementing `gale::Spout` or `gale::Bolt`, built with `Default`.
    User(RustPath),
    /// A built-in operator (`map(f)`, `filter(f)`, `flat_map(f)`...): what each one takes
    /// and builds is in its own file under `compiler/src/ops/`.
    Builtin(BuiltinCall),
}

impl Operator {
    /// The operator as written: a Rust path, or a built-in call.
    pub fn text(&self) -> &str {
        match self {
            Operator::User(p) => &p.text,
            Operator::Builtin(b) => &b.text,
        }
    }

    /// Where the operator is.
    pub fn span(&self) -> Span {
        match self {
            Operator::User(p) => p.span,
            Operator::Builtin(b) => b.span,
        }
    }
}

/// A call of a built-in operator, or of a function inside one's arguments:
/// `map(crate::upper)`, `tumbling(10s, count)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuiltinCall {
    /// The operator's keyword.
    pub name: Ident,
    /// Its arguments, in order.
    pub args: Vec<OpArg>,
    /// The call as written.
    pub text: String,
    /// The whole call.
    pub span: Span,
}

/// One argument of a built-in call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpArg {
    /// A Rust path or a field name: `crate::ops::upper`, `amount`.
    Path(RustPath),
    /// A duration, in milliseconds.
    Duration(Count),
    /// A negative duration (`-2s`): its magnitude, in milliseconds.
    NegDuration(Count),
    /// A number.
    Int(Count),
    /// A nested call: `sum(amount)`.
    Call(BuiltinCall),
    /// A string: `"data/lines.txt"` (its escapes resolved).
    Str {
        /// Its text.
        value: String,
        /// Where it is, quotes included.
        span: Span,
    },
}

impl OpArg {
    /// Where the argument is.
    pub fn span(&self) -> Span {
        match self {
            OpArg::Path(p) => p.span,
            OpArg::Duration(c) | OpArg::NegDuration(c) | OpArg::Int(c) => c.span,
            OpArg::Call(c) => c.span,
            OpArg::Str { span, .. } => *span,
        }
    }

    /// What kind of argument it is, for messages.
    pub fn kind(&self) -> &'static str {
        match self {
            OpArg::Path(_) => "a path",
            OpArg::Duration(_) => "a duration",
            OpArg::NegDuration(_) => "a negative duration",
            OpArg::Int(_) => "a number",
            OpArg::Call(_) => "a call",
            OpArg::Str { .. } => "a string",
        }
    }
}

/// `-> Word`, `-> direct Word` or `-> Routed` (a stream set).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    /// A tuple name or a stream-set name.
    pub ty: Ident,
    /// `direct` written before the type (only meaningful for a single tuple output).
    pub direct: bool,
    /// The whole output clause.
    pub span: Span,
}

/// `split.words -> count : fields(word)`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edge {
    /// The producing component.
    pub from: Ident,
    /// The stream of `from` (`None`: its only/default stream).
    pub stream: Option<Ident>,
    /// The consuming component.
    pub to: Ident,
    /// The stream of `to`'s input stream set this edge feeds (`pay.orders`), if named.
    pub input: Option<Ident>,
    /// How tuples are spread over the consumer's tasks; `shuffle` when omitted.
    pub grouping: Grouping,
    /// The whole edge.
    pub span: Span,
}

/// A grouping as written, with its span.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grouping {
    /// Which grouping.
    pub kind: GroupingKind,
    /// Where it is written (the `shuffle` keyword span when omitted is the edge's span).
    pub span: Span,
}

/// Storm's stream groupings, plus `partial_key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupingKind {
    /// Random, evenly spread.
    Shuffle,
    /// Equal values of these fields always reach the same task.
    Fields(Vec<Ident>),
    /// Every task receives every tuple.
    All,
    /// The whole stream goes to the consumer's lowest task id.
    Global,
    /// One-to-one forward; fused into one task when the parallelism matches.
    None,
    /// The emitter names the receiving task (`emit_direct`).
    Direct,
    /// A task in the same worker if there is one, else shuffle.
    LocalOrShuffle,
    /// The user's `gale::CustomGrouping` implementation.
    Custom(RustPath),
    /// Partial key grouping: the less loaded of two candidate tasks for the key.
    PartialKey(Vec<Ident>),
}

impl GroupingKind {
    /// The keyword (`fields`).
    pub fn keyword(&self) -> &'static str {
        match self {
            GroupingKind::Shuffle => "shuffle",
            GroupingKind::Fields(_) => "fields",
            GroupingKind::All => "all",
            GroupingKind::Global => "global",
            GroupingKind::None => "none",
            GroupingKind::Direct => "direct",
            GroupingKind::LocalOrShuffle => "local_or_shuffle",
            GroupingKind::Custom(_) => "custom",
            GroupingKind::PartialKey(_) => "partial_key",
        }
    }
}
