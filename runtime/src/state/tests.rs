//! The backend and the state kinds, against what a key must see.

use super::*;
use crate::codec::{Codec, DecodeError};
use crate::grouping::key_group_range;
use std::hash::{Hash, Hasher};
use std::time::Duration;

/// A key whose hash is the same for every value: isolation must come from equality.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Colliding(u32);

impl Hash for Colliding {
    fn hash<H: Hasher>(&self, h: &mut H) {
        0u8.hash(h);
    }
}

impl Codec for Colliding {
    fn encode(&self, out: &mut Vec<u8>) {
        self.0.encode(out);
    }
    fn decode(input: &mut &[u8]) -> Result<Self, DecodeError> {
        Ok(Colliding(u32::decode(input)?))
    }
}

fn whole<K: Key>(m: u32) -> KeyedBackend<K> {
    KeyedBackend::new(m, 0..m)
}

fn open<K: Key>(b: &mut KeyedBackend<K>) -> OpenContext<'_, K> {
    let task = Box::leak(Box::new(crate::api::TaskContext::for_tests()));
    OpenContext { task, backend: b }
}

fn at<'a, K: Key>(b: &'a mut KeyedBackend<K>, key: &'a K, now_ms: u64) -> KeyedContext<'a, K> {
    let group = b.group_of(key).expect("owned");
    KeyedContext {
        backend: b,
        key,
        group,
        now_ms,
        timers: Box::leak(Box::new(Timers::default())),
        processing_timers: Box::leak(Box::new(Timers::default())),
        watermark: None,
    }
}

#[test]
fn state_is_isolated_per_key_even_when_hashes_collide() {
    let mut b = whole::<Colliding>(128);
    let count = open(&mut b).value_state::<u64>("count").unwrap();
    for (k, n) in [(1, 3), (2, 5), (1, 4)] {
        let key = Colliding(k);
        let mut ctx = at(&mut b, &key, 0);
        let mut v = ctx.state(&count);
        let next = v.get().copied().unwrap_or(0) + n;
        v.set(next);
    }
    assert_eq!(at(&mut b, &Colliding(1), 0).state(&count).get(), Some(&7));
    assert_eq!(at(&mut b, &Colliding(2), 0).state(&count).get(), Some(&5));
    assert_eq!(at(&mut b, &Colliding(3), 0).state(&count).get(), None);
}

#[test]
fn every_kind_keeps_what_a_flink_user_expects() {
    let mut b = whole::<String>(128);
    let mut o = open(&mut b);
    let list = o.list_state::<u32>("list").unwrap();
    let map = o.map_state::<String, u64>("map").unwrap();
    let max = o.reducing_state::<u64>("max", |a, b| a.max(b)).unwrap();
    let avg = o.aggregating_state("avg", Avg).unwrap();
    let k = "user-1".to_string();
    let mut ctx = at(&mut b, &k, 0);
    for n in [3, 1, 2] {
        ctx.state(&list).add(n);
        ctx.state(&max).add(u64::from(n));
        ctx.state(&avg).add(f64::from(n));
    }
    ctx.state(&map).put("a".into(), 1);
    ctx.state(&map).put("b".into(), 2);
    ctx.state(&map).remove(&"a".to_string());
    assert_eq!(ctx.state(&list).get(), &[3, 1, 2]);
    assert_eq!(ctx.state(&max).get(), Some(&3));
    assert_eq!(ctx.state(&avg).get(), Some(2.0));
    assert_eq!(ctx.state(&map).get(&"b".to_string()), Some(&2));
    assert!(!ctx.state(&map).contains(&"a".to_string()));
    ctx.state(&list).clear();
    assert!(ctx.state(&list).get().is_empty());
    let other = "user-2".to_string();
    assert_eq!(at(&mut b, &other, 0).state(&max).get(), None);
}

