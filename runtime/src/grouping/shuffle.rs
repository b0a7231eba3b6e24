//! `shuffle`: tuples are spread randomly and evenly over the consumer's tasks.

use super::{Choice, Grouping, Targets};
use crate::rng::Rng;

/// Random, even distribution: each tuple goes to one task, chosen from a shuffled
/// round-robin order (so counts stay within one round of even, like Storm's
/// `ShuffleGrouping`).
#[derive(Debug, Clone)]
pub struct Shuffle {
    order: Vec<usize>,
    next: usize,
    rng: Rng,
}

impl Shuffle {
    /// A shuffle grouping.
    pub fn new() -> Self {
        Shuffle {
            order: Vec::new(),
            next: 0,
            rng: Rng::seeded(1),
        }
    }

    pub(crate) fn over(indexes: Vec<usize>, seed: u64) -> Self {
        let mut s = Shuffle {
            order: indexes,
            next: 0,
            rng: Rng::seeded(seed),
        };
        s.reshuffle();
        s
    }

    fn reshuffle(&mut self) {
        for i in (1..self.order.len()).rev() {
            let j = self.rng.below(i + 1);
            self.order.swap(i, j);
        }
        self.next = 0;
    }
}

impl Default for Shuffle {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> Grouping<T> for Shuffle {
    fn prepare(&mut self, targets: &Targets) {
        *self = Shuffle::over(
            (0..targets.tasks.len()).collect(),
            targets.source as u64 + 1,
        );
    }

    #[inline]
    fn choose(&mut self, _tuple: &T) -> Choice<'_> {
        if self.next == self.order.len() {
            self.reshuffle();
        }
        let i = self.order[self.next];
        self.next += 1;
        Choice::One(i)
    }
}
