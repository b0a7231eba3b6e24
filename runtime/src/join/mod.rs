//! Keyed joins of two streams on event time, as Flink has them: the **window join**
//! (pairs of a key that fall in the same tumbling or sliding window: a
//! [`crate::ops::WindowOp`] with [`JoinAgg`](crate::ops::JoinAgg)) and the **interval
//! join** ([`IntervalJoin`]: pairs with `b.ts - a.ts` in `[lower, upper]`).
//!
//! Both read a stream set of two streams: the generated enum is split into its two sides
//! with a [`Side`].

mod interval;
#[cfg(test)]
mod tests;

pub use interval::IntervalJoin;

/// Which input of a join an element comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Side<A, B> {
    /// The first stream of the set (`a`).
    Left(A),
    /// The second (`b`).
    Right(B),
}
