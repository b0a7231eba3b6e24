//! Restart strategies (Flink's `restart-strategy`): after a failure of an `exactly_once`
//! topology, whether to restart it from its last completed checkpoint, and after how
//! long; or to give up, and why. Pure: the caller passes the clock.

/// How a failed `exactly_once` topology is restarted (`restart_strategy` and the
/// `restart_*` keys of a `.topo` config).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestartStrategy {
    /// Never: the first failure stops the run.
    None,
    /// Up to `attempts` restarts, `delay_ms` apart.
    FixedDelay {
        /// Restarts allowed in all.
        attempts: u32,
        /// The wait before each, ms.
        delay_ms: u64,
    },
    /// Restarts with a wait that doubles from `initial_ms` up to `max_ms`; at most
    /// `attempts` (`None`: no limit). The wait starts over after a run that lasted longer
    /// than `max_ms` without failing.
    ExponentialBackoff {
        /// The first wait, ms.
        initial_ms: u64,
        /// The longest wait, ms.
        max_ms: u64,
        /// Restarts allowed in all (`None`: unlimited).
        attempts: Option<u32>,
    },
    /// Restarts `delay_ms` apart as long as no more than `max_failures` failures fall in
    /// any `interval_ms`.
    FailureRate {
        /// Failures allowed per interval.
        max_failures: u32,
        /// The interval, ms.
        interval_ms: u64,
        /// The wait before each restart, ms.
        delay_ms: u64,
    },
}

impl RestartStrategy {
    /// Flink's default under checkpointing: exponential backoff from 1 s to 5 min, no
    /// limit.
    pub const DEFAULT: RestartStrategy = RestartStrategy::ExponentialBackoff {
        initial_ms: 1_000,
        max_ms: 300_000,
        attempts: None,
    };
}

impl Default for RestartStrategy {
    fn default() -> Self {
        RestartStrategy::DEFAULT
    }
}

/// What to do after a failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Restart after `delay_ms`.
    Restart {
        /// The wait, ms.
        delay_ms: u64,
    },
    /// Stop the topology: `reason` says which limit was reached.
    GiveUp {
        /// Why.
        reason: String,
    },
}

/// The restarts of one run so far.
#[derive(Debug, Clone)]
pub struct Restarts {
    strategy: RestartStrategy,
    /// Restarts decided.
    count: u32,
    /// When each failure happened, ms (the failure-rate window).
    failures: std::collections::VecDeque<u64>,
    /// The next backoff wait, ms.
    backoff_ms: u64,
    /// When the running attempt started, ms.
    started_ms: u64,
}

impl Restarts {
    /// A run under `strategy`, started at `now_ms`.
    pub fn new(strategy: RestartStrategy, now_ms: u64) -> Self {
        let backoff_ms = match strategy {
            RestartStrategy::ExponentialBackoff { initial_ms, .. } => initial_ms,
            _ => 0,
        };
        Restarts {
            strategy,
            count: 0,
            failures: std::collections::VecDeque::new(),
            backoff_ms,
            started_ms: now_ms,
        }
    }

    /// Restarts decided so far.
    pub fn count(&self) -> u32 {
        self.count
    }

