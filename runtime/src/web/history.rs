//! The recent past of a running topology: its counters sampled every few seconds for ten
//! minutes, from which come the rates over the last 10 s and 10 min, the share of time
//! its tasks were blocked by backpressure, the latency of recent tuple trees, and the
//! series the web UI charts. Pure: the caller gives the readings and the time.

use crate::ack::Histogram;
use crate::exec::metrics::ComponentReading;
use std::collections::VecDeque;

/// How far back samples are kept, in milliseconds (10 minutes).
pub const KEEP_MS: u64 = 10 * 60 * 1000;

/// The shortest time between two samples, in milliseconds.
pub const INTERVAL_MS: u64 = 1000;

/// The short window of rates, in milliseconds.
pub const SHORT_MS: u64 = 10_000;

/// One component's cumulative counters in a sample.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Counters {
    emitted: u64,
    executed: u64,
    acked: u64,
    failed: u64,
    blocked_us: u64,
}

/// The counters at one moment.
#[derive(Debug, Clone)]
struct Sample {
    time_ms: u64,
    /// By component, in plan order.
    components: Vec<Counters>,
    /// Every spout's latency histogram together, cumulative: (bucket, count).
    latency: Vec<(u32, u64)>,
    latency_sum_us: u64,
}

/// Per second over a window.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct Rates {
    /// Tuples emitted per second.
    pub emitted: f64,
    /// Tuples executed per second.
    pub executed: f64,
    /// Inputs or trees acked per second.
    pub acked: f64,
    /// Inputs or trees failed per second.
    pub failed: f64,
}

/// One point of the charts.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Point {
    /// Milliseconds since the Unix epoch.
    pub time_ms: u64,
    /// Tuples per second emitted by the spouts since the previous point.
    pub throughput: f64,
    /// Latency of the tuple trees completed since the previous point (ms), if any.
    pub latency_p50_ms: Option<f64>,
    /// Its 99th percentile.
    pub latency_p99_ms: Option<f64>,
    /// Per component (plan order): tuples per second (emitted by a spout, executed by a
    /// bolt) since the previous point.
    pub components: Vec<f64>,
}

/// A topology's samples.
#[derive(Debug, Clone, Default)]
pub struct History {
    samples: VecDeque<Sample>,
}

impl History {
    /// No samples yet.
    pub fn new() -> Self {
        History::default()
    }

    /// Records `readings` (plan order) taken at `time_ms`, unless the last sample is less
    /// than [`INTERVAL_MS`] old; drops samples older than [`KEEP_MS`]. `spout[i]` says
    /// whether component `i` is a spout.
    pub fn record(&mut self, time_ms: u64, readings: &[ComponentReading], spout: &[bool]) {
        if self
            .samples
            .back()
            .is_some_and(|s| time_ms < s.time_ms + INTERVAL_MS)
        {
            return;
        }
        let mut latency = Histogram::default();
        for (r, _) in readings.iter().zip(spout).filter(|(_, s)| **s) {
            latency.merge(&r.latency);
        }
        self.samples.push_back(Sample {
            time_ms,
            components: readings
                .iter()
                .map(|r| Counters {
                    emitted: r.emitted,
                    executed: r.executed,
                    acked: r.acked,
                    failed: r.failed,
                    blocked_us: r.blocked_ns() / 1_000,
                })
                .collect(),
            latency: latency.buckets().collect(),
            latency_sum_us: latency.sum(),
        });
        while self
            .samples
            .front()
            .is_some_and(|s| s.time_ms + KEEP_MS < time_ms)
        {
            self.samples.pop_front();
        }
    }

    /// The newest sample and the oldest one at most `window_ms` older than it (a shorter
    /// window while the samples do not go back that far); `None` with fewer than two.
    fn window(&self, window_ms: u64) -> Option<(&Sample, &Sample)> {
        let last = self.samples.back()?;
        let first = self
            .samples
            .iter()
            .find(|s| s.time_ms + window_ms >= last.time_ms)?;
        (first.time_ms < last.time_ms).then_some((first, last))
    }

    /// Component `i`'s rates over the last `window_ms` (zeros with fewer than two samples).
    pub fn rates(&self, i: usize, window_ms: u64) -> Rates {
        let Some((a, b)) = self.window(window_ms) else {
            return Rates::default();
        };
        let (Some(x), Some(y)) = (a.components.get(i), b.components.get(i)) else {
            return Rates::default();
        };
        let secs = (b.time_ms - a.time_ms) as f64 / 1000.0;
        let per = |from: u64, to: u64| to.saturating_sub(from) as f64 / secs;
        Rates {
            emitted: per(x.emitted, y.emitted),
            executed: per(x.executed, y.executed),
            acked: per(x.acked, y.acked),
            failed: per(x.failed, y.failed),
        }
    }

    /// The share (0 to 1) of the last `window_ms` that component `i`'s `executors`
    /// executors spent blocked sending downstream (an executor runs its tasks one after
    /// another: their blocked times add up to its own).
    pub fn backpressure(&self, i: usize, executors: u32, window_ms: u64) -> f64 {
        let Some((a, b)) = self.window(window_ms) else {
            return 0.0;
        };
        let (Some(x), Some(y)) = (a.components.get(i), b.components.get(i)) else {
            return 0.0;
        };
        let span_us = (b.time_ms - a.time_ms) as f64 * 1000.0 * f64::from(executors.max(1));
        (y.blocked_us.saturating_sub(x.blocked_us) as f64 / span_us).clamp(0.0, 1.0)
    }

    /// The latency of the tuple trees completed in the last `window_ms` (all spouts).
    pub fn latency(&self, window_ms: u64) -> Option<Histogram> {
        let (a, b) = self.window(window_ms)?;
        let h = difference(a, b);
        (h.count() > 0).then_some(h)
    }

