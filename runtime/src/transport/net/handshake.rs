//! The handshake that opens a connection (after TLS, when configured).
//!
//! 1. dialer → acceptor, `Hello`: magic `GALE`, protocol version (`u16`), the dialer's
//!    index, the index it expects to reach, the credit it grants per channel (all `u32`),
//!    the dialer's incarnation and the incarnation it expects of the acceptor (`u64`
//!    each), a 32-byte random nonce, then the topology name (the rest).
//! 2. acceptor → dialer, `Nonce`: 32 random bytes.
//! 3. dialer → acceptor, `Auth`: HMAC-SHA256(secret, acceptor nonce ‖ topology ‖ from ‖
//!    to ‖ from incarnation ‖ to incarnation), integers little-endian; empty without a
//!    secret.
//! 4. acceptor → dialer: `Reject` with a reason (then it closes) or `Accept` with the
//!    credit it grants per channel (`u32`), its incarnation (`u64`) and its own proof of the
//!    secret, HMAC-SHA256(secret, `gale accept` ‖ dialer nonce ‖ topology ‖ from ‖ to ‖
//!    from incarnation ‖ to incarnation) (empty without a secret), so a dialer never sends
//!    data to an impostor either.
//!
//! An *incarnation* is the assignment version at which a worker index got its current
//! slot. Each side refuses a peer whose incarnation is not the one its view of the
//! assignment holds for that index: a replaced worker that still runs (cut off from
//! nimbus) cannot talk to the workers that follow its successor, and the other way round.
//!
//! Handshake frames use channel 0 and are limited to [`LIMIT`] bytes whatever `max_frame`.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use ring::hmac;
use ring::rand::SecureRandom;
use tokio::io::{AsyncWriteExt, BufReader};

use super::frame::{self, Frame, Kind};
use super::shared::Shared;
use super::tls::BoxStream;

/// The first bytes of a hello.
pub(super) const MAGIC: [u8; 4] = *b"GALE";
/// The protocol version both ends must speak.
pub(super) const VERSION: u16 = 3;
/// Bytes of a nonce.
pub(super) const NONCE: usize = 32;
/// The largest handshake frame.
pub(super) const LIMIT: usize = 64 * 1024;
/// How long a connection may take from TCP connect to the end of the handshake.
pub(super) const TIMEOUT: Duration = Duration::from_secs(10);

/// Bytes of a hello before the topology name.
const HELLO_FIXED: usize = 4 + 2 + 4 + 4 + 4 + 8 + 8 + NONCE;
/// Bytes of an accept before the acceptor's code: its credit and incarnation.
const ACCEPT_FIXED: usize = 4 + 8;
/// Domain separation of the acceptor's proof from the dialer's.
const ACCEPT_LABEL: &[u8] = b"gale accept";

/// Why a handshake failed.
#[derive(Debug)]
pub(super) enum Failure {
    /// Refused by a check (topology, index, secret, protocol, TLS): counted and logged.
    Rejected(String),
    /// The connection failed (refused, reset, closed).
    Io(io::Error),
}

impl From<io::Error> for Failure {
    fn from(e: io::Error) -> Failure {
        // Malformed input (an oversized frame, TLS garbage) is a protocol mismatch.
        if e.kind() == io::ErrorKind::InvalidData {
            Failure::Rejected(e.to_string())
        } else {
            Failure::Io(e)
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Rejected(reason) => f.write_str(reason),
            Failure::Io(e) => write!(f, "{e}"),
        }
    }
}

/// The dialer's opening message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Hello {
    pub(super) from: u32,
    pub(super) to: u32,
    pub(super) credit: u32,
    /// The dialer's incarnation.
    pub(super) from_incarnation: u64,
    /// The incarnation the dialer expects of the acceptor.
    pub(super) to_incarnation: u64,
    pub(super) nonce: [u8; NONCE],
    pub(super) topology: String,
}

