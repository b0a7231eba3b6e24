//! How a batch travels between worker processes: the tuples encoded with their generated
//! [`Codec`], then each tuple's tree ids. The acking messages (to ackers, and their replies
//! to spouts) have codecs here too, so acking works across workers.
//!
//! A batch is `varint n`, `n` tuples, then `varint m` (`0` or `n`) tree ids. Decoding
//! never trusts a count: a count larger than the bytes left is an error before anything is
//! allocated.
//!
//! A control message (the payload of a data-plane control frame, see
//! [`super::Control`]) is a tag byte and its fields: `1` watermark, `i64` LE epoch ms.
//! Tags are never reused; a receiver refuses one it does not know.

use super::Control;
use crate::ack::{AckerMsg, Reply, TupleIds};
use crate::codec::{Codec, DecodeError, bounded_capacity, get_varint, put_varint};

/// Appends the encoding of a batch (its tuples and, when tracked, their tree ids).
pub fn encode_batch<T: Codec>(tuples: &[T], ids: &[TupleIds], out: &mut Vec<u8>) {
    put_varint(out, tuples.len() as u64);
    for t in tuples {
        t.encode(out);
    }
    put_varint(out, ids.len() as u64);
    for i in ids {
        i.encode(out);
    }
}

/// Decodes a whole batch; trailing bytes are an error.
pub fn decode_batch<T: Codec>(mut input: &[u8]) -> Result<(Vec<T>, Vec<TupleIds>), DecodeError> {
    let n = count(&mut input)?;
    let mut tuples = Vec::with_capacity(bounded_capacity::<T>(n));
    for _ in 0..n {
        tuples.push(T::decode(&mut input)?);
    }
    let m = count(&mut input)?;
    if m != 0 && m != n {
        return Err(DecodeError::TooLong(m as u64));
    }
    let mut ids = Vec::with_capacity(bounded_capacity::<TupleIds>(m));
    for _ in 0..m {
        ids.push(TupleIds::decode(&mut input)?);
    }
    if !input.is_empty() {
        return Err(DecodeError::TooLong(input.len() as u64));
    }
    Ok((tuples, ids))
}

/// The tag of [`Control::Watermark`].
const WATERMARK: u8 = 1;
/// The tag of a periodic checkpoint's [`Control::Barrier`].
const BARRIER: u8 = 2;
/// The tag of a savepoint's [`Control::Barrier`].
const SAVEPOINT_BARRIER: u8 = 3;

/// Appends the encoding of a control message.
pub fn encode_control(control: &Control, out: &mut Vec<u8>) {
    match *control {
        Control::Watermark(ts) => {
            out.push(WATERMARK);
            out.extend_from_slice(&ts.to_le_bytes());
        }
        Control::Barrier { id, savepoint } => {
            out.push(if savepoint {
                SAVEPOINT_BARRIER
            } else {
                BARRIER
            });
            out.extend_from_slice(&id.to_le_bytes());
        }
    }
}

/// Decodes a whole control message; trailing bytes are an error.
pub fn decode_control(mut input: &[u8]) -> Result<Control, DecodeError> {
    let control = match tag(&mut input)? {
        WATERMARK => Control::Watermark(fixed(&mut input)? as i64),
        BARRIER => Control::Barrier {
            id: fixed(&mut input)?,
            savepoint: false,
        },
        SAVEPOINT_BARRIER => Control::Barrier {
            id: fixed(&mut input)?,
            savepoint: true,
        },
        t => return Err(DecodeError::BadTag(t)),
    };
    if !input.is_empty() {
        return Err(DecodeError::TooLong(input.len() as u64));
    }
    Ok(control)
}

/// A count of items that each take at least one byte: at most the bytes left.
fn count(input: &mut &[u8]) -> Result<usize, DecodeError> {
    let n = get_varint(input)?;
    if n > input.len() as u64 {
        return Err(DecodeError::TooLong(n));
    }
    Ok(n as usize)
}

fn tag(input: &mut &[u8]) -> Result<u8, DecodeError> {
    let (&b, rest) = input.split_first().ok_or(DecodeError::UnexpectedEnd)?;
    *input = rest;
    Ok(b)
}

impl Codec for TupleIds {
    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            TupleIds::None => out.push(0),
            TupleIds::One((r, e)) => {
                out.push(1);
                out.extend_from_slice(&r.to_le_bytes());
                out.extend_from_slice(&e.to_le_bytes());
            }
            TupleIds::Many(v) => {
                out.push(2);
                put_varint(out, v.len() as u64);
                for (r, e) in v {
                    out.extend_from_slice(&r.to_le_bytes());
                    out.extend_from_slice(&e.to_le_bytes());
                }
            }
        }
    }

    fn decode(input: &mut &[u8]) -> Result<Self, DecodeError> {
        match tag(input)? {
            0 => Ok(TupleIds::None),
            1 => Ok(TupleIds::One((fixed(input)?, fixed(input)?))),
            2 => {
                let n = count(input)?;
                let mut v = Vec::with_capacity(bounded_capacity::<(u64, u64)>(n));
                for _ in 0..n {
                    v.push((fixed(input)?, fixed(input)?));
                }
                Ok(TupleIds::Many(v))
            }
            t => Err(DecodeError::BadTag(t)),
        }
    }
}

/// A fixed 8-byte little-endian u64 (ids are random: a varint would be longer).
fn fixed(input: &mut &[u8]) -> Result<u64, DecodeError> {
    if input.len() < 8 {
        return Err(DecodeError::UnexpectedEnd);
    }
    let (head, rest) = input.split_at(8);
    *input = rest;
    let mut a = [0u8; 8];
    a.copy_from_slice(head);
    Ok(u64::from_le_bytes(a))
}

