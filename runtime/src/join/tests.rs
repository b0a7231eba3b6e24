//! The interval join against a plain loop over every pair, on random streams with a
//! watermark that trails them.

use super::{IntervalJoin, Side};
use crate::state::IncrementalGroups;
use proptest::prelude::*;

type Pair = (u64, u64, u64); // (key, a id, b id)

/// Every pair of `b.ts - a.ts` in `[lower, upper]` of one key, among elements not late.
fn reference(events: &[(bool, u64, u64, u64)], lower: i64, upper: i64) -> Vec<Pair> {
    let mut pairs = Vec::new();
    for (is_a, key, ts, id) in events {
        if !is_a {
            continue;
        }
        for (is_b, key_b, ts_b, id_b) in events {
            let d = *ts_b as i64 - *ts as i64;
            if !is_b && key == key_b && lower <= d && d <= upper {
                pairs.push((*key, *id, *id_b));
            }
        }
    }
    pairs.sort_unstable();
    pairs
}

proptest! {
    #[test]
    fn interval_join_gives_exactly_the_pairs_of_a_loop(
        raw in prop::collection::vec((any::<bool>(), 0u64..4, 0u64..200), 0..120),
        lower in -30i64..10,
        width in 0i64..40,
        disorder in 0u64..20,
    ) {
        let upper = lower + width;
        // Arrival order: by timestamp, each element up to `disorder` ms early or late.
        let mut events: Vec<(bool, u64, u64, u64)> = raw
            .iter()
            .enumerate()
            .map(|(i, &(is_a, key, ts))| (is_a, key, ts, i as u64))
            .collect();
        events.sort_by_key(|e| e.2);
        // The watermark trails the largest timestamp by `disorder`: an element more than
        // `disorder` behind it would be late; shuffle only within that bound.
        let mut join: IntervalJoin<u64, u64, u64> = IntervalJoin::new(lower, upper, 8, 0..8);
        let mut got = Vec::new();
        let mut late = Vec::new();
        let mut max_ts = 0u64;
        for chunk in events.chunks(5) {
            let mut chunk = chunk.to_vec();
            chunk.reverse(); // out of order within a chunk
            for &(is_a, key, ts, id) in &chunk {
                max_ts = max_ts.max(ts);
                let side = if is_a { Side::Left(id) } else { Side::Right(id) };
                let back = join
                    .on_element(key, ts, side, |a, b| got.push((key, *a, *b)))
                    .expect("owned key");
                if back.is_some() {
                    late.push(id);
                }
            }
            join.advance(max_ts.saturating_sub(disorder + 1));
        }
        // Late elements are left out of the reference: they were never joined.
        let on_time: Vec<_> = events.iter().copied().filter(|e| !late.contains(&e.3)).collect();
        got.sort_unstable();
        prop_assert_eq!(got, reference(&on_time, lower, upper));
        join.advance(u64::MAX);
        prop_assert_eq!(join.buffered(), 0);
    }
}

#[test]
fn an_element_at_or_before_the_watermark_is_late_and_given_back() {
    let mut join: IntervalJoin<u64, String, String> = IntervalJoin::new(-5, 5, 4, 0..4);
    join.advance(100);
    let back = join
        .on_element(1, 100, Side::Left("a".to_string()), |_, _| {
            panic!("a late element joined")
        })
        .expect("owned key");
    assert_eq!(back, Some(Side::Left("a".to_string())));
    let back = join
        .on_element(1, 101, Side::Left("a".to_string()), |_, _| {})
        .expect("owned key");
    assert_eq!(back, None);
}

#[test]
fn elements_are_dropped_once_no_future_element_can_meet_them() {
    // b.ts - a.ts in [-2, 3]: a is kept until time a.ts + 3, b until b.ts + 2.
    let mut join: IntervalJoin<u64, u64, u64> = IntervalJoin::new(-2, 3, 4, 0..4);
    join.on_element(7, 10, Side::Left(1), |_, _| {})
        .expect("owned");
    join.on_element(7, 10, Side::Right(2), |_, _| {})
        .expect("owned");
    join.advance(12);
    assert_eq!(
        join.buffered(),
        1,
        "b (kept to 12) is gone, a (to 13) is not"
    );
    join.advance(13);
    assert_eq!(join.buffered(), 0);
}

#[test]
fn a_key_outside_the_owned_groups_is_an_error() {
    let mut join: IntervalJoin<u64, u64, u64> = IntervalJoin::new(0, 1, 128, 0..0);
    assert!(join.on_element(1, 1, Side::Left(1), |_, _| {}).is_err());
}

