//! The coordinator's rules, on examples and on random sequences of inputs.

use super::storage::CheckpointStorage as _;
use super::*;
use proptest::prelude::*;
use std::collections::BTreeSet;

fn config(interval: u64, timeout: u64, concurrent: usize, retained: usize) -> CheckpointConfig {
    CheckpointConfig {
        interval_ms: Some(interval),
        timeout_ms: timeout,
        max_concurrent: concurrent,
        retained,
    }
}

fn ack(id: u64, task: u32) -> Input {
    Input::Ack {
        id,
        task,
        bytes: 10,
        alignment_ms: u64::from(task),
    }
}

fn persisted(id: u64, now_ms: u64) -> Input {
    Input::Persisted {
        id,
        now_ms,
        result: Ok(()),
    }
}

fn triggered(cmds: &[Command]) -> Vec<u64> {
    cmds.iter()
        .filter_map(|c| match c {
            Command::Trigger { id, .. } => Some(*id),
            _ => None,
        })
        .collect()
}

#[test]
fn a_checkpoint_completes_when_every_task_acked_and_its_metadata_is_durable() {
    let mut c = Coordinator::new(config(100, 1_000, 1, 1), [1, 2, 3], 0);
    let cmds = c.handle(Input::Tick { now_ms: 0 });
    assert_eq!(triggered(&cmds), vec![1]);
    assert!(c.handle(ack(1, 1)).is_empty());
    assert!(c.handle(ack(1, 1)).is_empty(), "a repeated ack counts once");
    assert!(
        c.handle(ack(1, 9)).is_empty(),
        "a task it does not wait for"
    );
    assert!(c.handle(ack(1, 2)).is_empty());
    assert_eq!(c.handle(ack(1, 3)), vec![Command::Persist { id: 1 }]);
    assert!(
        c.latest().is_none(),
        "not complete before its metadata is durable"
    );
    let cmds = c.handle(persisted(1, 40));
    assert_eq!(
        cmds,
        vec![Command::Complete(Completed {
            id: 1,
            kind: CheckpointKind::Periodic,
            triggered_ms: 0,
            duration_ms: 40,
            bytes: 30,
            alignment_ms: 3,
            pause_us: 0,
        })]
    );
    assert_eq!(c.latest().map(|l| l.id), Some(1));
}

#[test]
fn triggers_wait_for_the_interval_and_for_a_free_slot() {
    let mut c = Coordinator::new(config(100, 10_000, 1, 1), [1], 0);
    assert_eq!(triggered(&c.handle(Input::Tick { now_ms: 0 })), vec![1]);
    assert!(triggered(&c.handle(Input::Tick { now_ms: 50 })).is_empty());
    assert!(
        triggered(&c.handle(Input::Tick { now_ms: 150 })).is_empty(),
        "one pending at most"
    );
    c.handle(ack(1, 1));
    c.handle(persisted(1, 160));
    assert_eq!(triggered(&c.handle(Input::Tick { now_ms: 170 })), vec![2]);
    // A savepoint does not wait for a slot.
    let cmds = c.handle(Input::Savepoint { now_ms: 171 });
    assert!(matches!(
        cmds.as_slice(),
        [Command::Trigger {
            id: 3,
            kind: CheckpointKind::Savepoint,
            ..
        }]
    ));
}

#[test]
fn a_timeout_a_refusal_and_a_failure_abort() {
    let mut c = Coordinator::new(config(100, 500, 3, 1), [1, 2], 0);
    c.handle(Input::Tick { now_ms: 0 });
    c.handle(Input::Tick { now_ms: 100 });
    c.handle(Input::Tick { now_ms: 200 });
    let cmds = c.handle(Input::Tick { now_ms: 500 });
    assert_eq!(
        cmds[0],
        Command::Abort {
            id: 1,
            reason: AbortReason::Timeout
        }
    );
    let cmds = c.handle(Input::Decline {
        id: 2,
        task: 2,
        reason: "disk full".into(),
    });
    assert!(matches!(
        &cmds[..],
        [Command::Abort {
            id: 2,
            reason: AbortReason::Declined { task: 2, .. }
        }]
    ));
    let cmds = c.handle(Input::Failed);
    assert!(cmds.iter().all(|c| matches!(
        c,
        Command::Abort {
            reason: AbortReason::Failure,
            ..
        }
    )));
    assert_eq!(c.pending().count(), 0);
    assert_eq!(c.failures(), 4);
    // A late ack of an aborted checkpoint changes nothing.
    assert!(c.handle(ack(1, 1)).is_empty());
    assert!(c.handle(ack(1, 2)).is_empty());
}

