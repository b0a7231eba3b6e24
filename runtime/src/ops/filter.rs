//! `filter(f)`: the tuples `f` accepts, unchanged. Its compiler half: `gale_compiler::ops`
//! (`filter.rs`).

use crate::api::{Bolt, Emitter, ExecResult};
use std::marker::PhantomData;

/// `filter(f)`: passes on the tuples for which `f(&tuple)` is true.
pub struct FilterOp<F, T> {
    f: F,
    _types: PhantomData<fn(T) -> T>,
}

impl<F, T> FilterOp<F, T> {
    /// Wraps `f`.
    pub fn new(f: F) -> Self {
        FilterOp {
            f,
            _types: PhantomData,
        }
    }
}

// Not offered in "other types implement `Bolt`" hints: it is the built-ins' adapter.
#[diagnostic::do_not_recommend]
impl<F, T> Bolt for FilterOp<F, T>
where
    F: FnMut(&T) -> bool + Send + 'static,
    T: 'static,
{
    type In = T;
    type Out = T;

    #[inline]
    fn execute(&mut self, input: T, out: &mut impl Emitter<T>) -> ExecResult {
        if (self.f)(&input) {
            out.emit(input);
        }
        Ok(())
    }
}
