//! Watermark generators (`watermark bounded(5s)`, `monotonous`, `custom(T)`): what event
//! time a component's output has reached, from the timestamps it emitted. Pure.

/// Follows the timestamps a component emits and says how far event time has come.
pub trait WatermarkGenerator<T>: Send + 'static {
    /// A tuple with event time `ts` (epoch ms) was emitted.
    fn on_event(&mut self, tuple: &T, ts: u64);
    /// The watermark now: no tuple at or before it is still coming (`None`: none yet).
    fn current(&self) -> Option<i64>;
}

/// `bounded(D)`: timestamps are at most `bound` ms out of order. The watermark is the
/// largest timestamp seen minus the bound minus 1 ms (Flink's
/// `BoundedOutOfOrdernessWatermarks`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BoundedWatermarks {
    bound: u64,
    max: Option<u64>,
}

impl BoundedWatermarks {
    /// Timestamps at most `bound` ms out of order (`0`: monotonous).
    pub fn new(bound: u64) -> Self {
        BoundedWatermarks { bound, max: None }
    }
}

impl<T> WatermarkGenerator<T> for BoundedWatermarks {
    #[inline]
    fn on_event(&mut self, _: &T, ts: u64) {
        self.max = Some(self.max.map_or(ts, |m| m.max(ts)));
    }

    fn current(&self) -> Option<i64> {
        let max = i64::try_from(self.max?).unwrap_or(i64::MAX);
        Some(max.saturating_sub(self.bound as i64).saturating_sub(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_watermarks_trail_the_largest_timestamp() {
        let mut g = BoundedWatermarks::new(100);
        assert_eq!(WatermarkGenerator::<()>::current(&g), None);
        for ts in [1_000, 950, 1_200, 1_100] {
            g.on_event(&(), ts);
        }
        assert_eq!(WatermarkGenerator::<()>::current(&g), Some(1_099));
        let mut m = BoundedWatermarks::new(0);
        m.on_event(&(), 5);
        assert_eq!(WatermarkGenerator::<()>::current(&m), Some(4), "monotonous");
    }
}
