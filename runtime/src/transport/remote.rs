//! The glue between typed task queues and the byte channels of the data plane: a
//! [`TaskSender`] to a task in another worker encodes its batches
//! ([`NetSender`]), and a task of this worker receives the batches others send it
//! ([`TaskInbound`]).

use super::net::{ChannelId, Inbound, Outbound};
use super::roots::PeerRoots;
use super::wire::{decode_batch, encode_batch};
use super::{SendError, TaskSender, Upstream};
use crate::ack::TupleIds;
use crate::api::TaskId;
use crate::codec::Codec;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

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
    /// Sends the end of producer `from`'s stream (a down link drops it, counted; it is
    /// sent again when the link reconnects).
    fn send_end(&self, from: Upstream);
}

/// Batches dropped because the link to their worker was down, process-wide.
pub static DROPPED_BATCHES: AtomicU64 = AtomicU64::new(0);

/// Tuples not sent because one alone encodes above the data plane's frame limit,
/// process-wide (each is logged; under acking its tree fails by timeout and replays).
pub static OVERSIZED_TUPLES: AtomicU64 = AtomicU64::new(0);

/// A [`RemoteSend`] over a data-plane channel.
pub struct NetSender {
    out: Outbound,
    task: TaskId,
    /// Where the roots of the tracked tuples sent are recorded (see [`super::roots`]).
    roots: Option<PeerRoots>,
}

impl NetSender {
    /// A sender to `task` over `out`.
    pub fn task_sender<T: Codec + Send + 'static>(out: Outbound, task: TaskId) -> TaskSender<T> {
        TaskSender::remote(
            Arc::new(NetSender {
                out,
                task,
                roots: None,
            }),
            task,
        )
    }

    /// A sender to `task` over `out` that records in `roots` the roots of the tracked
    /// tuples it sends.
    pub fn recording<T: Codec + Send + 'static>(
        out: Outbound,
        task: TaskId,
        roots: PeerRoots,
    ) -> TaskSender<T> {
        TaskSender::remote(
            Arc::new(NetSender {
                out,
                task,
                roots: Some(roots),
            }),
            task,
        )
    }

    fn send_frame(&self, frame: Vec<u8>) {
        if self.out.send(frame).is_err() {
            DROPPED_BATCHES.fetch_add(1, Ordering::Relaxed);
        }
    }
}

impl<T: Codec> RemoteSend<T> for NetSender {
    /// Encodes the batch into as many frames as the frame limit needs (a batch of large
    /// tuples becomes several frames, each a whole batch of its own); a tuple that alone is
    /// above the limit is not sent, and is counted and logged.
    fn send_batch(&self, tuples: Vec<T>, ids: Vec<TupleIds>) -> Result<(), SendError<T>> {
        if let Some(roots) = &self.roots
            && !ids.is_empty()
        {
            let sent = ids
                .iter()
                .flat_map(|i| i.pairs().iter().map(|&(root, _)| root));
            roots
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .record(Instant::now(), sent);
        }
        let limit = self.out.max_payload();
        for (frame, oversized) in split_into_frames(&tuples, &ids, limit) {
            match oversized {
                None => self.send_frame(frame),
                Some(size) => {
                    let n = OVERSIZED_TUPLES.fetch_add(1, Ordering::Relaxed) + 1;
                    eprintln!(
                        "gale: worker: a tuple for task {} encodes to {size} bytes, above the \
                         data plane's frame limit of {limit} bytes: not sent, failed ({n} so far)",
                        self.task
                    );
                }
            }
        }
        Ok(())
    }

    fn send_end(&self, from: Upstream) {
        if self.out.send_end(from.to_u64()).is_err() {
            DROPPED_BATCHES.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Encodes `tuples` (with their `ids`, when tracked) as whole batches of at most `limit`
/// bytes each, in order. An item `(frame, Some(size))` stands for one tuple whose batch
/// alone would be `size` bytes, above the limit (`frame` is empty then).
pub fn split_into_frames<T: Codec>(
    tuples: &[T],
    ids: &[TupleIds],
    limit: usize,
) -> Vec<(Vec<u8>, Option<usize>)> {
    let tracked = !ids.is_empty();
    let whole = |range: std::ops::Range<usize>| {
        let mut buf = Vec::with_capacity(16 * range.len() + 8);
        let id_slice = if tracked {
            &ids[range.clone()]
        } else {
            &[][..]
        };
        encode_batch(&tuples[range], id_slice, &mut buf);
        buf
    };
    let all = whole(0..tuples.len());
    if all.len() <= limit {
        return vec![(all, None)];
    }
    // Too large as one frame: size every tuple, then cut greedily.
    let mut out = Vec::new();
    let mut start = 0;
    let mut scratch = Vec::new();
    let mut size = 0usize;
    // Room for two varint counts.
    const COUNTS: usize = 20;
    for i in 0..tuples.len() {
        scratch.clear();
        tuples[i].encode(&mut scratch);
        if tracked {
            ids[i].encode(&mut scratch);
        }
        let item = scratch.len();
        if item + COUNTS > limit {
            if start < i {
                out.push((whole(start..i), None));
            }
            out.push((Vec::new(), Some(item + COUNTS)));
            start = i + 1;
            size = 0;
            continue;
        }
        if size + item + COUNTS > limit {
            out.push((whole(start..i), None));
            start = i;
            size = 0;
        }
        size += item;
    }
    if start < tuples.len() {
        out.push((whole(start..tuples.len()), None));
    }
    out
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

    fn end(&self, producers: &[u64]) {
        for &p in producers {
            let _ = self.sender.send_end(Upstream::from_u64(p));
        }
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

    fn end(&self, producers: &[u64]) {
        self.get().end(producers)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_batches_split_into_frames_below_the_limit() {
        let tuples: Vec<String> = (0..1024)
            .map(|i| format!("{i}-{}", "x".repeat(70_000)))
            .collect();
        let limit = 1 << 20;
        let frames = split_into_frames(&tuples, &[], limit);
        assert!(frames.len() > 60, "{}", frames.len());
        let mut back = Vec::new();
        for (f, over) in &frames {
            assert_eq!(*over, None);
            assert!(f.len() <= limit, "{}", f.len());
            back.extend(decode_batch::<String>(f).unwrap().0);
        }
        assert_eq!(back, tuples);
    }

    #[test]
    fn a_tuple_above_the_limit_is_reported_not_dropped_silently() {
        let tuples = vec!["a".to_string(), "x".repeat(5000), "b".to_string()];
        let ids: Vec<TupleIds> = (0..3).map(|_| TupleIds::default()).collect();
        let frames = split_into_frames(&tuples, &ids, 1000);
        let over: Vec<Option<usize>> = frames.iter().map(|f| f.1).collect();
        assert_eq!(over.len(), 3);
        assert!(over[1].is_some_and(|n| n > 5000));
        assert_eq!(decode_batch::<String>(&frames[0].0).unwrap().0, ["a"]);
        assert_eq!(decode_batch::<String>(&frames[2].0).unwrap().0, ["b"]);
        // Small batches stay one frame.
        assert_eq!(split_into_frames(&tuples[..1], &ids[..1], 1000).len(), 1);
    }
}
