//! Barrier alignment for one task, pure: which of its input channels to stop reading, and
//! when its state is to be snapshotted.
//!
//! The rules (Flink's aligned checkpoints, `CheckpointBarrierHandler`):
//! - The first barrier of a checkpoint starts its alignment. A channel whose barrier has
//!   come is blocked (not read) until every channel still open has delivered it; then the
//!   task is to snapshot its state ([`Align::Snapshot`]) and forward the barrier, and every
//!   channel is read again. A task with one open channel snapshots at once.
//! - An ended channel is aligned (it will send no more), so an End can complete an
//!   alignment.
//! - A barrier of a newer checkpoint while one is aligning aborts the older (its data is
//!   behind the newer barrier anyway: Flink declines it) and starts the newer.
//! - A barrier of a checkpoint already done or aborted, or older than the one aligning, is
//!   ignored: it never blocks a channel.

use super::coordinator::CheckpointKind;

/// What the task does next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Align {
    /// Stop reading channel `ch` (its barrier came; others have not).
    Block(usize),
    /// Every open channel delivered barrier `id`: snapshot, forward the barrier, then read
    /// `unblock` again.
    Snapshot {
        /// The checkpoint.
        id: u64,
        /// Periodic or a savepoint.
        kind: CheckpointKind,
        /// How long the alignment took, ms.
        alignment_ms: u64,
        /// The channels to read again.
        unblock: Vec<usize>,
    },
    /// Checkpoint `id` is abandoned (a newer barrier came first): decline it and read
    /// `unblock` again.
    Abort {
        /// The checkpoint.
        id: u64,
        /// The channels to read again.
        unblock: Vec<usize>,
    },
}

#[derive(Debug, Clone)]
struct Aligning {
    id: u64,
    kind: CheckpointKind,
    started_ms: u64,
    arrived: Vec<bool>,
}

/// The alignment state of a task with `channels` input channels (numbered from 0).
#[derive(Debug, Clone)]
pub struct Aligner {
    ended: Vec<bool>,
    current: Option<Aligning>,
    /// The newest checkpoint snapshotted or abandoned.
    last: u64,
}

impl Aligner {
    /// A task reading `channels` channels, none ended; checkpoints up to `last` are done.
    pub fn new(channels: usize, last: u64) -> Self {
        Aligner {
            ended: vec![false; channels],
            current: None,
            last,
        }
    }

    /// A task whose channels are `members` of an executor's `channels` (the others belong
    /// to its other tasks and never hold this one's alignment).
    pub fn for_channels(
        channels: usize,
        members: impl IntoIterator<Item = usize>,
        last: u64,
    ) -> Self {
        let mut a = Aligner::new(channels, last);
        a.ended = vec![true; channels];
        for m in members {
            if let Some(e) = a.ended.get_mut(m) {
                *e = false;
            }
        }
        a
    }

    /// The checkpoint being aligned, if any.
    pub fn aligning(&self) -> Option<u64> {
        self.current.as_ref().map(|a| a.id)
    }

    /// Channel `ch` delivered the barrier of checkpoint `id` at `now_ms`.
    pub fn barrier(&mut self, ch: usize, id: u64, kind: CheckpointKind, now_ms: u64) -> Vec<Align> {
        let mut out = Vec::new();
        if ch >= self.ended.len() || id <= self.last || self.ended[ch] {
            return out;
        }
        match &self.current {
            Some(a) if id < a.id => return out,
            Some(a) if id > a.id => {
                let old = a.id;
                self.last = old;
                let unblock = self.blocked();
                self.current = None;
                out.push(Align::Abort { id: old, unblock });
            }
            _ => {}
        }
        let channels = self.ended.len();
        let a = self.current.get_or_insert_with(|| Aligning {
            id,
            kind,
            started_ms: now_ms,
            arrived: vec![false; channels],
        });
        a.arrived[ch] = true;
        match self.done(now_ms) {
            Some(snapshot) => out.push(snapshot),
            None => out.push(Align::Block(ch)),
        }
        out
    }

    /// Channel `ch` ended at `now_ms`: it no longer holds an alignment back.
    pub fn end(&mut self, ch: usize, now_ms: u64) -> Vec<Align> {
        if let Some(e) = self.ended.get_mut(ch) {
            *e = true;
        }
        self.done(now_ms).into_iter().collect()
    }

    fn blocked(&self) -> Vec<usize> {
        self.current.as_ref().map_or_else(Vec::new, |a| {
            (0..a.arrived.len())
                .filter(|&c| a.arrived[c] && !self.ended[c])
                .collect()
        })
    }

    /// The snapshot, if every open channel has delivered the current barrier.
    fn done(&mut self, now_ms: u64) -> Option<Align> {
        let a = self.current.as_ref()?;
        let complete = (0..self.ended.len()).all(|c| a.arrived[c] || self.ended[c]);
        if !complete {
            return None;
        }
        let unblock = self.blocked();
        let a = self.current.take()?;
        self.last = a.id;
        Some(Align::Snapshot {
            id: a.id,
            kind: a.kind,
            alignment_ms: now_ms.saturating_sub(a.started_ms),
            unblock,
        })
    }
}
