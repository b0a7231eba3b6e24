//! Per-channel input state of one executor: which channel has ended, each channel's
//! watermark and idleness, which channels are blocked. Pure: no queue, thread or clock;
//! the executor loop feeds it what arrives and asks it what follows.
//!
//! An executor runs one or more tasks (by *slot*); each task's input is a set of channels,
//! one per [`Upstream`] (producing task × edge). The channels of all the executor's tasks
//! are numbered `0..n` in the order given to [`Channels::new`], the same numbering as the
//! executor's queues (see [`super::input`]).
//!
//! - **End of stream** is recorded per channel, never counted: a task's input is complete
//!   once each of its channels has ended. An end on a channel that already ended, or an
//!   end that names another producer than the channel's own (the data plane passes on the
//!   producers an end frame lists), changes nothing: neither can end a task early, and
//!   neither is lost (the channel's own end still completes it).
//! - **Watermarks** are per channel, in epoch milliseconds, [`i64::MIN`] until the first;
//!   a channel's watermark never goes back (an older one is ignored). A task's watermark is
//!   the minimum over its channels that are neither ended nor idle; an ended channel no
//!   longer holds it back, and once every channel has ended it is [`i64::MAX`].
//! - **Idle** channels (marked by whoever watches the idleness timeout, issue 11 item 3)
//!   are left out of the minimum until they send again.
//! - **Blocked** records which channels the executor stopped reading (barrier alignment,
//!   issue 12); the queues themselves are held back by [`super::input::Input`].

use crate::transport::Upstream;

/// One input channel's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ChannelState {
    /// The receiving task's slot in its executor.
    pub(crate) slot: u32,
    /// The producer: an upstream task on one edge.
    pub(crate) upstream: Upstream,
    /// Its end of stream has arrived.
    pub(crate) ended: bool,
    /// The highest watermark received (epoch ms), [`i64::MIN`] until the first.
    pub(crate) watermark: i64,
    /// Left out of its task's watermark until it sends again.
    pub(crate) idle: bool,
    /// Not read until unblocked.
    pub(crate) blocked: bool,
}

/// What an end of stream did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EndOutcome {
    /// The channel has ended; its task still has channels open.
    Ended,
    /// The channel has ended and it was its task's last: the task's input is complete.
    /// Returned once per task.
    Completed {
        /// The task's slot.
        slot: u32,
    },
    /// The channel had already ended: nothing changed.
    Repeated,
    /// The end names another producer than the channel's, or no channel has this
    /// number: nothing changed.
    Foreign,
}

/// The channels of one executor's tasks.
#[derive(Debug, Clone)]
pub(crate) struct Channels {
    states: Vec<ChannelState>,
    /// Per slot, its channels that have not ended.
    open: Vec<u32>,
}

impl Channels {
    /// Channels numbered in the order of `channels` (slot, producer); `slots` tasks (a
    /// slot without channels has a complete input from the start).
    pub(crate) fn new(channels: impl IntoIterator<Item = (u32, Upstream)>, slots: usize) -> Self {
        let mut open = vec![0u32; slots];
        let states = channels
            .into_iter()
            .map(|(slot, upstream)| {
                if let Some(n) = open.get_mut(slot as usize) {
                    *n += 1;
                }
                ChannelState {
                    slot,
                    upstream,
                    ended: false,
                    watermark: i64::MIN,
                    idle: false,
                    blocked: false,
                }
            })
            .collect();
        Channels { states, open }
    }

    /// How many channels.
    pub(crate) fn len(&self) -> usize {
        self.states.len()
    }

    /// Channel `ch`'s state.
    pub(crate) fn get(&self, ch: usize) -> Option<&ChannelState> {
        self.states.get(ch)
    }

    /// True when every channel of task `slot` has ended.
    pub(crate) fn is_complete(&self, slot: u32) -> bool {
        self.open.get(slot as usize).is_none_or(|&n| n == 0)
    }

