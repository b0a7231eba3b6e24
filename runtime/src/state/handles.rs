//! The kinds of keyed state: handles a bolt keeps (declared by name when it opens), and
//! the views ([`Value`], [`List`], [`Map`], [`Reducing`], [`Aggregating`]) it gets of one
//! key's state while it processes that key's tuple.

use super::backend::{Entries, Stamped};
use crate::codec::{Codec, DecodeError, get_varint, put_varint};
use crate::grouping::FastMap;
use std::hash::Hash;
use std::marker::PhantomData;
use std::time::Duration;

/// What a state stores per key: anything the codec can write (snapshots encode it).
pub trait Stored: Codec + Send + 'static {}
impl<T: Codec + Send + 'static> Stored for T {}

/// How a state is declared.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StateOptions {
    /// Entries not written for this long expire (`None`: never).
    pub ttl: Option<Duration>,
}

impl StateOptions {
    /// Entries expire `ttl` after their last write.
    pub fn ttl(ttl: Duration) -> Self {
        StateOptions { ttl: Some(ttl) }
    }
}

/// One key's entry of one state, at processing time `now_ms`.
pub struct Slot<'a, K, S> {
    pub(crate) entries: &'a mut Entries<K, S>,
    pub(crate) key: &'a K,
    pub(crate) now_ms: u64,
    pub(crate) ttl_ms: Option<u64>,
}

impl<K: Hash + Eq + Clone, S> Slot<'_, K, S> {
    /// The live value (an expired one is dropped).
    fn live(&mut self) -> Option<&mut Stamped<S>> {
        let expired = match (self.ttl_ms, self.entries.map.get(self.key)) {
            (Some(ttl), Some(s)) => self.now_ms.saturating_sub(s.at_ms) >= ttl,
            _ => false,
        };
        if expired {
            self.entries.map.remove(self.key);
            return None;
        }
        self.entries.map.get_mut(self.key)
    }

    fn get(&mut self) -> Option<&S> {
        self.live().map(|s| &s.value)
    }

    /// The value to write (created with `init` if there is none), stamped now.
    fn write(&mut self, init: impl FnOnce() -> S) -> &mut S {
        let now = self.now_ms;
        if self.live().is_none() {
            self.entries.map.insert(
                self.key.clone(),
                Stamped {
                    value: init(),
                    at_ms: now,
                },
            );
        }
        match self.entries.map.get_mut(self.key) {
            Some(s) => {
                s.at_ms = now;
                &mut s.value
            }
            None => unreachable!("inserted above"),
        }
    }

    fn put(&mut self, value: S) {
        self.entries.map.insert(
            self.key.clone(),
            Stamped {
                value,
                at_ms: self.now_ms,
            },
        );
    }

    fn clear(&mut self) {
        self.entries.map.remove(self.key);
    }
}

/// A declared state: its id, and how a key's entry of it is seen.
pub trait StateHandle {
    /// What it stores per key.
    type Stored: Stored;
    /// The view of one key's entry.
    type Access<'a, K: Hash + Eq + Clone + 'a>
    where
        Self: 'a;
    /// Its id in the backend (`u32::MAX`: not declared yet).
    fn id(&self) -> u32;
    /// Sets its id (when it is declared).
    fn set_id(&mut self, id: u32);
    /// The view of a key's entry.
    fn access<'a, K: Hash + Eq + Clone + 'a>(
        &'a self,
        slot: Slot<'a, K, Self::Stored>,
    ) -> Self::Access<'a, K>;
}

macro_rules! handle {
    ($(#[$m:meta])* $name:ident<$($p:ident),*> stores $stored:ty, view $view:ident) => {
        $(#[$m])*
        pub struct $name<$($p),*> {
            id: u32,
            _types: PhantomData<fn() -> ($($p,)*)>,
        }

        impl<$($p),*> Default for $name<$($p),*> {
            /// A handle not declared yet: declare it when the bolt opens.
            fn default() -> Self {
                $name { id: u32::MAX, _types: PhantomData }
            }
        }

        impl<$($p),*> Clone for $name<$($p),*> {
            fn clone(&self) -> Self {
                $name { id: self.id, _types: PhantomData }
            }
        }

        impl<$($p),*> std::fmt::Debug for $name<$($p),*> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($name)).field("id", &self.id).finish()
            }
        }

        impl<$($p: Stored),*> StateHandle for $name<$($p),*>
        where
            $stored: Stored,
        {
            type Stored = $stored;
            type Access<'a, K: Hash + Eq + Clone + 'a> = $view<'a, K, $($p),*> where Self: 'a;
            fn id(&self) -> u32 {
                self.id
            }
            fn set_id(&mut self, id: u32) {
                self.id = id;
            }
            fn access<'a, K: Hash + Eq + Clone + 'a>(
                &'a self,
                slot: Slot<'a, K, Self::Stored>,
            ) -> Self::Access<'a, K> {
                $view { slot }
            }
        }
    };
}

