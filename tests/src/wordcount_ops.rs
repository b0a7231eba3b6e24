//! Components of `fused.topo` and `unfused.topo`: the same word count, generic over the
//! generated tuple types of either module (they are identical schemas in two modules).

use gale::{Bolt, Emitter, ExecResult, FastMap, Spout, SpoutStatus, TaskContext};
use std::collections::BTreeMap;
use std::sync::Mutex;

/// The text both topologies count.
pub const TEXT: &str = "the quick brown fox jumps over the lazy dog\n\
    the dog barks and the fox runs\n\
    a quick brown dog and a lazy fox\n\
    over and over the fox and the dog\n";

/// Final counts per topology name, merged from every `Collect` task.
pub static RESULTS: Mutex<BTreeMap<String, BTreeMap<String, u64>>> = Mutex::new(BTreeMap::new());

/// The ground truth: a plain loop.
pub fn expected(repeat: usize) -> BTreeMap<String, u64> {
    let mut m = BTreeMap::new();
    for _ in 0..repeat {
        for w in TEXT.split_whitespace() {
            *m.entry(w.to_string()).or_insert(0) += 1;
        }
    }
    m
}

/// How many times the spouts emit the text, in total.
pub const REPEAT: usize = 500;

macro_rules! ops_for {
    ($module:ident) => {
        impl Spout for Lines<crate::$module::Line> {
            type Out = crate::$module::Line;
            fn open(&mut self, ctx: &TaskContext) {
                let (i, n) = (ctx.task_index(), ctx.task_count());
                self.lines = (0..REPEAT)
                    .flat_map(|_| TEXT.lines())
                    .enumerate()
                    .filter(|(k, _)| k % n == i)
                    .map(|(_, l)| l.to_string())
                    .collect();
            }
            fn next_tuple(&mut self, out: &mut impl Emitter<Self::Out>) -> SpoutStatus {
                match self.lines.pop() {
                    Some(text) => {
                        out.emit(crate::$module::Line { text });
                        SpoutStatus::Active
                    }
                    None => SpoutStatus::Done,
                }
            }
        }

        impl Bolt for Split<crate::$module::Line> {
            type In = crate::$module::Line;
            type Out = crate::$module::Word;
            fn execute(&mut self, l: Self::In, out: &mut impl Emitter<Self::Out>) -> ExecResult {
                for w in l.text.split_whitespace() {
                    out.emit(crate::$module::Word {
                        word: w.to_string(),
                    });
                }
                Ok(())
            }
        }

        impl Bolt for Count<crate::$module::Word> {
            type In = crate::$module::Word;
            type Out = crate::$module::Total;
            fn execute(&mut self, w: Self::In, out: &mut impl Emitter<Self::Out>) -> ExecResult {
                let n = self.counts.entry(w.word.clone()).or_insert(0);
                *n += 1;
                out.emit(crate::$module::Total {
                    word: w.word,
                    count: *n,
                });
                Ok(())
            }
        }

        impl Bolt for Collect<crate::$module::Total> {
            type In = crate::$module::Total;
            type Out = ();
            fn prepare(&mut self, ctx: &TaskContext) {
                self.topology = ctx.topology().to_string();
            }
            fn execute(&mut self, t: Self::In, _out: &mut impl Emitter<()>) -> ExecResult {
                let e = self.latest.entry(t.word).or_insert(0);
                *e = (*e).max(t.count);
                Ok(())
            }
            fn finish(&mut self, _out: &mut impl Emitter<()>) {
                let mut all = RESULTS.lock().unwrap_or_else(|p| p.into_inner());
                let mine = all.entry(self.topology.clone()).or_default();
                for (w, n) in std::mem::take(&mut self.latest) {
                    // Each word is counted by exactly one task, so no two tasks report it.
                    assert!(mine.insert(w.clone(), n).is_none(), "`{w}` reported twice");
                }
            }
        }
    };
}

/// Emits the text's lines, split among the tasks.
pub struct Lines<T> {
    lines: Vec<String>,
    _t: std::marker::PhantomData<T>,
}
impl<T> Default for Lines<T> {
    fn default() -> Self {
        Lines {
            lines: Vec::new(),
            _t: std::marker::PhantomData,
        }
    }
}

/// Line → words.
pub struct Split<T>(std::marker::PhantomData<T>);
impl<T> Default for Split<T> {
    fn default() -> Self {
        Split(std::marker::PhantomData)
    }
}

/// Keyed running count.
pub struct Count<T> {
    counts: FastMap<String, u64>,
    _t: std::marker::PhantomData<T>,
}
impl<T> Default for Count<T> {
    fn default() -> Self {
        Count {
            counts: FastMap::default(),
            _t: std::marker::PhantomData,
        }
    }
}

/// Keeps the latest count per word; publishes them into [`RESULTS`] at the end.
pub struct Collect<T> {
    topology: String,
    latest: BTreeMap<String, u64>,
    _t: std::marker::PhantomData<T>,
}
impl<T> Default for Collect<T> {
    fn default() -> Self {
        Collect {
            topology: String::new(),
            latest: BTreeMap::new(),
            _t: std::marker::PhantomData,
        }
    }
}

ops_for!(fused);
ops_for!(unfused);

/// The components as `fused.topo` names them.
pub mod fused_ops {
    use crate::fused::{Line, Total, Word};
    /// Lines for `fused`.
    pub type Lines = super::Lines<Line>;
    /// Split for `fused`.
    pub type Split = super::Split<Line>;
    /// Count for `fused`.
    pub type Count = super::Count<Word>;
    /// Collect for `fused`.
    pub type Collect = super::Collect<Total>;
}

/// The components as `unfused.topo` names them.
pub mod unfused_ops {
    use crate::unfused::{Line, Total, Word};
    /// Lines for `unfused`.
    pub type Lines = super::Lines<Line>;
    /// Split for `unfused`.
    pub type Split = super::Split<Line>;
    /// Count for `unfused`.
    pub type Count = super::Count<Word>;
    /// Collect for `unfused`.
    pub type Collect = super::Collect<Total>;
}
