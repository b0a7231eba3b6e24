//! `cargo run --release -p gale-bench --bin bench`: Gale's throughput benchmarks, each
//! beside a hand-written Rust loop doing the same work, measured in the same run.
//!
//! (a) a map → filter → map chain: fused (`none` edges) vs unfused (`shuffle`) vs a loop;
//! (b) word count (split → fields(word) → count) at parallelism 1 and 2 vs a loop, and at
//! parallelism 2 with acking on (`at_least_once`), with complete latency p50/p99.
//! (c) a 1 s tumbling event-time window counting per key (10,000 keys, the watermark
//! 100 ms behind) at parallelism 1 and 2 vs a loop doing the same aggregation.
//! (d) an interval join of two streams (10,000 keys, `b` within 1 s after `a`, the
//! watermark 100 ms behind) at parallelism 1 and 2 vs a loop doing the same join.
//! (e) checkpoints: a keyed count under `exactly_once` without checkpoints, every 10 s and
//! every 1 s, vs a loop; the checkpoints' duration, size and longest pause at 10,000 and
//! 10,000,000 keys.
//! (f) the keyed count of issue 13 (u64 and String keys, parallelism 1 and 2, acked)
//! beside timely-dataflow 0.32 (`bench/timely`, when built) and a loop.
//! Each figure is the best of `--runs` (default 5) runs, in tuples per second; `--only
//! join` runs one section (`chain`, `wordcount`, `window`, `join`, `checkpoint`, `keyed`).

mod keyed;
mod ops;
mod xorshift;

gale::include_topology!("fused_chain");
gale::include_topology!("unfused_chain");
gale::include_topology!("wc_p1");
gale::include_topology!("wc_p2");
gale::include_topology!("wc_p2_acked");
gale::include_topology!("win_p1");
gale::include_topology!("win_p2");
gale::include_topology!("join_p1");
gale::include_topology!("join_p2");
gale::include_topology!("ck_1s");
gale::include_topology!("ck_10s");
gale::include_topology!("kc_u64_p1");
gale::include_topology!("kc_u64_p2");
gale::include_topology!("kc_emit_p2");
gale::include_topology!("kc_str_p1");
gale::include_topology!("kc_str_p2");
gale::include_topology!("kc_inline_p1");
gale::include_topology!("kc_inline_p2");
gale::include_topology!("kc_acked_p2");

use ops::*;
use std::hint::black_box;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

fn best_of(runs: usize, mut f: impl FnMut() -> Duration) -> Duration {
    (0..runs).map(|_| f()).min().unwrap_or_default()
}

fn rate(n: u64, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64().max(1e-9)
}

fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn run(t: gale::Topology) -> Duration {
    run_summary(t).elapsed
}

fn run_summary(t: gale::Topology) -> gale::Summary {
    match gale::run_local(t, gale::RunOptions::default()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("bench: topology failed: {e}");
            std::process::exit(1);
        }
    }
}

fn chain_loop(n: u64) -> u64 {
    let mut sum = 0u64;
    for i in 0..n {
        let x = add_one_n(black_box(i));
        if x.is_multiple_of(2) {
            sum = sum.wrapping_add(x * 3);
        }
    }
    sum
}

fn wc_loop(pool: &[String], sentences: u64) -> u64 {
    let mut counts: gale::FastMap<String, u64> = Default::default();
    let mut words = 0;
    let mut next = 0;
    for _ in 0..sentences {
        next = (next + 1) % pool.len();
        let s = black_box(pool[next].clone());
        for w in s.split(' ') {
            *counts.entry(w.to_string()).or_insert(0) += 1;
            words += 1;
        }
    }
    black_box(&counts);
    words
}

/// The same aggregation by hand: per 1 s window, a count per key, emitted when the
/// watermark (100 ms behind the largest timestamp) passes the window's end. Returns the
/// events counted and the results emitted.
fn window_loop(n: u64) -> (u64, u64) {
    let mut open: std::collections::BTreeMap<u64, gale::FastMap<u64, u64>> = Default::default();
    let (mut counted, mut results) = (0u64, 0u64);
    let mut max = 0u64;
    for i in 0..n {
        let (key, at) = black_box(window_event(i));
        let start = at - at % 1000;
        *open.entry(start).or_default().entry(key).or_insert(0) += 1;
        max = max.max(at);
        let wm = max.saturating_sub(101);
        while let Some(entry) = open.first_entry() {
            if *entry.key() + 999 > wm {
                break;
            }
            for (_, c) in entry.remove() {
                counted += c;
                results += 1;
            }
        }
    }
    for (_, w) in open {
        for (_, c) in w {
            counted += c;
            results += 1;
        }
    }
    (counted, results)
}

