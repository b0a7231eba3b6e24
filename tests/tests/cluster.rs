//! The cluster, as users run it: a real nimbus and two supervisors (two slots each) on
//! 127.0.0.1, topology binaries submitted to them, and processes killed with `kill -9`.

use gale_tests::cluster::{Cluster, acked_ids, kill9, output_text, serial, workspace_bin};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// The ground truth of the word-count example: its bundled text counted by a plain loop,
/// with the example's tokenizer rules (runs of letters, digits and apostrophes; outer
/// apostrophes trimmed; lowercase).
fn wordcount_truth() -> BTreeMap<String, u64> {
    let text = include_str!("../../examples/wordcount/data/sentences.txt");
    let mut m = BTreeMap::new();
    for w in text.split(|c: char| !(c.is_alphanumeric() || c == '\'')) {
        let w = w.trim_matches('\'');
        if !w.is_empty() {
            *m.entry(w.to_lowercase()).or_insert(0) += 1;
        }
    }
    m
}

fn all_ids(n: u64) -> BTreeSet<u64> {
    (0..n).collect()
}

#[test]
fn word_count_on_two_workers_matches_the_ground_truth() {
    let _one = serial();
    let c = Cluster::start("wordcount", 2, 2, &[]);
    let id = c.submit(&workspace_bin("wordcount"), &[]);
    c.wait_for("both workers running", Duration::from_secs(60), |c| {
        c.worker_pids(&id).len() == 2 || c.list().contains("finished")
    });
    let list = c.list();
    assert!(list.contains("worker 0 on sup"), "{list}");
    assert!(list.contains("worker 1 on sup"), "{list}");
    c.wait_for("the topology finished", Duration::from_secs(120), |c| {
        c.list().contains("finished")
    });
    // The printer's `word count` lines are in the log of the worker that ran it.
    let mut counts = BTreeMap::new();
    let logs = c.dir.join("sup0").join("logs").join(&id);
    let logs1 = c.dir.join("sup1").join("logs").join(&id);
    for dir in [logs, logs1] {
        for e in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            for line in std::fs::read_to_string(e.path())
                .unwrap_or_default()
                .lines()
            {
                let mut parts = line.split(' ');
                if let (Some(w), Some(n), None) = (parts.next(), parts.next(), parts.next())
                    && let Ok(n) = n.parse::<u64>()
                {
                    counts.insert(w.to_string(), n);
                }
            }
        }
    }
    assert_eq!(counts, wordcount_truth(), "logs:\n{}", c.logs());
    // Finished workers exit by themselves; `gale kill` removes the topology.
    let out = c.gale(&["kill", "wordcount"]);
    assert!(out.status.success(), "{}", output_text(&out));
    c.wait_for("no worker left", Duration::from_secs(15), |c| {
        c.worker_pids(&id).is_empty()
    });
    assert!(c.list().contains("no topologies"));
}

const IDS: u64 = 20_000;

fn acking_cluster(name: &str) -> Cluster {
    Cluster::start(
        name,
        2,
        2,
        &[("GALE_TEST_IDS", "20000"), ("GALE_TEST_RATE", "2000")],
    )
}

fn acking_binary() -> std::path::PathBuf {
    env!("CARGO_BIN_EXE_cluster_acking").into()
}

#[test]
fn kill_9_of_a_worker_restarts_it_and_loses_no_message() {
    let _one = serial();
    let c = acking_cluster("kill-worker");
    let id = c.submit(&acking_binary(), &[]);
    c.wait_for("a quarter of the ids acked", Duration::from_secs(60), |c| {
        acked_ids(&c.dir).len() as u64 > IDS / 4
    });
    let before = c.worker_pids(&id);
    assert_eq!(before.len(), 2, "{}", c.list());
    kill9(before[1]);
    c.wait_for(
        "the supervisor restarted the worker",
        Duration::from_secs(30),
        |c| {
            let now = c.worker_pids(&id);
            now.len() == 2 && !now.contains(&before[1])
        },
    );
    c.wait_for("every id acked", Duration::from_secs(120), |c| {
        acked_ids(&c.dir) == all_ids(IDS)
    });
    let out = c.gale(&["kill", "cluster_acking"]);
    assert!(out.status.success(), "{}", output_text(&out));
    c.wait_for("every worker stopped", Duration::from_secs(15), |c| {
        c.worker_pids(&id).is_empty()
    });
}

