//! The data plane between worker processes.
//!
//! One TCP connection per worker pair carries both directions: the worker with the lower
//! index dials, the other accepts. On it, many logical channels (a source and a
//! destination, [`ChannelId`]) are multiplexed as frames:
//!
//! ```text
//! u32 LE length of what follows | kind: u8 | channel: u128 LE | payload
//! ```
//!
//! Kinds are data, end (end of the channel's stream), control (an in-band control
//! message such as a watermark), credit (payload: `u32` LE count) and the handshake
//! messages. A reader checks the length against `max_frame` before
//! allocating and closes the connection above it.
//!
//! **Handshake** (after TLS when configured): the dialer sends a hello (magic, protocol
//! version, topology, its index, the index it expects to reach, the credit it grants); the
//! acceptor answers with a random nonce; the dialer answers with HMAC-SHA256 of the nonce,
//! topology and indexes under the cluster secret; the acceptor checks everything and either
//! rejects (with a reason) or accepts, proving in turn that it knows the secret.
//!
//! **Flow control** is credit-based, per channel: a sender starts each connection with no
//! credit, spends one per data, control or end frame, and waits (on that channel only) when it has
//! none. Right after the handshake the receiver grants, per channel, its credit (announced
//! in the handshake) less the frames of that channel it still holds from earlier
//! connections, and it gives one back after its [`Inbound`] has taken a frame. A slow
//! receiver therefore slows down only the senders of its own channel, and holds at most
//! its credit per channel and peer however often the peer reconnects.
//!
//! **Failures**: while a link is down, [`Outbound::send`] fails at once with [`LinkDown`]
//! (acking replays what was lost; [`DataPlane::watch_links`] says when it happens).
//! The dialer redials with backoff forever; an acceptor replaces an older connection from
//! the same peer.
//!
//! **Incarnations**: each worker index has an incarnation (the assignment version at which
//! it got its slot); the handshake binds both ends' incarnations and each side refuses a
//! peer of another incarnation than its view of the assignment holds. When a peer moves,
//! [`DataPlane::update_peer`] changes where it is dialed and which incarnation is accepted.
//!
//! **End of stream** is per producer: an end frame carries the `u64` ids of the producers
//! (upstream tasks) that ended on the channel. A link remembers them and sends them again
//! on every new connection, so a restarted peer learns of ends it lost; a receiver must
//! treat a repeated end as harmless.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ring::hmac;

/// Logs a data-plane event of worker `$me` at `$level` (`warn`, `info`...): the plane's
/// tasks run on the I/O runtime, outside the worker's span, so each line names the worker.
macro_rules! log {
    ($level:ident, $me:expr, $($arg:tt)*) => {
        tracing::$level!(worker = $me, "data plane: {}", format_args!($($arg)*))
    };
}

mod conn;
mod connect;
mod frame;
mod handshake;
mod inflow;
mod link;
mod shared;
mod tls;

#[cfg(test)]
mod tests;

pub use tls::{NetTls, read_identity};

use frame::{HEADER, Kind};
use link::Link;
use shared::{Shared, TaskGuard, bump};

/// Identifies one logical channel on a connection: its source in the high 64 bits, its
/// destination (a task and lane) in the low 64 (see `transport::remote::input_channel_id`).
/// A channel per source lets a receiver withhold credit from one producer of a task while
/// the task's other producers go on.
pub type ChannelId = u128;

/// The receive side of a channel in this worker.
///
/// Called on a dedicated std thread per (connection, channel), never on a tokio thread:
/// `deliver` may block (it pushes into a bounded local queue: that is the backpressure,
/// which reaches the channel's remote senders through withheld credits).
pub trait Inbound: Send + Sync + 'static {
    /// One frame's payload, in the order the channel's sender sent them.
    fn deliver(&self, payload: &[u8]);
    /// The end of the streams of `producers` (after all their data), ids given by the
    /// senders. An end may come again (after a reconnection): receivers de-duplicate.
    fn end(&self, producers: &[u64]);
    /// One control frame's payload, in order with the channel's data frames. The default
    /// drops it: a receiver that takes control messages overrides it.
    fn control(&self, payload: &[u8]) {
        let _ = payload;
    }
}