    /// The topology failed at `now_ms`: restart it, or give up.
    pub fn failed(&mut self, now_ms: u64) -> Decision {
        let decision = match self.strategy {
            RestartStrategy::None => Decision::GiveUp {
                reason: "the restart strategy is `none`".into(),
            },
            RestartStrategy::FixedDelay { attempts, delay_ms } => {
                if self.count >= attempts {
                    Decision::GiveUp {
                        reason: format!("it failed after {attempts} restarts (`restart_attempts`)"),
                    }
                } else {
                    Decision::Restart { delay_ms }
                }
            }
            RestartStrategy::ExponentialBackoff {
                initial_ms,
                max_ms,
                attempts,
            } => {
                if attempts.is_some_and(|a| self.count >= a) {
                    Decision::GiveUp {
                        reason: format!(
                            "it failed after {} restarts (`restart_attempts`)",
                            self.count
                        ),
                    }
                } else {
                    // A long healthy run starts the backoff over.
                    if now_ms.saturating_sub(self.started_ms) > max_ms {
                        self.backoff_ms = initial_ms;
                    }
                    let delay_ms = self.backoff_ms.min(max_ms);
                    self.backoff_ms = self.backoff_ms.saturating_mul(2).min(max_ms).max(1);
                    Decision::Restart { delay_ms }
                }
            }
            RestartStrategy::FailureRate {
                max_failures,
                interval_ms,
                delay_ms,
            } => {
                self.failures.push_back(now_ms);
                while self
                    .failures
                    .front()
                    .is_some_and(|t| now_ms.saturating_sub(*t) > interval_ms)
                {
                    self.failures.pop_front();
                }
                if self.failures.len() as u64 > u64::from(max_failures) {
                    Decision::GiveUp {
                        reason: format!(
                            "it failed {} times within {} ms (`restart_attempts` per \
                             `restart_failure_interval`)",
                            self.failures.len(),
                            interval_ms
                        ),
                    }
                } else {
                    Decision::Restart { delay_ms }
                }
            }
        };
        if let Decision::Restart { delay_ms } = decision {
            self.count += 1;
            self.started_ms = now_ms + delay_ms;
        }
        decision
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn restarts(s: RestartStrategy, failures_at: &[u64]) -> Vec<Decision> {
        let mut r = Restarts::new(s, 0);
        failures_at.iter().map(|t| r.failed(*t)).collect()
    }

    #[test]
    fn none_gives_up_at_once() {
        assert!(matches!(
            restarts(RestartStrategy::None, &[5])[..],
            [Decision::GiveUp { .. }]
        ));
    }

    #[test]
    fn fixed_delay_restarts_attempts_times_then_gives_up() {
        let d = restarts(
            RestartStrategy::FixedDelay {
                attempts: 2,
                delay_ms: 7,
            },
            &[1, 2, 3],
        );
        assert_eq!(d[0], Decision::Restart { delay_ms: 7 });
        assert_eq!(d[1], Decision::Restart { delay_ms: 7 });
        assert!(matches!(&d[2], Decision::GiveUp { reason } if reason.contains("2 restarts")));
    }

    #[test]
    fn backoff_doubles_up_to_its_max_and_starts_over_after_a_long_run() {
        let s = RestartStrategy::ExponentialBackoff {
            initial_ms: 10,
            max_ms: 50,
            attempts: None,
        };
        let mut r = Restarts::new(s, 0);
        let waits: Vec<u64> = [0, 20, 50, 110, 170]
            .iter()
            .map(|t| match r.failed(*t) {
                Decision::Restart { delay_ms } => delay_ms,
                Decision::GiveUp { .. } => u64::MAX,
            })
            .collect();
        assert_eq!(waits, [10, 20, 40, 50, 50]);
        // Healthy for longer than the max: back to the first wait.
        assert_eq!(r.failed(10_000), Decision::Restart { delay_ms: 10 });
        assert_eq!(r.count(), 6);
    }

    #[test]
    fn backoff_with_attempts_gives_up() {
        let d = restarts(
            RestartStrategy::ExponentialBackoff {
                initial_ms: 1,
                max_ms: 4,
                attempts: Some(1),
            },
            &[0, 1],
        );
        assert!(matches!(d[1], Decision::GiveUp { .. }));
    }

    #[test]
    fn failure_rate_counts_only_the_failures_in_the_interval() {
        let s = RestartStrategy::FailureRate {
            max_failures: 2,
            interval_ms: 100,
            delay_ms: 3,
        };
        let d = restarts(s, &[0, 50, 200, 250, 260]);
        assert!(
            d[..4]
                .iter()
                .all(|x| *x == Decision::Restart { delay_ms: 3 }),
            "{d:?}"
        );
        assert!(matches!(&d[4], Decision::GiveUp { reason } if reason.contains("3 times")));
    }
}
