//! Storm's even scheduler, as pure functions: which worker slots a topology gets
//! ([`choose_slots`]) and which worker runs each executor ([`place`]).
//!
//! Nimbus calls [`choose_slots`] with the cluster's supervisors, the slots other topologies
//! use and the topology's current slots, then [`place`] with the number of slots it got.
//! Both are deterministic: the same input always gives the same output, so a restarted
//! nimbus recomputes the same assignment.

use std::collections::{BTreeMap, BTreeSet};

/// A schedulable unit: executor `index` of fused chain `chain`; `chain == chains` (one
/// past the last chain) denotes acker `index`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Unit {
    /// The fused chain (or the number of chains, for an acker).
    pub chain: u32,
    /// The executor's index within its chain (or the acker's index).
    pub index: u32,
}

/// A worker slot: one port of one supervisor.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Slot {
    /// The supervisor's id.
    pub supervisor: String,
    /// The port a worker in this slot listens on.
    pub port: u32,
}

/// A supervisor as the scheduler sees it.
#[derive(Debug, Clone)]
pub struct Supervisor {
    /// Its id (unique in the cluster).
    pub id: String,
    /// The worker ports it offers (one slot each).
    pub ports: Vec<u32>,
    /// Whether its heartbeats are recent; a dead supervisor's slots are never chosen.
    pub alive: bool,
}

/// Picks up to `want` slots for a topology.
///
/// First keeps the slots of `keep` (the topology's current slots, in their order) that
/// are still offered by an alive supervisor and not in `taken` (the slots other topologies
/// use), at most `want` of them. Then adds free slots (offered by an alive supervisor, not
/// taken, not already chosen), one at a time from the supervisor that has the fewest slots
/// chosen so far, ties broken by the most free slots left, then by id; within a supervisor,
/// the lowest port first. For a fresh topology this interleaves the supervisors, the one
/// with the most free slots first, as Storm's even scheduler does.
///
/// The result lists the kept slots first (in the order of `keep`), then the new ones in the
/// order they were picked; it has no duplicates. It has fewer than `want` slots only if the
/// cluster has fewer free slots. Duplicate supervisor ids or ports are merged.
pub fn choose_slots(
    want: u32,
    supervisors: &[Supervisor],
    taken: &BTreeSet<Slot>,
    keep: &[Slot],
) -> Vec<Slot> {
    let want = want as usize;
    // Free ports per alive supervisor (ascending), before anything is chosen.
    let mut free: BTreeMap<&str, BTreeSet<u32>> = BTreeMap::new();
    for s in supervisors.iter().filter(|s| s.alive) {
        let ports = free.entry(s.id.as_str()).or_default();
        for &port in &s.ports {
            let slot = Slot {
                supervisor: s.id.clone(),
                port,
            };
            if !taken.contains(&slot) {
                ports.insert(port);
            }
        }
    }

    let mut chosen: Vec<Slot> = Vec::with_capacity(want);
    // Slots chosen per supervisor so far.
    let mut used: BTreeMap<&str, usize> = BTreeMap::new();
    for slot in keep {
        if chosen.len() == want {
            break;
        }
        // Removing the port also drops duplicates of `keep`.
        if let Some(ports) = free.get_mut(slot.supervisor.as_str())
            && ports.remove(&slot.port)
        {
            *used.entry(slot.supervisor.as_str()).or_default() += 1;
            chosen.push(slot.clone());
        }
    }

    while chosen.len() < want {
        // The supervisor with the fewest chosen slots, then the most free ones, then the
        // smallest id (BTreeMap iterates ids in order; `min_by_key` keeps the first).
        let best = free
            .iter()
            .filter(|(_, ports)| !ports.is_empty())
            .min_by_key(|&(id, ports)| {
                (
                    used.get(id).copied().unwrap_or(0),
                    std::cmp::Reverse(ports.len()),
                )
            })
            .map(|(&id, _)| id);
        let Some(id) = best else { break };
        let Some(port) = free.get_mut(id).and_then(|ports| ports.pop_first()) else {
            break;
        };
        *used.entry(id).or_default() += 1;
        chosen.push(Slot {
            supervisor: id.to_owned(),
            port,
        });
    }
    chosen
}

