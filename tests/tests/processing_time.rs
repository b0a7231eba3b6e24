//! Processing time fires on the clock: while the spout is silent (but alive) for 600 ms, a
//! 50 ms processing-time window and a 100 ms processing-time timer both fire, well before
//! the input ends.

use gale_tests::processing_time;
use gale_tests::time_ops::{COUNTS, DONE_AT, GENERATOR_SAW, REMINDERS, SILENCE};
use std::collections::BTreeMap;

#[test]
fn processing_time_windows_and_timers_fire_while_the_input_is_silent() {
    gale::run_local(processing_time::topology(), Default::default()).expect("runs");
    let done = DONE_AT.lock().unwrap().expect("the spout finished");
    assert_eq!(
        *GENERATOR_SAW.lock().unwrap(),
        3,
        "the custom generator saw every click"
    );
    let margin = SILENCE / 3;
    let counts = COUNTS.lock().unwrap();
    let total: u64 = counts.iter().map(|(_, c)| c.count).sum();
    assert_eq!(total, 3, "every click in a window: {counts:?}");
    for (at, c) in counts.iter() {
        assert!(
            *at + margin < done,
            "{c:?} fired only {:?} before the end",
            done - *at
        );
        assert!(c.end - c.start == 50);
    }
    let reminders = REMINDERS.lock().unwrap();
    let by_user: BTreeMap<&str, u64> = reminders
        .iter()
        .map(|(_, r)| (r.user.as_str(), r.count))
        .collect();
    assert_eq!(by_user, BTreeMap::from([("u0", 2), ("u1", 1)]));
    for (at, r) in reminders.iter() {
        assert!(
            *at + margin < done,
            "{r:?} fired only {:?} before the end",
            done - *at
        );
    }
}
