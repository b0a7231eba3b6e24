//! `local_or_shuffle`: shuffle among the consumer tasks in the same worker process, or
//! among all of them when none is local.

use super::{Choice, Grouping, Shuffle, Targets};

/// Prefers tasks in the producer's worker (no network hop), like Storm's
/// `LocalOrShuffleGrouping`.
#[derive(Debug, Clone, Default)]
pub struct LocalOrShuffle {
    inner: Shuffle,
}

impl LocalOrShuffle {
    /// A local-or-shuffle grouping.
    pub fn new() -> Self {
        Self::default()
    }
}

impl<T> Grouping<T> for LocalOrShuffle {
    fn prepare(&mut self, targets: &Targets) {
        let pool = if targets.local.is_empty() {
            (0..targets.tasks.len()).collect()
        } else {
            targets.local.clone()
        };
        self.inner = Shuffle::over(pool, targets.source as u64 + 7);
    }

    #[inline]
    fn choose(&mut self, tuple: &T) -> Choice<'_> {
        <Shuffle as Grouping<T>>::choose(&mut self.inner, tuple)
    }
}
