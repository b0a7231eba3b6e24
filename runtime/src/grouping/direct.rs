//! `direct`: the emitter names the receiving task with `emit_direct`.

use super::{Choice, Grouping};

/// The producer picks the task; an ordinary `emit` on a direct stream is an error.
#[derive(Debug, Clone, Copy, Default)]
pub struct Direct;

impl<T> Grouping<T> for Direct {
    fn choose(&mut self, _tuple: &T) -> Choice<'_> {
        Choice::Many(&[])
    }

    fn is_direct(&self) -> bool {
        true
    }
}