/// The default [`NetConfig::credit`]: frames in flight per channel.
pub const DEFAULT_CREDIT: u32 = 16;

/// The default [`NetConfig::max_frame`]: 64 MiB.
pub const DEFAULT_MAX_FRAME: usize = 64 << 20;

/// The data plane's configuration in one worker.
#[derive(Clone)]
pub struct NetConfig {
    /// The topology's name: both ends must agree (part of the handshake).
    pub topology: String,
    /// This worker's index.
    pub me: u32,
    /// This worker's incarnation (the assignment version at which it got its slot).
    pub incarnation: u64,
    /// The incarnation accepted of each peer by index (absent: 0).
    pub incarnations: BTreeMap<u32, u64>,
    /// The address to listen on (port 0: any free port, see [`DataPlane::local_addr`]).
    pub listen: SocketAddr,
    /// Every other worker's data-plane address by index (this worker's own entry, if
    /// present, is ignored). Workers with a higher index are dialed; those with a lower
    /// index dial this one (their address is then unused).
    pub peers: BTreeMap<u32, SocketAddr>,
    /// The cluster secret that authenticates workers to each other; `None` = no
    /// authentication (all workers must then have none).
    pub secret: Option<Arc<[u8]>>,
    /// TLS for the connections; `None` = plain TCP (all workers must agree).
    pub tls: Option<NetTls>,
    /// Frames in flight per channel per connection that this worker accepts (its receive
    /// queues' capacity; announced to the peer, which sends no more).
    pub credit: u32,
    /// The largest frame accepted (its length field: 17 header bytes plus the payload).
    pub max_frame: usize,
}

impl NetConfig {
    /// A configuration without secret or TLS, with the default credit and frame limit, and
    /// every worker at incarnation 0.
    pub fn new(
        topology: impl Into<String>,
        me: u32,
        listen: SocketAddr,
        peers: BTreeMap<u32, SocketAddr>,
    ) -> NetConfig {
        NetConfig {
            topology: topology.into(),
            me,
            incarnation: 0,
            incarnations: BTreeMap::new(),
            listen,
            peers,
            secret: None,
            tls: None,
            credit: DEFAULT_CREDIT,
            max_frame: DEFAULT_MAX_FRAME,
        }
    }
}

impl fmt::Debug for NetConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NetConfig")
            .field("topology", &self.topology)
            .field("me", &self.me)
            .field("incarnation", &self.incarnation)
            .field("incarnations", &self.incarnations)
            .field("listen", &self.listen)
            .field("peers", &self.peers)
            .field("secret", &self.secret.as_ref().map(|_| "<redacted>"))
            .field("tls", &self.tls)
            .field("credit", &self.credit)
            .field("max_frame", &self.max_frame)
            .finish()
    }
}

/// The data plane's counters since it started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NetStats {
    /// Data and end frames written to connections.
    pub frames_sent: u64,
    /// Payload bytes of those frames.
    pub bytes_sent: u64,
    /// Data and end frames read from connections.
    pub frames_received: u64,
    /// Payload bytes of those frames.
    pub bytes_received: u64,
    /// Frames (batches) dropped because their link was down ([`LinkDown`]).
    pub dropped: u64,
    /// Connections that replaced an earlier one to the same peer.
    pub reconnects: u64,
    /// Handshakes that failed a check (topology, index, secret, protocol, TLS), on either
    /// side.
    pub rejected_handshakes: u64,
    /// Accepted connections closed at once, unread, because the most handshakes allowed
    /// in progress (64) already were.
    pub refused_connections: u64,
}

/// The link to the peer worker is down (or the plane is shutting down): the frame was
/// dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the link to the peer worker is down")]
pub struct LinkDown;

/// A link to a peer worker changed, as [`DataPlane::watch_links`] reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkEvent {
    /// The link to this peer is up (after being down, or for the first time).
    Up(u32),
    /// The link to this peer is down: what was queued or in flight on it may be lost.
    Down(u32),
}

/// [`DataPlane::update_peer`] was given an index that is not a peer of this worker.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("worker {0} is not a peer of this worker")]
pub struct UnknownPeer(pub u32);

