//! Components of `groupings.topo`: a spout of numbered tuples and a bolt that records
//! which task received which tuple.

use crate::groupings::Num;
use gale::{Bolt, CustomGrouping, Emitter, ExecResult, Spout, SpoutStatus, TaskContext, TaskId};
use std::sync::Mutex;

/// One delivery: (component, receiving task, key, seq).
pub type Delivery = (String, TaskId, u64, u64);

/// Everything every `Record` task received.
pub static DELIVERIES: Mutex<Vec<Delivery>> = Mutex::new(Vec::new());

/// The key of sequence number `seq`: 97 keys, skewed (key 0 is ten times as frequent).
pub fn key_of(seq: u64) -> u64 {
    if seq.is_multiple_of(10) { 0 } else { seq % 97 }
}

/// Emits `per_task` tuples per task with globally unique sequence numbers.
#[derive(Default)]
pub struct Numbers {
    next: u64,
    end: u64,
}

impl Spout for Numbers {
    type Out = Num;

    fn open(&mut self, ctx: &TaskContext) {
        let per_task = ctx.config_u64("per_task").unwrap_or(1000);
        self.next = ctx.task_index() as u64 * per_task;
        self.end = self.next + per_task;
    }

    fn next_tuple(&mut self, out: &mut impl Emitter<Num>) -> SpoutStatus {
        if self.next == self.end {
            return SpoutStatus::Done;
        }
        out.emit(Num {
            key: key_of(self.next),
            seq: self.next,
        });
        self.next += 1;
        SpoutStatus::Active
    }
}

/// Records each tuple with its component and task, in a local buffer flushed at the end.
#[derive(Default)]
pub struct Record {
    component: String,
    task: TaskId,
    seen: Vec<Delivery>,
}

impl Bolt for Record {
    type In = Num;
    type Out = ();

    fn prepare(&mut self, ctx: &TaskContext) {
        self.component = ctx.component().to_string();
        self.task = ctx.task_id();
    }

    fn execute(&mut self, n: Num, _out: &mut impl Emitter<()>) -> ExecResult {
        self.seen
            .push((self.component.clone(), self.task, n.key, n.seq));
        Ok(())
    }

    fn finish(&mut self, _out: &mut impl Emitter<()>) {
        let mut all = DELIVERIES.lock().unwrap_or_else(|p| p.into_inner());
        all.append(&mut self.seen);
    }
}

/// Sends each tuple directly to task `first + seq % n` of `by_direct`.
#[derive(Default)]
pub struct PickTask {
    targets: Vec<TaskId>,
}

impl PickTask {
    /// The task of `by_direct` that must receive `seq`, given its task ids.
    pub fn target(targets: &[TaskId], seq: u64) -> TaskId {
        targets[(seq % targets.len() as u64) as usize]
    }
}

impl Bolt for PickTask {
    type In = Num;
    type Out = Num;

    fn prepare(&mut self, ctx: &TaskContext) {
        self.targets = ctx.component_tasks("by_direct").collect();
    }

    fn execute(&mut self, n: Num, out: &mut impl Emitter<Num>) -> ExecResult {
        out.emit_direct(Self::target(&self.targets, n.seq), n);
        Ok(())
    }
}

/// A custom grouping: even keys to the first task, odd keys to the last.
#[derive(Default)]
pub struct Parity {
    targets: Vec<TaskId>,
}

impl CustomGrouping<Num> for Parity {
    fn prepare(&mut self, targets: &[TaskId]) {
        self.targets = targets.to_vec();
    }

    fn choose_tasks(&mut self, n: &Num, out: &mut Vec<TaskId>) {
        let i = if n.key.is_multiple_of(2) {
            0
        } else {
            self.targets.len() - 1
        };
        out.push(self.targets[i]);
    }
}
