//! One peer's link: its current connection and the send side of credit-based flow control
//! (the receive side is [`Inflow`]).
//!
//! A link is up while it has a current connection. Each connection starts with no credit
//! on any channel; the peer grants credit right after the handshake (at most its announced
//! credit per channel, less what it still holds from older connections); a sender takes
//! one credit per data or end frame, the peer gives credits back as its receiver consumes
//! frames. Senders are plain threads: they wait on the link's condition variable, which is
//! signalled when credits come back and when the connection changes.
//!
//! A link also knows which *incarnation* of its peer it accepts (the assignment version at
//! which the peer got its slot) and where to dial it; both change when the peer moves
//! ([`Link::update`]). And it remembers, per channel, the producers whose end of stream
//! was sent, to send them again on every new connection: a restarted peer lost them.

use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;

use tokio::sync::Notify;
use tokio::sync::mpsc::UnboundedSender;

use super::conn::Out;
use super::frame::{HEADER, Kind};
use super::inflow::Inflow;
use super::shared::{Shared, bump, lock};
use super::{ChannelId, LinkDown};

/// The connection to one peer worker, whichever side opened it.
pub(super) struct Link {
    pub(super) peer: u32,
    state: Mutex<State>,
    /// Wakes the dialer out of its backoff (the peer moved).
    pub(super) redial: Notify,
    /// The receive side of flow control, across connections.
    pub(super) inflow: Inflow,
    cv: Condvar,
    /// Each channel's last forwarder thread: the next connection's forwarder for the
    /// channel joins it first, so frames of a channel are delivered one at a time and in
    /// order across reconnects.
    pub(super) forwarders: Mutex<HashMap<ChannelId, JoinHandle<()>>>,
}

struct State {
    /// The peer's data-plane address (dialed if the peer's index is higher).
    addr: SocketAddr,
    /// The peer's incarnation this worker accepts.
    incarnation: u64,
    conn: Option<Current>,
    next_gen: u64,
    ever_up: bool,
    /// Per channel, the producers whose end of stream was sent (or attempted).
    ended: HashMap<ChannelId, BTreeSet<u64>>,
}

/// Encodes the producers of an end frame: `u64` LE each.
pub(super) fn encode_producers(producers: &BTreeSet<u64>) -> Vec<u8> {
    producers.iter().flat_map(|p| p.to_le_bytes()).collect()
}

/// Decodes an end frame's producers; `None` unless the length is a multiple of 8.
pub(super) fn decode_producers(payload: &[u8]) -> Option<Vec<u64>> {
    if !payload.len().is_multiple_of(8) {
        return None;
    }
    Some(
        payload
            .chunks_exact(8)
            .map(|c| {
                let mut b = [0u8; 8];
                b.copy_from_slice(c);
                u64::from_le_bytes(b)
            })
            .collect(),
    )
}

/// The current connection as the senders see it.
struct Current {
    generation: u64,
    /// The peer's incarnation on this connection.
    incarnation: u64,
    /// The connection's writer queue.
    tx: UnboundedSender<Out>,
    /// Credits left per channel (absent: none yet, the peer grants them after the
    /// handshake).
    credits: HashMap<ChannelId, u32>,
    /// The credit the peer announced in the handshake: the most it grants per channel.
    peer_credit: u32,
    /// Channels whose ends must be sent again on this connection, once it has a credit.
    resend: BTreeSet<ChannelId>,
    /// Wakes the connection's task to close it at once.
    close: Arc<Notify>,
}

impl Link {
    pub(super) fn new(peer: u32, addr: SocketAddr, incarnation: u64) -> Link {
        Link {
            peer,
            state: Mutex::new(State {
                addr,
                incarnation,
                conn: None,
                next_gen: 0,
                ever_up: false,
                ended: HashMap::new(),
            }),
            redial: Notify::new(),
            inflow: Inflow::default(),
            cv: Condvar::new(),
            forwarders: Mutex::new(HashMap::new()),
        }
    }

    /// Where the peer is dialed now.
    pub(super) fn addr(&self) -> SocketAddr {
        lock(&self.state).addr
    }

    /// The peer's incarnation this worker accepts now.
    pub(super) fn incarnation(&self) -> u64 {
        lock(&self.state).incarnation
    }

