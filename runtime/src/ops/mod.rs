//! Built-in operators: what `map(f)`, `filter(f)`, `flat_map(f)`... in a `.topo` file
//! become, one file each. The compiler half of each (its arguments, checks and the code
//! that builds it) is the file of the same name in `gale_compiler::ops`.

use crate::state::wall_ms;

mod filter;
mod flat_map;
mod interval_join;
mod map;
mod process;
mod transactional;
mod window;
mod window_join;

pub use filter::FilterOp;
pub use flat_map::FlatMapOp;
pub use interval_join::IntervalJoinOp;
pub use map::MapOp;
pub use process::{NoKey, ProcessOp};
pub use transactional::TransactionalOp;
pub use window::{ApplyFn, Finish, MakeOut, WindowOp};
pub use window_join::{JoinAgg, JoinPairs};
