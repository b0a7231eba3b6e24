//! A log-linear latency histogram: 16 buckets per power of two (about 6% precision), fixed
//! size, mergeable; enough for p50/p99 without keeping samples.

const SUB_BITS: u32 = 4;
const SUB: usize = 1 << SUB_BITS;
const BUCKETS: usize = (64 - SUB_BITS as usize + 1) * SUB;

/// Counts of values (microseconds) by bucket.
#[derive(Clone)]
pub struct Histogram {
    counts: Box<[u64; BUCKETS]>,
    total: u64,
    max: u64,
    sum: u64,
}

impl std::fmt::Debug for Histogram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Histogram")
            .field("total", &self.total)
            .field("p50", &self.quantile(0.5))
            .field("p99", &self.quantile(0.99))
            .finish()
    }
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            counts: Box::new([0; BUCKETS]),
            total: 0,
            max: 0,
            sum: 0,
        }
    }
}

fn index(v: u64) -> usize {
    if v < SUB as u64 {
        return v as usize;
    }
    let e = 63 - v.leading_zeros(); // >= SUB_BITS
    let m = ((v >> (e - SUB_BITS)) as usize) & (SUB - 1);
    (e - SUB_BITS + 1) as usize * SUB + m
}

/// The largest value that falls in bucket `i`.
fn upper(i: usize) -> u64 {
    if i < SUB {
        return i as u64;
    }
    let e = (i / SUB) as u32 + SUB_BITS - 1;
    let m = (i % SUB) as u128;
    let low = (SUB as u128 + m) << (e - SUB_BITS);
    // The top buckets reach past u64::MAX: they end there.
    u64::try_from(low + (1u128 << (e - SUB_BITS)) - 1).unwrap_or(u64::MAX)
}

impl Histogram {
    /// Records one value.
    #[inline]
    pub fn record(&mut self, v: u64) {
        self.counts[index(v)] += 1;
        self.total += 1;
        self.max = self.max.max(v);
        self.sum = self.sum.saturating_add(v);
    }

    /// Adds every count of `other`.
    pub fn merge(&mut self, other: &Histogram) {
        for (a, b) in self.counts.iter_mut().zip(other.counts.iter()) {
            *a += b;
        }
        self.total += other.total;
        self.max = self.max.max(other.max);
        self.sum = self.sum.saturating_add(other.sum);
    }

    /// The sum of the values recorded.
    pub fn sum(&self) -> u64 {
        self.sum
    }

    /// The nonzero buckets: (bucket index, count), by index.
    pub fn buckets(&self) -> impl Iterator<Item = (u32, u64)> + '_ {
        self.counts
            .iter()
            .enumerate()
            .filter(|(_, c)| **c > 0)
            .map(|(i, c)| (i as u32, *c))
    }

    /// The histogram of these nonzero buckets (what [`Histogram::buckets`] gave); an index
    /// past the last bucket counts in the last one.
    pub fn from_buckets(buckets: impl IntoIterator<Item = (u32, u64)>, sum: u64) -> Self {
        let mut h = Histogram::default();
        for (i, c) in buckets {
            let i = (i as usize).min(BUCKETS - 1);
            h.counts[i] += c;
            h.total += c;
            h.max = h.max.max(upper(i));
        }
        h.sum = sum;
        h
    }

    /// Values recorded at or below `bound` (counting a bucket whole when its upper bound is
    /// at or below `bound`): a cumulative bucket of a Prometheus histogram.
    pub fn count_at_or_below(&self, bound: u64) -> u64 {
        self.counts
            .iter()
            .enumerate()
            .take_while(|(i, _)| upper(*i) <= bound)
            .map(|(_, c)| c)
            .sum()
    }

    /// Values recorded.
    pub fn count(&self) -> u64 {
        self.total
    }

    /// The value at quantile `q` (0..=1), as the upper bound of its bucket (never above the
    /// largest value seen); `None` when empty.
    pub fn quantile(&self, q: f64) -> Option<u64> {
        if self.total == 0 {
            return None;
        }
        let rank = ((q.clamp(0.0, 1.0) * self.total as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (i, c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return Some(upper(i).min(self.max));
            }
        }
        Some(self.max)
    }

    /// Empties it.
    pub fn clear(&mut self) {
        *self = Histogram::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn buckets_are_contiguous() {
        for i in 0..BUCKETS - 1 {
            assert_eq!(index(upper(i)), i);
            assert_eq!(index(upper(i) + 1), i + 1, "bucket {i}");
        }
    }

    #[test]
    fn buckets_round_trip_and_count_cumulatively() {
        let mut h = Histogram::default();
        for v in [1, 5, 900, 1_000, 70_000, 5_000_000] {
            h.record(v);
        }
        let back = Histogram::from_buckets(h.buckets().collect::<Vec<_>>(), h.sum());
        assert_eq!(back.count(), 6);
        assert_eq!(back.sum(), 5_071_906);
        assert_eq!(back.quantile(0.5), h.quantile(0.5));
        assert_eq!(h.count_at_or_below(10), 2);
        assert_eq!(h.count_at_or_below(u64::MAX), 6);
        assert_eq!(h.count_at_or_below(0), 0);
    }

    proptest! {
        #[test]
        fn quantiles_are_within_a_bucket(mut values in proptest::collection::vec(0u64..10_000_000, 1..500), q in 0.0f64..=1.0) {
            let mut h = Histogram::default();
            for &v in &values { h.record(v); }
            values.sort_unstable();
            let rank = ((q * values.len() as f64).ceil() as usize).max(1);
            let exact = values[rank - 1];
            let got = h.quantile(q).unwrap();
            prop_assert!(got >= exact);
            prop_assert!(got <= exact + exact / 8 + 1, "got {got}, exact {exact}");
        }
    }
}
