//! What a keyed bolt sees of its state: [`OpenContext`] to declare it when it opens, and
//! [`KeyedContext`] to use it, scoped to the key of the tuple being processed.

use super::backend::{KeyedBackend, StateError};
use super::handles::{
    AggregateFunction, AggregatingState, ListState, MapState, ReducingState, Slot, StateHandle,
    StateOptions, Stored, ValueState,
};
use crate::api::TaskContext;
use crate::codec::Codec;
use std::hash::Hash;

/// A key: what a `fields(...)` edge keys by (the field, or a tuple of the fields; float
/// fields as their bits), or `()` for a bolt that is not keyed.
pub trait Key: Codec + Hash + Eq + Clone + Send + 'static {}
impl<T: Codec + Hash + Eq + Clone + Send + 'static> Key for T {}

/// Declares a keyed bolt's state when it opens.
pub struct OpenContext<'a, K> {
    pub(crate) task: &'a TaskContext,
    pub(crate) backend: &'a mut KeyedBackend<K>,
}

impl<K: Key> OpenContext<'_, K> {
    /// The task's context (its index, the topology's config...).
    pub fn task(&self) -> &TaskContext {
        self.task
    }

    /// Declares state `name` for `handle` with `options`; returns the handle, ready to use.
    /// Declaring one name twice with different kinds or types is an error.
    pub fn declare<H: StateHandle>(
        &mut self,
        name: &str,
        mut handle: H,
        options: StateOptions,
    ) -> Result<H, StateError> {
        let ttl_ms = options
            .ttl
            .map(|d| d.as_millis().clamp(1, u64::MAX as u128) as u64);
        handle.set_id(self.backend.declare::<H>(name, ttl_ms)?);
        Ok(handle)
    }

    /// A [`ValueState`] called `name`.
    pub fn value_state<V: Stored>(&mut self, name: &str) -> Result<ValueState<V>, StateError> {
        self.declare(name, ValueState::default(), StateOptions::default())
    }

    /// A [`ListState`] called `name`.
    pub fn list_state<V: Stored>(&mut self, name: &str) -> Result<ListState<V>, StateError> {
        self.declare(name, ListState::default(), StateOptions::default())
    }

    /// A [`MapState`] called `name`.
    pub fn map_state<MK: Stored + Hash + Eq, MV: Stored>(
        &mut self,
        name: &str,
    ) -> Result<MapState<MK, MV>, StateError> {
        self.declare(name, MapState::default(), StateOptions::default())
    }

    /// A [`ReducingState`] called `name`, folding with `reduce`.
    pub fn reducing_state<V: Stored>(
        &mut self,
        name: &str,
        reduce: fn(V, V) -> V,
    ) -> Result<ReducingState<V>, StateError> {
        self.declare(name, ReducingState::new(reduce), StateOptions::default())
    }

    /// An [`AggregatingState`] called `name`, aggregating with `function`.
    pub fn aggregating_state<A: AggregateFunction>(
        &mut self,
        name: &str,
        function: A,
    ) -> Result<AggregatingState<A>, StateError> {
        self.declare(
            name,
            AggregatingState::new(function),
            StateOptions::default(),
        )
    }
}

/// A keyed bolt's state while it processes one tuple: every access is scoped to that
/// tuple's key.
pub struct KeyedContext<'a, K> {
    pub(crate) backend: &'a mut KeyedBackend<K>,
    pub(crate) key: &'a K,
    pub(crate) group: u32,
    pub(crate) now_ms: u64,
    pub(crate) timers: &'a mut super::Timers<K>,
    pub(crate) processing_timers: &'a mut super::Timers<K>,
    pub(crate) watermark: Option<u64>,
}

impl<K: Key> KeyedContext<'_, K> {
    /// The key of the tuple being processed.
    pub fn key(&self) -> &K {
        self.key
    }

    /// Its key group.
    pub fn key_group(&self) -> u32 {
        self.group
    }

    /// The task's event time: its watermark (`None` before the first).
    pub fn watermark(&self) -> Option<u64> {
        self.watermark
    }

    /// Runs the bolt's `on_timer` for this key once event time reaches `ts` (at once if it
    /// already has, at the next watermark; at the latest when the input ends). One timer
    /// per key and time: registering it again changes nothing.
    pub fn register_event_time_timer(&mut self, ts: u64) {
        self.timers.register(self.key, ts);
    }

    /// Removes this key's timer at `ts`.
    pub fn delete_event_time_timer(&mut self, ts: u64) {
        self.timers.delete(self.key, ts);
    }

    /// Runs the bolt's `on_processing_timer` for this key once the wall clock reaches `ts`
    /// (epoch ms), whether or not input arrives (within about 10 ms).
    pub fn register_processing_time_timer(&mut self, ts: u64) {
        self.processing_timers.register(self.key, ts);
    }

    /// Removes this key's processing-time timer at `ts`.
    pub fn delete_processing_time_timer(&mut self, ts: u64) {
        self.processing_timers.delete(self.key, ts);
    }

    /// Processing time now (epoch ms).
    pub fn now_ms(&self) -> u64 {
        if self.now_ms > 0 {
            return self.now_ms;
        }
        super::wall_ms()
    }

    /// The view of the current key's entry of state `handle`.
    ///
    /// # Panics
    ///
    /// If `handle` was not declared when the bolt opened (a bug in the bolt).
    pub fn state<'b, H: StateHandle>(&'b mut self, handle: &'b H) -> H::Access<'b, K> {
        let id = handle.id();
        assert!(
            id != u32::MAX,
            "a state handle used before it was declared (declare it in `open`)"
        );
        let ttl_ms = self.backend.ttl_ms(id);
        let entries = self.backend.entries::<H::Stored>(self.group, id);
        handle.access(Slot {
            entries,
            key: self.key,
            now_ms: self.now_ms,
            ttl_ms,
        })
    }
}