#[test]
fn kill_9_of_a_supervisor_leaves_its_workers_running_and_a_restarted_one_adopts_them() {
    let _one = serial();
    let mut c = acking_cluster("kill-supervisor");
    let id = c.submit(&acking_binary(), &[]);
    c.wait_for("both workers running", Duration::from_secs(60), |c| {
        c.worker_pids(&id).len() == 2
    });
    let list = c.list();
    assert!(
        list.contains(" on sup0 ") && list.contains(" on sup1 "),
        "the even scheduler spreads the two workers: {list}"
    );
    let on_sup0: u32 = if list.contains("worker 0 on sup0 ") {
        0
    } else {
        1
    };
    let orphan = c.worker_pid(&id, on_sup0).expect("the worker on sup0 runs");
    c.kill_supervisor(0);
    let acked = acked_ids(&c.dir).len();
    c.wait_for("sup0 listed dead", Duration::from_secs(30), |c| {
        c.list()
            .lines()
            .any(|l| l.starts_with("supervisor sup0 ") && l.contains(" dead "))
    });
    // Past the supervisor timeout: nothing moved, and the data flows on.
    c.wait_for("progress with sup0 dead", Duration::from_secs(30), |c| {
        acked_ids(&c.dir).len() > acked + 1000
    });
    assert_eq!(c.worker_pid(&id, on_sup0), Some(orphan), "{}", c.list());
    let list = c.list();
    assert!(
        list.contains(&format!("worker {on_sup0} on sup0 ")) && list.contains(" orphan "),
        "{list}"
    );
    // Restarted, the supervisor adopts its worker instead of starting another.
    c.start_supervisor(0);
    c.wait_for("sup0 adopts its worker", Duration::from_secs(30), |c| {
        std::fs::read_to_string(c.dir.join("supervisor-0.log"))
            .is_ok_and(|l| l.contains(&format!("adopted worker {on_sup0} of `{id}`")))
    });
    c.wait_for(
        "the adopted worker listed alive",
        Duration::from_secs(30),
        |c| {
            c.list()
                .lines()
                .any(|l| l.contains(&format!("worker {on_sup0} on sup0 ")) && l.contains(" alive "))
        },
    );
    assert_eq!(c.worker_pid(&id, on_sup0), Some(orphan), "{}", c.list());
    // Without its supervisor, an orphan that dies moves to the other supervisor.
    c.kill_supervisor(0);
    kill9(orphan);
    c.wait_for("both workers on sup1", Duration::from_secs(30), |c| {
        let l = c.list();
        l.contains("worker 0 on sup1 ") && l.contains("worker 1 on sup1 ")
    });
    c.wait_for("every id acked", Duration::from_secs(120), |c| {
        acked_ids(&c.dir) == all_ids(IDS)
    });
    assert_eq!(c.worker_pids(&id).len(), 2, "{}", c.list());
}

#[test]
fn an_adopted_worker_is_replaced_by_a_rebalance_and_gone_after_a_kill() {
    let _one = serial();
    let mut c = acking_cluster("adopted-stop");
    let id = c.submit(&acking_binary(), &[]);
    c.wait_for("both workers running", Duration::from_secs(60), |c| {
        c.worker_pids(&id).len() == 2
    });
    let list = c.list();
    let on_sup0: u32 = if list.contains("worker 0 on sup0 ") {
        0
    } else {
        1
    };
    let adopted = c.worker_pid(&id, on_sup0).expect("the worker on sup0 runs");
    c.kill_supervisor(0);
    c.start_supervisor(0);
    c.wait_for("sup0 adopts its worker", Duration::from_secs(30), |c| {
        std::fs::read_to_string(c.dir.join("supervisor-0.log"))
            .is_ok_and(|l| l.contains(&format!("adopted worker {on_sup0} of `{id}`")))
    });
    // A rebalance moves the executors: every worker restarts, the adopted one too (it
    // stops, or its supervisor kills it by pid, and the new incarnation starts on its port).
    let out = c.gale(&["rebalance", "cluster_acking", "--parallelism", "relay=1"]);
    assert!(out.status.success(), "{}", output_text(&out));
    c.wait_for(
        "the adopted process replaced",
        Duration::from_secs(30),
        |c| c.worker_pid(&id, on_sup0).is_some_and(|p| p != adopted),
    );
    let out = c.gale(&["kill", "cluster_acking"]);
    assert!(out.status.success(), "{}", output_text(&out));
    c.wait_for("every worker stopped", Duration::from_secs(15), |c| {
        c.all_worker_pids().is_empty()
    });
}

