//! A stream's exit from a chain: applies a grouping and batches tuples per target task.

use super::{Choice, Grouping, Targets};
use crate::api::{Emitter, TaskId};
use crate::exec::chain::Downstream;
use crate::exec::wiring::Wiring;
use crate::transport::TaskSender;

/// Routes one edge: grouping, then one batch buffer per consumer task. A full batch is sent
/// at once (blocking while the consumer's queue is full); partial batches are sent on
/// [`flush`](Downstream::flush) when the executor runs out of input.
#[derive(Debug)]
pub struct Router<T, G> {
    edge: usize,
    grouping: G,
    targets: Vec<TaskSender<T>>,
    buffers: Vec<Vec<T>>,
    batch: usize,
    first_task: TaskId,
}

impl<T: Send + 'static, G: Grouping<T>> Router<T, G> {
    /// The router of edge `edge` of the plan, for the task being wired.
    pub fn new(wiring: &Wiring, edge: usize, grouping: G) -> Self {
        let e = &wiring.desc().edges[edge];
        let targets = wiring.senders::<T>(e.to);
        let batch = wiring.batch_size();
        Router {
            edge,
            grouping,
            buffers: targets.iter().map(|_| Vec::with_capacity(batch)).collect(),
            targets,
            batch,
            first_task: wiring.desc().components[e.to].first_task,
        }
    }

    #[inline]
    fn push(buffers: &mut [Vec<T>], targets: &[TaskSender<T>], batch: usize, i: usize, t: T) {
        let buf = &mut buffers[i];
        buf.push(t);
        if buf.len() >= batch {
            let full = std::mem::replace(buf, Vec::with_capacity(batch));
            send(&targets[i], full);
        }
    }
}

fn send<T>(target: &TaskSender<T>, batch: Vec<T>) {
    if target.send_batch(batch).is_err() {
        panic!(
            "gale: task {} stopped while tuples were still being sent to it",
            target.task()
        );
    }
}

impl<T: Clone + Send + 'static, G: Grouping<T>> Emitter<T> for Router<T, G> {
    #[inline]
    fn emit(&mut self, tuple: T) {
        let n = self.targets.len();
        let direct = self.grouping.is_direct();
        match self.grouping.choose(&tuple) {
            Choice::One(i) => Self::push(&mut self.buffers, &self.targets, self.batch, i, tuple),
            Choice::All => {
                for i in 0..n.saturating_sub(1) {
                    Self::push(
                        &mut self.buffers,
                        &self.targets,
                        self.batch,
                        i,
                        tuple.clone(),
                    );
                }
                Self::push(&mut self.buffers, &self.targets, self.batch, n - 1, tuple);
            }
            Choice::Many(list) => {
                if list.is_empty() && direct {
                    panic!(
                        "gale: `emit` on a direct stream (edge {}): use `emit_direct(task, tuple)`",
                        self.edge
                    );
                }
                for &i in list {
                    Self::push(
                        &mut self.buffers,
                        &self.targets,
                        self.batch,
                        i,
                        tuple.clone(),
                    );
                }
            }
        }
    }

    fn emit_direct(&mut self, task: TaskId, tuple: T) {
        if !self.grouping.is_direct() {
            panic!(
                "gale: `emit_direct` on a stream that is not declared direct (edge {})",
                self.edge
            );
        }
        let i = task.wrapping_sub(self.first_task) as usize;
        if i < self.targets.len() {
            Self::push(&mut self.buffers, &self.targets, self.batch, i, tuple);
        }
    }
}

impl<T: Clone + Send + 'static, G: Grouping<T>> Downstream<T> for Router<T, G> {
    fn open(&mut self, wiring: &Wiring) {
        let e = &wiring.desc().edges[self.edge];
        let targets = Targets {
            tasks: self.targets.iter().map(|t| t.task()).collect(),
            local: wiring.local_tasks(e.to),
            source: wiring.task_id(e.from),
        };
        self.grouping.prepare(&targets);
    }

    fn flush(&mut self) {
        for (buf, target) in self.buffers.iter_mut().zip(&self.targets) {
            if !buf.is_empty() {
                let full = std::mem::replace(buf, Vec::with_capacity(self.batch));
                send(target, full);
            }
        }
    }

    fn finish(&mut self) {
        self.flush();
        for target in &self.targets {
            if target.send_end().is_err() {
                panic!(
                    "gale: task {} stopped before the end of its input",
                    target.task()
                );
            }
        }
    }

    fn report(&mut self, _wiring: &Wiring) {}
}
