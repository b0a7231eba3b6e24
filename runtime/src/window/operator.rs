//! The window operator: per key, the open windows and their accumulators; timers that fire
//! and drop them as time advances.

use super::assigner::{Assigner, Window};
use crate::codec::{Codec, DecodeError, get_varint, put_varint};
use crate::grouping::FastMap;
use crate::state::{AggregateFunction, GroupSnapshot, Key, Retention, StateError};
use std::collections::BTreeMap;
use std::ops::Range;

/// A window result.
#[derive(Debug, Clone, PartialEq)]
pub struct Fired<K, O> {
    /// The key.
    pub key: K,
    /// The window.
    pub window: Window,
    /// The aggregate of its elements so far.
    pub result: O,
}

/// One open window of a key.
struct Open<Acc> {
    acc: Acc,
    /// It fired at its end (a late element within the lateness fires it again at once).
    fired: bool,
}

/// A key's windows.
struct KeyWindows<Acc> {
    windows: BTreeMap<Window, Open<Acc>>,
    /// Count windows: the elements so far and the timestamps of the first and last.
    counted: Option<(u64, u64, u64)>,
    /// When an element of the key last came (processing time, ms; with a `ttl` only).
    touched: u64,
}

impl<Acc> Default for KeyWindows<Acc> {
    fn default() -> Self {
        KeyWindows {
            windows: BTreeMap::new(),
            counted: None,
            touched: 0,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Timer {
    /// The window's end: it fires.
    Fire,
    /// Its end plus the lateness: its state is dropped.
    Cleanup,
}

/// A window operator over keys `K`, aggregating with `A`, for the key groups `range` of
/// `max_parallelism` (see the [module](super) docs for its semantics).
pub struct WindowOperator<K, A: AggregateFunction> {
    assigner: Assigner,
    lateness: u64,
    agg: A,
    max_parallelism: u32,
    range: Range<u32>,
    /// `[group - range.start]`: each key's windows.
    groups: Vec<FastMap<K, KeyWindows<A::Acc>>>,
    /// When each key's window fires, or is dropped.
    timers: BTreeMap<u64, Vec<(K, Window, Timer)>>,
    /// How far time has advanced (`None`: not at all yet).
    time: Option<u64>,
    scratch: Vec<Window>,
    /// A key's windows not written for the `ttl` are dropped.
    retention: Retention,
    /// A snapshot being taken a key group at a time.
    snapshot: Option<GroupSnapshot>,
}

impl<K, A> WindowOperator<K, A>
where
    K: Key,
    A: AggregateFunction,
    A::In: Clone,
{
    /// An operator owning key groups `range` of `max_parallelism`; `lateness` is the
    /// allowed lateness in ms (0 for processing time).
    pub fn new(
        assigner: Assigner,
        lateness: u64,
        agg: A,
        max_parallelism: u32,
        range: Range<u32>,
    ) -> Self {
        let groups = (range.start..range.end)
            .map(|_| FastMap::default())
            .collect();
        WindowOperator {
            assigner,
            lateness,
            agg,
            max_parallelism: max_parallelism.max(1),
            range,
            groups,
            timers: BTreeMap::new(),
            time: None,
            scratch: Vec::new(),
            retention: Retention::default(),
            snapshot: None,
        }
    }

    /// Copy-on-write: group `g`'s state at the barrier is encoded before it changes.
    #[inline]
    fn before_change(&mut self, g: usize) {
        GroupSnapshot::before_change_in(&mut self.snapshot, &self.groups, g, encode_keys);
    }

    /// A key's windows are dropped, fired or not, once no element of the key has come for
    /// `ttl_ms` of processing time (the clock is [`WindowOperator::expire`]'s).
    pub fn with_ttl(mut self, ttl_ms: Option<u64>) -> Self {
        self.retention = Retention::new(ttl_ms);
        self
    }

    /// Processing time is `now_ms`: the keys of one key group (the next in turn) that have
    /// had no element for the `ttl` lose their windows; returns how many keys did. Without a
    /// `ttl`, it only sets the clock.
    pub fn expire(&mut self, now_ms: u64) -> usize {
        // A group a snapshot in progress has not taken yet is taken before it is swept.
        let snapshot = &mut self.snapshot;
        self.retention.sweep_with(
            now_ms,
            &mut self.groups,
            |s| s.touched,
            |g, keys| {
                if let Some(s) = snapshot {
                    s.take(g, || encode_keys(keys));
                }
            },
        )
    }

    /// A key whose windows have expired loses them before a new element comes in.
    fn expire_key(&mut self, g: usize, key: &K) {
        if self.retention.ttl_ms().is_some()
            && self.groups[g]
                .get(key)
                .is_some_and(|s| self.retention.expired(s.touched))
        {
            self.before_change(g);
            self.groups[g].remove(key);
        }
    }

    /// How far time has advanced.
    pub fn time(&self) -> Option<u64> {
        self.time
    }

    /// The open windows of every key.
    pub fn open_windows(&self) -> usize {
        self.groups
            .iter()
            .flat_map(|g| g.values())
            .map(|k| k.windows.len())
            .sum()
    }

    fn group(&self, key: &K) -> Result<usize, StateError> {
        crate::state::owned_group(key, self.max_parallelism, &self.range)
            .map(|g| (g - self.range.start) as usize)
    }

    fn is_late(&self, w: &Window) -> bool {
        self.time
            .is_some_and(|t| w.max_timestamp().saturating_add(self.lateness) <= t)
    }

    fn timer(&mut self, at: u64, key: &K, w: Window, kind: Timer) {
        self.timers
            .entry(at)
            .or_default()
            .push((key.clone(), w, kind));
    }

    /// Adds an element of `key` at `ts`; results that fire at once (a late element within
    /// the lateness, a full count window) are pushed to `out`. `Ok(Some(value))`: the
    /// element is late (every window it belongs to is past its lateness): it was not added,
    /// and is given back for the late output.
    pub fn on_element(
        &mut self,
        key: K,
        ts: u64,
        value: A::In,
        out: &mut Vec<Fired<K, A::Out>>,
    ) -> Result<Option<A::In>, StateError> {
        let g = self.group(&key)?;
        self.expire_key(g, &key);
        if let Assigner::Count { n } = self.assigner {
            self.count(g, key, ts, value, n.max(1), out);
            return Ok(None);
        }
        let mut windows = std::mem::take(&mut self.scratch);
        self.assigner.assign(ts, &mut windows);
        let late = if self.assigner.merges() {
            self.add_merging(g, key, windows[0], value, out)
        } else {
            windows.retain(|w| !self.is_late(w));
            match windows.split_last() {
                None => Some(value),
                Some((&last, rest)) => {
                    // One clone per extra window (sliding windows); none for tumbling.
                    for &w in rest {
                        self.add(g, &key, w, value.clone(), out);
                    }
                    self.add(g, &key, last, value, out);
                    None
                }
            }
        };
        self.scratch = windows;
        Ok(late)
    }

    fn count(
        &mut self,
        g: usize,
        key: K,
        ts: u64,
        value: A::In,
        n: u64,
        out: &mut Vec<Fired<K, A::Out>>,
    ) {
        self.before_change(g);
        let agg = &self.agg;
        let state = self.groups[g].entry(key.clone()).or_default();
        state.touched = self.retention.now_ms();
        let w = Window { start: 0, end: 1 };
        let open = state.windows.entry(w).or_insert_with(|| Open {
            acc: agg.create(),
            fired: false,
        });
        agg.add(&mut open.acc, value);
        let (seen, first, last) = state.counted.get_or_insert((0, ts, ts));
        *seen += 1;
        *first = (*first).min(ts);
        *last = (*last).max(ts);
        if *seen >= n {
            let window = Window {
                start: *first,
                end: last.saturating_add(1),
            };
            if let Some(open) = state.windows.remove(&w) {
                out.push(Fired {
                    key,
                    window,
                    result: agg.result(&open.acc),
                });
            }
            state.counted = None;
        }
    }

    fn add(&mut self, g: usize, key: &K, w: Window, value: A::In, out: &mut Vec<Fired<K, A::Out>>) {
        self.before_change(g);
        let agg = &self.agg;
        let state = self.groups[g].entry(key.clone()).or_default();
        state.touched = self.retention.now_ms();
        let created = !state.windows.contains_key(&w);
        let open = state.windows.entry(w).or_insert_with(|| Open {
            acc: agg.create(),
            fired: false,
        });
        agg.add(&mut open.acc, value);
        let due = self.time.is_some_and(|t| t >= w.max_timestamp());
        if due {
            // Late, within the lateness: the updated result fires at once.
            open.fired = true;
            out.push(Fired {
                key: key.clone(),
                window: w,
                result: agg.result(&open.acc),
            });
        }
        if created {
            if !due {
                self.timer(w.max_timestamp(), key, w, Timer::Fire);
            }
            self.timer(
                w.max_timestamp().saturating_add(self.lateness),
                key,
                w,
                Timer::Cleanup,
            );
        }
    }

    fn add_merging(
        &mut self,
        g: usize,
        key: K,
        own: Window,
        value: A::In,
        out: &mut Vec<Fired<K, A::Out>>,
    ) -> Option<A::In> {
        let existing: Vec<Window> = self.groups[g]
            .get(&key)
            .map(|s| {
                s.windows
                    .keys()
                    .filter(|w| w.touches(&own))
                    .copied()
                    .collect()
            })
            .unwrap_or_default();
        let merged = existing.iter().fold(own, |m, w| m.cover(w));
        if self.is_late(&merged) {
            return Some(value);
        }
        self.before_change(g);
        let agg = &self.agg;
        let state = self.groups[g].entry(key.clone()).or_default();
        state.touched = self.retention.now_ms();
        let mut acc = agg.create();
        let mut fired = false;
        for w in &existing {
            if let Some(old) = state.windows.remove(w) {
                agg.merge(&mut acc, old.acc);
                fired |= old.fired && *w == merged;
            }
        }
        agg.add(&mut acc, value);
        state.windows.insert(merged, Open { acc, fired });
        let was_there = existing.contains(&merged);
        let due = self.time.is_some_and(|t| t >= merged.max_timestamp());
        if due {
            if let Some(open) = state.windows.get_mut(&merged) {
                open.fired = true;
                out.push(Fired {
                    key: key.clone(),
                    window: merged,
                    result: agg.result(&open.acc),
                });
            }
        } else if !was_there {
            self.timer(merged.max_timestamp(), &key, merged, Timer::Fire);
        }
        if !was_there {
            self.timer(
                merged.max_timestamp().saturating_add(self.lateness),
                &key,
                merged,
                Timer::Cleanup,
            );
        }
        None
    }

    /// Time advances to `t` (a watermark, or the processing-time clock): the windows whose
    /// end it reaches fire (pushed to `out`, in time order), and those past their lateness
    /// are dropped. Time never goes back: an older `t` changes nothing.
    pub fn advance(&mut self, t: u64, out: &mut Vec<Fired<K, A::Out>>) {
        if self.time.is_some_and(|now| t <= now) {
            return;
        }
        self.time = Some(t);
        while let Some(entry) = self.timers.first_entry() {
            if *entry.key() > t {
                break;
            }
            for (key, w, kind) in entry.remove() {
                let Ok(g) = self.group(&key) else { continue };
                self.before_change(g);
                let Some(state) = self.groups[g].get_mut(&key) else {
                    continue;
                };
                if self.retention.expired(state.touched) {
                    // Expired state is never used: it does not fire either.
                    self.groups[g].remove(&key);
                    continue;
                }
                match kind {
                    Timer::Fire => {
                        if let Some(open) = state.windows.get_mut(&w)
                            && !open.fired
                        {
                            open.fired = true;
                            out.push(Fired {
                                key: key.clone(),
                                window: w,
                                result: self.agg.result(&open.acc),
                            });
                        }
                    }
                    Timer::Cleanup => {
                        state.windows.remove(&w);
                    }
                }
                if state.windows.is_empty() && state.counted.is_none() {
                    self.groups[g].remove(&key);
                }
            }
        }
    }

    /// The encoding of key group `group`'s windows (`None` if not owned).
    pub fn snapshot_group(&self, group: u32) -> Option<Vec<u8>> {
        let keys = self
            .groups
            .get(group.checked_sub(self.range.start)? as usize)?;
        Some(encode_keys(keys))
    }

    /// Restores key group `group` from a snapshot, and the timers of its windows.
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
        let input = &mut bytes;
        let n = get_varint(input).map_err(corrupt)?;
        for _ in 0..n {
            let key = K::decode(input).map_err(corrupt)?;
            let counted = Option::<(u64, u64, u64)>::decode(input).map_err(corrupt)?;
            let m = get_varint(input).map_err(corrupt)?;
            let mut windows = BTreeMap::new();
            for _ in 0..m {
                let w = Window::decode(input).map_err(corrupt)?;
                let fired = bool::decode(input).map_err(corrupt)?;
                let acc = A::Acc::decode(input).map_err(corrupt)?;
                windows.insert(w, Open { acc, fired });
            }
            if counted.is_none() {
                for (w, open) in &windows {
                    if !open.fired {
                        self.timer(w.max_timestamp(), &key, *w, Timer::Fire);
                    }
                    let at = w.max_timestamp().saturating_add(self.lateness);
                    self.timer(at, &key, *w, Timer::Cleanup);
                }
            }
            let touched = self.retention.now_ms();
            self.groups[i].insert(
                key,
                KeyWindows {
                    windows,
                    counted,
                    touched,
                },
            );
        }
        Ok(())
    }
}

impl<K, A> crate::state::KeyGroupState for WindowOperator<K, A>
where
    K: Key,
    A: AggregateFunction,
    A::In: Clone,
{
    fn snapshot_group(&self, group: u32) -> Option<Vec<u8>> {
        WindowOperator::snapshot_group(self, group)
    }

    fn restore_group(&mut self, group: u32, bytes: &[u8]) -> Result<(), StateError> {
        WindowOperator::restore_group(self, group, bytes)
    }
}

/// The encoding of one key group's windows.
fn encode_keys<K: Key, Acc: Codec>(keys: &FastMap<K, KeyWindows<Acc>>) -> Vec<u8> {
    let mut out = Vec::new();
    put_varint(&mut out, keys.len() as u64);
    for (k, s) in keys {
        k.encode(&mut out);
        s.counted.encode(&mut out);
        put_varint(&mut out, s.windows.len() as u64);
        for (w, open) in &s.windows {
            w.encode(&mut out);
            open.fired.encode(&mut out);
            open.acc.encode(&mut out);
        }
    }
    out
}

impl<K, A> crate::state::IncrementalGroups for WindowOperator<K, A>
where
    K: Key,
    A: AggregateFunction,
    A::In: Clone,
{
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
