//! Components of `checkpoints.topo`: a paced spout whose position is its state, and a
//! summing bolt whose count and sum are.

use crate::checkpoints::Num;
use gale::codec::{from_bytes, to_bytes};
use gale::{Bolt, Emitter, ExecResult, Fail, Spout, SpoutStatus, TaskContext, TaskState};
use std::time::Instant;

/// Numbers per millisecond a spout task emits at most (so checkpoints happen mid-run).
pub const PER_MS: u64 = 100;

/// The numbers spout task `task` of `tasks` emits, in order: `task`, `task + tasks`, ...
pub fn number(task: u64, tasks: u64, i: u64) -> u64 {
    task + i * tasks
}

/// Emits its numbers at a pace; its state is how many it has emitted.
#[derive(Default)]
pub struct Numbers {
    task: u64,
    tasks: u64,
    next: u64,
    end: u64,
    started: Option<Instant>,
}

impl Spout for Numbers {
    type Out = Num;
    fn open(&mut self, ctx: &TaskContext) {
        self.task = ctx.task_index() as u64;
        self.tasks = ctx.task_count() as u64;
        self.end = ctx.config_u64("numbers").unwrap_or(1000);
    }
    fn next_tuple(&mut self, out: &mut impl Emitter<Num>) -> SpoutStatus {
        if self.next >= self.end {
            return SpoutStatus::Done;
        }
        let started = *self.started.get_or_insert_with(Instant::now);
        if self.next >= (started.elapsed().as_millis() as u64 + 1) * PER_MS {
            return SpoutStatus::Idle;
        }
        out.emit(Num {
            n: number(self.task, self.tasks, self.next),
        });
        self.next += 1;
        SpoutStatus::Active
    }
    fn snapshot_state(&mut self, _checkpoint: u64) -> Result<Option<TaskState>, Fail> {
        Ok(Some(to_bytes(&self.next).into()))
    }
    fn initialize_state(&mut self, restored: Option<TaskState>) -> Result<(), Fail> {
        if let Some(s) = restored {
            self.next = from_bytes(&s.into_task()?)?;
        }
        Ok(())
    }
}

/// The fused map: doubles.
pub fn double(n: Num) -> Num {
    Num { n: n.n * 2 }
}

/// Counts and sums what it receives; its state is both.
#[derive(Default)]
pub struct Sum {
    count: u64,
    sum: u64,
}

impl Bolt for Sum {
    type In = Num;
    type Out = ();
    fn execute(&mut self, n: Num, _: &mut impl Emitter<()>) -> ExecResult {
        self.count += 1;
        self.sum += n.n;
        Ok(())
    }
    fn snapshot_state(&mut self, _checkpoint: u64) -> Result<Option<TaskState>, Fail> {
        Ok(Some(to_bytes(&(self.count, self.sum)).into()))
    }
    fn initialize_state(&mut self, restored: Option<TaskState>) -> ExecResult {
        if let Some(s) = restored {
            (self.count, self.sum) = from_bytes(&s.into_task()?)?;
        }
        Ok(())
    }
}
