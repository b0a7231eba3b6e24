//! Every window aggregation (`min`, `max`, `avg` on sliding windows, `reduce`,
//! `aggregate(T)`, `apply(T)`, `count_window`) against a plain loop over the same readings,
//! with known disorder (80 ms under a 100 ms bound: nothing is late) and an event time of
//! the test's own type.

use gale_tests::agg_ops::{AVGS, FIVES, LARGEST, MAXS, MEDIANS, MINS, SQUARES, reading};
use gale_tests::windows_aggregations::{self, Reading};
use std::collections::BTreeMap;

const N: u64 = 3000;
const USERS: u64 = 7;
const DISORDER: u64 = 80;

type Key = (String, u64, u64); // user, start, end

fn readings() -> Vec<Reading> {
    (0..N).map(|i| reading(i, USERS, DISORDER)).collect()
}

/// Per (user, window), the amounts in arrival order, for windows of `size` every `slide`.
fn windows(size: u64, slide: u64) -> BTreeMap<Key, Vec<u64>> {
    let mut w: BTreeMap<Key, Vec<u64>> = BTreeMap::new();
    for r in readings() {
        let at = r.at.0;
        let last = at - at % slide;
        let mut start = last;
        loop {
            if start + size > at {
                w.entry((r.user.clone(), start, start + size))
                    .or_default()
                    .push(r.amount);
            }
            if start < slide || start + size <= at {
                break;
            }
            start -= slide;
        }
    }
    w
}

fn sorted<T: Ord>(mut v: Vec<T>) -> Vec<T> {
    v.sort();
    v
}

#[test]
fn every_aggregation_matches_a_plain_loop() {
    gale::run_local(windows_aggregations::topology(), Default::default()).expect("runs");
    let tumbling = windows(1000, 1000);
    assert!(tumbling.len() > 100, "windows to compare");

    let want = |f: &dyn Fn(&[u64]) -> u64| -> Vec<(Key, u64)> {
        tumbling.iter().map(|(k, v)| (k.clone(), f(v))).collect()
    };
    let got_mins = sorted(
        MINS.lock()
            .unwrap()
            .iter()
            .map(|m| ((m.user.clone(), m.start, m.end), m.min))
            .collect(),
    );
    assert_eq!(got_mins, want(&|v| *v.iter().min().unwrap()), "min");
    let got_maxs = sorted(
        MAXS.lock()
            .unwrap()
            .iter()
            .map(|m| ((m.user.clone(), m.start, m.end), m.max))
            .collect(),
    );
    assert_eq!(got_maxs, want(&|v| *v.iter().max().unwrap()), "max");
    let got_squares = sorted(
        SQUARES
            .lock()
            .unwrap()
            .iter()
            .map(|m| ((m.user.clone(), m.start, m.end), m.squares))
            .collect(),
    );
    assert_eq!(
        got_squares,
        want(&|v| v.iter().map(|a| a * a).sum()),
        "aggregate"
    );
    let got_medians = sorted(
        MEDIANS
            .lock()
            .unwrap()
            .iter()
            .map(|m| ((m.user.clone(), m.start, m.end), (m.median, m.n)))
            .collect(),
    );
    let want_medians: Vec<(Key, (u64, u64))> = tumbling
        .iter()
        .map(|(k, v)| {
            let s = sorted(v.clone());
            (k.clone(), (s[(s.len() - 1) / 2], s.len() as u64))
        })
        .collect();
    assert_eq!(got_medians, want_medians, "apply");

    // Sliding averages: each reading in two windows.
    let sliding = windows(1000, 500);
    let got_avgs: Vec<(Key, f64)> = {
        let mut v: Vec<(Key, f64)> = AVGS
            .lock()
            .unwrap()
            .iter()
            .map(|m| ((m.user.clone(), m.start, m.end), m.avg))
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    };
    let want_avgs: Vec<(Key, f64)> = sliding
        .iter()
        .map(|(k, v)| (k.clone(), v.iter().sum::<u64>() as f64 / v.len() as f64))
        .collect();
    assert_eq!(got_avgs, want_avgs, "sliding avg");

    // Reduce: the reading with the largest amount of each window, the first on a tie.
    let mut want_largest: Vec<(String, u64, u64)> = Vec::new();
    let mut by_window: BTreeMap<Key, Reading> = BTreeMap::new();
    for r in readings() {
        let start = r.at.0 - r.at.0 % 1000;
        let e = by_window
            .entry((r.user.clone(), start, start + 1000))
            .or_insert_with(|| r.clone());
        if r.amount > e.amount {
            *e = r;
        }
    }
    want_largest.extend(
        by_window
            .values()
            .map(|r| (r.user.clone(), r.at.0, r.amount)),
    );
    let got_largest = sorted(
        LARGEST
            .lock()
            .unwrap()
            .iter()
            .map(|r| (r.user.clone(), r.at.0, r.amount))
            .collect(),
    );
    assert_eq!(got_largest, sorted(want_largest), "reduce");

    // Count windows: every 5 readings of a user in arrival order; the last partial one
    // never fires.
    let mut per_user: BTreeMap<String, Vec<(u64, u64)>> = BTreeMap::new();
    for r in readings() {
        per_user
            .entry(r.user.clone())
            .or_default()
            .push((r.at.0, r.amount));
    }
    let mut want_fives = Vec::new();
    for (user, rs) in per_user {
        for five in rs.chunks_exact(5) {
            let first = five.iter().map(|r| r.0).min().unwrap();
            let last = five.iter().map(|r| r.0).max().unwrap();
            want_fives.push((
                user.clone(),
                first,
                last + 1,
                five.iter().map(|r| r.1).sum::<u64>(),
            ));
        }
    }
    let got_fives = sorted(
        FIVES
            .lock()
            .unwrap()
            .iter()
            .map(|s| (s.user.clone(), s.start, s.end, s.total))
            .collect(),
    );
    assert_eq!(got_fives, sorted(want_fives), "count windows");
}
