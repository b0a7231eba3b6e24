//! The components the benchmark topologies name.

use gale::{Bolt, Emitter, ExecResult, FastMap, Spout, SpoutStatus, TaskContext};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Sum of everything the chain sinks received (checked against the hand-written loop).
pub static CHAIN_SUM: AtomicU64 = AtomicU64::new(0);
/// Words counted by the word-count sinks.
pub static WORDS_COUNTED: AtomicU64 = AtomicU64::new(0);
/// Tuples per spout task for the chain benchmark.
pub static CHAIN_TUPLES: AtomicU64 = AtomicU64::new(0);
/// Sentences in total for the word-count benchmark.
pub static SENTENCES: AtomicU64 = AtomicU64::new(0);

/// The chain's first map.
#[inline]
pub fn add_one_n(n: u64) -> u64 {
    n + 1
}

macro_rules! chain_ops {
    ($m:ident) => {
        /// Chain components for the topology module of the same name.
        pub mod $m {
            use super::*;
            use crate::$m::N;

            /// Emits 0..CHAIN_TUPLES.
            #[derive(Default)]
            pub struct Numbers {
                next: u64,
                end: u64,
            }

            impl Spout for Numbers {
                type Out = N;
                fn open(&mut self, _ctx: &TaskContext) {
                    self.end = CHAIN_TUPLES.load(Relaxed);
                }
                #[inline]
                fn next_tuple(&mut self, out: &mut impl Emitter<N>) -> SpoutStatus {
                    if self.next == self.end {
                        return SpoutStatus::Done;
                    }
                    out.emit(N { n: self.next });
                    self.next += 1;
                    SpoutStatus::Active
                }
            }

            /// map: n + 1.
            #[inline]
            pub fn add_one(t: N) -> N {
                N { n: add_one_n(t.n) }
            }
            /// filter: even.
            #[inline]
            pub fn is_even(t: &N) -> bool {
                t.n % 2 == 0
            }
            /// map: n * 3.
            #[inline]
            pub fn times_three(t: N) -> N {
                N { n: t.n * 3 }
            }

            /// Sums its input; publishes the sum at the end.
            #[derive(Default)]
            pub struct SumSink {
                sum: u64,
            }

            impl Bolt for SumSink {
                type In = N;
                type Out = ();
                #[inline]
                fn execute(&mut self, t: N, _out: &mut impl Emitter<()>) -> ExecResult {
                    self.sum = self.sum.wrapping_add(t.n);
                    Ok(())
                }
                fn finish(&mut self, _out: &mut impl Emitter<()>) {
                    CHAIN_SUM.fetch_add(self.sum, Relaxed);
                }
            }
        }
    };
}

chain_ops!(fused_chain);
chain_ops!(unfused_chain);

/// Chain components under the path `unfused_chain.topo` uses.
pub mod unfused {
    pub use super::unfused_chain::*;
}

/// The vocabulary: 10,000 distinct words.
pub fn vocabulary() -> Vec<String> {
    (0..10_000).map(|i| format!("w{i:04}x")).collect()
}

/// A pool of 4,096 sentences of 10 words drawn from the vocabulary (deterministic).
pub fn sentence_pool() -> Vec<String> {
    let vocab = vocabulary();
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    (0..4096)
        .map(|_| {
            (0..10)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    vocab[(x % vocab.len() as u64) as usize].as_str()
                })
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}

macro_rules! wc_ops {
    ($m:ident, $topo:ident, $with_id:literal) => {
        /// Word-count components for the topology module `$topo`.
        pub mod $m {
            use super::*;
            use crate::$topo::{Sentence, Word};

            /// Emits this task's share of SENTENCES sentences from the pool.
            #[derive(Default)]
            pub struct Sentences {
                pool: Vec<String>,
                next: usize,
                left: u64,
            }

            impl Spout for Sentences {
                type Out = Sentence;
                fn open(&mut self, ctx: &TaskContext) {
                    self.pool = sentence_pool();
                    self.next = ctx.task_index() * 997;
                    self.left = SENTENCES.load(Relaxed) / ctx.task_count() as u64;
                }
                #[inline]
                fn next_tuple(&mut self, out: &mut impl Emitter<Sentence>) -> SpoutStatus {
                    if self.left == 0 {
                        return SpoutStatus::Done;
                    }
                    self.left -= 1;
                    self.next = (self.next + 1) % self.pool.len();
                    let s = Sentence {
                        text: self.pool[self.next].clone(),
                    };
                    if $with_id {
                        out.emit_with_id(self.left, s);
                    } else {
                        out.emit(s);
                    }
                    SpoutStatus::Active
                }
            }

            /// Sentence → words.
            #[derive(Default)]
            pub struct Split;

            impl Bolt for Split {
                type In = Sentence;
                type Out = Word;
                #[inline]
                fn execute(&mut self, s: Sentence, out: &mut impl Emitter<Word>) -> ExecResult {
                    for w in s.text.split(' ') {
                        out.emit(Word {
                            word: w.to_string(),
                        });
                    }
                    Ok(())
                }
            }

            /// Keyed count.
            #[derive(Default)]
            pub struct Count {
                counts: FastMap<String, u64>,
                words: u64,
            }

            impl Bolt for Count {
                type In = Word;
                type Out = ();
                #[inline]
                fn execute(&mut self, w: Word, _out: &mut impl Emitter<()>) -> ExecResult {
                    *self.counts.entry(w.word).or_insert(0) += 1;
                    self.words += 1;
                    Ok(())
                }
                fn finish(&mut self, _out: &mut impl Emitter<()>) {
                    WORDS_COUNTED.fetch_add(self.words, Relaxed);
                }
            }
        }
    };
}

