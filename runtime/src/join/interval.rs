//! The interval join: per key, the elements of each side still able to meet one of the
//! other side, dropped as the watermark passes them.
//!
//! Semantics (Flink's `IntervalJoinOperator`): `a` of the left side and `b` of the right,
//! of one key, are a pair when `a.ts + lower <= b.ts <= a.ts + upper`. An element is
//! **late** when its timestamp is at or before the watermark (`ts <= time`): it is not
//! joined, and is given back for the late output. Every pair of two elements that are not
//! late is produced exactly once, when the second of them arrives. A left element is kept
//! until the time reaches `a.ts + upper` (no right element still to come can meet it), a
//! right one until `b.ts - lower`.

use super::Side;
use crate::grouping::FastMap;
use crate::state::{Key, StateError};
use std::collections::BTreeMap;
use std::ops::Range;

/// A key's buffered elements, by timestamp.
struct Buffers<A, B> {
    left: BTreeMap<u64, Vec<A>>,
    right: BTreeMap<u64, Vec<B>>,
}

impl<A, B> Default for Buffers<A, B> {
    fn default() -> Self {
        Buffers {
            left: BTreeMap::new(),
            right: BTreeMap::new(),
        }
    }
}

/// An interval join over keys `K` of left elements `A` and right elements `B`, for the key
/// groups `range` of `max_parallelism` (see the module docs for its semantics).
pub struct IntervalJoin<K, A, B> {
    lower: i64,
    upper: i64,
    max_parallelism: u32,
    range: Range<u32>,
    /// `[group - range.start]`: each key's buffers.
    groups: Vec<FastMap<K, Buffers<A, B>>>,
    /// When keys have elements to drop.
    cleanup: BTreeMap<u64, Vec<K>>,
    /// How far time has advanced (`None`: not at all yet).
    time: Option<u64>,
}

/// `ts + d`, within `u64`.
fn shift(ts: u64, d: i64) -> u64 {
    ts.saturating_add_signed(d)
}

/// The timestamps `[ts + lo, ts + hi]` that are `u64`s (`None`: none are).
fn within(ts: u64, lo: i64, hi: i64) -> Option<std::ops::RangeInclusive<u64>> {
    let (lo, hi) = (
        i128::from(ts) + i128::from(lo),
        i128::from(ts) + i128::from(hi),
    );
    if hi < 0 || lo > i128::from(u64::MAX) || lo > hi {
        return None;
    }
    let clamp = |v: i128| v.clamp(0, i128::from(u64::MAX)) as u64;
    Some(clamp(lo)..=clamp(hi))
}

impl<K: Key, A, B> IntervalJoin<K, A, B> {
    /// A join of `b.ts - a.ts` in `[lower, upper]` (ms; `lower <= upper`) owning key
    /// groups `range` of `max_parallelism`.
    pub fn new(lower: i64, upper: i64, max_parallelism: u32, range: Range<u32>) -> Self {
        IntervalJoin {
            lower,
            upper,
            max_parallelism: max_parallelism.max(1),
            groups: range.clone().map(|_| FastMap::default()).collect(),
            range,
            cleanup: BTreeMap::new(),
            time: None,
        }
    }

    /// How far time has advanced.
    pub fn time(&self) -> Option<u64> {
        self.time
    }

    /// Whether an element at `ts` is late: the time is already at or past it.
    pub fn is_late(&self, ts: u64) -> bool {
        self.time.is_some_and(|t| ts <= t)
    }

    /// The elements buffered, both sides, every key.
    pub fn buffered(&self) -> usize {
        self.groups
            .iter()
            .flat_map(|g| g.values())
            .map(|b| {
                b.left.values().map(Vec::len).sum::<usize>()
                    + b.right.values().map(Vec::len).sum::<usize>()
            })
            .sum()
    }

    fn group(&self, key: &K) -> Result<usize, StateError> {
        crate::state::owned_group(key, self.max_parallelism, &self.range)
            .map(|g| (g - self.range.start) as usize)
    }

    /// Adds an element of `key` at `ts`, calling `pair` with every pair it completes
    /// (left first). `Ok(Some(element))`: it is late, and given back unjoined.
    pub fn on_element(
        &mut self,
        key: K,
        ts: u64,
        element: Side<A, B>,
        mut pair: impl FnMut(&A, &B),
    ) -> Result<Option<Side<A, B>>, StateError> {
        if self.is_late(ts) {
            return Ok(Some(element));
        }
        let g = self.group(&key)?;
        let (lower, upper) = (self.lower, self.upper);
        let expires = match &element {
            Side::Left(_) => shift(ts, upper),
            Side::Right(_) => shift(ts, lower.saturating_neg()),
        };
        let buffers = self.groups[g].entry(key.clone()).or_default();
        match element {
            Side::Left(a) => {
                if let Some(range) = within(ts, lower, upper) {
                    for b in buffers.right.range(range).flat_map(|(_, bs)| bs) {
                        pair(&a, b);
                    }
                }
                buffers.left.entry(ts).or_default().push(a);
            }
            Side::Right(b) => {
                if let Some(range) = within(ts, upper.saturating_neg(), lower.saturating_neg()) {
                    for a in buffers.left.range(range).flat_map(|(_, r#as)| r#as) {
                        pair(a, &b);
                    }
                }
                buffers.right.entry(ts).or_default().push(b);
            }
        }
        self.cleanup.entry(expires).or_default().push(key);
        Ok(None)
    }

    /// Time (the watermark) advances to `t`: elements no future element can meet are
    /// dropped. Time never goes back.
    pub fn advance(&mut self, t: u64) {
        if self.time.is_some_and(|now| t <= now) {
            return;
        }
        self.time = Some(t);
        let (lower, upper) = (self.lower, self.upper);
        while let Some(entry) = self.cleanup.first_entry() {
            if *entry.key() > t {
                break;
            }
            for key in entry.remove() {
                let Ok(g) = self.group(&key) else { continue };
                let groups = &mut self.groups[g];
                let Some(b) = groups.get_mut(&key) else {
                    continue;
                };
                b.left.retain(|&ts, _| shift(ts, upper) > t);
                b.right
                    .retain(|&ts, _| shift(ts, lower.saturating_neg()) > t);
                if b.left.is_empty() && b.right.is_empty() {
                    groups.remove(&key);
                }
            }
        }
    }
}
