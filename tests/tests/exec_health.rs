//! Executor progress as real executors publish it (the facts hang detection decides on):
//! a bolt busy in one long `execute` has input pending and no progress, while a spout that
//! finished has nothing pending — so only the busy bolt can ever be called hung.

use gale::exec::health::{Sample, assess, now_us};
use gale::exec::local::{Progress, RunOptions};
use gale::{Bolt, Emitter, ExecResult, Spout, SpoutStatus};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::time::{Duration, Instant};

/// A number.
#[derive(Debug, Clone, PartialEq, gale::Tuple)]
pub struct N {
    /// Its value.
    pub n: u64,
}

/// Emits 0..10, then is done.
#[derive(Default)]
pub struct Ten {
    sent: u64,
}

impl Spout for Ten {
    type Out = N;
    fn next_tuple(&mut self, out: &mut impl Emitter<N>) -> SpoutStatus {
        if self.sent == 10 {
            return SpoutStatus::Done;
        }
        out.emit(N { n: self.sent });
        self.sent += 1;
        SpoutStatus::Active
    }
}

/// The bolt is in its long `execute`.
static BUSY: AtomicBool = AtomicBool::new(false);
/// When the long `execute` began.
static BUSY_SINCE: Mutex<Option<Instant>> = Mutex::new(None);

/// Takes two seconds over the last tuple.
#[derive(Default)]
pub struct SlowLast;

impl Bolt for SlowLast {
    type In = N;
    type Out = ();
    fn execute(&mut self, x: N, _: &mut impl Emitter<()>) -> ExecResult {
        if x.n == 9 {
            *BUSY_SINCE.lock().unwrap_or_else(|p| p.into_inner()) = Some(Instant::now());
            BUSY.store(true, SeqCst);
            std::thread::sleep(Duration::from_secs(2));
            BUSY.store(false, SeqCst);
        }
        Ok(())
    }
}

gale::topology! {
    use crate::N;

    topology health {
        config { guarantee = at_most_once, batch_size = 1 }

        spout ten  = Ten() -> N             parallelism 1
        bolt  slow = SlowLast(N)            parallelism 1

        ten -> slow : shuffle
    }
}

/// (spout, bolt) samples taken while the bolt was at least 700 ms into its long `execute`.
static SEEN: Mutex<Vec<(Sample, Sample)>> = Mutex::new(Vec::new());

fn watch(p: &Progress<'_>) {
    let since = *BUSY_SINCE.lock().unwrap_or_else(|p| p.into_inner());
    let deep = since.is_some_and(|t| t.elapsed() >= Duration::from_millis(700));
    if BUSY.load(SeqCst) && deep {
        let desc = &health::DESC;
        let chain = |name: &str| {
            desc.components
                .iter()
                .find(|c| c.name == name)
                .map(|c| c.chain)
                .expect("a component")
        };
        let spout = p.metrics.executor_progress(chain("ten"), 0).sample();
        let bolt = p.metrics.executor_progress(chain("slow"), 0).sample();
        SEEN.lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((spout, bolt));
    }
}

#[test]
fn a_busy_bolt_has_input_pending_and_a_finished_spout_has_none() {
    let summary = gale::run_local(
        health::topology(),
        RunOptions {
            progress: Some(watch),
            ..RunOptions::default()
        },
    )
    .expect("runs");
    assert_eq!(summary.component("slow").map(|c| c.executed), Some(10));
    let seen = SEEN.lock().unwrap_or_else(|p| p.into_inner()).clone();
    assert!(!seen.is_empty(), "no sample during the long execute");
    for (spout, bolt) in seen {
        // The spout finished before the last tuple reached the bolt: nothing pending.
        assert_eq!(spout.pending, 0, "a finished spout looks busy: {spout:?}");
        assert!(
            bolt.pending >= 1,
            "the busy bolt has nothing pending: {bolt:?}"
        );
        // Only the bolt is stalled; with a 500 ms timeout, only the bolt is hung.
        let (stalled, hung) = assess(now_us(), &[spout, bolt], Duration::from_millis(500));
        assert_eq!(stalled[0], Duration::ZERO);
        assert!(stalled[1] >= Duration::from_millis(500), "{stalled:?}");
        assert_eq!(
            hung.iter().map(|h| h.executor).collect::<Vec<_>>(),
            [1],
            "{hung:?}"
        );
    }
}