    /// The peer moved: dial it at `addr` and accept only `incarnation` from now on. A
    /// current connection to another incarnation is closed (its queued frames are lost
    /// and its waiting senders fail, as on a down link). True if anything changed.
    pub(super) fn update(&self, addr: SocketAddr, incarnation: u64) -> bool {
        let mut st = lock(&self.state);
        let changed = st.addr != addr || st.incarnation != incarnation;
        st.addr = addr;
        st.incarnation = incarnation;
        if let Some(cur) = st.conn.as_ref().filter(|c| c.incarnation != incarnation) {
            cur.close.notify_one();
        }
        drop(st);
        if changed {
            self.redial.notify_one();
        }
        self.cv.notify_all();
        changed
    }

    /// Makes a freshly authenticated connection to the peer's `incarnation` the current
    /// one (closing an older one), grants it this worker's credit on `channels` (what it
    /// receives), and sends on it again, as soon as it has credit, the end of every
    /// producer that ended before; its generation, or `None` when the plane is closing or
    /// the peer's incarnation is no longer the accepted one.
    pub(super) fn install(
        &self,
        shared: &Shared,
        tx: UnboundedSender<Out>,
        peer_credit: u32,
        incarnation: u64,
        close: Arc<Notify>,
    ) -> Option<u64> {
        let mut st = lock(&self.state);
        if shared.is_closing() || incarnation != st.incarnation {
            return None;
        }
        let generation = st.next_gen;
        st.next_gen += 1;
        self.inflow.open(
            generation,
            &tx,
            shared.inbound.keys().copied(),
            shared.credit,
        );
        let resend = st.ended.keys().copied().collect();
        let old = st.conn.replace(Current {
            generation,
            incarnation,
            tx,
            credits: HashMap::new(),
            peer_credit: peer_credit.max(1),
            resend,
            close,
        });
        if st.ever_up {
            bump(&shared.stats.reconnects, 1);
        }
        st.ever_up = true;
        match old {
            Some(old) => {
                old.close.notify_one();
                shared.link_replaced(self.peer);
            }
            None => shared.link_up(self.peer),
        }
        drop(st);
        self.cv.notify_all();
        Some(generation)
    }

    /// The connection `generation` has ended: the link is down unless it was replaced.
    pub(super) fn remove(&self, shared: &Shared, generation: u64) {
        self.inflow.close(generation);
        let mut st = lock(&self.state);
        if st.conn.as_ref().is_some_and(|c| c.generation == generation) {
            st.conn = None;
            shared.link_down(self.peer);
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
        let State { conn, ended, .. } = &mut *st;
        let Some(cur) = conn.as_mut().filter(|c| c.generation == generation) else {
            return Ok(()); // a replaced connection: its credits no longer matter
        };
        let granted = cur.peer_credit;
        let credits = cur.credits.entry(channel).or_insert(0);
        match credits.checked_add(n) {
            Some(total) if total <= granted => *credits = total,
            _ => {
                return Err(format!(
                    "worker {} gave back more credits on channel {channel} than it granted ({granted})",
                    self.peer
                ));
            }
        }
        if *credits > 0
            && cur.resend.remove(&channel)
            && let Some(producers) = ended.get(&channel)
        {
            // One frame carries every producer that ended on the channel: one credit.
            let frame = Out::Frame {
                kind: Kind::End,
                channel,
                payload: encode_producers(producers),
            };
            if cur.tx.send(frame).is_ok() {
                *credits -= 1;
            }
        }
        drop(st);
        self.cv.notify_all();
        Ok(())
    }

    /// Records that `producer` ended on `channel` (also sent on every later connection),
    /// then queues an end frame carrying every producer that ended on it so far.
    pub(super) fn send_end(
        &self,
        shared: &Shared,
        channel: ChannelId,
        producer: u64,
    ) -> Result<(), LinkDown> {
        let payload = {
            let mut st = lock(&self.state);
            let producers = st.ended.entry(channel).or_default();
            producers.insert(producer);
            encode_producers(producers)
        };
        self.send(shared, channel, Kind::End, payload)
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
                warn,
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
            let credits = cur.credits.entry(channel).or_insert(0);
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
