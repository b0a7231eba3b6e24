//! `map(f)`: one tuple out per tuple in. Its compiler half: `gale_compiler::ops` (`map.rs`).

use crate::api::{Bolt, Emitter, ExecResult};
use std::marker::PhantomData;

/// `map(f)`: emits `f(tuple)` for every tuple.
///
/// ```
/// use gale::{Bolt, Emitter, TaskId};
/// use gale::ops::MapOp;
/// struct Vec1(Vec<u64>);
/// impl Emitter<u64> for Vec1 {
///     fn emit(&mut self, t: u64) { self.0.push(t) }
///     fn emit_direct(&mut self, _: TaskId, t: u64) { self.0.push(t) }
/// }
/// let mut op = MapOp::new(|n: u64| n + 1);
/// let mut out = Vec1(Vec::new());
/// op.execute(1, &mut out).unwrap();
/// assert_eq!(out.0, vec![2]);
/// ```
pub struct MapOp<F, In, Out> {
    f: F,
    _types: PhantomData<fn(In) -> Out>,
}

impl<F, In, Out> MapOp<F, In, Out> {
    /// Wraps `f`.
    pub fn new(f: F) -> Self {
        MapOp {
            f,
            _types: PhantomData,
        }
    }
}

// Not offered in "other types implement `Bolt`" hints: it is the built-ins' adapter.
#[diagnostic::do_not_recommend]
impl<F, In, Out> Bolt for MapOp<F, In, Out>
where
    F: FnMut(In) -> Out + Send + 'static,
    In: 'static,
    Out: 'static,
{
    type In = In;
    type Out = Out;

    #[inline]
    fn execute(&mut self, input: In, out: &mut impl Emitter<Out>) -> ExecResult {
        out.emit((self.f)(input));
        Ok(())
    }
}
