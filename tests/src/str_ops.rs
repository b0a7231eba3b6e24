//! Components of `str_keys.topo`: a keyed count over `Str` keys.

use crate::str_keys::{Count, Word};
use gale::state::{KeyedContext, OpenContext, StateError, ValueState};
use gale::{Bolt, Emitter, ExecResult, ProcessBolt, Spout, SpoutStatus, Str, TaskContext};
use std::collections::BTreeMap;
use std::sync::Mutex;

/// The last count `record` saw per word, with the task that sent it.
pub static LAST: Mutex<BTreeMap<String, Vec<(u64, u64)>>> = Mutex::new(BTreeMap::new());

/// Word `i` (of `n` in all, spread over `tasks` spout tasks by `i % tasks`): one of 101
/// words of 1 to 40 bytes (the longer ones do not fit inline).
pub fn word(i: u64) -> String {
    let w = i * 13 % 101;
    format!("{w}{}", "x".repeat((w % 40) as usize))
}

/// Emits its share of the words.
#[derive(Default)]
pub struct Words {
    next: u64,
    step: u64,
    end: u64,
}

impl Spout for Words {
    type Out = Word;
    fn open(&mut self, ctx: &TaskContext) {
        self.next = ctx.task_index() as u64;
        self.step = ctx.task_count() as u64;
        self.end = ctx.config_u64("words").unwrap_or(100);
    }
    fn next_tuple(&mut self, out: &mut impl Emitter<Word>) -> SpoutStatus {
        if self.next >= self.end {
            return SpoutStatus::Done;
        }
        out.emit(Word {
            word: Str::from(word(self.next)),
        });
        self.next += self.step;
        SpoutStatus::Active
    }
}

/// Counts each word in value state keyed by the `Str`.
#[derive(Default)]
pub struct Counter {
    count: ValueState<u64>,
    task: u64,
}

impl ProcessBolt for Counter {
    type Key = Str;
    type In = Word;
    type Out = Count;

    fn open(&mut self, ctx: &mut OpenContext<'_, Str>) -> Result<(), StateError> {
        self.count = ctx.value_state("count")?;
        self.task = ctx.task().task_index() as u64;
        Ok(())
    }

    fn process(
        &mut self,
        w: Word,
        ctx: &mut KeyedContext<'_, Str>,
        out: &mut impl Emitter<Count>,
    ) -> ExecResult {
        let mut c = ctx.state(&self.count);
        let n = c.get().copied().unwrap_or(0) + 1;
        c.set(n);
        out.emit(Count {
            word: w.word,
            count: n,
            task: self.task,
        });
        Ok(())
    }
}

/// Records the counts as they come.
#[derive(Default)]
pub struct Record;

impl Bolt for Record {
    type In = Count;
    type Out = ();
    fn execute(&mut self, c: Count, _: &mut impl Emitter<()>) -> ExecResult {
        if let Ok(mut last) = LAST.lock() {
            last.entry(c.word.to_string())
                .or_default()
                .push((c.count, c.task));
        }
        Ok(())
    }
}
