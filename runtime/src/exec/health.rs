//! Executor health: is every executor of this worker making progress?
//!
//! A worker's heartbeat comes from its main loop, not from its executors, so a bolt stuck
//! forever in `execute` would look alive to nimbus. Each executor therefore publishes its
//! [`ExecutorProgress`]: a counter bumped, and the time stamped, for every message (batch)
//! it takes from its input or every round of spout calls, and how much input it has
//! pending (what waited in its queue when it last took a message, plus the one in hand).
//! The worker samples these every heartbeat and [`assess`]es them: an executor that has had
//! pending input and made no progress for the topology's `hang_timeout` is hung, and the
//! worker gives up (its supervisor restarts it).
//!
//! Progress is counted per batch: a single batch whose tuples together take longer than
//! `hang_timeout` to execute looks hung. Choose the timeout well above the slowest batch.
//! An executor blocked on a full downstream queue makes no progress either: behind a hung
//! bolt its producers stall too, later than it, so the hung one is named first.
//!
//! [`assess`] is pure: the caller passes the time in, so it is tested without clocks.

use crate::topology::{ConfigValue, TopologyDesc, config_value};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

/// The config key of the hang timeout.
pub const HANG_TIMEOUT_KEY: &str = "hang_timeout";
/// The hang timeout when the topology does not set one.
pub const DEFAULT_HANG_TIMEOUT: Duration = Duration::from_secs(60);

/// Microseconds since this process first asked: the time base of progress stamps.
pub fn now_us() -> u64 {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    EPOCH.get_or_init(Instant::now).elapsed().as_micros() as u64
}

/// What one executor publishes about its progress (written by the executor, read by its
/// worker's heartbeat loop).
#[derive(Debug, Default)]
pub struct ExecutorProgress {
    /// Messages taken from the input (or rounds of spout calls), ever.
    progress: AtomicU64,
    /// Input pending: messages waiting when the executor last took one, plus the one in hand
    /// (0 while it waits for input).
    pending: AtomicU64,
    /// [`now_us`] when it last took a message.
    at_us: AtomicU64,
}

impl ExecutorProgress {
    /// No progress, nothing pending.
    pub const fn new() -> Self {
        ExecutorProgress {
            progress: AtomicU64::new(0),
            pending: AtomicU64::new(0),
            at_us: AtomicU64::new(0),
        }
    }

    /// The executor took a message; `pending` is what it now has to work through, the taken
    /// message included.
    pub fn took(&self, pending: u64) {
        self.at_us.store(now_us(), Relaxed);
        self.progress.fetch_add(1, Relaxed);
        self.pending.store(pending, Relaxed);
    }

    /// The executor waits for input: nothing pending.
    pub fn waiting(&self) {
        self.pending.store(0, Relaxed);
    }

    /// A snapshot.
    pub fn sample(&self) -> Sample {
        Sample {
            progress: self.progress.load(Relaxed),
            pending: self.pending.load(Relaxed),
            at_us: self.at_us.load(Relaxed),
        }
    }
}

/// One executor's progress at one instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Sample {
    /// Messages taken, ever.
    pub progress: u64,
    /// Input pending.
    pub pending: u64,
    /// When it last progressed ([`now_us`]).
    pub at_us: u64,
}

/// A hung executor, as [`assess`] finds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hang {
    /// The executor's index in the samples.
    pub executor: usize,
    /// How long it has had pending input without progress.
    pub stalled: Duration,
    /// Its pending input.
    pub pending: u64,
}

/// Given the samples of executors at `now_us`, how long each has been stalled (pending
/// input, no progress; zero when nothing is pending) and the executors stalled for at
/// least `timeout`, the longest stalled first (ties by index). A zero timeout never calls
/// an executor hung.
pub fn assess(now_us: u64, samples: &[Sample], timeout: Duration) -> (Vec<Duration>, Vec<Hang>) {
    let stalled: Vec<Duration> = samples
        .iter()
        .map(|s| {
            if s.pending == 0 {
                Duration::ZERO
            } else {
                Duration::from_micros(now_us.saturating_sub(s.at_us))
            }
        })
        .collect();
    let mut hung: Vec<Hang> = stalled
        .iter()
        .zip(samples)
        .enumerate()
        .filter(|(_, (d, _))| !timeout.is_zero() && **d >= timeout)
        .map(|(i, (d, s))| Hang {
            executor: i,
            stalled: *d,
            pending: s.pending,
        })
        .collect();
    hung.sort_by(|a, b| b.stalled.cmp(&a.stalled).then(a.executor.cmp(&b.executor)));
    (stalled, hung)
}

