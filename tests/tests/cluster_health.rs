//! The cluster's health checks (issue 9, defects 8, 9 and 11), with real nimbus, supervisor
//! and worker processes on 127.0.0.1: a hung executor is found and its worker restarted, a
//! tuple above the frame limit fails at once, and a worker's credential cannot administer
//! the cluster.

use gale_tests::cluster::{Cluster, acked_ids, output_text, serial, slow_cluster, workspace_bin};
use std::time::Duration;

fn acking_binary() -> std::path::PathBuf {
    env!("CARGO_BIN_EXE_cluster_acking").into()
}

/// Defect 9: a bolt blocked forever in `execute` left its worker heartbeating as alive.
/// Now the worker sees its executor's pending input make no progress for `hang_timeout`,
/// says why in a last heartbeat, and exits; its supervisor restarts it.
#[test]
fn a_hung_bolt_makes_its_worker_exit_and_restart_and_gale_list_says_why() {
    let _one = serial();
    let c = slow_cluster("hang");
    let _id = c.submit(
        &acking_binary(),
        &["--set", "hang_task=0", "--set", "hang_timeout=3s"],
    );
    c.wait_for(
        "a restart, and the hung executor named by gale list",
        Duration::from_secs(60),
        |c| {
            let list = c.list();
            list.contains("unhealthy: executor `relay:0` has had input pending")
                && list
                    .lines()
                    .any(|l| l.trim_start().starts_with("worker ") && l.contains("restarts "))
        },
    );
    let logs = c.logs();
    assert!(
        logs.contains("unhealthy, exiting: executor `relay:0`"),
        "the worker's log does not name the hung executor:\n{logs}"
    );
}

/// The `failed` column of component `name` in `gale list`'s table.
fn failed_of(list: &str, name: &str) -> Option<u64> {
    list.lines()
        .map(str::split_whitespace)
        .find_map(|mut cols| {
            (cols.next() == Some(name)).then(|| cols.nth(3).and_then(|f| f.parse().ok()))
        })
        .flatten()
}

/// Defect 8 (remainder): a tuple that alone encodes above the data plane's frame limit was
/// logged and dropped, and its tree failed only at `message_timeout`. Now its tree fails at
/// once: the spout's `fail` runs within moments, counted in `gale list`.
#[test]
fn a_tuple_above_the_frame_limit_fails_its_tree_at_once() {
    let _one = serial();
    let c = slow_cluster("oversized");
    let _id = c.submit(
        &acking_binary(),
        &[
            "--set",
            "max_frame=65536",
            "--set",
            "big_id=100",
            "--set",
            "big_pad=200000",
        ],
    );
    c.wait_for(
        "the spout saw a big id fail",
        Duration::from_secs(60),
        |c| c.logs().contains("cluster_acking: big id "),
    );
    let logs = c.logs();
    let fastest = logs
        .lines()
        .filter_map(|l| l.split("cluster_acking: big id ").nth(1))
        .filter_map(|rest| rest.split_whitespace().nth(2)?.parse::<u64>().ok())
        .min()
        .unwrap_or_else(|| panic!("no fail latency in the logs:\n{logs}"));
    // `message_timeout` is 2 s: a tree that timed out fails no sooner than that.
    assert!(
        fastest < 1_000,
        "the big tuple's tree failed {fastest} ms after its emit: by timeout, not at once"
    );
    assert!(
        logs.contains("above the data plane's frame limit of 65519 bytes (`max_frame`): not sent, 1 tuple trees failed"),
        "the worker does not log the oversized tuple:\n{logs}"
    );
    c.wait_for(
        "gale list counts the failure",
        Duration::from_secs(10),
        |c| failed_of(&c.list(), "ids").is_some_and(|n| n >= 1),
    );
}

/// The `GALE_SECRET` a process was started with (from /proc), if any.
fn secret_in_environment(pid: u32) -> Option<String> {
    let env = std::fs::read(format!("/proc/{pid}/environ")).ok()?;
    env.split(|&b| b == 0)
        .filter_map(|kv| std::str::from_utf8(kv).ok())
        .find_map(|kv| kv.strip_prefix("GALE_SECRET="))
        .map(str::to_owned)
}

/// Defect 11: every worker got the cluster secret in its environment, so user code could
/// submit, kill or rebalance topologies. Now a worker holds only its topology's credential:
/// enough to run (assignment, heartbeats, the data plane between its workers), refused
/// for anything an operator does.
#[test]
fn a_worker_credential_runs_its_topology_but_cannot_administer_the_cluster() {
    let _one = serial();
    let c = slow_cluster("credential");
    // A short hang timeout too: a healthy topology must not look hung.
    let id = c.submit(&acking_binary(), &["--set", "hang_timeout=3s"]);
    c.wait_for("both workers", Duration::from_secs(60), |c| {
        c.worker_pids(&id).len() == 2
    });
    let pids = c.worker_pids(&id);
    let token = secret_in_environment(pids[0]).expect("the worker has a credential");
    assert_ne!(token, c.secret, "the worker was given the cluster secret");
    assert!(!token.contains(&c.secret), "{token}");
    assert_eq!(secret_in_environment(pids[1]).as_deref(), Some(&*token));

    for args in [
        vec!["kill", id.as_str()],
        vec!["list"],
        vec!["rebalance", id.as_str(), "--parallelism", "relay=1"],
    ] {
        let out = c.gale_with(&args, Some(&token));
        let said = output_text(&out);
        assert!(
            !out.status.success(),
            "{args:?} with a worker credential: {said}"
        );
        assert!(
            said.contains("a worker credential (of topology `") && said.contains("cluster secret"),
            "{args:?}: {said}"
        );
    }
    let binary = acking_binary().display().to_string();
    let out = c.gale_with(&["submit", &binary, "--workers", "2"], Some(&token));
    let said = output_text(&out);
    assert!(
        !out.status.success(),
        "submit with a worker credential: {said}"
    );
    assert!(said.contains("worker credential"), "{said}");

    // The topology runs on, through its workers' data plane: more ids get acked, no worker
    // restarts or reports itself unhealthy.
    let before = acked_ids(&c.dir).len();
    c.wait_for("more ids acked", Duration::from_secs(30), |c| {
        acked_ids(&c.dir).len() >= before + 400
    });
    let list = c.list();
    assert!(list.contains(&format!("topology {id}  running")), "{list}");
    // (Not the worker pids: a slow supervisor start can get the topology reassigned once.)
    let logs = c.logs();
    assert!(
        !list.contains("unhealthy") && !logs.contains("unhealthy"),
        "a healthy worker called itself unhealthy:\n{list}\n{logs}"
    );
}

/// The other side of hang detection: a finite topology under a one-second hang timeout
/// runs to its end with no worker called hung (executors waiting for input, or finished,
/// are not hung).
#[test]
fn a_finite_topology_with_a_short_hang_timeout_finishes_without_a_false_hang() {
    let _one = serial();
    let c = Cluster::start("finished-not-hung", 2, 2, &[]);
    let id = c.submit(
        &workspace_bin("wordcount"),
        &["--set", "repeat=40", "--set", "hang_timeout=1s"],
    );
    c.wait_for("the topology finished", Duration::from_secs(120), |c| {
        c.list().contains(&format!("topology {id}  finished"))
    });
    let logs = c.logs();
    assert!(!logs.contains("unhealthy"), "{logs}");
    assert!(!c.list().contains("restarts"), "{}", c.list());
}