impl Hello {
    pub(super) fn encode(&self) -> Vec<u8> {
        let mut p = Vec::with_capacity(HELLO_FIXED + self.topology.len());
        p.extend_from_slice(&MAGIC);
        p.extend_from_slice(&VERSION.to_le_bytes());
        p.extend_from_slice(&self.from.to_le_bytes());
        p.extend_from_slice(&self.to.to_le_bytes());
        p.extend_from_slice(&self.credit.to_le_bytes());
        p.extend_from_slice(&self.from_incarnation.to_le_bytes());
        p.extend_from_slice(&self.to_incarnation.to_le_bytes());
        p.extend_from_slice(&self.nonce);
        p.extend_from_slice(self.topology.as_bytes());
        p
    }

    pub(super) fn decode(p: &[u8]) -> Result<Hello, String> {
        if p.len() < 4 || p[..4] != MAGIC {
            return Err("not a Gale data-plane hello (bad magic)".into());
        }
        if p.len() < HELLO_FIXED {
            return Err(format!("hello of {} bytes is too short", p.len()));
        }
        let u32_at = |i: usize| u32::from_le_bytes([p[i], p[i + 1], p[i + 2], p[i + 3]]);
        let u64_at = |i: usize| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&p[i..i + 8]);
            u64::from_le_bytes(b)
        };
        let version = u16::from_le_bytes([p[4], p[5]]);
        if version != VERSION {
            return Err(format!(
                "protocol version {version}, this worker speaks version {VERSION}"
            ));
        }
        let mut nonce = [0u8; NONCE];
        nonce.copy_from_slice(&p[34..HELLO_FIXED]);
        let topology = std::str::from_utf8(&p[HELLO_FIXED..])
            .map_err(|_| "the topology name is not UTF-8".to_string())?
            .to_string();
        Ok(Hello {
            from: u32_at(6),
            to: u32_at(10),
            credit: u32_at(14),
            from_incarnation: u64_at(18),
            to_incarnation: u64_at(26),
            nonce,
            topology,
        })
    }
}

/// Who is connecting to whom: both indexes and incarnations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Ends {
    pub(super) from: u32,
    pub(super) to: u32,
    pub(super) from_incarnation: u64,
    pub(super) to_incarnation: u64,
}

impl Ends {
    fn of(hello: &Hello) -> Ends {
        Ends {
            from: hello.from,
            to: hello.to,
            from_incarnation: hello.from_incarnation,
            to_incarnation: hello.to_incarnation,
        }
    }
}

/// What the dialer's code covers: the acceptor's nonce, the topology, both indexes and
/// both incarnations.
pub(super) fn auth_message(nonce: &[u8], topology: &str, ends: Ends) -> Vec<u8> {
    let mut m = Vec::with_capacity(nonce.len() + topology.len() + 24);
    m.extend_from_slice(nonce);
    m.extend_from_slice(topology.as_bytes());
    m.extend_from_slice(&ends.from.to_le_bytes());
    m.extend_from_slice(&ends.to.to_le_bytes());
    m.extend_from_slice(&ends.from_incarnation.to_le_bytes());
    m.extend_from_slice(&ends.to_incarnation.to_le_bytes());
    m
}

fn accept_message(nonce: &[u8], topology: &str, ends: Ends) -> Vec<u8> {
    let mut m = ACCEPT_LABEL.to_vec();
    m.extend_from_slice(&auth_message(nonce, topology, ends));
    m
}

fn sign(key: Option<&hmac::Key>, message: &[u8]) -> Vec<u8> {
    key.map(|k| hmac::sign(k, message).as_ref().to_vec())
        .unwrap_or_default()
}

fn nonce(shared: &Shared) -> io::Result<[u8; NONCE]> {
    let mut n = [0u8; NONCE];
    shared
        .rng
        .fill(&mut n)
        .map_err(|_| io::Error::other("the system random generator failed"))?;
    Ok(n)
}

async fn send(s: &mut BufReader<BoxStream>, kind: Kind, payload: &[u8]) -> io::Result<()> {
    frame::write(s, kind, 0, payload).await?;
    s.flush().await
}

