//! The cluster recovering from a lost worker (issue 9): with real nimbus, supervisor and
//! worker processes on 127.0.0.1, a worker is killed (`kill -9`) at a moment that used to
//! lose something, and the topology must still complete with every id acked.

use gale_tests::cluster::{Cluster, acked_ids, kill9, serial};
use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};

fn acking_binary() -> std::path::PathBuf {
    env!("CARGO_BIN_EXE_cluster_acking").into()
}

fn all_ids(n: u64) -> BTreeSet<u64> {
    (0..n).collect()
}

/// The sink tasks that have started their `finish` (`finishing-<pid>-<task>` markers):
/// (pid, task).
fn finishing(dir: &Path) -> Vec<(u32, u32)> {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let mut parts = name.strip_prefix("finishing-")?.split('-');
            Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
        })
        .collect()
}

/// Every id the sink tasks executed (`seen-<task>.txt`), with repeats.
fn seen_ids(dir: &Path) -> Vec<u64> {
    let mut ids = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with("seen-") {
            let text = std::fs::read_to_string(e.path()).unwrap_or_default();
            ids.extend(text.lines().filter_map(|l| l.trim().parse::<u64>().ok()));
        }
    }
    ids
}

fn finished(c: &Cluster, id: &str) -> bool {
    c.list().contains(&format!("topology {id}  finished"))
}

/// Defect 5: a finite topology whose sink worker was killed after the spouts had finished
/// never finished: the restarted worker waited for end-of-stream messages that had been
/// sent to the dead process. Ends are now recorded per producer and sent again on every
/// reconnection, so the restarted worker completes its input and the topology finishes,
/// with every id acked and without running the input again.
#[test]
fn a_finite_topology_finishes_after_its_sink_worker_is_killed_at_the_end() {
    const IDS: u64 = 4000;
    let _one = serial();
    let c = Cluster::start(
        "end-restart",
        2,
        1,
        &[("GALE_TEST_IDS", "4000"), ("GALE_TEST_RATE", "2000")],
    );
    let id = c.submit(
        &acking_binary(),
        &[
            "--set",
            "finite=1",
            "--set",
            "record_sink=1",
            "--set",
            "sink_linger_ms=3000",
        ],
    );
    // A sink task in its `finish`: every id is acked, the spouts have finished and every
    // end of stream into that worker has been sent.
    c.wait_for("a sink task finishing", Duration::from_secs(120), |c| {
        !finishing(&c.dir).is_empty()
    });
    assert_eq!(acked_ids(&c.dir), all_ids(IDS), "all acked before the kill");
    let (pid, _) = finishing(&c.dir)[0];
    assert!(
        c.worker_pids(&id).contains(&pid),
        "the finishing sink runs in worker {pid} of {id}"
    );
    let seen_before = seen_ids(&c.dir).len();
    kill9(pid);
    let killed = Instant::now();
    c.wait_for(
        "the topology finished after the kill",
        Duration::from_secs(30),
        |c| finished(c, &id),
    );
    let took = killed.elapsed();
    eprintln!("the topology finished {took:?} after the kill");
    assert!(
        took < Duration::from_secs(15),
        "finished {took:?} after the kill"
    );
    assert!(
        finishing(&c.dir).iter().any(|&(p, _)| p != pid),
        "the restarted worker's sink finished too"
    );
    assert_eq!(acked_ids(&c.dir), all_ids(IDS), "no id lost");
    let seen = seen_ids(&c.dir);
    assert!(
        seen.iter().copied().collect::<BTreeSet<u64>>() == all_ids(IDS),
        "the sinks saw every id"
    );
    // No re-run: the restarted worker's spouts emitted nothing (every id was acked).
    assert_eq!(
        seen.len(),
        seen_before,
        "the sinks saw ids again after the kill"
    );
    assert!(seen.len() < 2 * IDS as usize, "{} executions", seen.len());
}

/// Fast replay on link loss: with a `message_timeout` of 60 s, a worker of a running
/// at-least-once topology is killed. The trees that had a tuple in it, or whose acker ran
/// there, used to wait for the timeout before their replay; they now fail as soon as the
/// link goes down, so every id is acked long before a timeout could have replayed it.
#[test]
fn trees_through_a_killed_worker_replay_at_once_not_after_their_timeout() {
    const IDS: u64 = 6000;
    let _one = serial();
    let c = Cluster::start(
        "fast-replay",
        2,
        1,
        &[("GALE_TEST_IDS", "6000"), ("GALE_TEST_RATE", "500")],
    );
    let id = c.submit(&acking_binary(), &["--set", "message_timeout=60s"]);
    c.wait_for(
        "a quarter of the ids acked",
        Duration::from_secs(120),
        |c| acked_ids(&c.dir).len() as u64 > IDS / 4,
    );
    let pids = c.worker_pids(&id);
    assert_eq!(pids.len(), 2, "two workers: {pids:?}");
    kill9(pids[0]);
    let killed = Instant::now();
    c.wait_for("every id acked", Duration::from_secs(50), |c| {
        acked_ids(&c.dir) == all_ids(IDS)
    });
    let took = killed.elapsed();
    eprintln!("every id acked {took:?} after the kill");
    assert!(
        took < Duration::from_secs(20),
        "every id acked {took:?} after the kill: replays waited for the 60 s timeout"
    );
    assert!(
        c.logs().contains("failing"),
        "the survivor failed the trees sent into the lost worker at once:\n{}",
        c.logs()
    );
}