/// The same join by hand: per key, each side's elements in time order; an element pairs
/// with those of the other side within the bound as it comes (the two sides interleaved in
/// time order), and elements no future one can meet are dropped as the watermark (100 ms
/// behind) passes them. Returns the pairs and the sum of their `b - a`.
fn join_loop(n: u64) -> (u64, u64) {
    use std::collections::VecDeque;
    let mut keys: gale::FastMap<u64, (VecDeque<u64>, VecDeque<u64>)> = Default::default();
    let (mut pairs, mut gaps) = (0u64, 0u64);
    for j in 0..2 * n {
        let (side, i) = (j % 2, j / 2);
        let (key, at) = black_box(join_event(side, i));
        let wm = at.saturating_sub(101);
        let (lefts, rights) = keys.entry(key).or_default();
        while lefts.front().is_some_and(|&a| a + JOIN_WITHIN_MS <= wm) {
            lefts.pop_front();
        }
        while rights.front().is_some_and(|&b| b <= wm) {
            rights.pop_front();
        }
        if side == 0 {
            for &b in rights
                .iter()
                .filter(|&&b| at <= b && b <= at + JOIN_WITHIN_MS)
            {
                pairs += 1;
                gaps += black_box(b - at);
            }
            lefts.push_back(at);
        } else {
            for &a in lefts
                .iter()
                .filter(|&&a| a <= at && at <= a + JOIN_WITHIN_MS)
            {
                pairs += 1;
                gaps += black_box(at - a);
            }
            rights.push_back(at);
        }
    }
    (pairs, gaps)
}

