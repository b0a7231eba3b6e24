//! `timely-bench`: a keyed-count baseline on timely-dataflow.
//!
//! Gale's benchmark binary (`bench --only keyed`) spawns this program as a
//! subprocess, so the command line and the single stdout line are a contract:
//!
//! ```text
//! timely-bench [--workload u64|u64-emit|string|string-inline] [--workers N] [--records N] [--runs R]
//! timely-bench workload=<w> workers=<n> records=<N> best_secs=<f64> records_per_sec=<f64>
//! ```
//!
//! The workload is defined identically on the Gale side: the same key hasher,
//! the same xorshift64 key generator and seeds, the same 10 000 keys.
//! Diagnostics go to stderr; the exit code is 0 only when every run's check
//! passed (and then the result line is printed).

use std::cell::RefCell;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hash, Hasher};
use std::process::ExitCode;
use std::rc::Rc;
use std::time::Instant;

use compact_str::CompactString;
use timely::container::CapacityContainerBuilder;
use timely::dataflow::channels::pact::{Exchange, Pipeline};
use timely::dataflow::operators::Operator;
use timely::dataflow::operators::generic::operator::source;
use timely::dataflow::{Scope, Stream};
use timely::worker::Worker;

/// Number of distinct keys in every workload.
const KEYS: u64 = 10_000;

/// Default `--records`.
const DEFAULT_RECORDS: u64 = 100_000_000;

/// Default `--runs`.
const DEFAULT_RUNS: u32 = 3;

/// Records the source gives per activation before yielding back to the
/// scheduler. Within one activation the records go through a single output
/// session, whose default container builder cuts them into timely's usual
/// 8 KiB containers (1024 `u64`s, 341 `String`s or `CompactString`s), so
/// downstream operators see ordinary batches; 16 Ki records per activation
/// amortises the per-activation scheduling cost while keeping what is in
/// flight small (128 KiB of `u64`s).
const RECORDS_PER_ACTIVATION: u64 = 16 * 1024;

/// Multiplier of the key hasher's word mixing step.
const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

/// Gale's `gale::FastMap` hasher, copied verbatim so that exchange routing
/// and the count maps cost the same here as in Gale.
#[derive(Default, Clone, Copy)]
pub struct KeyHasher {
    /// Running state, finalised by [`Hasher::finish`].
    hash: u64,
}

impl KeyHasher {
    /// Mixes one 64-bit word into the state.
    #[inline]
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for KeyHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.add(u64::from_le_bytes(w));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(w));
        }
    }
    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(i as u64)
    }
    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.add(i as u64)
    }
    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.add(i)
    }
    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64)
    }
    #[inline]
    fn finish(&self) -> u64 {
        let mut h = self.hash;
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        h ^ (h >> 33)
    }
}

/// Hashes a key with [`KeyHasher`]; used for exchange routing.
pub fn hash_key<K: Hash + ?Sized>(k: &K) -> u64 {
    let mut h = KeyHasher::default();
    k.hash(&mut h);
    h.finish()
}

/// The per-worker count map, as in Gale (`gale::FastMap`).
type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<KeyHasher>>;

/// The xorshift64 seed of worker `w`.
fn seed(w: u64) -> u64 {
    0x2545_F491_4F6C_DD1D ^ (w + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// One xorshift64 step.
#[inline]
fn next(s: &mut u64) -> u64 {
    let mut x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *s = x;
    x
}

/// Which keyed-count variant to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Workload {
    /// `u64` keys, counted, nothing emitted.
    U64,
    /// `u64` keys, counted, `(key, new_count)` emitted per record to a
    /// downstream operator on the same worker.
    U64Emit,
    /// `String` keys cloned from a vocabulary, counted, nothing emitted.
    String,
    /// As [`Workload::String`], with `CompactString` keys (Gale's inline
    /// `Str`): the 8-byte words are stored inline, so cloning one does not
    /// allocate.
    StringInline,
}

impl Workload {
    /// The name used on the command line and in the result line.
    fn name(self) -> &'static str {
        match self {
            Workload::U64 => "u64",
            Workload::U64Emit => "u64-emit",
            Workload::String => "string",
            Workload::StringInline => "string-inline",
        }
    }

    /// Parses a `--workload` value.
    fn parse(s: &str) -> Result<Self, String> {
        match s {
            "u64" => Ok(Workload::U64),
            "u64-emit" => Ok(Workload::U64Emit),
            "string" => Ok(Workload::String),
            "string-inline" => Ok(Workload::StringInline),
            other => Err(format!(
                "unknown --workload {other:?} (expected u64, u64-emit, string or string-inline)"
            )),
        }
    }
}

