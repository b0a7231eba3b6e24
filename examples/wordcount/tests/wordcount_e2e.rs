//! End to end: build the word-count binary (Cargo does, for this test), run it in local
//! mode as a user would, and compare its counts with a plain Rust loop over the same text.

use std::collections::BTreeMap;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_wordcount");
const TEXT: &str = include_str!("../data/sentences.txt");

/// The ground truth: the same tokenization, counted by a plain loop.
fn expected(text: &str, repeat: u64) -> BTreeMap<String, u64> {
    let mut counts = BTreeMap::new();
    for _ in 0..repeat {
        for line in text.lines() {
            for w in line
                .split(|c: char| !(c.is_alphanumeric() || c == '\''))
                .map(|w| w.trim_matches('\''))
                .filter(|w| !w.is_empty())
            {
                *counts.entry(w.to_lowercase()).or_insert(0) += 1;
            }
        }
    }
    counts
}

fn run(args: &[&str]) -> (BTreeMap<String, u64>, String) {
    let out = Command::new(BIN)
        .args(args)
        .output()
        .expect("run the wordcount binary");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "wordcount failed: {stderr}");
    let stdout = String::from_utf8(out.stdout).expect("utf-8 output");
    let counts = stdout
        .lines()
        .map(|l| {
            let (w, n) = l.rsplit_once(' ').expect("`word count` lines");
            (w.to_string(), n.parse::<u64>().expect("a count"))
        })
        .collect();
    (counts, stderr)
}

#[test]
fn counts_equal_a_plain_loop() {
    let (counts, stderr) = run(&["run", "--no-progress", "--set", "repeat=25"]);
    assert_eq!(counts, expected(TEXT, 25));
    // The summary reports what every component did.
    let words: u64 = expected(TEXT, 25).values().sum();
    assert!(stderr.contains("finished in"), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "wordcount: {words} words, {} distinct",
            counts.len()
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains("per second: tuples emitted per second for spouts"),
        "{stderr}"
    );
    let print_line = stderr
        .lines()
        .find(|l| l.starts_with("print "))
        .expect("a summary line for `print`");
    assert!(print_line.contains(&words.to_string()), "{print_line}");
}

#[test]
fn reads_a_file_given_in_config() {
    let dir = std::env::temp_dir().join(format!("gale-wc-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("in.txt");
    std::fs::write(&path, "b a b\nc b a\n").expect("write input");
    let input = format!("input={}", path.display());
    let (counts, _) = run(&["run", "--no-progress", "-q", "--set", &input]);
    let want: BTreeMap<String, u64> = [("a", 2), ("b", 3), ("c", 1)]
        .into_iter()
        .map(|(w, n)| (w.to_string(), n))
        .collect();
    assert_eq!(counts, want);
}

#[test]
fn plan_shows_tasks_chains_and_groupings() {
    let out = Command::new(BIN).arg("plan").output().expect("run plan");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(text.contains("count          bolt  CountWords"), "{text}");
    assert!(text.contains("tasks 4"), "{text}");
    assert!(
        text.contains("split.default -> count : fields(word)"),
        "{text}"
    );
    let dot = Command::new(BIN)
        .args(["plan", "--dot"])
        .output()
        .expect("run plan --dot");
    let dot = String::from_utf8_lossy(&dot.stdout);
    assert!(dot.starts_with("digraph \"wordcount\""), "{dot}");
    assert!(
        dot.contains("\"split\" -> \"count\" [label=\"fields(word)\"]"),
        "{dot}"
    );
}

#[test]
fn bad_arguments_get_a_clear_error() {
    let out = Command::new(BIN)
        .args(["run", "--duration", "soon"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("invalid --duration"), "{err}");
}

#[test]
fn duration_stops_an_endless_run_and_drains() {
    // repeat = 0 would end at once; a huge repeat runs until --duration stops it.
    let out = Command::new(BIN)
        .args([
            "run",
            "--no-progress",
            "--duration",
            "300ms",
            "--set",
            "repeat=1000000000",
        ])
        .output()
        .expect("run");
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    // Everything emitted was processed: split executed exactly what sentences emitted.
    let field = |name: &str, col: usize| -> u64 {
        let line = err
            .lines()
            .find(|l| l.starts_with(name))
            .expect("summary line");
        line.split_whitespace()
            .nth(col)
            .and_then(|v| v.parse().ok())
            .expect("a number")
    };
    assert!(field("sentences", 3) > 0);
    assert_eq!(field("sentences", 3), field("split", 4), "{err}");
    assert_eq!(field("split", 3), field("count", 4), "{err}");
    assert_eq!(field("count", 3), field("print", 4), "{err}");
}
