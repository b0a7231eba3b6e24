//! The runtime's one random generator (SplitMix64): shuffle groupings pick tasks with it,
//! and acking draws root and edge ids from it, one generator per task.

use std::time::{SystemTime, UNIX_EPOCH};

/// A small, fast pseudo-random generator (SplitMix64). Not cryptographic: ids only need to
/// be unique with overwhelming probability.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator seeded from `seed` (for tests: reproducible).
    pub fn seeded(seed: u64) -> Self {
        Rng(seed)
    }

    /// A generator for task `task`, seeded from the clock so that two runs (or two
    /// processes) do not reuse ids.
    pub fn for_task(task: u32) -> Self {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        let mut r = Rng(nanos ^ (u64::from(task) << 40) ^ 0x5851_f42d_4c95_7f2d);
        r.next_u64();
        r
    }

    /// The next value.
    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0).
    #[inline]
    pub fn below(&mut self, n: usize) -> usize {
        (((self.next_u64() >> 32) * n as u64) >> 32) as usize
    }

    /// The next value that is not zero (zero means "complete" to the acker).
    #[inline]
    pub fn next_id(&mut self) -> u64 {
        loop {
            let v = self.next_u64();
            if v != 0 {
                return v;
            }
        }
    }
}
