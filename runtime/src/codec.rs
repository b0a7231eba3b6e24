//! The compact binary codec tuples use between worker processes (and in savepoints).
//!
//! `u8` is one raw byte, other unsigned integers LEB128 varints, signed ones zigzag varints,
//! floats little-endian,
//! strings and byte arrays a varint length then the bytes, `Option` a tag byte, `Vec` a
//! length then the items, a tuple its fields in declaration order. Decoding never trusts a
//! length: it checks it against the bytes that remain before allocating.

use thiserror::Error;

/// Why bytes could not be decoded into a value.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DecodeError {
    /// The input ended in the middle of a value.
    #[error("input ended in the middle of a value")]
    UnexpectedEnd,
    /// A varint longer than 10 bytes, or overflowing its type.
    #[error("malformed integer")]
    BadInt,
    /// A string that is not UTF-8.
    #[error("string is not valid UTF-8")]
    BadUtf8,
    /// A tag byte with an unknown value (Option, bool, enum).
    #[error("unknown tag {0}")]
    BadTag(u8),
    /// A length larger than the remaining input.
    #[error("length {0} exceeds the remaining input")]
    TooLong(u64),
}

/// A value that can be written to and read from the binary codec.
pub trait Codec: Sized {
    /// Appends the encoding of `self`.
    fn encode(&self, out: &mut Vec<u8>);
    /// Reads one value from the front of `input`, advancing it.
    fn decode(input: &mut &[u8]) -> Result<Self, DecodeError>;
    /// Encodes a slice of values (a `Vec`'s items, after its length); types with a faster
    /// bulk form (`u8`: the bytes as they are) override it.
    fn encode_slice(items: &[Self], out: &mut Vec<u8>)
    where
        Self: Sized,
    {
        for v in items {
            v.encode(out);
        }
    }
    /// Decodes `n` values (a `Vec`'s items); `n` was checked against the bytes left.
    fn decode_many(n: usize, input: &mut &[u8]) -> Result<Vec<Self>, DecodeError>
    where
        Self: Sized,
    {
        let mut v = Vec::with_capacity(bounded_capacity::<Self>(n));
        for _ in 0..n {
            v.push(Self::decode(input)?);
        }
        Ok(v)
    }
}

/// Writes an unsigned varint.
#[inline]
pub fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Reads an unsigned varint.
#[inline]
pub fn get_varint(input: &mut &[u8]) -> Result<u64, DecodeError> {
    let mut v = 0u64;
    for i in 0..10 {
        let (&b, rest) = input.split_first().ok_or(DecodeError::UnexpectedEnd)?;
        *input = rest;
        if i == 9 && b > 1 {
            return Err(DecodeError::BadInt);
        }
        v |= ((b & 0x7f) as u64) << (7 * i);
        if b < 0x80 {
            return Ok(v);
        }
    }
    Err(DecodeError::BadInt)
}

fn take<'a>(input: &mut &'a [u8], n: u64) -> Result<&'a [u8], DecodeError> {
    if n > input.len() as u64 {
        return Err(DecodeError::TooLong(n));
    }
    let (head, rest) = input.split_at(n as usize);
    *input = rest;
    Ok(head)
}

macro_rules! unsigned {
    ($($t:ty),*) => {$(
        impl Codec for $t {
            #[inline]
            fn encode(&self, out: &mut Vec<u8>) { put_varint(out, *self as u64) }
            #[inline]
            fn decode(input: &mut &[u8]) -> Result<Self, DecodeError> {
                <$t>::try_from(get_varint(input)?).map_err(|_| DecodeError::BadInt)
            }
        }
    )*};
}
unsigned!(u16, u32, u64);

/// `u8` is one raw byte, so `bytes` (`Vec<u8>`) is a varint length then the bytes as they are.
impl Codec for u8 {
    #[inline]
    fn encode(&self, out: &mut Vec<u8>) {
        out.push(*self)
    }
    #[inline]
    fn decode(input: &mut &[u8]) -> Result<Self, DecodeError> {
        Ok(take(input, 1)?[0])
    }
    fn encode_slice(items: &[u8], out: &mut Vec<u8>) {
        out.extend_from_slice(items);
    }
    fn decode_many(n: usize, input: &mut &[u8]) -> Result<Vec<u8>, DecodeError> {
        Ok(take(input, n as u64)?.to_vec())
    }
}

