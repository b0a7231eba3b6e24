//! When a supervisor restarts a crashed worker: exponential backoff with a cap, reset once
//! a worker has run long enough to count as healthy. Pure: the supervisor passes the times
//! in and acts on the answer.

use std::time::{Duration, Instant};

/// The restart policy of a supervisor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RestartPolicy {
    /// The delay after the first crash.
    pub first: Duration,
    /// The longest delay.
    pub max: Duration,
    /// A worker that ran this long before it crashed was healthy: its next delay is
    /// `first` again.
    pub healthy_after: Duration,
}

impl Default for RestartPolicy {
    /// At once after the first crash, then 0.5 s, doubling per crash up to 30 s; reset
    /// after 10 s of running (a worker killed now and then is restarted at once each time;
    /// one that crashes as it starts backs off).
    fn default() -> Self {
        RestartPolicy {
            first: Duration::from_millis(500),
            max: Duration::from_secs(30),
            healthy_after: Duration::from_secs(10),
        }
    }
}

/// The crash history of one worker slot.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CrashHistory {
    /// Crashes in a row, each after less than `healthy_after` of running.
    pub consecutive: u32,
    /// Every restart of this worker (for `gale list`).
    pub restarts: u32,
    /// Why its last process ended ("exit status 101", "signal 9").
    pub last_exit: String,
}

impl RestartPolicy {
    /// The delay before restarting a worker that crashed for the `consecutive`-th time in a
    /// row (1 for the first): none for the first, then `first * 2^(consecutive - 2)`, at
    /// most `max`.
    pub fn delay(&self, consecutive: u32) -> Duration {
        if consecutive <= 1 {
            return Duration::ZERO;
        }
        let shift = (consecutive - 2).min(20);
        self.first.saturating_mul(1 << shift).min(self.max)
    }

    /// Records a crash of a process started at `started` that ended at `now` for `reason`;
    /// returns when it may start again.
    pub fn crashed(
        &self,
        history: &mut CrashHistory,
        started: Instant,
        now: Instant,
        reason: String,
    ) -> Instant {
        if now.duration_since(started) >= self.healthy_after {
            history.consecutive = 0;
        }
        history.consecutive = history.consecutive.saturating_add(1);
        history.last_exit = reason;
        now + self.delay(history.consecutive)
    }
}

/// How a process ended, as a user reads it.
pub fn exit_reason(status: &std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit status {code}"),
        (None, Some(sig)) => format!("signal {sig}"),
        _ => status.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_up_to_the_cap() {
        let p = RestartPolicy::default();
        let ms = |n| p.delay(n).as_millis();
        assert_eq!(
            [ms(1), ms(2), ms(3), ms(4), ms(5), ms(8), ms(9), ms(100)],
            [0, 500, 1000, 2000, 4000, 30_000, 30_000, 30_000]
        );
    }

    #[test]
    fn a_healthy_run_resets_the_backoff() {
        let p = RestartPolicy::default();
        let mut h = CrashHistory::default();
        let t0 = Instant::now();
        let mut at = t0;
        for _ in 0..5 {
            at = p.crashed(
                &mut h,
                at,
                at + Duration::from_secs(1),
                "exit status 1".into(),
            );
        }
        assert_eq!(h.consecutive, 5);
        let started = at;
        let next = p.crashed(
            &mut h,
            started,
            started + Duration::from_secs(11),
            "signal 9".into(),
        );
        assert_eq!(h.consecutive, 1);
        assert_eq!(
            next,
            started + Duration::from_secs(11),
            "at once after a healthy run"
        );
        assert_eq!(h.last_exit, "signal 9");
    }
}