    /// The points of the charts, oldest first: one per sample after the first.
    pub fn points(&self, spout: &[bool]) -> Vec<Point> {
        let ms = |us: u64| us as f64 / 1000.0;
        self.samples
            .iter()
            .zip(self.samples.iter().skip(1))
            .map(|(a, b)| {
                let secs = (b.time_ms - a.time_ms).max(1) as f64 / 1000.0;
                let components: Vec<f64> = a
                    .components
                    .iter()
                    .zip(&b.components)
                    .zip(spout)
                    .map(|((x, y), &is_spout)| {
                        let (from, to) = if is_spout {
                            (x.emitted, y.emitted)
                        } else {
                            (x.executed, y.executed)
                        };
                        to.saturating_sub(from) as f64 / secs
                    })
                    .collect();
                let throughput = components
                    .iter()
                    .zip(spout)
                    .filter(|(_, s)| **s)
                    .map(|(r, _)| r)
                    .sum();
                let latency = difference(a, b);
                Point {
                    time_ms: b.time_ms,
                    throughput,
                    latency_p50_ms: latency.quantile(0.5).map(ms),
                    latency_p99_ms: latency.quantile(0.99).map(ms),
                    components,
                }
            })
            .collect()
    }
}

/// The trees completed between samples `a` and `b`.
fn difference(a: &Sample, b: &Sample) -> Histogram {
    let before = Histogram::from_buckets(a.latency.iter().copied(), a.latency_sum_us);
    let mut earlier = before.buckets().peekable();
    let mut diff = Vec::with_capacity(b.latency.len());
    for &(bucket, count) in &b.latency {
        let mut had = 0;
        while let Some(&(i, c)) = earlier.peek() {
            if i > bucket {
                break;
            }
            if i == bucket {
                had = c;
            }
            earlier.next();
        }
        if count > had {
            diff.push((bucket, count - had));
        }
    }
    Histogram::from_buckets(diff, b.latency_sum_us.saturating_sub(a.latency_sum_us))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reading(
        emitted: u64,
        executed: u64,
        blocked_ms: u64,
        latencies: &[u64],
    ) -> ComponentReading {
        let mut latency = Histogram::default();
        for &l in latencies {
            latency.record(l);
        }
        ComponentReading {
            emitted,
            executed,
            latency,
            tasks: vec![crate::exec::metrics::TaskReading {
                blocked_ns: blocked_ms * 1_000_000,
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    #[test]
    fn rates_come_from_the_samples_in_the_window() {
        let mut h = History::new();
        let spout = [true, false];
        // 100 tuples a second for 30 s, then 1,000 a second.
        for s in 0..=30u64 {
            h.record(
                s * 1000,
                &[reading(s * 100, 0, 0, &[]), reading(0, s * 100, 0, &[])],
                &spout,
            );
        }
        for s in 31..=40u64 {
            let n = 3000 + (s - 30) * 1000;
            h.record(
                s * 1000,
                &[reading(n, 0, 0, &[]), reading(0, n, 0, &[])],
                &spout,
            );
        }
        assert_eq!(h.rates(0, SHORT_MS).emitted, 1000.0);
        assert_eq!(h.rates(1, SHORT_MS).executed, 1000.0);
        // Over the whole 40 s: 13,000 tuples.
        assert_eq!(h.rates(0, KEEP_MS).emitted, 13_000.0 / 40.0);
        // A sample too soon after the last is not kept.
        h.record(
            40_500,
            &[reading(1_000_000, 0, 0, &[]), reading(0, 0, 0, &[])],
            &spout,
        );
        assert_eq!(h.rates(0, SHORT_MS).emitted, 1000.0);
        let points = h.points(&spout);
        assert_eq!(points.len(), 40);
        assert_eq!(points[0].throughput, 100.0);
        assert_eq!(points[39].components, vec![1000.0, 1000.0]);
    }

    #[test]
    fn old_samples_are_dropped() {
        let mut h = History::new();
        for s in 0..=700u64 {
            h.record(s * 1000, &[reading(s, 0, 0, &[])], &[true]);
        }
        assert_eq!(h.samples.len(), 601);
        assert_eq!(h.rates(0, KEEP_MS).emitted, 1.0);
    }

    #[test]
    fn backpressure_is_the_share_of_time_blocked() {
        let mut h = History::new();
        h.record(0, &[reading(0, 0, 0, &[])], &[true]);
        h.record(10_000, &[reading(0, 0, 2_500, &[])], &[true]);
        assert_eq!(h.backpressure(0, 1, SHORT_MS), 0.25);
        assert_eq!(h.backpressure(0, 5, SHORT_MS), 0.05);
        let empty = History::new();
        assert_eq!(empty.backpressure(0, 1, SHORT_MS), 0.0);
    }

    #[test]
    fn latency_is_of_the_trees_completed_in_the_window() {
        let mut h = History::new();
        h.record(0, &[reading(0, 0, 0, &[5_000; 100])], &[true]);
        let mut later = vec![5_000; 100];
        later.extend([200_000; 10]);
        h.record(1_000, &[reading(0, 0, 0, &later)], &[true]);
        let l = h.latency(SHORT_MS).expect("trees completed");
        assert_eq!(l.count(), 10);
        let p50 = l.quantile(0.5).expect("a median");
        assert!((190_000..=215_000).contains(&p50), "{p50}");
        assert_eq!(
            h.points(&[true])[0].latency_p50_ms.map(f64::round),
            Some((p50 as f64 / 1000.0).round())
        );
        // No tree completed in the window: no latency.
        h.record(2_000, &[reading(0, 0, 0, &later)], &[true]);
        assert_eq!(h.points(&[true])[1].latency_p50_ms, None);
    }
}