fn main() {
    let runs = arg("--runs", 5) as usize;
    let n = arg("--tuples", 20_000_000);
    let sentences = arg("--sentences", 1_000_000);
    // `--only join`: one section (`chain`, `wordcount`, `window` or `join`).
    let args: Vec<String> = std::env::args().collect();
    let only = args
        .iter()
        .position(|a| a == "--only")
        .and_then(|i| args.get(i + 1).cloned());
    let wants = |section: &str| only.as_deref().is_none_or(|o| o == section);
    println!("| benchmark | tuples/s | vs hand-written loop |");
    println!("|---|---:|---:|");

    if wants("chain") {
        // (a) chain
        CHAIN_TUPLES.store(n, Relaxed);
        let expected = chain_loop(n);
        let base = best_of(runs, || {
            let t = Instant::now();
            black_box(chain_loop(black_box(n)));
            t.elapsed()
        });
        let fused = best_of(runs, || {
            CHAIN_SUM.store(0, Relaxed);
            let d = run(fused_chain::topology());
            assert_eq!(CHAIN_SUM.load(Relaxed), expected, "fused chain result");
            d
        });
        let small = n / 10;
        CHAIN_TUPLES.store(small, Relaxed);
        let expected_small = chain_loop(small);
        let unfused = best_of(runs, || {
            CHAIN_SUM.store(0, Relaxed);
            let d = run(unfused_chain::topology());
            assert_eq!(
                CHAIN_SUM.load(Relaxed),
                expected_small,
                "unfused chain result"
            );
            d
        });
        let b = rate(n, base);
        println!("| chain: hand-written loop | {:.1}M | 1.00x |", b / 1e6);
        println!(
            "| chain: gale fused (`none`) | {:.1}M | {:.2}x |",
            rate(n, fused) / 1e6,
            rate(n, fused) / b
        );
        println!(
            "| chain: gale unfused (`shuffle`, 5 tasks) | {:.1}M | {:.2}x |",
            rate(small, unfused) / 1e6,
            rate(small, unfused) / b
        );
    }
    if wants("wordcount") {
        // (b) word count, in words (tuples into `count`) per second
        SENTENCES.store(sentences, Relaxed);
        let pool = sentence_pool();
        let words = sentences * 10;
        let base = best_of(runs, || {
            let t = Instant::now();
            assert_eq!(wc_loop(&pool, sentences), words);
            t.elapsed()
        });
        let p1 = best_of(runs, || {
            WORDS_COUNTED.store(0, Relaxed);
            let d = run(wc_p1::topology());
            assert_eq!(WORDS_COUNTED.load(Relaxed), words, "word count p1");
            d
        });
        let p2 = best_of(runs, || {
            WORDS_COUNTED.store(0, Relaxed);
            let d = run(wc_p2::topology());
            assert_eq!(WORDS_COUNTED.load(Relaxed), words, "word count p2");
            d
        });
        let b = rate(words, base);
        println!(
            "| word count: hand-written loop (1 thread) | {:.1}M | 1.00x |",
            b / 1e6
        );
        println!(
            "| word count: gale parallelism 1 | {:.1}M | {:.2}x |",
            rate(words, p1) / 1e6,
            rate(words, p1) / b
        );
        println!(
            "| word count: gale parallelism 2 | {:.1}M | {:.2}x |",
            rate(words, p2) / 1e6,
            rate(words, p2) / b
        );

        // (b') the same with acking: best throughput, and the latencies of that run
        let mut best: Option<gale::Summary> = None;
        for _ in 0..runs {
            WORDS_COUNTED.store(0, Relaxed);
            let s = run_summary(wc_p2_acked::topology());
            assert_eq!(WORDS_COUNTED.load(Relaxed), words, "word count acked");
            let acked = s.component("sentences").map_or(0, |c| c.acked);
            assert_eq!(acked, sentences, "every sentence tree acked");
            if best.as_ref().is_none_or(|b| s.elapsed < b.elapsed) {
                best = Some(s);
            }
        }
        if let Some(s) = best {
            let spout = s.component("sentences");
            let ms = |d: Option<Duration>| d.map_or(f64::NAN, |d| d.as_secs_f64() * 1e3);
            println!(
                "| word count: gale parallelism 2, acking on | {:.1}M | {:.2}x |",
                rate(words, s.elapsed) / 1e6,
                rate(words, s.elapsed) / b
            );
            println!(
                "\ncomplete latency with acking (emit → tree acked): p50 {:.2} ms, p99 {:.2} ms",
                ms(spout.and_then(|c| c.latency_p50)),
                ms(spout.and_then(|c| c.latency_p99))
            );
        }
    }
    if wants("window") {
        // (c) event-time windows
        let events = arg("--events", 20_000_000);
        WINDOW_EVENTS.store(events, Relaxed);
        let (counted, results) = window_loop(events);
        assert_eq!(counted, events);
        let base = best_of(runs, || {
            let t = Instant::now();
            black_box(window_loop(black_box(events)));
            t.elapsed()
        });
        let window = |t: fn() -> gale::Topology, name: &str| {
            best_of(runs, || {
                WINDOW_COUNTED.store(0, Relaxed);
                WINDOW_RESULTS.store(0, Relaxed);
                let d = run(t());
                assert_eq!(
                    WINDOW_COUNTED.load(Relaxed),
                    events,
                    "{name}: every event counted once"
                );
                assert_eq!(
                    WINDOW_RESULTS.load(Relaxed),
                    results,
                    "{name}: one result per key and window"
                );
                d
            })
        };
        let p1 = window(win_p1::topology, "window p1");
        let p2 = window(win_p2::topology, "window p2");
        let b = rate(events, base);
        println!(
            "| 1 s tumbling window count, 10,000 keys: hand-written loop | {:.1}M | 1.00x |",
            b / 1e6
        );
        println!(
            "| 1 s tumbling window count: gale parallelism 1 | {:.1}M | {:.2}x |",
            rate(events, p1) / 1e6,
            rate(events, p1) / b
        );
        println!(
            "| 1 s tumbling window count: gale parallelism 2 | {:.1}M | {:.2}x |",
            rate(events, p2) / 1e6,
            rate(events, p2) / b
        );
    }
    if wants("join") {
        // (d) the interval join, in elements (both sides) per second
        let per_side = arg("--join-events", 5_000_000);
        JOIN_EVENTS.store(per_side, Relaxed);
        let (pairs, gaps) = join_loop(per_side);
        let base = best_of(runs, || {
            let t = Instant::now();
            black_box(join_loop(black_box(per_side)));
            t.elapsed()
        });
        let join = |t: fn() -> gale::Topology, name: &str| {
            best_of(runs, || {
                JOIN_PAIRS.store(0, Relaxed);
                JOIN_GAPS.store(0, Relaxed);
                let d = run(t());
                assert_eq!(JOIN_PAIRS.load(Relaxed), pairs, "{name}: every pair once");
                assert_eq!(JOIN_GAPS.load(Relaxed), gaps, "{name}: the right pairs");
                d
            })
        };
        let p1 = join(join_p1::topology, "join p1");
        let p2 = join(join_p2::topology, "join p2");
        let elements = 2 * per_side;
        let b = rate(elements, base);
        println!(
            "| interval join, 10,000 keys ({pairs} pairs): hand-written loop | {:.1}M | 1.00x |",
            b / 1e6
        );
        println!(
            "| interval join: gale parallelism 1 | {:.1}M | {:.2}x |",
            rate(elements, p1) / 1e6,
            rate(elements, p1) / b
        );
        println!(
            "| interval join: gale parallelism 2 | {:.1}M | {:.2}x |",
            rate(elements, p2) / 1e6,
            rate(elements, p2) / b
        );
    }
    if wants("checkpoint") {
        checkpoint_section(runs);
    }
    if wants("keyed") {
        keyed::section(runs);
    }
}

