//! How an `exactly_once` topology's checkpoint settings travel to nimbus: the binary's
//! [`TopologyDesc`] as a [`CheckpointPlan`] at submit, and back into the coordinator's
//! [`CheckpointConfig`] and the [`RestartStrategy`] nimbus applies.

use super::proto::{CheckpointPlan, OperatorPlan, RestartPlan};
use crate::checkpoint::{
    CheckpointConfig, CheckpointError, CheckpointStore, RestartStrategy, object_storage,
};
use crate::topology::{Guarantee, TopologyDesc};

/// The checkpoint plan of `desc` (`None` unless it is `exactly_once`), writing to
/// `storage` (empty: nimbus's directory).
pub fn plan_of(desc: &TopologyDesc, storage: &str) -> Option<CheckpointPlan> {
    if desc.settings.guarantee != Guarantee::ExactlyOnce {
        return None;
    }
    let c = desc.settings.checkpoints;
    Some(CheckpointPlan {
        interval_ms: c.interval_ms.unwrap_or(0),
        timeout_ms: c.timeout_ms,
        max_concurrent: c.max_concurrent as u32,
        retained: c.retained as u32,
        storage: storage.to_string(),
        from_savepoint: String::new(),
        from_savepoint_id: 0,
        restart: Some(restart_plan(desc.settings.restart)),
        max_parallelism: desc.settings.max_parallelism,
        operators: desc
            .components
            .iter()
            .map(|c| OperatorPlan {
                uid: c.uid.to_string(),
                first_task: c.first_task,
                tasks: c.tasks,
                schema: c.state_schema.to_string(),
            })
            .collect(),
    })
}

/// The coordinator's settings from a plan.
pub fn config_of(plan: &CheckpointPlan) -> CheckpointConfig {
    CheckpointConfig {
        interval_ms: (plan.interval_ms > 0).then_some(plan.interval_ms),
        timeout_ms: plan.timeout_ms.max(1),
        max_concurrent: plan.max_concurrent.max(1) as usize,
        retained: plan.retained.max(1) as usize,
    }
}

/// A restart strategy as the plan carries it.
pub fn restart_plan(s: RestartStrategy) -> RestartPlan {
    match s {
        RestartStrategy::None => RestartPlan {
            strategy: "none".into(),
            ..Default::default()
        },
        RestartStrategy::FixedDelay { attempts, delay_ms } => RestartPlan {
            strategy: "fixed_delay".into(),
            attempts: Some(attempts),
            delay_ms,
            ..Default::default()
        },
        RestartStrategy::ExponentialBackoff {
            initial_ms,
            max_ms,
            attempts,
        } => RestartPlan {
            strategy: "exponential_backoff".into(),
            attempts,
            delay_ms: initial_ms,
            max_delay_ms: max_ms,
            ..Default::default()
        },
        RestartStrategy::FailureRate {
            max_failures,
            interval_ms,
            delay_ms,
        } => RestartPlan {
            strategy: "failure_rate".into(),
            attempts: Some(max_failures),
            delay_ms,
            interval_ms,
            ..Default::default()
        },
    }
}

/// The restart strategy a plan names (`None` in the plan: the default).
pub fn restart_of(plan: Option<&RestartPlan>) -> Result<RestartStrategy, String> {
    let Some(p) = plan else {
        return Ok(RestartStrategy::DEFAULT);
    };
    Ok(match p.strategy.as_str() {
        "none" => RestartStrategy::None,
        "fixed_delay" => RestartStrategy::FixedDelay {
            attempts: p.attempts.unwrap_or(u32::MAX),
            delay_ms: p.delay_ms,
        },
        "exponential_backoff" => RestartStrategy::ExponentialBackoff {
            initial_ms: p.delay_ms.max(1),
            max_ms: p.max_delay_ms.max(p.delay_ms).max(1),
            attempts: p.attempts,
        },
        "failure_rate" => RestartStrategy::FailureRate {
            max_failures: p.attempts.unwrap_or(1),
            interval_ms: p.interval_ms.max(1),
            delay_ms: p.delay_ms,
        },
        other => {
            return Err(format!(
                "unknown restart strategy `{other}` (none, fixed_delay, exponential_backoff, failure_rate)"
            ));
        }
    })
}

/// The savepoint `location` names (a store a savepoint was copied to: its newest complete
/// checkpoint; or one `.../chk-<id>` directory), checked whole and against `desc` (every
/// operator with state in it still there with the same state schema): its store's
/// location and its id.
pub fn resolve_savepoint(desc: &TopologyDesc, location: &str) -> Result<(String, u64), String> {
    let trimmed = location.trim_end_matches('/');
    let (root, own) = match trimmed.rsplit_once('/') {
        Some((root, last)) => match last
            .strip_prefix("chk-")
            .and_then(|n| n.parse::<u64>().ok())
        {
            Some(id) => (root, Some(id)),
            None => (trimmed, None),
        },
        None => (trimmed, None),
    };
    let store = CheckpointStore::new(object_storage::open(root).map_err(|e| e.to_string())?);
    let meta = match own {
        Some(id) => store.verify(id).map_err(|e| e.to_string())?,
        None => {
            let (latest, skipped) = store.latest().map_err(|e| e.to_string())?;
            for s in &skipped {
                eprintln!("gale: skipping checkpoint {}: {}", s.id, s.error);
            }
            latest.ok_or_else(|| CheckpointError::NoSavepoint(location.to_string()).to_string())?
        }
    };
    crate::exec::checkpointing::compatible(desc, &meta).map_err(|e| e.to_string())?;
    Ok((root.to_string(), meta.id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_restart_strategy_survives_the_plan() {
        for s in [
            RestartStrategy::None,
            RestartStrategy::FixedDelay {
                attempts: 3,
                delay_ms: 200,
            },
            RestartStrategy::DEFAULT,
            RestartStrategy::ExponentialBackoff {
                initial_ms: 10,
                max_ms: 80,
                attempts: Some(4),
            },
            RestartStrategy::FailureRate {
                max_failures: 2,
                interval_ms: 60_000,
                delay_ms: 5,
            },
        ] {
            assert_eq!(restart_of(Some(&restart_plan(s))), Ok(s));
        }
        let bad = RestartPlan {
            strategy: "sometimes".into(),
            ..Default::default()
        };
        assert!(restart_of(Some(&bad)).is_err());
    }
}
