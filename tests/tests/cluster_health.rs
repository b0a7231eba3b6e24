//! The cluster's health checks (issue 9, defects 8, 9 and 11), with real nimbus, supervisor
//! and worker processes on 127.0.0.1: a hung executor is found and its worker restarted, a
//! tuple above the frame limit fails at once, and a worker's credential cannot administer
//! the cluster.

use gale_tests::cluster::{Cluster, serial};
use std::time::Duration;

fn acking_binary() -> std::path::PathBuf {
    env!("CARGO_BIN_EXE_cluster_acking").into()
}

/// A slow, never-ending at-least-once topology's cluster.
fn slow_cluster(name: &str) -> Cluster {
    Cluster::start(
        name,
        2,
        2,
        &[("GALE_TEST_IDS", "1000000"), ("GALE_TEST_RATE", "200")],
    )
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
