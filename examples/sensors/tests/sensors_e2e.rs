//! End to end: the alerts the binary prints are exactly the spikes a plain loop finds.

use std::process::Command;

#[test]
fn alerts_are_exactly_the_spikes() {
    let out = Command::new(env!("CARGO_BIN_EXE_sensors"))
        .args(["run", "--no-progress", "--set", "readings=20000"])
        .output()
        .expect("run sensors");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let seqs: Vec<u64> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            l.split(' ')
                .nth(2)
                .and_then(|s| s.parse().ok())
                .expect("alert line")
        })
        .collect();
    // Spikes are every 997th reading, +25 C; the first 10 readings of a sensor (50 sensors:
    // seq < 500) only build its mean.
    let want: Vec<u64> = (0..20_000u64)
        .filter(|s| s % 997 == 0 && *s >= 500)
        .collect();
    assert_eq!(seqs, want);
    let err = String::from_utf8_lossy(&out.stderr);
    let normal = err
        .lines()
        .find(|l| l.starts_with("normal"))
        .expect("summary");
    let executed: u64 = normal
        .split_whitespace()
        .nth(4)
        .and_then(|v| v.parse().ok())
        .expect("n");
    assert_eq!(executed, 20_000 - want.len() as u64);
}
