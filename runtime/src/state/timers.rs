//! Event-time timers of a keyed bolt (Flink's `TimerService`): per key, times at which
//! its `on_timer` runs once the watermark reaches them. One timer per (key, time).

use crate::grouping::FastSet;
use std::collections::BTreeMap;
use std::hash::Hash;

/// The timers of one task.
#[derive(Debug)]
pub struct Timers<K> {
    by_time: BTreeMap<u64, FastSet<K>>,
}

impl<K> Default for Timers<K> {
    fn default() -> Self {
        Timers {
            by_time: BTreeMap::new(),
        }
    }
}

impl<K: Hash + Eq + Clone> Timers<K> {
    /// A timer for `key` at `ts` (again: still one).
    pub fn register(&mut self, key: &K, ts: u64) {
        self.by_time.entry(ts).or_default().insert(key.clone());
    }

    /// Removes the timer of `key` at `ts`, if there is one.
    pub fn delete(&mut self, key: &K, ts: u64) {
        if let Some(keys) = self.by_time.get_mut(&ts) {
            keys.remove(key);
            if keys.is_empty() {
                self.by_time.remove(&ts);
            }
        }
    }

    /// Takes the earliest timer at or before `watermark`.
    pub fn pop_due(&mut self, watermark: u64) -> Option<(u64, K)> {
        let mut entry = self.by_time.first_entry()?;
        let ts = *entry.key();
        if ts > watermark {
            return None;
        }
        let key = entry.get().iter().next().cloned()?;
        entry.get_mut().remove(&key);
        if entry.get().is_empty() {
            entry.remove();
        }
        Some((ts, key))
    }

    /// How many timers are set.
    pub fn len(&self) -> usize {
        self.by_time.values().map(|k| k.len()).sum()
    }

    /// True when none is set.
    pub fn is_empty(&self) -> bool {
        self.by_time.is_empty()
    }

    /// Every timer, as (time, key), in time order (for a snapshot).
    pub fn iter(&self) -> impl Iterator<Item = (u64, &K)> {
        self.by_time
            .iter()
            .flat_map(|(ts, keys)| keys.iter().map(move |k| (*ts, k)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timers_fire_in_time_order_once_per_key_and_time() {
        let mut t = Timers::default();
        t.register(&"a", 20);
        t.register(&"b", 10);
        t.register(&"a", 20);
        t.register(&"c", 30);
        t.delete(&"c", 30);
        assert_eq!(t.len(), 2);
        assert_eq!(t.pop_due(5), None);
        assert_eq!(t.pop_due(25), Some((10, "b")));
        assert_eq!(t.pop_due(25), Some((20, "a")));
        assert_eq!(t.pop_due(u64::MAX), None);
        assert!(t.is_empty());
    }
}