macro_rules! signed {
    ($($t:ty),*) => {$(
        impl Codec for $t {
            #[inline]
            fn encode(&self, out: &mut Vec<u8>) {
                let v = *self as i64;
                put_varint(out, ((v << 1) ^ (v >> 63)) as u64)
            }
            #[inline]
            fn decode(input: &mut &[u8]) -> Result<Self, DecodeError> {
                let z = get_varint(input)?;
                let v = ((z >> 1) as i64) ^ -((z & 1) as i64);
                <$t>::try_from(v).map_err(|_| DecodeError::BadInt)
            }
        }
    )*};
}
signed!(i8, i16, i32, i64);

impl Codec for () {
    fn encode(&self, _out: &mut Vec<u8>) {}
    fn decode(_input: &mut &[u8]) -> Result<Self, DecodeError> {
        Ok(())
    }
}

impl Codec for f32 {
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes())
    }
    fn decode(input: &mut &[u8]) -> Result<Self, DecodeError> {
        let b = take(input, 4)?;
        Ok(f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
}

impl Codec for f64 {
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes())
    }
    fn decode(input: &mut &[u8]) -> Result<Self, DecodeError> {
        let b = take(input, 8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(f64::from_le_bytes(a))
    }
}

impl Codec for bool {
    fn encode(&self, out: &mut Vec<u8>) {
        out.push(*self as u8)
    }
    fn decode(input: &mut &[u8]) -> Result<Self, DecodeError> {
        match take(input, 1)?[0] {
            0 => Ok(false),
            1 => Ok(true),
            t => Err(DecodeError::BadTag(t)),
        }
    }
}

/// `Str`: encoded as a `String` is (the two are interchangeable on the wire).
impl Codec for crate::tuple::Str {
    fn encode(&self, out: &mut Vec<u8>) {
        put_varint(out, self.len() as u64);
        out.extend_from_slice(self.as_bytes());
    }
    fn decode(input: &mut &[u8]) -> Result<Self, DecodeError> {
        let n = get_varint(input)?;
        let b = take(input, n)?;
        crate::tuple::Str::from_utf8(b).map_err(|_| DecodeError::BadUtf8)
    }
}

impl Codec for String {
    fn encode(&self, out: &mut Vec<u8>) {
        put_varint(out, self.len() as u64);
        out.extend_from_slice(self.as_bytes());
    }
    fn decode(input: &mut &[u8]) -> Result<Self, DecodeError> {
        let n = get_varint(input)?;
        let b = take(input, n)?;
        std::str::from_utf8(b)
            .map(str::to_owned)
            .map_err(|_| DecodeError::BadUtf8)
    }
}

impl<T: Codec> Codec for Option<T> {
    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            None => out.push(0),
            Some(v) => {
                out.push(1);
                v.encode(out);
            }
        }
    }
    fn decode(input: &mut &[u8]) -> Result<Self, DecodeError> {
        match take(input, 1)?[0] {
            0 => Ok(None),
            1 => Ok(Some(T::decode(input)?)),
            t => Err(DecodeError::BadTag(t)),
        }
    }
}

/// `Vec<T>`, including `bytes` (`Vec<u8>`, one byte per item).
impl<T: Codec> Codec for Vec<T> {
    fn encode(&self, out: &mut Vec<u8>) {
        put_varint(out, self.len() as u64);
        T::encode_slice(self, out);
    }
    fn decode(input: &mut &[u8]) -> Result<Self, DecodeError> {
        let n = get_varint(input)?;
        // Every item takes at least one byte: a length beyond the input is malformed.
        if n > input.len() as u64 {
            return Err(DecodeError::TooLong(n));
        }
        T::decode_many(n as usize, input)
    }
}