async fn receive(s: &mut BufReader<BoxStream>, from: &str) -> io::Result<Frame> {
    frame::read(s, LIMIT, from).await?.ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::UnexpectedEof,
            format!("{from} closed the connection during the handshake"),
        )
    })
}

/// The dialer's side, towards incarnation `incarnation` of worker `peer`: the credit the
/// peer grants per channel.
pub(super) async fn dial(
    shared: &Shared,
    s: &mut BufReader<BoxStream>,
    peer: u32,
    incarnation: u64,
) -> Result<u32, Failure> {
    let who = format!("worker {peer}");
    let my_nonce = nonce(shared)?;
    let hello = Hello {
        from: shared.me,
        to: peer,
        credit: shared.credit,
        from_incarnation: shared.incarnation,
        to_incarnation: incarnation,
        nonce: my_nonce,
        topology: shared.topology.clone(),
    };
    let ends = Ends::of(&hello);
    send(s, Kind::Hello, &hello.encode()).await?;
    let f = receive(s, &who).await?;
    let their_nonce = match f.kind {
        Kind::Nonce if f.payload.len() == NONCE => f.payload,
        Kind::Reject => return Err(rejected_by(peer, &f.payload)),
        kind => {
            return Err(Failure::Rejected(format!(
                "worker {peer} answered the hello with a {kind:?} frame of {} bytes",
                f.payload.len()
            )));
        }
    };
    let mac = sign(
        shared.key.as_ref(),
        &auth_message(&their_nonce, &shared.topology, ends),
    );
    send(s, Kind::Auth, &mac).await?;
    let f = receive(s, &who).await?;
    match f.kind {
        Kind::Accept if f.payload.len() >= ACCEPT_FIXED => {}
        Kind::Reject => return Err(rejected_by(peer, &f.payload)),
        kind => {
            return Err(Failure::Rejected(format!(
                "worker {peer} answered the authentication with a {kind:?} frame of {} bytes",
                f.payload.len()
            )));
        }
    }
    let credit = u32::from_le_bytes([f.payload[0], f.payload[1], f.payload[2], f.payload[3]]);
    let mut their_incarnation = [0u8; 8];
    their_incarnation.copy_from_slice(&f.payload[4..ACCEPT_FIXED]);
    let their_incarnation = u64::from_le_bytes(their_incarnation);
    let their_mac = &f.payload[ACCEPT_FIXED..];
    if their_incarnation != incarnation {
        return Err(Failure::Rejected(format!(
            "worker {peer} is incarnation {their_incarnation}, this worker's assignment has \
             incarnation {incarnation} for it"
        )));
    }
    match &shared.key {
        Some(key) => {
            let message = accept_message(&my_nonce, &shared.topology, ends);
            if hmac::verify(key, &message, their_mac).is_err() {
                return Err(Failure::Rejected(format!(
                    "worker {peer} accepted without proving it knows the cluster secret"
                )));
            }
        }
        None if !their_mac.is_empty() => {
            return Err(Failure::Rejected(format!(
                "worker {peer} has a cluster secret and this worker has none"
            )));
        }
        None => {}
    }
    if credit == 0 {
        return Err(Failure::Rejected(format!(
            "worker {peer} granted no credit"
        )));
    }
    Ok(credit)
}

fn rejected_by(peer: u32, reason: &[u8]) -> Failure {
    Failure::Rejected(format!(
        "worker {peer} rejected the connection: {}",
        String::from_utf8_lossy(reason)
    ))
}

