//! Windows, as Flink has them: tumbling, sliding, session and count windows, on event time
//! or processing time, with incremental aggregation, allowed lateness and a late side
//! output.
//!
//! [`WindowOperator`] is pure: it is given elements (with their key and timestamp) and the
//! advance of time (a watermark, or the processing-time clock), and returns the results it
//! fires; the executor feeds it and emits them. Its state is kept by key group, like
//! [`crate::state`], so it can be snapshotted and moved one key group at a time.
//!
//! Semantics (Flink's `EventTimeTrigger` with allowed lateness):
//!
//! - A window `[start, end)` fires once time reaches its last millisecond (`end - 1`): the
//!   watermark is at least `end - 1`.
//! - An element is **late** when every window it belongs to has `end - 1 + allowed_lateness
//!   <= watermark`; it goes to the late side output, never into a window.
//! - An element within the lateness joins its window, which fires again at once with the
//!   updated result. A window's state is dropped once time reaches `end - 1 + lateness`.
//! - Session windows (per key) merge when they overlap (elements less than the gap apart;
//!   exactly a gap apart is two sessions); count windows fire every
//!   `n` elements of a key and ignore time.

mod aggregates;
mod assigner;
mod operator;
mod output;
#[cfg(test)]
mod tests;
mod watermarks;

pub use aggregates::{
    AvgAgg, CountAgg, ExtremeAgg, Field, MaxAgg, MinAgg, ReduceAgg, SumAgg, Summable,
};
pub use assigner::{Assigner, Window};
pub use operator::{Fired, WindowOperator};
pub use output::{CollectAgg, Timestamp, WindowFunction, WindowOutput};
pub use watermarks::{BoundedWatermarks, WatermarkGenerator};
