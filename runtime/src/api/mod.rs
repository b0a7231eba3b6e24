//! The API a user implements: spouts, bolts, the emitter they write to, the context they
//! are given, and custom groupings.

mod bolt;
mod context;
mod emitter;
mod grouping;
pub mod process;
mod sink;
mod spout;
mod state;
pub(crate) mod typed;

pub use bolt::{Bolt, ExecResult, Fail, SnapshotStep};
pub use context::{TaskContext, TaskId};
pub use emitter::Emitter;
pub use grouping::CustomGrouping;
pub use process::ProcessBolt;
pub use sink::TransactionalSink;
pub use spout::{Spout, SpoutStatus};
pub use state::{FINAL_SNAPSHOT, TaskState};
