//! The in-memory keyed state backend: per key group, one table per declared state.

use super::handles::{StateHandle, Stored};
use super::snapshot::GroupSnapshot;
use crate::codec::{Codec, DecodeError, get_varint, put_varint};
use crate::grouping::{FastMap, hash_key, key_group};
use std::any::Any;
use std::hash::Hash;
use std::ops::Range;
use thiserror::Error;

/// Why a state operation was refused. None is retryable: each is a mistake in the
/// topology or its code, reported when the task opens or when a tuple reaches it.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum StateError {
    /// Two declarations of one name with different kinds or types.
    #[error("state `{0}` is declared twice, with different kinds or types")]
    Conflict(String),
    /// A key whose key group this task does not own: the input is not keyed by the key
    /// the state uses (a `shuffle` edge into a keyed bolt, say).
    #[error(
        "a key of key group {group} reached a task that owns key groups {start}..{end}: its input is not keyed by this key"
    )]
    KeyNotOwned {
        /// The key's group.
        group: u32,
        /// The first group this task owns.
        start: u32,
        /// One past the last.
        end: u32,
    },
    /// A snapshot of a key group that could not be read.
    #[error("a snapshot of key group {group} is corrupt: {source}")]
    Corrupt {
        /// The key group.
        group: u32,
        /// What was wrong.
        source: DecodeError,
    },
}

/// The key group of `key` (of `max_parallelism`), if it is in `range`, the groups a task
/// owns; every keyed operator's state is found this way.
pub fn owned_group<K: std::hash::Hash + ?Sized>(
    key: &K,
    max_parallelism: u32,
    range: &std::ops::Range<u32>,
) -> Result<u32, StateError> {
    let group = key_group(hash_key(key), max_parallelism);
    if range.contains(&group) {
        Ok(group)
    } else {
        Err(StateError::KeyNotOwned {
            group,
            start: range.start,
            end: range.end,
        })
    }
}

impl StateError {
    /// Always false: a retry meets the same mistake.
    pub fn retryable(&self) -> bool {
        false
    }
}

/// One declared state's entries in one key group, type-erased.
pub(crate) trait Table<K>: Send {
    fn as_any(&mut self) -> &mut dyn Any;
    fn len(&self) -> usize;
    /// Drops the entries last written before `cutoff_ms`; returns how many.
    fn expire(&mut self, cutoff_ms: u64) -> usize;
    fn encode(&self, out: &mut Vec<u8>);
    fn decode(&mut self, input: &mut &[u8]) -> Result<(), DecodeError>;
}

/// A stored value and when it was last written (processing time, ms).
pub(crate) struct Stamped<S> {
    pub(crate) value: S,
    pub(crate) at_ms: u64,
}

/// The entries of one state in one key group.
pub(crate) struct Entries<K, S> {
    pub(crate) map: FastMap<K, Stamped<S>>,
}

impl<K, S> Table<K> for Entries<K, S>
where
    K: Codec + Hash + Eq + Send + 'static,
    S: Stored,
{
    fn as_any(&mut self) -> &mut dyn Any {
        self
    }

    fn len(&self) -> usize {
        self.map.len()
    }

    fn expire(&mut self, cutoff_ms: u64) -> usize {
        let before = self.map.len();
        self.map.retain(|_, s| s.at_ms >= cutoff_ms);
        before - self.map.len()
    }

    fn encode(&self, out: &mut Vec<u8>) {
        put_varint(out, self.map.len() as u64);
        for (k, s) in &self.map {
            k.encode(out);
            put_varint(out, s.at_ms);
            s.value.encode(out);
        }
    }

    fn decode(&mut self, input: &mut &[u8]) -> Result<(), DecodeError> {
        let n = get_varint(input)?;
        if n > input.len() as u64 {
            return Err(DecodeError::TooLong(n));
        }
        for _ in 0..n {
            let k = K::decode(input)?;
            let at_ms = get_varint(input)?;
            let value = S::decode(input)?;
            self.map.insert(k, Stamped { value, at_ms });
        }
        Ok(())
    }
}

/// A declared state.
struct Declared {
    name: String,
    kind: std::any::TypeId,
    ttl_ms: Option<u64>,
}

fn new_table<K, S>() -> Box<dyn Table<K>>
where
    K: Codec + Hash + Eq + Send + 'static,
    S: Stored,
{
    Box::new(Entries::<K, S> {
        map: FastMap::default(),
    })
}

