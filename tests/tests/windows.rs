//! Event-time windows over a click stream with known disorder (at most 80 ms, under a
//! watermark bounded by 100 ms, so nothing is late), against plain loops over the clicks.

use gale_tests::window_ops::{COUNTS, LATE, SESSIONS, SUMS, TIMED, clicks, last};
use gale_tests::windows::{self, Click};
use std::collections::BTreeMap;

const N: u64 = 5000;
const USERS: u64 = 13;
const DISORDER: u64 = 80;

fn all_clicks() -> Vec<Click> {
    (0..2)
        .flat_map(|t| clicks(t, 2, N, USERS, DISORDER))
        .collect()
}

type Results = BTreeMap<(String, u64, u64), u64>;

fn tumbling(clicks: &[Click], size: u64) -> Results {
    let mut r = Results::new();
    for c in clicks {
        let start = c.at - c.at % size;
        *r.entry((c.user.clone(), start, start + size)).or_default() += 1;
    }
    r
}

fn sliding(clicks: &[Click], size: u64, slide: u64) -> Results {
    let mut r = Results::new();
    for c in clicks {
        let mut start = c.at - c.at % slide;
        loop {
            *r.entry((c.user.clone(), start, start + size)).or_default() += c.amount;
            if start < slide || start - slide + size <= c.at {
                break;
            }
            start -= slide;
        }
    }
    r
}

fn sessions(clicks: &[Click], gap: u64) -> Results {
    let mut by_user: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for c in clicks {
        by_user.entry(c.user.clone()).or_default().push(c.at);
    }
    let mut r = Results::new();
    for (user, mut ts) in by_user {
        ts.sort_unstable();
        let (mut start, mut end, mut n) = (ts[0], ts[0] + gap, 0);
        for t in ts {
            if t >= end {
                r.insert((user.clone(), start, end), n);
                (start, n) = (t, 0);
            }
            end = end.max(t + gap);
            n += 1;
        }
        r.insert((user, start, end), n);
    }
    r
}

#[test]
fn windows_over_out_of_order_clicks_match_plain_loops() {
    let summary = gale::run_local(windows::topology(), Default::default()).expect("runs");
    // Nothing is late; every window says so, whether or not an edge reads its `late`.
    for (window, read) in [("counts", true), ("sums", false), ("sessions", false)] {
        let c = summary.component(window).expect("a window");
        assert_eq!((c.late, c.late_read), (Some(0), read), "{window}");
    }
    assert_eq!(summary.component("timed").map(|c| c.late), Some(None));
    let clicks = all_clicks();
    let counts = last(&COUNTS.lock().unwrap(), |c| {
        (c.user.clone(), c.start, c.end)
    });
    let got: Results = counts.iter().map(|(k, c)| (k.clone(), c.count)).collect();
    assert_eq!(got, tumbling(&clicks, 1000), "tumbling counts");
    let sums = last(&SUMS.lock().unwrap(), |c| (c.user.clone(), c.start, c.end));
    let got: Results = sums.iter().map(|(k, c)| (k.clone(), c.total)).collect();
    assert_eq!(got, sliding(&clicks, 1000, 250), "sliding sums");
    let sess = last(&SESSIONS.lock().unwrap(), |c| {
        (c.user.clone(), c.start, c.end)
    });
    let got: Results = sess.iter().map(|(k, c)| (k.clone(), c.count)).collect();
    let want = sessions(&clicks, 400);
    // A session fired before a later click merged it is superseded by the merged one.
    let got: Results = got
        .into_iter()
        .filter(|(k, _)| want.contains_key(k))
        .collect();
    assert_eq!(got, want, "sessions");
    assert!(LATE.lock().unwrap().is_empty(), "nothing is late");
    // The same sessions by hand: keyed state and event-time timers, each closed once.
    let timed = TIMED.lock().unwrap();
    let got: Results = timed
        .iter()
        .map(|c| ((c.user.clone(), c.start, c.end), c.count))
        .collect();
    assert_eq!(got.len(), timed.len(), "each session closed once");
    assert_eq!(got, want, "sessions by process(T) with timers");
}
