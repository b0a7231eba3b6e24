//! `window_join(tumbling(size) | sliding(size, slide), f)`: a window join, as a window
//! operator ([`crate::ops::WindowOp`]) whose accumulator keeps each side's elements of a
//! window and whose result is every pair of them, made by `f`. Its compiler half:
//! `gale_compiler::ops::window_join`.

use super::window::Finish;
use crate::api::Emitter;
use crate::join::Side;
use crate::state::{AggregateFunction, Stored};
use crate::window::{Window, WindowOutput};

/// A window's elements of each side.
pub struct JoinAgg<In, A, B> {
    split: fn(In) -> Side<A, B>,
}

impl<In, A, B> JoinAgg<In, A, B> {
    /// Keeps elements split into their sides by `split`.
    pub fn new(split: fn(In) -> Side<A, B>) -> Self {
        JoinAgg { split }
    }
}

impl<In, A, B> AggregateFunction for JoinAgg<In, A, B>
where
    In: 'static,
    A: Stored + Clone,
    B: Stored + Clone,
{
    type In = In;
    type Acc = (Vec<A>, Vec<B>);
    type Out = (Vec<A>, Vec<B>);
    fn create(&self) -> Self::Acc {
        (Vec::new(), Vec::new())
    }
    fn add(&self, acc: &mut Self::Acc, value: In) {
        match (self.split)(value) {
            Side::Left(a) => acc.0.push(a),
            Side::Right(b) => acc.1.push(b),
        }
    }
    fn result(&self, acc: &Self::Acc) -> Self::Out {
        acc.clone()
    }
    fn merge(&self, acc: &mut Self::Acc, other: Self::Acc) {
        acc.0.extend(other.0);
        acc.1.extend(other.1);
    }
}

/// Emits every pair of a fired window (left elements in arrival order, each with every
/// right one), made by the join function.
pub struct JoinPairs<F>(pub F);

impl<K, In, A, B, Out, F> Finish<K, (Vec<A>, Vec<B>), In, Out> for JoinPairs<F>
where
    F: Fn(&A, &B) -> Out + Send + 'static,
{
    fn finish(
        &mut self,
        _key: &K,
        _window: Window,
        (left, right): (Vec<A>, Vec<B>),
        out: &mut impl Emitter<WindowOutput<Out, In>>,
    ) {
        for a in &left {
            for b in &right {
                out.emit(WindowOutput::Result((self.0)(a, b)));
            }
        }
    }
}