/// The keyed state of one task: the key groups it owns, each with a table per declared
/// state.
pub struct KeyedBackend<K> {
    max_parallelism: u32,
    range: Range<u32>,
    declared: Vec<Declared>,
    /// `[group - range.start][state id]`.
    groups: Vec<Vec<Box<dyn Table<K>>>>,
    /// The next key group [`KeyedBackend::sweep`] looks at.
    sweep_next: u32,
    /// The time to live of states declared without one.
    default_ttl_ms: Option<u64>,
    /// A snapshot being taken one key group at a time.
    incremental: Option<GroupSnapshot>,
}

/// The encoding of one key group: for each declared state, its name and entries.
fn encode_group<K>(declared: &[Declared], tables: &[Box<dyn Table<K>>]) -> Vec<u8> {
    let mut out = Vec::new();
    put_varint(&mut out, tables.len() as u64);
    for (d, t) in declared.iter().zip(tables) {
        d.name.encode(&mut out);
        t.encode(&mut out);
    }
    out
}

impl<K> std::fmt::Debug for KeyedBackend<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyedBackend")
            .field("max_parallelism", &self.max_parallelism)
            .field("range", &self.range)
            .field(
                "states",
                &self.declared.iter().map(|d| &d.name).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl<K> KeyedBackend<K>
where
    K: Codec + Hash + Eq + Send + 'static,
{
    /// The state of a task that owns key groups `range` of `max_parallelism`.
    pub fn new(max_parallelism: u32, range: Range<u32>) -> Self {
        let groups = (range.start..range.end).map(|_| Vec::new()).collect();
        KeyedBackend {
            max_parallelism: max_parallelism.max(1),
            range,
            declared: Vec::new(),
            groups,
            sweep_next: 0,
            default_ttl_ms: None,
            incremental: None,
        }
    }

    /// Begins a snapshot taken a key group at a time ([`snapshot_step`](Self::snapshot_step),
    /// and before the first access to a group), replacing one in progress.
    pub fn begin_snapshot(&mut self) {
        self.incremental = Some(GroupSnapshot::new(self.groups.len()));
    }

    /// Encodes groups of the snapshot in progress for about `budget` (at least one);
    /// true once every group is (or no snapshot is in progress).
    pub fn snapshot_step(&mut self, budget: std::time::Duration) -> bool {
        let declared = &self.declared;
        GroupSnapshot::step_in(&mut self.incremental, &self.groups, budget, |t| {
            encode_group(declared, t)
        })
    }

    /// The snapshot taken, once every group is: `(group, encoding)` for every owned group,
    /// in order. `None` while one is in progress or none was begun.
    pub fn take_snapshot(&mut self) -> Option<Vec<(u32, Vec<u8>)>> {
        GroupSnapshot::take_from(&mut self.incremental, self.range.start)
    }

    /// States declared from now on without a time to live of their own get `ttl_ms` (the
    /// `ttl` of a `process(T)` in a `.topo` file).
    pub fn set_default_ttl(&mut self, ttl_ms: Option<u64>) {
        self.default_ttl_ms = ttl_ms.map(|t| t.max(1));
    }

    /// The key groups this task owns.
    pub fn key_groups(&self) -> Range<u32> {
        self.range.clone()
    }

    /// Declares state `name` of `H`'s kind (declaring it again with the same kind returns
    /// the same id); returns its id.
    pub(crate) fn declare<H: StateHandle>(
        &mut self,
        name: &str,
        ttl_ms: Option<u64>,
    ) -> Result<u32, StateError> {
        let kind = std::any::TypeId::of::<H::Stored>();
        if let Some(i) = self.declared.iter().position(|d| d.name == name) {
            return if self.declared[i].kind == kind {
                Ok(i as u32)
            } else {
                Err(StateError::Conflict(name.to_string()))
            };
        }
        self.declared.push(Declared {
            name: name.to_string(),
            kind,
            ttl_ms: ttl_ms.or(self.default_ttl_ms),
        });
        for g in &mut self.groups {
            g.push(new_table::<K, H::Stored>());
        }
        Ok((self.declared.len() - 1) as u32)
    }

    /// The key group of `key`, if this task owns it.
    pub fn group_of(&self, key: &K) -> Result<u32, StateError> {
        owned_group(key, self.max_parallelism, &self.range)
    }

    /// The entries of state `id` in an owned key group.
    pub(crate) fn entries<S: Stored>(&mut self, group: u32, id: u32) -> &mut Entries<K, S> {
        let i = (group - self.range.start) as usize;
        // Copy-on-write: the group's state at the barrier is encoded before it changes.
        let declared = &self.declared;
        GroupSnapshot::before_change_in(&mut self.incremental, &self.groups, i, |t| {
            encode_group(declared, t)
        });
        let table = &mut self.groups[i][id as usize];
        match table.as_any().downcast_mut::<Entries<K, S>>() {
            Some(e) => e,
            None => unreachable!("a state handle of another kind than its declaration"),
        }
    }

    /// The time to live of state `id` in milliseconds.
    pub(crate) fn ttl_ms(&self, id: u32) -> Option<u64> {
        self.declared.get(id as usize).and_then(|d| d.ttl_ms)
    }

    /// True when some state has a time to live (processing time must be read then).
    pub fn has_ttl(&self) -> bool {
        self.declared.iter().any(|d| d.ttl_ms.is_some())
    }

    /// Entries of every state in every group (a key counts once per state it has).
    pub fn len(&self) -> usize {
        self.groups.iter().flatten().map(|t| t.len()).sum()
    }

    /// True when no key has any state.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Drops the expired entries of one key group (the next in turn) at processing time
    /// `now_ms`; returns how many. Called now and then while the task runs, so state that
    /// nobody reads again does not stay forever.
    pub fn sweep(&mut self, now_ms: u64) -> usize {
        if self.groups.is_empty() {
            return 0;
        }
        let i = (self.sweep_next as usize) % self.groups.len();
        self.sweep_next = self.sweep_next.wrapping_add(1);
        // Copy-on-write: the group's state at the barrier is encoded before it changes.
        let declared = &self.declared;
        GroupSnapshot::before_change_in(&mut self.incremental, &self.groups, i, |t| {
            encode_group(declared, t)
        });
        let mut dropped = 0;
        for (id, table) in self.groups[i].iter_mut().enumerate() {
            if let Some(ttl) = self.declared[id].ttl_ms {
                dropped += table.expire(now_ms.saturating_sub(ttl));
            }
        }
        dropped
    }

    /// The encoding of key group `group`: for each declared state, its name and entries.
    /// `None` if this task does not own the group.
    pub fn snapshot_group(&self, group: u32) -> Option<Vec<u8>> {
        let tables = self
            .groups
            .get(group.checked_sub(self.range.start)? as usize)?;
        Some(encode_group(&self.declared, tables))
    }

    /// Adds the entries of a snapshot of key group `group` (every state it names must be
    /// declared, with the same types, before).
    pub fn restore_group(&mut self, group: u32, bytes: &[u8]) -> Result<(), StateError> {
        let rest = self.restore_group_prefix(group, bytes)?;
        if rest.is_empty() {
            Ok(())
        } else {
            Err(StateError::Corrupt {
                group,
                source: DecodeError::TooLong(rest.len() as u64),
            })
        }
    }

    /// [`restore_group`](Self::restore_group) from the start of `bytes`, which may hold more
    /// after it (an operator's own part of the group): returns what follows.
    pub fn restore_group_prefix<'b>(
        &mut self,
        group: u32,
        mut bytes: &'b [u8],
    ) -> Result<&'b [u8], StateError> {
        let corrupt = |source| StateError::Corrupt { group, source };
        let Some(i) = group.checked_sub(self.range.start).map(|i| i as usize) else {
            return Err(self.not_owned(group));
        };
        if i >= self.groups.len() {
            return Err(self.not_owned(group));
        }
        let input = &mut bytes;
        let n = get_varint(input).map_err(corrupt)?;
        for _ in 0..n {
            let name = String::decode(input).map_err(corrupt)?;
            let Some(id) = self.declared.iter().position(|d| d.name == name) else {
                return Err(StateError::Conflict(name));
            };
            self.groups[i][id].decode(input).map_err(corrupt)?;
        }
        Ok(bytes)
    }

    fn not_owned(&self, group: u32) -> StateError {
        StateError::KeyNotOwned {
            group,
            start: self.range.start,
            end: self.range.end,
        }
    }
}