/// Parsed command line.
#[derive(Clone, Copy, Debug)]
struct Args {
    /// `--workload`.
    workload: Workload,
    /// `--workers`: timely worker threads in this process.
    workers: usize,
    /// `--records`: total records over all workers.
    records: u64,
    /// `--runs`: repetitions; the fastest is reported.
    runs: u32,
}

/// Usage text for `--help` and argument errors.
const USAGE: &str = "usage: timely-bench [--workload u64|u64-emit|string|string-inline] \
[--workers N] [--records N] [--runs R]
  --workload  keyed-count variant (default u64)
  --workers   timely worker threads, e.g. 1 or 2 (default 1)
  --records   total records, divisible by --workers (default 100000000)
  --runs      repetitions; the fastest is reported (default 3)";

/// Parses a positive integer flag value; `_` separators are allowed.
fn parse_positive<T: std::str::FromStr + PartialEq + Default>(
    flag: &str,
    value: &str,
) -> Result<T, String> {
    let cleaned: String = value.chars().filter(|&c| c != '_').collect();
    match cleaned.parse::<T>() {
        Ok(v) if v != T::default() => Ok(v),
        Ok(_) => Err(format!("{flag} must be at least 1, got {value:?}")),
        Err(_) => Err(format!("{flag} expects a positive integer, got {value:?}")),
    }
}

/// Parses the command line (without the program name). `Ok(None)` means
/// `--help` was asked for.
fn parse_args(mut argv: impl Iterator<Item = String>) -> Result<Option<Args>, String> {
    let mut args = Args {
        workload: Workload::U64,
        workers: 1,
        records: DEFAULT_RECORDS,
        runs: DEFAULT_RUNS,
    };
    while let Some(arg) = argv.next() {
        if arg == "-h" || arg == "--help" {
            return Ok(None);
        }
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        if !matches!(
            flag.as_str(),
            "--workload" | "--workers" | "--records" | "--runs"
        ) {
            return Err(format!("unknown argument {arg:?}"));
        }
        let value = match inline {
            Some(v) => v,
            None => argv.next().ok_or_else(|| format!("{flag} needs a value"))?,
        };
        match flag.as_str() {
            "--workload" => args.workload = Workload::parse(&value)?,
            "--workers" => args.workers = parse_positive(&flag, &value)?,
            "--records" => args.records = parse_positive(&flag, &value)?,
            _ => args.runs = parse_positive(&flag, &value)?,
        }
    }
    if !args.records.is_multiple_of(args.workers as u64) {
        return Err(format!(
            "--records {} is not divisible by --workers {}",
            args.records, args.workers
        ));
    }
    Ok(Some(args))
}

/// What one worker observed, checked after the run.
#[derive(Clone, Copy, Debug, Default)]
struct WorkerResult {
    /// Sum of the counts in this worker's count map.
    counted: u64,
    /// `(key, count)` pairs received downstream (`u64-emit` only).
    pairs: u64,
    /// Wrapping sum of the emitted counts (`u64-emit` only), so the
    /// downstream work cannot be optimised away.
    checksum: u64,
}

