//! Idle-state retention for the built-in operators that keep their own per-key state
//! (windows, the interval join): with a `ttl`, a key's state that has not been written for
//! that long (processing time) is dropped, as Flink SQL's `table.exec.state.ttl` does.
//! Expired state is never used (dropped on access) and a background sweep drops the rest,
//! one key group per call. Pure: the operator's adapter feeds it the clock.

/// Processing time: the wall clock, epoch ms. Read at the edge (an operator's adapter, the
/// checkpoint driver, a keyed context with no time given); the pure code is given it.
pub fn wall_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// The clock and the time to live of one operator's keyed state.
#[derive(Debug, Clone, Default)]
pub struct Retention {
    ttl_ms: Option<u64>,
    now_ms: u64,
    sweep_next: usize,
}

impl Retention {
    /// State that lives `ttl_ms` after its last write (`None`: forever, until the operator
    /// itself drops it).
    pub fn new(ttl_ms: Option<u64>) -> Self {
        Retention {
            ttl_ms: ttl_ms.map(|t| t.max(1)),
            now_ms: 0,
            sweep_next: 0,
        }
    }

    /// The time to live, ms.
    pub fn ttl_ms(&self) -> Option<u64> {
        self.ttl_ms
    }

    /// The processing time last given (epoch ms): what a write is stamped with.
    pub fn now_ms(&self) -> u64 {
        self.now_ms
    }

    /// Processing time is `now_ms` (it never goes back).
    pub fn set_now(&mut self, now_ms: u64) {
        self.now_ms = self.now_ms.max(now_ms);
    }

    /// Whether state last written at `touched_ms` has expired.
    pub fn expired(&self, touched_ms: u64) -> bool {
        self.ttl_ms
            .is_some_and(|ttl| self.now_ms.saturating_sub(touched_ms) >= ttl)
    }

    /// The key group (an index below `groups`) the next sweep looks at; `None` without a
    /// time to live or without groups.
    fn next_sweep(&mut self, groups: usize) -> Option<usize> {
        if self.ttl_ms.is_none() || groups == 0 {
            return None;
        }
        let i = self.sweep_next % groups;
        self.sweep_next = self.sweep_next.wrapping_add(1);
        Some(i)
    }

    /// Processing time is `now_ms`: drops the entries of one of `groups` (the next in turn)
    /// whose `touched` stamp has expired; returns how many. Without a time to live, it only
    /// sets the clock.
    pub fn sweep<K, V>(
        &mut self,
        now_ms: u64,
        groups: &mut [crate::grouping::FastMap<K, V>],
        touched: impl Fn(&V) -> u64,
    ) -> usize {
        self.sweep_with(now_ms, groups, touched, |_, _| {})
    }

    /// [`sweep`](Self::sweep), calling `before` with the group it sweeps (its index and
    /// entries) first: a snapshot in progress takes the group before it changes.
    pub fn sweep_with<K, V>(
        &mut self,
        now_ms: u64,
        groups: &mut [crate::grouping::FastMap<K, V>],
        touched: impl Fn(&V) -> u64,
        before: impl FnOnce(usize, &crate::grouping::FastMap<K, V>),
    ) -> usize {
        self.set_now(now_ms);
        let Some(g) = self.next_sweep(groups.len()) else {
            return 0;
        };
        before(g, &groups[g]);
        let before = groups[g].len();
        groups[g].retain(|_, v| !self.expired(touched(v)));
        before - groups[g].len()
    }

    /// How often the adapter should tick the clock and sweep: a sixteenth of the time to
    /// live, between 10 ms and 1 s.
    pub fn tick(&self) -> Option<std::time::Duration> {
        self.ttl_ms
            .map(|t| std::time::Duration::from_millis((t / 16).clamp(10, 1_000)))
    }
}

#[cfg(test)]
mod tests {
    use super::Retention;

    #[test]
    fn state_expires_a_ttl_after_its_last_write_and_sweeps_go_round() {
        let mut r = Retention::new(Some(100));
        r.set_now(1_000);
        assert!(!r.expired(1_000));
        r.set_now(1_099);
        assert!(!r.expired(1_000));
        r.set_now(1_100);
        assert!(r.expired(1_000));
        r.set_now(50);
        assert_eq!(r.now_ms(), 1_100, "the clock never goes back");
        let sweeps: Vec<_> = (0..4).filter_map(|_| r.next_sweep(3)).collect();
        assert_eq!(sweeps, vec![0, 1, 2, 0]);
    }

    #[test]
    fn without_a_ttl_nothing_expires_and_nothing_is_swept() {
        let mut r = Retention::new(None);
        r.set_now(u64::MAX);
        assert!(!r.expired(0));
        assert_eq!(r.next_sweep(8), None);
        assert_eq!(r.tick(), None);
    }
}