/// The acceptor's side, for a connection from `addr`: the dialer's index, the credit it
/// grants per channel and its incarnation.
pub(super) async fn accept(
    shared: &Shared,
    s: &mut BufReader<BoxStream>,
    addr: SocketAddr,
) -> Result<(u32, u32, u64), Failure> {
    let who = format!("{addr} (during the handshake)");
    let f = receive(s, &who).await?;
    if f.kind != Kind::Hello {
        return Err(reject(s, format!("expected a hello, got a {:?} frame", f.kind)).await);
    }
    let hello = match Hello::decode(&f.payload) {
        Ok(hello) => hello,
        Err(reason) => return Err(reject(s, reason).await),
    };
    let my_nonce = nonce(shared)?;
    send(s, Kind::Nonce, &my_nonce).await?;
    let f = receive(s, &who).await?;
    if f.kind != Kind::Auth {
        return Err(reject(
            s,
            format!("expected authentication, got a {:?} frame", f.kind),
        )
        .await);
    }
    let (from, me) = (hello.from, shared.me);
    if hello.topology != shared.topology {
        return Err(reject(
            s,
            format!(
                "topology `{}` does not match this worker's topology `{}`",
                hello.topology, shared.topology
            ),
        )
        .await);
    }
    if hello.to != me {
        return Err(reject(
            s,
            format!(
                "worker {from} expected worker {}, this is worker {me}",
                hello.to
            ),
        )
        .await);
    }
    let Some(link) = shared.links.get(&from).filter(|_| from < me) else {
        return Err(reject(
            s,
            format!("worker {from} is not a peer that dials worker {me}"),
        )
        .await);
    };
    if hello.to_incarnation != shared.incarnation {
        return Err(reject(
            s,
            format!(
                "worker {from} expected incarnation {} of worker {me}, this is incarnation {}",
                hello.to_incarnation, shared.incarnation
            ),
        )
        .await);
    }
    let expected = link.incarnation();
    if hello.from_incarnation != expected {
        return Err(reject(
            s,
            format!(
                "worker {from} is incarnation {}, worker {me}'s assignment has incarnation \
                 {expected} for it",
                hello.from_incarnation
            ),
        )
        .await);
    }
    let ends = Ends::of(&hello);
    let message = auth_message(&my_nonce, &shared.topology, ends);
    let ok = match &shared.key {
        Some(_) if f.payload.is_empty() => {
            return Err(reject(
                s,
                format!("worker {from} sent no authentication code (it has no cluster secret)"),
            )
            .await);
        }
        Some(key) => hmac::verify(key, &message, &f.payload).is_ok(),
        None => f.payload.is_empty(),
    };
    if !ok {
        let reason = if shared.key.is_some() {
            format!("worker {from} sent a wrong authentication code (a different cluster secret?)")
        } else {
            format!("worker {from} has a cluster secret and worker {me} has none")
        };
        return Err(reject(s, reason).await);
    }
    if hello.credit == 0 {
        return Err(reject(s, format!("worker {from} granted no credit")).await);
    }
    let mut accept = shared.credit.to_le_bytes().to_vec();
    accept.extend_from_slice(&shared.incarnation.to_le_bytes());
    accept.extend_from_slice(&sign(
        shared.key.as_ref(),
        &accept_message(&hello.nonce, &shared.topology, ends),
    ));
    send(s, Kind::Accept, &accept).await?;
    Ok((from, hello.credit, hello.from_incarnation))
}

/// Sends a reject with `reason` (best effort) and returns the failure.
async fn reject(s: &mut BufReader<BoxStream>, reason: String) -> Failure {
    let _ = send(s, Kind::Reject, reason.as_bytes()).await;
    let _ = s.shutdown().await;
    Failure::Rejected(reason)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hello_round_trip() {
        let hello = Hello {
            from: 1,
            to: 4,
            credit: 16,
            from_incarnation: 3,
            to_incarnation: 5,
            nonce: [7; NONCE],
            topology: "wordcount".into(),
        };
        assert_eq!(Hello::decode(&hello.encode()), Ok(hello.clone()));
        let mut bad = hello.encode();
        bad[0] = b'X';
        assert!(Hello::decode(&bad).is_err());
        let mut bad = hello.encode();
        bad[4] = 9;
        assert!(
            Hello::decode(&bad)
                .expect_err("bad version")
                .contains("version 9")
        );
        assert!(Hello::decode(&hello.encode()[..20]).is_err());
    }
}
