//! Opening connections: the listener (peers with a lower index dial this worker) and one
//! dialer per peer with a higher index (redialing with backoff, forever).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use tokio::io::BufReader;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::conn;
use super::handshake::{self, Failure};
use super::link::Link;
use super::shared::{Shared, TaskGuard, bump};
use super::tls::BoxStream;

/// Bytes of a connection's read buffer.
const READ_BUFFER: usize = 64 * 1024;
/// The first redial delay; it doubles up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(50);
/// The longest redial delay.
const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// The most accepted connections that may be in their handshake at once (not yet
/// authenticated). Beyond it a new connection is closed at once and counted
/// ([`super::NetStats::refused_connections`]): unauthenticated peers cannot make a worker
/// hold more than this many sockets, tasks and buffers, whatever they open.
pub(super) const MAX_HANDSHAKES: usize = 64;

/// Accepts connections until the plane stops (then drops the listener, freeing the port).
pub(super) async fn listen(shared: Arc<Shared>, listener: TcpListener, _guard: TaskGuard) {
    let handshakes = Arc::new(Semaphore::new(MAX_HANDSHAKES));
    loop {
        tokio::select! {
            () = shared.stopped() => return,
            accepted = listener.accept() => match accepted {
                Ok((tcp, addr)) => {
                    let Ok(permit) = Arc::clone(&handshakes).try_acquire_owned() else {
                        // Dropping the socket closes it.
                        drop(tcp);
                        let n = shared.stats.refused.fetch_add(1, Ordering::Relaxed) + 1;
                        if n == 1 || n.is_multiple_of(1024) {
                            log!(
                                warn,
                                shared.me,
                                "closed a connection from {addr}: {MAX_HANDSHAKES} handshakes \
                                 already in progress ({n} closed so far)"
                            );
                        }
                        continue;
                    };
                    let guard = TaskGuard::new(&shared);
                    tokio::spawn(accept_one(Arc::clone(&shared), tcp, addr, permit, guard));
                }
                Err(e) => {
                    log!(warn, shared.me, "accepting a connection: {e}");
                    // E.g. out of file descriptors: don't spin.
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
        }
    }
}

/// TLS (if configured) and the handshake on an accepted connection, then runs it. The
/// `handshake` permit is held until the handshake ends.
async fn accept_one(
    shared: Arc<Shared>,
    tcp: TcpStream,
    addr: SocketAddr,
    handshake: OwnedSemaphorePermit,
    _guard: TaskGuard,
) {
    let attempt = async {
        let _ = tcp.set_nodelay(true);
        let stream: BoxStream = match &shared.tls {
            Some(tls) => tls
                .accept(tcp)
                .await
                .map_err(|e| Failure::Rejected(format!("TLS handshake failed: {e}")))?,
            None => Box::new(tcp),
        };
        let mut stream = BufReader::with_capacity(READ_BUFFER, stream);
        let (peer, credit, incarnation) = handshake::accept(&shared, &mut stream, addr).await?;
        Ok::<_, Failure>((stream, peer, credit, incarnation))
    };
    let outcome = tokio::select! {
        () = shared.stopped() => return,
        outcome = tokio::time::timeout(handshake::TIMEOUT, attempt) => outcome,
    };
    drop(handshake);
    match outcome {
        Ok(Ok((stream, peer, credit, incarnation))) => {
            let Some(link) = shared.links.get(&peer) else {
                return; // checked by the handshake
            };
            conn::run(
                Arc::clone(&shared),
                Arc::clone(link),
                stream,
                credit,
                incarnation,
            )
            .await;
        }
        Ok(Err(failure)) => {
            bump(&shared.stats.rejected, 1);
            log!(
                warn,
                shared.me,
                "rejected a connection from {addr}: {failure}"
            );
        }
        Err(_) => {
            bump(&shared.stats.rejected, 1);
            log!(
                warn,
                shared.me,
                "rejected a connection from {addr}: no handshake within {:?}",
                handshake::TIMEOUT
            );
        }
    }
}

/// Dials `link`'s peer until the plane stops: runs each connection until it breaks, then
/// redials after a backoff (50 ms doubling to 1 s, back to 50 ms after a connection
/// that lasted at least 1 s).
pub(super) async fn dial(shared: Arc<Shared>, link: Arc<Link>, _guard: TaskGuard) {
    let mut backoff = FIRST_BACKOFF;
    // The last failure logged: a peer that stays down is reported once, not every second.
    let mut last_logged: Option<String> = None;
    while !shared.is_closing() {
        let outcome = tokio::select! {
            () = shared.stopped() => return,
            outcome = tokio::time::timeout(handshake::TIMEOUT, dial_once(&shared, &link)) => outcome,
        };
        let failure = match outcome {
            Ok(Ok((stream, credit, incarnation))) => {
                last_logged = None;
                let started = Instant::now();
                conn::run(
                    Arc::clone(&shared),
                    Arc::clone(&link),
                    stream,
                    credit,
                    incarnation,
                )
                .await;
                // A connection that breaks at once (say, a protocol error) keeps backing
                // off; one that lived a while starts over from the shortest delay.
                if started.elapsed() >= MAX_BACKOFF {
                    backoff = FIRST_BACKOFF;
                }
                None
            }
            Ok(Err(Failure::Rejected(reason))) => {
                bump(&shared.stats.rejected, 1);
                Some(format!("handshake failed: {reason}"))
            }
            Ok(Err(Failure::Io(e))) => Some(e.to_string()),
            Err(_) => Some(format!("no handshake within {:?}", handshake::TIMEOUT)),
        };
        if let Some(failure) = failure
            && !shared.is_closing()
            && last_logged.as_ref() != Some(&failure)
        {
            log!(
                info,
                shared.me,
                "dialing worker {} at {}: {failure} (retrying)",
                link.peer,
                link.addr()
            );
            last_logged = Some(failure);
        }
        tokio::select! {
            () = shared.stopped() => return,
            () = tokio::time::sleep(backoff) => {}
            // The peer moved: dial its new address now.
            () = link.redial.notified() => backoff = FIRST_BACKOFF,
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// One connection attempt: TCP, TLS if configured, the handshake. The credit the peer
/// grants and its incarnation.
async fn dial_once(
    shared: &Shared,
    link: &Link,
) -> Result<(BufReader<BoxStream>, u32, u64), Failure> {
    let (addr, incarnation) = (link.addr(), link.incarnation());
    let tcp = TcpStream::connect(addr).await.map_err(Failure::Io)?;
    let _ = tcp.set_nodelay(true);
    let stream: BoxStream = match &shared.tls {
        Some(tls) => tls
            .connect(addr.ip(), tcp)
            .await
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::InvalidData => {
                    Failure::Rejected(format!("TLS handshake failed: {e}"))
                }
                _ => Failure::Io(e),
            })?,
        None => Box::new(tcp),
    };
    let mut stream = BufReader::with_capacity(READ_BUFFER, stream);
    let credit = handshake::dial(shared, &mut stream, link.peer, incarnation).await?;
    Ok((stream, credit, incarnation))
}
