//! A spout task's tracked tuples: which message id each root belongs to, when it was
//! emitted, timeouts, and the retry policy. Pure logic, driven with explicit times by the
//! spout head (`exec::chain::SpoutHead`).

use super::latency::Histogram;
use crate::grouping::FastMap;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// Replay failed tuples in the runtime: up to `attempts` emits in all, waiting `backoff_us`
/// before the first replay and twice as long before each later one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Emits in all, the first included (at least 1).
    pub attempts: u32,
    /// Wait before the first replay, in microseconds.
    pub backoff_us: u64,
}

impl RetryPolicy {
    /// The wait before replaying after failed attempt `attempt` (1-based).
    pub fn delay_us(&self, attempt: u32) -> u64 {
        let doublings = attempt.saturating_sub(1).min(20);
        self.backoff_us.saturating_mul(1 << doublings)
    }
}

#[derive(Debug)]
struct InFlight<P> {
    msg_id: u64,
    emitted_us: u64,
    attempt: u32,
    payload: Option<P>,
}

#[derive(Debug)]
struct Waiting<P> {
    msg_id: u64,
    attempt: u32,
    payload: Option<P>,
}

/// What became of a tracked tuple.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome<P> {
    /// Its tree completed: call the spout's `ack(msg_id)`.
    Acked {
        /// The spout's message id.
        msg_id: u64,
    },
    /// It failed and will be replayed by the runtime after its backoff.
    Retrying,
    /// It failed for good: call the spout's `fail(msg_id)`; with a retry policy, `payload`
    /// goes to the spout's `failed` stream (not when the topology is stopping).
    Failed {
        /// The spout's message id.
        msg_id: u64,
        /// The tuple, for the dead-letter stream.
        payload: Option<P>,
    },
}

/// A tuple due for replay.
#[derive(Debug, PartialEq, Eq)]
pub struct Replay<P> {
    /// The spout's message id.
    pub msg_id: u64,
    /// Which attempt this replay is (2 for the first replay).
    pub attempt: u32,
    /// The tuple.
    pub payload: P,
}

/// Counters a spout task reports.
#[derive(Debug, Default)]
pub struct SpoutCounts {
    /// Trees completed.
    pub acked: u64,
    /// Trees failed (by a bolt or by timeout), each attempt counted.
    pub failed: u64,
    /// Of those, timed out.
    pub timed_out: u64,
    /// Replays emitted by the retry policy.
    pub replayed: u64,
    /// Tuples given up after their last attempt (sent to the `failed` stream).
    pub dead_lettered: u64,
    /// The most tuples in flight at once.
    pub max_in_flight: u64,
    /// Emit-to-complete latency, microseconds.
    pub latency: Histogram,
}

/// The tracked tuples of one spout task.
#[derive(Debug)]
pub struct SpoutTracker<P> {
    in_flight: FastMap<u64, InFlight<P>>,
    waiting: BinaryHeap<Reverse<(u64, u64)>>,
    waiting_items: FastMap<u64, Waiting<P>>,
    next_wait_seq: u64,
    timeout_us: u64,
    next_sweep_us: u64,
    retry: Option<RetryPolicy>,
    stopping: bool,
    /// Counters since the last report.
    pub counts: SpoutCounts,
}

impl<P> SpoutTracker<P> {
    /// A tracker timing trees out after `timeout_us`, with an optional retry policy.
    pub fn new(timeout_us: u64, retry: Option<RetryPolicy>) -> Self {
        SpoutTracker {
            in_flight: FastMap::default(),
            waiting: BinaryHeap::new(),
            waiting_items: FastMap::default(),
            next_wait_seq: 0,
            timeout_us: timeout_us.max(1),
            next_sweep_us: 0,
            retry,
            stopping: false,
            counts: SpoutCounts::default(),
        }
    }

    /// True when the runtime replays failed tuples itself (it then keeps a copy of each).
    pub fn keeps_payload(&self) -> bool {
        self.retry.is_some()
    }