impl Codec for AckerMsg {
    fn encode(&self, out: &mut Vec<u8>) {
        match *self {
            AckerMsg::Init { root, val, spout } => {
                out.push(0);
                out.extend_from_slice(&root.to_le_bytes());
                out.extend_from_slice(&val.to_le_bytes());
                put_varint(out, u64::from(spout));
            }
            AckerMsg::Ack { root, val } => {
                out.push(1);
                out.extend_from_slice(&root.to_le_bytes());
                out.extend_from_slice(&val.to_le_bytes());
            }
            AckerMsg::Fail { root } => {
                out.push(2);
                out.extend_from_slice(&root.to_le_bytes());
            }
            AckerMsg::Forget { root } => {
                out.push(3);
                out.extend_from_slice(&root.to_le_bytes());
            }
        }
    }

    fn decode(input: &mut &[u8]) -> Result<Self, DecodeError> {
        Ok(match tag(input)? {
            0 => AckerMsg::Init {
                root: fixed(input)?,
                val: fixed(input)?,
                spout: u32::decode(input)?,
            },
            1 => AckerMsg::Ack {
                root: fixed(input)?,
                val: fixed(input)?,
            },
            2 => AckerMsg::Fail {
                root: fixed(input)?,
            },
            3 => AckerMsg::Forget {
                root: fixed(input)?,
            },
            t => return Err(DecodeError::BadTag(t)),
        })
    }
}

impl Codec for Reply {
    fn encode(&self, out: &mut Vec<u8>) {
        let (t, root) = match *self {
            Reply::Complete(r) => (0, r),
            Reply::Failed(r) => (1, r),
        };
        out.push(t);
        out.extend_from_slice(&root.to_le_bytes());
    }

    fn decode(input: &mut &[u8]) -> Result<Self, DecodeError> {
        match tag(input)? {
            0 => Ok(Reply::Complete(fixed(input)?)),
            1 => Ok(Reply::Failed(fixed(input)?)),
            t => Err(DecodeError::BadTag(t)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ids() -> impl Strategy<Value = TupleIds> {
        prop_oneof![
            Just(TupleIds::None),
            any::<(u64, u64)>().prop_map(TupleIds::One),
            proptest::collection::vec(any::<(u64, u64)>(), 0..4).prop_map(TupleIds::Many),
        ]
    }

    proptest! {
        #[test]
        fn batches_round_trip(
            tuples in proptest::collection::vec(".{0,12}", 0..40),
            tracked in any::<bool>(),
            seed in proptest::collection::vec(ids(), 40),
        ) {
            let ids: Vec<TupleIds> = if tracked { seed[..tuples.len()].to_vec() } else { Vec::new() };
            let mut buf = Vec::new();
            encode_batch(&tuples, &ids, &mut buf);
            let (t2, i2) = decode_batch::<String>(&buf).expect("decodes");
            prop_assert_eq!(t2, tuples);
            prop_assert_eq!(i2, ids);
        }

        #[test]
        fn watermarks_round_trip(ts in any::<i64>()) {
            let mut buf = Vec::new();
            encode_control(&Control::Watermark(ts), &mut buf);
            prop_assert_eq!(buf.len(), 9);
            prop_assert_eq!(decode_control(&buf), Ok(Control::Watermark(ts)));
            // Truncated or with trailing bytes: refused, never misread.
            prop_assert!(decode_control(&buf[..8]).is_err());
            buf.push(0);
            prop_assert!(decode_control(&buf).is_err());
        }

        #[test]
        fn barriers_round_trip(id in any::<u64>(), savepoint in any::<bool>()) {
            let mut buf = Vec::new();
            let barrier = Control::Barrier { id, savepoint };
            encode_control(&barrier, &mut buf);
            prop_assert_eq!(buf.len(), 9);
            prop_assert_eq!(decode_control(&buf), Ok(barrier));
            prop_assert!(decode_control(&buf[..8]).is_err());
            buf.push(0);
            prop_assert!(decode_control(&buf).is_err());
        }

        #[test]
        fn garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = decode_control(&bytes);
            let _ = decode_batch::<String>(&bytes);
            let _ = decode_batch::<AckerMsg>(&bytes);
            let _ = decode_batch::<Reply>(&bytes);
        }

        #[test]
        fn acker_messages_round_trip(root in any::<u64>(), val in any::<u64>(), spout in any::<u32>()) {
            let msgs = vec![
                AckerMsg::Init { root, val, spout },
                AckerMsg::Ack { root, val },
                AckerMsg::Fail { root },
                AckerMsg::Forget { root },
            ];
            let mut buf = Vec::new();
            encode_batch(&msgs, &[], &mut buf);
            let (back, _) = decode_batch::<AckerMsg>(&buf).expect("decodes");
            prop_assert_eq!(back, msgs);
            let replies = vec![Reply::Complete(root), Reply::Failed(val)];
            let mut buf = Vec::new();
            encode_batch(&replies, &[], &mut buf);
            prop_assert_eq!(decode_batch::<Reply>(&buf).expect("decodes").0, replies);
        }
    }

    #[test]
    fn an_unknown_control_tag_is_refused() {
        assert_eq!(decode_control(&[]), Err(DecodeError::UnexpectedEnd));
        assert_eq!(decode_control(&[0, 1, 2]), Err(DecodeError::BadTag(0)));
        assert_eq!(decode_control(&[77]), Err(DecodeError::BadTag(77)));
    }

    #[test]
    fn a_huge_count_is_refused_before_allocating() {
        let mut buf = Vec::new();
        put_varint(&mut buf, u64::MAX / 2);
        assert_eq!(
            decode_batch::<String>(&buf),
            Err(DecodeError::TooLong(u64::MAX / 2))
        );
    }
}
