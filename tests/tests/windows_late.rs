//! Watermarks travel: clicks out of order by up to 2 s under a watermark bounded by 100 ms
//! (two spout tasks, two window tasks). Against the clicks each spout task emitted, in its
//! order: every click is counted in its window or is on the `late` stream, exactly once; a
//! late click really was past its window's end plus the lateness when its own spout task
//! sent it; the final counts are those of the clicks that were not late; the run summary
//! counts as many late tuples as reached the late sink.

use gale_tests::window_ops::clicks;
use gale_tests::window_ops::late::{COUNTS, LATE};
use gale_tests::windows_late;
use std::collections::{BTreeMap, BTreeSet};

const N: u64 = 20_000;
const USERS: u64 = 5;
const DISORDER: u64 = 2000;
const BOUND: u64 = 100;
const LATENESS: u64 = 200;
const SIZE: u64 = 1000;

#[test]
fn late_clicks_go_to_the_late_stream_and_the_others_are_counted() {
    let summary = gale::run_local(windows_late::topology(), Default::default()).expect("runs");
    let late: Vec<(String, u64)> = LATE
        .lock()
        .unwrap()
        .iter()
        .map(|c| (c.user.clone(), c.at))
        .collect();
    assert!(
        late.len() > N as usize / 100,
        "with 2 s of disorder under a 100 ms bound many clicks are late: {}",
        late.len()
    );
    let mut late_left: BTreeMap<(String, u64), usize> = BTreeMap::new();
    for k in &late {
        *late_left.entry(k.clone()).or_default() += 1;
    }
    let mut want: BTreeMap<(String, u64, u64), u64> = BTreeMap::new();
    let mut checked_late = 0;
    for task in 0..2 {
        let mut max_before: Option<u64> = None;
        for c in clicks(task, 2, N, USERS, DISORDER) {
            let key = (c.user.clone(), c.at);
            let start = c.at - c.at % SIZE;
            match late_left.get_mut(&key) {
                Some(n) if *n > 0 => {
                    *n -= 1;
                    checked_late += 1;
                    // Its own spout's watermark bounds the window's: it was late then.
                    let wm = max_before.map(|m| m as i64 - BOUND as i64 - 1);
                    let last = (start + SIZE - 1 + LATENESS) as i64;
                    assert!(
                        wm.is_some_and(|w| last <= w),
                        "{key:?} is on `late`, but its spout's watermark was {wm:?} < {last}"
                    );
                }
                _ => {
                    *want
                        .entry((c.user.clone(), start, start + SIZE))
                        .or_default() += 1
                }
            }
            max_before = Some(max_before.map_or(c.at, |m| m.max(c.at)));
        }
    }
    assert_eq!(
        checked_late,
        late.len(),
        "every late click is one that was emitted"
    );
    let counts = summary.component("counts").expect("a component `counts`");
    assert_eq!(
        counts.late,
        Some(late.len() as u64),
        "the summary counts the clicks that reached the late sink"
    );
    assert!(counts.late_read);
    let rendered = summary.render();
    assert!(
        rendered.contains(&format!(
            "counts: {} late tuples (on `counts.late`)\n",
            late.len()
        )),
        "{rendered}"
    );
    assert_eq!(summary.component("record").map(|c| c.late), Some(None));
    let mut last: BTreeMap<(String, u64, u64), u64> = BTreeMap::new();
    for r in COUNTS.lock().unwrap().iter() {
        last.insert((r.user.clone(), r.start, r.end), r.count);
    }
    assert_eq!(last, want, "final counts are those of the clicks not late");
    let refired: BTreeSet<_> = COUNTS
        .lock()
        .unwrap()
        .iter()
        .map(|r| (r.user.clone(), r.start))
        .collect();
    assert!(
        COUNTS.lock().unwrap().len() > refired.len(),
        "late clicks within the lateness fire windows again"
    );
}
