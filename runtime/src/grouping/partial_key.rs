//! `partial_key(f)`: each key has two candidate tasks; a tuple goes to the one this
//! producer has sent less to (Storm's `PartialKeyGrouping`, "the power of both choices").
//! Spreads hot keys over two tasks while keeping each key on at most two.

use super::{Choice, Grouping, Targets};

/// Partial key grouping over a key hash function.
#[derive(Debug, Clone)]
pub struct PartialKey<F> {
    hash: F,
    load: Vec<u64>,
}

impl<F> PartialKey<F> {
    /// Groups by `hash(tuple)`.
    pub fn new(hash: F) -> Self {
        PartialKey {
            hash,
            load: vec![0],
        }
    }

    /// The two candidate task indexes for a key hash among `n` tasks.
    pub fn candidates(hash: u64, n: usize) -> (usize, usize) {
        let n = n.max(1) as u64;
        let second = (hash ^ 0x9E37_79B9_7F4A_7C15)
            .wrapping_mul(0xff51_afd7_ed55_8ccd)
            .rotate_left(29);
        ((hash % n) as usize, (second % n) as usize)
    }
}

impl<T, F: Fn(&T) -> u64 + Send> Grouping<T> for PartialKey<F> {
    fn prepare(&mut self, targets: &Targets) {
        self.load = vec![0; targets.tasks.len().max(1)];
    }

    #[inline]
    fn choose(&mut self, tuple: &T) -> Choice<'_> {
        let (a, b) = Self::candidates((self.hash)(tuple), self.load.len());
        let pick = if self.load[b] < self.load[a] { b } else { a };
        self.load[pick] += 1;
        Choice::One(pick)
    }
}
