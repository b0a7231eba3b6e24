//! Idle input channels (`idle D` on the component that declares `timestamp(...)`, and
//! inherited by the bolts after it that carry its time: a `map` behind a silent partition
//! falls silent too): a channel whose producer sent nothing for its timeout is left out of
//! its task's watermark until it sends again, so one silent partition cannot stall every
//! window. The executor looks whenever its input runs dry and every few batches. Pure: the
//! executor passes the time in.

use super::channels::Channels;
use crate::topology::TopologyDesc;
use crate::transport::Upstream;
use std::time::{Duration, Instant};

/// When each input channel of an executor last carried something, and when it goes idle.
#[derive(Debug, Clone)]
pub(crate) struct Idleness {
    /// Per channel, its producer's idleness timeout (`None`: never idle).
    after: Vec<Option<Duration>>,
    /// Per channel, when it last carried a message.
    last: Vec<Instant>,
}

/// The idleness timeout of the component that produces on `upstream`.
fn timeout_of(desc: &TopologyDesc, upstream: Upstream) -> Option<Duration> {
    let c = desc
        .components
        .iter()
        .find(|c| (c.first_task..c.first_task + c.tasks).contains(&upstream.task))?;
    (c.idle_ms > 0).then(|| Duration::from_millis(c.idle_ms))
}

impl Idleness {
    /// The channels of `channels`, all active at `now`.
    pub(crate) fn new(desc: &TopologyDesc, channels: &Channels, now: Instant) -> Self {
        let after: Vec<Option<Duration>> = (0..channels.len())
            .map(|ch| channels.get(ch).and_then(|c| timeout_of(desc, c.upstream)))
            .collect();
        Idleness {
            last: vec![now; after.len()],
            after,
        }
    }

    /// Whether any channel can go idle (else the executor need not read the clock).
    pub(crate) fn watched(&self) -> bool {
        self.after.iter().any(Option::is_some)
    }

    /// How long the executor may wait for input before it looks again (a quarter of the
    /// shortest timeout).
    pub(crate) fn poll(&self) -> Duration {
        self.after
            .iter()
            .flatten()
            .min()
            .map_or(Duration::from_secs(1), |d| {
                (*d / 4).max(Duration::from_millis(1))
            })
    }

    /// Channel `ch` carried a message at `now`.
    #[inline]
    pub(crate) fn saw(&mut self, ch: usize, now: Instant) {
        if let Some(l) = self.last.get_mut(ch) {
            *l = now;
        }
    }

    /// The channels that go idle at `now`: silent for their timeout, and neither ended,
    /// idle already, nor blocked (held for a checkpoint barrier).
    pub(crate) fn due(&self, channels: &Channels, now: Instant) -> Vec<usize> {
        (0..self.after.len())
            .filter(|&ch| {
                let Some(after) = self.after[ch] else {
                    return false;
                };
                // A channel held for a barrier is not silent: its tuples wait behind it.
                let open = channels
                    .get(ch)
                    .is_some_and(|c| !c.ended && !c.idle && !c.blocked);
                open && now.saturating_duration_since(self.last[ch]) >= after
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_silent_channel_goes_idle_after_its_producers_timeout_and_not_before() {
        let mut desc = crate::api::TaskContext::for_tests().desc.clone();
        let mut producer = desc.components[0].clone();
        producer.idle_ms = 100;
        producer.first_task = 7;
        producer.tasks = 2;
        let quiet = desc.components[0].clone();
        desc.components = Box::leak(Box::new([producer, quiet]));
        let channels = Channels::new(
            [
                (0, Upstream::new(7, 0)),
                (0, Upstream::new(8, 0)),
                (0, Upstream::new(1, 1)),
            ],
            1,
        );
        let t0 = Instant::now();
        let mut idle = Idleness::new(&desc, &channels, t0);
        assert!(idle.watched());
        assert_eq!(idle.poll(), Duration::from_millis(25));
        idle.saw(0, t0 + Duration::from_millis(60));
        let at = |ms| t0 + Duration::from_millis(ms);
        assert!(idle.due(&channels, at(99)).is_empty());
        assert_eq!(
            idle.due(&channels, at(100)),
            vec![1],
            "channel 0 sent at 60 ms"
        );
        assert_eq!(idle.due(&channels, at(160)), vec![0, 1]);
        // Channel 2's producer has no timeout: never idle.
        assert!(!idle.due(&channels, at(10_000)).contains(&2));
    }
}
