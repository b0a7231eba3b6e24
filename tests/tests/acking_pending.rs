//! `max_spout_pending` bounds the tuples in flight per spout task, and a bolt that panics
//! fails exactly the trees of the tuples it panicked on, without stopping the topology.

use gale_tests::acking_pending;
use gale_tests::acking_pending_ops::{ACKED, FAILED, MAX_IN_FLIGHT};
use std::sync::atomic::Ordering::SeqCst;

#[test]
fn in_flight_stays_at_most_max_spout_pending_and_panics_fail_trees() {
    let limit = acking_pending::DESC
        .settings
        .max_spout_pending
        .expect("max_spout_pending set");
    let summary = gale::run_local(acking_pending::topology(), Default::default()).expect("runs");
    let measured = MAX_IN_FLIGHT.load(SeqCst);
    let spout = summary.component("source").expect("spout");
    assert!(
        measured <= limit,
        "spout saw {measured} in flight, limit {limit}"
    );
    assert!(spout.max_in_flight <= limit, "{spout:?}");
    assert_eq!(
        measured, limit,
        "the bound was never reached: the test would prove nothing"
    );

    let items = 20_000u64;
    let mut acked = ACKED.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let mut failed = FAILED.lock().unwrap_or_else(|p| p.into_inner()).clone();
    acked.sort_unstable();
    failed.sort_unstable();
    let panicking: Vec<u64> = (0..items).filter(|id| id % 1000 == 0).collect();
    assert_eq!(failed, panicking, "exactly the panicking tuples fail");
    let rest: Vec<u64> = (0..items).filter(|id| id % 1000 != 0).collect();
    assert_eq!(acked, rest, "every other tuple is acked, once");
    let bolt = summary.component("panics").expect("bolt");
    assert_eq!(bolt.failed, panicking.len() as u64);
    assert_eq!(bolt.executed, items);
    assert_eq!(summary.acker_pending_at_end, 0);
}
