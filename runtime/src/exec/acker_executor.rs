//! The executor of one acker task: applies acker messages to its [`AckerState`] and tells
//! spout tasks when their trees complete or fail.

use super::ends::{EndSet, acker_upstreams};
use super::wiring::Wiring;
use crate::ack::{AckerMsg, AckerState, Reply};
use crate::api::TaskId;
use crate::grouping::FastMap;
use crate::topology::Kind;
use crate::transport::{Message, TaskSender};
use crossbeam_channel::{Receiver, RecvTimeoutError, TryRecvError};
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

/// How often an idle acker wakes up to expire old trees.
const TICK: Duration = Duration::from_millis(10);

/// The replies waiting for each spout task.
struct Replies {
    to: FastMap<TaskId, (TaskSender<Reply>, Vec<Reply>)>,
    batch: usize,
}

impl Replies {
    fn new(base: &Wiring) -> Self {
        let mut to = FastMap::default();
        for (c, desc) in base.desc.components.iter().enumerate() {
            if desc.kind == Kind::Spout {
                for s in base.senders::<Reply>(c) {
                    to.insert(s.task(), (s, Vec::new()));
                }
            }
        }
        Replies {
            to,
            batch: base.batch_size(),
        }
    }

    fn push(&mut self, task: TaskId, reply: Reply) {
        let Some((sender, buf)) = self.to.get_mut(&task) else {
            tracing::error!(
                from_task = task,
                "acker got a tree from task {task}, which is not a spout task"
            );
            return;
        };
        buf.push(reply);
        if buf.len() >= self.batch {
            // A spout that has finished needs no more replies.
            let _ = sender.send_batch(std::mem::take(buf), Vec::new());
        }
    }

    fn flush(&mut self) {
        for (sender, buf) in self.to.values_mut() {
            if !buf.is_empty() {
                let _ = sender.send_batch(std::mem::take(buf), Vec::new());
            }
        }
    }
}

/// Runs acker task `index` until every task of the topology has finished.
pub(crate) fn run(base: &Wiring, index: u32, rx: Receiver<Message<AckerMsg>>) {
    let desc = base.desc;
    let clock = base.clock().clone();
    // Spouts time their trees out (and tell the acker to forget them) after one to one and
    // a half timeouts; the acker's own expiry, for trees whose spout is gone, comes later.
    let mut state = AckerState::new(desc.settings.message_timeout_ms.saturating_mul(2000));
    let mut replies = Replies::new(base);
    let mut ends = EndSet::new(&acker_upstreams(desc));
    let mut reported_pending = 0u64;
    let progress = base.metrics.executor_progress(desc.chains.len(), index);
    while !ends.is_complete() {
        let msg = match rx.try_recv() {
            Ok(m) => Some(m),
            Err(TryRecvError::Empty) => {
                replies.flush();
                let p = state.pending() as u64;
                if p != reported_pending {
                    base.metrics.ackers.pending.fetch_add(p, Relaxed);
                    base.metrics
                        .ackers
                        .pending
                        .fetch_sub(reported_pending, Relaxed);
                    reported_pending = p;
                }
                progress.waiting();
                match rx.recv_timeout(TICK) {
                    Ok(m) => Some(m),
                    Err(RecvTimeoutError::Timeout) => None,
                    Err(RecvTimeoutError::Disconnected) => break,
                }
            }
            Err(TryRecvError::Disconnected) => break,
        };
        if msg.is_some() {
            progress.took(rx.len() as u64 + 1);
        }
        let now = clock.now_us();
        match msg {
            Some(Message::Batch { tuples, .. }) => {
                for m in tuples {
                    if let Some((task, reply)) = state.handle(m, now) {
                        replies.push(task, reply);
                    }
                }
                // Now, not when the inbox runs dry: a busy acker must not starve a spout
                // that waits at its `max_spout_pending` for these replies.
                replies.flush();
            }
            Some(Message::End { from, .. }) => {
                ends.record(from);
            }
            // Nothing sends an acker control messages.
            Some(Message::Control { .. }) | None => {}
        }
        state.sweep(now);
    }
    replies.flush();
    // Done: a finished executor is not hung.
    progress.waiting();
    let m = &base.metrics.ackers;
    m.pending.fetch_sub(reported_pending, Relaxed);
    m.pending_at_end.fetch_add(state.pending() as u64, Relaxed);
    m.expired.fetch_add(state.expired(), Relaxed);
}
