//! # Gale
//!
//! A distributed stream processor: Storm's programming model (spouts, bolts, groupings,
//! guaranteed processing) and Flink's state model, with topologies compiled to ordinary,
//! statically typed Rust.
//!
//! A topology is written in a `.topo` file, compiled by `gale-compiler` from `build.rs`,
//! and pulled in with [`include_topology!`]; the bolts and spouts it names are Rust types
//! implementing [`Bolt`] and [`Spout`]. [`main`] gives the binary its command line
//! (`run`, `plan`).
//!
//! ```text
//! // build.rs
//! fn main() { gale_compiler::compile("topologies/wordcount.topo").unwrap_or_else(|e| panic!("{e}")); }
//!
//! // src/main.rs
//! gale::include_topology!("wordcount");
//! fn main() -> std::process::ExitCode { gale::main(wordcount::topology()) }
//! ```

pub mod ack;
pub mod api;
pub mod checkpoint;
pub mod cli;
pub mod cluster;
pub mod codec;
pub mod exec;
pub mod grouping;
pub mod io;
pub mod join;
pub mod logs;
pub mod ops;
pub mod rng;
pub mod state;
pub mod topology;
pub mod transport;
pub mod tuple;
pub mod web;
pub mod window;

pub use ack::{Anchor, Clock};
pub use api::{
    Bolt, CustomGrouping, Emitter, ExecResult, FINAL_SNAPSHOT, Fail, ProcessBolt, SnapshotStep,
    Spout, SpoutStatus, TaskContext, TaskId, TaskState, TransactionalSink,
};
pub use cli::{main, main_from};
pub use codec::{Codec, DecodeError};
pub use exec::checkpointing::TaskFailure;
pub use exec::local::{RunError, RunOptions, Summary, run_local};
pub use gale_macros::{Tuple, topology};
pub use grouping::{FastMap, FastSet, hash_key};
pub use topology::Topology;
pub use tuple::{Str, TextField, Tuple};

/// Pulls in the Rust module that `gale_compiler::compile` generated for a `.topo` file
/// (by the topology's name) from `OUT_DIR`. It defines `pub mod <name>` holding the tuple
/// structs and `pub fn topology() -> gale::Topology`.
#[macro_export]
macro_rules! include_topology {
    ($name:literal) => {
        include!(concat!(env!("OUT_DIR"), "/", $name, ".rs"));
    };
}

/// The paths generated code names; nothing else couples the compiler to the runtime.
/// Not part of the public API: it changes with the compiler.
#[doc(hidden)]
pub mod __private {
    pub use crate::ack::{Anchoring, TupleIds};
    pub use crate::api::typed::{MapEmitter, TypedBolt, TypedSpout};
    pub use crate::api::{Bolt, CustomGrouping, Emitter, Spout, TaskId};
    pub use crate::checkpoint::{CheckpointConfig, RestartStrategy};
    pub use crate::codec::{Codec, DecodeError};
    pub use crate::exec::chain::{
        Counted, Discard, Downstream, SpoutHead, Stage, Tee, Timestamped, WindowOutputs,
    };
    pub use crate::exec::wiring::Wiring;
    pub use crate::grouping::{
        All, Custom, Direct, Fields, Global, LocalOrShuffle, PartialKey, Router, Same, Shuffle,
        Variant, Wrap, hash_key,
    };
    pub use crate::io::{FileSink, FileSource};
    pub use crate::join::Side;
    pub use crate::ops::{
        ApplyFn, FilterOp, FlatMapOp, IntervalJoinOp, JoinAgg, JoinPairs, MapOp, ProcessOp,
        TransactionalOp, WindowOp,
    };
    pub use crate::topology::{
        ChainDesc, ComponentDesc, ConfigValue, EdgeDesc, Guarantee, Kind, RetryDesc, Settings,
        StreamDesc, Topology, TopologyDesc,
    };
    pub use crate::tuple::Str;
    pub use crate::tuple::{TextField, TextOf, Tuple, ViaDebug, ViaText, has_field};
    pub use crate::window::{
        Assigner, AvgAgg, BoundedWatermarks, CollectAgg, CountAgg, MaxAgg, MinAgg, ReduceAgg,
        SumAgg, Timestamp, Window,
    };

    /// Compiles only if `S` is a spout emitting `Out`.
    pub const fn assert_spout<S: Spout<Out = Out>, Out>() {}
    /// Compiles only if `B` is a bolt from `In` to `Out`.
    pub const fn assert_bolt<B: Bolt<In = In, Out = Out>, In, Out>() {}
    /// Compiles only if `T` is a tuple.
    pub const fn assert_tuple<T: Tuple>() {}
    /// Compiles only if `G` is a custom grouping over `T` that can be built with `Default`.
    pub const fn assert_custom_grouping<G: CustomGrouping<T> + Default, T>() {}
}
