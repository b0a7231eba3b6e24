//! Exactly-once on a cluster, with real nimbus, supervisor and worker processes on
//! 127.0.0.1: the `exactly_once` word count (file source, keyed count, a bolt with its own
//! state, a transactional file sink) on two workers, its checkpoints in an object store
//! (the local filesystem one), nimbus coordinating them. Workers are killed with SIGKILL,
//! then a supervisor, then a whole "machine" (a supervisor and its worker): every time
//! nimbus restarts the topology from its last completed checkpoint, and at the end the
//! committed output equals a plain count of the file, each count exactly once.

use gale_tests::cluster::{Cluster, http_request, kill9, output_text, parent_pid, serial};
use gale_tests::exactly_once_truth::{assert_exact, write_lines};
use std::path::Path;
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_exactly_once");
const RESCALED: &str = env!("CARGO_BIN_EXE_exactly_once_rescaled");

/// The line of `gale list` about topology `id`'s checkpoints.
fn checkpoint_line(list: &str) -> String {
    list.lines()
        .find(|l| l.trim_start().starts_with("checkpoints:"))
        .unwrap_or_default()
        .to_string()
}

/// The last completed checkpoint `gale list` shows (0: none yet).
fn last_checkpoint(list: &str) -> u64 {
    checkpoint_line(list)
        .split_whitespace()
        .nth(2)
        .and_then(|w| w.parse().ok())
        .unwrap_or(0)
}

/// The restarts `gale list` shows.
fn restarts(list: &str) -> u64 {
    let line = checkpoint_line(list);
    let words: Vec<&str> = line.split_whitespace().collect();
    words
        .windows(2)
        .find(|w| w[0] == "restarts")
        .and_then(|w| w[1].parse().ok())
        .unwrap_or(0)
}

/// Submits the word count over `lines` generated lines; returns the topology id and the
/// ground truth.
fn submit(
    c: &Cluster,
    lines: u64,
    pace_every: u64,
    extra: &[&str],
) -> (String, std::collections::BTreeMap<String, u64>) {
    let input = c.dir.join("lines.txt");
    let truth = write_lines(&input, lines, 7);
    let input_set = format!("input={}", input.display());
    let output_set = format!("output={}", c.dir.join("out").display());
    let pace_set = format!("pace_every={pace_every}");
    let storage = format!("file://{}", c.dir.join("checkpoints").display());
    let mut args = vec![
        "--set",
        &input_set,
        "--set",
        &output_set,
        "--set",
        &pace_set,
        "--checkpoint-dir",
        &storage,
    ];
    args.extend_from_slice(extra);
    let id = c.submit(Path::new(BIN), &args);
    (id, truth)
}

