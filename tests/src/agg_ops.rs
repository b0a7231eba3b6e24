//! Components of `windows_aggregations.topo`: readings with known disorder whose event
//! time is a type of our own, a user aggregate, a full-window function and recorders.

use crate::windows_aggregations::{
    Reading, UserAvg, UserMax, UserMedian, UserMin, UserSq, UserSum,
};
use gale::window::{Timestamp, Window, WindowFunction};
use gale::{Bolt, Codec, DecodeError, Emitter, ExecResult};
use std::sync::Mutex;

/// An event time of our own: milliseconds since the epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Millis(pub u64);

impl Timestamp for Millis {
    fn millis(&self) -> u64 {
        self.0
    }
}

impl Codec for Millis {
    fn encode(&self, out: &mut Vec<u8>) {
        self.0.encode(out);
    }
    fn decode(input: &mut &[u8]) -> Result<Self, DecodeError> {
        Ok(Millis(u64::decode(input)?))
    }
}

/// Reading `i` of `users` users, at most `disorder` ms before its place in time (10 ms
/// apart), in emission order.
pub fn reading(i: u64, users: u64, disorder: u64) -> Reading {
    let jitter = (i.wrapping_mul(2_654_435_761) >> 9) % (disorder + 1);
    Reading {
        user: format!("u{}", i * 5 % users),
        at: Millis(1_000_000 + i * 10 - jitter),
        amount: (i.wrapping_mul(0x9E37_79B9) >> 11) % 1000,
    }
}

/// Emits the readings in order (one task: count windows count in arrival order).
#[derive(Default)]
pub struct Readings {
    todo: Vec<Reading>,
}

impl gale::Spout for Readings {
    type Out = Reading;
    fn open(&mut self, ctx: &gale::TaskContext) {
        let get = |k, d| ctx.config_u64(k).unwrap_or(d);
        let (n, users, disorder) = (get("readings", 100), get("users", 3), get("disorder", 0));
        self.todo = (0..n).rev().map(|i| reading(i, users, disorder)).collect();
    }
    fn next_tuple(&mut self, out: &mut impl Emitter<Reading>) -> gale::SpoutStatus {
        match self.todo.pop() {
            Some(r) => {
                out.emit(r);
                gale::SpoutStatus::Active
            }
            None => gale::SpoutStatus::Done,
        }
    }
}

/// `reduce`: the reading with the larger amount (the earlier one on a tie).
pub fn larger(a: Reading, b: Reading) -> Reading {
    if b.amount > a.amount { b } else { a }
}

/// `aggregate`: the sum of the squares of the amounts.
#[derive(Default)]
pub struct SumSquares;

impl gale::state::AggregateFunction for SumSquares {
    type In = Reading;
    type Acc = u64;
    type Out = u64;
    fn create(&self) -> u64 {
        0
    }
    fn add(&self, acc: &mut u64, r: Reading) {
        *acc += r.amount * r.amount;
    }
    fn result(&self, acc: &u64) -> u64 {
        *acc
    }
    fn merge(&self, acc: &mut u64, other: u64) {
        *acc += other;
    }
}

/// `apply`: the median amount of a window (the lower of the two middle ones) and how many.
#[derive(Default)]
pub struct Median;

impl WindowFunction for Median {
    type Key = String;
    type In = Reading;
    type Out = UserMedian;
    fn apply(
        &mut self,
        key: &String,
        window: Window,
        elements: &[Reading],
        out: &mut impl Emitter<UserMedian>,
    ) {
        let mut amounts: Vec<u64> = elements.iter().map(|r| r.amount).collect();
        amounts.sort_unstable();
        out.emit(UserMedian {
            user: key.clone(),
            start: window.start,
            end: window.end,
            median: amounts[(amounts.len() - 1) / 2],
            n: amounts.len() as u64,
        });
    }
}

/// The mins.
pub static MINS: Mutex<Vec<UserMin>> = Mutex::new(Vec::new());
/// The maxs.
pub static MAXS: Mutex<Vec<UserMax>> = Mutex::new(Vec::new());
/// The sliding averages.
pub static AVGS: Mutex<Vec<UserAvg>> = Mutex::new(Vec::new());
/// The largest readings.
pub static LARGEST: Mutex<Vec<Reading>> = Mutex::new(Vec::new());
/// The sums of squares.
pub static SQUARES: Mutex<Vec<UserSq>> = Mutex::new(Vec::new());
/// The medians.
pub static MEDIANS: Mutex<Vec<UserMedian>> = Mutex::new(Vec::new());
/// The count windows' sums.
pub static FIVES: Mutex<Vec<UserSum>> = Mutex::new(Vec::new());

recorder!(RecordMins, UserMin, MINS);
recorder!(RecordMaxs, UserMax, MAXS);
recorder!(RecordAvgs, UserAvg, AVGS);
recorder!(RecordLargest, Reading, LARGEST);
recorder!(RecordSquares, UserSq, SQUARES);
recorder!(RecordMedians, UserMedian, MEDIANS);
recorder!(RecordFives, UserSum, FIVES);
