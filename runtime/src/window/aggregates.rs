//! The built-in window aggregations (`count`, `sum(f)`, `min(f)`, `max(f)`, `avg(f)`,
//! `reduce(fn)`), as [`AggregateFunction`]s; `aggregate(Type)` takes a user's.

use crate::state::{AggregateFunction, Stored};
use std::marker::PhantomData;

/// `count`: the elements of the window.
pub struct CountAgg<In>(PhantomData<fn(In)>);

impl<In> Default for CountAgg<In> {
    fn default() -> Self {
        CountAgg(PhantomData)
    }
}

impl<In: 'static> AggregateFunction for CountAgg<In> {
    type In = In;
    type Acc = u64;
    type Out = u64;
    fn create(&self) -> u64 {
        0
    }
    fn add(&self, acc: &mut u64, _: In) {
        *acc += 1;
    }
    fn result(&self, acc: &u64) -> u64 {
        *acc
    }
    fn merge(&self, acc: &mut u64, other: u64) {
        *acc += other;
    }
}

/// A field of an element, for `sum`, `min`, `max` and `avg`.
pub type Field<In, N> = fn(&In) -> N;

/// `sum(f)`: the sum of a field (integers saturate instead of overflowing).
pub struct SumAgg<In, N> {
    field: Field<In, N>,
}

impl<In, N> SumAgg<In, N> {
    /// Sums `field`.
    pub fn new(field: Field<In, N>) -> Self {
        SumAgg { field }
    }
}

/// A number `sum` and `avg` can add.
pub trait Summable: Copy + Stored {
    /// Zero.
    fn zero() -> Self;
    /// `self + other`, saturating for integers.
    fn plus(self, other: Self) -> Self;
    /// As a float (for `avg`).
    fn as_f64(self) -> f64;
}

macro_rules! summable_int {
    ($($t:ty),*) => {$(
        impl Summable for $t {
            fn zero() -> Self { 0 }
            fn plus(self, other: Self) -> Self { self.saturating_add(other) }
            fn as_f64(self) -> f64 { self as f64 }
        }
    )*};
}
summable_int!(u8, u16, u32, u64, i8, i16, i32, i64);

impl Summable for f32 {
    fn zero() -> Self {
        0.0
    }
    fn plus(self, other: Self) -> Self {
        self + other
    }
    fn as_f64(self) -> f64 {
        f64::from(self)
    }
}

impl Summable for f64 {
    fn zero() -> Self {
        0.0
    }
    fn plus(self, other: Self) -> Self {
        self + other
    }
    fn as_f64(self) -> f64 {
        self
    }
}

impl<In: 'static, N: Summable> AggregateFunction for SumAgg<In, N> {
    type In = In;
    type Acc = N;
    type Out = N;
    fn create(&self) -> N {
        N::zero()
    }
    fn add(&self, acc: &mut N, v: In) {
        *acc = acc.plus((self.field)(&v));
    }
    fn result(&self, acc: &N) -> N {
        *acc
    }
    fn merge(&self, acc: &mut N, other: N) {
        *acc = acc.plus(other);
    }
}

/// `avg(f)`: the mean of a field, as `f64`.
pub struct AvgAgg<In, N> {
    field: Field<In, N>,
}

impl<In, N> AvgAgg<In, N> {
    /// Averages `field`.
    pub fn new(field: Field<In, N>) -> Self {
        AvgAgg { field }
    }
}

impl<In: 'static, N: Summable> AggregateFunction for AvgAgg<In, N> {
    type In = In;
    type Acc = (f64, u64);
    type Out = f64;
    fn create(&self) -> (f64, u64) {
        (0.0, 0)
    }
    fn add(&self, acc: &mut (f64, u64), v: In) {
        acc.0 += (self.field)(&v).as_f64();
        acc.1 += 1;
    }
    fn result(&self, acc: &(f64, u64)) -> f64 {
        if acc.1 == 0 {
            0.0
        } else {
            acc.0 / acc.1 as f64
        }
    }
    fn merge(&self, acc: &mut (f64, u64), other: (f64, u64)) {
        acc.0 += other.0;
        acc.1 += other.1;
    }
}

/// `min(f)` (`MAX` false) or `max(f)` (`MAX` true): the extreme of a field.
pub struct ExtremeAgg<In, N, const MAX: bool> {
    field: Field<In, N>,
}

/// `min(f)`.
pub type MinAgg<In, N> = ExtremeAgg<In, N, false>;
/// `max(f)`.
pub type MaxAgg<In, N> = ExtremeAgg<In, N, true>;

impl<In, N, const MAX: bool> ExtremeAgg<In, N, MAX> {
    /// The extreme of `field`.
    pub fn new(field: Field<In, N>) -> Self {
        ExtremeAgg { field }
    }
}

impl<In: 'static, N: PartialOrd + Copy + Stored + Default, const MAX: bool> AggregateFunction
    for ExtremeAgg<In, N, MAX>
{
    type In = In;
    type Acc = Option<N>;
    type Out = N;
    fn create(&self) -> Option<N> {
        None
    }
    fn add(&self, acc: &mut Option<N>, v: In) {
        let x = (self.field)(&v);
        self.merge(acc, Some(x));
    }
    fn result(&self, acc: &Option<N>) -> N {
        acc.unwrap_or_default()
    }
    fn merge(&self, acc: &mut Option<N>, other: Option<N>) {
        *acc = match (*acc, other) {
            (Some(a), Some(b)) if (b > a) == MAX && b != a => Some(b),
            (Some(a), _) => Some(a),
            (None, b) => b,
        };
    }
}

/// `reduce(fn)`: the elements folded by a function, oldest first.
pub struct ReduceAgg<T> {
    reduce: fn(T, T) -> T,
}

impl<T> ReduceAgg<T> {
    /// Folds with `reduce`.
    pub fn new(reduce: fn(T, T) -> T) -> Self {
        ReduceAgg { reduce }
    }
}

impl<T: Stored + Clone + Default> AggregateFunction for ReduceAgg<T> {
    type In = T;
    type Acc = Option<T>;
    type Out = T;
    fn create(&self) -> Option<T> {
        None
    }
    fn add(&self, acc: &mut Option<T>, v: T) {
        *acc = Some(match acc.take() {
            Some(a) => (self.reduce)(a, v),
            None => v,
        });
    }
    fn result(&self, acc: &Option<T>) -> T {
        acc.clone().unwrap_or_default()
    }
    fn merge(&self, acc: &mut Option<T>, other: Option<T>) {
        if let Some(o) = other {
            self.add(acc, o);
        }
    }
}