#[test]
fn kill_9_of_nimbus_leaves_the_topology_running_and_a_new_nimbus_knows_it() {
    let _one = serial();
    let mut c = acking_cluster("kill-nimbus");
    let id = c.submit(&acking_binary(), &[]);
    c.wait_for("some ids acked", Duration::from_secs(60), |c| {
        acked_ids(&c.dir).len() > 1000
    });
    let version = |c: &Cluster| {
        c.list()
            .lines()
            .find(|l| l.starts_with(&format!("topology {id} ")))
            .map(str::to_string)
    };
    let before = version(&c).expect("listed");
    let pids = c.worker_pids(&id);
    c.kill_nimbus();
    let acked = acked_ids(&c.dir).len();
    c.wait_for(
        "progress while nimbus is down",
        Duration::from_secs(30),
        |c| acked_ids(&c.dir).len() > acked + 2000,
    );
    assert_eq!(c.worker_pids(&id), pids, "workers kept running untouched");
    c.start_nimbus();
    let after = version(&c).expect("the new nimbus lists the topology");
    assert!(after.contains("running"), "{after}");
    let v = |s: &str| {
        s.split("version ")
            .nth(1)
            .and_then(|r| r.split(' ').next())
            .map(str::to_string)
    };
    assert_eq!(v(&after), v(&before), "same assignment: {before} / {after}");
    c.wait_for("every id acked", Duration::from_secs(120), |c| {
        acked_ids(&c.dir) == all_ids(IDS)
    });
}

#[test]
fn calls_without_the_secret_or_with_a_wrong_one_are_rejected_and_change_nothing() {
    let _one = serial();
    let c = acking_cluster("auth");
    let bin = acking_binary().display().to_string();
    for secret in [None, Some("not-the-secret")] {
        let out = c.gale_with(&["submit", &bin], secret);
        assert!(!out.status.success());
        let said = output_text(&out);
        assert!(said.contains("rejected"), "{said}");
        assert!(
            said.contains(if secret.is_none() { "missing" } else { "wrong" }),
            "{said}"
        );
    }
    assert!(c.list().contains("no topologies"), "{}", c.list());
    let id = c.submit(&acking_binary(), &[]);
    let listed = |c: &Cluster| {
        c.list()
            .lines()
            .find(|l| l.starts_with(&format!("topology {id} ")))
            .map(str::to_string)
            .unwrap_or_default()
    };
    c.wait_for("both workers running", Duration::from_secs(60), |c| {
        c.worker_pids(&id).len() == 2
    });
    let pids = c.worker_pids(&id);
    let before = listed(&c);
    assert!(before.contains("version 1 "), "{before}");
    for secret in [None, Some("not-the-secret")] {
        for args in [
            vec!["kill", "cluster_acking"],
            vec!["rebalance", "cluster_acking", "--parallelism", "relay=1"],
        ] {
            let out = c.gale_with(&args, secret);
            assert!(!out.status.success(), "{args:?} went through");
            assert!(
                output_text(&out).contains("rejected"),
                "{}",
                output_text(&out)
            );
        }
    }
    let out = c.gale_with(&["list"], Some("not-the-secret"));
    assert!(!out.status.success());
    assert!(
        listed(&c).contains("version 1 "),
        "nothing changed: {}",
        c.list()
    );
    assert_eq!(c.worker_pids(&id), pids, "the workers are untouched");
    // With the secret, a rebalance goes through (a new assignment version) ...
    let out = c.gale(&["rebalance", "cluster_acking", "--parallelism", "relay=1"]);
    assert!(out.status.success(), "{}", output_text(&out));
    assert!(listed(&c).contains("version 2 "), "{}", c.list());
    // ... a parallelism above the tasks is refused with the reason ...
    let out = c.gale(&["rebalance", "cluster_acking", "--parallelism", "relay=9"]);
    assert!(
        output_text(&out).contains("parallelism must be 1..=4"),
        "{}",
        output_text(&out)
    );
    // ... and kill stops every process of the topology.
    let out = c.gale(&["kill", "cluster_acking"]);
    assert!(out.status.success(), "{}", output_text(&out));
    c.wait_for("every worker stopped", Duration::from_secs(15), |c| {
        c.worker_pids(&id).is_empty()
    });
}

#[test]
fn without_a_secret_nimbus_refuses_to_listen_beyond_loopback() {
    let out = std::process::Command::new(workspace_bin("gale"))
        .args(["nimbus", "--listen", "0.0.0.0:0", "--dir"])
        .arg(std::env::temp_dir().join("gale-no-secret"))
        .env_remove("GALE_SECRET")
        .output()
        .expect("gale runs");
    assert!(!out.status.success());
    assert!(
        output_text(&out).contains("GALE_SECRET"),
        "{}",
        output_text(&out)
    );
}
