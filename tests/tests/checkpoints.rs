//! Checkpoints of a local `exactly_once` run: each completed checkpoint, read back from its
//! directory and checked whole, is a consistent cut — the summing tasks' state holds
//! exactly the numbers the spout tasks had emitted before their barriers, no more, no less.

use gale::TaskState;
use gale::checkpoint::{CheckpointStore, LocalDir};
use gale::codec::from_bytes;
use gale_tests::checkpoint_ops::number;
use gale_tests::checkpoints;

#[test]
fn every_completed_checkpoint_is_a_consistent_cut() {
    let dir = std::env::temp_dir().join(format!("gale-checkpoints-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let summary = gale::run_local(
        checkpoints::topology(),
        gale::RunOptions {
            checkpoint_dir: Some(dir.clone()),
            ..Default::default()
        },
    )
    .expect("runs");
    let store = CheckpointStore::new(LocalDir::new(&dir));
    let ids = store.ids().expect("lists");
    let completed: Vec<u64> = summary.checkpoints.iter().map(|c| c.id).collect();
    assert!(
        completed.len() >= 3,
        "checkpoints taken during the run: {completed:?}"
    );
    let mut checked = 0;
    for c in &summary.checkpoints {
        assert!(ids.contains(&c.id), "{} kept", c.id);
        let meta = store.verify(c.id).expect("whole");
        let mut want = (0u64, 0u64);
        for task in 0..2u32 {
            let emitted: u64 =
                from_bytes(&task_state(&store, &meta, "numbers", task)).expect("decodes");
            want.0 += emitted;
            want.1 += (0..emitted)
                .map(|i| 2 * number(u64::from(task), 2, i))
                .sum::<u64>();
        }
        let mut got = (0u64, 0u64);
        for task in 0..3u32 {
            let (count, sum): (u64, u64) =
                from_bytes(&task_state(&store, &meta, "sum", task)).expect("decodes");
            got.0 += count;
            got.1 += sum;
        }
        assert_eq!(got, want, "checkpoint {}: counts and sums of the cut", c.id);
        assert!(
            want.0 > 0 || c.id == completed[0],
            "checkpoint {} has state",
            c.id
        );
        checked += 1;
    }
    assert_eq!(checked, completed.len());
    let _ = std::fs::remove_dir_all(&dir);
}

/// The task state of `operator`'s task `task` in checkpoint `meta`.
fn task_state(
    store: &CheckpointStore<LocalDir>,
    meta: &gale::checkpoint::Metadata,
    operator: &str,
    task: u32,
) -> Vec<u8> {
    let bytes = store.state(meta, operator, task).expect("state file");
    match from_bytes::<TaskState>(&bytes).expect("a task state") {
        TaskState::Task(b) => b,
        other => panic!("{operator} {task}: task state expected, found {other:?}"),
    }
}
