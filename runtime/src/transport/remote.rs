//! The glue between typed task queues and the byte channels of the data plane: a
//! [`TaskSender`] to a task in another worker encodes its batches
//! ([`NetSender`]), and a task of this worker receives the batches others send it
//! ([`TaskInbound`]).

use super::net::{ChannelId, DEFAULT_MAX_FRAME, Inbound, Outbound};
use super::roots::PeerRoots;
use super::wire::{decode_batch, decode_control, encode_batch, encode_control};
use super::{Control, SendError, TaskSender, Upstream};
use crate::ack::{AckOutbox, AckerMsg, TupleIds};
use crate::api::TaskId;
use crate::codec::Codec;
use crate::topology::{ConfigValue, TopologyDesc, config_value};
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

/// The data-plane channel of a task's merged lane (an acker's input, a spout's
/// replies): every producer shares it, its source is [`Upstream::MERGED`].
pub fn channel_id(task: TaskId, lane: Lane) -> ChannelId {
    channel(Upstream::MERGED, task, lane)
}

/// The data-plane channel of one input channel of a bolt task: from producer `from` to
/// `task`. Each has its own credit, so the receiver can stop one producer alone.
pub fn input_channel_id(from: Upstream, task: TaskId) -> ChannelId {
    channel(from, task, Lane::Input)
}

/// Source in the high 64 bits, destination (task, lane) in the low 64.
fn channel(from: Upstream, task: TaskId, lane: Lane) -> ChannelId {
    (u128::from(from.to_u64()) << 64) | u128::from((u64::from(task) << 8) | lane as u64)
}

/// Sends a task's batches to another worker (type-erased over the tuple's codec).
pub trait RemoteSend<T>: Send + Sync {
    /// Encodes and sends a batch. A down link drops it (counted); acking replays it.
    fn send_batch(&self, tuples: Vec<T>, ids: Vec<TupleIds>) -> Result<(), SendError<T>>;
    /// Sends the end of producer `from`'s stream (a down link drops it, counted; it is
    /// sent again when the link reconnects).
    fn send_end(&self, from: Upstream);
    /// Sends a control message, ordered with the batches (a down link drops it, counted).
    fn send_control(&self, control: Control);
}

/// Batches dropped because the link to their worker was down, process-wide.
pub static DROPPED_BATCHES: AtomicU64 = AtomicU64::new(0);

/// Tuples not sent because one alone encodes above the data plane's frame limit,
/// process-wide (each is logged; under acking its trees fail at once, see [`TreeFailer`]).
pub static OVERSIZED_TUPLES: AtomicU64 = AtomicU64::new(0);

/// Fails tuple trees from the transport: a tracked tuple that cannot be sent (it alone
/// encodes above the frame limit) fails its trees now, so its spout's `fail` runs at once
/// instead of at `message_timeout`. The acker senders are attached once they exist (a
/// worker builds the bolts' inboxes, and with them its [`NetSender`]s, before the ackers').
#[derive(Default)]
pub struct TreeFailer {
    ackers: OnceLock<Vec<TaskSender<AckerMsg>>>,
}

impl std::fmt::Debug for TreeFailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TreeFailer")
            .field("ackers", &self.ackers.get().map(Vec::len))
            .finish()
    }
}

impl TreeFailer {
    /// Attaches the senders to every acker task (by acker index); only the first call has
    /// an effect.
    pub fn attach(&self, ackers: Vec<TaskSender<AckerMsg>>) {
        let _ = self.ackers.set(ackers);
    }

    /// Tells the acker of each of `ids`' trees that the tree failed. Returns the trees
    /// failed (0: the tuple is not tracked, or no acker is attached).
    pub fn fail(&self, ids: &TupleIds) -> usize {
        let Some(ackers) = self.ackers.get().filter(|a| !a.is_empty()) else {
            return 0;
        };
        for &(root, _) in ids.pairs() {
            let acker = &ackers[AckOutbox::acker_of(root, ackers.len())];
            // An acker that is gone has no tree left to fail.
            let _ = acker.send_batch(vec![AckerMsg::Fail { root }], Vec::new());
        }
        ids.pairs().len()
    }
}

