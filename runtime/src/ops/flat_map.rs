//! `flat_map(f)`: any number of tuples out per tuple in. Its compiler half:
//! `gale_compiler::ops` (`flat_map.rs`).

use crate::api::{Bolt, Emitter, ExecResult};
use std::marker::PhantomData;

/// `flat_map(f)`: emits every item of `f(tuple)`.
pub struct FlatMapOp<F, In, Out> {
    f: F,
    _types: PhantomData<fn(In) -> Out>,
}

impl<F, In, Out> FlatMapOp<F, In, Out> {
    /// Wraps `f`.
    pub fn new(f: F) -> Self {
        FlatMapOp {
            f,
            _types: PhantomData,
        }
    }
}

// Not offered in "other types implement `Bolt`" hints: it is the built-ins' adapter.
#[diagnostic::do_not_recommend]
impl<F, In, Out, I> Bolt for FlatMapOp<F, In, Out>
where
    F: FnMut(In) -> I + Send + 'static,
    I: IntoIterator<Item = Out>,
    In: 'static,
    Out: 'static,
{
    type In = In;
    type Out = Out;

    #[inline]
    fn execute(&mut self, input: In, out: &mut impl Emitter<Out>) -> ExecResult {
        for item in (self.f)(input) {
            out.emit(item);
        }
        Ok(())
    }
}
