//! The receive side of credit-based flow control on one link, across its connections.
//!
//! Each frame a peer sends on a channel takes a credit that this worker granted; it gives
//! the credit back once its receiver has consumed the frame. A channel's frames may still
//! wait in the forwarder of an older connection when a newer connection takes over (the
//! receiver is slow, and the peer reconnected). So the credit is accounted per link, not
//! per connection: a new connection is granted, per channel, the credit less the frames of
//! that channel still held from older connections, and every consumed frame gives its
//! credit back on the link's *current* connection. However often the peer reconnects,
//! this worker holds at most `credit` frames per channel and link.
//!
//! A frame that arrives on a connection after a newer one has taken over is dropped (the
//! peer has already given up on that connection: what it sent there is lost, as on a
//! broken connection, and acking replays it).

use std::collections::HashMap;
use std::sync::Mutex;

use tokio::sync::mpsc::UnboundedSender;

use super::ChannelId;
use super::conn::Out;
use super::shared::lock;

/// Frames held per channel and the connection credits go back on.
#[derive(Default)]
pub(super) struct Inflow {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// The current connection: its generation and writer queue.
    current: Option<(u64, UnboundedSender<Out>)>,
    /// Per channel, frames taken from a connection and not yet consumed.
    held: HashMap<ChannelId, u32>,
}

impl Inflow {
    /// Connection `generation` (writing to `tx`) is now the link's current one: grants it,
    /// for each of `channels`, `credit` less the frames of that channel still held.
    pub(super) fn open(
        &self,
        generation: u64,
        tx: &UnboundedSender<Out>,
        channels: impl IntoIterator<Item = ChannelId>,
        credit: u32,
    ) {
        let mut st = lock(&self.state);
        st.current = Some((generation, tx.clone()));
        for channel in channels {
            let held = st.held.get(&channel).copied().unwrap_or(0);
            let n = credit.saturating_sub(held);
            if n > 0 {
                let _ = tx.send(Out::Credit { channel, n });
            }
        }
    }

    /// Connection `generation` has ended.
    pub(super) fn close(&self, generation: u64) {
        let mut st = lock(&self.state);
        if st.current.as_ref().is_some_and(|(g, _)| *g == generation) {
            st.current = None;
        }
    }

    /// A frame for `channel` arrived on connection `generation`: true (and it is held from
    /// now on) when that connection is the current one; false: drop it.
    pub(super) fn admit(&self, generation: u64, channel: ChannelId) -> bool {
        let mut st = lock(&self.state);
        if st.current.as_ref().is_none_or(|(g, _)| *g != generation) {
            return false;
        }
        *st.held.entry(channel).or_insert(0) += 1;
        true
    }

    /// A frame of `channel` is no longer held: consumed by its receiver (its credit goes
    /// back on the current connection, if any), or never handed to it.
    pub(super) fn release(&self, channel: ChannelId) {
        let mut st = lock(&self.state);
        if let Some(held) = st.held.get_mut(&channel) {
            *held = held.saturating_sub(1);
        }
        let tx = st.current.as_ref().map(|(_, tx)| tx.clone());
        drop(st);
        if let Some(tx) = tx {
            // An error: the connection is going down; the next one is granted afresh.
            let _ = tx.send(Out::Credit { channel, n: 1 });
        }
    }
}
