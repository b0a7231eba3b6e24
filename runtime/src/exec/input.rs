//! The input of a bolt executor: one bounded queue per input channel, read in turn, any
//! of which can be blocked while the others are read.
//!
//! # Why a queue per channel
//!
//! Checkpoint barriers (issue 12) are aligned per channel: once a channel's barrier has
//! arrived, the task stops reading that channel and goes on with the others until each
//! has delivered its barrier. Stopping one channel must not buffer without bound, and it
//! must slow down only that channel's producer. Three designs were weighed:
//!
//! - *Credit per channel over one merged queue* (Flink's input gates): every producer
//!   takes a credit per batch from a per-channel counter, and the receiver parks the
//!   messages of a blocked channel aside. It needs a shared counter (an atomic and a
//!   wake-up) per batch besides the queue, and its own wait for credit.
//! - *Merged queue, held messages set aside*: unbounded, since nothing stops the blocked
//!   producer: ruled out.
//! - *A bounded queue per channel* (chosen): the queue *is* the credit. A producer sends
//!   into its channel's own bounded queue exactly as it sent into the merged one (one
//!   `try_send`, the same cost: no allocation, lock or syscall added, the channel tag is
//!   one [`Upstream`] per batch); a blocked channel is simply not read, so it fills to its
//!   capacity and then its producer, and only it, waits. On unblock its messages are read
//!   in the order they were sent: nothing was ever moved. The receiver reads the
//!   unblocked channels round robin with `try_recv`, and when all are empty it waits on a
//!   `crossbeam_channel::Select` over them (only when idle: the executor has flushed
//!   anyway).
//!
//! Between workers each input channel is its own data-plane channel with its own credit
//! ([`crate::transport::remote::input_channel_id`] names source and destination): when a
//! blocked channel's local queue is full, the data plane's forwarder for that channel
//! waits, withholds that channel's credits, and the remote producer of that channel waits;
//! the other channels on the same connection go on.
//!
//! Memory: an executor's `queue_capacity` batches are shared out evenly among its
//! channels' queues, at least two each (`placement::channel_capacity`, as Flink gives each
//! channel of an input gate its own buffers), so an executor holds about as much as its
//! one merged queue did, blocked or not: at most max(`queue_capacity`, 2 × its channels)
//! batches, plus, per remote channel, the data plane's credit.
//!
//! # When a blocked channel is read after all
//!
//! An executor runs several tasks on one thread. If a producer executor's task A has
//! passed a barrier and fills its channel to a consumer that has blocked that channel,
//! the producer's thread waits there, and its other task B, whose barrier the consumer is
//! waiting for, never gets to send it: a deadlock Flink does not have (a subtask is a
//! thread). So when a task had nothing to read for a whole wait while one of its blocked
//! channels is full, that channel's messages are moved aside, in order, and read first
//! once it is unblocked. What is held is bounded by what the producer sends on that channel before
//! its other tasks' barriers come; with one task per executor nothing is ever held.
//!
//! The per-channel state the executor keeps beside the queues (ends, watermarks, idle,
//! blocked) is in [`super::channels`].

use super::channels::Channels;
use crate::transport::{Message, Upstream};
use crossbeam_channel::{Receiver, RecvTimeoutError, Select, TryRecvError};
use std::collections::VecDeque;
use std::time::Duration;

/// One input channel of an executor as it is built: the receiving task's slot, the
/// producer, and the channel's queue.
pub(crate) type ChannelQueue<T> = (u32, Upstream, Receiver<Message<T>>);

/// Why [`Input::next`] returned no message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum InputError {
    /// Every channel's producers are gone and its queue is drained.
    #[error("every input channel is closed")]
    Closed,
    /// Every channel still open is blocked: nothing can arrive until one is unblocked
    /// (a bug in the caller, which would wait forever).
    #[error("every open input channel is blocked")]
    AllBlocked,
    /// The timeout passed with nothing to read.
    #[error("no input within the timeout")]
    Timeout,
}

/// An executor's input channels: their queues and their state.
#[derive(Debug)]
pub(crate) struct Input<T> {
    queues: Vec<Receiver<Message<T>>>,
    /// Per channel: its producers are gone and its queue is drained.
    closed: Vec<bool>,
    /// Channels closed since [`Input::take_closed`] last looked.
    closed_now: Vec<usize>,
    /// The channel read first next time (round robin).
    cursor: usize,
    /// Channels not closed.
    open: usize,
    state: Channels,
    /// Per channel, messages moved aside from its queue while it was blocked and full
    /// (read first once it is unblocked).
    held: Vec<VecDeque<Message<T>>>,
    /// Messages held, in all.
    held_total: usize,
}

