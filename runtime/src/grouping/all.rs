//! `all`: every consumer task receives every tuple (a broadcast).

use super::{Choice, Grouping};

/// Broadcast: every task gets a copy of every tuple.
#[derive(Debug, Clone, Copy, Default)]
pub struct All;

impl<T> Grouping<T> for All {
    #[inline]
    fn choose(&mut self, _tuple: &T) -> Choice<'_> {
        Choice::All
    }
}