    /// Tuples emitted and not yet acked, failed or timed out.
    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }

    /// Nothing in flight and nothing waiting for a replay.
    pub fn settled(&self) -> bool {
        self.in_flight.is_empty() && self.waiting_items.is_empty()
    }

    /// Records the emit of tree `root` for message `msg_id`.
    pub fn emitted(
        &mut self,
        root: u64,
        msg_id: u64,
        attempt: u32,
        payload: Option<P>,
        now_us: u64,
    ) {
        self.in_flight.insert(
            root,
            InFlight {
                msg_id,
                emitted_us: now_us,
                attempt,
                payload,
            },
        );
        self.counts.max_in_flight = self.counts.max_in_flight.max(self.in_flight.len() as u64);
    }

    /// Tree `root` completed. `None` when it is not in flight (already timed out).
    pub fn completed(&mut self, root: u64, now_us: u64) -> Option<Outcome<P>> {
        let t = self.in_flight.remove(&root)?;
        self.counts.acked += 1;
        self.counts
            .latency
            .record(now_us.saturating_sub(t.emitted_us));
        Some(Outcome::Acked { msg_id: t.msg_id })
    }

    /// Tree `root` failed. `None` when it is not in flight.
    pub fn failed(&mut self, root: u64, now_us: u64) -> Option<Outcome<P>> {
        let t = self.in_flight.remove(&root)?;
        self.counts.failed += 1;
        Some(self.after_failure(t, now_us))
    }

    fn after_failure(&mut self, t: InFlight<P>, now_us: u64) -> Outcome<P> {
        match (self.retry, t.payload) {
            (Some(policy), Some(payload)) if !self.stopping && t.attempt < policy.attempts => {
                let due = now_us.saturating_add(policy.delay_us(t.attempt));
                let seq = self.next_wait_seq;
                self.next_wait_seq += 1;
                self.waiting.push(Reverse((due, seq)));
                self.waiting_items.insert(
                    seq,
                    Waiting {
                        msg_id: t.msg_id,
                        attempt: t.attempt + 1,
                        payload: Some(payload),
                    },
                );
                Outcome::Retrying
            }
            (retry, payload) => {
                let dead = retry.is_some() && !self.stopping;
                if dead {
                    self.counts.dead_lettered += 1;
                }
                Outcome::Failed {
                    msg_id: t.msg_id,
                    payload: if dead { payload } else { None },
                }
            }
        }
    }

    /// Fails at once every tree in flight whose root `lost` says is lost (say, its acker's
    /// worker died). Returns each failed root with what became of it.
    pub fn fail_where(
        &mut self,
        now_us: u64,
        lost: &dyn Fn(u64) -> bool,
    ) -> Vec<(u64, Outcome<P>)> {
        let roots: Vec<u64> = self
            .in_flight
            .keys()
            .copied()
            .filter(|&r| lost(r))
            .collect();
        let mut out = Vec::with_capacity(roots.len());
        for root in roots {
            if let Some(t) = self.in_flight.remove(&root) {
                self.counts.failed += 1;
                out.push((root, self.after_failure(t, now_us)));
            }
        }
        out
    }

    /// Times out the trees emitted `timeout` or more ago (checked every half timeout, so
    /// a tree fails between one and one and a half timeouts after its emit). Returns each
    /// timed-out root with what became of it.
    pub fn sweep(&mut self, now_us: u64) -> Vec<(u64, Outcome<P>)> {
        if now_us < self.next_sweep_us {
            return Vec::new();
        }
        self.next_sweep_us = now_us + (self.timeout_us / 2).max(1);
        let timeout = self.timeout_us;
        let expired: Vec<u64> = self
            .in_flight
            .iter()
            .filter(|(_, t)| now_us.saturating_sub(t.emitted_us) >= timeout)
            .map(|(&root, _)| root)
            .collect();
        let mut out = Vec::with_capacity(expired.len());
        for root in expired {
            if let Some(t) = self.in_flight.remove(&root) {
                self.counts.failed += 1;
                self.counts.timed_out += 1;
                out.push((root, self.after_failure(t, now_us)));
            }
        }
        out
    }

    /// The next replay that is due at `now_us`, if any.
    pub fn due_replay(&mut self, now_us: u64) -> Option<Replay<P>> {
        let &Reverse((due, seq)) = self.waiting.peek()?;
        if due > now_us {
            return None;
        }
        self.waiting.pop();
        let w = self.waiting_items.remove(&seq)?;
        self.counts.replayed += 1;
        Some(Replay {
            msg_id: w.msg_id,
            attempt: w.attempt,
            payload: w.payload?,
        })
    }

    /// The topology is stopping: no more replays. Returns the message ids that were waiting
    /// for one (they fail now, and are not dead-lettered).
    pub fn stop(&mut self) -> Vec<u64> {
        self.stopping = true;
        self.waiting.clear();
        let mut ids: Vec<u64> = self.waiting_items.drain().map(|(_, w)| w.msg_id).collect();
        ids.sort_unstable();
        ids
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1000;

    #[test]
    fn trees_of_a_lost_acker_fail_at_once() {
        let mut t: SpoutTracker<()> = SpoutTracker::new(100 * MS, None);
        for root in 1..=6 {
            t.emitted(root, root * 10, 1, None, 0);
        }
        // Odd roots belonged to the lost acker.
        let mut failed = t.fail_where(5 * MS, &|root| root % 2 == 1);
        failed.sort_by_key(|(root, _)| *root);
        let roots: Vec<u64> = failed.iter().map(|(r, _)| *r).collect();
        assert_eq!(roots, [1, 3, 5]);
        assert!(
            failed
                .iter()
                .all(|(r, o)| matches!(o, Outcome::Failed { msg_id, .. } if *msg_id == r * 10))
        );
        assert_eq!(
            (t.in_flight(), t.counts.failed, t.counts.timed_out),
            (3, 3, 0)
        );
        assert!(t.fail_where(6 * MS, &|root| root % 2 == 1).is_empty());
    }

    #[test]
    fn timeouts_fire_between_one_and_one_and_a_half_timeouts() {
        let mut t: SpoutTracker<()> = SpoutTracker::new(100 * MS, None);
        t.emitted(1, 10, 1, None, 0);
        let mut fired_at = None;
        for now in (0..=300).map(|ms| ms * MS) {
            if let Some((root, outcome)) = t.sweep(now).pop() {
                assert_eq!(root, 1);
                assert_eq!(
                    outcome,
                    Outcome::Failed {
                        msg_id: 10,
                        payload: None
                    }
                );
                fired_at = Some(now);
                break;
            }
        }
        let at = fired_at.expect("timed out");
        assert!((100 * MS..=150 * MS).contains(&at), "{at}");
        assert_eq!(t.counts.timed_out, 1);
    }

    #[test]
    fn retries_back_off_then_dead_letter() {
        let policy = RetryPolicy {
            attempts: 3,
            backoff_us: 10 * MS,
        };
        let mut t = SpoutTracker::new(1_000 * MS, Some(policy));
        t.emitted(1, 42, 1, Some("x"), 0);
        assert_eq!(t.failed(1, 5 * MS), Some(Outcome::Retrying));
        assert_eq!(t.due_replay(14 * MS), None);
        let r = t.due_replay(15 * MS).expect("due");
        assert_eq!((r.msg_id, r.attempt, r.payload), (42, 2, "x"));
        t.emitted(2, 42, 2, Some("x"), 15 * MS);
        assert_eq!(t.failed(2, 20 * MS), Some(Outcome::Retrying));
        assert_eq!(t.due_replay(39 * MS), None, "second backoff doubles");
        let r = t.due_replay(40 * MS).expect("due");
        t.emitted(3, 42, r.attempt, Some(r.payload), 40 * MS);
        assert_eq!(
            t.failed(3, 41 * MS),
            Some(Outcome::Failed {
                msg_id: 42,
                payload: Some("x")
            })
        );
        assert!(t.settled());
        assert_eq!(t.counts.dead_lettered, 1);
        assert_eq!(t.counts.replayed, 2);
    }

    #[test]
    fn completion_after_timeout_is_ignored() {
        let mut t: SpoutTracker<()> = SpoutTracker::new(10, None);
        t.emitted(1, 1, 1, None, 0);
        assert_eq!(t.sweep(10).len(), 1);
        assert_eq!(t.completed(1, 11), None);
        assert_eq!(t.counts.acked, 0);
    }

    #[test]
    fn stopping_fails_waiting_replays_without_dead_letters() {
        let policy = RetryPolicy {
            attempts: 5,
            backoff_us: 1_000 * MS,
        };
        let mut t = SpoutTracker::new(1_000 * MS, Some(policy));
        t.emitted(1, 7, 1, Some(()), 0);
        t.emitted(2, 8, 1, Some(()), 0);
        assert_eq!(t.failed(1, 1), Some(Outcome::Retrying));
        assert_eq!(t.stop(), vec![7]);
        assert_eq!(
            t.failed(2, 2),
            Some(Outcome::Failed {
                msg_id: 8,
                payload: None
            })
        );
        assert!(t.settled());
        assert_eq!(t.counts.dead_lettered, 0);
    }
}
