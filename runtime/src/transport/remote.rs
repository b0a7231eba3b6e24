//! The glue between typed task queues and the byte channels of the data plane: a
//! [`TaskSender`] to a task in another worker encodes its batches
//! ([`NetSender`]), and a task of this worker receives the batches others send it
//! ([`TaskInbound`]).

use super::net::{ChannelId, Inbound, Outbound};
use super::wire::{decode_batch, encode_batch};
use super::{SendError, TaskSender};
use crate::ack::TupleIds;
use crate::api::TaskId;
use crate::codec::Codec;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// Which input of a task a channel feeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Lane {
    /// The task's input queue: tuples for a bolt task, acker messages for an acker task.
    Input = 0,
    /// A spout task's replies from the ackers.
    Replies = 1,
}

/// The data-plane channel of a task's input lane.
pub fn channel_id(task: TaskId, lane: Lane) -> ChannelId {
    (u64::from(task) << 8) | lane as u64
}

/// Sends a task's batches to another worker (type-erased over the tuple's codec).
pub trait RemoteSend<T>: Send + Sync {
    /// Encodes and sends a batch. A down link drops it (counted); acking replays it.
    fn send_batch(&self, tuples: Vec<T>, ids: Vec<TupleIds>) -> Result<(), SendError<T>>;
    /// Sends the end of this producer's stream (a down link drops it, counted).
    fn send_end(&self);
}

/// Batches dropped because the link to their worker was down, process-wide.
pub static DROPPED_BATCHES: AtomicU64 = AtomicU64::new(0);

/// A [`RemoteSend`] over a data-plane channel.
pub struct NetSender {
    out: Outbound,
}

impl NetSender {
    /// A sender to `task` over `out`.
    pub fn task_sender<T: Codec + Send + 'static>(out: Outbound, task: TaskId) -> TaskSender<T> {
        TaskSender::remote(Arc::new(NetSender { out }), task)
    }
}

impl<T: Codec> RemoteSend<T> for NetSender {
    fn send_batch(&self, tuples: Vec<T>, ids: Vec<TupleIds>) -> Result<(), SendError<T>> {
        let mut buf = Vec::with_capacity(16 * tuples.len() + 8);
        encode_batch(&tuples, &ids, &mut buf);
        if self.out.send(buf).is_err() {
            DROPPED_BATCHES.fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    }

    fn send_end(&self) {
        if self.out.send_end().is_err() {
            DROPPED_BATCHES.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Batches from the network that did not decode, process-wide (each is logged).
pub static MALFORMED_BATCHES: AtomicU64 = AtomicU64::new(0);

/// Delivers a channel's frames into a local task's queue.
pub struct TaskInbound<T> {
    sender: TaskSender<T>,
}

impl<T> TaskInbound<T> {
    /// An inbound feeding the local queue behind `sender`.
    pub fn new(sender: TaskSender<T>) -> Self {
        TaskInbound { sender }
    }
}

impl<T: Codec + Send + 'static> Inbound for TaskInbound<T> {
    fn deliver(&self, payload: &[u8]) {
        match decode_batch::<T>(payload) {
            Ok((tuples, ids)) => {
                // The task may have finished (its executor is gone): nothing to do.
                let _ = self.sender.send_batch(tuples, ids);
            }
            Err(e) => {
                let n = MALFORMED_BATCHES.fetch_add(1, Ordering::Relaxed) + 1;
                eprintln!(
                    "gale: worker: dropped a malformed batch for task {} ({n} so far): {e}",
                    self.sender.task()
                );
            }
        }
    }

    fn end(&self) {
        let _ = self.sender.send_end();
    }
}

/// An inbound that is not yet typed: the data plane needs every local channel at start,
/// before the typed queues are built. [`LateInbound::set`] gives it its typed inbound.
#[derive(Default)]
pub struct LateInbound {
    inner: OnceLock<Arc<dyn Inbound>>,
}

impl LateInbound {
    /// Attaches the typed inbound.
    pub fn set(&self, inbound: Arc<dyn Inbound>) {
        let _ = self.inner.set(inbound);
    }

    fn get(&self) -> &Arc<dyn Inbound> {
        loop {
            if let Some(i) = self.inner.get() {
                return i;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

impl Inbound for LateInbound {
    fn deliver(&self, payload: &[u8]) {
        self.get().deliver(payload)
    }

    fn end(&self) {
        self.get().end()
    }
}
