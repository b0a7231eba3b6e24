//! The API a user implements: spouts, bolts, the emitter they write to, the context they
//! are given, and custom groupings.

mod bolt;
mod context;
mod emitter;
mod grouping;
pub mod process;
mod spout;
pub(crate) mod typed;

pub use bolt::{Bolt, ExecResult, Fail};
pub use context::{TaskContext, TaskId};
pub use emitter::Emitter;
pub use grouping::CustomGrouping;
pub use process::ProcessBolt;
pub use spout::{Spout, SpoutStatus};