handle!(
    /// One value per key (Flink's `ValueState`).
    ValueState<V> stores V, view Value
);
handle!(
    /// A list of values per key (Flink's `ListState`).
    ListState<V> stores Vec<V>, view List
);
handle!(
    /// A map per key (Flink's `MapState`).
    MapState<MK, MV> stores MapEntries<MK, MV>, view Map
);

/// One key's [`ValueState`].
pub struct Value<'a, K, V> {
    slot: Slot<'a, K, V>,
}

impl<K: Hash + Eq + Clone, V> Value<'_, K, V> {
    /// The value, if there is a live one.
    pub fn get(&mut self) -> Option<&V> {
        self.slot.get()
    }

    /// Sets the value.
    pub fn set(&mut self, value: V) {
        self.slot.put(value);
    }

    /// The value to change in place, `init()` if there is none.
    pub fn get_or_insert_with(&mut self, init: impl FnOnce() -> V) -> &mut V {
        self.slot.write(init)
    }

    /// Removes the value.
    pub fn clear(&mut self) {
        self.slot.clear();
    }
}

/// One key's [`ListState`].
pub struct List<'a, K, V> {
    slot: Slot<'a, K, Vec<V>>,
}

impl<K: Hash + Eq + Clone, V> List<'_, K, V> {
    /// Appends a value.
    pub fn add(&mut self, value: V) {
        self.slot.write(Vec::new).push(value);
    }

    /// The values, oldest first (empty when there are none).
    pub fn get(&mut self) -> &[V] {
        self.slot.get().map_or(&[], Vec::as_slice)
    }

    /// Replaces the values.
    pub fn update(&mut self, values: Vec<V>) {
        self.slot.put(values);
    }

    /// Removes every value.
    pub fn clear(&mut self) {
        self.slot.clear();
    }
}

/// The entries of one key's [`MapState`].
pub struct MapEntries<MK, MV>(pub(crate) FastMap<MK, MV>);

impl<MK, MV> Default for MapEntries<MK, MV> {
    fn default() -> Self {
        MapEntries(FastMap::default())
    }
}

impl<MK: Codec + Hash + Eq, MV: Codec> Codec for MapEntries<MK, MV> {
    fn encode(&self, out: &mut Vec<u8>) {
        put_varint(out, self.0.len() as u64);
        for (k, v) in &self.0 {
            k.encode(out);
            v.encode(out);
        }
    }

    fn decode(input: &mut &[u8]) -> Result<Self, DecodeError> {
        let n = get_varint(input)?;
        if n > input.len() as u64 {
            return Err(DecodeError::TooLong(n));
        }
        let mut m = FastMap::default();
        for _ in 0..n {
            let k = MK::decode(input)?;
            m.insert(k, MV::decode(input)?);
        }
        Ok(MapEntries(m))
    }
}

/// One key's [`MapState`].
pub struct Map<'a, K, MK, MV> {
    slot: Slot<'a, K, MapEntries<MK, MV>>,
}

impl<K: Hash + Eq + Clone, MK: Hash + Eq, MV> Map<'_, K, MK, MV> {
    /// The value under `k`.
    pub fn get(&mut self, k: &MK) -> Option<&MV> {
        self.slot.get().and_then(|m| m.0.get(k))
    }

    /// Sets the value under `k`; returns the one it replaces.
    pub fn put(&mut self, k: MK, v: MV) -> Option<MV> {
        self.slot.write(MapEntries::default).0.insert(k, v)
    }

    /// Removes the value under `k`.
    pub fn remove(&mut self, k: &MK) -> Option<MV> {
        self.slot.write(MapEntries::default).0.remove(k)
    }

    /// Whether there is a value under `k`.
    pub fn contains(&mut self, k: &MK) -> bool {
        self.get(k).is_some()
    }

    /// Every entry, in no particular order.
    pub fn entries(&mut self) -> Vec<(&MK, &MV)> {
        self.slot
            .get()
            .map(|m| m.0.iter().collect())
            .unwrap_or_default()
    }

    /// Removes every entry.
    pub fn clear(&mut self) {
        self.slot.clear();
    }
}

/// A value per key, folded by a reduce function as values are added (Flink's
/// `ReducingState`).
pub struct ReducingState<V> {
    id: u32,
    reduce: fn(V, V) -> V,
}

fn keep_latest<V>(_: V, b: V) -> V {
    b
}