#[test]
fn a_name_declared_twice_must_keep_its_kind() {
    let mut b = whole::<u64>(8);
    let mut o = open(&mut b);
    let first = o.value_state::<u64>("s").unwrap();
    let again = o.value_state::<u64>("s").unwrap();
    assert_eq!(first.id(), again.id());
    assert_eq!(
        o.value_state::<String>("s").unwrap_err(),
        StateError::Conflict("s".into())
    );
    assert_eq!(
        o.list_state::<u64>("s").unwrap_err(),
        StateError::Conflict("s".into())
    );
}

#[test]
fn ttl_expires_on_access_counts_from_the_last_write_and_the_sweep_drops_the_rest() {
    let mut b = whole::<u64>(4);
    let seen = open(&mut b)
        .declare(
            "seen",
            ValueState::<u64>::default(),
            StateOptions::ttl(Duration::from_millis(100)),
        )
        .unwrap();
    let forever = open(&mut b).value_state::<u64>("forever").unwrap();
    for k in 0..40u64 {
        at(&mut b, &k, 0).state(&seen).set(k);
        at(&mut b, &k, 0).state(&forever).set(k);
    }
    // Key 1 is written again at 60 ms: it lives to 160 ms.
    at(&mut b, &1, 60).state(&seen).set(100);
    assert_eq!(at(&mut b, &0, 99).state(&seen).get(), Some(&0));
    assert_eq!(
        at(&mut b, &0, 100).state(&seen).get(),
        None,
        "expired on access"
    );
    assert_eq!(at(&mut b, &1, 150).state(&seen).get(), Some(&100));
    assert_eq!(at(&mut b, &1, 160).state(&seen).get(), None);
    // The others nobody reads again: the sweep drops them, one key group per call.
    let before = b.len();
    let dropped: usize = (0..4).map(|_| b.sweep(200)).sum();
    assert_eq!(dropped, 38);
    assert_eq!(b.len(), before - 38);
    assert_eq!(
        at(&mut b, &7, 10_000).state(&forever).get(),
        Some(&7),
        "no ttl: kept"
    );
}

#[test]
fn a_restore_at_another_parallelism_moves_whole_key_groups() {
    const M: u32 = 16;
    let declare = |b: &mut KeyedBackend<String>| {
        let mut o = open(b);
        (
            o.value_state::<u64>("count").unwrap(),
            o.list_state::<String>("seen").unwrap(),
        )
    };
    // Two tasks fill their state.
    let mut old: Vec<KeyedBackend<String>> = (0..2)
        .map(|t| KeyedBackend::new(M, key_group_range(t, 2, M)))
        .collect();
    let keys: Vec<String> = (0..500).map(|i| format!("key-{i}")).collect();
    for b in &mut old {
        let (count, seen) = declare(b);
        for k in &keys {
            if b.group_of(k).is_ok() {
                let mut ctx = at(b, k, 0);
                ctx.state(&count).set(k.len() as u64);
                ctx.state(&seen).add(k.clone());
            }
        }
    }
    let snapshots: Vec<(u32, Vec<u8>)> = old
        .iter()
        .flat_map(|b| {
            b.key_groups()
                .map(move |g| (g, b.snapshot_group(g).unwrap()))
        })
        .collect();
    assert_eq!(snapshots.len(), M as usize);
    // Three tasks restore the groups they now own.
    let mut new: Vec<KeyedBackend<String>> = (0..3)
        .map(|t| KeyedBackend::new(M, key_group_range(t, 3, M)))
        .collect();
    for b in &mut new {
        declare(b);
        for (g, bytes) in &snapshots {
            if b.key_groups().contains(g) {
                b.restore_group(*g, bytes).unwrap();
            }
        }
    }
    for k in &keys {
        let owners: Vec<usize> = (0..3).filter(|&t| new[t].group_of(k).is_ok()).collect();
        assert_eq!(owners.len(), 1, "{k} has one owner");
        let b = &mut new[owners[0]];
        let (count, seen) = declare(b);
        let mut ctx = at(b, k, 0);
        assert_eq!(ctx.state(&count).get(), Some(&(k.len() as u64)));
        assert_eq!(ctx.state(&seen).get(), std::slice::from_ref(k));
    }
    let total: usize = new.iter().map(KeyedBackend::len).sum();
    assert_eq!(total, 2 * keys.len());
}

