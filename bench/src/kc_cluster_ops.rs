//! `kc_cluster`'s components: kc_u64_p2's spout and counter (the same xorshift64 keys, the
//! same `FastMap`), with wall-clock timing added.
//!
//! - [`TimedKeys`] emits keys for `secs` seconds (config, `--set secs=N`). It reads the
//!   clock once per [`STAMP`] tuples: that tuple carries its emit time in `sent_us`
//!   (wall-clock micros since the UNIX epoch; 0 on the others), and the same reading checks
//!   the deadline. At its end it writes `keys-<task>.txt` into `out_dir`.
//! - [`TimedCount`] counts every key; on a stamped tuple it reads the clock, records
//!   `now - sent_us` (one machine, one clock: comparable across processes) and adds the
//!   tuples counted since the previous reading to the current second (seconds since its
//!   first tuple). At its end it writes `count-<task>.txt` into `out_dir`.
//!
//! The files (one `key values...` line each, values separated by spaces):
//!
//! ```text
//! keys-0.txt:  emitted N / start_us T / end_us T
//! count-0.txt: counted N / first_us T / per_sec N N N ... / latency_us L L L ...
//! ```
//!
//! Without `out_dir` the same lines go to stderr (latency samples left out).

use gale::{Bolt, Emitter, ExecResult, FastMap, Spout, SpoutStatus, TaskContext};
use std::fmt::Write;
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

pub use crate::xorshift::{KEYS, next, seed};
/// One tuple in `STAMP` carries its emit time (a power of two).
pub const STAMP: u64 = 1024;
/// The run's length when the config does not say (`secs`).
const DEFAULT_SECS: u64 = 25;

/// Wall-clock micros since the UNIX epoch (0 for a clock before it: never on a sane host).
#[inline]
pub fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

/// `DIR/<component>-<task>.txt` with `--set out_dir=DIR`.
fn result_path(ctx: &TaskContext) -> Option<PathBuf> {
    let dir = ctx.config_str("out_dir")?;
    Some(PathBuf::from(dir).join(format!("{}-{}.txt", ctx.component(), ctx.task_index())))
}

/// Writes `text` to `path` (or stderr without one); a failure is reported on stderr, and the
/// driver then finds the file missing.
fn write_result(path: Option<&PathBuf>, text: &str) {
    match path {
        Some(p) => {
            if let Err(e) = std::fs::write(p, text) {
                eprintln!("kc_cluster: cannot write {}: {e}", p.display());
            }
        }
        None => eprint!("{text}"),
    }
}

/// Emits xorshift64 keys for `secs` seconds of wall time; stamps one tuple in [`STAMP`].
#[derive(Default)]
pub struct TimedKeys {
    state: u64,
    emitted: u64,
    start_us: u64,
    deadline_us: u64,
    end_us: u64,
    out: Option<PathBuf>,
}

impl Spout for TimedKeys {
    type Out = crate::kc_cluster::Key;

    fn open(&mut self, ctx: &TaskContext) {
        self.state = seed(ctx.task_index() as u64);
        let secs = ctx.config_u64("secs").unwrap_or(DEFAULT_SECS);
        self.start_us = now_us();
        self.deadline_us = self.start_us + secs * 1_000_000;
        self.out = result_path(ctx);
    }

    #[inline]
    fn next_tuple(&mut self, out: &mut impl Emitter<Self::Out>) -> SpoutStatus {
        let mut sent_us = 0;
        if self.emitted & (STAMP - 1) == 0 {
            // `emitted` is unchanged on `Done`: a call after it is `Done` again.
            let now = now_us();
            if now >= self.deadline_us {
                if self.end_us == 0 {
                    self.end_us = now;
                }
                return SpoutStatus::Done;
            }
            sent_us = now;
        }
        self.emitted += 1;
        out.emit(crate::kc_cluster::Key {
            key: next(&mut self.state) % KEYS,
            sent_us,
        });
        SpoutStatus::Active
    }

    fn close(&mut self) {
        let end = if self.end_us == 0 {
            now_us()
        } else {
            self.end_us
        };
        let text = format!(
            "emitted {}\nstart_us {}\nend_us {end}\n",
            self.emitted, self.start_us
        );
        write_result(self.out.as_ref(), &text);
    }
}

/// Counts every key in a `FastMap`; per second of wall time and the latency of the stamped
/// tuples on the side.
#[derive(Default)]
pub struct TimedCount {
    counts: FastMap<u64, u64>,
    /// Tuples counted since the last clock reading.
    pending: u64,
    /// The clock at the first tuple (0 before it).
    first_us: u64,
    /// Tuples per second since `first_us`.
    per_sec: Vec<u64>,
    /// The second of the last clock reading.
    last_sec: usize,
    /// `now - sent_us` of every stamped tuple, in micros.
    latency_us: Vec<u32>,
    out: Option<PathBuf>,
}

impl TimedCount {
    /// A clock reading: on the first tuple and on every stamped one.
    #[cold]
    #[inline(never)]
    fn tick(&mut self, sent_us: u64) {
        let now = now_us();
        if self.first_us == 0 {
            self.first_us = now.max(1);
        }
        if sent_us != 0 {
            let l = now.saturating_sub(sent_us).min(u64::from(u32::MAX));
            self.latency_us.push(l as u32);
        }
        let sec = (now.saturating_sub(self.first_us) / 1_000_000) as usize;
        self.add(sec);
    }

    /// Adds the pending tuples to second `sec` (never one before the last: a clock that went
    /// back does not reorder the seconds).
    fn add(&mut self, sec: usize) {
        let sec = sec.max(self.last_sec);
        if self.per_sec.len() <= sec {
            self.per_sec.resize(sec + 1, 0);
        }
        self.per_sec[sec] += self.pending;
        self.pending = 0;
        self.last_sec = sec;
    }
}

impl Bolt for TimedCount {
    type In = crate::kc_cluster::Key;
    type Out = ();

    fn prepare(&mut self, ctx: &TaskContext) {
        self.out = result_path(ctx);
    }

    #[inline]
    fn execute(&mut self, k: Self::In, _: &mut impl Emitter<()>) -> ExecResult {
        *self.counts.entry(k.key).or_insert(0) += 1;
        self.pending += 1;
        if k.sent_us != 0 || self.first_us == 0 {
            self.tick(k.sent_us);
        }
        Ok(())
    }

    fn finish(&mut self, _: &mut impl Emitter<()>) {
        // The few tuples after the last stamped one belong to its second.
        if self.pending > 0 {
            self.add(self.last_sec);
        }
        let counted: u64 = self.counts.values().sum();
        let mut text = format!("counted {counted}\nfirst_us {}\nper_sec", self.first_us);
        for n in &self.per_sec {
            let _ = write!(text, " {n}");
        }
        text.push('\n');
        if self.out.is_some() {
            text.reserve(self.latency_us.len() * 4 + 16);
            text.push_str("latency_us");
            for l in &self.latency_us {
                let _ = write!(text, " {l}");
            }
            text.push('\n');
        } else {
            let _ = writeln!(
                text,
                "latency_samples {} (set out_dir to keep them)",
                self.latency_us.len()
            );
        }
        write_result(self.out.as_ref(), &text);
    }
}
