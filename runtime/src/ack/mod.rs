//! Guaranteed message processing (`guarantee = at_least_once`): Storm's acking.
//!
//! A spout tuple emitted with a message id is the root of a *tuple tree*. Every tuple copy
//! that travels to a task carries, per root, a random 64-bit *edge id* ([`TupleIds`]). An
//! acker task keeps one XOR per root: the spout reports the XOR of the edges it created,
//! and every bolt, when it acks an input, reports the input's edge XORed with the edges of
//! the tuples it emitted anchored to it. Each edge is XORed in exactly twice (once when
//! created, once when acked), so the value is zero exactly when the whole tree has been
//! processed (up to a 2^-64 chance per tuple). Nothing here shares memory between tasks:
//! everything is a message between task ids, so it works unchanged across processes.
//!
//! - [`ids`]: what a tuple carries, and the [`Anchor`] a bolt holds to ack later.
//! - [`acker`]: the acker's pure state machine (property-tested).
//! - [`spout_tracker`]: a spout task's tuples in flight, timeouts and retries.
//! - [`outbox`]: batches a task's messages to the acker tasks.
//! - [`clock`], [`latency`]: time (controllable in tests), a latency histogram; ids come
//!   from [`crate::rng`].

pub mod acker;
pub mod clock;
pub mod ids;
pub mod latency;
pub mod outbox;
pub mod spout_tracker;

pub use crate::rng::Rng;
pub use acker::{AckerMsg, AckerState, Reply};
pub use clock::Clock;
pub use ids::{Anchor, Anchoring, TupleIds};
pub use latency::Histogram;
pub use outbox::AckOutbox;
pub use spout_tracker::{Outcome, RetryPolicy, SpoutTracker};
