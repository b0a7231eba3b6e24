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
//!
//! With a `ttl` ([`IntervalJoin::with_ttl`]), a key whose elements have not come for that
//! long (processing time) loses its buffers earlier, as Flink SQL's state TTL does.

use super::Side;
use crate::codec::{Codec, DecodeError, get_varint, put_varint};
use crate::grouping::FastMap;
use crate::state::{GroupSnapshot, Key, Retention, StateError};
use std::collections::{BTreeMap, VecDeque};
use std::ops::Range;

/// One side's elements of a key, in timestamp order (equal timestamps in arrival order).
/// Elements come nearly in order, so an insert is nearly always a push at the back.
type Buffer<T> = VecDeque<(u64, T)>;

/// A key's buffered elements.
struct Buffers<A, B> {
    left: Buffer<A>,
    right: Buffer<B>,
    /// When an element of the key last came (processing time, ms; with a `ttl` only).
    touched: u64,
}

impl<A, B> Default for Buffers<A, B> {
    fn default() -> Self {
        Buffers {
            left: VecDeque::new(),
            right: VecDeque::new(),
            touched: 0,
        }
    }
}

/// Inserts `(ts, value)` in order; returns whether it is the new front.
fn insert<T>(buffer: &mut Buffer<T>, ts: u64, value: T) -> bool {
    if buffer.back().is_none_or(|(last, _)| *last <= ts) {
        buffer.push_back((ts, value));
        return buffer.len() == 1;
    }
    let at = buffer.partition_point(|(t, _)| *t <= ts);
    buffer.insert(at, (ts, value));
    at == 0
}

/// The elements of `buffer` with a timestamp in `range`.
fn in_range<T>(
    buffer: &Buffer<T>,
    range: std::ops::RangeInclusive<u64>,
) -> impl Iterator<Item = &T> {
    let from = buffer.partition_point(|(t, _)| t < range.start());
    let to = buffer.partition_point(|(t, _)| t <= range.end());
    buffer.range(from..to.max(from)).map(|(_, v)| v)
}

/// Drops the elements at the front of `buffer` that expire (`ts + d <= t`); returns
/// whether it dropped any.
fn drop_expired<T>(buffer: &mut Buffer<T>, d: i64, t: u64) -> bool {
    let before = buffer.len();
    while buffer.front().is_some_and(|(ts, _)| shift(*ts, d) <= t) {
        buffer.pop_front();
    }
    buffer.len() != before
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
    /// When keys have elements to drop: the expiry of the front of one of its sides (an
    /// entry per key and side whose front changed, not per element).
    cleanup: BTreeMap<u64, Vec<K>>,
    /// How far time has advanced (`None`: not at all yet).
    time: Option<u64>,
    /// A key's buffers not written for the `ttl` are dropped.
    retention: Retention,
    /// A snapshot being taken a key group at a time.
    snapshot: Option<GroupSnapshot>,
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

impl<K: Key, A: Codec, B: Codec> IntervalJoin<K, A, B> {
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
            retention: Retention::default(),
            snapshot: None,
        }
    }

    /// A key's buffers are dropped once no element of the key has come for `ttl_ms` of
    /// processing time (the clock is [`IntervalJoin::expire`]'s).
    pub fn with_ttl(mut self, ttl_ms: Option<u64>) -> Self {
        self.retention = Retention::new(ttl_ms);
        self
    }

    /// Processing time is `now_ms`: the keys of one key group (the next in turn) that have
    /// had no element for the `ttl` lose their buffers; returns how many keys did.
    pub fn expire(&mut self, now_ms: u64) -> usize {
        // A group a snapshot in progress has not taken yet is taken before it is swept.
        let snapshot = &mut self.snapshot;
        self.retention.sweep_with(
            now_ms,
            &mut self.groups,
            |b| b.touched,
            |g, keys| {
                if let Some(s) = snapshot {
                    s.take(g, || encode_keys(keys));
                }
            },
        )
    }

    /// Copy-on-write: group `g`'s state at the barrier is encoded before it changes.
    #[inline]
    fn before_change(&mut self, g: usize) {
        GroupSnapshot::before_change_in(&mut self.snapshot, &self.groups, g, encode_keys);
    }

    /// The key groups it owns.
    pub fn key_groups(&self) -> Range<u32> {
        self.range.clone()
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
            .map(|b| b.left.len() + b.right.len())
            .sum()
    }

    fn group(&self, key: &K) -> Result<usize, StateError> {
        crate::state::owned_group(key, self.max_parallelism, &self.range)
            .map(|g| (g - self.range.start) as usize)
    }

    /// How long a left element is kept past its timestamp (`ts + d` expires it), and a
    /// right one.
    fn keep(&self) -> (i64, i64) {
        (self.upper, self.lower.saturating_neg())
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
        self.before_change(g);
        let (lower, upper) = (self.lower, self.upper);
        let (keep_left, keep_right) = self.keep();
        let keys = &mut self.groups[g];
        if keys
            .get(&key)
            .is_some_and(|b| self.retention.expired(b.touched))
        {
            keys.remove(&key);
        }
        let buffers = keys.entry(key.clone()).or_default();
        buffers.touched = self.retention.now_ms();
        let front = match element {
            Side::Left(a) => {
                if let Some(range) = within(ts, lower, upper) {
                    for b in in_range(&buffers.right, range) {
                        pair(&a, b);
                    }
                }
                insert(&mut buffers.left, ts, a).then(|| shift(ts, keep_left))
            }
            Side::Right(b) => {
                if let Some(range) = within(ts, upper.saturating_neg(), lower.saturating_neg()) {
                    for a in in_range(&buffers.left, range) {
                        pair(a, &b);
                    }
                }
                insert(&mut buffers.right, ts, b).then(|| shift(ts, keep_right))
            }
        };
        if let Some(expires) = front {
            self.cleanup.entry(expires).or_default().push(key);
        }
        Ok(None)
    }

    /// Time (the watermark) advances to `t`: elements no future element can meet are
    /// dropped. Time never goes back.
    pub fn advance(&mut self, t: u64) {
        if self.time.is_some_and(|now| t <= now) {
            return;
        }
        self.time = Some(t);
        let (keep_left, keep_right) = self.keep();
        while let Some(entry) = self.cleanup.first_entry() {
            if *entry.key() > t {
                break;
            }
            for key in entry.remove() {
                let Ok(g) = self.group(&key) else { continue };
                self.before_change(g);
                let groups = &mut self.groups[g];
                let Some(b) = groups.get_mut(&key) else {
                    continue;
                };
                // A side whose front went is due again when its new front expires.
                let mut again = [None, None];
                if drop_expired(&mut b.left, keep_left, t) {
                    again[0] = b.left.front().map(|(ts, _)| shift(*ts, keep_left));
                }
                if drop_expired(&mut b.right, keep_right, t) {
                    again[1] = b.right.front().map(|(ts, _)| shift(*ts, keep_right));
                }
                if b.left.is_empty() && b.right.is_empty() {
                    groups.remove(&key);
                }
                for at in again.into_iter().flatten() {
                    self.cleanup.entry(at).or_default().push(key.clone());
                }
            }
        }
    }
}

