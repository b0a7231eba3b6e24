//! The time the acking machinery sees: the system's monotonic clock, or a manual clock that
//! tests move forward by hand (timeouts become deterministic).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// A monotonic clock in microseconds since it was made.
#[derive(Debug, Clone)]
pub struct Clock(Source);

#[derive(Debug, Clone)]
enum Source {
    System(Instant),
    Manual(Arc<AtomicU64>),
}

impl Default for Clock {
    fn default() -> Self {
        Clock::system()
    }
}

impl Clock {
    /// The system's monotonic clock.
    pub fn system() -> Self {
        Clock(Source::System(Instant::now()))
    }

    /// A clock that stands still at 0 until [`advance`](Clock::advance)d. Clones share it.
    pub fn manual() -> Self {
        Clock(Source::Manual(Arc::new(AtomicU64::new(0))))
    }

    /// Microseconds since the clock was made (or the manual time).
    #[inline]
    pub fn now_us(&self) -> u64 {
        match &self.0 {
            Source::System(start) => start.elapsed().as_micros() as u64,
            Source::Manual(t) => t.load(Ordering::Acquire),
        }
    }

    /// Milliseconds since the clock was made (or the manual time).
    pub fn now_ms(&self) -> u64 {
        self.now_us() / 1000
    }

    /// Moves a manual clock forward by `ms` milliseconds. Returns false (and does nothing)
    /// on the system clock.
    pub fn advance(&self, ms: u64) -> bool {
        match &self.0 {
            Source::System(_) => false,
            Source::Manual(t) => {
                t.fetch_add(ms * 1000, Ordering::AcqRel);
                true
            }
        }
    }

    /// True for a manual clock.
    pub fn is_manual(&self) -> bool {
        matches!(self.0, Source::Manual(_))
    }
}