wc_ops!(wc1, wc_p1, false);
wc_ops!(p2, wc_p2, false);
wc_ops!(p2_acked, wc_p2_acked, true);

/// Events in total for the window benchmark.
pub static WINDOW_EVENTS: AtomicU64 = AtomicU64::new(0);
/// Events counted by the window sinks (summed over every window result).
pub static WINDOW_COUNTED: AtomicU64 = AtomicU64::new(0);
/// Window results the sinks received.
pub static WINDOW_RESULTS: AtomicU64 = AtomicU64::new(0);

/// Keys of the window benchmark.
pub const WINDOW_KEYS: u64 = 10_000;
/// Events per millisecond of event time (100,000 per 1 s window: 10 per key).
pub const EVENTS_PER_MS: u64 = 100;

/// Event `i`: its key and its time (in order).
#[inline]
pub fn window_event(i: u64) -> (u64, u64) {
    (
        i.wrapping_mul(7919) % WINDOW_KEYS,
        1_000_000 + i / EVENTS_PER_MS,
    )
}

macro_rules! window_ops {
    ($m:ident) => {
        /// Window benchmark components for the topology module of the same name.
        pub mod $m {
            use super::*;
            use crate::$m::{Event, KeyCount};

            /// Emits its share of the events, in time order.
            #[derive(Default)]
            pub struct Events {
                next: u64,
                step: u64,
                end: u64,
            }

            impl Spout for Events {
                type Out = Event;
                fn open(&mut self, ctx: &TaskContext) {
                    self.next = ctx.task_index() as u64;
                    self.step = ctx.task_count() as u64;
                    self.end = WINDOW_EVENTS.load(Relaxed);
                }
                #[inline]
                fn next_tuple(&mut self, out: &mut impl Emitter<Event>) -> SpoutStatus {
                    if self.next >= self.end {
                        return SpoutStatus::Done;
                    }
                    let (key, at) = window_event(self.next);
                    out.emit(Event { key, at });
                    self.next += self.step;
                    SpoutStatus::Active
                }
            }

            /// Adds up the window results.
            #[derive(Default)]
            pub struct Sink {
                counted: u64,
                results: u64,
            }

            impl Bolt for Sink {
                type In = KeyCount;
                type Out = ();
                #[inline]
                fn execute(&mut self, r: KeyCount, _: &mut impl Emitter<()>) -> ExecResult {
                    self.counted += r.count;
                    self.results += 1;
                    Ok(())
                }
                fn finish(&mut self, _: &mut impl Emitter<()>) {
                    WINDOW_COUNTED.fetch_add(self.counted, Relaxed);
                    WINDOW_RESULTS.fetch_add(self.results, Relaxed);
                }
            }
        }
    };
}

window_ops!(win_p1);
window_ops!(win_p2);

/// Events of each side for the join benchmark.
pub static JOIN_EVENTS: AtomicU64 = AtomicU64::new(0);
/// Pairs the join sinks received.
pub static JOIN_PAIRS: AtomicU64 = AtomicU64::new(0);
/// The sum of `b - a` over those pairs (a check that they are the right ones).
pub static JOIN_GAPS: AtomicU64 = AtomicU64::new(0);

/// The join's upper bound: `b` at most this long after `a` (ms).
pub const JOIN_WITHIN_MS: u64 = 1_000;

/// Element `i` of side `side` (0: left, 1: right): its key and its time (in order; 50 per
/// ms of event time per side, so 5 per key per second on each side).
#[inline]
pub fn join_event(side: u64, i: u64) -> (u64, u64) {
    (
        i.wrapping_mul(7919) % WINDOW_KEYS,
        1_000_000 + (2 * i + side) / EVENTS_PER_MS,
    )
}

