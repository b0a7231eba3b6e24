//! Which windows an element belongs to.

use crate::codec::{Codec, DecodeError};

/// A window `[start, end)` in milliseconds (event or processing time).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Window {
    /// Its first millisecond.
    pub start: u64,
    /// One past its last millisecond.
    pub end: u64,
}

impl Window {
    /// Its last millisecond: it fires when time reaches it.
    pub fn max_timestamp(&self) -> u64 {
        self.end.saturating_sub(1)
    }

    /// Whether it overlaps `other` (session windows then merge). Windows that only touch
    /// do not: two elements exactly a gap apart are two sessions, whatever order they come
    /// in (a session fires at its last millisecond, before an element at its end can come).
    pub fn touches(&self, other: &Window) -> bool {
        self.start < other.end && other.start < self.end
    }

    /// The smallest window covering both.
    pub fn cover(&self, other: &Window) -> Window {
        Window {
            start: self.start.min(other.start),
            end: self.end.max(other.end),
        }
    }
}

impl Codec for Window {
    fn encode(&self, out: &mut Vec<u8>) {
        self.start.encode(out);
        self.end.encode(out);
    }
    fn decode(input: &mut &[u8]) -> Result<Self, DecodeError> {
        Ok(Window {
            start: u64::decode(input)?,
            end: u64::decode(input)?,
        })
    }
}

/// How elements are assigned to windows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Assigner {
    /// Fixed windows of `size` ms, aligned to the epoch.
    Tumbling {
        /// The window length.
        size: u64,
    },
    /// Windows of `size` ms starting every `slide` ms (an element is in `size / slide`).
    Sliding {
        /// The window length.
        size: u64,
        /// The distance between window starts.
        slide: u64,
    },
    /// Per key, activity separated by less than `gap` ms is one window.
    Session {
        /// The inactivity that ends a session.
        gap: u64,
    },
    /// Per key, every `n` elements are one window (time plays no part).
    Count {
        /// Elements per window.
        n: u64,
    },
}

impl Assigner {
    /// The windows an element at `ts` belongs to (for sessions, its own `[ts, ts + gap)`,
    /// before merging; for count windows, none: the operator counts).
    pub fn assign(&self, ts: u64, out: &mut Vec<Window>) {
        out.clear();
        match *self {
            Assigner::Tumbling { size } => {
                let size = size.max(1);
                let start = ts - ts % size;
                out.push(Window {
                    start,
                    end: start.saturating_add(size),
                });
            }
            Assigner::Sliding { size, slide } => {
                let (size, slide) = (size.max(1), slide.max(1));
                let mut start = ts - ts % slide;
                loop {
                    out.push(Window {
                        start,
                        end: start.saturating_add(size),
                    });
                    match start.checked_sub(slide) {
                        Some(s) if s.saturating_add(size) > ts => start = s,
                        _ => break,
                    }
                }
            }
            Assigner::Session { gap } => out.push(Window {
                start: ts,
                end: ts.saturating_add(gap.max(1)),
            }),
            Assigner::Count { .. } => {}
        }
    }

    /// Whether its windows of one key merge.
    pub fn merges(&self) -> bool {
        matches!(self, Assigner::Session { .. })
    }
}
