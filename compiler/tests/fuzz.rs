//! The compiler never panics: any source text and any file name give Rust code or
//! diagnostics.
//!
//! Inputs are the UI fixtures, mutated (bytes and tokens inserted, deleted, duplicated),
//! random token soups from the language's vocabulary, and random file names
//! (`01-ingest.topo`, dots, dashes, spaces, non-ASCII). For each, [`survives`] runs the
//! whole pipeline and the renderer; generated code must also be valid Rust syntax.
//!
//! - `cargo test -p gale-compiler --test fuzz` runs a fixed number of proptest cases.
//! - `GALE_FUZZ_SECS=60 cargo test -p gale-compiler --test fuzz -- --ignored` keeps
//!   generating for that many seconds (what CI runs: cargo-fuzz needs a nightly toolchain;
//!   its target, over the same [`survives`] check, is in `compiler/fuzz/`).

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use std::time::{Duration, Instant};

/// Runs the front end, codegen and rendering on one input; fails on invalid output.
/// A panic fails the test by itself.
fn survives(file_name: &str, source: &str) -> Result<(), TestCaseError> {
    match gale_compiler::compile_str(file_name, source) {
        Ok(code) => {
            let body = code.split_once('\n').map_or("", |(_, rest)| rest);
            if let Err(e) = syn::parse_file(body) {
                return Err(TestCaseError::fail(format!(
                    "generated code is not Rust ({e}) for {file_name:?}:\n{source}\n---\n{code}"
                )));
            }
        }
        Err(diags) => {
            prop_assert!(!diags.is_empty(), "an error without diagnostics");
            let text = diags.render(file_name, source);
            prop_assert!(text.contains("error"), "rendered: {text}");
        }
    }
    Ok(())
}

/// Every fixture, valid or not: the seeds that mutations start from.
fn seeds() -> Vec<String> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ui");
    let mut out = Vec::new();
    for dir in ["pass", "fail", "warn"] {
        let Ok(entries) = std::fs::read_dir(root.join(dir)) else {
            continue;
        };
        for e in entries.flatten() {
            if e.path().extension().is_some_and(|x| x == "topo")
                && let Ok(text) = std::fs::read_to_string(e.path())
            {
                out.push(text);
            }
        }
    }
    out.sort();
    out
}

const VOCABULARY: &[&str] = &[
    "use",
    "tuple",
    "streams",
    "topology",
    "spout",
    "bolt",
    "config",
    "parallelism",
    "tasks",
    "direct",
    "attempts",
    "backoff",
    "map",
    "filter",
    "flat_map",
    "shuffle",
    "fields",
    "all",
    "global",
    "none",
    "local_or_shuffle",
    "partial_key",
    "custom",
    "as",
    "Option",
    "Vec",
    "bytes",
    "String",
    "u64",
    "f64",
    "bool",
    "self",
    "Self",
    "crate",
    "super",
    "type",
    "r#x",
    "_",
    "__",
    "a",
    "B",
    "x1",
    "failed",
    "default",
    "guarantee",
    "at_least_once",
    "message_timeout",
    "ackers",
    "workers",
    "max_spout_pending",
    "->",
    "=>",
    "::",
    ":",
    ";",
    ",",
    ".",
    "=",
    "{",
    "}",
    "(",
    ")",
    "<",
    ">",
    "*",
    "\"",
    "\"a\\q\"",
    "0",
    "1",
    "08",
    "99999999999999999999",
    "4294967296",
    "1.5",
    "9e9",
    "30s",
    "0ms",
    "1h",
    "//",
    "/*",
    "*/",
    "\n",
    " ",
    "\t",
    "é",
    "ß",
    "\u{0}",
    "💥",
];

fn token() -> impl Strategy<Value = String> {
    prop::sample::select(VOCABULARY).prop_map(str::to_string)
}

/// A file name: the usual, and everything a path may hold.
fn file_name() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("topologies/wordcount.topo".to_string()),
        Just("01-ingest.topo".to_string()),
        "[a-zA-Z0-9_. /\\\\-]{0,24}(\\.topo)?",
        "\\PC{0,12}",
    ]
}

