//! End to end: the example binary runs, prints alerts whose totals are over the limit,
//! sessions, exactly the transactions made after a login (against a plain loop over the
//! same generators), and late transactions that really are older than the watermark
//! allowed.

use frauds::ops::{after_login, fingerprint, login, login_count, transaction};
use std::collections::HashMap;
use std::process::Command;

/// The interval join by a plain loop: every transaction of a card in `[login, login + 5 s]`.
fn joined_by_reference(transactions: u64, cards: u64, disorder: u64) -> (u64, u64) {
    let mut by_card: HashMap<String, Vec<_>> = HashMap::new();
    for i in 0..transactions {
        let t = transaction(i, cards, disorder);
        by_card.entry(t.card.clone()).or_default().push(t);
    }
    let (mut pairs, mut sum) = (0u64, 0u64);
    for j in 0..login_count(transactions) {
        let l = login(j, cards);
        for t in by_card.get(&l.card).into_iter().flatten() {
            if l.at <= t.at && t.at <= l.at + 5_000 {
                pairs += 1;
                sum = sum.wrapping_add(fingerprint(&after_login(&l, t)));
            }
        }
    }
    (pairs, sum)
}

#[test]
fn the_example_prints_alerts_sessions_and_late_transactions() {
    let out = Command::new(env!("CARGO_BIN_EXE_frauds"))
        .args(["run", "--no-progress", "-q", "--set", "transactions=50000"])
        .args(["--set", "disorder=20000", "--set", "limit=5000"])
        .output()
        .expect("run frauds");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let alerts: Vec<u64> = text
        .lines()
        .filter(|l| l.starts_with("alert "))
        .filter_map(|l| l.rsplit(' ').next()?.parse().ok())
        .collect();
    assert!(!alerts.is_empty(), "{text}");
    assert!(
        alerts.iter().all(|t| *t > 5_000),
        "only totals over the limit"
    );
    let sessions: u64 = text
        .lines()
        .find_map(|l| l.strip_prefix("sessions ")?.parse().ok())
        .expect("a session count");
    assert_eq!(
        sessions,
        50 * 10,
        "50 cards, 10 bursts of activity each: {text}"
    );
    // 20 s of disorder is within the join's 30 s of lateness: nothing is late for it, and
    // it finds every pair.
    let (pairs, sum) = joined_by_reference(50_000, 50, 20_000);
    assert!(pairs > 1_000, "the generators make pairs: {pairs}");
    assert!(
        text.lines()
            .any(|l| l == format!("after login {pairs} fingerprint {sum}")),
        "expected {pairs} pairs with fingerprint {sum}: {text}"
    );
    assert!(
        !text.contains("late join") && !text.contains("late login"),
        "{text}"
    );
    let late = text.lines().filter(|l| l.starts_with("late ")).count();
    assert!(
        late > 0,
        "20 s of disorder: more than a 10 s window, its 2 s bound and 1 s of lateness allow"
    );
}
