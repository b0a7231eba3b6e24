//! Each grouping's property, checked over 40,000 tuples fed to one consumer per grouping
//! (`groupings.topo`), against ground truth computed from the tuples' sequence numbers.

use gale::TaskId;
use gale_tests::groupings;
use gale_tests::groupings_ops::{DELIVERIES, Delivery, PickTask, key_of};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

const TOTAL: u64 = 2 * 20_000;

/// Runs the topology once; every test reads the deliveries.
fn deliveries() -> &'static [Delivery] {
    static RUN: OnceLock<Vec<Delivery>> = OnceLock::new();
    RUN.get_or_init(|| {
        let summary = gale::run_local(groupings::topology(), Default::default())
            .expect("the topology runs to completion");
        assert_eq!(summary.component("numbers").map(|c| c.emitted), Some(TOTAL));
        std::mem::take(&mut *DELIVERIES.lock().expect("deliveries lock"))
    })
}

fn of(component: &str) -> Vec<(TaskId, u64, u64)> {
    deliveries()
        .iter()
        .filter(|d| d.0 == component)
        .map(|d| (d.1, d.2, d.3))
        .collect()
}

fn tasks_of(component: &str) -> Vec<TaskId> {
    let c = groupings::DESC
        .components
        .iter()
        .find(|c| c.name == component)
        .expect("component");
    (c.first_task..c.first_task + c.tasks).collect()
}

fn per_task_counts(component: &str) -> BTreeMap<TaskId, u64> {
    let mut m: BTreeMap<TaskId, u64> = tasks_of(component).into_iter().map(|t| (t, 0)).collect();
    for (t, _, _) in of(component) {
        *m.get_mut(&t).expect("a task of the component") += 1;
    }
    m
}

/// Every tuple reached the component exactly once.
fn assert_exactly_once(component: &str) {
    let mut seqs: Vec<u64> = of(component).iter().map(|d| d.2).collect();
    seqs.sort_unstable();
    assert_eq!(seqs, (0..TOTAL).collect::<Vec<_>>(), "{component}");
}

#[test]
fn fields_a_key_never_reaches_two_tasks() {
    assert_exactly_once("by_fields");
    let mut owner: BTreeMap<u64, TaskId> = BTreeMap::new();
    for (task, key, seq) in of("by_fields") {
        assert_eq!(key, key_of(seq));
        let first = *owner.entry(key).or_insert(task);
        assert_eq!(first, task, "key {key} reached tasks {first} and {task}");
    }
    // 97 keys over 5 tasks: every task owns some.
    let used: BTreeSet<TaskId> = owner.values().copied().collect();
    assert_eq!(used.len(), 5);
}

#[test]
fn all_every_task_sees_every_tuple() {
    let d = of("by_all");
    assert_eq!(d.len() as u64, TOTAL * 3);
    for task in tasks_of("by_all") {
        let mut seqs: Vec<u64> = d.iter().filter(|x| x.0 == task).map(|x| x.2).collect();
        seqs.sort_unstable();
        assert_eq!(seqs, (0..TOTAL).collect::<Vec<_>>(), "task {task}");
    }
}

#[test]
fn global_only_the_lowest_task() {
    assert_exactly_once("by_global");
    let lowest = tasks_of("by_global")[0];
    assert!(of("by_global").iter().all(|d| d.0 == lowest));
}

#[test]
fn shuffle_is_within_a_few_percent_of_even() {
    assert_exactly_once("by_shuffle");
    let counts = per_task_counts("by_shuffle");
    let even = TOTAL as f64 / counts.len() as f64;
    for (task, n) in counts {
        let dev = (n as f64 - even).abs() / even;
        assert!(dev < 0.03, "task {task} got {n}, even is {even}");
    }
}

#[test]
fn local_or_shuffle_spreads_over_local_tasks() {
    // In local mode every task is local, so it behaves as shuffle.
    assert_exactly_once("by_local");
    let counts = per_task_counts("by_local");
    let even = TOTAL as f64 / counts.len() as f64;
    for (task, n) in counts {
        assert!((n as f64 - even).abs() / even < 0.03, "task {task} got {n}");
    }
}

#[test]
fn partial_key_uses_at_most_two_tasks_per_key_and_splits_the_hot_key() {
    assert_exactly_once("by_partial");
    let mut tasks_per_key: BTreeMap<u64, BTreeSet<TaskId>> = BTreeMap::new();
    for (task, key, _) in of("by_partial") {
        tasks_per_key.entry(key).or_default().insert(task);
    }
    for (key, tasks) in &tasks_per_key {
        assert!(tasks.len() <= 2, "key {key} reached {tasks:?}");
    }
    // Key 0 carries ~10% of the stream; partial key grouping spreads it over two tasks
    // (unless both candidates happen to be the same task).
    let hot = &tasks_per_key[&0];
    let (a, b) =
        gale::grouping::PartialKey::<fn(&u64) -> u64>::candidates(gale::hash_key(&0u64), 4);
    assert_eq!(hot.len(), if a == b { 1 } else { 2 });
}

#[test]
fn custom_is_the_users_choice() {
    assert_exactly_once("by_custom");
    let tasks = tasks_of("by_custom");
    let (first, last) = (tasks[0], tasks[tasks.len() - 1]);
    for (task, key, _) in of("by_custom") {
        let want = if key % 2 == 0 { first } else { last };
        assert_eq!(task, want, "key {key}");
    }
}

#[test]
fn direct_exactly_the_named_task() {
    assert_exactly_once("by_direct");
    let tasks = tasks_of("by_direct");
    for (task, _, seq) in of("by_direct") {
        assert_eq!(task, PickTask::target(&tasks, seq), "seq {seq}");
    }
}
