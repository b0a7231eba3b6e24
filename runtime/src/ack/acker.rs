//! The acker: one XOR per tuple tree, keyed by root id. Pure logic (no threads, no clock of
//! its own): [`AckerState::handle`] takes a message and the time, and says which spout task
//! to tell what. The acker executor (`exec::acker_executor`) drives it.

use crate::api::TaskId;
use crate::grouping::FastMap;

/// What tasks tell an acker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AckerMsg {
    /// A spout task emitted a tracked tuple: `val` is the XOR of the edges it created.
    Init {
        /// The tree's root id.
        root: u64,
        /// XOR of the edge ids of the tuple copies the spout sent.
        val: u64,
        /// The spout task to tell when the tree completes or fails.
        spout: TaskId,
    },
    /// A bolt acked an input of tree `root`: its edge XOR the edges of its children.
    Ack {
        /// The tree's root id.
        root: u64,
        /// The value to XOR in.
        val: u64,
    },
    /// A bolt failed an input of tree `root`: the whole tree fails now.
    Fail {
        /// The tree's root id.
        root: u64,
    },
    /// The spout timed the tree out (it already knows): drop it.
    Forget {
        /// The tree's root id.
        root: u64,
    },
}

impl AckerMsg {
    /// The tree the message is about.
    pub fn root(&self) -> u64 {
        match *self {
            AckerMsg::Init { root, .. }
            | AckerMsg::Ack { root, .. }
            | AckerMsg::Fail { root }
            | AckerMsg::Forget { root } => root,
        }
    }
}

/// What an acker tells a spout task about one of its trees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reply {
    /// Every tuple of the tree was acked.
    Complete(u64),
    /// A bolt failed a tuple of the tree.
    Failed(u64),
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    val: u64,
    spout: Option<TaskId>,
    since_us: u64,
}

#[derive(Debug, Clone, Copy)]
struct Tombstone {
    since_us: u64,
    /// The spout has been told (or told us): a late `Init` needs no reply.
    notified: bool,
}

/// One acker task's state: the trees in flight, and recently failed trees whose late
/// messages must be ignored.
#[derive(Debug)]
pub struct AckerState {
    pending: FastMap<u64, Entry>,
    failed: FastMap<u64, Tombstone>,
    timeout_us: u64,
    next_sweep_us: u64,
    expired: u64,
}

impl AckerState {
    /// An acker whose trees expire `timeout_us` after their first message.
    pub fn new(timeout_us: u64) -> Self {
        AckerState {
            pending: FastMap::default(),
            failed: FastMap::default(),
            timeout_us: timeout_us.max(1),
            next_sweep_us: 0,
            expired: 0,
        }
    }

    /// Trees in flight.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// Trees dropped because they were not completed in time.
    pub fn expired(&self) -> u64 {
        self.expired
    }

    /// Takes one message at time `now_us`; returns the spout task to tell and what.
    pub fn handle(&mut self, msg: AckerMsg, now_us: u64) -> Option<(TaskId, Reply)> {
        let root = msg.root();
        // Tombstones are rare: an empty map is not even hashed into.
        if !self.failed.is_empty()
            && let Some(t) = self.failed.get_mut(&root)
        {
            // A failed tree: its stragglers are ignored; a late Init learns of the failure.
            if let AckerMsg::Init { spout, .. } = msg
                && !t.notified
            {
                t.notified = true;
                return Some((spout, Reply::Failed(root)));
            }
            return None;
        }
        match msg {
            AckerMsg::Init { val, spout, .. } => self.xor(root, val, Some(spout), now_us),
            AckerMsg::Ack { val, .. } => self.xor(root, val, None, now_us),
            AckerMsg::Fail { .. } => {
                let spout = self.pending.remove(&root).and_then(|e| e.spout);
                self.tombstone(root, now_us, spout.is_some());
                spout.map(|s| (s, Reply::Failed(root)))
            }
            AckerMsg::Forget { .. } => {
                self.pending.remove(&root);
                self.tombstone(root, now_us, true);
                None
            }
        }
    }