/// A source giving `records` keys drawn from `next_key`, all at timestamp 0.
///
/// Timestamps: the source holds one capability for time 0 and never advances
/// it; it drops the capability after its last record, which completes the
/// dataflow. That is the fastest choice for timely (no per-batch progress
/// traffic or exchange flushes on time changes) while staying a streaming
/// dataflow: the operators downstream never wait on the frontier, they count
/// each container as it arrives, and the source yields after every
/// [`RECORDS_PER_ACTIVATION`] records, so data flows through the whole
/// dataflow while it is being produced instead of being materialised first.
fn keyed_source<'scope, K: timely::ExchangeData>(
    scope: Scope<'scope, u64>,
    records: u64,
    mut next_key: impl FnMut() -> K + 'static,
) -> Stream<'scope, u64, Vec<K>> {
    source::<_, CapacityContainerBuilder<Vec<K>>, _, _>(scope, "Source", move |cap, info| {
        let activator = scope.activator_for(info.address);
        let mut cap = Some(cap);
        let mut remaining = records;
        move |output| {
            if let Some(c) = cap.as_ref() {
                let n = remaining.min(RECORDS_PER_ACTIVATION);
                {
                    let mut session = output.session(c);
                    for _ in 0..n {
                        session.give(next_key());
                    }
                }
                remaining -= n;
                if remaining == 0 {
                    cap = None;
                } else {
                    activator.activate();
                }
            }
        }
    })
}

/// Steps the worker until its dataflows have completed.
fn run_to_completion(worker: &mut Worker) {
    while worker.has_dataflows() {
        worker.step_or_park(None);
    }
}

/// Sums the counts of a count map.
fn total<K>(counts: &RefCell<FastMap<K, u64>>) -> u64 {
    counts.borrow().values().sum()
}

/// Builds and runs one worker's dataflow for `workload`, producing
/// `per_worker` records.
fn run_worker(worker: &mut Worker, workload: Workload, per_worker: u64) -> WorkerResult {
    let mut state = seed(worker.index() as u64);
    match workload {
        Workload::U64 => {
            let counts = Rc::new(RefCell::new(FastMap::<u64, u64>::default()));
            let sink_counts = Rc::clone(&counts);
            worker.dataflow::<u64, _, _>(|scope| {
                keyed_source(scope, per_worker, move || next(&mut state) % KEYS).sink(
                    Exchange::new(|k: &u64| hash_key(k)),
                    "Count",
                    move |(input, _frontier)| {
                        let mut counts = sink_counts.borrow_mut();
                        input.for_each(|_cap, data| {
                            for &k in data.iter() {
                                *counts.entry(k).or_insert(0) += 1;
                            }
                        });
                    },
                );
            });
            run_to_completion(worker);
            WorkerResult {
                counted: total(&counts),
                ..WorkerResult::default()
            }
        }
        Workload::U64Emit => {
            let counts = Rc::new(RefCell::new(FastMap::<u64, u64>::default()));
            let op_counts = Rc::clone(&counts);
            let seen = Rc::new(RefCell::new((0u64, 0u64)));
            let sink_seen = Rc::clone(&seen);
            worker.dataflow::<u64, _, _>(|scope| {
                keyed_source(scope, per_worker, move || next(&mut state) % KEYS)
                    .unary::<CapacityContainerBuilder<Vec<(u64, u64)>>, _, _, _>(
                        Exchange::new(|k: &u64| hash_key(k)),
                        "CountEmit",
                        move |_cap, _info| {
                            move |input, output| {
                                let mut counts = op_counts.borrow_mut();
                                input.for_each(|cap, data| {
                                    let mut session = output.session(&cap);
                                    for &k in data.iter() {
                                        let c = counts.entry(k).or_insert(0);
                                        *c += 1;
                                        session.give((k, *c));
                                    }
                                });
                            }
                        },
                    )
                    .sink(Pipeline, "Consume", move |(input, _frontier)| {
                        let mut seen = sink_seen.borrow_mut();
                        input.for_each(|_cap, data| {
                            seen.0 += data.len() as u64;
                            for &(_, c) in data.iter() {
                                seen.1 = seen.1.wrapping_add(c);
                            }
                        });
                    });
            });
            run_to_completion(worker);
            let (pairs, checksum) = *seen.borrow();
            WorkerResult {
                counted: total(&counts),
                pairs,
                checksum,
            }
        }
        Workload::String => run_text::<String>(worker, per_worker, state),
        Workload::StringInline => run_text::<CompactString>(worker, per_worker, state),
    }
}