macro_rules! tuple {
    ($($name:ident)+) => {
        // A tuple of values (a key of several fields): its items in order.
        impl<$($name: Codec),+> Codec for ($($name,)+) {
            fn encode(&self, out: &mut Vec<u8>) {
                #[allow(non_snake_case)]
                let ($($name,)+) = self;
                $($name.encode(out);)+
            }
            fn decode(input: &mut &[u8]) -> Result<Self, DecodeError> {
                Ok(($($name::decode(input)?,)+))
            }
        }
    };
}
tuple!(A B);
tuple!(A B C);
tuple!(A B C D);

/// The capacity to reserve for `n` decoded items: `n` was only checked against the bytes
/// left (an item takes at least one byte), but an item in memory may be much larger than
/// its one byte on the wire, so at most 64 KiB worth of items are reserved up front; the
/// vector grows as items really decode.
pub fn bounded_capacity<T>(n: usize) -> usize {
    n.min((64 << 10) / std::mem::size_of::<T>().max(1))
}

/// Encodes a value into a fresh buffer.
pub fn to_bytes<T: Codec>(value: &T) -> Vec<u8> {
    let mut out = Vec::new();
    value.encode(&mut out);
    out
}

/// Decodes a value that must use all of `bytes`.
pub fn from_bytes<T: Codec>(mut bytes: &[u8]) -> Result<T, DecodeError> {
    let v = T::decode(&mut bytes)?;
    if bytes.is_empty() {
        Ok(v)
    } else {
        Err(DecodeError::TooLong(bytes.len() as u64))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn roundtrip<T: Codec + PartialEq + std::fmt::Debug>(v: T) {
        assert_eq!(from_bytes::<T>(&to_bytes(&v)), Ok(v));
    }

    #[test]
    fn bytes_are_raw_one_byte_each() {
        let v: Vec<u8> = vec![0x00, 0x7f, 0x80, 0xff];
        assert_eq!(to_bytes(&v), [4, 0x00, 0x7f, 0x80, 0xff]);
        assert_eq!(from_bytes::<Vec<u8>>(&to_bytes(&v)), Ok(v));
    }

    proptest! {
        #[test]
        fn integers_roundtrip(a: u64, b: i64, c: i8, d: u16) {
            roundtrip(a); roundtrip(b); roundtrip(c); roundtrip(d);
        }

        #[test]
        fn containers_roundtrip(s: String, v: Vec<i32>, o: Option<String>, bytes: Vec<u8>) {
            roundtrip(s); roundtrip(v); roundtrip(o); roundtrip(bytes);
        }

        #[test]
        fn a_str_is_encoded_as_its_string_is(s: String) {
            let inline = crate::tuple::Str::from(s.as_str());
            prop_assert_eq!(to_bytes(&inline), to_bytes(&s));
            prop_assert_eq!(from_bytes::<crate::tuple::Str>(&to_bytes(&s)), Ok(inline));
        }

        #[test]
        fn garbage_never_panics(bytes: Vec<u8>) {
            let _ = from_bytes::<Vec<String>>(&bytes);
            let _ = from_bytes::<crate::tuple::Str>(&bytes);
            let _ = from_bytes::<Option<u64>>(&bytes);
        }
    }

    #[test]
    fn lengths_are_checked_before_allocating() {
        let mut huge = Vec::new();
        put_varint(&mut huge, u64::MAX >> 1);
        assert!(matches!(
            from_bytes::<Vec<u64>>(&huge),
            Err(DecodeError::TooLong(_))
        ));
        assert!(matches!(
            from_bytes::<String>(&huge),
            Err(DecodeError::TooLong(_))
        ));
        assert!(matches!(
            from_bytes::<crate::tuple::Str>(&huge),
            Err(DecodeError::TooLong(_))
        ));
    }

    #[test]
    fn a_str_that_is_not_utf8_is_refused() {
        assert_eq!(
            from_bytes::<crate::tuple::Str>(&[2, 0xff, 0xfe]),
            Err(DecodeError::BadUtf8)
        );
    }
}
