//! The spout and bolts of the rolling top-N topology.

use crate::topn::{Count, Ranked, Rankings, Word};
use gale::{Bolt, Emitter, ExecResult, FastMap, Spout, SpoutStatus, TaskContext};
use std::collections::VecDeque;

/// The word of draw `i`: a skewed (Zipf-like) choice among 1,000 words, deterministic so
/// runs and tests agree.
pub fn word_of(i: u64) -> String {
    let mut x = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xD1B5_4A32_D192_ED03;
    x ^= x >> 31;
    let u = (x % 1_000_000) as f64 / 1_000_000.0;
    // Inverse of a power-law CDF: small ranks are much more frequent.
    let rank = (1000f64.powf(u) - 1.0) as u64;
    format!("word{rank:03}")
}

/// Emits `words` words in total, split among its tasks.
#[derive(Default)]
pub struct RandomWords {
    next: u64,
    step: u64,
    end: u64,
}

impl Spout for RandomWords {
    type Out = Word;

    fn open(&mut self, ctx: &TaskContext) {
        self.next = ctx.task_index() as u64;
        self.step = ctx.task_count() as u64;
        self.end = ctx.config_u64("words").unwrap_or(100_000);
    }

    fn next_tuple(&mut self, out: &mut impl Emitter<Word>) -> SpoutStatus {
        if self.next >= self.end {
            return SpoutStatus::Done;
        }
        out.emit(Word {
            word: word_of(self.next),
        });
        self.next += self.step;
        SpoutStatus::Active
    }

    /// Its position, for `exactly_once` checkpoints: the next word's sequence number.
    fn snapshot_state(&mut self, _checkpoint: u64) -> Result<Option<gale::TaskState>, gale::Fail> {
        Ok(Some(gale::codec::to_bytes(&self.next).into()))
    }

    /// Rewinds to a checkpoint's position: what it emits next is what came after it.
    fn initialize_state(&mut self, restored: Option<gale::TaskState>) -> Result<(), gale::Fail> {
        if let Some(s) = restored {
            self.next = gale::codec::from_bytes(&s.into_task()?)?;
        }
        Ok(())
    }
}

/// Counts each word over a sliding window of the last `window` tuples this task saw, in
/// `slots` slots: at every slot boundary it emits the window count of the words that
/// changed, and the oldest slot slides out. (Storm's `RollingCountBolt`, driven by tuple
/// count instead of tick tuples.)
#[derive(Default)]
pub struct RollingCount {
    slots: VecDeque<FastMap<String, u64>>,
    window: FastMap<String, u64>,
    slot_size: u64,
    max_slots: usize,
    in_slot: u64,
}

impl RollingCount {
    fn emit_current(&mut self, out: &mut impl Emitter<Count>) {
        if let Some(current) = self.slots.back() {
            for word in current.keys() {
                let count = self.window.get(word).copied().unwrap_or(0);
                out.emit(Count {
                    word: word.clone(),
                    count,
                });
            }
        }
    }
}

impl Bolt for RollingCount {
    type In = Word;
    type Out = Count;

    fn prepare(&mut self, ctx: &TaskContext) {
        self.max_slots = ctx.config_u64("slots").unwrap_or(5).max(1) as usize;
        let window = ctx.config_u64("window").unwrap_or(50_000).max(1);
        // The window is over the whole stream; this task sees 1/n of it.
        self.slot_size = (window / self.max_slots as u64 / ctx.task_count() as u64).max(1);
        self.slots.push_back(FastMap::default());
    }

    fn execute(&mut self, w: Word, out: &mut impl Emitter<Count>) -> ExecResult {
        if let Some(current) = self.slots.back_mut() {
            *current.entry(w.word.clone()).or_insert(0) += 1;
        }
        *self.window.entry(w.word).or_insert(0) += 1;
        self.in_slot += 1;
        if self.in_slot == self.slot_size {
            self.emit_current(out);
            self.in_slot = 0;
            self.slots.push_back(FastMap::default());
            if self.slots.len() > self.max_slots
                && let Some(old) = self.slots.pop_front()
            {
                for (word, n) in old {
                    if let Some(c) = self.window.get_mut(&word) {
                        *c -= n;
                        if *c == 0 {
                            self.window.remove(&word);
                        }
                    }
                }
            }
        }
        Ok(())
    }

    fn finish(&mut self, out: &mut impl Emitter<Count>) {
        self.emit_current(out);
    }
}

/// The top `n` of a map of counts, highest first, ties by word.
pub fn top(counts: &FastMap<String, u64>, n: usize) -> Vec<Ranked> {
    let mut all: Vec<Ranked> = counts
        .iter()
        .filter(|(_, c)| **c > 0)
        .map(|(w, c)| Ranked {
            word: w.clone(),
            count: *c,
        })
        .collect();
    all.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.word.cmp(&b.word)));
    all.truncate(n);
    all
}

/// Keeps the latest window count of the words it owns and emits its top N every 1,000
/// updates and at the end (Storm's `IntermediateRankingsBolt`).
#[derive(Default)]
pub struct IntermediateRanker {
    latest: FastMap<String, u64>,
    n: usize,
    updates: u64,
}

impl Bolt for IntermediateRanker {
    type In = Count;
    type Out = Rankings;

    fn prepare(&mut self, ctx: &TaskContext) {
        self.n = ctx.config_u64("top").unwrap_or(10) as usize;
    }

    fn execute(&mut self, c: Count, out: &mut impl Emitter<Rankings>) -> ExecResult {
        self.latest.insert(c.word, c.count);
        self.updates += 1;
        if self.updates.is_multiple_of(1000) {
            out.emit(Rankings {
                entries: top(&self.latest, self.n),
            });
        }
        Ok(())
    }

    fn finish(&mut self, out: &mut impl Emitter<Rankings>) {
        out.emit(Rankings {
            entries: top(&self.latest, self.n),
        });
    }
}

/// Merges partial rankings (the latest per word wins) and prints the final top N as
/// `rank word count` lines (Storm's `TotalRankingsBolt`).
#[derive(Default)]
pub struct TotalRanker {
    latest: FastMap<String, u64>,
    n: usize,
}

impl Bolt for TotalRanker {
    type In = Rankings;
    type Out = ();

    fn prepare(&mut self, ctx: &TaskContext) {
        self.n = ctx.config_u64("top").unwrap_or(10) as usize;
    }

    fn execute(&mut self, r: Rankings, _out: &mut impl Emitter<()>) -> ExecResult {
        for e in r.entries {
            self.latest.insert(e.word, e.count);
        }
        Ok(())
    }

    fn finish(&mut self, _out: &mut impl Emitter<()>) {
        for (i, r) in top(&self.latest, self.n).iter().enumerate() {
            println!("{} {} {}", i + 1, r.word, r.count);
        }
    }
}
