//! Exactly-once, end to end, as a user runs it: the `exactly_once` binary (a file source,
//! a split, a keyed count, a bolt with its own state, a transactional file sink) over a
//! generated file. Its counters panic at seeded points, or the whole process is killed
//! with SIGKILL and started again with `--restore`, or the newest checkpoint is damaged
//! before the restore: every time the committed output (the sink's `part-*` files) must
//! equal a plain count of the file: each word's counts 1..=n, each exactly once.

use gale::checkpoint::{CheckpointStore, LocalDir};
use gale_tests::exactly_once_truth::{assert_exact, next, write_lines};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_exactly_once");

/// A directory of its own for one test, removed when it passes.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("gale-eo-{name}-{}", std::process::id()));
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

fn run_args(s: &Scratch, extra: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = vec![
        "run".into(),
        "--no-progress".into(),
        "--checkpoint-dir".into(),
        s.path("chk").display().to_string(),
        "--set".into(),
        format!("input={}", s.path("lines.txt").display()),
        "--set".into(),
        format!("output={}", s.path("out").display()),
    ];
    args.extend(extra.iter().map(|a| a.to_string()));
    args
}

/// Runs the binary to its end; returns its stderr.
fn run(args: &[String]) -> String {
    let out = Command::new(BIN)
        .args(args)
        .env("RUST_BACKTRACE", "0")
        .output()
        .expect("run the exactly_once binary");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "the run failed:\n{stderr}");
    stderr
}

#[test]
fn panics_at_seeded_points_leave_the_committed_output_exact() {
    let s = Scratch::new("panics");
    let truth = write_lines(&s.path("lines.txt"), 1_000_000, 1);
    let words: u64 = truth.values().sum();
    for seed in [11, 12] {
        let _ = std::fs::remove_dir_all(s.path("out"));
        let _ = std::fs::remove_dir_all(s.path("chk"));
        let stderr = run(&run_args(
            &s,
            &[
                "--set",
                &format!("chaos_seed={seed}"),
                "--set",
                "chaos_panics=5",
                "--set",
                &format!("chaos_range={words}"),
            ],
        ));
        assert_exact(&truth, &s.path("out"), &format!("seed {seed}"));
        assert!(
            stderr.contains("restarts: 5 "),
            "five panics, five restarts:\n{stderr}"
        );
        assert!(
            stderr.contains("restoring checkpoint"),
            "some restart restored a checkpoint (not only fresh starts):\n{stderr}"
        );
        assert!(stderr.contains("checkpoints: "), "{stderr}");
    }
}

/// The complete checkpoints (with `_metadata`) under `dir`, oldest first.
fn complete_checkpoints(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("_metadata").exists())
        .collect();
    v.sort();
    v
}

/// Starts a run and returns once `n` of its checkpoints are complete (or after a minute).
fn start_with_checkpoints(s: &Scratch, n: usize) -> std::process::Child {
    let child = Command::new(BIN)
        .args(run_args(s, &[]))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the exactly_once binary");
    let deadline = Instant::now() + Duration::from_secs(60);
    while complete_checkpoints(&s.path("chk")).len() < n && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(2));
    }
    child
}

