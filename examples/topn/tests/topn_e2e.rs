//! End to end: with a window as long as the stream, the rolling top-N must equal the top N
//! of a plain count over the same words.

use std::collections::HashMap;
use std::process::Command;

/// The same deterministic word stream as the spout.
fn word_of(i: u64) -> String {
    let mut x = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xD1B5_4A32_D192_ED03;
    x ^= x >> 31;
    let u = (x % 1_000_000) as f64 / 1_000_000.0;
    let rank = (1000f64.powf(u) - 1.0) as u64;
    format!("word{rank:03}")
}

#[test]
fn top_n_equals_a_plain_count_when_the_window_covers_the_stream() {
    let words = 100_000u64;
    let out = Command::new(env!("CARGO_BIN_EXE_topn"))
        .args([
            "run",
            "--no-progress",
            "-q",
            "--set",
            "words=100000",
            "--set",
            "window=100000000",
        ])
        .args(["--set", "slots=1", "--set", "top=8"])
        .output()
        .expect("run topn");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got: Vec<(String, u64)> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            let v: Vec<&str> = l.split(' ').collect();
            (v[1].to_string(), v[2].parse().expect("count"))
        })
        .collect();
    let mut counts: HashMap<String, u64> = HashMap::new();
    for i in 0..words {
        *counts.entry(word_of(i)).or_insert(0) += 1;
    }
    let mut want: Vec<(String, u64)> = counts.into_iter().collect();
    want.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    want.truncate(8);
    assert_eq!(got, want);
}
