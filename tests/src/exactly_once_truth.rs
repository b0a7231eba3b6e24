//! The ground truth of the exactly-once tests: a generated file of words, counted by a
//! plain loop, and the check that a file sink's committed parts hold each word's counts
//! `1..=n`, each exactly once.

use std::collections::BTreeMap;
use std::path::Path;

/// A splitmix64 step: the file's words, from a seed.
pub fn next(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Writes `lines` lines of 1 to 3 words (of 1000) to `path`; returns the ground truth,
/// counted by a plain loop.
pub fn write_lines(path: &Path, lines: u64, seed: u64) -> BTreeMap<String, u64> {
    let mut rng = seed;
    let mut text = String::new();
    let mut truth = BTreeMap::new();
    for _ in 0..lines {
        let n = 1 + next(&mut rng) % 3;
        for i in 0..n {
            let w = format!("w{}", next(&mut rng) % 1000);
            if i > 0 {
                text.push(' ');
            }
            text.push_str(&w);
            *truth.entry(w).or_insert(0) += 1;
        }
        text.push('\n');
    }
    std::fs::write(path, text).expect("input written");
    truth
}

/// What the sink committed: per word, the counts in its `part-*` files.
pub fn committed(out: &Path) -> BTreeMap<String, Vec<u64>> {
    let mut got: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for e in std::fs::read_dir(out)
        .expect("the sink's directory")
        .flatten()
    {
        if !e.file_name().to_string_lossy().starts_with("part-") {
            continue;
        }
        let text = std::fs::read_to_string(e.path()).expect("a part");
        for line in text.lines() {
            let (w, n) = line.split_once('\t').expect("`word<TAB>count` lines");
            got.entry(w.to_string())
                .or_default()
                .push(n.parse().expect("a count"));
        }
    }
    got
}

/// Every word's counts are exactly 1..=n, each once: nothing lost, nothing twice.
pub fn assert_exact(truth: &BTreeMap<String, u64>, out: &Path, context: &str) {
    let mut got = committed(out);
    let extra: Vec<&String> = got.keys().filter(|w| !truth.contains_key(*w)).collect();
    assert!(
        extra.is_empty(),
        "{context}: words not in the input: {extra:?}"
    );
    for (w, n) in truth {
        let mut counts = got.remove(w).unwrap_or_default();
        counts.sort_unstable();
        let want: Vec<u64> = (1..=*n).collect();
        if counts != want {
            let dup = counts.windows(2).filter(|p| p[0] == p[1]).count();
            panic!(
                "{context}: `{w}` counted {n} times in the input; the output has {} counts \
                 ({dup} repeated, max {:?})",
                counts.len(),
                counts.last()
            );
        }
    }
}
