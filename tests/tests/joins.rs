//! Joins of orders and payments with known disorder (at most 60 ms, under watermarks
//! bounded by 100 ms, so nothing is late), against plain loops over the events: in one
//! process, and with the join tasks spread over two worker processes of a real cluster.

use gale_tests::cluster::{Cluster, serial};
use gale_tests::join_ops::{
    INTERVAL, LATE, MATCHED, SLID, UNPAID, WINDOWED, order, payments, read_lines, read_pairs,
};
use gale_tests::joins::{self, Order, Pair, Payment, Sides};
use std::time::Duration;

const N: u64 = 3000;
const USERS: u64 = 11;
const DISORDER: u64 = 60;

fn events() -> (Vec<Order>, Vec<Payment>) {
    let orders = (0..N).map(|i| order(i, USERS, DISORDER)).collect();
    (orders, payments(N, USERS, DISORDER))
}

type Pairs = Vec<(String, u64, u64)>;

fn sorted(pairs: &[Pair]) -> Pairs {
    let mut v: Pairs = pairs
        .iter()
        .map(|p| (p.user.clone(), p.order, p.payment))
        .collect();
    v.sort();
    v
}

/// Pairs of one user in the same 1 s window.
fn window_join(orders: &[Order], payments: &[Payment]) -> Pairs {
    let mut v = Pairs::new();
    for o in orders {
        for p in payments {
            if o.user == p.payer && o.at / 1000 == p.paid_at / 1000 {
                v.push((o.user.clone(), o.id, p.id));
            }
        }
    }
    v.sort();
    v
}

/// Pairs of one user in the same sliding window (1 s every 500 ms): once per window they
/// share.
fn sliding_join(orders: &[Order], payments: &[Payment]) -> Pairs {
    let starts = |at: u64| {
        let last = at - at % 500;
        [last, last.saturating_sub(500)]
            .into_iter()
            .filter(move |s| *s + 1000 > at && *s <= at)
    };
    let mut v = Pairs::new();
    for o in orders {
        for p in payments.iter().filter(|p| p.payer == o.user) {
            let shared = starts(o.at)
                .filter(|s| starts(p.paid_at).any(|t| t == *s))
                .count();
            for _ in 0..shared {
                v.push((o.user.clone(), o.id, p.id));
            }
        }
    }
    v.sort();
    v
}

/// Pairs of one order with `paid_at - at` in `[-200, 500]` ms.
fn interval_join(orders: &[Order], payments: &[Payment]) -> Pairs {
    let mut v = Pairs::new();
    for o in orders {
        for p in payments.iter().filter(|p| p.order == o.id) {
            let d = p.paid_at as i64 - o.at as i64;
            if (-200..=500).contains(&d) {
                v.push((o.user.clone(), o.id, p.id));
            }
        }
    }
    v.sort();
    v
}

#[test]
fn joins_of_out_of_order_streams_match_plain_loops() {
    gale::run_local(joins::topology(), Default::default()).expect("runs");
    let (orders, payments) = events();

    let windowed = sorted(&WINDOWED.lock().unwrap());
    let want = window_join(&orders, &payments);
    assert!(want.len() > 1000, "the window join has pairs to find");
    assert_eq!(windowed, want, "window join");

    let slid = sorted(&SLID.lock().unwrap());
    let want = sliding_join(&orders, &payments);
    assert!(
        want.len() > window_join(&orders, &payments).len(),
        "pairs in two windows"
    );
    assert_eq!(slid, want, "sliding window join");

    let interval = sorted(&INTERVAL.lock().unwrap());
    let want = interval_join(&orders, &payments);
    assert!(
        want.len() > 100 && want.len() < payments.len(),
        "the interval both keeps and leaves out payments"
    );
    assert_eq!(interval, want, "interval join");

    // The join bolt of its own: every payment with its order, once.
    let matched = sorted(&MATCHED.lock().unwrap());
    let mut want: Pairs = payments
        .iter()
        .map(|p| (p.payer.clone(), p.order, p.id))
        .collect();
    want.sort();
    assert_eq!(matched, want, "the join bolt over the stream set");

    // Keyed state over both streams: the orders with no payment, each once.
    let mut unpaid: Vec<u64> = UNPAID.lock().unwrap().iter().map(|o| o.id).collect();
    unpaid.sort_unstable();
    let want: Vec<u64> = (0..N).filter(|i| i % 5 == 0).collect();
    assert_eq!(unpaid, want, "orders never paid, by process(T) with timers");

    assert!(LATE.lock().unwrap().is_empty(), "nothing is late");
}

#[test]
fn a_stream_set_crosses_workers_in_its_own_encoding() {
    let p = Sides::Payments(Payment {
        payer: "u1".into(),
        id: 7,
        order: 3,
        paid_at: 1_000_123,
    });
    let o = Sides::Orders(order(5, USERS, DISORDER));
    for v in [p, o] {
        let bytes = gale::codec::to_bytes(&v);
        assert_eq!(gale::codec::from_bytes::<Sides>(&bytes), Ok(v));
    }
    assert_eq!(
        gale::codec::from_bytes::<Sides>(&[9]),
        Err(gale::codec::DecodeError::BadTag(9)),
        "an unknown stream is an error, not a panic"
    );
}

#[test]
fn joins_across_two_worker_processes_match_plain_loops() {
    let _one = serial();
    let c = Cluster::start("joins", 2, 1, &[]);
    let out = c.dir.join("out");
    std::fs::create_dir_all(&out).expect("output directory");
    let id = c.submit(
        env!("CARGO_BIN_EXE_joins").as_ref(),
        &["--set", &format!("out_dir={}", out.display())],
    );
    c.wait_finished(&id, Duration::from_secs(120));
    // Both workers ran tasks of each join: pairs crossed processes to meet.
    let workers = c.workers();
    assert_eq!(workers.len(), 2, "{workers:?}");
    for join in ["windowed", "interval"] {
        assert!(
            workers.iter().all(|w| w.runs(join)),
            "`{join}` tasks in both workers: {workers:?}"
        );
    }
    let (orders, payments) = events();
    let sorted = |mut v: Pairs| {
        v.sort();
        v
    };
    assert_eq!(
        sorted(read_pairs(&out, "record_windowed")),
        window_join(&orders, &payments),
        "window join on two workers"
    );
    assert_eq!(
        sorted(read_pairs(&out, "record_slid")),
        sliding_join(&orders, &payments),
        "sliding window join on two workers"
    );
    assert_eq!(
        sorted(read_pairs(&out, "record_interval")),
        interval_join(&orders, &payments),
        "interval join on two workers"
    );
    assert_eq!(
        read_pairs(&out, "record_matched").len(),
        payments.len(),
        "the join bolt of its own: every payment with its order"
    );
    assert_eq!(
        read_lines(&out, "record_unpaid").len() as u64,
        N.div_ceil(5),
        "orders never paid, by keyed state and timers across workers"
    );
    assert!(
        read_lines(&out, "late").is_empty(),
        "nothing is late: {:?}",
        read_lines(&out, "late")
    );
}