/// This worker's end of the data plane: a listener, a dialer per peer with a higher index,
/// and one connection per peer.
pub struct DataPlane {
    shared: Arc<Shared>,
    local: SocketAddr,
}

impl fmt::Debug for DataPlane {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DataPlane")
            .field("me", &self.shared.me)
            .field("local", &self.local)
            .finish_non_exhaustive()
    }
}

impl DataPlane {
    /// Binds the listener now (an error if the port is taken), then in the background
    /// dials every peer with a higher index (with retry/backoff, forever, also after a
    /// connection breaks) and accepts peers with a lower index. `inbound` maps each
    /// channel this worker receives to its receiver; frames for other channels close the
    /// connection. The background tasks run on `rt`.
    pub fn start(
        cfg: NetConfig,
        inbound: HashMap<ChannelId, Arc<dyn Inbound>>,
        rt: &tokio::runtime::Handle,
    ) -> io::Result<DataPlane> {
        if cfg.credit == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "data plane: the credit must be at least 1",
            ));
        }
        if cfg.max_frame <= HEADER {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("data plane: max_frame must be above {HEADER} bytes"),
            ));
        }
        let std_listener = std::net::TcpListener::bind(cfg.listen)?;
        std_listener.set_nonblocking(true)?;
        let local = std_listener.local_addr()?;
        let listener = {
            let _runtime = rt.enter();
            tokio::net::TcpListener::from_std(std_listener)?
        };
        let links = cfg
            .peers
            .iter()
            .filter(|&(&peer, _)| peer != cfg.me)
            .map(|(&peer, &addr)| {
                let incarnation = cfg.incarnations.get(&peer).copied().unwrap_or(0);
                (peer, Arc::new(Link::new(peer, addr, incarnation)))
            })
            .collect();
        let key = cfg
            .secret
            .as_deref()
            .map(|secret| hmac::Key::new(hmac::HMAC_SHA256, secret));
        let shared = Arc::new(Shared::new(
            cfg.me,
            cfg.incarnation,
            cfg.topology,
            key,
            cfg.tls,
            cfg.credit,
            cfg.max_frame.min(u32::MAX as usize),
            inbound,
            links,
        ));
        let guard = TaskGuard::new(&shared);
        rt.spawn(connect::listen(Arc::clone(&shared), listener, guard));
        for link in shared.links.values().filter(|link| link.peer > cfg.me) {
            let guard = TaskGuard::new(&shared);
            rt.spawn(connect::dial(Arc::clone(&shared), Arc::clone(link), guard));
        }
        Ok(DataPlane { shared, local })
    }

    /// The address the listener is bound to (the actual port when `listen` had port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// True once every peer is connected (and authenticated); false at the timeout.
    /// Blocks: call it from outside the runtime.
    pub fn wait_connected(&self, timeout: Duration) -> bool {
        self.shared.wait_all_up(Instant::now() + timeout)
    }

    /// A handle to send on `channel` to worker `peer`. Cheap to clone. For a worker that
    /// is not a peer, every send fails with [`LinkDown`].
    pub fn outbound(&self, peer: u32, channel: ChannelId) -> Outbound {
        Outbound {
            link: self.shared.links.get(&peer).cloned(),
            shared: Arc::clone(&self.shared),
            peer,
            channel,
        }
    }

    /// Peer `peer` moved (or was restarted as a new incarnation): from now on it is
    /// dialed at `addr` (if its index is higher) and only its `incarnation` is accepted. A
    /// live connection to another incarnation is dropped at once: its queued frames are
    /// lost and its waiting senders fail with [`LinkDown`], as on a down link.
    pub fn update_peer(
        &self,
        peer: u32,
        addr: SocketAddr,
        incarnation: u64,
    ) -> Result<(), UnknownPeer> {
        let link = self.shared.links.get(&peer).ok_or(UnknownPeer(peer))?;
        if link.update(addr, incarnation) {
            log!(
                info,
                self.shared.me,
                "worker {peer} is now incarnation {incarnation} at {addr}"
            );
        }
        Ok(())
    }

    /// A receiver of every [`LinkEvent`] from now on: a link that comes up (a first
    /// connection, or one after the link was down) or goes down (a connection that breaks
    /// or is dropped and is not replaced by a newer one; not when the plane shuts down).
    pub fn watch_links(&self) -> crossbeam_channel::Receiver<LinkEvent> {
        self.shared.watch()
    }

    /// The counters so far.
    pub fn stats(&self) -> NetStats {
        self.shared.stats.snapshot()
    }

    /// Stops accepting frames (sends fail with [`LinkDown`] from now on, also those
    /// waiting for credit), writes out every queued frame and closes the connections
    /// (each waits for its peer to close its end), waiting up to `timeout`; after it the
    /// connections are closed at once. Returns when the background tasks are done, so the
    /// listening port is free again. Blocks: call it from outside the runtime.
    pub fn shutdown(&self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        self.shared.begin_close();
        for link in self.shared.links.values() {
            link.close_gracefully();
        }
        if !self.shared.wait_tasks(deadline) {
            for link in self.shared.links.values() {
                link.force_close();
            }
            if !self
                .shared
                .wait_tasks(Instant::now() + Duration::from_secs(1))
            {
                log!(
                    warn,
                    self.shared.me,
                    "shutdown: some connections did not close in time"
                );
            }
        }
    }
}

