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

/// A restart setting given at run time (`run --set restart_attempts=3`) that cannot be
/// used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("--set {key}: {what}")]
pub struct BadRestartSetting {
    /// The setting.
    pub key: &'static str,
    /// What is wrong with it.
    pub what: String,
}

impl RestartStrategy {
    /// The strategy with the restart settings `get` gives (the `run --set` overrides:
    /// `restart_strategy`, `restart_attempts`, `restart_delay`, `restart_max_delay`,
    /// `restart_failure_interval`) in place of the compiled ones; a strategy named anew
    /// starts from its defaults.
    pub fn with_overrides(
        self,
        get: impl Fn(&str) -> Option<crate::topology::ConfigValue>,
    ) -> Result<Self, BadRestartSetting> {
        use crate::topology::ConfigValue;
        let bad = |key: &'static str, what: &str| BadRestartSetting {
            key,
            what: what.to_string(),
        };
        let ms = |key: &'static str| -> Result<Option<u64>, BadRestartSetting> {
            match get(key) {
                None => Ok(None),
                Some(ConfigValue::DurationMs(ms)) => Ok(Some(ms)),
                Some(_) => Err(bad(key, "expects a duration such as `1s`")),
            }
        };
        let attempts = match get("restart_attempts") {
            None => None,
            Some(ConfigValue::Int(n)) => Some(u32::try_from(n).unwrap_or(u32::MAX)),
            Some(_) => return Err(bad("restart_attempts", "expects an integer")),
        };
        let mut s = match get("restart_strategy") {
            None => self,
            Some(ConfigValue::Str(w) | ConfigValue::Word(w)) => match w {
                "none" => RestartStrategy::None,
                "fixed_delay" => RestartStrategy::FixedDelay {
                    attempts: 1,
                    delay_ms: 1_000,
                },
                "exponential_backoff" => RestartStrategy::DEFAULT,
                "failure_rate" => RestartStrategy::FailureRate {
                    max_failures: 1,
                    interval_ms: 60_000,
                    delay_ms: 1_000,
                },
                other => {
                    return Err(bad(
                        "restart_strategy",
                        &format!(
                            "unknown strategy `{other}` (none, fixed_delay, \
                             exponential_backoff, failure_rate)"
                        ),
                    ));
                }
            },
            Some(_) => return Err(bad("restart_strategy", "expects a strategy's name")),
        };
        let (delay, max, interval) = (
            ms("restart_delay")?,
            ms("restart_max_delay")?,
            ms("restart_failure_interval")?,
        );
        match &mut s {
            RestartStrategy::None => {}
            RestartStrategy::FixedDelay {
                attempts: a,
                delay_ms,
            } => {
                *a = attempts.unwrap_or(*a);
                *delay_ms = delay.unwrap_or(*delay_ms);
            }
            RestartStrategy::ExponentialBackoff {
                initial_ms,
                max_ms,
                attempts: a,
            } => {
                *initial_ms = delay.unwrap_or(*initial_ms);
                *max_ms = max.unwrap_or(*max_ms);
                if attempts.is_some() {
                    *a = attempts;
                }
            }
            RestartStrategy::FailureRate {
                max_failures,
                interval_ms,
                delay_ms,
            } => {
                *max_failures = attempts.unwrap_or(*max_failures);
                *interval_ms = interval.unwrap_or(*interval_ms);
                *delay_ms = delay.unwrap_or(*delay_ms);
            }
        }
        Ok(s)
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

    /// The restarts of a run that already had `count` (recorded before this coordinator
    /// took over: a restarted nimbus keeps counting toward `restart_attempts`).
    pub fn resumed(mut self, count: u32) -> Self {
        self.count = count;
        self
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
    fn run_time_settings_replace_the_compiled_ones() {
        use crate::topology::ConfigValue;
        let set = |pairs: &'static [(&'static str, ConfigValue)]| {
            move |k: &str| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone())
        };
        let s = RestartStrategy::DEFAULT
            .with_overrides(set(&[
                ("restart_strategy", ConfigValue::Str("fixed_delay")),
                ("restart_attempts", ConfigValue::Int(2)),
                ("restart_delay", ConfigValue::DurationMs(5)),
            ]))
            .unwrap();
        assert_eq!(
            s,
            RestartStrategy::FixedDelay {
                attempts: 2,
                delay_ms: 5
            }
        );
        let kept = RestartStrategy::DEFAULT.with_overrides(set(&[])).unwrap();
        assert_eq!(kept, RestartStrategy::DEFAULT);
        let err = RestartStrategy::DEFAULT
            .with_overrides(set(&[("restart_strategy", ConfigValue::Str("fast"))]))
            .unwrap_err();
        assert!(err.to_string().contains("unknown strategy `fast`"), "{err}");
        assert!(
            RestartStrategy::DEFAULT
                .with_overrides(set(&[("restart_delay", ConfigValue::Int(3))]))
                .is_err()
        );
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
