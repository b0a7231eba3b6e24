//! The spout and the sinks of `frauds.topo`.

use crate::frauds::{CardSum, Session, Txn};
use gale::{Bolt, Emitter, ExecResult, Spout, SpoutStatus, TaskContext};

/// Transaction `i` of `cards` cards, at most `disorder` ms before its place in time: 10 ms
/// apart, in bursts of 5,000 (50 s) with 60 s of quiet between them (so sessions end).
pub fn transaction(i: u64, cards: u64, disorder: u64) -> Txn {
    let mix = i.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    Txn {
        card: format!("card-{:04}", (mix >> 20) % cards.max(1)),
        amount: 1 + (mix >> 40) % 500,
        at: 1_700_000_000_000 + i * 10 + (i / 5000) * 60_000 - (mix >> 8) % (disorder + 1),
    }
}

/// Emits its share of the transactions.
#[derive(Default)]
pub struct Transactions {
    next: u64,
    step: u64,
    end: u64,
    cards: u64,
    disorder: u64,
}

impl Spout for Transactions {
    type Out = Txn;
    fn open(&mut self, ctx: &TaskContext) {
        self.next = ctx.task_index() as u64;
        self.step = ctx.task_count() as u64;
        self.end = ctx.config_u64("transactions").unwrap_or(100_000);
        self.cards = ctx.config_u64("cards").unwrap_or(100);
        self.disorder = ctx.config_u64("disorder").unwrap_or(0);
    }
    fn next_tuple(&mut self, out: &mut impl Emitter<Txn>) -> SpoutStatus {
        if self.next >= self.end {
            return SpoutStatus::Done;
        }
        out.emit(transaction(self.next, self.cards, self.disorder));
        self.next += self.step;
        SpoutStatus::Active
    }
}

/// Passes on the 10 s sums over the limit (`limit` in the config).
#[derive(Default)]
pub struct OverLimit {
    limit: u64,
}

impl Bolt for OverLimit {
    type In = CardSum;
    type Out = CardSum;
    fn prepare(&mut self, ctx: &TaskContext) {
        self.limit = ctx.config_u64("limit").unwrap_or(8_500);
    }
    fn execute(&mut self, s: CardSum, out: &mut impl Emitter<CardSum>) -> ExecResult {
        if s.total > self.limit {
            out.emit(s);
        }
        Ok(())
    }
}

/// Prints each alert.
#[derive(Default)]
pub struct PrintAlerts;

impl Bolt for PrintAlerts {
    type In = CardSum;
    type Out = ();
    fn execute(&mut self, s: CardSum, _: &mut impl Emitter<()>) -> ExecResult {
        println!(
            "alert {} [{}, {}) total {}",
            s.card, s.start, s.end, s.total
        );
        Ok(())
    }
}

/// Counts the sessions, and prints how many and the longest at the end.
#[derive(Default)]
pub struct CountSessions {
    sessions: u64,
    longest: Option<Session>,
}

impl Bolt for CountSessions {
    type In = Session;
    type Out = ();
    fn execute(&mut self, s: Session, _: &mut impl Emitter<()>) -> ExecResult {
        self.sessions += 1;
        if self.longest.as_ref().is_none_or(|l| s.count > l.count) {
            self.longest = Some(s);
        }
        Ok(())
    }
    fn finish(&mut self, _: &mut impl Emitter<()>) {
        println!("sessions {}", self.sessions);
        if let Some(l) = &self.longest {
            println!(
                "longest session {} [{}, {}) {} transactions",
                l.card, l.start, l.end, l.count
            );
        }
    }
}

/// Prints each late transaction.
#[derive(Default)]
pub struct PrintLate;

impl Bolt for PrintLate {
    type In = Txn;
    type Out = ();
    fn execute(&mut self, t: Txn, _: &mut impl Emitter<()>) -> ExecResult {
        println!("late {} at {} amount {}", t.card, t.at, t.amount);
        Ok(())
    }
}
