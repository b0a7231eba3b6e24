//! (f) The keyed count of issue 13, beside timely-dataflow and a hand-written loop.
//!
//! Every spout task `w` of `W` emits `records / W` records whose keys come from xorshift64
//! (10,000 distinct), through `fields(key)` into a counting bolt keeping a `FastMap`. The
//! same workload runs on timely-dataflow 0.32 (`bench/timely`, its own crate outside the
//! workspace, spawned as a process when it has been built) and as a one-thread loop. Every
//! figure is checked (every record counted once) before it is printed.

use gale::{Bolt, Emitter, ExecResult, FastMap, Spout, SpoutStatus, TaskContext};
use std::hint::black_box;
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

pub use crate::xorshift::{KEYS, next, seed};
/// Records in a run (all spout tasks together).
pub static RECORDS: AtomicU64 = AtomicU64::new(0);
/// Records the counters counted (added at their end).
pub static COUNTED: AtomicU64 = AtomicU64::new(0);

/// The vocabulary of the String-keyed count: 10,000 words of 8 bytes.
pub fn vocabulary() -> Vec<String> {
    (0..KEYS).map(|i| format!("word{i:04}")).collect()
}

macro_rules! u64_keys {
    ($topo:ident, $with_id:literal) => {
        /// Emits this task's share of [`RECORDS`] xorshift keys.
        #[derive(Default)]
        pub struct Keys {
            state: u64,
            left: u64,
        }

        impl Spout for Keys {
            type Out = crate::$topo::Key;
            fn open(&mut self, ctx: &TaskContext) {
                self.state = seed(ctx.task_index() as u64);
                self.left = RECORDS.load(Relaxed) / ctx.task_count() as u64;
            }
            #[inline]
            fn next_tuple(&mut self, out: &mut impl Emitter<Self::Out>) -> SpoutStatus {
                if self.left == 0 {
                    return SpoutStatus::Done;
                }
                self.left -= 1;
                let key = crate::$topo::Key {
                    key: next(&mut self.state) % KEYS,
                };
                if $with_id {
                    out.emit_with_id(self.left, key);
                } else {
                    out.emit(key);
                }
                SpoutStatus::Active
            }
        }
    };
}

macro_rules! u64_count {
    ($topo:ident) => {
        /// Counts every key in a `FastMap`; adds its total to [`COUNTED`] at the end.
        #[derive(Default)]
        pub struct Count {
            counts: FastMap<u64, u64>,
        }

        impl Bolt for Count {
            type In = crate::$topo::Key;
            type Out = ();
            #[inline]
            fn execute(&mut self, k: Self::In, _: &mut impl Emitter<()>) -> ExecResult {
                *self.counts.entry(k.key).or_insert(0) += 1;
                Ok(())
            }
            fn finish(&mut self, _: &mut impl Emitter<()>) {
                COUNTED.fetch_add(self.counts.values().sum(), Relaxed);
            }
        }
    };
}

/// `kc_u64_p1`'s components.
pub mod kc_u64_p1 {
    use super::*;
    u64_keys!(kc_u64_p1, false);
    u64_count!(kc_u64_p1);
}

/// `kc_u64_p2`'s components.
pub mod kc_u64_p2 {
    use super::*;
    u64_keys!(kc_u64_p2, false);
    u64_count!(kc_u64_p2);
}

/// `kc_acked_p2`'s components: every record its own tree.
pub mod kc_acked_p2 {
    use super::*;
    u64_keys!(kc_acked_p2, true);
    u64_count!(kc_acked_p2);
}

/// `kc_emit_p2`'s components: the counter emits (key, count) per record.
pub mod kc_emit_p2 {
    use super::*;
    use crate::kc_emit_p2::KeyCount;
    u64_keys!(kc_emit_p2, false);

    /// Counts every key and emits its new count.
    #[derive(Default)]
    pub struct CountEmit {
        counts: FastMap<u64, u64>,
    }