impl<T> Input<T> {
    /// The input of an executor running `slots` tasks, with `channels` numbered in order.
    pub(crate) fn new(channels: Vec<ChannelQueue<T>>, slots: usize) -> Self {
        let state = Channels::new(channels.iter().map(|(s, u, _)| (*s, *u)), slots);
        let queues: Vec<_> = channels.into_iter().map(|(_, _, rx)| rx).collect();
        Input {
            closed: vec![false; queues.len()],
            closed_now: Vec::new(),
            open: queues.len(),
            cursor: 0,
            held: (0..queues.len()).map(|_| VecDeque::new()).collect(),
            held_total: 0,
            queues,
            state,
        }
    }

    /// The channels' state.
    pub(crate) fn channels(&self) -> &Channels {
        &self.state
    }

    /// The channels' state, to record what arrived.
    pub(crate) fn channels_mut(&mut self) -> &mut Channels {
        &mut self.state
    }

    /// The next message of an unblocked channel, if one is waiting now, with the number
    /// of the channel it came on. Channels take turns, one message each.
    #[inline]
    pub(crate) fn try_next(&mut self) -> Option<(usize, Message<T>)> {
        let n = self.queues.len();
        let start = self.cursor;
        for i in (start..n).chain(0..start.min(n)) {
            if self.closed[i] || self.state.get(i).is_some_and(|c| c.blocked) {
                continue;
            }
            if self.held_total > 0
                && let Some(m) = self.held[i].pop_front()
            {
                self.held_total -= 1;
                self.cursor = if i + 1 == n { 0 } else { i + 1 };
                return Some((i, m));
            }
            match self.queues[i].try_recv() {
                Ok(m) => {
                    self.cursor = if i + 1 == n { 0 } else { i + 1 };
                    return Some((i, m));
                }
                Err(TryRecvError::Empty) => {}
                Err(TryRecvError::Disconnected) => {
                    self.closed[i] = true;
                    self.closed_now.push(i);
                    self.open -= 1;
                }
            }
        }
        None
    }

    /// The next message of an unblocked channel, waiting for one as long as it takes.
    pub(crate) fn next(&mut self) -> Result<(usize, Message<T>), InputError> {
        self.wait(None)
    }

    /// The next message of an unblocked channel, waiting up to `timeout`.
    pub(crate) fn next_timeout(
        &mut self,
        timeout: Duration,
    ) -> Result<(usize, Message<T>), InputError> {
        self.wait(Some(timeout))
    }

    fn wait(&mut self, timeout: Option<Duration>) -> Result<(usize, Message<T>), InputError> {
        let deadline = timeout.map(|t| std::time::Instant::now() + t);
        loop {
            if let Some(m) = self.try_next() {
                return Ok(m);
            }
            if self.open == 0 {
                return Err(InputError::Closed);
            }
            let readable =
                |i: usize| !self.closed[i] && !self.state.get(i).is_some_and(|c| c.blocked);
            let mut selectable = (0..self.queues.len()).filter(|&i| readable(i));
            let Some(first) = selectable.next() else {
                return Err(InputError::AllBlocked);
            };
            if selectable.next().is_none() {
                // One channel to wait on (the common case): a plain receive, no `Select`.
                let rx = &self.queues[first];
                let got = match deadline {
                    None => rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
                    Some(d) => rx.recv_deadline(d),
                };
                match got {
                    Ok(m) => return Ok((first, m)),
                    Err(RecvTimeoutError::Timeout) => return Err(InputError::Timeout),
                    Err(RecvTimeoutError::Disconnected) => {
                        self.closed[first] = true;
                        self.closed_now.push(first);
                        self.open -= 1;
                        continue;
                    }
                }
            }
            let mut select = Select::new();
            for (i, rx) in self.queues.iter().enumerate() {
                if readable(i) {
                    select.recv(rx);
                }
            }
            // Ready: a message or a disconnection, which `try_next` then takes.
            match deadline {
                None => {
                    select.ready();
                }
                Some(d) => {
                    if select.ready_deadline(d).is_err() {
                        return Err(InputError::Timeout);
                    }
                }
            }
        }
    }

