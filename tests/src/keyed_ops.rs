//! Components of `keyed_state.topo`: a process function with keyed state.

use crate::keyed_state::{Event, Total};
use gale::state::{KeyedContext, OpenContext, ReducingState, StateError, ValueState};
use gale::{Bolt, Emitter, ExecResult, ProcessBolt, Spout, SpoutStatus, TaskContext};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

/// The last total `record` saw per user.
pub static LAST: Mutex<BTreeMap<String, Total>> = Mutex::new(BTreeMap::new());

/// The `totals` tasks each user's totals came from.
pub static TASKS: Mutex<BTreeMap<String, BTreeSet<u64>>> = Mutex::new(BTreeMap::new());

/// The events of spout task `task` of `tasks`: event `i` (of `events` in all) is user
/// `i * 7 % users`, amount `i % 1000`.
pub fn events(task: u64, tasks: u64, events: u64, users: u64) -> Vec<Event> {
    (0..events)
        .filter(|i| i % tasks == task)
        .map(|i| Event {
            user: format!("user-{}", i * 7 % users),
            amount: i % 1000,
        })
        .collect()
}

/// Emits its share of the events.
#[derive(Default)]
pub struct Events {
    todo: Vec<Event>,
}

impl Spout for Events {
    type Out = Event;
    fn open(&mut self, ctx: &TaskContext) {
        let (n, users) = (
            ctx.config_u64("events").unwrap_or(100),
            ctx.config_u64("users").unwrap_or(10),
        );
        self.todo = events(ctx.task_index() as u64, ctx.task_count() as u64, n, users);
        self.todo.reverse();
    }
    fn next_tuple(&mut self, out: &mut impl Emitter<Event>) -> SpoutStatus {
        match self.todo.pop() {
            Some(e) => {
                out.emit(e);
                SpoutStatus::Active
            }
            None => SpoutStatus::Done,
        }
    }
}

/// Per user: a count (value state), a sum (reducing state), the largest amount.
#[derive(Default)]
pub struct Totals {
    count: ValueState<u64>,
    sum: ReducingState<u64>,
    max: ValueState<u64>,
    task: u64,
}

impl ProcessBolt for Totals {
    type Key = String;
    type In = Event;
    type Out = Total;

    fn open(&mut self, ctx: &mut OpenContext<'_, String>) -> Result<(), StateError> {
        self.count = ctx.value_state("count")?;
        self.sum = ctx.reducing_state("sum", |a, b| a + b)?;
        self.max = ctx.value_state("max")?;
        self.task = ctx.task().task_index() as u64;
        Ok(())
    }

    fn process(
        &mut self,
        e: Event,
        ctx: &mut KeyedContext<'_, String>,
        out: &mut impl Emitter<Total>,
    ) -> ExecResult {
        assert_eq!(ctx.key(), &e.user, "the state is the tuple's key's");
        let count = {
            let mut c = ctx.state(&self.count);
            let n = c.get().copied().unwrap_or(0) + 1;
            c.set(n);
            n
        };
        let mut sum = ctx.state(&self.sum);
        sum.add(e.amount);
        let sum = sum.get().copied().unwrap_or(0);
        let max = ctx
            .state(&self.max)
            .get()
            .copied()
            .unwrap_or(0)
            .max(e.amount);
        ctx.state(&self.max).set(max);
        out.emit(Total {
            user: e.user,
            count,
            sum,
            max,
            task: self.task,
        });
        Ok(())
    }
}

/// Keeps the last total per user.
#[derive(Default)]
pub struct Record;

impl Bolt for Record {
    type In = Total;
    type Out = ();
    fn execute(&mut self, t: Total, _: &mut impl Emitter<()>) -> ExecResult {
        if let Ok(mut tasks) = TASKS.lock() {
            tasks.entry(t.user.clone()).or_default().insert(t.task);
        }
        if let Ok(mut last) = LAST.lock() {
            last.insert(t.user.clone(), t);
        }
        Ok(())
    }
}

/// Tuples every `audit` task counted (added when it finishes).
pub static AUDITED: Mutex<u64> = Mutex::new(0);

/// Not keyed: counts every tuple its task gets, in one value per task.
#[derive(Default)]
pub struct Audit {
    seen: ValueState<u64>,
    total: u64,
}

impl ProcessBolt for Audit {
    type Key = ();
    type In = Total;
    type Out = ();

    fn open(&mut self, ctx: &mut OpenContext<'_, ()>) -> Result<(), StateError> {
        self.seen = ctx.value_state("seen")?;
        Ok(())
    }

    fn process(
        &mut self,
        _: Total,
        ctx: &mut KeyedContext<'_, ()>,
        _: &mut impl Emitter<()>,
    ) -> ExecResult {
        let mut seen = ctx.state(&self.seen);
        let n = seen.get().copied().unwrap_or(0) + 1;
        seen.set(n);
        self.total = n;
        Ok(())
    }

    fn finish(&mut self, _: &mut impl Emitter<()>) {
        if let Ok(mut a) = AUDITED.lock() {
            *a += self.total;
        }
    }
}
