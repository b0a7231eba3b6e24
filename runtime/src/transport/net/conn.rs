//! One authenticated connection: its writer, its reader and its channels' forwarders.
//!
//! The writer drains the connection's queue (frames from senders, credits from
//! forwarders) into a buffered stream and flushes when the queue is empty. The reader
//! hands each data or end frame to its channel's forwarder (a bounded queue of `credit`
//! frames, never blocking the reader) and adds returned credits to the link. A forwarder
//! is a plain thread per (connection, channel) that calls the channel's [`Inbound`] and
//! then gives one credit back, on the link's current connection (see `inflow`).

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::io;
use std::sync::Arc;
use std::thread;

use crossbeam_channel::TrySendError;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, BufReader, BufWriter};
use tokio::sync::Notify;
use tokio::sync::mpsc::{self, UnboundedReceiver};

use super::frame::{self, Kind, invalid};
use super::link::Link;
use super::shared::{Shared, bump, lock};
use super::tls::BoxStream;
use super::{ChannelId, Inbound};

/// Bytes of the read and write buffers.
const BUFFER: usize = 64 * 1024;

/// What a connection's writer sends.
pub(super) enum Out {
    /// A data or end frame from a sender.
    Frame {
        kind: Kind,
        channel: ChannelId,
        payload: Vec<u8>,
    },
    /// Credits given back for frames this worker's receiver consumed.
    Credit { channel: ChannelId, n: u32 },
    /// Write out what is queued before this, then close the connection.
    Close,
}

/// What a forwarder hands to its channel's receiver.
enum Item {
    Data(Vec<u8>),
    /// The producers that ended (decoded from the end frame).
    End(Vec<u64>),
    /// A control frame's payload.
    Control(Vec<u8>),
}

/// Runs an authenticated connection to `link`'s peer until it breaks, is replaced or is
/// closed by the plane.
pub(super) async fn run(
    shared: Arc<Shared>,
    link: Arc<Link>,
    stream: BufReader<BoxStream>,
    peer_credit: u32,
    incarnation: u64,
) {
    let (tx, rx) = mpsc::unbounded_channel();
    let close = Arc::new(Notify::new());
    let Some(generation) = link.install(
        &shared,
        tx.clone(),
        peer_credit,
        incarnation,
        Arc::clone(&close),
    ) else {
        return;
    };
    let (r, w) = tokio::io::split(stream);
    drop(tx);
    let reader = read_loop(&shared, &link, generation, r);
    let writer = write_loop(&shared, w, rx);
    tokio::pin!(reader, writer);
    let outcome = tokio::select! {
        r = &mut reader => r.map(|()| true),
        w = &mut writer => match w {
            // Our side closed gracefully: keep reading until the peer closes too (closing
            // with unread input would reset the connection and could lose our last frames).
            Ok(()) => tokio::select! {
                r = &mut reader => r.map(|()| false),
                () = close.notified() => Ok(false),
            },
            Err(e) => Err(e),
        },
        () = close.notified() => Ok(false),
    };
    link.remove(&shared, generation);
    if !shared.is_closing() {
        match outcome {
            Ok(true) => log!(
                info,
                shared.me,
                "connection with worker {} closed by the peer",
                link.peer
            ),
            Ok(false) => {}
            Err(e) => log!(
                warn,
                shared.me,
                "connection with worker {} closed: {e}",
                link.peer
            ),
        }
    }
}

/// Writes queued frames, flushing whenever the queue is empty. `Ok` after a graceful close.
async fn write_loop<W: AsyncWrite + Unpin>(
    shared: &Shared,
    w: W,
    mut rx: UnboundedReceiver<Out>,
) -> io::Result<()> {
    let mut w = BufWriter::with_capacity(BUFFER, w);
    // Credits queued since the last flush, merged per channel (one frame each).
    let mut credits: HashMap<ChannelId, u32> = HashMap::new();
    while let Some(mut out) = rx.recv().await {
        loop {
            match out {
                Out::Frame {
                    kind,
                    channel,
                    payload,
                } => {
                    frame::write(&mut w, kind, channel, &payload).await?;
                    bump(&shared.stats.frames_sent, 1);
                    bump(&shared.stats.bytes_sent, payload.len() as u64);
                }
                Out::Credit { channel, n } => {
                    let total = credits.entry(channel).or_insert(0);
                    *total = total.saturating_add(n);
                }
                Out::Close => {
                    w.shutdown().await?;
                    return Ok(());
                }
            }
            match rx.try_recv() {
                Ok(next) => out = next,
                Err(_) => break,
            }
        }
        for (channel, n) in credits.drain() {
            frame::write(&mut w, Kind::Credit, channel, &n.to_le_bytes()).await?;
        }
        w.flush().await?;
    }
    w.shutdown().await
}