impl Drop for DataPlane {
    /// Closes everything at once, without waiting (see [`DataPlane::shutdown`] for a
    /// graceful close).
    fn drop(&mut self) {
        self.shared.begin_close();
        for link in self.shared.links.values() {
            link.force_close();
        }
    }
}

/// The send side of one channel to one peer worker. Cheap to clone; clones share the
/// channel's credits.
#[derive(Clone)]
pub struct Outbound {
    shared: Arc<Shared>,
    link: Option<Arc<Link>>,
    peer: u32,
    channel: ChannelId,
}

impl fmt::Debug for Outbound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Outbound")
            .field("peer", &self.peer)
            .field("channel", &self.channel)
            .finish()
    }
}

impl Outbound {
    /// The peer worker's index.
    pub fn peer(&self) -> u32 {
        self.peer
    }

    /// The channel.
    pub fn channel(&self) -> ChannelId {
        self.channel
    }

    /// The largest payload one frame carries (the frame limit less the frame header).
    pub fn max_payload(&self) -> usize {
        self.shared.max_frame.saturating_sub(HEADER)
    }

    /// Sends one frame. Called from plain std threads (executor threads), never from
    /// inside the runtime. Waits for a credit on this channel (a slow receiver slows its
    /// senders, only on this channel), then queues the frame for the connection's writer.
    /// If the link to the peer is down (or breaks while waiting), returns `Err(LinkDown)`
    /// and the payload is dropped (the caller counts it; acking replays it); so is a
    /// payload above the frame limit (logged). Frames of one channel arrive in order.
    pub fn send(&self, payload: Vec<u8>) -> Result<(), LinkDown> {
        self.push(Kind::Data, payload)
    }

    /// Sends one control frame (an encoded [`crate::transport::Control`]), ordered with
    /// the channel's data frames and taking a credit like them; fails as
    /// [`Outbound::send`] does.
    pub fn send_control(&self, payload: Vec<u8>) -> Result<(), LinkDown> {
        self.push(Kind::Control, payload)
    }

    /// The end of `producer`'s stream on this channel, ordered after the channel's data
    /// (it takes a credit too). Remembered: it is sent again on every later connection to
    /// the peer, also when this send fails.
    pub fn send_end(&self, producer: u64) -> Result<(), LinkDown> {
        match &self.link {
            Some(link) => link.send_end(&self.shared, self.channel, producer),
            None => {
                bump(&self.shared.stats.dropped, 1);
                Err(LinkDown)
            }
        }
    }

    fn push(&self, kind: Kind, payload: Vec<u8>) -> Result<(), LinkDown> {
        match &self.link {
            Some(link) => link.send(&self.shared, self.channel, kind, payload),
            None => {
                bump(&self.shared.stats.dropped, 1);
                Err(LinkDown)
            }
        }
    }
}