    /// Moves aside the messages of every blocked channel whose queue is full (see the
    /// module docs): its producer can go on to its other tasks. The executor calls it when
    /// a wait for input timed out (a stall), never in the normal flow, where a blocked
    /// channel holds its producer at the queue's capacity.
    pub(crate) fn hold_full_blocked(&mut self) {
        for i in 0..self.queues.len() {
            let blocked = self.state.get(i).is_some_and(|c| c.blocked);
            if !blocked || self.closed[i] || !self.queues[i].is_full() {
                continue;
            }
            while let Ok(m) = self.queues[i].try_recv() {
                self.held[i].push_back(m);
                self.held_total += 1;
            }
        }
    }

    /// The channels whose producers went away (without an end of stream, or after it)
    /// since the last call.
    pub(crate) fn take_closed(&mut self) -> Vec<usize> {
        std::mem::take(&mut self.closed_now)
    }

    /// Stops reading channel `ch`: its messages stay in its queue, in order, and once
    /// the queue is full its producer waits. False if there is no such channel.
    pub(crate) fn block(&mut self, ch: usize) -> bool {
        self.state.set_blocked(ch, true)
    }

    /// Reads channel `ch` again, from the first message it held. False if there is no
    /// such channel.
    pub(crate) fn unblock(&mut self, ch: usize) -> bool {
        self.state.set_blocked(ch, false)
    }

    /// Messages waiting in every channel's queue (or held aside), blocked or not.
    pub(crate) fn queued(&self) -> usize {
        self.queues.iter().map(Receiver::len).sum::<usize>() + self.held_total
    }