    /// XORs `val` into tree `root` (learning its spout from an `Init`), in one map lookup:
    /// a tree whose value is back to 0 once its spout is known is complete and dropped.
    fn xor(
        &mut self,
        root: u64,
        val: u64,
        spout: Option<TaskId>,
        now_us: u64,
    ) -> Option<(TaskId, Reply)> {
        use std::collections::hash_map::Entry as Slot;
        match self.pending.entry(root) {
            Slot::Occupied(mut slot) => {
                let e = slot.get_mut();
                e.val ^= val;
                if spout.is_some() {
                    e.spout = spout;
                }
                match e.spout {
                    Some(s) if e.val == 0 => {
                        slot.remove();
                        Some((s, Reply::Complete(root)))
                    }
                    _ => None,
                }
            }
            Slot::Vacant(slot) => match spout {
                // Every edge acked before the Init came: complete at once.
                Some(s) if val == 0 => Some((s, Reply::Complete(root))),
                _ => {
                    slot.insert(Entry {
                        val,
                        spout,
                        since_us: now_us,
                    });
                    None
                }
            },
        }
    }

    fn tombstone(&mut self, root: u64, now_us: u64, notified: bool) {
        self.failed.insert(
            root,
            Tombstone {
                since_us: now_us,
                notified,
            },
        );
    }

