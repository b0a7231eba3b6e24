//! Process functions (Flink's `KeyedProcessFunction`): bolts with keyed state.
//!
//! In a `.topo` file, `bolt count = process(CountWords)(Word) -> Count` runs a
//! [`ProcessBolt`]. Fed by `fields(...)` edges (all by the same fields), it is **keyed**:
//! its `Key` is the field's type (a tuple of the types for several fields; a float field as
//! its bits, `u32` or `u64`), and every tuple is processed with its key's state
//! ([`KeyedContext::state`]). Fed otherwise, its `Key` must be `()`: one state per task.
//!
//! ```
//! use gale::{Emitter, ExecResult, ProcessBolt};
//! use gale::state::{KeyedContext, OpenContext, StateError, ValueState};
//!
//! #[derive(Default)]
//! struct CountWords {
//!     count: ValueState<u64>,
//! }
//!
//! impl ProcessBolt for CountWords {
//!     type Key = String;
//!     type In = String;
//!     type Out = (String, u64);
//!
//!     fn open(&mut self, ctx: &mut OpenContext<'_, String>) -> Result<(), StateError> {
//!         self.count = ctx.value_state("count")?;
//!         Ok(())
//!     }
//!
//!     fn process(
//!         &mut self,
//!         word: String,
//!         ctx: &mut KeyedContext<'_, String>,
//!         out: &mut impl Emitter<(String, u64)>,
//!     ) -> ExecResult {
//!         let mut count = ctx.state(&self.count);
//!         let n = count.get().copied().unwrap_or(0) + 1;
//!         count.set(n);
//!         out.emit((word, n));
//!         Ok(())
//!     }
//! }
//! ```

use super::{Emitter, ExecResult};
use crate::state::{Key, KeyedContext, OpenContext, StateError};

/// A bolt with keyed state (see the [module](self) docs).
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a process function: it does not implement `gale::ProcessBolt`",
    label = "a process function is expected here",
    note = "`process({Self})` in a `.topo` file runs a `gale::ProcessBolt`; a plain `gale::Bolt` is written without `process(...)`"
)]
pub trait ProcessBolt: Send + 'static {
    /// The key its input is keyed by (`()` when it is not keyed).
    type Key: Key;
    /// The input schema.
    type In;
    /// What it emits (`()` for a sink).
    type Out;

    /// Called once on the executor thread before the first tuple: declares the state.
    fn open(&mut self, ctx: &mut OpenContext<'_, Self::Key>) -> Result<(), StateError> {
        let _ = ctx;
        Ok(())
    }

    /// Processes one tuple with its key's state.
    fn process(
        &mut self,
        input: Self::In,
        ctx: &mut KeyedContext<'_, Self::Key>,
        out: &mut impl Emitter<Self::Out>,
    ) -> ExecResult;

    /// An event-time timer this key registered (`ctx.register_event_time_timer(ts)`) is
    /// due: the watermark reached `timestamp` (or the input ended). `ctx` is scoped to the
    /// timer's key.
    fn on_timer(
        &mut self,
        timestamp: u64,
        ctx: &mut KeyedContext<'_, Self::Key>,
        out: &mut impl Emitter<Self::Out>,
    ) -> ExecResult {
        let _ = (timestamp, ctx, out);
        Ok(())
    }

    /// A processing-time timer this key registered
    /// (`ctx.register_processing_time_timer(ts)`) is due: the wall clock reached
    /// `timestamp`. `ctx` is scoped to the timer's key.
    fn on_processing_timer(
        &mut self,
        timestamp: u64,
        ctx: &mut KeyedContext<'_, Self::Key>,
        out: &mut impl Emitter<Self::Out>,
    ) -> ExecResult {
        let _ = (timestamp, ctx, out);
        Ok(())
    }

    /// Called once when every upstream task has finished (finite inputs), after the last
    /// event-time timers fired (processing-time timers not yet due do not fire).
    fn finish(&mut self, out: &mut impl Emitter<Self::Out>) {
        let _ = out;
    }
}
