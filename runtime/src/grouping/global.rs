//! `global`: the whole stream goes to the consumer task with the lowest id.

use super::{Choice, Grouping};

/// Everything to the lowest task id (Storm's `GlobalGrouping`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Global;

impl<T> Grouping<T> for Global {
    #[inline]
    fn choose(&mut self, _tuple: &T) -> Choice<'_> {
        Choice::One(0)
    }
}