#[test]
fn kill_9_of_workers_and_a_supervisor_leaves_the_committed_output_exact() {
    let _one = serial();
    let mut c = Cluster::start("eo-kill", 2, 2, &[]);
    let (id, truth) = submit(&c, 600_000, 20, &[]);
    c.wait_for("a first checkpoint", Duration::from_secs(60), |c| {
        last_checkpoint(&c.list()) > 0
    });

    // A savepoint through the REST API (a long input: the run cannot end first): it is
    // offered, and needs the secret.
    let rest = format!("/api/v1/topologies/{id}");
    let (code, body) = http_request(&c.http, "GET", &rest, Some(&c.secret), "");
    assert_eq!(code, 200, "{body}");
    assert!(body.contains(r#""savepoint":true"#), "{body}");
    let savepoint = format!("{rest}/savepoint");
    let (code, _) = http_request(&c.http, "POST", &savepoint, None, "{}");
    assert_eq!(code, 401);
    let (code, body) = http_request(&c.http, "POST", &savepoint, Some(&c.secret), "{}");
    assert_eq!(code, 200, "{body}");
    assert!(
        body.contains(r#""path":""#) && body.contains("chk-"),
        "{body}"
    );

    // 1. A worker dies: its supervisor restarts it, nimbus restarts the whole topology from
    //    the last checkpoint (the new process's state is that checkpoint's).
    let pid = c.worker_pid(&id, 1).expect("worker 1 runs");
    kill9(pid);
    c.wait_for("a restart after the kill", Duration::from_secs(60), |c| {
        restarts(&c.list()) >= 1
    });
    let at = last_checkpoint(&c.list());
    c.wait_for(
        "a checkpoint after the restart",
        Duration::from_secs(60),
        |c| last_checkpoint(&c.list()) > at,
    );

    // 2. A supervisor dies: its worker runs on as an orphan (Storm's promise); the data
    //    flows on and checkpoints keep completing.
    let sup = c.supervisor_pid(0).expect("supervisor 0 runs");
    let orphans: Vec<u32> = c
        .worker_pids(&id)
        .into_iter()
        .filter(|p| parent_pid(*p) == Some(sup))
        .collect();
    c.kill_supervisor(0);
    let at = last_checkpoint(&c.list());
    c.wait_for(
        "a checkpoint without supervisor 0",
        Duration::from_secs(60),
        |c| last_checkpoint(&c.list()) > at,
    );

    // 3. The orphan dies too (the whole machine is gone): nobody restarts it; nimbus
    //    restarts the topology on the slots left.
    let before = restarts(&c.list());
    assert!(!orphans.is_empty(), "supervisor 0 ran no worker of `{id}`");
    for pid in orphans {
        kill9(pid);
    }
    c.wait_for(
        "a restart on the machine left",
        Duration::from_secs(60),
        |c| restarts(&c.list()) > before,
    );

    c.wait_finished(&id, Duration::from_secs(300));
    let list = c.list();
    assert!(
        checkpoint_line(&list).contains("completed"),
        "gale list shows the checkpoints: {list}"
    );
    assert_exact(&truth, &c.dir.join("out"), "after the kills");
    if std::env::var("GALE_TEST_SHOW").is_ok() {
        eprintln!("{list}\n{}", c.logs());
    }
    let logs = c.logs();
    assert!(
        logs.contains("restarting"),
        "nimbus says it restarts from a checkpoint:\n{}",
        output_text_tail(&logs)
    );
}

#[test]
fn a_savepoint_taken_on_the_cluster_restores_exactly_at_another_task_count() {
    let _one = serial();
    let c = Cluster::start("eo-savepoint", 1, 2, &[]);
    let (id, truth) = submit(&c, 100_000, 25, &[]);
    c.wait_for("a first checkpoint", Duration::from_secs(60), |c| {
        last_checkpoint(&c.list()) > 0
    });
    let kept = c.dir.join("kept");
    let out = c.gale(&[
        "savepoint",
        "exactly_once",
        "--dir",
        &kept.display().to_string(),
    ]);
    let said = output_text(&out);
    assert!(out.status.success(), "{said}");
    let path = said
        .split_whitespace()
        .skip_while(|w| *w != "at")
        .nth(1)
        .unwrap_or_else(|| panic!("no path in {said}"))
        .to_string();
    assert!(path.contains("kept/chk-"), "{said}");
    // Stop it, and start a new one from the savepoint: what the first committed up to the
    // savepoint stays; the second goes on from there.
    let out = c.gale(&["kill", &id]);
    assert!(out.status.success(), "{}", output_text(&out));
    c.wait_for("its workers stopped", Duration::from_secs(30), |c| {
        c.worker_pids(&id).is_empty()
    });
    // The new binary keys `count` over 3 tasks instead of 4: its keyed state moves by key
    // group.
    let second = c.submit(
        Path::new(RESCALED),
        &[
            "--set",
            &format!("input={}", c.dir.join("lines.txt").display()),
            "--set",
            &format!("output={}", c.dir.join("out").display()),
            "--from-savepoint",
            &path,
        ],
    );
    c.wait_finished(&second, Duration::from_secs(300));
    assert_exact(&truth, &c.dir.join("out"), "restored from the savepoint");
}

#[test]
fn when_the_restart_strategy_gives_up_the_topology_is_listed_failed_with_the_reason() {
    let _one = serial();
    let c = Cluster::start("eo-give-up", 1, 2, &[]);
    let (id, _) = submit(&c, 300_000, 20, &["--set", "restart_strategy=none"]);
    c.wait_for("a first checkpoint", Duration::from_secs(60), |c| {
        last_checkpoint(&c.list()) > 0
    });
    kill9(c.worker_pid(&id, 1).expect("worker 1 runs"));
    c.wait_for("the topology failed", Duration::from_secs(60), |c| {
        c.list().contains(&format!("topology {id}  failed"))
    });
    let list = c.list();
    assert!(
        list.contains(
            "failed: lost worker 1 (its checkpoint stream closed); the restart strategy is `none`"
        ),
        "{list}"
    );
    c.wait_for("its workers stopped", Duration::from_secs(30), |c| {
        c.worker_pids(&id).is_empty()
    });
    // The REST API says the same.
    let (code, body) = http_request(
        &c.http,
        "GET",
        &format!("/api/v1/topologies/{id}"),
        Some(&c.secret),
        "",
    );
    assert_eq!(code, 200, "{body}");
    assert!(body.contains(r#""status":"failed""#), "{body}");
    assert!(body.contains("the restart strategy is `none`"), "{body}");
    assert!(body.contains(r#""checkpoints":{"last_id":"#), "{body}");
}

#[test]
fn a_nimbus_killed_mid_run_restarts_the_topology_from_its_recorded_checkpoint() {
    let _one = serial();
    let mut c = Cluster::start("eo-nimbus", 1, 2, &[]);
    let (id, truth) = submit(&c, 300_000, 20, &[]);
    c.wait_for("a first checkpoint", Duration::from_secs(60), |c| {
        last_checkpoint(&c.list()) > 0
    });
    // Nimbus dies with checkpoints in flight; the workers run on without it. The new one
    // knows none of them: the workers' streams reconnect, and it restarts the topology from
    // the last checkpoint its store recorded.
    c.kill_nimbus();
    std::thread::sleep(Duration::from_secs(2));
    c.start_nimbus();
    c.wait_for(
        "a restart by the new nimbus",
        Duration::from_secs(60),
        |c| restarts(&c.list()) >= 1,
    );
    c.wait_finished(&id, Duration::from_secs(300));
    assert_exact(&truth, &c.dir.join("out"), "after a nimbus restart");
}

/// The last lines of a long log.
fn output_text_tail(logs: &str) -> String {
    let lines: Vec<&str> = logs.lines().collect();
    lines[lines.len().saturating_sub(80)..].join("\n")
}