#[test]
fn a_newer_completed_checkpoint_subsumes_the_older_pending_ones_and_old_ones_go_once_a_newer_is_durable()
 {
    let mut c = Coordinator::new(config(10, 10_000, 3, 2), [1], 0);
    for t in [0, 10, 20] {
        c.handle(Input::Tick { now_ms: t });
    }
    c.handle(ack(3, 1));
    let cmds = c.handle(persisted(3, 30));
    assert!(cmds.contains(&Command::Abort {
        id: 1,
        reason: AbortReason::Subsumed { by: 3 }
    }));
    assert!(cmds.contains(&Command::Abort {
        id: 2,
        reason: AbortReason::Subsumed { by: 3 }
    }));
    for (t, id) in [(40, 4), (50, 5)] {
        c.handle(Input::Tick { now_ms: t });
        c.handle(ack(id, 1));
        let cmds = c.handle(persisted(id, t + 1));
        if id == 5 {
            assert_eq!(cmds.last(), Some(&Command::Discard { id: 3 }));
        }
    }
    let kept: Vec<u64> = c.retained().map(|r| r.id).collect();
    assert_eq!(kept, vec![4, 5]);
}

#[test]
fn a_failed_metadata_write_aborts_and_keeps_the_previous_checkpoint() {
    let mut c = Coordinator::new(config(10, 10_000, 1, 1), [1], 0);
    c.handle(Input::Tick { now_ms: 0 });
    c.handle(ack(1, 1));
    c.handle(persisted(1, 1));
    c.handle(Input::Tick { now_ms: 10 });
    c.handle(ack(2, 1));
    let cmds = c.handle(Input::Persisted {
        id: 2,
        now_ms: 11,
        result: Err(StorageFailure {
            message: "no space".into(),
            retryable: true,
        }),
    });
    assert!(matches!(
        &cmds[..],
        [Command::Abort {
            id: 2,
            reason: AbortReason::StorageFailed(_)
        }]
    ));
    assert_eq!(
        c.latest().map(|l| l.id),
        Some(1),
        "1 is still there to restore"
    );
    assert_eq!(c.retained().count(), 1);
}

#[test]
fn savepoints_are_kept_and_ids_go_on_after_a_restore() {
    let mut c = Coordinator::new(config(10, 10_000, 1, 1), [1], 41);
    let cmds = c.handle(Input::Savepoint { now_ms: 0 });
    assert_eq!(triggered(&cmds), vec![42]);
    c.handle(ack(42, 1));
    c.handle(persisted(42, 5));
    for t in [10, 20, 30] {
        let id = triggered(&c.handle(Input::Tick { now_ms: t }))[0];
        c.handle(ack(id, 1));
        let cmds = c.handle(persisted(id, t + 1));
        assert!(!cmds.contains(&Command::Discard { id: 42 }));
    }
    assert_eq!(c.savepoints().len(), 1);
    assert_eq!(c.latest().map(|l| l.id), Some(45));
}

/// One step of a random run.
#[derive(Debug, Clone)]
enum Step {
    Tick(u64),
    Savepoint,
    Ack { back: u64, task: u32 },
    Decline { back: u64, task: u32 },
    Persist { back: u64, ok: bool },
    Fail,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (1u64..200).prop_map(Step::Tick),
        1 => Just(Step::Savepoint),
        8 => (0u64..4, 0u32..4).prop_map(|(back, task)| Step::Ack { back, task }),
        1 => (0u64..4, 0u32..4).prop_map(|(back, task)| Step::Decline { back, task }),
        4 => (0u64..4, any::<bool>()).prop_map(|(back, ok)| Step::Persist { back, ok }),
        1 => Just(Step::Fail),
    ]
}