    /// An end of `from`'s stream arrived on channel `ch`.
    pub(crate) fn end(&mut self, ch: usize, from: Upstream) -> EndOutcome {
        let Some(c) = self.states.get_mut(ch) else {
            return EndOutcome::Foreign;
        };
        if c.upstream != from {
            return EndOutcome::Foreign;
        }
        if c.ended {
            return EndOutcome::Repeated;
        }
        c.ended = true;
        let slot = c.slot;
        match self.open.get_mut(slot as usize) {
            Some(n) => {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    EndOutcome::Completed { slot }
                } else {
                    EndOutcome::Ended
                }
            }
            None => EndOutcome::Ended,
        }
    }

    /// A watermark `ts` arrived on channel `ch` (from `from`): the channel is no longer
    /// idle, and its watermark moves up to `ts` (never down). Returns the task's new
    /// watermark when it advanced.
    pub(crate) fn watermark(&mut self, ch: usize, from: Upstream, ts: i64) -> Option<i64> {
        let c = self.states.get_mut(ch).filter(|c| c.upstream == from)?;
        let slot = c.slot;
        let before = self.task_watermark(slot);
        let c = &mut self.states[ch];
        c.idle = false;
        c.watermark = c.watermark.max(ts);
        let after = self.task_watermark(slot);
        (after > before).then_some(after)
    }

    /// Marks channel `ch` idle (or active again); returns the task's new watermark when it
    /// advanced.
    pub(crate) fn set_idle(&mut self, ch: usize, idle: bool) -> Option<i64> {
        let slot = self.states.get(ch)?.slot;
        let before = self.task_watermark(slot);
        self.states[ch].idle = idle;
        let after = self.task_watermark(slot);
        (after > before).then_some(after)
    }

    /// Task `slot`'s watermark: the minimum over its channels that are neither ended nor
    /// idle; [`i64::MAX`] once all have ended; [`i64::MIN`] while every open channel is
    /// idle (an all-idle task has no watermark to give) or before any arrived.
    pub(crate) fn task_watermark(&self, slot: u32) -> i64 {
        let mut min = None::<i64>;
        let mut open = false;
        for c in self.states.iter().filter(|c| c.slot == slot && !c.ended) {
            open = true;
            if !c.idle {
                min = Some(min.map_or(c.watermark, |m| m.min(c.watermark)));
            }
        }
        match (open, min) {
            (false, _) => i64::MAX,
            (true, Some(m)) => m,
            (true, None) => i64::MIN,
        }
    }

    /// Records that channel `ch` is blocked (or not); false if there is no such channel.
    pub(crate) fn set_blocked(&mut self, ch: usize, blocked: bool) -> bool {
        match self.states.get_mut(ch) {
            Some(c) => {
                c.blocked = blocked;
                true
            }
            None => false,
        }
    }

    /// The channels of task `slot` that are blocked.
    #[allow(
        dead_code,
        reason = "the per-channel API barrier alignment (issue 12) and idleness (issue 11.3) build on; tested here"
    )]
    pub(crate) fn blocked(&self, slot: u32) -> impl Iterator<Item = usize> + '_ {
        self.states
            .iter()
            .enumerate()
            .filter(move |(_, c)| c.slot == slot && c.blocked)
            .map(|(i, _)| i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u(task: u32, edge: u32) -> Upstream {
        Upstream::new(task, edge)
    }

    /// Slot 0 fed by tasks 1 and 2 on edge 0 and task 1 on edge 3; slot 1 by task 1.
    fn channels() -> Channels {
        Channels::new([(0, u(1, 0)), (0, u(2, 0)), (0, u(1, 3)), (1, u(1, 0))], 2)
    }

    #[test]
    fn a_task_completes_once_each_of_its_channels_ended_whatever_the_repeats() {
        let mut ch = channels();
        assert_eq!(ch.len(), 4);
        assert_eq!(ch.end(0, u(1, 0)), EndOutcome::Ended);
        // A repeat, an end naming another producer, and a channel that does not exist.
        assert_eq!(ch.end(0, u(1, 0)), EndOutcome::Repeated);
        assert_eq!(ch.end(1, u(1, 0)), EndOutcome::Foreign);
        assert_eq!(ch.end(1, u(9, 0)), EndOutcome::Foreign);
        assert_eq!(ch.end(17, u(2, 0)), EndOutcome::Foreign);
        assert!(!ch.is_complete(0));
        assert_eq!(ch.end(1, u(2, 0)), EndOutcome::Ended);
        assert!(!ch.is_complete(0));
        assert_eq!(ch.end(2, u(1, 3)), EndOutcome::Completed { slot: 0 });
        assert!(ch.is_complete(0));
        // Once only; the other task is untouched.
        assert_eq!(ch.end(2, u(1, 3)), EndOutcome::Repeated);
        assert!(!ch.is_complete(1));
        assert_eq!(ch.end(3, u(1, 0)), EndOutcome::Completed { slot: 1 });
        assert!(ch.get(3).is_some_and(|c| c.ended));
    }

    #[test]
    fn a_slot_without_channels_is_complete_from_the_start() {
        let ch = Channels::new([(1, u(1, 0))], 2);
        assert!(ch.is_complete(0));
        assert!(!ch.is_complete(1));
    }

    #[test]
    fn the_watermark_is_the_minimum_over_open_active_channels() {
        let mut ch = channels();
        assert_eq!(ch.task_watermark(0), i64::MIN);
        // One channel alone moves nothing: the others are still at MIN.
        assert_eq!(ch.watermark(0, u(1, 0), 100), None);
        assert_eq!(ch.watermark(1, u(2, 0), 50), None);
        assert_eq!(ch.watermark(2, u(1, 3), 70), Some(50));
        assert_eq!(ch.task_watermark(0), 50);
        // Never backwards; another producer's watermark on a channel is ignored.
        assert_eq!(ch.watermark(1, u(2, 0), 10), None);
        assert_eq!(ch.watermark(1, u(9, 0), 1000), None);
        assert_eq!(ch.get(1).map(|c| c.watermark), Some(50));
        // An idle channel stops holding the task back, until it sends again.
        assert_eq!(ch.set_idle(1, true), Some(70));
        assert_eq!(ch.watermark(1, u(2, 0), 60), None);
        assert_eq!(ch.task_watermark(0), 60);
        // An ended channel no longer counts; all ended: MAX.
        assert_eq!(ch.end(1, u(2, 0)), EndOutcome::Ended);
        assert_eq!(ch.task_watermark(0), 70);
        ch.end(0, u(1, 0));
        ch.end(2, u(1, 3));
        assert_eq!(ch.task_watermark(0), i64::MAX);
        // Slot 1 is separate.
        assert_eq!(ch.task_watermark(1), i64::MIN);
        // Every open channel idle: no watermark to give.
        ch.watermark(3, u(1, 0), 5);
        ch.set_idle(3, true);
        assert_eq!(ch.task_watermark(1), i64::MIN);
    }

    #[test]
    fn blocked_channels_are_listed_per_task() {
        let mut ch = channels();
        assert!(ch.set_blocked(2, true));
        assert!(ch.set_blocked(3, true));
        assert!(!ch.set_blocked(9, true));
        assert_eq!(ch.blocked(0).collect::<Vec<_>>(), [2]);
        assert_eq!(ch.blocked(1).collect::<Vec<_>>(), [3]);
        ch.set_blocked(2, false);
        assert_eq!(ch.blocked(0).count(), 0);
    }
}
