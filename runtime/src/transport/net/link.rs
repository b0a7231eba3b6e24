//! One peer's link: its current connection and the send side of credit-based flow control.
//!
//! A link is up while it has a current connection. Each connection starts with the
//! peer's announced credit on every channel (implicitly: a channel is added to the map on
//! first use); a sender takes one credit per data or end frame, the peer gives credits
//! back as its receiver consumes frames. Senders are plain threads: they wait on the
//! link's condition variable, which is signalled when credits come back and when the
//! connection changes.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;

use tokio::sync::Notify;
use tokio::sync::mpsc::UnboundedSender;

use super::conn::Out;
use super::frame::{HEADER, Kind};
use super::shared::{Shared, bump, lock};
use super::{ChannelId, LinkDown};

/// The connection to one peer worker, whichever side opened it.
pub(super) struct Link {
    pub(super) peer: u32,
    /// The peer's data-plane address (dialed if the peer's index is higher).
    pub(super) addr: SocketAddr,
    state: Mutex<State>,
    cv: Condvar,
    /// Each channel's last forwarder thread: the next connection's forwarder for the
    /// channel joins it first, so frames of a channel are delivered one at a time and in
    /// order across reconnects.
    pub(super) forwarders: Mutex<HashMap<ChannelId, JoinHandle<()>>>,
}

struct State {
    conn: Option<Current>,
    next_gen: u64,
    ever_up: bool,
}

/// The current connection as the senders see it.
struct Current {
    generation: u64,
    /// The connection's writer queue.
    tx: UnboundedSender<Out>,
    /// Credits left per channel (absent = untouched: `peer_credit`).
    credits: HashMap<ChannelId, u32>,
    /// The credit the peer announced in the handshake.
    peer_credit: u32,
    /// Wakes the connection's task to close it at once.
    close: Arc<Notify>,
}

impl Link {
    pub(super) fn new(peer: u32, addr: SocketAddr) -> Link {
        Link {
            peer,
            addr,
            state: Mutex::new(State {
                conn: None,
                next_gen: 0,
                ever_up: false,
            }),
            cv: Condvar::new(),
            forwarders: Mutex::new(HashMap::new()),
        }
    }

    /// Makes a freshly authenticated connection the current one (closing an older one);
    /// its generation, or `None` when the plane is closing.
    pub(super) fn install(
        &self,
        shared: &Shared,
        tx: UnboundedSender<Out>,
        peer_credit: u32,
        close: Arc<Notify>,
    ) -> Option<u64> {
        let mut st = lock(&self.state);
        if shared.is_closing() {
            return None;
        }
        let generation = st.next_gen;
        st.next_gen += 1;
        let old = st.conn.replace(Current {
            generation,
            tx,
            credits: HashMap::new(),
            peer_credit: peer_credit.max(1),
            close,
        });
        if st.ever_up {
            bump(&shared.stats.reconnects, 1);
        }
        st.ever_up = true;
        match old {
            Some(old) => old.close.notify_one(),
            None => shared.link_up(),
        }
        drop(st);
        self.cv.notify_all();
        Some(generation)
    }

    /// The connection `generation` has ended: the link is down unless it was replaced.
    pub(super) fn remove(&self, shared: &Shared, generation: u64) {
        let mut st = lock(&self.state);
        if st.conn.as_ref().is_some_and(|c| c.generation == generation) {
            st.conn = None;
            shared.link_down();
        }
        drop(st);
        self.cv.notify_all();
    }

    /// The peer gave back `n` credits on `channel` over connection `generation`. More
    /// credits than the peer granted is a protocol violation.
    pub(super) fn add_credit(
        &self,
        generation: u64,
        channel: ChannelId,
        n: u32,
    ) -> Result<(), String> {
        let mut st = lock(&self.state);
        let Some(cur) = st.conn.as_mut().filter(|c| c.generation == generation) else {
            return Ok(()); // a replaced connection: its credits no longer matter
        };
        let granted = cur.peer_credit;
        let credits = cur.credits.entry(channel).or_insert(granted);
        match credits.checked_add(n) {
            Some(total) if total <= granted => *credits = total,
            _ => {
                return Err(format!(
                    "worker {} gave back more credits on channel {channel} than it granted ({granted})",
                    self.peer
                ));
            }
        }
        drop(st);
        self.cv.notify_all();
        Ok(())
    }

    /// Queues a data or end frame once the channel has a credit. `LinkDown` (and the frame
    /// is dropped) when the link is down, breaks while waiting, or the plane is closing.
    pub(super) fn send(
        &self,
        shared: &Shared,
        channel: ChannelId,
        kind: Kind,
        payload: Vec<u8>,
    ) -> Result<(), LinkDown> {
        if payload.len().saturating_add(HEADER) > shared.max_frame {
            log!(
                shared.me,
                "dropping a frame of {} bytes for channel {channel} of worker {}: above the limit of {} bytes",
                payload.len() + HEADER,
                self.peer,
                shared.max_frame
            );
            bump(&shared.stats.dropped, 1);
            return Err(LinkDown);
        }
        let mut st = lock(&self.state);
        let mut waited_on = None;
        loop {
            if shared.is_closing() {
                break;
            }
            let Some(cur) = st.conn.as_mut() else { break };
            if waited_on.is_some_and(|g| g != cur.generation) {
                break; // the connection we waited on broke: its credits are gone
            }
            let credits = cur.credits.entry(channel).or_insert(cur.peer_credit);
            if *credits > 0 {
                if cur
                    .tx
                    .send(Out::Frame {
                        kind,
                        channel,
                        payload,
                    })
                    .is_err()
                {
                    break; // the writer has ended: the connection is going down
                }
                *credits -= 1;
                return Ok(());
            }
            waited_on = Some(cur.generation);
            st = self.cv.wait(st).unwrap_or_else(PoisonError::into_inner);
        }
        bump(&shared.stats.dropped, 1);
        Err(LinkDown)
    }

    /// Asks the current connection to write out what is queued and close.
    pub(super) fn close_gracefully(&self) {
        let st = lock(&self.state);
        if let Some(cur) = &st.conn {
            let _ = cur.tx.send(Out::Close);
        }
        drop(st);
        self.cv.notify_all();
    }

    /// Closes the current connection at once.
    pub(super) fn force_close(&self) {
        let st = lock(&self.state);
        if let Some(cur) = &st.conn {
            cur.close.notify_one();
        }
        drop(st);
        self.cv.notify_all();
    }
}
