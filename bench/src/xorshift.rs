//! The keyed benchmarks' keys: xorshift64 per spout task (the same generator as
//! `bench/timely`'s), 10,000 distinct.

/// Distinct keys.
pub const KEYS: u64 = 10_000;

/// The first xorshift64 state of spout task (or timely worker) `w`.
pub fn seed(w: u64) -> u64 {
    0x2545_F491_4F6C_DD1D ^ (w + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// The next xorshift64 number.
#[inline]
pub fn next(s: &mut u64) -> u64 {
    let mut x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *s = x;
    x
}