    impl Bolt for CountEmit {
        type In = crate::kc_emit_p2::Key;
        type Out = KeyCount;
        #[inline]
        fn execute(&mut self, k: Self::In, out: &mut impl Emitter<KeyCount>) -> ExecResult {
            let c = self.counts.entry(k.key).or_insert(0);
            *c += 1;
            out.emit(KeyCount {
                key: k.key,
                count: *c,
            });
            Ok(())
        }
    }

    /// Counts the pairs (and sums their counts, so that nothing is optimized away).
    #[derive(Default)]
    pub struct Pairs {
        pairs: u64,
        sum: u64,
    }

    impl Bolt for Pairs {
        type In = KeyCount;
        type Out = ();
        #[inline]
        fn execute(&mut self, p: KeyCount, _: &mut impl Emitter<()>) -> ExecResult {
            self.pairs += 1;
            self.sum = self.sum.wrapping_add(p.count);
            Ok(())
        }
        fn finish(&mut self, _: &mut impl Emitter<()>) {
            black_box(self.sum);
            COUNTED.fetch_add(self.pairs, Relaxed);
        }
    }
}

macro_rules! str_ops {
    ($topo:ident, $text:ty) => {
        /// `$topo`'s components.
        pub mod $topo {
            use super::*;
            use crate::$topo::Word;

            /// Emits this task's share of [`RECORDS`] vocabulary words, each cloned.
            #[derive(Default)]
            pub struct Words {
                vocab: Vec<$text>,
                state: u64,
                left: u64,
            }

            impl Spout for Words {
                type Out = Word;
                fn open(&mut self, ctx: &TaskContext) {
                    self.vocab = vocabulary().into_iter().map(Into::into).collect();
                    self.state = seed(ctx.task_index() as u64);
                    self.left = RECORDS.load(Relaxed) / ctx.task_count() as u64;
                }
                #[inline]
                fn next_tuple(&mut self, out: &mut impl Emitter<Word>) -> SpoutStatus {
                    if self.left == 0 {
                        return SpoutStatus::Done;
                    }
                    self.left -= 1;
                    let i = (next(&mut self.state) % KEYS) as usize;
                    out.emit(Word {
                        word: self.vocab[i].clone(),
                    });
                    SpoutStatus::Active
                }
            }

            /// Counts every word in a `FastMap` (looked up by `&str`: no clone on a hit).
            #[derive(Default)]
            pub struct Count {
                counts: FastMap<$text, u64>,
            }

            impl Bolt for Count {
                type In = Word;
                type Out = ();
                #[inline]
                fn execute(&mut self, w: Word, _: &mut impl Emitter<()>) -> ExecResult {
                    match self.counts.get_mut(w.word.as_str()) {
                        Some(c) => *c += 1,
                        None => {
                            self.counts.insert(w.word, 1);
                        }
                    }
                    Ok(())
                }
                fn finish(&mut self, _: &mut impl Emitter<()>) {
                    COUNTED.fetch_add(self.counts.values().sum(), Relaxed);
                }
            }
        }
    };
}

str_ops!(kc_str_p1, String);
str_ops!(kc_str_p2, String);
str_ops!(kc_inline_p1, gale::Str);
str_ops!(kc_inline_p2, gale::Str);

/// The keyed count in one thread: the same keys, the same map.
fn loop_u64(records: u64) -> u64 {
    let mut counts: FastMap<u64, u64> = FastMap::default();
    let mut s = seed(0);
    for _ in 0..records {
        *counts.entry(next(&mut s) % KEYS).or_insert(0) += 1;
    }
    counts.values().sum()
}

/// The String-keyed count in one thread: a word cloned per record, as the spout does.
fn loop_str(records: u64, vocab: &[String]) -> u64 {
    let mut counts: FastMap<String, u64> = FastMap::default();
    let mut s = seed(0);
    for _ in 0..records {
        let w = black_box(vocab[(next(&mut s) % KEYS) as usize].clone());
        match counts.get_mut(w.as_str()) {
            Some(c) => *c += 1,
            None => {
                counts.insert(w, 1);
            }
        }
    }
    counts.values().sum()
}

