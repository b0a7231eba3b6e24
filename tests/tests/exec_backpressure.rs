//! A spout ten times faster than its consumer: backpressure holds the tuples in flight at
//! the queue's bound instead of letting memory grow, and nothing is dropped.

use gale_tests::backpressure;
use gale_tests::backpressure_ops::{EMITTED, MAX_IN_FLIGHT, PROCESSED};
use std::sync::atomic::Ordering::SeqCst;

#[test]
fn queue_depth_stays_at_its_bound() {
    let s = &backpressure::DESC.settings;
    let (batch, capacity) = (s.batch_size, s.queue_capacity);
    let summary = gale::run_local(backpressure::topology(), Default::default()).expect("runs");
    let items = 20_000;
    // Nothing dropped.
    assert_eq!(EMITTED.load(SeqCst), items);
    assert_eq!(PROCESSED.load(SeqCst), items);
    assert_eq!(summary.component("slow").map(|c| c.executed), Some(items));
    // In flight: the queue (capacity batches), one batch being executed, one blocked in
    // `send`, and the spout's partly filled batch.
    let bound = (capacity + 3) * batch;
    let max = MAX_IN_FLIGHT.load(SeqCst);
    assert!(max <= bound, "{max} tuples in flight, bound {bound}");
    assert!(
        items > 10 * bound,
        "the test must overflow the bound many times over"
    );
    // The queue itself never held more than its capacity.
    let slow_chain = backpressure::DESC.components[1].chain;
    let depth = summary.max_queue_depth[slow_chain];
    assert!(
        depth <= capacity,
        "queue depth {depth}, capacity {capacity}"
    );
    // ...and it was actually full: the producer was slowed, not the queue idle.
    assert!(
        max >= capacity * batch,
        "max in flight {max} never reached the queue capacity"
    );
}
