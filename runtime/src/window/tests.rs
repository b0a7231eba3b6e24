//! The window operator against plain reference loops.

use super::*;
use crate::state::AggregateFunction;
use crate::state::IncrementalGroups;
use proptest::prelude::*;
use std::collections::BTreeMap;

type Ev = (u32, u64, u64); // key, timestamp, value

fn value(e: &Ev) -> u64 {
    e.2
}

fn whole<A: AggregateFunction>(assigner: Assigner, lateness: u64, agg: A) -> WindowOperator<u32, A>
where
    A::In: Clone,
{
    WindowOperator::new(assigner, lateness, agg, 128, 0..128)
}

/// Feeds `events` in order, the watermark `bound + 1` behind the largest timestamp seen
/// after each (Flink's bounded out-of-orderness); then time runs out. Returns every firing (with the time it fired at) and the late
/// elements.
#[allow(clippy::type_complexity)]
fn drive<A: AggregateFunction<In = Ev>>(
    op: &mut WindowOperator<u32, A>,
    events: &[Ev],
    bound: u64,
) -> (Vec<(u64, Fired<u32, A::Out>)>, Vec<Ev>) {
    let mut fired = Vec::new();
    let mut late = Vec::new();
    let mut out = Vec::new();
    let mut max = 0;
    for e in events {
        if let Some(back) = op.on_element(e.0, e.1, *e, &mut out).unwrap() {
            late.push(back);
        }
        max = max.max(e.1);
        let now = op.time().unwrap_or(0);
        fired.extend(out.drain(..).map(|f| (now, f)));
        // Flink's bounded out-of-orderness: everything up to `max - bound - 1` has come.
        if let Some(wm) = max.checked_sub(bound + 1) {
            op.advance(wm, &mut out);
            fired.extend(out.drain(..).map(|f| (wm, f)));
        }
    }
    op.advance(u64::MAX, &mut out);
    fired.extend(out.drain(..).map(|f| (u64::MAX, f)));
    (fired, late)
}

/// What a plain loop says: the watermark before each event, the events that are late, and
/// the sum per (key, window) of the others.
fn reference(
    assigner: Assigner,
    lateness: u64,
    events: &[Ev],
    bound: u64,
) -> (BTreeMap<(u32, Window), u64>, Vec<Ev>) {
    let mut sums = BTreeMap::new();
    let mut late = Vec::new();
    let mut wm: Option<u64> = None;
    let mut max = 0;
    let mut ws = Vec::new();
    for e in events {
        assigner.assign(e.1, &mut ws);
        let open: Vec<Window> = ws
            .iter()
            .copied()
            .filter(|w| wm.is_none_or(|t| w.max_timestamp() + lateness > t))
            .collect();
        if open.is_empty() {
            late.push(*e);
        }
        for w in open {
            *sums.entry((e.0, w)).or_insert(0) += e.2;
        }
        max = max.max(e.1);
        if let Some(t) = max.checked_sub(bound + 1) {
            wm = Some(wm.map_or(t, |w| w.max(t)));
        }
    }
    (sums, late)
}