#[test]
fn a_key_quiet_for_the_ttl_loses_its_buffers() {
    let mut join: IntervalJoin<u64, u64, u64> =
        IntervalJoin::new(0, 1_000, 1, 0..1).with_ttl(Some(50));
    join.expire(10_000);
    join.on_element(1, 10, Side::Left(1), |_, _| {})
        .expect("owned");
    join.on_element(2, 10, Side::Left(2), |_, _| {})
        .expect("owned");
    join.expire(10_040);
    join.on_element(2, 20, Side::Left(3), |_, _| {})
        .expect("owned");
    assert_eq!(
        join.expire(10_050),
        1,
        "key 1, quiet since 10,000, is swept"
    );
    assert_eq!(join.buffered(), 2);
    // Key 2 expires at 10,090: a right element after that meets nothing.
    join.expire(10_089);
    join.expire(10_090);
    let mut pairs = Vec::new();
    join.on_element(2, 30, Side::Right(9), |a, b| pairs.push((*a, *b)))
        .expect("owned");
    assert!(pairs.is_empty(), "{pairs:?}");
}

#[test]
fn a_snapshot_restores_at_another_parallelism_and_joins_on_the_same() {
    // Left elements of 40 keys, then snapshot; the right ones go to the restored tasks.
    let mut whole: IntervalJoin<u64, u64, u64> = IntervalJoin::new(-5, 5, 16, 0..16);
    for k in 0..40 {
        whole
            .on_element(k, 100 + k, Side::Left(k), |_, _| {})
            .expect("owned");
    }
    whole.advance(90);
    let snaps: Vec<(u32, Vec<u8>)> = (0..16)
        .map(|g| (g, whole.snapshot_group(g).expect("owned")))
        .collect();
    let mut tasks: Vec<IntervalJoin<u64, u64, u64>> = [0..5, 5..11, 11..16]
        .into_iter()
        .map(|r| IntervalJoin::new(-5, 5, 16, r))
        .collect();
    for (g, bytes) in &snaps {
        let t = tasks
            .iter_mut()
            .find(|t| t.key_groups().contains(g))
            .expect("a task owns every group");
        t.restore_group(*g, bytes).expect("restores");
    }
    let (mut want, mut got) = (Vec::new(), Vec::new());
    for k in 0..40 {
        whole
            .on_element(k, 103 + k, Side::Right(1000 + k), |a, b| {
                want.push((*a, *b))
            })
            .expect("owned");
        let t = tasks
            .iter_mut()
            .find(|t| crate::state::owned_group(&k, 16, &t.key_groups()).is_ok())
            .expect("a task owns every key");
        t.on_element(k, 103 + k, Side::Right(1000 + k), |a, b| got.push((*a, *b)))
            .expect("owned");
    }
    got.sort_unstable();
    want.sort_unstable();
    assert_eq!(want.len(), 40);
    assert_eq!(got, want);
    // The restored cleanup timers drop what the watermark passes.
    for t in &mut tasks {
        t.advance(200);
        assert_eq!(t.buffered(), 0);
    }
    assert!(
        tasks[0].restore_group(15, &snaps[15].1).is_err(),
        "a group another task owns"
    );
    assert!(
        tasks[2].restore_group(12, &[0xff]).is_err(),
        "a corrupt snapshot"
    );
}

#[test]
fn buffers_taken_a_group_at_a_time_are_the_buffers_at_the_barrier() {
    let mut join: IntervalJoin<u64, u64, u64> = IntervalJoin::new(-5, 5, 16, 0..16);
    for k in 0..200u64 {
        join.on_element(k, 10, Side::Left(k), |_, _| {}).unwrap();
    }
    let at_once: Vec<(u32, Vec<u8>)> = (0..16)
        .map(|g| (g, join.snapshot_group(g).unwrap()))
        .collect();
    join.begin_snapshot();
    let mut pairs = 0;
    for k in 0..200u64 {
        join.on_element(k, 12, Side::Right(k), |_, _| pairs += 1)
            .unwrap();
        if k % 30 == 0 {
            join.snapshot_step(std::time::Duration::ZERO);
        }
    }
    join.advance(1_000);
    while !join.snapshot_step(std::time::Duration::ZERO) {}
    assert_eq!(join.take_snapshot().expect("whole"), at_once);
    assert_eq!(pairs, 200, "the join went on during the snapshot");
}