impl<V> ReducingState<V> {
    /// A handle that folds with `reduce` (declare it when the bolt opens).
    pub fn new(reduce: fn(V, V) -> V) -> Self {
        ReducingState {
            id: u32::MAX,
            reduce,
        }
    }
}

impl<V> Default for ReducingState<V> {
    /// A handle keeping the latest value; declaring it with a function replaces that.
    fn default() -> Self {
        ReducingState::new(keep_latest)
    }
}

impl<V> std::fmt::Debug for ReducingState<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReducingState")
            .field("id", &self.id)
            .finish()
    }
}

impl<V: Stored> StateHandle for ReducingState<V> {
    type Stored = V;
    type Access<'a, K: Hash + Eq + Clone + 'a>
        = Reducing<'a, K, V>
    where
        Self: 'a;
    fn id(&self) -> u32 {
        self.id
    }
    fn set_id(&mut self, id: u32) {
        self.id = id;
    }
    fn access<'a, K: Hash + Eq + Clone + 'a>(&'a self, slot: Slot<'a, K, V>) -> Reducing<'a, K, V> {
        Reducing {
            slot,
            reduce: self.reduce,
        }
    }
}

/// One key's [`ReducingState`].
pub struct Reducing<'a, K, V> {
    slot: Slot<'a, K, V>,
    reduce: fn(V, V) -> V,
}

impl<K: Hash + Eq + Clone, V> Reducing<'_, K, V> {
    /// Folds `value` into the key's value (or makes it the value).
    pub fn add(&mut self, value: V) {
        let reduce = self.reduce;
        let next = match self.slot.live() {
            Some(_) => match self.slot.entries.map.remove(self.slot.key) {
                Some(old) => reduce(old.value, value),
                None => value,
            },
            None => value,
        };
        self.slot.put(next);
    }

    /// The folded value.
    pub fn get(&mut self) -> Option<&V> {
        self.slot.get()
    }

    /// Removes the value.
    pub fn clear(&mut self) {
        self.slot.clear();
    }
}

/// An incremental aggregation (Flink's `AggregateFunction`): an accumulator per key, values
/// added one at a time, a result read at any time; `merge` joins two accumulators (session
/// windows merge).
pub trait AggregateFunction: Send + 'static {
    /// What is added.
    type In;
    /// What is kept per key.
    type Acc: Stored;
    /// What is read.
    type Out;
    /// An empty accumulator.
    fn create(&self) -> Self::Acc;
    /// Adds one value.
    fn add(&self, acc: &mut Self::Acc, value: Self::In);
    /// The result of an accumulator.
    fn result(&self, acc: &Self::Acc) -> Self::Out;
    /// Joins `other` into `acc`.
    fn merge(&self, acc: &mut Self::Acc, other: Self::Acc);
}

/// An accumulator per key (Flink's `AggregatingState`).
pub struct AggregatingState<A> {
    id: u32,
    function: A,
}

impl<A> AggregatingState<A> {
    /// A handle aggregating with `function` (declare it when the bolt opens).
    pub fn new(function: A) -> Self {
        AggregatingState {
            id: u32::MAX,
            function,
        }
    }
}

impl<A: Default> Default for AggregatingState<A> {
    fn default() -> Self {
        AggregatingState::new(A::default())
    }
}

impl<A> std::fmt::Debug for AggregatingState<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AggregatingState")
            .field("id", &self.id)
            .finish()
    }
}

impl<A: AggregateFunction> StateHandle for AggregatingState<A> {
    type Stored = A::Acc;
    type Access<'a, K: Hash + Eq + Clone + 'a>
        = Aggregating<'a, K, A>
    where
        Self: 'a;
    fn id(&self) -> u32 {
        self.id
    }
    fn set_id(&mut self, id: u32) {
        self.id = id;
    }
    fn access<'a, K: Hash + Eq + Clone + 'a>(
        &'a self,
        slot: Slot<'a, K, A::Acc>,
    ) -> Aggregating<'a, K, A> {
        Aggregating {
            slot,
            function: &self.function,
        }
    }
}

/// One key's [`AggregatingState`].
pub struct Aggregating<'a, K, A: AggregateFunction> {
    slot: Slot<'a, K, A::Acc>,
    function: &'a A,
}

impl<K: Hash + Eq + Clone, A: AggregateFunction> Aggregating<'_, K, A> {
    /// Adds a value to the key's accumulator.
    pub fn add(&mut self, value: A::In) {
        let f = self.function;
        f.add(self.slot.write(|| f.create()), value);
    }

    /// The result so far (`None` when nothing was added).
    pub fn get(&mut self) -> Option<A::Out> {
        let f = self.function;
        self.slot.get().map(|acc| f.result(acc))
    }

    /// Removes the accumulator.
    pub fn clear(&mut self) {
        self.slot.clear();
    }
}