/// Reads frames until the peer closes (`Ok`) or breaks the protocol.
async fn read_loop<R: AsyncRead + Unpin>(
    shared: &Shared,
    link: &Arc<Link>,
    generation: u64,
    mut r: R,
) -> io::Result<()> {
    let peer = link.peer;
    let from = format!("worker {peer}");
    let mut forwarders: HashMap<ChannelId, crossbeam_channel::Sender<Item>> = HashMap::new();
    loop {
        let Some(f) = frame::read(&mut r, shared.max_frame, &from).await? else {
            return Ok(());
        };
        match f.kind {
            Kind::Data | Kind::End | Kind::Control => {
                bump(&shared.stats.frames_received, 1);
                bump(&shared.stats.bytes_received, f.payload.len() as u64);
                let channel = f.channel;
                let sender = match forwarders.entry(channel) {
                    Entry::Occupied(e) => e.into_mut(),
                    Entry::Vacant(e) => {
                        let Some(inbound) = shared.inbound.get(&channel) else {
                            return Err(invalid(format!(
                                "frame for unknown channel {channel} from worker {peer}"
                            )));
                        };
                        e.insert(spawn_forwarder(shared, link, channel, Arc::clone(inbound))?)
                    }
                };
                if !link.inflow.admit(generation, channel) {
                    // A newer connection has taken over: this one's frames are lost.
                    bump(&shared.stats.dropped, 1);
                    continue;
                }
                let item = match f.kind {
                    Kind::Data => Item::Data(f.payload),
                    Kind::Control => Item::Control(f.payload),
                    _ => Item::End(super::link::decode_producers(&f.payload).ok_or_else(|| {
                        invalid(format!(
                            "end frame of {} bytes from worker {peer} (not a list of producers)",
                            f.payload.len()
                        ))
                    })?),
                };
                let sent = sender.try_send(item);
                if sent.is_err() {
                    link.inflow.release(channel);
                }
                match sent {
                    Ok(()) => {}
                    Err(TrySendError::Full(_)) => {
                        return Err(invalid(format!(
                            "worker {peer} sent more than its credit ({}) on channel {channel}",
                            shared.credit
                        )));
                    }
                    Err(TrySendError::Disconnected(_)) => {
                        return Err(io::Error::other(format!(
                            "the receiver of channel {channel} has stopped (it panicked?)"
                        )));
                    }
                }
            }
            Kind::Credit => {
                let n = <[u8; 4]>::try_from(&f.payload[..])
                    .map(u32::from_le_bytes)
                    .map_err(|_| {
                        invalid(format!(
                            "credit frame of {} bytes from worker {peer}",
                            f.payload.len()
                        ))
                    })?;
                link.add_credit(generation, f.channel, n).map_err(invalid)?;
            }
            other => {
                return Err(invalid(format!(
                    "unexpected {other:?} frame from worker {peer} after the handshake"
                )));
            }
        }
    }
}

/// Starts the forwarder thread of `channel` on this connection: it waits for the
/// channel's previous forwarder (of an older connection) to finish, then delivers each
/// frame and gives one credit back. It ends when the connection's reader is gone and its
/// queue is drained.
fn spawn_forwarder(
    shared: &Shared,
    link: &Arc<Link>,
    channel: ChannelId,
    inbound: Arc<dyn Inbound>,
) -> io::Result<crossbeam_channel::Sender<Item>> {
    let owner = Arc::clone(link);
    let (tx, rx) = crossbeam_channel::bounded::<Item>(shared.credit as usize);
    let mut forwarders = lock(&link.forwarders);
    let previous = forwarders.remove(&channel);
    let handle = thread::Builder::new()
        .name(format!("gale-net-{}-{channel}", link.peer))
        .spawn(move || {
            if let Some(previous) = previous {
                let _ = previous.join();
            }
            for item in rx {
                match item {
                    Item::Data(payload) => inbound.deliver(&payload),
                    Item::End(producers) => inbound.end(&producers),
                    Item::Control(payload) => inbound.control(&payload),
                }
                // The credit goes back on the link's current connection (see `inflow`).
                owner.inflow.release(channel);
            }
        })?;
    forwarders.insert(channel, handle);
    Ok(tx)
}