macro_rules! join_ops {
    ($m:ident) => {
        /// Join benchmark components for the topology module of the same name.
        pub mod $m {
            use super::*;
            use crate::$m::{Left, Pair, Right};

            macro_rules! side_spout {
                ($name:ident, $t:ident, $side:literal) => {
                    /// Emits its side's elements, in time order.
                    #[derive(Default)]
                    pub struct $name {
                        next: u64,
                        end: u64,
                    }

                    impl Spout for $name {
                        type Out = $t;
                        fn open(&mut self, _ctx: &TaskContext) {
                            self.end = JOIN_EVENTS.load(Relaxed);
                        }
                        #[inline]
                        fn next_tuple(&mut self, out: &mut impl Emitter<$t>) -> SpoutStatus {
                            if self.next >= self.end {
                                return SpoutStatus::Done;
                            }
                            let (key, at) = join_event($side, self.next);
                            out.emit($t { key, at });
                            self.next += 1;
                            SpoutStatus::Active
                        }
                    }
                };
            }

            side_spout!(Lefts, Left, 0);
            side_spout!(Rights, Right, 1);

            /// The join function.
            #[inline]
            pub fn pair(a: &Left, b: &Right) -> Pair {
                Pair {
                    key: a.key,
                    a: a.at,
                    b: b.at,
                }
            }

            /// Counts the pairs.
            #[derive(Default)]
            pub struct Sink {
                pairs: u64,
                gaps: u64,
            }

            impl Bolt for Sink {
                type In = Pair;
                type Out = ();
                #[inline]
                fn execute(&mut self, p: Pair, _: &mut impl Emitter<()>) -> ExecResult {
                    self.pairs += 1;
                    self.gaps += p.b - p.a;
                    Ok(())
                }
                fn finish(&mut self, _: &mut impl Emitter<()>) {
                    JOIN_PAIRS.fetch_add(self.pairs, Relaxed);
                    JOIN_GAPS.fetch_add(self.gaps, Relaxed);
                }
            }
        }
    };
}

join_ops!(join_p1);
join_ops!(join_p2);

/// Tuples in total for the checkpoint benchmark.
pub static CK_TUPLES: AtomicU64 = AtomicU64::new(0);
/// Its distinct keys.
pub static CK_KEYS: AtomicU64 = AtomicU64::new(10_000);
/// Tuples the counters counted (summed at their end).
pub static CK_COUNTED: AtomicU64 = AtomicU64::new(0);

/// Tuple `i`'s key: every key once per `keys` tuples, in a scrambled order.
#[inline]
pub fn ck_key(i: u64, keys: u64) -> u64 {
    i.wrapping_mul(0x9e37_79b9_7f4a_7c15) % keys
}

macro_rules! checkpoint_ops {
    ($m:ident) => {
        /// Checkpoint benchmark components for the topology module of the same name.
        pub mod $m {
            use super::*;
            use crate::$m::Key;
            use gale::codec::{from_bytes, to_bytes};
            use gale::state::{KeyedContext, OpenContext, StateError, ValueState};
            use gale::{Fail, ProcessBolt, TaskState};

            /// Emits its share of the keys; its position is its state (replayable).
            #[derive(Default)]
            pub struct Keys {
                next: u64,
                step: u64,
                end: u64,
                keys: u64,
            }

            impl Spout for Keys {
                type Out = Key;
                fn open(&mut self, ctx: &TaskContext) {
                    self.next = ctx.task_index() as u64;
                    self.step = ctx.task_count() as u64;
                    self.end = CK_TUPLES.load(Relaxed);
                    self.keys = CK_KEYS.load(Relaxed).max(1);
                }
                #[inline]
                fn next_tuple(&mut self, out: &mut impl Emitter<Key>) -> SpoutStatus {
                    if self.next >= self.end {
                        return SpoutStatus::Done;
                    }
                    out.emit(Key {
                        key: ck_key(self.next, self.keys),
                    });
                    self.next += self.step;
                    SpoutStatus::Active
                }
                fn snapshot_state(&mut self, _: u64) -> Result<Option<TaskState>, Fail> {
                    Ok(Some(to_bytes(&self.next).into()))
                }
                fn initialize_state(&mut self, restored: Option<TaskState>) -> Result<(), Fail> {
                    if let Some(s) = restored {
                        self.next = from_bytes(&s.into_task()?)?;
                    }
                    Ok(())
                }
            }

            /// Counts per key in value state.
            #[derive(Default)]
            pub struct Counter {
                count: ValueState<u64>,
                counted: u64,
            }

            impl ProcessBolt for Counter {
                type Key = u64;
                type In = Key;
                type Out = ();
                fn open(&mut self, ctx: &mut OpenContext<'_, u64>) -> Result<(), StateError> {
                    self.count = ctx.value_state("count")?;
                    Ok(())
                }
                #[inline]
                fn process(
                    &mut self,
                    _: Key,
                    ctx: &mut KeyedContext<'_, u64>,
                    _: &mut impl Emitter<()>,
                ) -> ExecResult {
                    let mut c = ctx.state(&self.count);
                    let n = c.get().copied().unwrap_or(0) + 1;
                    c.set(n);
                    self.counted += 1;
                    Ok(())
                }
                fn finish(&mut self, _: &mut impl Emitter<()>) {
                    CK_COUNTED.fetch_add(self.counted, Relaxed);
                }
            }
        }
    };
}

checkpoint_ops!(ck_1s);
checkpoint_ops!(ck_10s);
