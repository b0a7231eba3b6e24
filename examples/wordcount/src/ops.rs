//! The spout and bolts the word-count topology names.

use crate::wordcount::{Count, Sentence, Word};
use gale::{Bolt, Emitter, ExecResult, FastMap, Spout, SpoutStatus, TaskContext};
use std::collections::BTreeMap;
use std::io::Write;

/// The text counted when no `input` file is configured.
pub const BUNDLED_TEXT: &str = include_str!("../data/sentences.txt");

/// Emits the lines of a text as sentences, `repeat` times, then finishes. With several
/// tasks, task `i` of `n` emits lines `i, i + n, i + 2n, ...`, so together they emit each
/// line exactly once per repetition.
#[derive(Default)]
pub struct Sentences {
    lines: Vec<String>,
    next: usize,
    round: u64,
    repeat: u64,
}

impl Spout for Sentences {
    type Out = Sentence;

    fn open(&mut self, ctx: &TaskContext) {
        let text = match ctx.config_str("input") {
            Some(path) => std::fs::read_to_string(path).unwrap_or_else(|e| {
                eprintln!("wordcount: cannot read input `{path}`: {e}; using the bundled text");
                BUNDLED_TEXT.to_string()
            }),
            None => BUNDLED_TEXT.to_string(),
        };
        let (i, n) = (ctx.task_index(), ctx.task_count());
        self.lines = text
            .lines()
            .enumerate()
            .filter(|(k, _)| k % n == i)
            .map(|(_, l)| l.to_string())
            .collect();
        self.repeat = ctx.config_u64("repeat").unwrap_or(1);
    }

    fn next_tuple(&mut self, out: &mut impl Emitter<Sentence>) -> SpoutStatus {
        if self.next == self.lines.len() {
            self.next = 0;
            self.round += 1;
        }
        if self.round >= self.repeat || self.lines.is_empty() {
            return SpoutStatus::Done;
        }
        out.emit(Sentence {
            text: self.lines[self.next].clone(),
        });
        self.next += 1;
        SpoutStatus::Active
    }

    /// Its position, for `exactly_once` checkpoints: the next line and the round.
    fn snapshot_state(&mut self, _checkpoint: u64) -> Result<Option<gale::TaskState>, gale::Fail> {
        Ok(Some(
            gale::codec::to_bytes(&(self.next as u64, self.round)).into(),
        ))
    }

    /// Rewinds to a checkpoint's position: what it emits next is what came after it.
    fn initialize_state(&mut self, restored: Option<gale::TaskState>) -> Result<(), gale::Fail> {
        if let Some(s) = restored {
            let (next, round): (u64, u64) = gale::codec::from_bytes(&s.into_task()?)?;
            (self.next, self.round) = (next as usize, round);
        }
        Ok(())
    }
}

/// Splits a sentence into lowercase words (runs of letters, digits and apostrophes).
pub fn words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !(c.is_alphanumeric() || c == '\''))
        .map(|w| w.trim_matches('\''))
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
}

/// Sentence → words.
#[derive(Default)]
pub struct SplitWords;

impl Bolt for SplitWords {
    type In = Sentence;
    type Out = Word;

    fn execute(&mut self, s: Sentence, out: &mut impl Emitter<Word>) -> ExecResult {
        for word in words(&s.text) {
            out.emit(Word { word });
        }
        Ok(())
    }
}

/// Counts words (keyed state: the fields grouping sends a word always to the same task)
/// and emits the running count.
#[derive(Default)]
pub struct CountWords {
    counts: FastMap<String, u64>,
}

impl Bolt for CountWords {
    type In = Word;
    type Out = Count;

    fn execute(&mut self, w: Word, out: &mut impl Emitter<Count>) -> ExecResult {
        let n = self.counts.entry(w.word.clone()).or_insert(0);
        *n += 1;
        out.emit(Count {
            word: w.word,
            count: *n,
        });
        Ok(())
    }
}

/// Keeps the latest count of every word and prints them all, sorted, when the input ends:
/// one `word count` line each on stdout.
#[derive(Default)]
pub struct PrintCounts {
    latest: BTreeMap<String, u64>,
}

impl Bolt for PrintCounts {
    type In = Count;
    type Out = ();

    fn execute(&mut self, c: Count, _out: &mut impl Emitter<()>) -> ExecResult {
        let e = self.latest.entry(c.word).or_insert(0);
        *e = (*e).max(c.count);
        Ok(())
    }

    fn finish(&mut self, _out: &mut impl Emitter<()>) {
        // What was counted, on stderr: stdout stays `word count` lines, for pipes.
        let total: u64 = self.latest.values().sum();
        eprintln!(
            "wordcount: {total} words, {} distinct; each word and its count on stdout",
            self.latest.len()
        );
        let stdout = std::io::stdout();
        let mut lock = stdout.lock();
        for (word, count) in &self.latest {
            if writeln!(lock, "{word} {count}").is_err() {
                return; // stdout closed (e.g. piped into `head`): nothing more to say
            }
        }
    }
}
