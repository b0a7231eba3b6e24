//! Frames on the wire.
//!
//! Every frame is a `u32` little-endian length of what follows, then a kind byte, then a
//! `u128` little-endian channel (its source and destination, see [`ChannelId`]), then the
//! payload (length − 17 bytes). The reader checks the
//! length against its limit before allocating anything for the payload.

use std::io;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::ChannelId;

/// Bytes of the length prefix.
pub(super) const PREFIX: usize = 4;
/// Bytes counted by the length before the payload: the kind and the channel.
pub(super) const HEADER: usize = 1 + 16;

/// What a frame carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    /// A payload for the channel's receiver (takes a credit).
    Data,
    /// The end of the channel's stream (takes a credit).
    End,
    /// An in-band control message for the channel's receiver, ordered with its data
    /// (takes a credit): a watermark now, a checkpoint barrier next.
    Control,
    /// Credits given back to the sender of the channel: payload `u32` count.
    Credit,
    /// Handshake, dialer → acceptor: magic, version, indexes, credit, nonce, topology.
    Hello,
    /// Handshake, acceptor → dialer: a 32-byte random nonce.
    Nonce,
    /// Handshake, dialer → acceptor: the authentication code (empty without a secret).
    Auth,
    /// Handshake, acceptor → dialer: accepted; the acceptor's credit and its own code.
    Accept,
    /// Handshake, acceptor → dialer: rejected; the payload is the reason (UTF-8).
    Reject,
}

impl Kind {
    /// The kind's byte on the wire.
    pub(super) fn byte(self) -> u8 {
        match self {
            Kind::Data => 1,
            Kind::End => 2,
            Kind::Credit => 3,
            Kind::Control => 4,
            Kind::Hello => 16,
            Kind::Nonce => 17,
            Kind::Auth => 18,
            Kind::Accept => 19,
            Kind::Reject => 20,
        }
    }

    fn from_byte(b: u8) -> Option<Kind> {
        Some(match b {
            1 => Kind::Data,
            2 => Kind::End,
            3 => Kind::Credit,
            4 => Kind::Control,
            16 => Kind::Hello,
            17 => Kind::Nonce,
            18 => Kind::Auth,
            19 => Kind::Accept,
            20 => Kind::Reject,
            _ => return None,
        })
    }
}

/// One frame read from a connection.
#[derive(Debug)]
pub(super) struct Frame {
    pub(super) kind: Kind,
    pub(super) channel: ChannelId,
    pub(super) payload: Vec<u8>,
}

/// An `InvalidData` error: the peer broke the protocol.
pub(super) fn invalid(msg: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.into())
}

/// Whether a length prefix looks like the start of a TLS record (content type 20..=23,
/// major version 3): a plain-TCP worker talking to a TLS one, or the reverse.
fn looks_like_tls(prefix: [u8; PREFIX]) -> bool {
    (0x14..=0x17).contains(&prefix[0]) && prefix[1] == 3
}

/// Reads one frame; `Ok(None)` on a clean end of stream (at a frame boundary). A length
/// above `limit` is an error before anything is allocated; `from` names the peer in it.
pub(super) async fn read<R: AsyncRead + Unpin>(
    r: &mut R,
    limit: usize,
    from: &str,
) -> io::Result<Option<Frame>> {
    let mut prefix = [0u8; PREFIX];
    let mut got = 0;
    while got < PREFIX {
        let n = r.read(&mut prefix[got..]).await?;
        if n == 0 {
            if got == 0 {
                return Ok(None);
            }
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("connection closed inside a frame from {from}"),
            ));
        }
        got += n;
    }
    let len = u32::from_le_bytes(prefix) as usize;
    if len > limit {
        let hint = if looks_like_tls(prefix) {
            " (it looks like TLS: is TLS configured on both workers?)"
        } else {
            ""
        };
        return Err(invalid(format!(
            "frame of {len} bytes exceeds the limit of {limit} bytes from {from}{hint}"
        )));
    }
    if len < HEADER {
        return Err(invalid(format!(
            "frame of {len} bytes from {from} is shorter than its {HEADER}-byte header"
        )));
    }
    let kind_byte = r.read_u8().await?;
    let Some(kind) = Kind::from_byte(kind_byte) else {
        return Err(invalid(format!(
            "unknown frame kind {kind_byte} from {from}"
        )));
    };
    let channel = r.read_u128_le().await?;
    let mut payload = vec![0u8; len - HEADER];
    r.read_exact(&mut payload).await?;
    Ok(Some(Frame {
        kind,
        channel,
        payload,
    }))
}

/// The prefix and header of a frame whose payload is `payload_len` bytes.
pub(super) fn header(
    kind: Kind,
    channel: ChannelId,
    payload_len: usize,
) -> io::Result<[u8; PREFIX + HEADER]> {
    let len = payload_len
        .checked_add(HEADER)
        .and_then(|l| u32::try_from(l).ok())
        .ok_or_else(|| invalid(format!("a payload of {payload_len} bytes is too large")))?;
    let mut h = [0u8; PREFIX + HEADER];
    h[..PREFIX].copy_from_slice(&len.to_le_bytes());
    h[PREFIX] = kind.byte();
    h[PREFIX + 1..].copy_from_slice(&channel.to_le_bytes());
    Ok(h)
}

/// Writes one frame (into a buffered writer: the caller flushes).
pub(super) async fn write<W: AsyncWrite + Unpin>(
    w: &mut W,
    kind: Kind,
    channel: ChannelId,
    payload: &[u8],
) -> io::Result<()> {
    w.write_all(&header(kind, channel, payload.len())?).await?;
    w.write_all(payload).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a current-thread runtime")
            .block_on(f)
    }

    #[test]
    fn round_trip_and_limits() {
        block_on(async {
            let mut buf = Vec::new();
            write(&mut buf, Kind::Data, 7, b"hello")
                .await
                .expect("write");
            write(&mut buf, Kind::Credit, 9, &3u32.to_le_bytes())
                .await
                .expect("write");
            assert_eq!(&buf[..4], &(17u32 + 5).to_le_bytes());
            let mut r = &buf[..];
            let f = read(&mut r, 1024, "test")
                .await
                .expect("read")
                .expect("frame");
            assert_eq!(
                (f.kind, f.channel, &f.payload[..]),
                (Kind::Data, 7, &b"hello"[..])
            );
            let f = read(&mut r, 1024, "test")
                .await
                .expect("read")
                .expect("frame");
            assert_eq!((f.kind, f.channel), (Kind::Credit, 9));
            assert!(read(&mut r, 1024, "test").await.expect("eof").is_none());

            // Too long: refused before reading (or allocating) the payload.
            let mut r = &buf[..];
            let e = read(&mut r, 10, "worker 3").await.expect_err("too long");
            assert_eq!(
                e.to_string(),
                "frame of 22 bytes exceeds the limit of 10 bytes from worker 3"
            );
            // Truncated inside a frame.
            let mut r = &buf[..2];
            assert!(read(&mut r, 1024, "test").await.is_err());
            // Shorter than a header, and an unknown kind.
            let mut r = &[1u8, 0, 0, 0, 1][..];
            assert!(read(&mut r, 1024, "test").await.is_err());
            let mut bad = buf.clone();
            bad[4] = 99;
            let mut r = &bad[..];
            assert!(read(&mut r, 1024, "test").await.is_err());
        });
    }
}
