//! The spout and the sinks of `frauds.topo`.

use crate::frauds::{AfterLogin, CardSum, Login, Seen, Session, Txn};
use gale::{Bolt, Emitter, ExecResult, Spout, SpoutStatus, TaskContext};

/// Where transaction `i` belongs in time: 10 ms apart, in bursts of 5,000 (50 s) with 60 s
/// of quiet between them (so sessions end).
fn place(i: u64) -> u64 {
    1_700_000_000_000 + i * 10 + (i / 5000) * 60_000
}

/// Transaction `i` of `cards` cards, at most `disorder` ms before its place in time.
pub fn transaction(i: u64, cards: u64, disorder: u64) -> Txn {
    let mix = i.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    Txn {
        card: format!("card-{:04}", (mix >> 20) % cards.max(1)),
        amount: 1 + (mix >> 40) % 500,
        at: place(i) - (mix >> 8) % (disorder + 1),
    }
}

/// How many logins go with `transactions` transactions: one every 100 transactions (1 s).
pub fn login_count(transactions: u64) -> u64 {
    transactions.div_ceil(100)
}

/// Login `j` to one of `cards` cards, in order of time, at the place of transaction
/// `100 * j`.
pub fn login(j: u64, cards: u64) -> Login {
    const COUNTRIES: [&str; 4] = ["FR", "US", "BR", "JP"];
    let mix = (j + 1).wrapping_mul(0xD1B5_4A32_D192_ED03);
    Login {
        card: format!("card-{:04}", (mix >> 24) % cards.max(1)),
        country: COUNTRIES[((mix >> 50) % 4) as usize].to_string(),
        at: place(j * 100),
    }
}

/// The interval join's function: a transaction made in the seconds after a login.
pub fn after_login(l: &Login, t: &Txn) -> AfterLogin {
    AfterLogin {
        card: t.card.clone(),
        country: l.country.clone(),
        login_at: l.at,
        at: t.at,
        amount: t.amount,
    }
}

/// A fingerprint of one joined pair; the sink prints the wrapping sum over all pairs, which
/// does not depend on the order they come in.
pub fn fingerprint(a: &AfterLogin) -> u64 {
    let card: u64 = a
        .card
        .bytes()
        .fold(0, |h, b| h.wrapping_mul(31) ^ u64::from(b));
    (card ^ a.login_at.rotate_left(17) ^ a.at.rotate_left(41) ^ a.amount)
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
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

    /// Its position, for `exactly_once` checkpoints: the next transaction's sequence number.
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

/// Emits the logins, in order of time (one task).
#[derive(Default)]
pub struct Logins {
    next: u64,
    end: u64,
    cards: u64,
}

impl Spout for Logins {
    type Out = Login;
    fn open(&mut self, ctx: &TaskContext) {
        self.end = login_count(ctx.config_u64("transactions").unwrap_or(100_000));
        self.cards = ctx.config_u64("cards").unwrap_or(100);
    }
    fn next_tuple(&mut self, out: &mut impl Emitter<Login>) -> SpoutStatus {
        if self.next >= self.end {
            return SpoutStatus::Done;
        }
        out.emit(login(self.next, self.cards));
        self.next += 1;
        SpoutStatus::Active
    }

    /// Its position, for `exactly_once` checkpoints: the next login's sequence number.
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

/// Counts the transactions joined with a login, and prints how many, their fingerprint and
/// how many came from each country at the end.
#[derive(Default)]
pub struct CountJoined {
    pairs: u64,
    fingerprint: u64,
    countries: std::collections::BTreeMap<String, u64>,
}

impl Bolt for CountJoined {
    type In = AfterLogin;
    type Out = ();
    fn execute(&mut self, a: AfterLogin, _: &mut impl Emitter<()>) -> ExecResult {
        self.pairs += 1;
        self.fingerprint = self.fingerprint.wrapping_add(fingerprint(&a));
        *self.countries.entry(a.country).or_default() += 1;
        Ok(())
    }
    fn finish(&mut self, _: &mut impl Emitter<()>) {
        println!(
            "after login {} fingerprint {}",
            self.pairs, self.fingerprint
        );
        for (country, n) in &self.countries {
            println!("after login from {country} {n}");
        }
    }
}

/// Prints each element too late for the join.
#[derive(Default)]
pub struct PrintLateJoin;

impl Bolt for PrintLateJoin {
    type In = Seen;
    type Out = ();
    fn execute(&mut self, s: Seen, _: &mut impl Emitter<()>) -> ExecResult {
        match s {
            Seen::Logins(l) => println!("late login {} at {}", l.card, l.at),
            Seen::Txns(t) => println!("late join {} at {} amount {}", t.card, t.at, t.amount),
        }
        Ok(())
    }
}
