//! `Str` fields as keys: a keyed count over inline and heap strings, against a plain loop;
//! every word counted by one task, its counts 1..=n in order.

use gale_tests::str_keys;
use gale_tests::str_ops::{LAST, word};
use std::collections::{BTreeMap, BTreeSet};

#[test]
fn a_keyed_count_over_str_keys_matches_a_plain_loop() {
    gale::run_local(str_keys::topology(), Default::default()).expect("runs");
    let mut truth: BTreeMap<String, u64> = BTreeMap::new();
    for i in 0..30_000 {
        *truth.entry(word(i)).or_default() += 1;
    }
    assert!(truth.keys().any(|w| w.len() > 24) && truth.keys().any(|w| w.len() <= 24));
    let last = LAST.lock().expect("recorded");
    let got: BTreeMap<String, u64> = last
        .iter()
        .map(|(w, seen)| (w.clone(), seen.len() as u64))
        .collect();
    assert_eq!(got, truth);
    let mut used = BTreeSet::new();
    for (w, seen) in last.iter() {
        let tasks: BTreeSet<u64> = seen.iter().map(|(_, t)| *t).collect();
        assert_eq!(tasks.len(), 1, "`{w}` reached one task: {tasks:?}");
        used.extend(tasks);
        let mut counts: Vec<u64> = seen.iter().map(|(c, _)| *c).collect();
        counts.sort_unstable();
        assert_eq!(counts, (1..=seen.len() as u64).collect::<Vec<_>>(), "`{w}`");
    }
    assert_eq!(used.len(), 4, "101 words over all 4 tasks: {used:?}");
}