/// A keyed count with every key's count in `process(T)` state, `n` tuples over `keys`
/// keys, by a plain loop over a hash map.
fn ck_loop(n: u64, keys: u64) -> u64 {
    let mut counts: gale::FastMap<u64, u64> = gale::FastMap::default();
    for i in 0..n {
        *counts.entry(ck_key(i, keys)).or_insert(0) += 1;
    }
    counts.values().sum()
}

/// Runs `t` with checkpoints under a fresh directory (`None`: without checkpoints);
/// checks that every tuple was counted once.
fn run_ck(t: gale::Topology, n: u64, checkpoints: bool) -> gale::Summary {
    let dir = std::env::temp_dir().join(format!("gale-bench-ck-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    CK_COUNTED.store(0, Relaxed);
    let options = gale::RunOptions {
        checkpoint_dir: checkpoints.then(|| dir.clone()),
        ..Default::default()
    };
    let s = match gale::run_local(t, options) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("bench: topology failed: {e}");
            std::process::exit(1);
        }
    };
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(CK_COUNTED.load(Relaxed), n, "every tuple counted once");
    s
}

/// The fastest of `runs` runs of `t`, with its summary.
fn best_ck(runs: usize, t: fn() -> gale::Topology, n: u64, checkpoints: bool) -> gale::Summary {
    let mut best: Option<gale::Summary> = None;
    for _ in 0..runs {
        let s = run_ck(t(), n, checkpoints);
        if best.as_ref().is_none_or(|b| s.elapsed < b.elapsed) {
            best = Some(s);
        }
    }
    best.unwrap_or_else(|| run_ck(t(), n, checkpoints))
}

/// What a run's checkpoints cost: how many, the longest from trigger to durable, the
/// largest, and the longest pause of a task.
fn ck_costs(s: &gale::Summary) -> String {
    let c = &s.checkpoints;
    let most = |f: fn(&gale::checkpoint::Completed) -> u64| c.iter().map(f).max().unwrap_or(0);
    format!(
        "{} checkpoints, the longest {} ms, the largest {:.1} MB, the longest pause {:.2} ms",
        c.len(),
        most(|c| c.duration_ms),
        most(|c| c.bytes) as f64 / 1e6,
        most(|c| c.pause_us) as f64 / 1e3
    )
}

/// (e) checkpoints: a keyed count (10,000 keys) without checkpoints, every 10 s and every
/// 1 s, beside a loop; then the size and duration of the checkpoints at 10,000 and
/// 10,000,000 keys, and the longest pause a snapshot causes.
fn checkpoint_section(runs: usize) {
    let n = arg("--ck-tuples", 100_000_000);
    CK_TUPLES.store(n, Relaxed);
    CK_KEYS.store(10_000, Relaxed);
    let base = best_of(runs, || {
        let t = Instant::now();
        assert_eq!(black_box(ck_loop(black_box(n), 10_000)), n);
        t.elapsed()
    });
    let off = best_ck(runs, ck_1s::topology, n, false);
    let every10 = best_ck(runs, ck_10s::topology, n, true);
    let every1 = best_ck(runs, ck_1s::topology, n, true);
    let b = rate(n, base);
    let o = rate(n, off.elapsed);
    println!(
        "| keyed count, 10,000 keys: hand-written loop (1 thread) | {:.1}M | 1.00x |",
        b / 1e6
    );
    for (name, s) in [
        ("checkpoints off", &off),
        ("checkpoints every 10 s", &every10),
        ("checkpoints every 1 s", &every1),
    ] {
        let r = rate(n, s.elapsed);
        println!(
            "| keyed count, gale parallelism 2, {name} ({}) | {:.1}M | {:.2}x (vs off {:+.1}%) |",
            ck_costs(s),
            r / 1e6,
            r / b,
            (r / o - 1.0) * 100.0
        );
    }
    // Large state: 10,000,000 keys, three tuples each.
    let keys = arg("--ck-keys", 10_000_000);
    let big = keys * 3;
    CK_TUPLES.store(big, Relaxed);
    CK_KEYS.store(keys, Relaxed);
    let s = run_ck(ck_1s::topology(), big, true);
    println!(
        "| keyed count, {keys} keys, checkpoints every 1 s ({}) | {:.1}M | - |",
        ck_costs(&s),
        rate(big, s.elapsed) / 1e6
    );
}