/// A `hang_timeout` setting that is not a duration.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("`{HANG_TIMEOUT_KEY}` must be a duration such as `60s` (0s: never), not {0:?}")]
pub struct BadHangTimeout(pub ConfigValue);

impl BadHangTimeout {
    /// Never retryable: the topology's config is wrong.
    pub fn is_retryable(&self) -> bool {
        false
    }
}

/// The topology's hang timeout: `hang_timeout` (a duration, `0s` to never call an executor
/// hung) from its config or a `--set` override, else [`DEFAULT_HANG_TIMEOUT`].
pub fn hang_timeout(desc: &TopologyDesc) -> Result<Duration, BadHangTimeout> {
    hang_timeout_from(config_value(desc, HANG_TIMEOUT_KEY))
}

fn hang_timeout_from(value: Option<&ConfigValue>) -> Result<Duration, BadHangTimeout> {
    match value {
        None => Ok(DEFAULT_HANG_TIMEOUT),
        Some(ConfigValue::DurationMs(ms)) => Ok(Duration::from_millis(*ms)),
        // `--set hang_timeout=0` parses as an integer: the one integer that is unambiguous.
        Some(ConfigValue::Int(0)) => Ok(Duration::ZERO),
        Some(other) => Err(BadHangTimeout(other.clone())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(pending: u64, at_s: u64) -> Sample {
        Sample {
            progress: 1,
            pending,
            at_us: at_s * 1_000_000,
        }
    }

    const T: Duration = Duration::from_secs(3);

    #[test]
    fn pending_input_without_progress_is_a_hang_after_the_timeout() {
        let (stalled, hung) = assess(12_000_000, &[s(1, 10), s(0, 1)], T);
        assert_eq!(stalled, [Duration::from_secs(2), Duration::ZERO]);
        assert!(hung.is_empty());
        let (_, hung) = assess(13_000_000, &[s(2, 10), s(0, 1)], T);
        assert_eq!(
            hung,
            [Hang {
                executor: 0,
                stalled: T,
                pending: 2
            }]
        );
    }

    #[test]
    fn an_empty_input_is_never_a_hang() {
        // Idle for an hour: waiting for input is not hanging.
        assert!(assess(3_600_000_000, &[s(0, 0)], T).1.is_empty());
    }

    #[test]
    fn the_longest_stalled_comes_first_and_zero_never_hangs() {
        // The spout (0) blocked behind the bolt (1) that hung a second before it.
        let samples = [s(1, 6), s(1, 5), s(3, 20)];
        let (_, hung) = assess(10_000_000, &samples, T);
        let order: Vec<usize> = hung.iter().map(|h| h.executor).collect();
        assert_eq!(order, [1, 0]);
        let (_, hung) = assess(10_000_000, &[s(1, 5), s(1, 5)], T);
        assert_eq!(hung.iter().map(|h| h.executor).collect::<Vec<_>>(), [0, 1]);
        assert!(assess(u64::MAX, &samples, Duration::ZERO).1.is_empty());
    }

    #[test]
    fn progress_is_stamped_when_taken() {
        let p = ExecutorProgress::new();
        assert_eq!(p.sample().pending, 0);
        p.took(3);
        let a = p.sample();
        assert_eq!((a.progress, a.pending), (1, 3));
        assert!(a.at_us <= now_us());
        p.waiting();
        assert_eq!(p.sample().pending, 0);
        assert_eq!(p.sample().progress, 1);
    }

    #[test]
    fn the_timeout_is_a_duration_setting() {
        assert_eq!(hang_timeout_from(None), Ok(DEFAULT_HANG_TIMEOUT));
        assert_eq!(
            hang_timeout_from(Some(&ConfigValue::DurationMs(3_000))),
            Ok(Duration::from_secs(3))
        );
        assert_eq!(
            hang_timeout_from(Some(&ConfigValue::Int(0))),
            Ok(Duration::ZERO)
        );
        let bad = hang_timeout_from(Some(&ConfigValue::Int(5))).unwrap_err();
        assert!(bad.to_string().contains("hang_timeout"), "{bad}");
        assert!(!bad.is_retryable());
    }
}