/// A [`RemoteSend`] over a data-plane channel.
pub struct NetSender {
    out: Outbound,
    task: TaskId,
    /// Where the roots of the tracked tuples sent are recorded (see [`super::roots`]).
    roots: Option<PeerRoots>,
    /// Fails the trees of a tuple too large to send.
    failer: Arc<TreeFailer>,
}

impl NetSender {
    /// A sender to `task` over `out`; a tuple too large to send has its trees failed by
    /// `failer`.
    pub fn task_sender<T: Codec + Send + 'static>(
        out: Outbound,
        task: TaskId,
        from: Upstream,
        failer: Arc<TreeFailer>,
    ) -> TaskSender<T> {
        TaskSender::remote(
            Arc::new(NetSender {
                out,
                task,
                roots: None,
                failer,
            }),
            task,
            from,
        )
    }

    /// A sender to `task` over `out` that records in `roots` the roots of the tracked
    /// tuples it sends; a tuple too large to send has its trees failed by `failer`.
    pub fn recording<T: Codec + Send + 'static>(
        out: Outbound,
        task: TaskId,
        from: Upstream,
        roots: PeerRoots,
        failer: Arc<TreeFailer>,
    ) -> TaskSender<T> {
        TaskSender::remote(
            Arc::new(NetSender {
                out,
                task,
                roots: Some(roots),
                failer,
            }),
            task,
            from,
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
    /// above the limit is not sent: it is counted and logged, and its trees fail now.
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
                Some(Oversized { index, size }) => {
                    let n = OVERSIZED_TUPLES.fetch_add(1, Ordering::Relaxed) + 1;
                    let trees = ids.get(index).map_or(0, |i| self.failer.fail(i));
                    tracing::warn!(
                        to_task = self.task,
                        size,
                        "a tuple for task {} encodes to {size} bytes, above the \
                         data plane's frame limit of {limit} bytes (`max_frame`): not sent, \
                         {trees} tuple trees failed ({n} such tuples so far)",
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

    fn send_control(&self, control: Control) {
        let mut payload = Vec::with_capacity(16);
        encode_control(&control, &mut payload);
        if self.out.send_control(payload).is_err() {
            DROPPED_BATCHES.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// A tuple whose batch alone is above the frame limit, as [`split_into_frames`] reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Oversized {
    /// Its index in the batch.
    pub index: usize,
    /// The bytes its batch alone would take.
    pub size: usize,
}

/// Encodes `tuples` (with their `ids`, when tracked) as whole batches of at most `limit`
/// bytes each, in order. An item `(frame, Some(oversized))` stands for one tuple whose
/// batch alone would be above the limit (`frame` is empty then).
pub fn split_into_frames<T: Codec>(
    tuples: &[T],
    ids: &[TupleIds],
    limit: usize,
) -> Vec<(Vec<u8>, Option<Oversized>)> {
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
            out.push((
                Vec::new(),
                Some(Oversized {
                    index: i,
                    size: item + COUNTS,
                }),
            ));
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

/// The config key of the data plane's frame limit (bytes).
pub const MAX_FRAME_KEY: &str = "max_frame";
/// The smallest frame limit accepted: room for a batch of a few small tuples.
pub const MIN_MAX_FRAME: u64 = 1024;

/// A `max_frame` setting that is not an integer number of bytes in range.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error(
    "`{MAX_FRAME_KEY}` must be an integer number of bytes from {MIN_MAX_FRAME} to {max}, not {0:?}",
    max = u32::MAX
)]
pub struct BadMaxFrame(pub ConfigValue);

impl BadMaxFrame {
    /// Never retryable: the topology's config is wrong.
    pub fn is_retryable(&self) -> bool {
        false
    }
}

/// The data plane's frame limit from the topology's `max_frame` setting (a `--set`
/// override or the `.topo` file's), else [`DEFAULT_MAX_FRAME`]. Every worker of a
/// topology reads the same value, so peers agree on it.
pub fn max_frame(desc: &TopologyDesc) -> Result<usize, BadMaxFrame> {
    max_frame_from(config_value(desc, MAX_FRAME_KEY))
}

fn max_frame_from(value: Option<&ConfigValue>) -> Result<usize, BadMaxFrame> {
    match value {
        None => Ok(DEFAULT_MAX_FRAME),
        Some(ConfigValue::Int(n)) if (MIN_MAX_FRAME..=u64::from(u32::MAX)).contains(n) => {
            usize::try_from(*n).map_err(|_| BadMaxFrame(ConfigValue::Int(*n)))
        }
        Some(other) => Err(BadMaxFrame(other.clone())),
    }
}

/// Batches (and control messages) from the network that did not decode, process-wide
/// (each is logged).
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
                tracing::warn!(
                    to_task = self.sender.task(),
                    error = %e,
                    "dropped a malformed batch for task {} ({n} so far)",
                    self.sender.task()
                );
            }
        }
    }

    /// Every producer named is passed on: the executor records ends per channel and
    /// ignores a repeat, or a producer that is not the channel's.
    fn end(&self, producers: &[u64]) {
        for &p in producers {
            let _ = self.sender.send_end(Upstream::from_u64(p));
        }
    }

    fn control(&self, payload: &[u8]) {
        match decode_control(payload) {
            Ok(control) => {
                let _ = self.sender.send_control(control);
            }
            Err(e) => {
                let n = MALFORMED_BATCHES.fetch_add(1, Ordering::Relaxed) + 1;
                tracing::warn!(
                    to_task = self.sender.task(),
                    error = %e,
                    "dropped a malformed control message for task {} ({n} so far)",
                    self.sender.task()
                );
            }
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

    fn control(&self, payload: &[u8]) {
        self.get().control(payload)
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
    fn max_frame_is_a_byte_count_in_range() {
        assert_eq!(max_frame_from(None), Ok(DEFAULT_MAX_FRAME));
        assert_eq!(max_frame_from(Some(&ConfigValue::Int(65_536))), Ok(65_536));
        for bad in [
            ConfigValue::Int(10),
            ConfigValue::Int(u64::from(u32::MAX) + 1),
            ConfigValue::DurationMs(5),
        ] {
            let e = max_frame_from(Some(&bad)).unwrap_err();
            assert!(e.to_string().contains("max_frame"), "{e}");
            assert!(!e.is_retryable());
        }
    }

    #[test]
    fn a_failer_without_ackers_fails_nothing_and_with_them_fails_every_tree() {
        let failer = TreeFailer::default();
        assert_eq!(failer.fail(&TupleIds::One((7, 1))), 0);
        let (tx0, rx0) = crate::transport::queue::<AckerMsg>(4);
        let (tx1, rx1) = crate::transport::queue::<AckerMsg>(4);
        failer.attach(vec![
            TaskSender::local(tx0, 0, 100),
            TaskSender::local(tx1, 0, 101),
        ]);
        assert_eq!(failer.fail(&TupleIds::None), 0);
        assert_eq!(failer.fail(&TupleIds::Many(vec![(4, 9), (7, 3)])), 2);
        let got = |rx: &crossbeam_channel::Receiver<crate::transport::Message<AckerMsg>>| match rx
            .try_recv()
        {
            Ok(crate::transport::Message::Batch { tuples, .. }) => tuples,
            other => panic!("no batch: {other:?}"),
        };
        // Each tree's fail goes to its acker (root modulo the ackers).
        assert_eq!(got(&rx0), [AckerMsg::Fail { root: 4 }]);
        assert_eq!(got(&rx1), [AckerMsg::Fail { root: 7 }]);
    }

    #[test]
    fn a_tuple_above_the_limit_is_reported_not_dropped_silently() {
        let tuples = vec!["a".to_string(), "x".repeat(5000), "b".to_string()];
        let ids: Vec<TupleIds> = (0..3).map(|_| TupleIds::default()).collect();
        let frames = split_into_frames(&tuples, &ids, 1000);
        let over: Vec<Option<Oversized>> = frames.iter().map(|f| f.1).collect();
        assert_eq!(over.len(), 3);
        assert!(over[1].is_some_and(|o| o.index == 1 && o.size > 5000));
        assert_eq!(decode_batch::<String>(&frames[0].0).unwrap().0, ["a"]);
        assert_eq!(decode_batch::<String>(&frames[2].0).unwrap().0, ["b"]);
        // Small batches stay one frame.
        assert_eq!(split_into_frames(&tuples[..1], &ids[..1], 1000).len(), 1);
    }
}