/// A slot to move one failed worker to, or `None` if no free slot is left.
///
/// `failed` is the slot the worker failed in; `own` the topology's slots (the failed one
/// among them); `taken` the slots other topologies use. A candidate is a slot offered by an
/// alive supervisor that is in neither `own` nor `taken`. Preferred, in order: a supervisor
/// other than the failed slot's (a worker that failed there, say because its port is
/// taken, is not placed there again while another one has room), then the supervisor with
/// the fewest of the topology's workers, then the one with the most free slots, then the
/// smallest id and port. Deterministic, like [`choose_slots`].
pub fn replacement_slot(
    supervisors: &[Supervisor],
    taken: &BTreeSet<Slot>,
    own: &[Slot],
    failed: &Slot,
) -> Option<Slot> {
    let mut free: BTreeMap<&str, BTreeSet<u32>> = BTreeMap::new();
    for s in supervisors.iter().filter(|s| s.alive) {
        for &port in &s.ports {
            let slot = Slot {
                supervisor: s.id.clone(),
                port,
            };
            if !taken.contains(&slot) && !own.contains(&slot) {
                free.entry(s.id.as_str()).or_default().insert(port);
            }
        }
    }
    let mine = |id: &str| own.iter().filter(|s| s.supervisor == id).count();
    free.iter()
        .filter_map(|(&id, ports)| ports.first().map(|&p| (id, p, ports.len())))
        .min_by_key(|&(id, _, n)| (id == failed.supervisor, mine(id), std::cmp::Reverse(n)))
        .map(|(id, port, _)| Slot {
            supervisor: id.to_owned(),
            port,
        })
}