proptest! {
    /// Whatever happens: at most `max_concurrent` periodic checkpoints pend; a checkpoint
    /// completes only after every task acked it and it was persisted; periodic completions
    /// come in id order; a completed checkpoint is discarded only when `retained` newer ones are
    /// complete, and never a savepoint; every trigger ends (complete or abort) at most once.
    #[test]
    fn the_rules_hold_on_random_runs(
        steps in prop::collection::vec(step(), 0..300),
        concurrent in 1usize..4,
        retained in 1usize..4,
    ) {
        let tasks = [0u32, 1, 2];
        let mut c = Coordinator::new(config(50, 400, concurrent, retained), tasks, 0);
        let mut now = 0u64;
        let mut acked: std::collections::BTreeMap<u64, BTreeSet<u32>> = Default::default();
        let mut persisted_ok: BTreeSet<u64> = BTreeSet::new();
        let mut ended: BTreeSet<u64> = BTreeSet::new();
        let mut triggered_ids: Vec<u64> = Vec::new();
        let mut kinds: std::collections::BTreeMap<u64, CheckpointKind> = Default::default();
        let mut completed: Vec<u64> = Vec::new();
        let mut discarded: Vec<u64> = Vec::new();
        let newest = |ids: &[u64], back: u64| ids.len().checked_sub(1 + back as usize).map(|i| ids[i]);
        for s in steps {
            let input = match s {
                Step::Tick(d) => { now += d; Input::Tick { now_ms: now } }
                Step::Savepoint => Input::Savepoint { now_ms: now },
                Step::Ack { back, task } => match newest(&triggered_ids, back) {
                    Some(id) => {
                        acked.entry(id).or_default().insert(task);
                        Input::Ack { id, task, bytes: 1, alignment_ms: 0 }
                    }
                    None => continue,
                },
                Step::Decline { back, task } => match newest(&triggered_ids, back) {
                    Some(id) => Input::Decline { id, task, reason: "x".into() },
                    None => continue,
                },
                Step::Persist { back, ok } => match newest(&triggered_ids, back) {
                    Some(id) => {
                        if ok { persisted_ok.insert(id); }
                        Input::Persisted { id, now_ms: now, result: if ok { Ok(()) } else { Err(StorageFailure { message: "x".into(), retryable: true }) } }
                    }
                    None => continue,
                },
                Step::Fail => Input::Failed,
            };
            for cmd in c.handle(input) {
                match cmd {
                    Command::Trigger { id, kind, .. } => {
                        prop_assert!(triggered_ids.last().is_none_or(|l| *l < id));
                        triggered_ids.push(id);
                        kinds.insert(id, kind);
                    }
                    Command::Persist { id } => {
                        let all: BTreeSet<u32> = tasks.into_iter().collect();
                        prop_assert!(acked.get(&id).is_some_and(|a| a.is_superset(&all)), "persist {} before every ack", id);
                    }
                    Command::Complete(done) => {
                        prop_assert!(persisted_ok.contains(&done.id));
                        prop_assert!(ended.insert(done.id), "{} ended twice", done.id);
                        // Periodic checkpoints complete in id order (a savepoint, never
                        // subsumed, may complete after a newer one).
                        if done.kind == CheckpointKind::Periodic {
                            let last = completed.iter().rev().find(|c| kinds[*c] == CheckpointKind::Periodic);
                            prop_assert!(last.is_none_or(|l| *l < done.id), "completions out of order");
                        }
                        completed.push(done.id);
                    }
                    Command::Abort { id, .. } => {
                        prop_assert!(ended.insert(id), "{} ended twice", id);
                    }
                    Command::Discard { id } => {
                        prop_assert_eq!(kinds[&id], CheckpointKind::Periodic);
                        let newer = completed.iter().filter(|c| **c > id && kinds[*c] == CheckpointKind::Periodic).count();
                        prop_assert!(newer >= retained, "{} discarded with only {} newer", id, newer);
                        discarded.push(id);
                    }
                }
            }
            let periodic = c.pending().filter(|id| kinds[id] == CheckpointKind::Periodic).count();
            prop_assert!(periodic <= concurrent);
            let kept = c.retained().count();
            prop_assert!(kept <= retained);
            // The latest completed is never discarded.
            if let Some(l) = c.latest() {
                prop_assert!(!discarded.contains(&l.id));
            }
        }
    }
}

/// A fresh directory under the system's temporary directory.
fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "gale-chk-{name}-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn write_checkpoint(store: &CheckpointStore<LocalDir>, id: u64, states: &[(&str, u32, &[u8])]) {
    let files = states
        .iter()
        .map(|(op, task, bytes)| store.put_state(id, op, *task, bytes).expect("written"))
        .collect();
    store
        .commit(&Metadata {
            id,
            savepoint: false,
            triggered_ms: 1_000 + id,
            topology: "t".into(),
            max_parallelism: 128,
            states: files,
            operators: Default::default(),
            finished: Vec::new(),
        })
        .expect("committed");
}

