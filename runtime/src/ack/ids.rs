//! What a tracked tuple carries ([`TupleIds`]), the handle a bolt keeps to ack an input
//! later ([`Anchor`]), and the per-emit bookkeeping that creates child edges
//! ([`Anchoring`]).

use crate::rng::Rng;

/// The tuple trees a tuple belongs to: per root id, the tuple's edge id in that tree.
/// Untracked tuples carry [`TupleIds::None`]; almost every tracked tuple has one root.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum TupleIds {
    /// Not tracked (unanchored, or acking is off).
    #[default]
    None,
    /// One tree: `(root, edge)`.
    One((u64, u64)),
    /// Several trees (the tuple was anchored to inputs from different spout tuples):
    /// `(root, edge)` pairs with distinct roots.
    Many(Vec<(u64, u64)>),
}

impl TupleIds {
    /// True when the tuple is not tracked.
    pub fn is_none(&self) -> bool {
        matches!(self, TupleIds::None)
    }

    /// The `(root, edge)` pairs.
    pub fn pairs(&self) -> &[(u64, u64)] {
        match self {
            TupleIds::None => &[],
            TupleIds::One(pair) => std::slice::from_ref(pair),
            TupleIds::Many(v) => v,
        }
    }

    /// XORs `edge` into the entry of `root`, adding the root if it is new.
    #[inline]
    pub fn xor(&mut self, root: u64, edge: u64) {
        match self {
            TupleIds::None => *self = TupleIds::One((root, edge)),
            TupleIds::One((r, e)) if *r == root => *e ^= edge,
            TupleIds::One(pair) => *self = TupleIds::Many(vec![*pair, (root, edge)]),
            TupleIds::Many(v) => match v.iter_mut().find(|(r, _)| *r == root) {
                Some((_, e)) => *e ^= edge,
                None => v.push((root, edge)),
            },
        }
    }
}

/// A bolt's handle on an input tuple it has not acked yet (Storm's anchor). It keeps the
/// input's tuple trees open until it is given to [`Emitter::ack`](crate::Emitter::ack) or
/// [`Emitter::fail`](crate::Emitter::fail). Dropping it without either leaves the trees
/// open until `message_timeout` fails them.
///
/// Anchors are not `Clone`: each one must be acked exactly once.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Anchor {
    pub(crate) ids: TupleIds,
    /// XOR of the edges of the tuples emitted anchored to it.
    pub(crate) ack_val: u64,
    /// Set when a fused downstream operator failed while processing a child.
    pub(crate) failed: bool,
}

impl Anchor {
    /// An anchor on nothing: acking or failing it does nothing (what
    /// [`Emitter::anchor`](crate::Emitter::anchor) returns when acking is off).
    pub fn none() -> Self {
        Anchor::default()
    }

    /// The anchor of a received tuple.
    pub(crate) fn of(ids: TupleIds) -> Self {
        Anchor {
            ids,
            ack_val: 0,
            failed: false,
        }
    }

    /// True when it tracks nothing.
    pub fn is_none(&self) -> bool {
        self.ids.is_none()
    }

    /// What acking it tells the ackers: per root, the input's edge XOR its children's.
    pub(crate) fn ack_values(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.ids
            .pairs()
            .iter()
            .map(move |&(root, edge)| (root, edge ^ self.ack_val))
    }

    /// The roots it belongs to.
    pub(crate) fn roots(&self) -> impl Iterator<Item = u64> + '_ {
        self.ids.pairs().iter().map(|&(root, _)| root)
    }
}

/// The anchors of one emit and the generator for new edges: every tuple copy that leaves
/// for a task gets fresh edge ids from [`child_ids`](Anchoring::child_ids).
#[derive(Debug)]
pub struct Anchoring<'a> {
    anchors: &'a mut [Anchor],
    rng: &'a mut Rng,
}

impl<'a> Anchoring<'a> {
    /// Emits anchored to `anchors`, drawing edge ids from `rng`.
    pub fn new(anchors: &'a mut [Anchor], rng: &'a mut Rng) -> Self {
        Anchoring { anchors, rng }
    }

    /// The ids of one new tuple copy: one fresh edge per anchor, XORed into that anchor's
    /// ack value and into the copy's id for each of the anchor's roots (Storm's scheme).
    #[inline]
    pub fn child_ids(&mut self) -> TupleIds {
        if let [one] = &mut *self.anchors
            && let TupleIds::One((root, _)) = one.ids
        {
            let edge = self.rng.next_id();
            one.ack_val ^= edge;
            return TupleIds::One((root, edge));
        }
        let mut ids = TupleIds::None;
        for a in self.anchors.iter_mut() {
            if a.ids.is_none() {
                continue;
            }
            let edge = self.rng.next_id();
            a.ack_val ^= edge;
            for &(root, _) in a.ids.pairs() {
                ids.xor(root, edge);
            }
        }
        ids
    }

    /// The same anchoring, borrowed again (to pass it down a chain).
    #[inline]
    pub fn reborrow(&mut self) -> Anchoring<'_> {
        Anchoring {
            anchors: self.anchors,
            rng: self.rng,
        }
    }

    /// Marks every anchor failed: the operator that processed the tuple failed it.
    pub fn fail(&mut self) {
        for a in self.anchors.iter_mut() {
            a.failed = true;
        }
    }

    /// The generator (for an operator that takes its own anchor on the tuple).
    pub(crate) fn rng(&mut self) -> &mut Rng {
        self.rng
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_child_of_two_roots_carries_both() {
        let mut rng = Rng::seeded(1);
        let mut a = [
            Anchor::of(TupleIds::One((10, 111))),
            Anchor::of(TupleIds::One((20, 222))),
        ];
        let ids = Anchoring::new(&mut a, &mut rng).child_ids();
        let pairs = ids.pairs();
        assert_eq!(pairs.len(), 2);
        assert_eq!(pairs[0].1, a[0].ack_val);
        assert_eq!(pairs[1].1, a[1].ack_val);
    }

    #[test]
    fn two_anchors_on_one_root_xor_into_one_entry() {
        let mut rng = Rng::seeded(2);
        let mut a = [
            Anchor::of(TupleIds::One((10, 1))),
            Anchor::of(TupleIds::One((10, 2))),
        ];
        let ids = Anchoring::new(&mut a, &mut rng).child_ids();
        assert_eq!(ids, TupleIds::One((10, a[0].ack_val ^ a[1].ack_val)));
    }
}
