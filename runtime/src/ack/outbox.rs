//! A task's messages to the acker tasks, batched per acker task. The acker of a root is
//! chosen by the root id (fields grouping on the root), so every message of one tree
//! reaches the same acker.

use super::acker::AckerMsg;
use super::ids::Anchor;
use crate::api::TaskId;
use crate::transport::{TaskSender, Upstream};

/// Buffers messages per acker task; sends a batch when full, on [`flush`](AckOutbox::flush)
/// and on [`finish`](AckOutbox::finish).
#[derive(Debug)]
pub struct AckOutbox {
    targets: Vec<TaskSender<AckerMsg>>,
    buffers: Vec<Vec<AckerMsg>>,
    batch: usize,
}

impl AckOutbox {
    /// An outbox to `targets` (one sender per acker task, at least one).
    pub fn new(targets: Vec<TaskSender<AckerMsg>>, batch: usize) -> Self {
        AckOutbox {
            buffers: targets.iter().map(|_| Vec::new()).collect(),
            targets,
            batch: batch.max(1),
        }
    }

    /// The acker task index responsible for `root`.
    #[inline]
    pub fn acker_of(root: u64, ackers: usize) -> usize {
        (root % ackers.max(1) as u64) as usize
    }

    /// Queues one message.
    #[inline]
    pub fn send(&mut self, msg: AckerMsg) {
        let i = Self::acker_of(msg.root(), self.targets.len());
        let buf = &mut self.buffers[i];
        buf.push(msg);
        if buf.len() >= self.batch {
            let full = std::mem::replace(buf, Vec::with_capacity(self.batch));
            send(&self.targets[i], full);
        }
    }

    /// Acks an input: per root, its edge XOR its children's edges.
    pub fn ack(&mut self, anchor: &Anchor) {
        for (root, val) in anchor.ack_values() {
            self.send(AckerMsg::Ack { root, val });
        }
    }

    /// Fails an input's trees.
    pub fn fail(&mut self, anchor: &Anchor) {
        for root in anchor.roots() {
            self.send(AckerMsg::Fail { root });
        }
    }

    /// Sends every partial batch.
    pub fn flush(&mut self) {
        for (buf, target) in self.buffers.iter_mut().zip(&self.targets) {
            if !buf.is_empty() {
                send(target, std::mem::take(buf));
            }
        }
    }

    /// Flushes and tells every acker that task `from` (the outbox's owner) has finished.
    pub fn finish(&mut self, from: TaskId) {
        self.flush();
        for t in &self.targets {
            // An acker that is gone has nothing left to count.
            let _ = t.send_end(Upstream::acking(from));
        }
    }
}

fn send(target: &TaskSender<AckerMsg>, batch: Vec<AckerMsg>) {
    if target.send_batch(batch, Vec::new()).is_err() {
        panic!(
            "gale: acker task {} stopped while acks were still being sent to it",
            target.task()
        );
    }
}
