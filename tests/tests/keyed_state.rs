//! A process function with keyed state, keyed by `fields(user)` over 5 tasks, against a
//! plain loop: every user's count, sum and largest amount, each kept by one task.

use gale_tests::keyed_ops::{AUDITED, LAST, TASKS, events};
use gale_tests::keyed_state;
use std::collections::BTreeMap;

#[test]
fn keyed_state_matches_a_plain_loop_and_each_key_lives_in_one_task() {
    gale::run_local(keyed_state::topology(), Default::default()).expect("runs");
    let mut truth: BTreeMap<String, (u64, u64, u64)> = BTreeMap::new();
    for task in 0..2 {
        for e in events(task, 2, 20_000, 97) {
            let t = truth.entry(e.user).or_default();
            t.0 += 1;
            t.1 += e.amount;
            t.2 = t.2.max(e.amount);
        }
    }
    let last = LAST.lock().unwrap();
    let got: BTreeMap<String, (u64, u64, u64)> = last
        .iter()
        .map(|(u, t)| (u.clone(), (t.count, t.sum, t.max)))
        .collect();
    assert_eq!(got, truth);
    let tasks = TASKS.lock().unwrap();
    assert!(tasks.values().all(|t| t.len() == 1), "{tasks:?}");
    let used: std::collections::BTreeSet<u64> = tasks.values().flatten().copied().collect();
    assert_eq!(used.len(), 5, "97 users spread over all 5 tasks: {used:?}");
    assert_eq!(
        *AUDITED.lock().unwrap(),
        20_000,
        "the unkeyed state counted every tuple"
    );
}