#[test]
fn a_checkpoint_reads_back_whole() {
    let dir = scratch("whole");
    let store = CheckpointStore::new(LocalDir::new(&dir));
    write_checkpoint(
        &store,
        7,
        &[("count", 0, b"zero"), ("count", 1, b""), ("sink", 0, b"s")],
    );
    let (latest, skipped) = store.latest().expect("reads");
    let meta = latest.expect("a checkpoint");
    assert!(skipped.is_empty());
    assert_eq!(meta.id, 7);
    assert_eq!(store.state(&meta, "count", 0).expect("state"), b"zero");
    assert_eq!(store.state(&meta, "count", 1).expect("state"), b"");
    assert!(matches!(
        store.state(&meta, "count", 2),
        Err(CheckpointError::NoState { task: 2, .. })
    ));
    assert!(dir.join("chk-00000000000000000007/_metadata").is_file());
    store.discard(7).expect("discarded");
    assert!(store.latest().expect("reads").0.is_none());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_truncated_a_bit_flipped_or_an_incomplete_checkpoint_is_skipped_for_the_previous_one() {
    let dir = scratch("corrupt");
    let store = CheckpointStore::new(LocalDir::new(&dir));
    write_checkpoint(&store, 1, &[("count", 0, b"one")]);
    write_checkpoint(&store, 2, &[("count", 0, b"two two")]);
    write_checkpoint(&store, 3, &[("count", 0, b"three three")]);
    write_checkpoint(&store, 4, &[("count", 0, b"four")]);
    // 5: a crash before its metadata.
    store.put_state(5, "count", 0, b"five").expect("written");
    // 4: a bit flipped in its state; 3: its state truncated; 2: its metadata edited.
    let state = |id: u64| dir.join(format!("{}/state/count/0", checkpoint_dir(id)));
    let mut four = std::fs::read(state(4)).unwrap();
    let last = four.len() - 1;
    four[last] ^= 0x10;
    std::fs::write(state(4), four).unwrap();
    let three = std::fs::read(state(3)).unwrap();
    std::fs::write(state(3), &three[..three.len() - 3]).unwrap();
    let meta2 = dir.join(format!("{}/_metadata", checkpoint_dir(2)));
    let text = std::fs::read_to_string(&meta2).unwrap();
    std::fs::write(
        &meta2,
        text.replace("\"topology\": \"t\"", "\"topology\": \"u\""),
    )
    .unwrap();

    let (latest, skipped) = store.latest().expect("reads");
    assert_eq!(
        latest.map(|m| m.id),
        Some(1),
        "falls back to the last whole one"
    );
    let why: Vec<(u64, String)> = skipped
        .iter()
        .map(|s| (s.id, s.error.to_string()))
        .collect();
    assert_eq!(why.len(), 4, "{why:?}");
    assert!(
        matches!(skipped[0].error, CheckpointError::Incomplete(5)),
        "{why:?}"
    );
    assert!(
        why[1].1.contains("checksum does not match (bits changed)"),
        "{why:?}"
    );
    assert!(why[2].1.contains("truncated"), "{why:?}");
    assert!(
        why[3].1.contains("_metadata") && why[3].1.contains("checksum"),
        "{why:?}"
    );
    assert!(skipped.iter().all(|s| !s.error.is_retryable()));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn names_that_leave_the_storage_are_refused() {
    let dir = scratch("names");
    let storage = LocalDir::new(&dir);
    for bad in ["../x", "/etc/passwd", "a//b", "a/./b"] {
        assert!(
            matches!(storage.put(bad, b"x"), Err(StorageError::BadName(_))),
            "{bad}"
        );
    }
    assert!(matches!(
        storage.get("nothing"),
        Err(StorageError::NotFound(_))
    ));
    assert!(storage.list("nothing").expect("empty").is_empty());
    storage
        .delete_all("nothing")
        .expect("nothing to delete is fine");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_barrier_blocks_its_channel_until_every_open_channel_delivered_it() {
    let p = CheckpointKind::Periodic;
    let mut a = Aligner::new(3, 0);
    assert_eq!(a.barrier(1, 1, p, 10), vec![Align::Block(1)]);
    assert_eq!(
        a.barrier(1, 1, p, 11),
        vec![Align::Block(1)],
        "again: still blocked"
    );
    assert_eq!(a.barrier(0, 1, p, 12), vec![Align::Block(0)]);
    assert_eq!(
        a.end(2, 15),
        vec![Align::Snapshot {
            id: 1,
            kind: p,
            alignment_ms: 5,
            unblock: vec![0, 1]
        }],
        "an ended channel is aligned"
    );
    assert!(
        a.barrier(0, 1, p, 16).is_empty(),
        "a done checkpoint's barrier is ignored"
    );
    // A newer barrier abandons the one aligning.
    assert_eq!(a.barrier(0, 2, p, 20), vec![Align::Block(0)]);
    assert_eq!(
        a.barrier(1, 3, p, 21),
        vec![
            Align::Abort {
                id: 2,
                unblock: vec![0]
            },
            Align::Block(1)
        ]
    );
    assert!(
        a.barrier(0, 2, p, 22).is_empty(),
        "the abandoned one's barrier"
    );
    assert!(matches!(
        a.barrier(0, 3, p, 23).as_slice(),
        [Align::Snapshot { id: 3, .. }]
    ));
    let mut one = Aligner::new(1, 0);
    assert!(matches!(
        one.barrier(0, 1, CheckpointKind::Savepoint, 0).as_slice(),
        [Align::Snapshot {
            id: 1,
            kind: CheckpointKind::Savepoint,
            alignment_ms: 0,
            ..
        }]
    ));
}

/// An item of a channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Item {
    Data(u32),
    Barrier(u64),
}

/// Random channels: each carries data and the barriers 1..=checkpoints in order, and may
/// end early (then it carries only the barriers before its end).
fn channels() -> impl Strategy<Value = Vec<Vec<Item>>> {
    (1usize..5, 1u64..5).prop_flat_map(|(n, checkpoints)| {
        prop::collection::vec(
            (
                prop::collection::vec(0u32..4, (checkpoints + 1) as usize),
                0..=checkpoints,
            ),
            n,
        )
        .prop_map(move |chs| {
            chs.into_iter()
                .map(|(gaps, keep)| {
                    let mut items = Vec::new();
                    let mut seq = 0;
                    for (i, gap) in gaps.iter().enumerate() {
                        for _ in 0..*gap {
                            items.push(Item::Data(seq));
                            seq += 1;
                        }
                        let id = i as u64 + 1;
                        if id > keep {
                            break;
                        }
                        if id <= checkpoints {
                            items.push(Item::Barrier(id));
                        }
                    }
                    items
                })
                .collect()
        })
    })
}

proptest! {
    /// Read in a random order, never from a blocked channel: at each snapshot, exactly the
    /// data before that barrier has been read on every channel (all of an ended one's),
    /// nothing after it; and every checkpoint is snapshotted once, in order.
    #[test]
    fn a_snapshot_sees_exactly_the_data_before_its_barrier(
        chs in channels(),
        picks in prop::collection::vec(any::<prop::sample::Index>(), 400),
    ) {
        let n = chs.len();
        let mut a = Aligner::new(n, 0);
        let mut pos = vec![0usize; n];
        let mut blocked = vec![false; n];
        let mut ended = vec![false; n];
        let mut snapshots = Vec::new();
        let mut now = 0;
        let mut picks = picks.into_iter();
        loop {
            let ready: Vec<usize> = (0..n).filter(|&c| !blocked[c] && !ended[c]).collect();
            if ready.is_empty() {
                prop_assert!(blocked.iter().all(|b| !b), "stuck with blocked channels");
                break;
            }
            let c = match picks.next() {
                Some(i) => ready[i.index(ready.len())],
                None => ready[0],
            };
            now += 1;
            let actions = match chs[c].get(pos[c]) {
                Some(Item::Data(_)) => { pos[c] += 1; Vec::new() }
                Some(Item::Barrier(id)) => { pos[c] += 1; a.barrier(c, *id, CheckpointKind::Periodic, now) }
                None => { ended[c] = true; a.end(c, now) }
            };
            for action in actions {
                match action {
                    Align::Block(ch) => blocked[ch] = true,
                    Align::Snapshot { id, unblock, .. } => {
                        for ch in 0..n {
                            let barrier = chs[ch].iter().position(|i| *i == Item::Barrier(id));
                            match barrier {
                                Some(at) => prop_assert_eq!(pos[ch], at + 1, "channel {} at snapshot {}", ch, id),
                                None => prop_assert!(ended[ch], "channel {} without barrier {} not ended", ch, id),
                            }
                        }
                        for ch in unblock { blocked[ch] = false; }
                        snapshots.push(id);
                    }
                    Align::Abort { id, .. } => prop_assert!(false, "abort {} with barriers in order", id),
                }
            }
        }
        // Every checkpoint some channel carried is snapshotted, once, in order.
        let carried: BTreeSet<u64> = chs.iter().flatten().filter_map(|i| match i {
            Item::Barrier(id) => Some(*id),
            Item::Data(_) => None,
        }).collect();
        prop_assert_eq!(snapshots, carried.into_iter().collect::<Vec<_>>());
    }
}

#[test]
fn a_checkpoint_being_persisted_neither_times_out_nor_fails_and_savepoints_are_not_subsumed() {
    let mut c = Coordinator::new(config(10, 100, 3, 1), [1], 0);
    c.handle(Input::Tick { now_ms: 0 });
    c.handle(ack(1, 1));
    // Being persisted: past the timeout, and through a failure, it waits for the write.
    assert!(
        c.handle(Input::Tick { now_ms: 500 })
            .iter()
            .all(|cmd| !matches!(cmd, Command::Abort { id: 1, .. }))
    );
    assert!(
        c.handle(Input::Failed)
            .iter()
            .all(|cmd| !matches!(cmd, Command::Abort { id: 1, .. }))
    );
    assert!(matches!(
        c.handle(persisted(1, 501)).as_slice(),
        [Command::Complete(Completed { id: 1, .. })]
    ));
    // A savepoint pending when a newer periodic checkpoint completes stays pending.
    let sp = triggered(&c.handle(Input::Savepoint { now_ms: 600 }))[0];
    let p = triggered(&c.handle(Input::Tick { now_ms: 600 }))[0];
    c.handle(ack(p, 1));
    let cmds = c.handle(persisted(p, 601));
    assert!(
        cmds.iter().all(|cmd| !matches!(cmd, Command::Abort { .. })),
        "{cmds:?}"
    );
    assert!(c.pending().any(|id| id == sp));
    c.handle(ack(sp, 1));
    assert!(matches!(
        c.handle(persisted(sp, 602)).as_slice(),
        [Command::Complete(Completed {
            kind: CheckpointKind::Savepoint,
            ..
        })]
    ));
}

fn parts(dir: &std::path::Path) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .filter(|e| e.file_name().to_string_lossy().starts_with("part-"))
                .map(|e| {
                    (
                        e.file_name().to_string_lossy().into_owned(),
                        std::fs::read_to_string(e.path()).unwrap_or_default(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

#[test]
fn a_file_sink_commits_what_a_complete_checkpoint_covers_once() {
    let dir = scratch("sink");
    let mut s = FileTransactions::new(&dir, 3, 1);
    s.write_line("a").unwrap();
    s.write_line("b").unwrap();
    let one = s.pre_commit(1).unwrap().expect("something written");
    assert!(
        s.pre_commit(2).unwrap().is_none(),
        "nothing since: no transaction"
    );
    s.write_line("c").unwrap();
    s.pre_commit(3).unwrap();
    s.write_line("d").unwrap(); // open: after checkpoint 3
    assert!(
        parts(&dir).is_empty(),
        "nothing visible before a checkpoint completes"
    );
    // 1's notification is missed; 3's covers it.
    s.commit(3).unwrap();
    assert_eq!(
        parts(&dir),
        [
            ("part-3-00000000000000000001".into(), "a\nb\n".into()),
            ("part-3-00000000000000000003".into(), "c\n".into())
        ]
    );
    // Repeated and late commits change nothing.
    s.commit(3).unwrap();
    s.commit(1).unwrap();
    assert_eq!(parts(&dir).len(), 2);
    assert_eq!(one.part, "part-3-00000000000000000001");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_restore_commits_what_its_checkpoint_pre_committed_and_drops_the_rest() {
    let dir = scratch("sink-restore");
    let mut before = FileTransactions::new(&dir, 0, 1);
    before.write_line("kept").unwrap();
    let pending = before.pre_commit(7).unwrap().expect("written");
    before.write_line("after the checkpoint").unwrap();
    before.pre_commit(8).unwrap(); // 8 never completes
    before.write_line("open at the crash").unwrap();
    drop(before); // the crash: nothing committed
    let mut other = FileTransactions::new(&dir, 1, 2);
    other.write_line("another task's").unwrap();

    let mut after = FileTransactions::new(&dir, 0, 3);
    after.recover(Some(7), &[(7, pending.clone())]).unwrap();
    assert_eq!(
        parts(&dir),
        [("part-0-00000000000000000007".into(), "kept\n".into())]
    );
    // Recovering again (a second crash during recovery) is harmless.
    after.recover(Some(7), &[(7, pending)]).unwrap();
    assert_eq!(parts(&dir).len(), 1);
    let staging: Vec<String> = std::fs::read_dir(dir.join(".staging"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        staging.iter().all(|n| n.starts_with("1-")),
        "only task 1's left: {staging:?}"
    );
    // The restored task writes on, in a fresh staging file.
    after.write_line("replayed").unwrap();
    after.pre_commit(9).unwrap();
    after.commit(9).unwrap();
    assert_eq!(
        parts(&dir)[1],
        ("part-0-00000000000000000009".into(), "replayed\n".into())
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn restoring_one_checkpoint_twice_never_commits_a_later_runs_staging_file() {
    let dir = scratch("sink-twice");
    let mut first = FileTransactions::new(&dir, 0, 1);
    first.write_line("first").unwrap();
    let pending = first.pre_commit(1).unwrap().expect("written");
    first.commit(1).unwrap();
    drop(first);
    // The second run restores checkpoint 1, writes on and crashes before checkpoint 2.
    let mut second = FileTransactions::new(&dir, 0, 2);
    second.recover(Some(1), &[(1, pending.clone())]).unwrap();
    second.write_line("replayed, never committed").unwrap();
    second.pre_commit(2).unwrap();
    drop(second);
    // The third restores checkpoint 1 again: its part keeps what it held.
    let mut third = FileTransactions::new(&dir, 0, 3);
    third.recover(Some(1), &[(1, pending)]).unwrap();
    assert_eq!(
        parts(&dir),
        [("part-0-00000000000000000001".into(), "first\n".into())]
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn restoring_an_older_checkpoint_deletes_the_parts_committed_after_it() {
    let dir = scratch("sink-older");
    let mut s = FileTransactions::new(&dir, 0, 1);
    s.write_line("one").unwrap();
    let one = s.pre_commit(1).unwrap().expect("written");
    s.write_line("two").unwrap();
    s.pre_commit(2).unwrap();
    s.commit(2).unwrap();
    let mut other = FileTransactions::new(&dir, 1, 1);
    other.write_line("other task").unwrap();
    other.pre_commit(2).unwrap();
    other.commit(2).unwrap();
    // Checkpoint 2 turns out damaged: the restore falls back to 1.
    let mut back = FileTransactions::new(&dir, 0, 2);
    back.recover(Some(1), &[(1, one)]).unwrap();
    let names: Vec<String> = parts(&dir).into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        names,
        ["part-0-00000000000000000001", "part-1-00000000000000000002"],
        "task 0's part of 2 is replayed; task 1's is its own to recover"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_older_checkpoint_durable_after_a_newer_one_completed_is_subsumed() {
    let mut c = Coordinator::new(config(10, 1_000, 2, 1), [1u32], 0);
    c.handle(Input::Tick { now_ms: 0 });
    c.handle(Input::Tick { now_ms: 10 });
    assert_eq!(c.handle(ack(1, 1)), vec![Command::Persist { id: 1 }]);
    assert_eq!(c.handle(ack(2, 1)), vec![Command::Persist { id: 2 }]);
    // 2's metadata is durable first: it completes.
    assert!(matches!(
        c.handle(persisted(2, 20))[..],
        [Command::Complete(Completed { id: 2, .. })]
    ));
    // 1's comes after: 2 holds everything it would.
    assert_eq!(
        c.handle(persisted(1, 21)),
        vec![Command::Abort {
            id: 1,
            reason: AbortReason::Subsumed { by: 2 }
        }]
    );
    assert_eq!(c.latest().map(|l| l.id), Some(2));
}