/// Events of `keys` keys, timestamps rising by 0–20 ms with up to `disorder` ms of
/// disorder.
fn stream() -> impl Strategy<Value = (Vec<Ev>, u64)> {
    (
        1u32..6,
        0u64..300,
        prop::collection::vec((0u32..100, 0u64..20, 0u64..400, 1u64..100), 1..300),
    )
        .prop_map(|(keys, disorder, raw)| {
            let mut t = 1_000;
            let events = raw
                .into_iter()
                .map(|(k, step, back, v)| {
                    t += step;
                    (k % keys, t.saturating_sub(back % (disorder + 1)), v)
                })
                .collect();
            (events, disorder)
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn tumbling_and_sliding_windows_match_the_reference(
        (events, disorder) in stream(),
        bound in 0u64..200,
        lateness in prop::sample::select(vec![0u64, 50, 500]),
        sliding in any::<bool>(),
    ) {
        let assigner = if sliding {
            Assigner::Sliding { size: 100, slide: 25 }
        } else {
            Assigner::Tumbling { size: 100 }
        };
        let _ = disorder;
        let mut op = whole(assigner, lateness, SumAgg::new(value));
        let (fired, late) = drive(&mut op, &events, bound);
        let (sums, want_late) = reference(assigner, lateness, &events, bound);
        prop_assert_eq!(late, want_late, "late elements");
        // The last firing of each window is its reference sum; none fires early.
        let mut last = BTreeMap::new();
        for (at, f) in &fired {
            prop_assert!(*at >= f.window.max_timestamp(), "{f:?} fired at {at}");
            last.insert((f.key, f.window), f.result);
        }
        prop_assert_eq!(last, sums);
        prop_assert_eq!(op.open_windows(), 0, "every window dropped at the end");
    }

    #[test]
    fn sessions_match_the_sorted_reference_when_nothing_is_late(
        (events, disorder) in stream(),
        gap in 1u64..150,
    ) {
        // The watermark is as far behind as the disorder, so nothing is late.
        let mut op = whole(Assigner::Session { gap }, 0, SumAgg::new(value));
        let (fired, late) = drive(&mut op, &events, disorder);
        prop_assert!(late.is_empty());
        let mut last = BTreeMap::new();
        for (_, f) in &fired {
            last.insert((f.key, f.window), f.result);
        }
        // Reference: per key, sorted timestamps; a gap of `gap` or more splits.
        let mut by_key: BTreeMap<u32, Vec<(u64, u64)>> = BTreeMap::new();
        for e in &events {
            by_key.entry(e.0).or_default().push((e.1, e.2));
        }
        let mut want = BTreeMap::new();
        for (k, mut evs) in by_key {
            evs.sort_unstable();
            let mut cur: Option<(Window, u64)> = None;
            for (ts, v) in evs {
                let own = Window { start: ts, end: ts + gap };
                cur = Some(match cur {
                    Some((w, s)) if own.touches(&w) => (w.cover(&own), s + v),
                    Some((w, s)) => {
                        want.insert((k, w), s);
                        (own, v)
                    }
                    None => (own, v),
                });
            }
            if let Some((w, s)) = cur {
                want.insert((k, w), s);
            }
        }
        // A session fired before a later element merged it is superseded: compare only
        // the final sessions.
        let finals: BTreeMap<_, _> = last
            .into_iter()
            .filter(|((k, w), _)| want.contains_key(&(*k, *w)))
            .collect();
        prop_assert_eq!(finals, want);
    }
}

#[test]
fn a_late_element_within_the_lateness_fires_the_window_again_and_a_later_one_is_late() {
    let mut op = whole(Assigner::Tumbling { size: 10 }, 5, CountAgg::default());
    let mut out = Vec::new();
    assert!(op.on_element(1, 3, (1, 3, 0), &mut out).unwrap().is_none());
    op.advance(9, &mut out);
    assert_eq!(out.len(), 1, "fired at its end");
    assert_eq!(out[0].result, 1);
    out.clear();
    // At watermark 9, [0, 10) is late only from 9 + 5 = 14 on.
    assert!(op.on_element(1, 4, (1, 4, 0), &mut out).unwrap().is_none());
    assert_eq!(out.len(), 1, "fired again at once");
    assert_eq!(out[0].result, 2);
    out.clear();
    op.advance(14, &mut out);
    assert!(out.is_empty());
    assert_eq!(op.open_windows(), 0, "dropped past the lateness");
    assert_eq!(
        op.on_element(1, 5, (1, 5, 0), &mut out).unwrap(),
        Some((1, 5, 0)),
        "late"
    );
}

#[test]
fn sessions_merge_when_a_late_element_bridges_them() {
    let mut op = whole(Assigner::Session { gap: 10 }, 100, CountAgg::default());
    let mut out = Vec::new();
    for ts in [0, 5, 22] {
        op.on_element(7, ts, (7, ts, 0), &mut out).unwrap();
    }
    op.advance(50, &mut out);
    let got: Vec<(Window, u64)> = out.drain(..).map(|f| (f.window, f.result)).collect();
    assert_eq!(
        got,
        vec![
            (Window { start: 0, end: 15 }, 2),
            (Window { start: 22, end: 32 }, 1)
        ],
        "a gap of 17 ms splits two sessions"
    );
    // 14 is within 10 ms of both: one session of 4, fired at once (time is past it).
    op.on_element(7, 14, (7, 14, 0), &mut out).unwrap();
    let got: Vec<(Window, u64)> = out.drain(..).map(|f| (f.window, f.result)).collect();
    assert_eq!(got, vec![(Window { start: 0, end: 32 }, 4)]);
    assert_eq!(op.open_windows(), 1);
}

#[test]
fn count_windows_fire_every_n_elements_of_a_key() {
    let mut op = whole(Assigner::Count { n: 3 }, 0, SumAgg::new(value));
    let mut out = Vec::new();
    for (i, k) in [1, 2, 1, 1, 2, 1, 1, 2].into_iter().enumerate() {
        op.on_element(k, i as u64, (k, i as u64, i as u64), &mut out)
            .unwrap();
    }
    let got: Vec<(u32, Window, u64)> = out.iter().map(|f| (f.key, f.window, f.result)).collect();
    // Key 1's third window has two elements (5 and 6) so far: not fired.
    assert_eq!(
        got,
        vec![
            (1, Window { start: 0, end: 4 }, 5),
            (2, Window { start: 1, end: 8 }, 12)
        ]
    );
    assert_eq!(op.open_windows(), 1);
}

#[test]
fn a_snapshot_restores_the_windows_and_their_timers() {
    let mut op = whole(Assigner::Tumbling { size: 10 }, 0, SumAgg::new(value));
    let mut out = Vec::new();
    for (k, ts, v) in [(1, 1, 5), (2, 2, 7), (1, 12, 1)] {
        op.on_element(k, ts, (k, ts, v), &mut out).unwrap();
    }
    let snaps: Vec<(u32, Vec<u8>)> = (0..128)
        .map(|g| (g, op.snapshot_group(g).unwrap()))
        .collect();
    let mut back = whole(Assigner::Tumbling { size: 10 }, 0, SumAgg::new(value));
    for (g, bytes) in &snaps {
        back.restore_group(*g, bytes).unwrap();
    }
    let (mut a, mut b) = (Vec::new(), Vec::new());
    op.advance(u64::MAX, &mut a);
    back.advance(u64::MAX, &mut b);
    let key = |f: &Fired<u32, u64>| (f.key, f.window, f.result);
    let (mut a, mut b): (Vec<_>, Vec<_>) =
        (a.iter().map(key).collect(), b.iter().map(key).collect());
    a.sort_unstable();
    b.sort_unstable();
    assert_eq!(a.len(), 3);
    assert_eq!(a, b);
}

#[test]
fn windows_taken_a_group_at_a_time_are_the_windows_at_the_barrier() {
    let mut op = whole(Assigner::Tumbling { size: 10 }, 0, SumAgg::new(value));
    let mut out = Vec::new();
    for k in 0..300u32 {
        op.on_element(k, 5, (k, 5, 1), &mut out).unwrap();
    }
    let at_once: Vec<(u32, Vec<u8>)> = (0..128)
        .map(|g| (g, op.snapshot_group(g).unwrap()))
        .collect();
    op.begin_snapshot();
    // After the barrier: more elements for every key, and time passes so windows fire
    // and are dropped; a step now and then.
    for k in 0..300u32 {
        op.on_element(k, 6, (k, 6, 100), &mut out).unwrap();
        if k % 40 == 0 {
            op.snapshot_step(std::time::Duration::ZERO);
        }
    }
    op.advance(1_000, &mut out);
    while !op.snapshot_step(std::time::Duration::ZERO) {}
    assert_eq!(op.take_snapshot().expect("whole"), at_once);
    assert!(op.take_snapshot().is_none(), "taken once");
    assert_eq!(out.len(), 300, "the windows fired with every element");
}

#[test]
fn elements_exactly_a_gap_apart_are_two_sessions_in_either_order() {
    for order in [[1000u64, 1033], [1033, 1000]] {
        let mut op = whole(Assigner::Session { gap: 33 }, 0, CountAgg::default());
        let mut out = Vec::new();
        for ts in order {
            op.on_element(3, ts, (3, ts, 0), &mut out).unwrap();
        }
        op.advance(u64::MAX, &mut out);
        let got: Vec<Window> = out.iter().map(|f| f.window).collect();
        assert_eq!(
            got,
            vec![
                Window {
                    start: 1000,
                    end: 1033
                },
                Window {
                    start: 1033,
                    end: 1066
                }
            ],
            "{order:?}"
        );
    }
}

#[test]
fn a_key_quiet_for_the_ttl_loses_its_windows_on_access_and_by_the_sweep() {
    // max_parallelism 1: one key group, so one sweep looks at every key.
    let mut op = WindowOperator::new(
        Assigner::Tumbling { size: 10 },
        0,
        SumAgg::new(value),
        1,
        0..1,
    )
    .with_ttl(Some(100));
    let mut out = Vec::new();
    op.expire(1_000);
    op.on_element(1, 1, (1, 1, 5), &mut out).unwrap();
    op.on_element(2, 2, (2, 2, 7), &mut out).unwrap();
    op.expire(1_050);
    op.on_element(2, 3, (2, 3, 1), &mut out).unwrap();
    assert_eq!(op.open_windows(), 2);
    // Key 1 was last written at 1,000: gone at 1,100; key 2 (1,050) stays to 1,150.
    assert_eq!(op.expire(1_100), 1, "one key swept");
    assert_eq!(op.open_windows(), 1);
    // On access: key 2 expired at 1,150, its new element starts from nothing.
    op.expire(1_149);
    op.expire(1_150);
    assert_eq!(op.open_windows(), 0);
    op.on_element(2, 4, (2, 4, 100), &mut out).unwrap();
    op.advance(u64::MAX, &mut out);
    let got: Vec<(u32, u64)> = out.iter().map(|f| (f.key, f.result)).collect();
    assert_eq!(
        got,
        vec![(2, 100)],
        "the expired sums are not in the result"
    );
}

#[test]
fn without_a_ttl_a_quiet_key_keeps_its_windows() {
    let mut op = whole(Assigner::Tumbling { size: 10 }, 0, CountAgg::default());
    let mut out = Vec::new();
    op.expire(0);
    op.on_element(1, 1, (1, 1, 0), &mut out).unwrap();
    for g in 0..256 {
        op.expire(g * 1_000_000);
    }
    assert_eq!(op.open_windows(), 1);
}
