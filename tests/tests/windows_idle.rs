//! An idle input does not stall windows once the idleness timeout passes, against a plain
//! loop: the windows task 0's watermark closes fire while it still sends, though task 1 is
//! silent, and every result is the loop's.

use gale_tests::idle_ops::{RESULTS, events};
use gale_tests::windows_idle;
use std::collections::BTreeMap;

#[test]
fn a_silent_partition_does_not_stall_the_windows_after_its_idleness_timeout() {
    gale::run_local(windows_idle::topology(), Default::default()).expect("runs");
    let mut want: BTreeMap<(u64, u64), u64> = BTreeMap::new();
    for e in events(0).into_iter().chain(events(1)) {
        *want.entry((e.key, e.at - e.at % 1000)).or_default() += 1;
    }
    let results = RESULTS.lock().unwrap().clone();
    let got: BTreeMap<(u64, u64), u64> = results
        .iter()
        .map(|(c, _)| ((c.key, c.start), c.count))
        .collect();
    assert_eq!(results.len(), got.len(), "each window once");
    assert_eq!(got, want);
    // Task 0 sends for 2 s; task 1 is idle 200 ms after its three events. The first
    // windows (event time [0 s, 3 s) of 10 s, due 0.6 s in) must fire while task 0 still
    // sends.
    let early: Vec<u64> = results
        .iter()
        .filter(|(_, sending)| *sending)
        .map(|(c, _)| c.start - 1_000_000)
        .collect();
    for start in [0, 1_000, 2_000] {
        assert!(
            early.contains(&start),
            "the window at {start} ms waited for the silent partition: fired early {early:?}"
        );
    }
}