#[derive(Debug, Clone)]
enum Edit {
    Insert(usize, String),
    Delete(usize, usize),
    Duplicate(usize, usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<usize>(), token()).prop_map(|(at, t)| Edit::Insert(at, format!(" {t} "))),
        (any::<usize>(), token()).prop_map(|(at, t)| Edit::Insert(at, t)),
        (any::<usize>(), 0usize..12).prop_map(|(at, n)| Edit::Delete(at, n)),
        (any::<usize>(), 0usize..40).prop_map(|(at, n)| Edit::Duplicate(at, n)),
    ]
}

/// The char boundary at or before `at % (len + 1)`.
fn boundary(s: &str, at: usize) -> usize {
    let mut i = at % (s.len() + 1);
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn apply(mut s: String, edits: &[Edit]) -> String {
    for e in edits {
        match e {
            Edit::Insert(at, t) => {
                let i = boundary(&s, *at);
                s.insert_str(i, t);
            }
            Edit::Delete(at, n) => {
                let i = boundary(&s, *at);
                let j = boundary(&s, i + n);
                if j >= i {
                    s.replace_range(i..j, "");
                }
            }
            Edit::Duplicate(at, n) => {
                let i = boundary(&s, *at);
                let j = boundary(&s, i + n);
                if j >= i {
                    let piece = s[i..j].to_string();
                    s.insert_str(j, &piece);
                }
            }
        }
    }
    s
}

fn source() -> impl Strategy<Value = String> {
    let seeds = seeds();
    assert!(!seeds.is_empty(), "no fixtures to start from");
    prop_oneof![
        3 => (prop::sample::select(seeds), prop::collection::vec(edit(), 0..6))
            .prop_map(|(seed, edits)| apply(seed, &edits)),
        1 => prop::collection::vec(token(), 0..60).prop_map(|t| t.join(" ")),
        1 => "\\PC{0,80}",
    ]
}

proptest! {
    #![proptest_config(Config { cases: 512, failure_persistence: None, ..Config::default() })]

    #[test]
    fn never_panics(name in file_name(), src in source()) {
        survives(&name, &src)?;
    }
}

/// The regression the issue reported: a file name starting with a digit.
#[test]
fn digit_leading_file_name() {
    let src = include_str!("ui/pass/wordcount.topo");
    for name in [
        "topologies/01-ingest.topo",
        "01-ingest.topo",
        "9.topo",
        "-.topo",
        "",
    ] {
        let code = gale_compiler::compile_str(name, src).expect("wordcount compiles");
        let body = code.split_once('\n').map_or("", |(_, rest)| rest);
        syn::parse_file(body).unwrap_or_else(|e| panic!("{name}: {e}\n{code}"));
    }
}

/// The bounded fuzz run of CI: random inputs for `GALE_FUZZ_SECS` seconds (default 5).
#[test]
#[ignore = "long: run with GALE_FUZZ_SECS=60 ... -- --ignored"]
fn fuzz_for_a_while() {
    let secs = std::env::var("GALE_FUZZ_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut runner = TestRunner::new(Config {
        failure_persistence: None,
        ..Config::default()
    });
    let strategy = (file_name(), source());
    let mut cases = 0u64;
    while Instant::now() < deadline {
        let (name, src) = strategy
            .new_tree(&mut runner)
            .expect("a strategy value")
            .current();
        if let Err(e) = survives(&name, &src) {
            panic!("after {cases} cases: {e}");
        }
        cases += 1;
    }
    eprintln!("fuzz: {cases} inputs in {secs} s, no panic");
}

/// A decimal too long for `f64` is diagnosed (`E0002`), not turned into an `inf` literal
/// that codegen cannot write.
#[test]
fn huge_decimal_is_too_large() {
    let src = format!(
        "use x::S; topology t {{ config {{ ratio = 1{}.5 }} spout s = S -> S }}",
        "0".repeat(400)
    );
    let diags = gale_compiler::compile_str("t.topo", &src).expect_err("too large");
    assert_eq!(diags.items[0].code, "E0002");
}
