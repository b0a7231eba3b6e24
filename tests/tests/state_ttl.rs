//! `ttl` in a `.topo` file, end to end: a process function's state and a window's open
//! windows are dropped for a key quiet longer than the ttl, and kept without one — while
//! another key's visits keep the input flowing.

use gale_tests::state_ttl;
use gale_tests::ttl_ops::{FILLER, FRESH, FRESH_WINDOWS, KEPT, KEPT_WINDOWS};

/// The results of the users the test is about (not the filler's).
fn counts<T>(v: &[T], f: impl Fn(&T) -> (String, u64)) -> Vec<(String, u64)> {
    let mut c: Vec<(String, u64)> = v.iter().map(f).filter(|(u, _)| u != FILLER).collect();
    c.sort();
    c
}

#[test]
fn a_key_quiet_longer_than_the_ttl_starts_over_and_its_windows_are_dropped() {
    gale::run_local(state_ttl::topology(), Default::default()).expect("runs");
    let seen = |s: &gale_tests::state_ttl::Seen| (s.user.clone(), s.count);
    let pair = |u: &str, n| (u.to_string(), n);
    // `a` came back after the pause: with the ttl it is counted from nothing again.
    assert_eq!(
        counts(&FRESH.lock().unwrap(), seen),
        vec![pair("a", 1), pair("a", 1), pair("b", 1), pair("c", 1)]
    );
    assert_eq!(
        counts(&KEPT.lock().unwrap(), seen),
        vec![pair("a", 1), pair("a", 2), pair("b", 1), pair("c", 1)]
    );
    // One hour window: with the ttl, `a`'s holds only its second visit and `b`'s, quiet
    // since the first wave, is gone; without, every visit is counted.
    let window = |c: &gale_tests::state_ttl::Count| (c.user.clone(), c.count);
    assert_eq!(
        counts(&FRESH_WINDOWS.lock().unwrap(), window),
        vec![pair("a", 1), pair("c", 1)]
    );
    assert_eq!(
        counts(&KEPT_WINDOWS.lock().unwrap(), window),
        vec![pair("a", 2), pair("b", 1), pair("c", 1)]
    );
}