    /// Messages waiting in channel `ch`'s queue.
    #[allow(
        dead_code,
        reason = "the per-channel API barrier alignment (issue 12) and idleness (issue 11.3) build on; tested here"
    )]
    pub(crate) fn queued_on(&self, ch: usize) -> usize {
        self.queues.get(ch).map_or(0, Receiver::len) + self.held.get(ch).map_or(0, VecDeque::len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::{TaskSender, queue};
    use std::collections::HashMap;
    use std::thread;
    use std::time::Instant;

    const CAPACITY: usize = 4;

    /// An input of one task (slot 0) with `n` channels, from tasks `1..=n` on edge 0, and
    /// a sender per channel.
    fn input(n: u32) -> (Input<u64>, Vec<TaskSender<u64>>) {
        let mut queues = Vec::new();
        let mut senders = Vec::new();
        for t in 1..=n {
            let from = Upstream::new(t, 0);
            let (tx, rx) = queue(CAPACITY);
            senders.push(TaskSender::local_channel(tx, 0, 100, from));
            queues.push((0, from, rx));
        }
        (Input::new(queues, 1), senders)
    }

    /// Producer `p` sends `n` batches of one tuple each, `p * 1_000_000 + i`, then its end.
    fn produce(sender: TaskSender<u64>, p: u64, n: u64) -> thread::JoinHandle<()> {
        thread::spawn(move || {
            for i in 0..n {
                sender
                    .send_batch(vec![p * 1_000_000 + i], Vec::new())
                    .expect("the receiver is there");
            }
            sender
                .send_end(sender.channel())
                .expect("the receiver is there");
        })
    }

    #[test]
    fn every_batch_arrives_once_in_channel_order_and_tagged_with_its_channel() {
        let (mut input, senders) = input(3);
        let n = 500;
        let producers: Vec<_> = senders
            .into_iter()
            .enumerate()
            .map(|(p, s)| produce(s, p as u64 + 1, n))
            .collect();
        let mut got: HashMap<usize, Vec<u64>> = HashMap::new();
        let mut complete = false;
        while !complete {
            let (ch, msg) = input.next().expect("a message");
            match msg {
                Message::Batch { from, tuples, .. } => {
                    assert_eq!(Some(from), input.channels().get(ch).map(|c| c.upstream));
                    got.entry(ch).or_default().extend(tuples);
                }
                Message::End { from, .. } => {
                    complete = matches!(
                        input.channels_mut().end(ch, from),
                        super::super::channels::EndOutcome::Completed { .. }
                    );
                }
                Message::Control { .. } => panic!("no control message was sent"),
            }
        }
        for p in producers {
            p.join().expect("producer");
        }
        for ch in 0..3 {
            let p = ch as u64 + 1;
            let expected: Vec<u64> = (0..n).map(|i| p * 1_000_000 + i).collect();
            assert_eq!(got[&ch], expected, "channel {ch}");
        }
        // Everyone is gone now.
        assert_eq!(input.next().map(|_| ()), Err(InputError::Closed));
    }

    #[test]
    fn a_blocked_channel_holds_its_producer_at_the_capacity_and_the_others_go_on() {
        let (mut input, senders) = input(2);
        assert!(input.block(0));
        assert!(!input.block(7));
        let n = 200;
        let mut it = senders.into_iter();
        let blocked = it.next().expect("sender 0");
        let free = it.next().expect("sender 1");
        let sent = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let counter = sent.clone();
        let held = thread::spawn(move || {
            for i in 0..n {
                blocked
                    .send_batch(vec![1_000_000 + i], Vec::new())
                    .expect("the receiver is there");
                counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
        });
        let other = produce(free, 2, n);
        // The free channel is read to its end while the blocked one is not read at all.
        let mut free_got = Vec::new();
        loop {
            match input.next_timeout(Duration::from_secs(10)) {
                Ok((ch, Message::Batch { tuples, .. })) => {
                    assert_eq!(ch, 1, "a message of the blocked channel was delivered");
                    free_got.extend(tuples);
                }
                Ok((1, Message::End { .. })) => break,
                other => panic!("unexpected {other:?}"),
            }
        }
        other.join().expect("free producer");
        assert_eq!(free_got, (0..n).map(|i| 2_000_000 + i).collect::<Vec<_>>());
        // Backpressure: the blocked producer got exactly the queue's capacity out, and
        // waits. Memory stays bounded by the capacity.
        let start = Instant::now();
        while sent.load(std::sync::atomic::Ordering::SeqCst) < CAPACITY as u64
            && start.elapsed() < Duration::from_secs(10)
        {
            thread::sleep(Duration::from_millis(1));
        }
        thread::sleep(Duration::from_millis(50));
        assert_eq!(
            sent.load(std::sync::atomic::Ordering::SeqCst),
            CAPACITY as u64
        );
        assert_eq!(input.queued_on(0), CAPACITY);
        assert!(!held.is_finished());
        // Nothing else to read (the free channel's producer is gone): waiting reports that
        // only blocked channels are left, it never hands out a blocked channel's message.
        assert_eq!(
            input.next_timeout(Duration::from_millis(20)).map(|_| ()),
            Err(InputError::AllBlocked)
        );
        // Unblocked: everything the producer sent arrives, in order, once.
        assert!(input.unblock(0));
        let mut held_got = Vec::new();
        while held_got.len() < n as usize {
            match input.next_timeout(Duration::from_secs(10)) {
                Ok((0, Message::Batch { tuples, .. })) => held_got.extend(tuples),
                other => panic!("unexpected {other:?}"),
            }
        }
        held.join().expect("held producer");
        assert_eq!(held_got, (0..n).map(|i| 1_000_000 + i).collect::<Vec<_>>());
    }

    #[test]
    fn blocking_every_open_channel_is_reported_not_a_hang() {
        let (mut input, _senders) = input(2);
        input.block(0);
        input.block(1);
        assert_eq!(input.next().map(|_| ()), Err(InputError::AllBlocked));
        input.unblock(1);
        assert_eq!(
            input.next_timeout(Duration::from_millis(5)).map(|_| ()),
            Err(InputError::Timeout)
        );
    }

    /// Across two workers' data plane over TCP on 127.0.0.1: worker 0 runs producers
    /// (tasks 1 and 2 on edge 0), worker 1 runs task 4, whose input has their two
    /// channels. Blocking one channel at the receiver backpressures its remote producer
    /// alone (it gets at most its local queue plus the data plane's credit out), the other
    /// channel is read to its end meanwhile, and on unblock the held batches arrive in
    /// order, with a watermark in between in its place.
    #[test]
    fn across_workers_a_blocked_channel_backpressures_only_its_remote_producer() {
        use crate::transport::Control;
        use crate::transport::net::{DEFAULT_CREDIT, DataPlane, Inbound, NetConfig};
        use crate::transport::remote::{LateInbound, NetSender, TaskInbound, input_channel_id};
        use std::net::SocketAddr;
        use std::sync::Arc;
        use std::sync::atomic::{AtomicU64, Ordering::SeqCst};

        const LONG: Duration = Duration::from_secs(20);
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a tokio runtime");
        let task = 4;
        let producers = [Upstream::new(1, 0), Upstream::new(2, 0)];
        // Worker 1: a local queue per channel behind each data-plane channel.
        let mut queues = Vec::new();
        let mut inbound: HashMap<u128, Arc<dyn Inbound>> = HashMap::new();
        for &from in &producers {
            let (tx, rx) = queue::<u64>(CAPACITY);
            let late = Arc::new(LateInbound::default());
            late.set(Arc::new(TaskInbound::new(TaskSender::local_channel(
                tx, 0, task, from,
            ))));
            inbound.insert(input_channel_id(from, task), late);
            queues.push((0, from, rx));
        }
        let mut input = Input::new(queues, 1);
        let any = SocketAddr::from(([127, 0, 0, 1], 0));
        let cfg1 = NetConfig::new(
            "t",
            1,
            any,
            [(0, SocketAddr::from(([127, 0, 0, 1], 9)))].into(),
        );
        let one = DataPlane::start(cfg1, inbound, rt.handle()).expect("worker 1");
        let cfg0 = NetConfig::new("t", 0, any, [(1, one.local_addr())].into());
        let zero = DataPlane::start(cfg0, HashMap::new(), rt.handle()).expect("worker 0");
        assert!(zero.wait_connected(LONG) && one.wait_connected(LONG));
        let sender = |from: Upstream| {
            let out = zero.outbound(1, input_channel_id(from, task));
            NetSender::task_sender::<u64>(out, task, from, Arc::default())
        };
        let (held_tx, free_tx) = (sender(producers[0]), sender(producers[1]));

        assert!(input.block(0));
        let n = 300u64;
        let sent = Arc::new(AtomicU64::new(0));
        let counter = sent.clone();
        let held = thread::spawn(move || {
            for i in 0..n {
                held_tx
                    .send_batch(vec![1_000_000 + i], Vec::new())
                    .expect("sent");
                counter.fetch_add(1, SeqCst);
                if i == n / 2 {
                    held_tx.send_control(Control::Watermark(42)).expect("sent");
                }
            }
            held_tx.send_end(held_tx.channel()).expect("sent");
        });
        let free = produce(free_tx, 2, n);
        let mut free_got = Vec::new();
        loop {
            match input.next_timeout(LONG) {
                Ok((1, Message::Batch { tuples, .. })) => free_got.extend(tuples),
                Ok((1, Message::End { from, .. })) => {
                    input.channels_mut().end(1, from);
                    break;
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        free.join().expect("free producer");
        assert_eq!(free_got, (0..n).map(|i| 2_000_000 + i).collect::<Vec<_>>());
        // The blocked channel's producer is held: its count stops growing, below the
        // local queue plus the channel's credit plus the frame its forwarder holds.
        let bound = CAPACITY as u64 + u64::from(DEFAULT_CREDIT) + 1;
        let mut last = u64::MAX;
        let start = Instant::now();
        while sent.load(SeqCst) != last && start.elapsed() < LONG {
            last = sent.load(SeqCst);
            thread::sleep(Duration::from_millis(100));
        }
        let out = sent.load(SeqCst);
        assert!(
            out >= CAPACITY as u64 && out <= bound,
            "{out} batches out (bound {bound})"
        );
        assert!(!held.is_finished());
        assert_eq!(input.queued_on(0), CAPACITY);
        // Unblocked: every batch once, in order, the watermark in its place, then the end.
        assert!(input.unblock(0));
        let mut held_got = Vec::new();
        let mut watermark_after = None;
        loop {
            match input.next_timeout(LONG) {
                Ok((0, Message::Batch { tuples, .. })) => held_got.extend(tuples),
                Ok((0, Message::Control { from, control, .. })) => {
                    assert_eq!((from, control), (producers[0], Control::Watermark(42)));
                    // Channel 1 has ended: channel 0 alone sets the task's watermark.
                    assert_eq!(input.channels_mut().watermark(0, from, 42), Some(42));
                    watermark_after = Some(held_got.len());
                }
                Ok((0, Message::End { from, .. })) => {
                    assert_eq!(from, producers[0]);
                    break;
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        held.join().expect("held producer");
        assert_eq!(held_got, (0..n).map(|i| 1_000_000 + i).collect::<Vec<_>>());
        assert_eq!(watermark_after, Some(n as usize / 2 + 1));
        assert_eq!(input.channels().get(0).map(|c| c.watermark), Some(42));
        zero.shutdown(LONG);
        one.shutdown(LONG);
    }
}
