//! The roots of the tuple trees recently sent to each peer worker.
//!
//! When the link to a worker goes down, the tuples in flight to it (queued, on the wire, or
//! in its queues) may be lost, and with them the trees they belong to: waiting for those
//! trees' `message_timeout` would stall their replay for that long. So each remote sender
//! records the roots of the tracked tuples it sends, per peer, and when the link goes
//! down (or comes back, for what was sent while it was down) the worker fails those trees
//! at once. A tree that had in fact completed, or whose tuple was in fact processed, is
//! failed harmlessly (its acker ignores a fail for a tree it no longer holds) or replayed
//! once more, which at-least-once allows.
//!
//! The record is bounded: two generations per peer, the current one replaced every
//! `period` (the message timeout: an older tree has timed out anyway), each of at most
//! `cap` roots (beyond it, trees fall back to their timeout). Recording is one lock and a
//! few pushes per batch.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// The default most roots per generation and peer (8 bytes each).
pub const DEFAULT_CAP: usize = 1 << 18;

/// Two generations of roots sent to one peer.
#[derive(Debug)]
pub struct Generations {
    current: Vec<u64>,
    previous: Vec<u64>,
    started: Instant,
    period: Duration,
    cap: usize,
    /// Roots not recorded because the current generation was full.
    overflowed: u64,
}

impl Generations {
    /// Empty, the first generation starting at `now`.
    pub fn new(now: Instant, period: Duration, cap: usize) -> Generations {
        Generations {
            current: Vec::new(),
            previous: Vec::new(),
            started: now,
            period,
            cap,
            overflowed: 0,
        }
    }

    /// Records `roots` sent at `now` (the current generation becomes the previous one, and
    /// the previous one is forgotten, once `period` has passed).
    pub fn record(&mut self, now: Instant, roots: impl IntoIterator<Item = u64>) {
        if now.saturating_duration_since(self.started) >= self.period {
            self.previous = std::mem::take(&mut self.current);
            self.started = now;
        }
        for root in roots {
            if self.current.len() < self.cap {
                self.current.push(root);
            } else {
                self.overflowed += 1;
            }
        }
    }

    /// Every root recorded (both generations, possibly with repeats), forgetting them.
    pub fn take(&mut self) -> Vec<u64> {
        let mut roots = std::mem::take(&mut self.previous);
        roots.append(&mut self.current);
        roots
    }

    /// Roots not recorded because a generation was full, ever.
    pub fn overflowed(&self) -> u64 {
        self.overflowed
    }
}

/// The roots sent to one peer, shared by every sender to it.
pub type PeerRoots = Arc<Mutex<Generations>>;

/// Per peer worker, the roots recently sent to it.
#[derive(Debug)]
pub struct SentRoots {
    peers: BTreeMap<u32, PeerRoots>,
}

impl SentRoots {
    /// A record for each of `peers`, generations of `period` and at most `cap` roots.
    pub fn new(peers: impl IntoIterator<Item = u32>, period: Duration, cap: usize) -> SentRoots {
        let now = Instant::now();
        SentRoots {
            peers: peers
                .into_iter()
                .map(|p| (p, Arc::new(Mutex::new(Generations::new(now, period, cap)))))
                .collect(),
        }
    }

    /// The record of `peer` (for its senders), if it is a peer.
    pub fn peer(&self, peer: u32) -> Option<PeerRoots> {
        self.peers.get(&peer).cloned()
    }

    /// Every root recently sent to `peer`, forgetting them.
    pub fn take(&self, peer: u32) -> Vec<u64> {
        self.peers.get(&peer).map_or_else(Vec::new, |g| {
            g.lock().unwrap_or_else(PoisonError::into_inner).take()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_generations_are_kept_and_older_roots_forgotten() {
        let t0 = Instant::now();
        let period = Duration::from_secs(10);
        let mut g = Generations::new(t0, period, 100);
        g.record(t0, [1, 2]);
        g.record(t0 + Duration::from_secs(11), [3]);
        // 1 and 2 are now the previous generation: kept.
        assert_eq!(g.take(), [1, 2, 3]);
        assert!(g.take().is_empty(), "taken roots are forgotten");
        g.record(t0 + Duration::from_secs(12), [4]);
        g.record(t0 + Duration::from_secs(22), [5]);
        g.record(t0 + Duration::from_secs(33), [6]);
        // 4 is two periods old: forgotten (its tree timed out anyway).
        assert_eq!(g.take(), [5, 6]);
    }

    #[test]
    fn a_generation_is_bounded() {
        let t0 = Instant::now();
        let mut g = Generations::new(t0, Duration::from_secs(10), 3);
        g.record(t0, 0..10);
        assert_eq!(g.take(), [0, 1, 2]);
        assert_eq!(g.overflowed(), 7);
        let roots = SentRoots::new([1, 2], Duration::from_secs(1), 8);
        roots
            .peer(1)
            .expect("a peer")
            .lock()
            .expect("lock")
            .record(t0, [9]);
        assert_eq!(roots.take(1), [9]);
        assert!(roots.take(2).is_empty() && roots.take(3).is_empty());
        assert!(roots.peer(3).is_none());
    }
}
