//! Components of `backpressure.topo`: a flood and a slow consumer, with counters that let
//! the test measure how many tuples were ever in flight between them.

use crate::backpressure::Item;
use gale::{Bolt, Emitter, ExecResult, Spout, SpoutStatus, TaskContext};
use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
use std::time::Duration;

/// Tuples the spout has emitted.
pub static EMITTED: AtomicU64 = AtomicU64::new(0);
/// Tuples the slow bolt has processed.
pub static PROCESSED: AtomicU64 = AtomicU64::new(0);
/// The largest `EMITTED - PROCESSED` the spout ever saw.
pub static MAX_IN_FLIGHT: AtomicU64 = AtomicU64::new(0);

/// Emits `items` tuples as fast as it can.
#[derive(Default)]
pub struct Flood {
    left: u64,
}

impl Spout for Flood {
    type Out = Item;

    fn open(&mut self, ctx: &TaskContext) {
        self.left = ctx.config_u64("items").unwrap_or(10_000);
    }

    fn next_tuple(&mut self, out: &mut impl Emitter<Item>) -> SpoutStatus {
        if self.left == 0 {
            return SpoutStatus::Done;
        }
        self.left -= 1;
        let emitted = EMITTED.fetch_add(1, SeqCst) + 1;
        let in_flight = emitted - PROCESSED.load(SeqCst);
        MAX_IN_FLIGHT.fetch_max(in_flight, SeqCst);
        out.emit(Item { n: emitted });
        SpoutStatus::Active
    }
}

/// Takes 20 µs per tuple: at least ten times slower than the spout.
#[derive(Default)]
pub struct Slow;

impl Bolt for Slow {
    type In = Item;
    type Out = ();

    fn execute(&mut self, _item: Item, _out: &mut impl Emitter<()>) -> ExecResult {
        std::thread::sleep(Duration::from_micros(20));
        PROCESSED.fetch_add(1, SeqCst);
        Ok(())
    }
}
