//! End to end: the example binary runs, prints alerts whose totals are over the limit,
//! sessions, and late transactions that really are older than the watermark allowed.

use std::process::Command;

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
    let late = text.lines().filter(|l| l.starts_with("late ")).count();
    assert!(
        late > 0,
        "20 s of disorder: more than a 10 s window, its 2 s bound and 1 s of lateness allow"
    );
}
