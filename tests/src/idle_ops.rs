//! Components of `windows_idle.topo`: two spout partitions, one of which falls silent.

use crate::windows_idle::{Event, KeyCount};
use gale::{Bolt, Emitter, ExecResult, Spout, SpoutStatus, TaskContext};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Events task 0 sends, one every [`PACE`]: 10 ms of event time apart, keys 0, 1, 2.
pub const BUSY_EVENTS: u64 = 1_000;
/// How long task 0 waits between two events.
pub const PACE: Duration = Duration::from_millis(2);

/// Task 0 is still sending.
pub static SENDING: AtomicBool = AtomicBool::new(true);
/// The window results, each with whether task 0 was still sending when it arrived.
pub static RESULTS: Mutex<Vec<(KeyCount, bool)>> = Mutex::new(Vec::new());

/// The events of spout task `task`, in order: task 0's many, task 1's three.
pub fn events(task: usize) -> Vec<Event> {
    match task {
        0 => (0..BUSY_EVENTS)
            .map(|i| Event {
                key: i % 3,
                at: 1_000_000 + i * 10,
            })
            .collect(),
        _ => (0..3)
            .map(|j| Event {
                key: j,
                at: 1_000_000 + j,
            })
            .collect(),
    }
}

/// Task 0 sends its events at a pace, then ends; task 1 sends its three at once, then is
/// silent (idle, not ended) until task 0 has ended.
#[derive(Default)]
pub struct Partitions {
    task: usize,
    todo: Vec<Event>,
    last: Option<std::time::Instant>,
}

impl Spout for Partitions {
    type Out = Event;
    fn open(&mut self, ctx: &TaskContext) {
        self.task = ctx.task_index();
        self.todo = events(self.task);
        self.todo.reverse();
    }
    fn next_tuple(&mut self, out: &mut impl Emitter<Event>) -> SpoutStatus {
        // Task 0 paces itself as a spout should: `Idle` until its next event is due.
        if self.task == 0 && self.last.is_some_and(|t| t.elapsed() < PACE) {
            return SpoutStatus::Idle;
        }
        if let Some(e) = self.todo.pop() {
            out.emit(e);
            self.last = Some(std::time::Instant::now());
            return SpoutStatus::Active;
        }
        if self.task == 0 {
            SENDING.store(false, Ordering::SeqCst);
            return SpoutStatus::Done;
        }
        if SENDING.load(Ordering::SeqCst) {
            SpoutStatus::Idle
        } else {
            SpoutStatus::Done
        }
    }
}

/// The fused map: passes the event on (its `at` carries the time on).
pub fn keep(e: Event) -> Event {
    e
}

/// Records each result and whether task 0 was still sending.
#[derive(Default)]
pub struct RecordCounts;

impl Bolt for RecordCounts {
    type In = KeyCount;
    type Out = ();
    fn execute(&mut self, c: KeyCount, _: &mut impl Emitter<()>) -> ExecResult {
        let sending = SENDING.load(Ordering::SeqCst);
        RESULTS
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((c, sending));
        Ok(())
    }
}
