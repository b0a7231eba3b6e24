//! What a window emits, the full-window functions (`apply(T)`), and what an event time is.

use super::assigner::Window;
use crate::api::Emitter;
use crate::state::AggregateFunction;
use std::marker::PhantomData;

/// One thing a window emits: a result on its output stream, or a late element on its
/// `late` stream.
#[derive(Debug, Clone, PartialEq)]
pub enum WindowOutput<R, L> {
    /// A window result.
    Result(R),
    /// An element later than the allowed lateness.
    Late(L),
}

/// An event time: a `u64` of epoch milliseconds, or a type of yours that says how many it
/// is (`timestamp(at)` names a field of such a type).
pub trait Timestamp {
    /// Milliseconds since the Unix epoch.
    fn millis(&self) -> u64;
}

impl Timestamp for u64 {
    #[inline]
    fn millis(&self) -> u64 {
        *self
    }
}

/// A full-window function (`apply(T)`): sees every element of a window of one key, in
/// arrival order, and its bounds, when the window fires (Flink's `ProcessWindowFunction`).
pub trait WindowFunction: Send + 'static {
    /// The key (`()` when the input is not keyed).
    type Key;
    /// The elements.
    type In;
    /// What it emits.
    type Out;
    /// Emits the result of `window` of `key`, whose elements are `elements`.
    fn apply(
        &mut self,
        key: &Self::Key,
        window: Window,
        elements: &[Self::In],
        out: &mut impl Emitter<Self::Out>,
    );
}

/// The accumulator of a full-window function: every element.
pub struct CollectAgg<In>(PhantomData<fn(In)>);

impl<In> Default for CollectAgg<In> {
    fn default() -> Self {
        CollectAgg(PhantomData)
    }
}

impl<In: crate::state::Stored + Clone> AggregateFunction for CollectAgg<In> {
    type In = In;
    type Acc = Vec<In>;
    type Out = Vec<In>;
    fn create(&self) -> Vec<In> {
        Vec::new()
    }
    fn add(&self, acc: &mut Vec<In>, v: In) {
        acc.push(v);
    }
    fn result(&self, acc: &Vec<In>) -> Vec<In> {
        acc.clone()
    }
    fn merge(&self, acc: &mut Vec<In>, other: Vec<In>) {
        acc.extend(other);
    }
}
