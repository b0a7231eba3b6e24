//! Components of `exactly_once.topo`: a split, a keyed counter that panics at seeded
//! points (a process-wide count of the words it saw: after a restart the points lie
//! further on, so every panic happens once), and a pass-through bolt that counts what it
//! passed in its own state (a user bolt's `snapshot_state` / `initialize_state`).

use std::sync::atomic::AtomicU64;

/// Words the counters saw in this process, over every task and restart.
pub static SEEN: AtomicU64 = AtomicU64::new(0);

/// The points (counts of words seen in the process) at which a counter panics: `panics`
/// of them in `1..=range`, from `seed`.
pub fn panic_points(seed: u64, panics: u64, range: u64) -> Vec<u64> {
    let mut rng = gale::rng::Rng::seeded(seed);
    let mut points: Vec<u64> = (0..panics)
        .map(|_| 1 + rng.next_u64() % range.max(1))
        .collect();
    points.sort_unstable();
    points
}

/// The components for the topology module `$m` (`exactly_once`, and the same with
/// another task count): its schemas are its own.
macro_rules! exactly_once_ops {
    ($m:ident) => {
        /// The components of the topology module of the same name.
        pub mod $m {
            use super::{SEEN, panic_points};
            use crate::$m::{Count, Line, Word};
            use gale::codec::{from_bytes, to_bytes};
            use gale::state::{KeyedContext, OpenContext, StateError, ValueState};
            use gale::{Bolt, Emitter, ExecResult, Fail, ProcessBolt, TaskState};
            use std::sync::atomic::Ordering;

            /// The words of a line: split on spaces.
            pub fn split(line: Line) -> Vec<Word> {
                line.text
                    .split(' ')
                    .filter(|w| !w.is_empty())
                    .map(|w| Word {
                        word: w.to_string(),
                    })
                    .collect()
            }

            /// Counts each word (value state); panics when the process-wide word count reaches one of
            /// its panic points.
            #[derive(Default)]
            pub struct Counter {
                count: ValueState<u64>,
                points: Vec<u64>,
                /// Sleep 1 ms every this many words of the process (0: never): a run
                /// long enough for a test to kill things in.
                pace_every: u64,
            }

            impl ProcessBolt for Counter {
                type Key = String;
                type In = Word;
                type Out = Count;

                fn open(&mut self, ctx: &mut OpenContext<'_, String>) -> Result<(), StateError> {
                    self.count = ctx.value_state("count")?;
                    let task = ctx.task();
                    self.points = panic_points(
                        task.config_u64("chaos_seed").unwrap_or(0),
                        task.config_u64("chaos_panics").unwrap_or(0),
                        task.config_u64("chaos_range").unwrap_or(1000),
                    );
                    self.pace_every = task.config_u64("pace_every").unwrap_or(0);
                    Ok(())
                }

                fn process(
                    &mut self,
                    w: Word,
                    ctx: &mut KeyedContext<'_, String>,
                    out: &mut impl Emitter<Count>,
                ) -> ExecResult {
                    let seen = SEEN.fetch_add(1, Ordering::Relaxed) + 1;
                    if self.points.binary_search(&seen).is_ok() {
                        panic!("chaos: word {seen} of this process");
                    }
                    if self.pace_every > 0 && seen % self.pace_every == 0 {
                        std::thread::sleep(std::time::Duration::from_millis(1));
                    }
                    let mut c = ctx.state(&self.count);
                    let n = c.get().copied().unwrap_or(0) + 1;
                    c.set(n);
                    out.emit(Count {
                        word: w.word,
                        count: n,
                    });
                    Ok(())
                }
            }

            /// Passes counts on, counting them in its own (task) state.
            #[derive(Default)]
            pub struct Tally {
                passed: u64,
            }

            impl Bolt for Tally {
                type In = Count;
                type Out = Count;
                fn execute(&mut self, c: Count, out: &mut impl Emitter<Count>) -> ExecResult {
                    self.passed += 1;
                    out.emit(c);
                    Ok(())
                }
                fn finish(&mut self, _: &mut impl Emitter<Count>) {
                    eprintln!("tally: {} counts passed", self.passed);
                }
                fn snapshot_state(&mut self, _checkpoint: u64) -> Result<Option<TaskState>, Fail> {
                    Ok(Some(to_bytes(&self.passed).into()))
                }
                fn initialize_state(&mut self, restored: Option<TaskState>) -> ExecResult {
                    if let Some(s) = restored {
                        self.passed = from_bytes(&s.into_task()?)?;
                    }
                    Ok(())
                }
            }
        }
    };
}

exactly_once_ops!(exactly_once);
exactly_once_ops!(exactly_once_rescaled);
