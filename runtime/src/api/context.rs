//! What a task knows about itself and its topology.

use crate::topology::{ConfigValue, TopologyDesc};
use std::ops::Range;

/// A task's id, unique in the topology (Storm numbers tasks from 1).
pub type TaskId = u32;

/// Given to [`Spout::open`](crate::Spout::open) and [`Bolt::prepare`](crate::Bolt::prepare).
#[derive(Debug, Clone)]
pub struct TaskContext {
    pub(crate) desc: &'static TopologyDesc,
    pub(crate) component: usize,
    pub(crate) task: TaskId,
}

impl TaskContext {
    /// The context of task 1, the only task of a one-bolt topology (for unit tests).
    #[cfg(test)]
    pub(crate) fn for_tests() -> Self {
        use crate::topology::{ChainDesc, ComponentDesc, Guarantee, Kind, Settings};
        let components: &'static [ComponentDesc] = Box::leak(Box::new([ComponentDesc {
            name: "bolt",
            kind: Kind::Bolt,
            operator: "Bolt",
            input: None,
            streams: &[],
            parallelism: 1,
            tasks: 1,
            first_task: 1,
            chain: 0,
            line: 1,
            retry: None,
            idle_ms: 0,
            uid: "",
            state_schema: "",
        }]));
        let desc = Box::leak(Box::new(TopologyDesc {
            name: "t",
            source: "t.topo",
            components,
            chains: Box::leak(Box::new([ChainDesc {
                components: &[0],
                parallelism: 1,
                tasks: 1,
            }])),
            edges: &[],
            settings: Settings {
                guarantee: Guarantee::AtMostOnce,
                message_timeout_ms: 1000,
                max_spout_pending: None,
                ackers: None,
                workers: 1,
                batch_size: 10,
                queue_capacity: 10,
                max_parallelism: 128,
                checkpoints: crate::checkpoint::CheckpointConfig::NONE,
                restart: crate::checkpoint::RestartStrategy::DEFAULT,
            },
            config: &[],
        }));
        TaskContext::new(desc, 0, 1)
    }

    pub(crate) fn new(desc: &'static TopologyDesc, component: usize, task: TaskId) -> Self {
        TaskContext {
            desc,
            component,
            task,
        }
    }

    /// The topology's name.
    pub fn topology(&self) -> &str {
        self.desc.name
    }

    /// This component's name.
    pub fn component(&self) -> &str {
        self.desc.components[self.component].name
    }

    /// This task's id.
    pub fn task_id(&self) -> TaskId {
        self.task
    }

    /// This task's index among its component's tasks (0-based).
    pub fn task_index(&self) -> usize {
        (self.task - self.desc.components[self.component].first_task) as usize
    }

    /// How many tasks this component has.
    pub fn task_count(&self) -> usize {
        self.desc.components[self.component].tasks as usize
    }

    /// The task ids of a component, by name (empty when there is no such component).
    pub fn component_tasks(&self, name: &str) -> Range<TaskId> {
        self.desc
            .components
            .iter()
            .find(|c| c.name == name)
            .map_or(0..0, |c| c.first_task..c.first_task + c.tasks)
    }

    /// A value from the topology's `config { ... }` block.
    pub fn config(&self, key: &str) -> Option<&ConfigValue> {
        crate::topology::config_value(self.desc, key)
    }

    /// A string value from the config block.
    pub fn config_str(&self, key: &str) -> Option<&str> {
        match self.config(key) {
            Some(ConfigValue::Str(s)) => Some(s),
            _ => None,
        }
    }

    /// An integer value from the config block.
    pub fn config_u64(&self, key: &str) -> Option<u64> {
        match self.config(key) {
            Some(ConfigValue::Int(n)) => Some(*n),
            _ => None,
        }
    }
}