/// The fastest of `runs` runs of `t`; checks every record counted once.
fn best_gale(runs: usize, t: fn() -> gale::Topology, records: u64) -> gale::Summary {
    let mut best: Option<gale::Summary> = None;
    for _ in 0..runs {
        RECORDS.store(records, Relaxed);
        COUNTED.store(0, Relaxed);
        let s = crate::run_summary(t());
        assert_eq!(COUNTED.load(Relaxed), records, "every record counted once");
        if best.as_ref().is_none_or(|b| s.elapsed < b.elapsed) {
            best = Some(s);
        }
    }
    best.unwrap_or_else(|| crate::run_summary(t()))
}

/// The timely-dataflow figure of `workload` on `workers` threads, records per second, if
/// `bench/timely` has been built (its binary checks its own counts).
fn timely(workload: &str, workers: u32, records: u64, runs: usize) -> Option<f64> {
    let bin = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/timely/target/release/timely-bench"
    );
    if !std::path::Path::new(bin).exists() {
        return None;
    }
    let out = Command::new(bin)
        .args(["--workload", workload])
        .args(["--workers", &workers.to_string()])
        .args(["--records", &records.to_string()])
        .args(["--runs", &runs.to_string()])
        .output()
        .ok()?;
    if !out.status.success() {
        eprintln!(
            "bench: timely-bench {workload} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        return None;
    }
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .find_map(|w| w.strip_prefix("records_per_sec="))
        .and_then(|v| v.parse().ok())
}

/// One table row: Gale beside timely and the loop.
fn row(name: &str, gale: f64, timely: Option<f64>, base: f64) {
    let (t, ratio) = match timely {
        Some(t) => (format!("{:.1}M", t / 1e6), format!("{:.2}x", gale / t)),
        None => ("not built".to_string(), "-".to_string()),
    };
    println!(
        "| {name} | {:.1}M | {t} | {ratio} | {:.1}M | {:.2}x |",
        gale / 1e6,
        base / 1e6,
        gale / base
    );
}

