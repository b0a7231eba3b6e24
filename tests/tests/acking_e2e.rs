//! At-least-once end to end: 1,000,000 spout tuples through three bolts that each fail 1%
//! and silently drop 0.5% of their tuples. Every message id must end in exactly one `ack`,
//! or, after its last attempt, on the failed stream; the sink must have seen every acked
//! message; and the ackers must hold nothing at the end.

use gale_tests::acking;
use gale_tests::acking_ops::{is_poison, ledger};

#[test]
fn every_message_is_acked_once_or_dead_lettered() {
    let summary = gale::run_local(acking::topology(), Default::default()).expect("runs");
    eprint!("{}", summary.render());
    let l = ledger();
    let config = |key: &str| {
        acking::DESC
            .config
            .iter()
            .find(|(k, _)| *k == key)
            .and_then(|(_, v)| match v {
                gale::topology::ConfigValue::Int(n) => Some(*n),
                _ => None,
            })
            .expect("config key")
    };
    let (items, poison_every) = (config("items"), config("poison_every"));
    let mut acked = 0u64;
    let mut dead = 0u64;
    for id in 0..items as usize {
        let (a, f, d, s) = (
            l.acked.get(id),
            l.failed.get(id),
            l.dead.get(id),
            l.seen.get(id),
        );
        assert!(a <= 1, "message {id} acked {a} times");
        assert_eq!(a + d, 1, "message {id}: acked {a}, dead-lettered {d}");
        assert_eq!(
            f, d,
            "message {id}: spout `fail` {f} times, dead-lettered {d}"
        );
        if a == 1 {
            assert!(s >= 1, "message {id} was acked but the sink never saw it");
        }
        // Only the poison messages exhaust their attempts (1% x 3 bolts failing 8 times
        // in a row is out of reach).
        assert_eq!(d == 1, is_poison(id as u64, poison_every), "message {id}");
        acked += u64::from(a);
        dead += u64::from(d);
    }
    assert_eq!(acked + dead, items);
    let spout = summary.component("source").expect("spout");
    assert_eq!(spout.acked, acked);
    assert_eq!(spout.dead_lettered, dead);
    // The failure paths were exercised: bolt failures, drops (timeouts) and replays.
    assert!(spout.timed_out > 1000, "timeouts: {}", spout.timed_out);
    assert!(
        spout.failed > spout.timed_out,
        "failures by bolts: {}",
        spout.failed - spout.timed_out
    );
    assert!(spout.replayed >= spout.failed - dead, "{spout:?}");
    assert!(spout.latency_p99.is_some());
    assert_eq!(summary.acker_pending_at_end, 0, "trees left in the ackers");
    for bolt in ["first", "second", "sink"] {
        let b = summary.component(bolt).expect("bolt");
        assert!(b.failed > 0 && b.acked > 0, "{b:?}");
    }
}