/// The text-keyed workloads (`string`, `string-inline`) for key type `K`:
/// records cloned from a 10 000-word vocabulary, exchanged by the hash of
/// their `str`, counted in a map looked up by `&str` that takes ownership of
/// the record on a miss. `AsRef<str>` gives the `&str`; `Borrow<str>` (not
/// imported, so that it does not shadow `RefCell::borrow` through `Rc`) lets
/// the map be looked up by it.
fn run_text<K>(worker: &mut Worker, per_worker: u64, mut state: u64) -> WorkerResult
where
    K: timely::ExchangeData
        + Clone
        + Eq
        + Hash
        + std::borrow::Borrow<str>
        + AsRef<str>
        + From<String>,
{
    let vocab: Vec<K> = (0..KEYS).map(|i| K::from(format!("word{i:04}"))).collect();
    let counts = Rc::new(RefCell::new(FastMap::<K, u64>::default()));
    let sink_counts = Rc::clone(&counts);
    worker.dataflow::<u64, _, _>(|scope| {
        keyed_source(scope, per_worker, move || {
            vocab[(next(&mut state) % KEYS) as usize].clone()
        })
        .sink(
            Exchange::new(|s: &K| hash_key(s.as_ref())),
            "Count",
            move |(input, _frontier)| {
                let mut counts = sink_counts.borrow_mut();
                input.for_each(|_cap, data| {
                    for s in data.drain(..) {
                        if let Some(c) = counts.get_mut(s.as_ref()) {
                            *c += 1;
                        } else {
                            counts.insert(s, 1);
                        }
                    }
                });
            },
        );
    });
    run_to_completion(worker);
    WorkerResult {
        counted: total(&counts),
        ..WorkerResult::default()
    }
}

/// Runs the whole computation once and checks it; returns the elapsed
/// seconds, measured from before `timely::execute` to after its guards are
/// joined.
fn run_once(args: Args) -> Result<f64, String> {
    let Args {
        workload,
        workers,
        records,
        ..
    } = args;
    let per_worker = records / workers as u64;
    let start = Instant::now();
    let guards = timely::execute(timely::Config::process(workers), move |worker| {
        run_worker(worker, workload, per_worker)
    })
    .map_err(|e| format!("timely::execute failed: {e}"))?;
    let results = guards.join();
    let secs = start.elapsed().as_secs_f64();

    let mut sum = WorkerResult::default();
    for (index, result) in results.into_iter().enumerate() {
        let r = result.map_err(|e| format!("worker {index} failed: {e}"))?;
        sum.counted += r.counted;
        sum.pairs += r.pairs;
        sum.checksum = sum.checksum.wrapping_add(r.checksum);
    }
    if sum.counted != records {
        return Err(format!(
            "check failed: counts sum to {} but {records} records were produced",
            sum.counted
        ));
    }
    if workload == Workload::U64Emit {
        if sum.pairs != records {
            return Err(format!(
                "check failed: {} (key, count) pairs arrived downstream, expected {records}",
                sum.pairs
            ));
        }
        eprintln!("  downstream pairs={} checksum={}", sum.pairs, sum.checksum);
    }
    Ok(secs)
}

fn main() -> ExitCode {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(Some(args)) => args,
        Ok(None) => {
            eprintln!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("timely-bench: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    eprintln!(
        "timely-bench: workload={} workers={} records={} runs={}",
        args.workload.name(),
        args.workers,
        args.records,
        args.runs
    );

    let mut best = f64::INFINITY;
    for run in 1..=args.runs {
        match run_once(args) {
            Ok(secs) => {
                eprintln!(
                    "  run {run}/{}: {secs:.3} s, {:.0} records/s",
                    args.runs,
                    args.records as f64 / secs
                );
                best = best.min(secs);
            }
            Err(e) => {
                eprintln!("timely-bench: run {run}/{}: {e}", args.runs);
                return ExitCode::FAILURE;
            }
        }
    }
    println!(
        "timely-bench workload={} workers={} records={} best_secs={best:.6} records_per_sec={:.1}",
        args.workload.name(),
        args.workers,
        args.records,
        args.records as f64 / best
    );
    ExitCode::SUCCESS
}
