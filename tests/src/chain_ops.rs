//! Components of `chain.topo`: built-in map/filter/flat_map functions and a stream set.

use crate::chain::{N, Parts};
use gale::{Bolt, Emitter, ExecResult, Spout, SpoutStatus, TaskContext};
use std::collections::BTreeMap;
use std::sync::Mutex;

/// (tuples, sum) received per component.
pub static SUMS: Mutex<BTreeMap<String, (u64, u64)>> = Mutex::new(BTreeMap::new());

/// Emits 0..count.
#[derive(Default)]
pub struct Count {
    next: u64,
    end: u64,
}

impl Spout for Count {
    type Out = N;
    fn open(&mut self, ctx: &TaskContext) {
        self.end = ctx.config_u64("count").unwrap_or(100);
    }
    fn next_tuple(&mut self, out: &mut impl Emitter<N>) -> SpoutStatus {
        if self.next == self.end {
            return SpoutStatus::Done;
        }
        out.emit(N { n: self.next });
        self.next += 1;
        SpoutStatus::Active
    }
}

/// `filter`: keeps numbers below 5000.
pub fn is_small(n: &N) -> bool {
    n.n < 5000
}

/// `map`: doubles.
pub fn double(n: N) -> N {
    N { n: n.n * 2 }
}

/// `flat_map`: one tuple per decimal digit.
pub fn digits(n: N) -> Vec<N> {
    n.n.to_string()
        .bytes()
        .map(|b| N {
            n: (b - b'0') as u64,
        })
        .collect()
}

/// Routes even digits to the `even` stream and odd ones to `odd`.
#[derive(Default)]
pub struct Evens;

impl Bolt for Evens {
    type In = N;
    type Out = Parts;
    fn execute(&mut self, n: N, out: &mut impl Emitter<Parts>) -> ExecResult {
        if n.n.is_multiple_of(2) {
            out.emit(Parts::Even(n));
        } else {
            out.emit(Parts::Odd(n));
        }
        Ok(())
    }
}

/// Sums what it receives into [`SUMS`] under its component name.
#[derive(Default)]
pub struct Sum {
    name: String,
    count: u64,
    sum: u64,
}

impl Bolt for Sum {
    type In = N;
    type Out = ();
    fn prepare(&mut self, ctx: &TaskContext) {
        self.name = ctx.component().to_string();
    }
    fn execute(&mut self, n: N, _out: &mut impl Emitter<()>) -> ExecResult {
        self.count += 1;
        self.sum += n.n;
        Ok(())
    }
    fn finish(&mut self, _out: &mut impl Emitter<()>) {
        let mut all = SUMS.lock().unwrap_or_else(|p| p.into_inner());
        let e = all.entry(self.name.clone()).or_insert((0, 0));
        e.0 += self.count;
        e.1 += self.sum;
    }
}