/// Places every unit on one of `workers` workers (numbered `0..workers`).
///
/// `parallelism[c]` is chain `c`'s executor count; acker units have `chain ==
/// parallelism.len()`. The units are laid out in order (chain 0's executors, chain 1's, ...,
/// then the ackers) and dealt round-robin over the workers, continuing across chains. So:
///
/// - each chain's executors are spread evenly (per worker counts differ by at most one),
///   and a chain starts on the worker after the one the previous chain ended on, so
///   single-executor chains do not all land on worker 0; the ackers likewise;
/// - the total number of units per worker differs by at most one.
///
/// The result lists every unit exactly once, in that order, with its worker. With
/// `workers == 0` nothing can be placed and the result is empty.
pub fn place(parallelism: &[u32], ackers: u32, workers: u32) -> Vec<(Unit, u32)> {
    if workers == 0 {
        return Vec::new();
    }
    let counts = parallelism.iter().copied().chain(std::iter::once(ackers));
    let total: u64 = counts.clone().map(u64::from).sum();
    let mut out = Vec::with_capacity(usize::try_from(total).unwrap_or(0));
    let mut next = 0u32;
    for (chain, count) in counts.enumerate() {
        let chain = chain as u32;
        for index in 0..count {
            out.push((Unit { chain, index }, next));
            next = if next + 1 == workers { 0 } else { next + 1 };
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    fn sup(id: &str, ports: &[u32], alive: bool) -> Supervisor {
        Supervisor {
            id: id.to_owned(),
            ports: ports.to_vec(),
            alive,
        }
    }

    fn slot(id: &str, port: u32) -> Slot {
        Slot {
            supervisor: id.to_owned(),
            port,
        }
    }

    /// Units per (chain, worker) and per worker.
    fn loads(placed: &[(Unit, u32)], chains: usize, workers: u32) -> (Vec<Vec<u64>>, Vec<u64>) {
        let mut per_chain = vec![vec![0u64; workers as usize]; chains + 1];
        let mut total = vec![0u64; workers as usize];
        for (unit, w) in placed {
            per_chain[unit.chain as usize][*w as usize] += 1;
            total[*w as usize] += 1;
        }
        (per_chain, total)
    }

    fn spread(v: &[u64]) -> u64 {
        v.iter().max().copied().unwrap_or(0) - v.iter().min().copied().unwrap_or(0)
    }

    #[test]
    fn single_executor_chains_rotate() {
        let placed = place(&[1, 1, 1], 1, 4);
        let workers: Vec<u32> = placed.iter().map(|(_, w)| *w).collect();
        assert_eq!(workers, vec![0, 1, 2, 3]);
        assert_eq!(placed[3].0, Unit { chain: 3, index: 0 });
    }

    #[test]
    fn no_workers_places_nothing() {
        assert!(place(&[2, 3], 1, 0).is_empty());
        assert!(place(&[], 0, 3).is_empty());
    }

    #[test]
    fn one_slot_on_each_of_two_supervisors() {
        let sups = [sup("b", &[6701, 6700], true), sup("a", &[6700, 6701], true)];
        let got = choose_slots(2, &sups, &BTreeSet::new(), &[]);
        assert_eq!(got, vec![slot("a", 6700), slot("b", 6700)]);
    }

    #[test]
    fn most_free_supervisor_first() {
        let sups = [sup("a", &[1], true), sup("b", &[1, 2, 3], true)];
        let got = choose_slots(3, &sups, &BTreeSet::new(), &[]);
        assert_eq!(got, vec![slot("b", 1), slot("a", 1), slot("b", 2)]);
    }

    #[test]
    fn keeps_live_slots_and_replaces_dead_ones() {
        let sups = [
            sup("a", &[1, 2], true),
            sup("b", &[1, 2], false),
            sup("c", &[1, 2], true),
        ];
        let taken: BTreeSet<Slot> = [slot("c", 1)].into();
        // a/2 kept; b/1 is dead; c/1 was taken by another topology meanwhile.
        let keep = [slot("b", 1), slot("a", 2), slot("c", 1)];
        let got = choose_slots(3, &sups, &taken, &keep);
        // c has the fewest chosen (0), then a (1) again.
        assert_eq!(got, vec![slot("a", 2), slot("c", 2), slot("a", 1)]);
    }

    #[test]
    fn shrinking_keeps_a_prefix_of_keep() {
        let sups = [sup("a", &[1, 2], true), sup("b", &[1, 2], true)];
        let keep = [slot("b", 2), slot("a", 1), slot("a", 2)];
        let got = choose_slots(2, &sups, &BTreeSet::new(), &keep);
        assert_eq!(got, vec![slot("b", 2), slot("a", 1)]);
    }

    #[test]
    fn fewer_free_slots_than_wanted() {
        let sups = [sup("a", &[1, 2], true), sup("b", &[1], false)];
        let taken: BTreeSet<Slot> = [slot("a", 1)].into();
        assert_eq!(choose_slots(5, &sups, &taken, &[]), vec![slot("a", 2)]);
        assert!(choose_slots(0, &sups, &taken, &[slot("a", 2)]).is_empty());
    }

    #[test]
    fn a_failed_worker_moves_to_another_supervisor_when_one_has_room() {
        let sups = [sup("a", &[1, 2], true), sup("b", &[1, 2], true)];
        let own = [slot("a", 1), slot("b", 1)];
        // a/2 is free too, but the worker failed on a: b/2 it is.
        let got = replacement_slot(&sups, &BTreeSet::new(), &own, &slot("a", 1));
        assert_eq!(got, Some(slot("b", 2)));
        // Only the failed supervisor has room: another of its ports.
        let taken: BTreeSet<Slot> = [slot("b", 2)].into();
        let got = replacement_slot(&sups, &taken, &own, &slot("a", 1));
        assert_eq!(got, Some(slot("a", 2)));
        // No room anywhere, or only on dead supervisors.
        let taken: BTreeSet<Slot> = [slot("b", 2), slot("a", 2)].into();
        assert_eq!(replacement_slot(&sups, &taken, &own, &slot("a", 1)), None);
        let dead = [sup("a", &[1], true), sup("c", &[1, 2], false)];
        assert_eq!(
            replacement_slot(&dead, &BTreeSet::new(), &[slot("a", 1)], &slot("a", 1)),
            None
        );
    }

    #[test]
    fn a_replacement_prefers_the_supervisor_with_fewest_of_the_topologys_workers() {
        let sups = [
            sup("a", &[1], true),
            sup("b", &[1, 2, 3], true),
            sup("c", &[1, 2], true),
        ];
        let own = [slot("a", 1), slot("b", 1)];
        // c has none of the topology's workers.
        assert_eq!(
            replacement_slot(&sups, &BTreeSet::new(), &own, &slot("a", 1)),
            Some(slot("c", 1))
        );
    }

    fn supervisors() -> impl Strategy<Value = Vec<Supervisor>> {
        prop::collection::vec(
            (
                0u8..6,
                prop::collection::vec(0u32..6, 0..5),
                prop::bool::weighted(0.8),
            ),
            0..6,
        )
        .prop_map(|v| {
            v.into_iter()
                .map(|(id, ports, alive)| Supervisor {
                    id: format!("s{id}"),
                    ports,
                    alive,
                })
                .collect()
        })
    }

    fn slots() -> impl Strategy<Value = Vec<Slot>> {
        prop::collection::vec(
            (0u8..6, 0u32..6).prop_map(|(s, p)| slot(&format!("s{s}"), p)),
            0..12,
        )
    }

    proptest! {
        #[test]
        fn place_is_complete_balanced_and_deterministic(
            parallelism in prop::collection::vec(0u32..20, 0..8),
            ackers in 0u32..6,
            workers in 1u32..10,
        ) {
            let placed = place(&parallelism, ackers, workers);
            prop_assert_eq!(&placed, &place(&parallelism, ackers, workers));

            // Every unit exactly once, on an existing worker.
            let mut expected = BTreeSet::new();
            for (c, &p) in parallelism.iter().enumerate() {
                for i in 0..p {
                    expected.insert(Unit { chain: c as u32, index: i });
                }
            }
            for i in 0..ackers {
                expected.insert(Unit { chain: parallelism.len() as u32, index: i });
            }
            let units: Vec<Unit> = placed.iter().map(|(u, _)| *u).collect();
            let unique: BTreeSet<Unit> = units.iter().copied().collect();
            prop_assert_eq!(units.len(), unique.len());
            prop_assert_eq!(&unique, &expected);
            prop_assert!(placed.iter().all(|(_, w)| *w < workers));

            // Each chain (and the ackers) spread evenly; the total too.
            let (per_chain, total) = loads(&placed, parallelism.len(), workers);
            for counts in &per_chain {
                prop_assert!(spread(counts) <= 1, "chain counts {:?}", counts);
            }
            prop_assert!(spread(&total) <= 1, "total {:?}", total);
        }

        #[test]
        fn choose_slots_properties(
            want in 0u32..10,
            sups in supervisors(),
            taken in slots(),
            keep in slots(),
        ) {
            let taken: BTreeSet<Slot> = taken.into_iter().collect();
            let got = choose_slots(want, &sups, &taken, &keep);
            prop_assert_eq!(&got, &choose_slots(want, &sups, &taken, &keep));

            let offered: BTreeSet<Slot> = sups
                .iter()
                .filter(|s| s.alive)
                .flat_map(|s| s.ports.iter().map(|&p| slot(&s.id, p)))
                .collect();
            let free: BTreeSet<Slot> = offered.difference(&taken).cloned().collect();
            let unique: BTreeSet<Slot> = got.iter().cloned().collect();
            prop_assert_eq!(unique.len(), got.len(), "duplicates in {:?}", got);
            // Never a taken slot, a dead supervisor's or an unknown one.
            prop_assert!(unique.is_subset(&free));
            prop_assert_eq!(got.len(), (want as usize).min(free.len()));

            // Live kept slots come first, in order, as far as `want` allows.
            let mut live_keep: Vec<Slot> = Vec::new();
            for s in &keep {
                if free.contains(s) && !live_keep.contains(s) {
                    live_keep.push(s.clone());
                }
            }
            live_keep.truncate(want as usize);
            prop_assert_eq!(&got[..live_keep.len()], &live_keep[..]);

            // Without anything kept, the new slots spread: per supervisor, the counts
            // differ by at most one unless a supervisor ran out of free slots.
            if keep.is_empty() {
                let mut per: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
                for s in &free {
                    per.entry(s.supervisor.as_str()).or_default().1 += 1;
                }
                for s in &got {
                    per.entry(s.supervisor.as_str()).or_default().0 += 1;
                }
                let max = per.values().map(|(used, _)| *used).max().unwrap_or(0);
                for (id, (used, free)) in &per {
                    prop_assert!(
                        *used + 1 >= max || used == free,
                        "{} got {} of {} free, max {}: {:?}", id, used, free, max, got
                    );
                }
            }
        }
    }
}
