//! `custom(path::To::Grouping)`: the user's [`CustomGrouping`] picks the tasks.

use super::{Choice, Grouping, Targets};
use crate::api::{CustomGrouping, TaskId};

/// Adapts a user [`CustomGrouping`] (which speaks task ids) to a [`Grouping`].
#[derive(Debug)]
pub struct Custom<G> {
    user: G,
    tasks: Vec<TaskId>,
    chosen: Vec<TaskId>,
    indexes: Vec<usize>,
}

impl<G> Custom<G> {
    /// Wraps the user's grouping.
    pub fn new(user: G) -> Self {
        Custom {
            user,
            tasks: Vec::new(),
            chosen: Vec::new(),
            indexes: Vec::new(),
        }
    }
}

impl<T, G: CustomGrouping<T>> Grouping<T> for Custom<G> {
    fn prepare(&mut self, targets: &Targets) {
        self.tasks = targets.tasks.clone();
        self.user.prepare(&targets.tasks);
    }

    fn choose(&mut self, tuple: &T) -> Choice<'_> {
        self.chosen.clear();
        self.indexes.clear();
        self.user.choose_tasks(tuple, &mut self.chosen);
        for id in &self.chosen {
            match self.tasks.binary_search(id) {
                Ok(i) => self.indexes.push(i),
                Err(_) => panic!(
                    "gale: custom grouping {} chose task {id}, which is not one of the consumer's tasks {:?}",
                    std::any::type_name::<G>(),
                    self.tasks
                ),
            }
        }
        Choice::Many(&self.indexes)
    }
}
