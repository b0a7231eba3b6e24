//! Components of `windows.topo`: a click stream with known disorder, and recorders.

use crate::windows::{Click, UserCount, UserSum};
use gale::{Bolt, Emitter, ExecResult, Spout, SpoutStatus, TaskContext};
use std::collections::BTreeMap;
use std::sync::Mutex;

/// What the recorders saw: per component, every result in arrival order.
pub static COUNTS: Mutex<Vec<UserCount>> = Mutex::new(Vec::new());
/// The sliding sums.
pub static SUMS: Mutex<Vec<UserSum>> = Mutex::new(Vec::new());
/// The sessions.
pub static SESSIONS: Mutex<Vec<UserCount>> = Mutex::new(Vec::new());
/// The late clicks of `counts`.
pub static LATE: Mutex<Vec<Click>> = Mutex::new(Vec::new());

/// Click `i` of `users` users, at most `disorder` ms before its place in time.
pub fn click(i: u64, users: u64, disorder: u64) -> Click {
    let jitter = (i.wrapping_mul(2_654_435_761) >> 7) % (disorder + 1);
    Click {
        user: format!("u{}", i * 7 % users),
        at: 1_000_000 + i * 10 - jitter,
        amount: i % 100,
    }
}

/// The clicks spout task `task` of `tasks` emits, in its order.
pub fn clicks(task: u64, tasks: u64, n: u64, users: u64, disorder: u64) -> Vec<Click> {
    (0..n)
        .filter(|i| i % tasks == task)
        .map(|i| click(i, users, disorder))
        .collect()
}

/// Emits its share of the clicks.
#[derive(Default)]
pub struct Clicks {
    todo: Vec<Click>,
}

impl Spout for Clicks {
    type Out = Click;
    fn open(&mut self, ctx: &TaskContext) {
        let get = |k, d| ctx.config_u64(k).unwrap_or(d);
        self.todo = clicks(
            ctx.task_index() as u64,
            ctx.task_count() as u64,
            get("clicks", 100),
            get("users", 3),
            get("disorder", 0),
        );
        self.todo.reverse();
    }
    fn next_tuple(&mut self, out: &mut impl Emitter<Click>) -> SpoutStatus {
        match self.todo.pop() {
            Some(c) => {
                out.emit(c);
                SpoutStatus::Active
            }
            None => SpoutStatus::Done,
        }
    }
}

macro_rules! recorder {
    ($name:ident, $t:ty, $store:ident) => {
        /// Records what it receives.
        #[derive(Default)]
        pub struct $name;

        impl Bolt for $name {
            type In = $t;
            type Out = ();
            fn execute(&mut self, t: $t, _: &mut impl Emitter<()>) -> ExecResult {
                if let Ok(mut v) = $store.lock() {
                    v.push(t);
                }
                Ok(())
            }
        }
    };
}

recorder!(RecordCounts, UserCount, COUNTS);
recorder!(RecordSums, UserSum, SUMS);
recorder!(RecordSessions, UserCount, SESSIONS);
recorder!(RecordLate, Click, LATE);

/// The last result per (user, start, end) of a list of results.
pub fn last<T: Clone>(
    items: &[T],
    key: impl Fn(&T) -> (String, u64, u64),
) -> BTreeMap<(String, u64, u64), T> {
    items.iter().map(|t| (key(t), t.clone())).collect()
}
