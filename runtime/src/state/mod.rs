//! Keyed state, as Flink has it: state that belongs to a key, declared by name, typed, with
//! an optional time to live.
//!
//! A keyed bolt (a `process(T)` operator fed by `fields(...)`, see [`crate::api::process`])
//! declares its state when it opens — `ctx.value_state::<u64>("count")` — and reads and
//! writes it while it processes a tuple, scoped to that tuple's key:
//! `ctx.state(&self.count).get()`. The kinds are [`ValueState`], [`ListState`],
//! [`MapState`], [`ReducingState`] and [`AggregatingState`].
//!
//! The backend ([`KeyedBackend`]) keeps it in memory, **by key group**: a task owns a
//! contiguous range of the topology's `max_parallelism` key groups
//! ([`crate::grouping::key_group_range`]), whatever the task count, and each key group
//! holds its own table per declared state. A snapshot is taken, and restored, one key group
//! at a time ([`KeyedBackend::snapshot_group`]): a restore at another parallelism gives
//! each task the whole groups it now owns, and a snapshot never has to stop the task for
//! longer than one group takes to encode.
//!
//! A time to live ([`StateOptions::ttl`]) counts from a key's last write (Flink's
//! `OnCreateAndWrite`) and applies to a key's whole state of that name (a map's or a
//! list's entries expire together). An expired value is never returned (it is dropped on
//! access), and [`KeyedBackend::sweep`] drops the expired ones nobody reads, one key group
//! per call, in the background of processing. A `ttl` on a `process(T)` in a `.topo` file
//! is the time to live of every state it declares without one of its own
//! ([`KeyedBackend::set_default_ttl`]); on a window or an interval join, which keep their
//! own per-key state, it is a [`Retention`]: a key not written for that long loses it.

mod backend;
mod context;
mod handles;
mod retention;
mod snapshot;
#[cfg(test)]
mod tests;
mod timers;

pub use backend::{KeyedBackend, StateError, owned_group};
pub use context::{Key, KeyedContext, OpenContext};
pub use handles::{
    AggregateFunction, Aggregating, AggregatingState, List, ListState, Map, MapEntries, MapState,
    Reducing, ReducingState, Slot, StateHandle, StateOptions, Stored, Value, ValueState,
};
pub use retention::{Retention, wall_ms};
pub use snapshot::{
    GroupSnapshot, IncrementalGroups, KeyGroupState, begin_groups, continue_groups, key_groups,
    restore_groups, restore_key_groups, snapshot_groups,
};
pub use timers::Timers;