    /// Drops trees older than the timeout (the spout times them out itself) and forgets
    /// failed trees after twice the timeout. Cheap to call often: it scans at most every
    /// half timeout.
    pub fn sweep(&mut self, now_us: u64) {
        if now_us < self.next_sweep_us {
            return;
        }
        self.next_sweep_us = now_us + (self.timeout_us / 2).max(1);
        let timeout = self.timeout_us;
        let before = self.pending.len();
        self.pending
            .retain(|_, e| now_us.saturating_sub(e.since_us) < timeout);
        self.expired += (before - self.pending.len()) as u64;
        self.failed
            .retain(|_, t| now_us.saturating_sub(t.since_us) < 2 * timeout);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ack::ids::{Anchor, Anchoring, TupleIds};
    use crate::rng::Rng;
    use proptest::prelude::*;

    /// A random tuple tree, described by the fan-out of each node in breadth-first order.
    #[derive(Debug, Clone)]
    struct Shape {
        fanouts: Vec<usize>,
    }

    fn shape() -> impl Strategy<Value = Shape> {
        // Depth up to 4, fan-out 0..=5: generate per level, cap the node count.
        proptest::collection::vec(0usize..=5, 1..200).prop_map(|fanouts| Shape { fanouts })
    }

    /// Builds the tree as the runtime would: the spout sends `root_copies` copies; each
    /// node, when processed, emits `fanout` children anchored to itself. Returns every
    /// acker message in creation order (Init first), each tagged with the node that must be
    /// processed before it can be sent (`None` for the Init).
    fn messages(shape: &Shape, seed: u64) -> (Vec<AckerMsg>, usize) {
        let mut rng = Rng::seeded(seed);
        let root = rng.next_id();
        let mut spout = [Anchor::of(TupleIds::One((root, 0)))];
        let copies = shape.fanouts[0].max(1);
        let mut queue: Vec<(TupleIds, usize)> = Vec::new();
        {
            let mut a = Anchoring::new(&mut spout, &mut rng);
            for _ in 0..copies {
                queue.push((a.child_ids(), 1));
            }
        }
        let mut msgs = vec![AckerMsg::Init {
            root,
            val: spout[0].ack_val,
            spout: 7,
        }];
        let mut next = 1;
        let mut i = 0;
        while i < queue.len() {
            let (ids, depth) = queue[i].clone();
            let mut input = [Anchor::of(ids)];
            let fanout = if depth < 4 {
                let f = shape.fanouts.get(next).copied().unwrap_or(0);
                next += 1;
                f
            } else {
                0
            };
            {
                let mut a = Anchoring::new(&mut input, &mut rng);
                for _ in 0..fanout {
                    let child = a.child_ids();
                    queue.push((child, depth + 1));
                }
            }
            for (root, val) in input[0].ack_values() {
                msgs.push(AckerMsg::Ack { root, val });
            }
            i += 1;
        }
        let n = msgs.len();
        (msgs, n)
    }

    proptest! {
        /// Random trees (fan-out 0-5, depth up to 4) acked in random orders: the acker
        /// reports completion exactly when the last message is in, never before.
        #[test]
        fn completion_exactly_when_every_edge_is_acked(
            s in shape(),
            seed in any::<u64>(),
            order_seed in any::<u64>(),
        ) {
            let (mut msgs, n) = messages(&s, seed);
            // Any order: the acker must not depend on Init arriving first.
            let mut r = Rng::seeded(order_seed);
            for i in (1..msgs.len()).rev() {
                let j = (r.next_u64() % (i as u64 + 1)) as usize;
                msgs.swap(i, j);
            }
            let mut acker = AckerState::new(1_000_000);
            for (k, m) in msgs.iter().enumerate() {
                let reply = acker.handle(*m, 0);
                if k + 1 < n {
                    prop_assert_eq!(reply, None, "completed after {} of {} messages", k + 1, n);
                    prop_assert_eq!(acker.pending(), 1);
                } else {
                    prop_assert!(matches!(reply, Some((7, Reply::Complete(_)))), "last message: {:?}", reply);
                    prop_assert_eq!(acker.pending(), 0);
                }
            }
        }

        /// Leaving out any one ack keeps the tree open.
        #[test]
        fn a_missing_ack_never_completes(s in shape(), seed in any::<u64>(), skip in any::<prop::sample::Index>()) {
            let (msgs, n) = messages(&s, seed);
            let skip = skip.index(n);
            let mut acker = AckerState::new(1_000_000);
            for (k, m) in msgs.iter().enumerate() {
                if k != skip {
                    prop_assert_eq!(acker.handle(*m, 0), None);
                }
            }
            prop_assert_eq!(acker.pending(), 1);
        }

        /// A fail anywhere fails the tree once; later messages are ignored and nothing leaks.
        #[test]
        fn a_fail_fails_once_and_leaves_nothing(s in shape(), seed in any::<u64>(), at in any::<prop::sample::Index>()) {
            let (mut msgs, n) = messages(&s, seed);
            let at = at.index(n);
            let root = msgs[0].root();
            msgs.insert(at, AckerMsg::Fail { root });
            let mut acker = AckerState::new(1_000_000);
            let mut failed = 0;
            for m in &msgs {
                match acker.handle(*m, 0) {
                    Some((7, Reply::Failed(r))) if r == root => failed += 1,
                    None => {}
                    other => prop_assert!(false, "unexpected {:?}", other),
                }
            }
            prop_assert_eq!(failed, 1);
            prop_assert_eq!(acker.pending(), 0);
        }
    }

    #[test]
    fn unfinished_trees_expire_and_tombstones_go_after_twice_the_timeout() {
        let mut acker = AckerState::new(100);
        acker.handle(
            AckerMsg::Init {
                root: 1,
                val: 5,
                spout: 1,
            },
            0,
        );
        acker.handle(AckerMsg::Fail { root: 2 }, 0);
        acker.sweep(99);
        assert_eq!(acker.pending(), 1);
        acker.sweep(150);
        assert_eq!(acker.pending(), 0);
        assert_eq!(acker.expired(), 1);
        assert_eq!(acker.failed.len(), 1);
        acker.sweep(250);
        assert_eq!(acker.failed.len(), 0);
    }
}
