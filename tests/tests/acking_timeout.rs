//! Message timeouts under a manual clock: a tuple a bolt holds past `message_timeout` fails
//! between one and two timeouts after its emit; one acked just before the timeout does not
//! fail.

use gale::{Clock, RunOptions};
use gale_tests::acking_timeout;
use gale_tests::acking_timeout_ops::{ACK_AT_MS, CALLS, CLOCK, EMITTED, STOP};
use std::sync::atomic::Ordering::SeqCst;
use std::time::{Duration, Instant};

fn calls() -> Vec<(u64, &'static str, u64)> {
    CALLS.lock().unwrap_or_else(|p| p.into_inner()).clone()
}

/// Waits (real time) until `cond` holds.
fn wait_for(what: &str, cond: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn held_tuples_time_out_between_one_and_two_timeouts() {
    let timeout = acking_timeout::DESC.settings.message_timeout_ms;
    assert_eq!(timeout, 1000);
    let clock = Clock::manual();
    CLOCK.set(clock.clone()).expect("clock set once");
    let options = RunOptions {
        clock: Some(clock.clone()),
        ..Default::default()
    };
    let run = std::thread::spawn(move || gale::run_local(acking_timeout::topology(), options));
    wait_for("both messages emitted", || EMITTED.load(SeqCst) == 2);

    // Up to just before the timeout: message 2 gets acked, nothing fails.
    while clock.now_ms() < ACK_AT_MS {
        clock.advance(ACK_AT_MS.min(clock.now_ms() + 10) - clock.now_ms());
        std::thread::sleep(Duration::from_millis(2));
    }
    wait_for("message 2 acked", || calls().iter().any(|c| c.0 == 2));
    assert_eq!(calls(), vec![(2, "ack", ACK_AT_MS)]);

    // Then on to three timeouts, 10 ms at a time.
    while clock.now_ms() < 3 * timeout {
        clock.advance(10);
        std::thread::sleep(Duration::from_millis(2));
    }
    wait_for("message 1 failed", || calls().iter().any(|c| c.0 == 1));
    STOP.store(true, SeqCst);
    let summary = run.join().expect("run thread").expect("runs");

    let calls = calls();
    let fails: Vec<_> = calls.iter().filter(|c| c.1 == "fail").collect();
    assert_eq!(fails.len(), 1, "{calls:?}");
    let (id, _, at) = *fails[0];
    assert_eq!(id, 1, "only the held message fails: {calls:?}");
    assert!(
        (timeout..=2 * timeout).contains(&at),
        "message 1 failed at {at} ms, timeout {timeout} ms"
    );
    let spout = summary.component("source").expect("spout");
    assert_eq!((spout.acked, spout.failed, spout.timed_out), (1, 1, 1));
    assert_eq!(summary.acker_pending_at_end, 0);
}
