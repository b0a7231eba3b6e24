//! Transport: how a batch of tuples reaches a task.
//!
//! A producer never knows where its consumer runs; it holds one [`TaskSender`] per target
//! task. In one process a sender is a bounded in-memory queue (the tuples move, no copy and
//! no serialization); between worker processes it encodes batches with the generated
//! codecs ([`wire`]) and frames them over one TCP connection per worker pair ([`net`],
//! [`remote`]). Control messages (end of stream, watermarks; checkpoint barriers next)
//! travel in-band in the same channel as the tuples, so they keep their order relative to
//! the data.
//!
//! **Inputs are channels.** A bolt task's input is a set of *channels*, one per
//! [`Upstream`] (producing task × edge), and every [`Message`] names the channel it came
//! on. Each channel has its own bounded queue in the receiving worker and, between
//! workers, its own data-plane channel with its own credit
//! ([`remote::input_channel_id`] names source and destination). So the receiving
//! executor can stop reading one channel while it reads the others (see
//! `exec::input`): the stopped channel's queue fills, and then only its producer waits.
//! The ackers' input and the spouts' replies are not aligned by anyone: each stays one
//! merged queue per executor, its messages tagged [`Upstream::MERGED`].

pub mod net;
pub mod remote;
pub mod roots;
pub mod wire;

use crate::ack::TupleIds;
use crate::api::TaskId;
use crossbeam_channel::{Receiver, Sender, TrySendError};

/// What travels on a task's input queue.
#[derive(Debug)]
pub enum Message<T> {
    /// A batch of tuples for the task in executor slot `slot`.
    Batch {
        /// The receiving task's slot in its executor.
        slot: u32,
        /// The channel it came on ([`Upstream::MERGED`] on a merged lane).
        from: Upstream,
        /// The tuples, in emission order.
        tuples: Vec<T>,
        /// With acking on, each tuple's tree ids (same length as `tuples`); empty otherwise.
        ids: Vec<TupleIds>,
    },
    /// One upstream producer has finished. The receiver records it per producer (a
    /// repeated `End`, after a reconnection, is harmless); once every upstream producer
    /// has ended, the receiving task's input is complete.
    End {
        /// The receiving task's slot in its executor.
        slot: u32,
        /// The producer that ended.
        from: Upstream,
    },
    /// An in-band control message from one channel, ordered with its data.
    Control {
        /// The receiving task's slot in its executor.
        slot: u32,
        /// The channel it came on.
        from: Upstream,
        /// What it says.
        control: Control,
    },
}

/// In-band control messages other than end of stream (their wire encoding is in
/// [`wire::encode_control`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    /// The producer will send no tuple with an event time (epoch ms) at or below this.
    Watermark(i64),
    /// Checkpoint `id`'s barrier: every tuple the producer sent before it belongs to the
    /// checkpoint, none after (see [`crate::checkpoint::Aligner`]).
    Barrier {
        /// The checkpoint.
        id: u64,
        /// A savepoint a user asked for, not a periodic checkpoint.
        savepoint: bool,
    },
}

/// One producer of a task's input: an upstream task on one edge of the topology (an
/// input channel), or any task on its way to the ackers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Upstream {
    /// The producing task.
    pub task: TaskId,
    /// The edge (index into the topology's edges), or [`Upstream::ACKING`].
    pub edge: u32,
}

impl Upstream {
    /// The `edge` of a task's messages to the ackers.
    pub const ACKING: u32 = u32::MAX;

    /// The tag of messages on a merged lane (an acker's input, a spout's replies), whose
    /// queue every producer shares: their producer is not tracked per channel.
    pub const MERGED: Upstream = Upstream {
        task: 0,
        edge: u32::MAX - 1,
    };

    /// Task `task` on edge `edge`.
    pub fn new(task: TaskId, edge: u32) -> Upstream {
        Upstream { task, edge }
    }

    /// Task `task` towards the ackers.
    pub fn acking(task: TaskId) -> Upstream {
        Upstream::new(task, Upstream::ACKING)
    }

    /// The id the data plane carries in an end frame.
    pub fn to_u64(self) -> u64 {
        (u64::from(self.edge) << 32) | u64::from(self.task)
    }

    /// The producer of an end frame's id.
    pub fn from_u64(id: u64) -> Upstream {
        Upstream {
            task: id as u32,
            edge: (id >> 32) as u32,
        }
    }
}

/// The send side of one task's input, wherever the task runs.
pub struct TaskSender<T> {
    route: Route<T>,
    slot: u32,
    task: TaskId,
    /// The channel this sender feeds ([`Upstream::MERGED`] on a merged lane).
    from: Upstream,
}

/// Where a task's input is: a queue in this process, or a channel to another worker.
enum Route<T> {
    Local(Sender<Message<T>>),
    Remote(std::sync::Arc<dyn remote::RemoteSend<T>>),
}

impl<T> std::fmt::Debug for TaskSender<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaskSender")
            .field("task", &self.task)
            .field("slot", &self.slot)
            .field("from", &self.from)
            .field("remote", &matches!(self.route, Route::Remote(_)))
            .finish()
    }
}