/// (f) the keyed count: u64 keys at parallelism 1 and 2, emitting per record, String keys
/// at parallelism 1 and 2, and with every record its own acked tree.
pub fn section(runs: usize) {
    // `--case u64-p2`: only the rows whose case is named so (`u64-p1`, `u64-p2`,
    // `emit-p2`, `string-p1`, `string-p2`, `inline-p1`, `inline-p2`, `acked-p2`), e.g. to profile one.
    let args: Vec<String> = std::env::args().collect();
    let case = args
        .iter()
        .position(|a| a == "--case")
        .and_then(|i| args.get(i + 1).cloned());
    let wants = |c: &str| case.as_deref().is_none_or(|w| w == c);
    let records = crate::arg("--keyed-records", 100_000_000);
    let rate = |d: Duration| records as f64 / d.as_secs_f64().max(1e-9);
    let base = crate::best_of(runs, || {
        let t = Instant::now();
        assert_eq!(black_box(loop_u64(black_box(records))), records);
        t.elapsed()
    });
    let base = rate(base);
    if !std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/timely/target/release/timely-bench"
    ))
    .exists()
    {
        println!(
            "\n(timely-dataflow not built: `cd bench/timely && cargo build --release` to put it beside)"
        );
    }
    println!(
        "\n| keyed count, 10,000 keys | gale tuples/s | timely 0.32 | gale / timely | loop (1 thread) | gale / loop |"
    );
    println!("|---|---:|---:|---:|---:|---:|");
    if wants("u64-p1") {
        let p1 = best_gale(runs, crate::kc_u64_p1::topology, records);
        row(
            "u64 keys, parallelism 1",
            rate(p1.elapsed),
            timely("u64", 1, records, runs),
            base,
        );
    }
    let p2 = (wants("u64-p2") || wants("acked-p2"))
        .then(|| best_gale(runs, crate::kc_u64_p2::topology, records));
    if let Some(p2) = &p2 {
        row(
            "u64 keys, parallelism 2",
            rate(p2.elapsed),
            timely("u64", 2, records, runs),
            base,
        );
    }
    if wants("emit-p2") {
        let emit = best_gale(runs, crate::kc_emit_p2::topology, records);
        row(
            "u64 keys, counter emits (key, count) per record, parallelism 2",
            rate(emit.elapsed),
            timely("u64-emit", 2, records, runs),
            base,
        );
    }

    let words = crate::arg("--keyed-string-records", 20_000_000);
    let vocab = vocabulary();
    let wrate = |d: Duration| words as f64 / d.as_secs_f64().max(1e-9);
    let sruns = if ["string-p1", "string-p2", "inline-p1", "inline-p2"]
        .iter()
        .any(|c| wants(c))
    {
        runs
    } else {
        0
    };
    let sbase = wrate(crate::best_of(sruns, || {
        let t = Instant::now();
        assert_eq!(black_box(loop_str(black_box(words), &vocab)), words);
        t.elapsed()
    }));
    for (p, kind, t) in [
        (
            1,
            "String",
            crate::kc_str_p1::topology as fn() -> gale::Topology,
        ),
        (2, "String", crate::kc_str_p2::topology),
        (1, "Str", crate::kc_inline_p1::topology),
        (2, "Str", crate::kc_inline_p2::topology),
    ] {
        let case = if kind == "Str" { "inline" } else { "string" };
        if !wants(&format!("{case}-p{p}")) {
            continue;
        }
        let s = best_gale(runs, t, words);
        row(
            &format!("{kind} keys (timely: String), parallelism {p}"),
            wrate(s.elapsed),
            timely("string", p, words, runs),
            sbase,
        );
        if kind == "Str" {
            // The same type on both sides: timely with compact_str's CompactString.
            row(
                &format!("Str keys (timely: CompactString), parallelism {p}"),
                wrate(s.elapsed),
                timely("string-inline", p, words, runs),
                sbase,
            );
        }
    }

    // Every record its own tree: against the untracked p2 figure above.
    let Some(p2) = p2.filter(|_| wants("acked-p2")) else {
        return;
    };
    let acked_records = crate::arg("--keyed-acked-records", 10_000_000);
    let mut best: Option<gale::Summary> = None;
    for _ in 0..runs {
        RECORDS.store(acked_records, Relaxed);
        COUNTED.store(0, Relaxed);
        let s = crate::run_summary(crate::kc_acked_p2::topology());
        assert_eq!(COUNTED.load(Relaxed), acked_records, "every record counted");
        let acked = s.component("keys").map_or(0, |c| c.acked);
        assert_eq!(acked, acked_records, "every record's tree acked");
        if best.as_ref().is_none_or(|b| s.elapsed < b.elapsed) {
            best = Some(s);
        }
    }
    if let Some(s) = best {
        let acked = acked_records as f64 / s.elapsed.as_secs_f64().max(1e-9);
        let untracked = rate(p2.elapsed);
        let ms = |d: Option<Duration>| d.map_or(f64::NAN, |d| d.as_secs_f64() * 1e3);
        let spout = s.component("keys");
        println!(
            "\n| at_least_once, every record its own tree, parallelism 2 | tuples/s | cost vs untracked |\n|---|---:|---:|\n| untracked (row above) | {:.1}M | 1.00x |\n| tracked | {:.1}M | {:.2}x |\n\ncomplete latency (emit → tree acked): p50 {:.2} ms, p99 {:.2} ms",
            untracked / 1e6,
            acked / 1e6,
            untracked / acked,
            ms(spout.and_then(|c| c.latency_p50)),
            ms(spout.and_then(|c| c.latency_p99)),
        );
    }
}