/// Starts a run, kills it with SIGKILL after `after`; true if it was still running.
fn kill_after(args: &[String], after: Duration) -> bool {
    let mut child = Command::new(BIN)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the exactly_once binary");
    let deadline = Instant::now() + after;
    while Instant::now() < deadline {
        if child.try_wait().ok().flatten().is_some() {
            return false;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let alive = child.try_wait().ok().flatten().is_none();
    // `Child::kill` is SIGKILL on Unix: no destructor, no flush, no final checkpoint.
    let _ = child.kill();
    let _ = child.wait();
    alive
}

#[test]
fn kill_9_mid_run_then_restore_is_exact_over_20_seeds() {
    let s = Scratch::new("kill");
    let truth = write_lines(&s.path("lines.txt"), 300_000, 2);
    // The soak script (`tests/soak-exactly-once.sh`) runs more: GALE_EO_SEEDS=N, from
    // GALE_EO_FIRST_SEED.
    let env = |k: &str, d: u64| {
        std::env::var(k)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(d)
    };
    let (first, seeds) = (env("GALE_EO_FIRST_SEED", 0), env("GALE_EO_SEEDS", 20));
    let mut killed = 0;
    for seed in first..first + seeds {
        let _ = std::fs::remove_dir_all(s.path("out"));
        let _ = std::fs::remove_dir_all(s.path("chk"));
        let mut rng = seed;
        let after = Duration::from_millis(100 + next(&mut rng) % 700);
        if kill_after(&run_args(&s, &[]), after) {
            killed += 1;
        }
        let stderr = run(&run_args(&s, &["--restore"]));
        assert_exact(
            &truth,
            &s.path("out"),
            &format!("seed {seed}, killed after {after:?}"),
        );
        assert!(stderr.contains("finished in"), "{stderr}");
    }
    assert!(
        killed >= seeds / 2,
        "most runs were killed mid-way ({killed} of {seeds})"
    );
}

#[test]
fn a_damaged_newest_checkpoint_is_skipped_and_the_restore_stays_exact() {
    let s = Scratch::new("damaged");
    let truth = write_lines(&s.path("lines.txt"), 1_000_000, 3);
    for (case, damage) in [("truncated", 0u8), ("bit-flipped", 1u8)] {
        let _ = std::fs::remove_dir_all(s.path("out"));
        let _ = std::fs::remove_dir_all(s.path("chk"));
        // Killed once at least two checkpoints are complete.
        let mut child = start_with_checkpoints(&s, 2);
        let _ = child.kill();
        let _ = child.wait();
        let chks = complete_checkpoints(&s.path("chk"));
        assert!(
            chks.len() >= 2,
            "{case}: two checkpoints complete before the kill"
        );
        // Damage a state file of the newest.
        let newest = chks.last().expect("a checkpoint");
        let state = newest.join("state").join("count").join("0");
        let mut bytes = std::fs::read(&state).expect("a state file");
        if damage == 0 {
            bytes.truncate(bytes.len() / 2);
        } else {
            let last = bytes.len() - 1;
            bytes[last] ^= 0x10;
        }
        std::fs::write(&state, bytes).expect("damaged");
        let stderr = run(&run_args(&s, &["--restore"]));
        let name = newest
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let id: u64 = name.trim_start_matches("chk-").parse().expect("an id");
        assert!(
            stderr.contains(&format!("skipping checkpoint {id}")),
            "{case}: the damaged checkpoint is named:\n{stderr}"
        );
        assert_exact(&truth, &s.path("out"), case);
    }
}

const RESCALED: &str = env!("CARGO_BIN_EXE_exactly_once_rescaled");

#[test]
fn a_savepoint_of_a_running_topology_restores_exactly_at_another_task_count() {
    let s = Scratch::new("savepoint");
    let truth = write_lines(&s.path("lines.txt"), 1_000_000, 4);
    // Running: its first checkpoint is complete.
    let mut child = start_with_checkpoints(&s, 1);
    let out = Command::new(BIN)
        .args(["savepoint", "--checkpoint-dir"])
        .arg(s.path("chk"))
        .arg("--dir")
        .arg(s.path("sp"))
        .output()
        .expect("savepoint");
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "savepoint: {said}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(said.starts_with("savepoint "), "{said}");
    // The run dies; the savepoint is all there is.
    let _ = child.kill();
    let _ = child.wait();
    let meta = std::fs::read_dir(s.path("sp"))
        .expect("the savepoint's directory")
        .flatten()
        .map(|e| e.path().join("_metadata"))
        .find(|m| m.exists())
        .expect("a complete savepoint");
    let text = std::fs::read_to_string(&meta).expect("metadata");
    assert!(text.contains("\"savepoint\": true"), "{text}");
    // Restored into the topology with 3 `count` tasks instead of 4, checkpointing anew.
    let mut args = run_args(&s, &["--from-savepoint"]);
    args.push(s.path("sp").display().to_string());
    if let Some(i) = args.iter().position(|a| a.ends_with("/chk")) {
        args[i] = s.path("chk2").display().to_string();
    }
    let out = Command::new(RESCALED)
        .args(&args)
        .output()
        .expect("run the rescaled binary");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("starting from savepoint"), "{stderr}");
    assert_exact(&truth, &s.path("out"), "savepoint restored at 3 tasks");

    // The same savepoint, its `count` state recorded in another shape (as if the
    // topology had changed its key's type since): the restore is refused, by name.
    let store = CheckpointStore::new(LocalDir::new(s.path("sp")));
    let (Some(mut meta), _) = store.latest().expect("readable") else {
        panic!("the savepoint is there");
    };
    let count = meta
        .operators
        .get_mut("count")
        .expect("`count` is recorded");
    assert!(
        count.schema.contains("keyed by (word: String)"),
        "{}",
        count.schema
    );
    count.schema = count.schema.replace("(word: String)", "(word: u64)");
    store.commit(&meta).expect("rewritten");
    let _ = std::fs::remove_dir_all(s.path("chk2"));
    let out = Command::new(RESCALED)
        .args(&args)
        .output()
        .expect("run the rescaled binary");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        !out.status.success(),
        "an incompatible savepoint is refused"
    );
    assert!(
        stderr.contains("the state of `count` was `process(Counter) keyed by (word: u64)"),
        "{stderr}"
    );
}

#[test]
fn after_too_many_failures_the_run_stops_and_says_why() {
    let s = Scratch::new("give-up");
    write_lines(&s.path("lines.txt"), 100_000, 5);
    let out = Command::new(BIN)
        .args(run_args(
            &s,
            &[
                "--set",
                "restart_strategy=fixed_delay",
                "--set",
                "restart_attempts=2",
                "--set",
                "restart_delay=0ms",
                "--set",
                "chaos_panics=10",
                "--set",
                "chaos_range=50000",
            ],
        ))
        .env("RUST_BACKTRACE", "0")
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "it gives up:\n{stderr}");
    assert!(
        stderr.contains("not restarted after 2 restarts: it failed after 2 restarts"),
        "the reason is shown:\n{stderr}"
    );
    assert!(
        stderr.contains("chaos: word"),
        "the failure is named:\n{stderr}"
    );
}