impl<T> Clone for TaskSender<T> {
    fn clone(&self) -> Self {
        TaskSender {
            route: match &self.route {
                Route::Local(tx) => Route::Local(tx.clone()),
                Route::Remote(r) => Route::Remote(r.clone()),
            },
            slot: self.slot,
            task: self.task,
            from: self.from,
        }
    }
}

/// The receiving task is gone (its executor stopped); the batch is given back.
#[derive(Debug)]
pub struct SendError<T>(pub Vec<T>);

impl<T> TaskSender<T> {
    /// A sender to the task in `slot` of the executor whose queue (of a merged lane) is
    /// `tx`.
    pub(crate) fn local(tx: Sender<Message<T>>, slot: u32, task: TaskId) -> Self {
        Self::local_channel(tx, slot, task, Upstream::MERGED)
    }

    /// A sender on channel `from` to the task in `slot` of an executor; `tx` is that
    /// channel's queue.
    pub(crate) fn local_channel(
        tx: Sender<Message<T>>,
        slot: u32,
        task: TaskId,
        from: Upstream,
    ) -> Self {
        TaskSender {
            route: Route::Local(tx),
            slot,
            task,
            from,
        }
    }

    /// A sender on channel `from` to task `task` in another worker process.
    pub(crate) fn remote(
        to: std::sync::Arc<dyn remote::RemoteSend<T>>,
        task: TaskId,
        from: Upstream,
    ) -> Self {
        TaskSender {
            route: Route::Remote(to),
            slot: 0,
            task,
            from,
        }
    }

    /// The channel this sender feeds ([`Upstream::MERGED`] on a merged lane).
    pub fn channel(&self) -> Upstream {
        self.from
    }

    /// True when the task runs in another worker process.
    pub fn is_remote(&self) -> bool {
        matches!(self.route, Route::Remote(_))
    }

    /// The receiving task's id.
    pub fn task(&self) -> TaskId {
        self.task
    }

    /// Sends a batch (with its tuples' tree ids when acking is on, else an empty `ids`),
    /// blocking while the receiver's queue is full (backpressure).
    #[inline]
    pub fn send_batch(&self, tuples: Vec<T>, ids: Vec<TupleIds>) -> Result<(), SendError<T>> {
        self.send_batch_timed(tuples, ids).map(|_| ())
    }

    /// Sends a batch as [`TaskSender::send_batch`] does, and says how long it waited for
    /// room in the queue (backpressure), in nanoseconds: 0 when there was room, and the
    /// clock is read only when there was not. (A remote task's wait is its link's: 0 here.)
    pub fn send_batch_timed(
        &self,
        tuples: Vec<T>,
        ids: Vec<TupleIds>,
    ) -> Result<u64, SendError<T>> {
        let tx = match &self.route {
            Route::Local(tx) => tx,
            Route::Remote(r) => return r.send_batch(tuples, ids).map(|()| 0),
        };
        let msg = Message::Batch {
            slot: self.slot,
            from: self.from,
            tuples,
            ids,
        };
        match tx.try_send(msg) {
            Ok(()) => Ok(0),
            Err(TrySendError::Full(msg)) => {
                let waited = std::time::Instant::now();
                tx.send(msg).map_err(|e| into_batch(e.0))?;
                Ok(waited.elapsed().as_nanos().min(u128::from(u64::MAX)) as u64)
            }
            Err(TrySendError::Disconnected(msg)) => Err(into_batch(msg)),
        }
    }

    /// Tells the receiver that producer `from` has finished.
    pub fn send_end(&self, from: Upstream) -> Result<(), SendError<T>> {
        match &self.route {
            Route::Local(tx) => tx
                .send(Message::End {
                    slot: self.slot,
                    from,
                })
                .map_err(|_| SendError(Vec::new())),
            Route::Remote(r) => {
                r.send_end(from);
                Ok(())
            }
        }
    }

    /// Sends a control message on this sender's channel, ordered after the batches sent
    /// before it (blocking while the receiver's queue is full).
    pub fn send_control(&self, control: Control) -> Result<(), SendError<T>> {
        match &self.route {
            Route::Local(tx) => tx
                .send(Message::Control {
                    slot: self.slot,
                    from: self.from,
                    control,
                })
                .map_err(|_| SendError(Vec::new())),
            Route::Remote(r) => {
                r.send_control(control);
                Ok(())
            }
        }
    }

    /// Batches waiting in the receiver's queue (0 for a task in another worker).
    pub fn queued(&self) -> usize {
        match &self.route {
            Route::Local(tx) => tx.len(),
            Route::Remote(_) => 0,
        }
    }
}

fn into_batch<T>(msg: Message<T>) -> SendError<T> {
    match msg {
        Message::Batch { tuples, .. } => SendError(tuples),
        Message::End { .. } | Message::Control { .. } => SendError(Vec::new()),
    }
}

/// An unbounded queue (acker replies to spouts: bounded by the tuples in flight, and it
/// must never block an acker).
pub(crate) fn unbounded<T>() -> (Sender<Message<T>>, Receiver<Message<T>>) {
    crossbeam_channel::unbounded()
}

/// A bounded queue for one input channel (or one executor's merged lane): `capacity`
/// batches.
pub(crate) fn queue<T>(capacity: usize) -> (Sender<Message<T>>, Receiver<Message<T>>) {
    crossbeam_channel::bounded(capacity.max(1))
}
