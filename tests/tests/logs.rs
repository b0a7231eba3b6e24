//! Structured logs, as a user reads them: the `exactly_once` binary's local run, whose
//! keyed counter panics once (a failed tuple, logged from inside its executor, then a
//! restart from a checkpoint). With `--log-format json` (or `GALE_LOG_FORMAT=json`) every
//! log line on stderr is one JSON object in tracing-subscriber's layout, and the failed
//! tuple's line names the executor's topology, component and tasks in its span; by
//! default the lines are text, with the same messages.

use gale_tests::exactly_once_truth::write_lines;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_exactly_once");

/// A directory of its own for one test, removed when it passes.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("gale-logs-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("scratch directory");
        Scratch(dir)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// Runs the binary over a small file with one seeded panic in `count`; `extra` are more
/// arguments, `env` more environment. `RUST_LOG` and `GALE_LOG_FORMAT` are the test's.
fn run_with_one_panic(s: &Scratch, extra: &[&str], env: &[(&str, &str)]) -> Output {
    let truth = write_lines(&s.path("lines.txt"), 2_000, 7);
    let words: u64 = truth.values().sum();
    let arg = |name: &str, p: &Path| format!("{name}={}", p.display());
    Command::new(BIN)
        .arg("run")
        .arg("--no-progress")
        .arg("--checkpoint-dir")
        .arg(s.path("chk"))
        .args(["--set", &arg("input", &s.path("lines.txt"))])
        .args(["--set", &arg("output", &s.path("out"))])
        .args(["--set", "chaos_seed=3", "--set", "chaos_panics=1"])
        .args(["--set", &format!("chaos_range={words}")])
        .args(extra)
        .env_remove("RUST_LOG")
        .env_remove("GALE_LOG_FORMAT")
        .env("RUST_BACKTRACE", "0")
        .envs(env.iter().copied())
        .output()
        .expect("run the exactly_once binary")
}

/// Every stderr line that is a log line (a JSON object), parsed; panics on one that is
/// not valid JSON or lacks `level` and `fields.message`.
fn json_log_lines(stderr: &str) -> Vec<Value> {
    stderr
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| {
            let v: Value = serde_json::from_str(l)
                .unwrap_or_else(|e| panic!("not a JSON log line ({e}): {l}\n--- stderr\n{stderr}"));
            assert!(v["level"].is_string(), "no level: {l}");
            assert!(v["fields"]["message"].is_string(), "no fields.message: {l}");
            v
        })
        .collect()
}

/// The line of `count`'s failed tuple, checked: its span (and the innermost of its span
/// list) is the `count` executor's, naming the topology, component and tasks.
fn assert_the_failed_tuple_names_its_executor(lines: &[Value], stderr: &str) {
    let failed = lines
        .iter()
        .find(|v| {
            v["fields"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("failed a tuple"))
        })
        .unwrap_or_else(|| panic!("no failed tuple logged:\n{stderr}"));
    assert_eq!(failed["level"], "WARN", "{failed}");
    assert_eq!(failed["target"], "gale::exec::chain::stage", "{failed}");
    assert_eq!(failed["fields"]["component"], "count", "{failed}");
    let span = &failed["span"];
    assert_eq!(span["name"], "executor", "{failed}");
    assert_eq!(span["topology"], "exactly_once", "{failed}");
    assert_eq!(span["component"], "count", "{failed}");
    // `count` has 4 tasks on 2 executors: each runs two, `a-b`.
    let tasks = span["task"].as_str().unwrap_or_default();
    assert!(
        tasks
            .split_once('-')
            .is_some_and(|(a, b)| { a.parse::<u32>().is_ok() && b.parse::<u32>().is_ok() }),
        "task is a range of task ids: {failed}"
    );
    let task = failed["fields"]["task"]
        .as_u64()
        .expect("the failed task's id");
    let (lo, hi) = tasks.split_once('-').unwrap_or(("", ""));
    assert!(
        (lo.parse::<u64>().unwrap_or(u64::MAX)..=hi.parse::<u64>().unwrap_or(0)).contains(&task),
        "the task that failed is one of its executor's: {failed}"
    );
    let spans = failed["spans"].as_array().expect("a span list");
    assert_eq!(spans.last(), Some(span), "{failed}");
}

#[test]
fn json_log_lines_name_the_executor_a_tuple_failed_in() {
    let s = Scratch::new("json");
    let out = run_with_one_panic(&s, &["--log-format", "json"], &[]);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "the run failed:\n{stderr}");
    let lines = json_log_lines(&stderr);
    assert_the_failed_tuple_names_its_executor(&lines, &stderr);
    // The restart is logged by the run itself, with its fields.
    let restart = lines
        .iter()
        .find(|v| v["fields"]["restart"] == 1)
        .unwrap_or_else(|| panic!("no restart logged:\n{stderr}"));
    assert_eq!(restart["level"], "INFO", "{restart}");
    // No text log line slipped through: what is not JSON is the panic's own report and
    // the run summary (user-facing output, not logs).
    for l in stderr.lines().filter(|l| !l.starts_with('{')) {
        assert!(
            !l.contains(" INFO ") && !l.contains(" WARN ") && !l.contains("ERROR "),
            "a text log line among the JSON ones: {l}\n--- stderr\n{stderr}"
        );
    }
    assert!(stderr.contains("restarts: 1 "), "the summary:\n{stderr}");
}

#[test]
fn the_environment_chooses_json_as_a_supervisor_passes_it_on() {
    let s = Scratch::new("env");
    let out = run_with_one_panic(&s, &[], &[("GALE_LOG_FORMAT", "json")]);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "the run failed:\n{stderr}");
    let lines = json_log_lines(&stderr);
    assert_the_failed_tuple_names_its_executor(&lines, &stderr);
}

#[test]
fn text_is_the_default_with_the_same_messages() {
    let s = Scratch::new("text");
    let out = run_with_one_panic(&s, &[], &[]);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "the run failed:\n{stderr}");
    assert!(
        !stderr.lines().any(|l| l.starts_with('{')),
        "JSON without asking:\n{stderr}"
    );
    let failed = stderr
        .lines()
        .find(|l| l.contains("failed a tuple"))
        .unwrap_or_else(|| panic!("no failed tuple logged:\n{stderr}"));
    // `<time>  WARN executor{topology=exactly_once component=count ...}: <target>: <message>`
    assert!(failed.contains(" WARN "), "{failed}");
    assert!(
        failed.contains("topology=exactly_once") && failed.contains("component=count"),
        "{failed}"
    );
    assert!(
        !failed.contains('\u{1b}'),
        "no colour when stderr is not a terminal: {failed:?}"
    );
    assert!(stderr.contains("restart 1: "), "{stderr}");
}

#[test]
fn a_bad_log_format_or_filter_is_refused_by_name() {
    let out = Command::new(BIN)
        .args(["run", "--log-format", "xml"])
        .output()
        .expect("run the exactly_once binary");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("unknown log format `xml`: expected `text` or `json`"),
        "{stderr}"
    );
    let out = Command::new(BIN)
        .args(["run", "--log-format", "json"])
        .env("RUST_LOG", "gale=loud")
        .output()
        .expect("run the exactly_once binary");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("invalid RUST_LOG `gale=loud`"), "{stderr}");
}
