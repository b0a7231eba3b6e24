//! Which plans nimbus accepts: bounds on everything a submitted plan may ask for, so no
//! plan can make nimbus allocate without limit or write a record the store refuses.

use super::Refused;
use crate::cluster::proto::Plan;

/// The longest topology name accepted (its id and store key must fit
/// [`crate::cluster::store::MAX_KEY_LEN`]).
pub const MAX_NAME: usize = 128;
/// The most fused chains a plan may have.
pub const MAX_CHAINS: usize = 4096;
/// The most tasks one chain may have.
pub const MAX_TASKS: u32 = 65_536;
/// The most executors a whole plan may have.
pub const MAX_EXECUTORS: u64 = 65_536;
/// The most workers a plan may ask for.
pub const MAX_WORKERS: u32 = 1024;
/// The most ackers a plan may ask for.
pub const MAX_ACKERS: u32 = 1024;

/// `Ok` for a plan nimbus can schedule, or what is wrong with it.
pub fn validate_plan(plan: &Plan) -> Result<(), Refused> {
    let bad = |m: String| Err(Refused::Invalid(m));
    if plan.name.len() > MAX_NAME {
        return bad(format!(
            "topology name of {} bytes: at most {MAX_NAME} are allowed",
            plan.name.len()
        ));
    }
    if plan.name.is_empty()
        || !plan
            .name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_')
    {
        return bad(format!("invalid topology name `{}`", plan.name));
    }
    if plan.workers == 0 || plan.workers > MAX_WORKERS {
        return bad(format!(
            "workers must be 1..={MAX_WORKERS}, not {}",
            plan.workers
        ));
    }
    if plan.chains.is_empty() {
        return bad("the plan has no chains".into());
    }
    if plan.chains.len() > MAX_CHAINS {
        return bad(format!(
            "the plan has {} chains: at most {MAX_CHAINS} are allowed",
            plan.chains.len()
        ));
    }
    let mut executors = 0u64;
    for c in &plan.chains {
        if c.parallelism == 0 || c.parallelism > c.tasks || c.components.is_empty() {
            return bad(format!("malformed chain {:?}", c.components));
        }
        if c.tasks > MAX_TASKS {
            return bad(format!(
                "chain {:?} has {} tasks: at most {MAX_TASKS} are allowed",
                c.components, c.tasks
            ));
        }
        executors += u64::from(c.parallelism);
    }
    if executors > MAX_EXECUTORS {
        return bad(format!(
            "the plan has {executors} executors: at most {MAX_EXECUTORS} are allowed"
        ));
    }
    if plan.ackers > MAX_ACKERS {
        return bad(format!(
            "ackers must be at most {MAX_ACKERS}, not {}",
            plan.ackers
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::proto::ChainPlan;

    fn plan() -> Plan {
        Plan {
            name: "wc".into(),
            workers: 2,
            ackers: 1,
            chains: vec![ChainPlan {
                components: vec!["a".into()],
                tasks: 4,
                parallelism: 2,
                spout: true,
            }],
            config: Default::default(),
            checkpoints: None,
            ..Default::default()
        }
    }

    #[test]
    fn bounds_are_enforced_with_a_reason() {
        assert_eq!(validate_plan(&plan()), Ok(()));
        let long = Plan {
            name: "x".repeat(MAX_NAME + 1),
            ..plan()
        };
        assert!(
            matches!(validate_plan(&long), Err(Refused::Invalid(m)) if m.contains("at most 128"))
        );
        let mut huge = plan();
        huge.chains[0].tasks = MAX_TASKS + 1;
        assert!(matches!(validate_plan(&huge), Err(Refused::Invalid(m)) if m.contains("tasks")));
        let zero = Plan {
            workers: 0,
            ..plan()
        };
        assert!(validate_plan(&zero).is_err());
        let dash = Plan {
            name: "a-b".into(),
            ..plan()
        };
        assert!(
            validate_plan(&dash).is_err(),
            "ids are name-N: no dash in names"
        );
    }
}
