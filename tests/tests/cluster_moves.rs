//! Only a failed worker moves (issue 9, defect 7): a worker that can never start on its
//! supervisor (its port is taken) is moved alone to another supervisor; the healthy worker
//! keeps running — the same process — and follows its moved peer.

use gale_tests::cluster::{Cluster, acked_ids, serial};
use std::net::TcpListener;
use std::time::Duration;

fn acking_binary() -> std::path::PathBuf {
    env!("CARGO_BIN_EXE_cluster_acking").into()
}

/// The slots `gale list` shows for supervisor `id`.
fn slots_of(list: &str, id: &str) -> Vec<u16> {
    list.lines()
        .find(|l| l.starts_with(&format!("supervisor {id} ")))
        .and_then(|l| l.split_once("slots [").map(|(_, rest)| rest))
        .and_then(|rest| rest.split_once(']').map(|(ports, _)| ports))
        .map(|ports| {
            ports
                .split(',')
                .filter_map(|p| p.trim().parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// The supervisor `gale list` shows worker `index` of `id` on.
fn supervisor_of(list: &str, id: &str, index: u32) -> Option<String> {
    let mut lines = list
        .lines()
        .skip_while(|l| !l.starts_with(&format!("topology {id} ")));
    lines.next()?;
    lines
        .take_while(|l| l.starts_with("  "))
        .find_map(|l| l.trim().strip_prefix(&format!("worker {index} on ")))
        .and_then(|rest| rest.split_whitespace().next().map(str::to_string))
}

#[test]
fn a_worker_that_cannot_start_moves_alone_and_the_healthy_one_keeps_running() {
    let _one = serial();
    let c = Cluster::start(
        "moves",
        3,
        2,
        &[("GALE_TEST_IDS", "1000000"), ("GALE_TEST_RATE", "300")],
    );
    // Every slot of sup0 is taken by this test: a worker placed there cannot listen.
    let ports = slots_of(&c.list(), "sup0");
    assert_eq!(ports.len(), 2, "{}", c.list());
    let _held: Vec<TcpListener> = ports
        .iter()
        .map(|p| TcpListener::bind(("127.0.0.1", *p)).expect("the slot's port is free"))
        .collect();
    let id = c.submit(&acking_binary(), &[]);
    c.wait_for("both workers placed", Duration::from_secs(30), |c| {
        let l = c.list();
        supervisor_of(&l, &id, 0).is_some() && supervisor_of(&l, &id, 1).is_some()
    });
    let list = c.list();
    let (bad, good) = match (supervisor_of(&list, &id, 0), supervisor_of(&list, &id, 1)) {
        (Some(s), _) if s == "sup0" => (0, 1),
        (_, Some(s)) if s == "sup0" => (1, 0),
        _ => panic!(
            "no worker was placed on sup0 (the scheduler fills the first supervisor first):\n{list}"
        ),
    };
    c.wait_for("the healthy worker runs", Duration::from_secs(60), |c| {
        c.worker_pid(&id, good).is_some()
    });
    let healthy = c.worker_pid(&id, good);
    // The worker on sup0 never heartbeats: after the worker timeout (20 s) it moves, alone,
    // to another supervisor, and data flows between it and the healthy worker.
    c.wait_for(
        "the failing worker moved off sup0 and both workers alive",
        Duration::from_secs(90),
        |c| {
            let l = c.list();
            supervisor_of(&l, &id, bad).is_some_and(|s| s != "sup0")
                && l.lines()
                    .filter(|l| l.contains(" alive ") && l.trim_start().starts_with("worker "))
                    .count()
                    == 2
        },
    );
    let before = acked_ids(&c.dir).len();
    c.wait_for(
        "acks flow through both workers",
        Duration::from_secs(60),
        |c| acked_ids(&c.dir).len() > before + 1000,
    );
    assert_eq!(
        c.worker_pid(&id, good),
        healthy,
        "the healthy worker was restarted:\n{}",
        c.logs()
    );
    let nimbus_log = std::fs::read_to_string(c.dir.join("nimbus.log")).unwrap_or_default();
    assert!(
        nimbus_log.contains(&format!("moved worker {bad} of `{id}` from sup0")),
        "{nimbus_log}"
    );
    assert!(
        !nimbus_log.contains(&format!("placed `{id}`")),
        "the whole topology was placed anew:\n{nimbus_log}"
    );
}