impl<K: Key, A: Codec, B: Codec> IntervalJoin<K, A, B> {
    /// The encoding of key group `group`'s buffers (`None` if not owned).
    pub fn snapshot_group(&self, group: u32) -> Option<Vec<u8>> {
        let keys = self
            .groups
            .get(group.checked_sub(self.range.start)? as usize)?;
        Some(encode_keys(keys))
    }

    /// Restores key group `group` from a snapshot, and when its elements are dropped.
    pub fn restore_group(&mut self, group: u32, mut bytes: &[u8]) -> Result<(), StateError> {
        let corrupt = |source: DecodeError| StateError::Corrupt { group, source };
        let i = group
            .checked_sub(self.range.start)
            .map(|i| i as usize)
            .filter(|&i| i < self.groups.len())
            .ok_or(StateError::KeyNotOwned {
                group,
                start: self.range.start,
                end: self.range.end,
            })?;
        let (keep_left, keep_right) = self.keep();
        let input = &mut bytes;
        let n = get_varint(input).map_err(corrupt)?;
        for _ in 0..n {
            let key = K::decode(input).map_err(corrupt)?;
            let mut buffers = Buffers {
                touched: self.retention.now_ms(),
                ..Buffers::default()
            };
            for _ in 0..get_varint(input).map_err(corrupt)? {
                let ts = u64::decode(input).map_err(corrupt)?;
                insert(&mut buffers.left, ts, A::decode(input).map_err(corrupt)?);
            }
            for _ in 0..get_varint(input).map_err(corrupt)? {
                let ts = u64::decode(input).map_err(corrupt)?;
                insert(&mut buffers.right, ts, B::decode(input).map_err(corrupt)?);
            }
            let fronts = [
                buffers.left.front().map(|(ts, _)| shift(*ts, keep_left)),
                buffers.right.front().map(|(ts, _)| shift(*ts, keep_right)),
            ];
            for at in fronts.into_iter().flatten() {
                self.cleanup.entry(at).or_default().push(key.clone());
            }
            self.groups[i].insert(key, buffers);
        }
        Ok(())
    }
}

impl<K: Key, A: Codec, B: Codec> crate::state::KeyGroupState for IntervalJoin<K, A, B> {
    fn snapshot_group(&self, group: u32) -> Option<Vec<u8>> {
        IntervalJoin::snapshot_group(self, group)
    }

    fn restore_group(&mut self, group: u32, bytes: &[u8]) -> Result<(), StateError> {
        IntervalJoin::restore_group(self, group, bytes)
    }
}

/// The encoding of one key group's buffers.
fn encode_keys<K: Key, A: Codec, B: Codec>(keys: &FastMap<K, Buffers<A, B>>) -> Vec<u8> {
    let mut out = Vec::new();
    put_varint(&mut out, keys.len() as u64);
    for (k, b) in keys {
        k.encode(&mut out);
        put_varint(&mut out, b.left.len() as u64);
        for (ts, a) in &b.left {
            ts.encode(&mut out);
            a.encode(&mut out);
        }
        put_varint(&mut out, b.right.len() as u64);
        for (ts, b) in &b.right {
            ts.encode(&mut out);
            b.encode(&mut out);
        }
    }
    out
}

impl<K: Key, A: Codec, B: Codec> crate::state::IncrementalGroups for IntervalJoin<K, A, B> {
    fn begin_snapshot(&mut self) {
        self.snapshot = Some(GroupSnapshot::new(self.groups.len()));
    }
    fn snapshot_step(&mut self, budget: std::time::Duration) -> bool {
        GroupSnapshot::step_in(&mut self.snapshot, &self.groups, budget, encode_keys)
    }
    fn take_snapshot(&mut self) -> Option<Vec<(u32, Vec<u8>)>> {
        GroupSnapshot::take_from(&mut self.snapshot, self.range.start)
    }
}