#[test]
fn a_key_of_another_task_and_a_corrupt_snapshot_are_refused() {
    let b = KeyedBackend::<u64>::new(128, 0..10);
    let foreign = (0..).find(|k| b.group_of(k).is_err()).unwrap();
    assert!(matches!(
        b.group_of(&foreign),
        Err(StateError::KeyNotOwned {
            start: 0,
            end: 10,
            ..
        })
    ));
    let mut b = KeyedBackend::<u64>::new(8, 0..8);
    open(&mut b).value_state::<u64>("v").unwrap();
    let err = b.restore_group(3, &[1, 1, b'v', 200]).unwrap_err();
    assert!(
        matches!(err, StateError::Corrupt { group: 3, .. }),
        "{err:?}"
    );
    assert!(!err.retryable());
    assert!(b.restore_group(9, &[]).is_err(), "not owned");
}

#[derive(Default)]
struct Avg;

impl AggregateFunction for Avg {
    type In = f64;
    type Acc = (f64, u64);
    type Out = f64;
    fn create(&self) -> (f64, u64) {
        (0.0, 0)
    }
    fn add(&self, acc: &mut (f64, u64), v: f64) {
        acc.0 += v;
        acc.1 += 1;
    }
    fn result(&self, acc: &(f64, u64)) -> f64 {
        acc.0 / acc.1 as f64
    }
    fn merge(&self, acc: &mut (f64, u64), other: (f64, u64)) {
        acc.0 += other.0;
        acc.1 += other.1;
    }
}

#[test]
fn a_default_ttl_applies_to_states_declared_without_one_of_their_own() {
    let mut b = whole::<u64>(8);
    b.set_default_ttl(Some(100));
    let mut o = open(&mut b);
    let plain = o.value_state::<u64>("plain").unwrap();
    let own = o
        .declare(
            "own",
            ValueState::<u64>::default(),
            StateOptions::ttl(Duration::from_millis(1_000)),
        )
        .unwrap();
    let mut ctx = at(&mut b, &7, 1_000);
    ctx.state(&plain).set(1);
    ctx.state(&own).set(2);
    let mut later = at(&mut b, &7, 1_100);
    assert_eq!(later.state(&plain).get(), None, "the default 100 ms ttl");
    assert_eq!(later.state(&own).get(), Some(&2), "its own 1 s ttl");
}

#[test]
fn a_snapshot_taken_a_group_at_a_time_is_the_state_at_its_start() {
    const M: u32 = 16;
    let mut b: KeyedBackend<String> = KeyedBackend::new(M, 0..M);
    let count = open(&mut b).value_state::<u64>("count").unwrap();
    let keys: Vec<String> = (0..400).map(|i| format!("key-{i}")).collect();
    for k in &keys {
        at(&mut b, k, 0).state(&count).set(1);
    }
    // What a snapshot taken at once would hold.
    let at_once: Vec<(u32, Vec<u8>)> = b
        .key_groups()
        .map(|g| (g, b.snapshot_group(g).unwrap()))
        .collect();
    b.begin_snapshot();
    // Writes after the barrier, some to groups not taken yet (copy-on-write), and steps
    // in between, each taking what it can in no time at all.
    for (i, k) in keys.iter().enumerate() {
        at(&mut b, k, 0).state(&count).set(2);
        if i % 50 == 0 {
            b.snapshot_step(std::time::Duration::ZERO);
        }
    }
    while !b.snapshot_step(std::time::Duration::ZERO) {}
    let stepped = b.take_snapshot().expect("whole");
    assert_eq!(
        stepped, at_once,
        "every group as it was when the snapshot began"
    );
    // The writes after the barrier are in the state, for the next snapshot.
    assert_eq!(at(&mut b, &keys[0], 0).state(&count).get(), Some(&2));
    assert!(b.take_snapshot().is_none(), "taken once");
}
