//! The cluster target of issue 13: the keyed count (`kc_cluster`: u64 keys from xorshift64,
//! 10,000 distinct, two spout tasks, `fields(key)` into two counting tasks) in local mode
//! (one process) and on two worker processes of a cluster on 127.0.0.1, in one run, on the
//! same cores; steady-state throughput of both, their ratio, and the latency from emit to
//! counted.
//!
//! ```text
//! cargo build --release -p gale -p gale-bench --bins
//! ./target/release/cluster_bench [--secs 26]
//! ```
//!
//! 1. `kc_cluster run --set secs=S --set out_dir=D/local` (local mode).
//! 2. `gale nimbus` and one `gale supervisor` with two slots on 127.0.0.1 (with a
//!    `GALE_SECRET`), then `kc_cluster submit --workers 2 --set secs=S --set
//!    out_dir=D/cluster`; nimbus's even scheduler deals the executors round-robin over the
//!    two workers (spout task 0 and count task 0 on worker 0, spout task 1 and count task 1
//!    on worker 1), so about half the tuples cross workers. The driver polls `gale list`
//!    until the topology is `finished`, prints the placement it listed mid-run, and stops
//!    the daemons.
//! 3. Reads the tasks' files (see `kc_cluster_ops`) and prints a markdown table.
//!
//! **Steady state**: every counting task counts the tuples it received per second of wall
//! time since its own first tuple. The per-second counts are summed over the counting tasks
//! (second `i` of one beside second `i` of the other), and the steady-state rate is the sum
//! from second 5 to the second before the last, divided by that many seconds: the first 5 s
//! (process start, warm-up, the data plane's connections) and the last, partial second
//! are left out. With `--secs S` that is about `S - 6` seconds; the default (26) gives 20.
//!
//! **Latency**: one tuple in 1024 carries its emit time (wall-clock micros); the counter
//! records `now - sent_us` for it. Both processes are on one machine, so the clocks agree.
//! The spouts run flat out, so this is the latency of a saturated pipeline: mostly the time
//! a tuple waits in full batches and queues (backpressure), not the bare hop. The counter
//! does not know whether a tuple crossed workers: in the cluster about half of them did.
//!
//! **Check**: every spout task writes how many tuples it emitted; the run fails unless the
//! counters counted exactly that many, in both modes.
//!
//! Every child process (the local run, nimbus, the supervisor, and the workers it started,
//! found by their `--nimbus` URL) is killed with `kill -9` and the temporary directory
//! removed when the driver returns, on success or error. (Ctrl-C in a terminal reaches the
//! children through the process group; the temporary directory then stays.)

use std::fmt::Write as _;
use std::fs;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

/// The run's length by default: 20 s of steady state (seconds 5 to 24).
const DEFAULT_SECS: u64 = 26;
/// Seconds left out at the start of a run.
const WARMUP_SECS: usize = 5;
/// The secret of the benchmark's cluster.
const SECRET: &str = "cluster-bench-secret";

/// The command line.
struct Args {
    /// How long the spouts run, in seconds.
    secs: u64,
}

/// Parses `--secs N`.
fn args() -> Result<Args, String> {
    let mut a = Args { secs: DEFAULT_SECS };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        match flag.as_str() {
            "--secs" => {
                let v = it.next().ok_or("--secs needs a value")?;
                a.secs = v
                    .parse()
                    .map_err(|_| format!("--secs {v}: not a number of seconds"))?;
            }
            "-h" | "--help" => {
                println!(
                    "cluster_bench [--secs N]: the keyed count in local mode and on 2 worker \
                     processes (default {DEFAULT_SECS} s each)"
                );
                std::process::exit(0);
            }
            _ => return Err(format!("unknown argument {flag} (try --help)")),
        }
    }
    if (a.secs as usize) < WARMUP_SECS + 2 {
        return Err(format!(
            "--secs {}: at least {} s are needed for a steady state",
            a.secs,
            WARMUP_SECS + 2
        ));
    }
    Ok(a)
}

/// A child process, killed (`kill -9`) and reaped when dropped.
struct ChildGuard {
    /// The process.
    child: Child,
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A temporary directory, removed when dropped.
struct TempDir {
    /// Its path.
    path: PathBuf,
}

impl TempDir {
    /// A fresh directory under the system's temporary directory.
    fn new() -> Result<TempDir, String> {
        let path = std::env::temp_dir().join(format!("gale-cluster-bench-{}", std::process::id()));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir_all(&path).map_err(|e| format!("cannot create {}: {e}", path.display()))?;
        Ok(TempDir { path })
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.path);
    }
}

/// A release binary beside this one (or in the workspace's `target/release`).
fn bin(name: &str) -> Result<PathBuf, String> {
    let mut dirs = Vec::new();
    if let Some(dir) = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(Path::to_path_buf))
    {
        dirs.push(dir);
    }
    dirs.push(Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/release"));
    dirs.iter()
        .map(|d| d.join(name))
        .find(|p| p.exists())
        .ok_or_else(|| {
            format!(
                "the `{name}` binary is missing: run `cargo build --release -p gale -p gale-bench --bins` first"
            )
        })
}

/// A port that was free a moment ago.
fn free_port() -> Result<u16, String> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("no free port on 127.0.0.1: {e}"))
}

/// Opens `path` for a child's stdout and stderr (appending).
fn log_file(path: &Path) -> Result<(Stdio, Stdio), String> {
    let f = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    let g = f.try_clone().map_err(|e| e.to_string())?;
    Ok((Stdio::from(f), Stdio::from(g)))
}

/// The last `n` lines of a log, indented, for an error message.
fn tail(path: &Path, n: usize) -> String {
    let text = fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let mut s = format!("--- {} (last {n} lines)\n", path.display());
    for l in &lines[lines.len().saturating_sub(n)..] {
        let _ = writeln!(s, "    {l}");
    }
    s
}

/// Every `*.log` under `dir`, recursively.
fn logs(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            logs(&p, out);
        } else if p.extension().is_some_and(|x| x == "log") {
            out.push(p);
        }
    }
}

/// Runs `cmd` to its end, its output appended to `log`; an error if it fails or outlives
/// `timeout`.
fn run_to_end(mut cmd: Command, log: &Path, timeout: Duration) -> Result<(), String> {
    let (out, err) = log_file(log)?;
    let child = cmd
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .map_err(|e| format!("cannot start {cmd:?}: {e}"))?;
    let mut guard = ChildGuard { child };
    let deadline = Instant::now() + timeout;
    loop {
        match guard.child.try_wait() {
            Ok(Some(status)) if status.success() => return Ok(()),
            Ok(Some(status)) => return Err(format!("{cmd:?} failed ({status})")),
            Ok(None) if Instant::now() > deadline => {
                return Err(format!("{cmd:?} still running after {timeout:?}"));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(50)),
            Err(e) => return Err(format!("cannot wait for {cmd:?}: {e}")),
        }
    }
}

/// Nimbus and one supervisor of two slots on 127.0.0.1; everything killed when dropped.
struct Cluster {
    /// Where the daemons keep their state and logs.
    dir: PathBuf,
    /// Nimbus's URL.
    url: String,
    /// The `gale` binary.
    gale: PathBuf,
    /// The daemons, supervisor last (dropped first by [`Drop`]).
    daemons: Vec<ChildGuard>,
}

impl Cluster {
    /// Starts nimbus and the supervisor and waits until the supervisor is alive.
    fn start(dir: PathBuf, gale: PathBuf) -> Result<Cluster, String> {
        fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let port = free_port()?;
        let mut c = Cluster {
            url: format!("http://127.0.0.1:{port}"),
            dir,
            gale,
            daemons: Vec::new(),
        };
        let listen = format!("127.0.0.1:{port}");
        let nimbus_dir = c.dir.join("nimbus");
        c.daemon(
            "nimbus",
            &[
                "nimbus",
                "--listen",
                &listen,
                "--dir",
                &nimbus_dir.display().to_string(),
                "--http",
                "off",
                "--supervisor-timeout",
                "3s",
            ],
        )?;
        let ports = format!("{},{}", free_port()?, free_port()?);
        let sup_dir = c.dir.join("s0");
        let url = c.url.clone();
        c.daemon(
            "supervisor",
            &[
                "supervisor",
                "--nimbus",
                &url,
                "--id",
                "s0",
                "--ports",
                &ports,
                "--dir",
                &sup_dir.display().to_string(),
            ],
        )?;
        let deadline = Instant::now() + Duration::from_secs(30);
        while !c
            .list()
            .lines()
            .any(|l| l.starts_with("supervisor s0 ") && l.contains(" alive "))
        {
            if Instant::now() > deadline {
                return Err(format!(
                    "the supervisor did not register with nimbus in 30 s\n{}",
                    c.logs()
                ));
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        Ok(c)
    }

    /// Starts a `gale` daemon, its output in `<name>.log`.
    fn daemon(&mut self, name: &str, args: &[&str]) -> Result<(), String> {
        let (out, err) = log_file(&self.dir.join(format!("{name}.log")))?;
        let child = Command::new(&self.gale)
            .args(args)
            .env("GALE_SECRET", SECRET)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", self.gale.display()))?;
        self.daemons.push(ChildGuard { child });
        Ok(())
    }

    /// `gale list`'s output (empty while nimbus does not answer).
    fn list(&self) -> String {
        Command::new(&self.gale)
            .args(["list", "--nimbus", &self.url])
            .env("GALE_SECRET", SECRET)
            .stderr(Stdio::null())
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default()
    }

    /// The tails of every log of the cluster (daemons and workers).
    fn logs(&self) -> String {
        let mut paths = Vec::new();
        logs(&self.dir, &mut paths);
        paths.sort();
        paths.iter().map(|p| tail(p, 15)).collect()
    }

    /// The pids of the workers started for this cluster (their command line names its URL).
    fn worker_pids(&self) -> Vec<u32> {
        let mut pids = Vec::new();
        for e in fs::read_dir("/proc").into_iter().flatten().flatten() {
            let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            let Ok(cmd) = fs::read(e.path().join("cmdline")) else {
                continue;
            };
            let args: Vec<&[u8]> = cmd.split(|&b| b == 0).collect();
            if args.get(1).is_some_and(|a| *a == b"worker")
                && args
                    .windows(2)
                    .any(|w| w[0] == b"--nimbus" && w[1] == self.url.as_bytes())
            {
                pids.push(pid);
            }
        }
        pids
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // The supervisor first, so that it restarts no worker; then nimbus; then the workers.
        while let Some(d) = self.daemons.pop() {
            drop(d);
        }
        for pid in self.worker_pids() {
            let _ = Command::new("kill")
                .args(["-9", &pid.to_string()])
                .stderr(Stdio::null())
                .status();
        }
    }
}

/// What one run's tasks wrote.
#[derive(Default)]
struct Results {
    /// Tuples the spout tasks emitted.
    emitted: u64,
    /// Tuples the counting tasks counted.
    counted: u64,
    /// Per second, summed over the counting tasks.
    per_sec: Vec<u64>,
    /// Every latency sample, in micros, sorted.
    latency_us: Vec<u32>,
    /// The spread of the spout tasks' starts, in micros.
    start_skew_us: u64,
    /// The spread of the counting tasks' first tuples, in micros.
    first_skew_us: u64,
    /// Counting task files read.
    counters: usize,
}

impl Results {
    /// Reads `keys-*.txt` and `count-*.txt` in `dir`.
    fn read(dir: &Path) -> Result<Results, String> {
        let mut r = Results::default();
        let (mut starts, mut firsts) = (Vec::new(), Vec::new());
        let mut spouts = 0;
        let entries =
            fs::read_dir(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let path = e.path();
            let text = fs::read_to_string(&path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            let field = |key: &str| -> Result<Vec<u64>, String> {
                let line = text
                    .lines()
                    .find(|l| l.split(' ').next() == Some(key))
                    .ok_or_else(|| format!("{}: no `{key}` line", path.display()))?;
                line.split(' ')
                    .skip(1)
                    .map(|v| {
                        v.parse::<u64>()
                            .map_err(|_| format!("{}: `{key}` has `{v}`", path.display()))
                    })
                    .collect()
            };
            let one = |key: &str| -> Result<u64, String> {
                field(key)?
                    .first()
                    .copied()
                    .ok_or_else(|| format!("{}: `{key}` has no value", path.display()))
            };
            if name.starts_with("keys-") {
                spouts += 1;
                r.emitted += one("emitted")?;
                starts.push(one("start_us")?);
            } else if name.starts_with("count-") {
                r.counters += 1;
                r.counted += one("counted")?;
                firsts.push(one("first_us")?);
                let per_sec = field("per_sec")?;
                let sum: u64 = per_sec.iter().sum();
                if sum != one("counted")? {
                    return Err(format!(
                        "{}: the per-second counts add up to {sum}, not to what it counted",
                        path.display()
                    ));
                }
                if r.per_sec.len() < per_sec.len() {
                    r.per_sec.resize(per_sec.len(), 0);
                }
                for (i, n) in per_sec.iter().enumerate() {
                    r.per_sec[i] += n;
                }
                r.latency_us
                    .extend(field("latency_us")?.iter().map(|&l| l as u32));
            }
        }
        if spouts != 2 || r.counters != 2 {
            return Err(format!(
                "{}: expected 2 spout and 2 counter files, found {spouts} and {}",
                dir.display(),
                r.counters
            ));
        }
        let spread = |v: &[u64]| v.iter().max().unwrap_or(&0) - v.iter().min().unwrap_or(&0);
        r.start_skew_us = spread(&starts);
        r.first_skew_us = spread(&firsts);
        r.latency_us.sort_unstable();
        Ok(r)
    }

    /// The steady-state rate (tuples/s) and the seconds it spans: seconds `WARMUP_SECS`
    /// to the one before the last.
    fn steady(&self) -> Result<(f64, usize), String> {
        let end = self.per_sec.len().saturating_sub(1);
        if end <= WARMUP_SECS {
            return Err(format!(
                "the run lasted {} s: no steady state after the first {WARMUP_SECS} s",
                self.per_sec.len()
            ));
        }
        let n: u64 = self.per_sec[WARMUP_SECS..end].iter().sum();
        let secs = end - WARMUP_SECS;
        Ok((n as f64 / secs as f64, secs))
    }

    /// The `p` quantile of the latency, in milliseconds.
    fn latency_ms(&self, p: f64) -> f64 {
        if self.latency_us.is_empty() {
            return f64::NAN;
        }
        let i = ((self.latency_us.len() - 1) as f64 * p).round() as usize;
        f64::from(self.latency_us[i]) / 1e3
    }
}

/// Polls `gale list` until topology `id` is finished (or failed, or `timeout` passed);
/// returns the listing taken when the run was half way (for the placement).
fn wait_finished(
    c: &Cluster,
    id: &str,
    half: Duration,
    timeout: Duration,
) -> Result<String, String> {
    let t0 = Instant::now();
    let mut placement = String::new();
    let prefix = format!("topology {id}  ");
    loop {
        let list = c.list();
        let status = list
            .lines()
            .find_map(|l| l.strip_prefix(&prefix))
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap_or("")
            .to_string();
        if placement.is_empty() && t0.elapsed() >= half {
            placement = list.clone();
        }
        match status.as_str() {
            "finished" => {
                if placement.is_empty() {
                    placement = list;
                }
                return Ok(placement);
            }
            "failed" | "killed" => {
                return Err(format!("topology {id} {status}:\n{list}\n{}", c.logs()));
            }
            _ => {}
        }
        if t0.elapsed() > timeout {
            return Err(format!(
                "topology {id} not finished after {timeout:?}:\n{list}\n{}",
                c.logs()
            ));
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// The machine's load averages (1, 5, 15 min), for the record.
fn loadavg() -> String {
    fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

/// Millions, one decimal.
fn m(x: f64) -> String {
    format!("{:.1}M", x / 1e6)
}

/// The whole benchmark; every child and the temporary directory are gone when it returns.
fn run(a: &Args) -> Result<bool, String> {
    let gale = bin("gale")?;
    let topo = bin("kc_cluster")?;
    let tmp = TempDir::new()?;
    let secs = a.secs.to_string();
    let timeout = Duration::from_secs(a.secs + 120);
    let load_before = loadavg();

    // (a) Local mode.
    let local_out = tmp.path.join("local");
    fs::create_dir_all(&local_out).map_err(|e| e.to_string())?;
    eprintln!("cluster_bench: local mode, {secs} s ...");
    let mut cmd = Command::new(&topo);
    cmd.args(["run", "--no-progress", "--set"])
        .arg(format!("secs={secs}"))
        .arg("--set")
        .arg(format!("out_dir={}", local_out.display()));
    let local_log = tmp.path.join("local.log");
    run_to_end(cmd, &local_log, timeout).map_err(|e| format!("{e}\n{}", tail(&local_log, 30)))?;
    let local = Results::read(&local_out)?;

    // (b) Two worker processes.
    let cluster_out = tmp.path.join("cluster");
    fs::create_dir_all(&cluster_out).map_err(|e| e.to_string())?;
    eprintln!("cluster_bench: cluster of 2 workers, {secs} s ...");
    let c = Cluster::start(tmp.path.join("daemons"), gale)?;
    let t0 = Instant::now();
    let out = Command::new(&topo)
        .args(["submit", "--nimbus", &c.url, "--workers", "2", "--set"])
        .arg(format!("secs={secs}"))
        .arg("--set")
        .arg(format!("out_dir={}", cluster_out.display()))
        .env("GALE_SECRET", SECRET)
        .output()
        .map_err(|e| format!("cannot run {} submit: {e}", topo.display()))?;
    if !out.status.success() {
        return Err(format!(
            "submit failed: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            c.logs()
        ));
    }
    let reply = String::from_utf8_lossy(&out.stdout);
    let id = reply
        .split_whitespace()
        .nth(1)
        .filter(|_| reply.starts_with("submitted "))
        .ok_or_else(|| format!("unexpected submit reply: {reply}"))?
        .to_string();
    let listing = wait_finished(&c, &id, Duration::from_secs(a.secs / 2), timeout)?;
    let wall = t0.elapsed();
    // The workers' own summaries, as they logged them.
    let mut worker_logs = Vec::new();
    logs(&c.dir, &mut worker_logs);
    worker_logs.retain(|p| {
        p.file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("worker-"))
    });
    worker_logs.sort();
    let worker_tails: String = worker_logs.iter().map(|p| tail(p, 12)).collect();
    drop(c);
    let cluster = Results::read(&cluster_out)?;
    let load_after = loadavg();

    // The report.
    let (lr, ls) = local.steady()?;
    let (cr, cs) = cluster.steady()?;
    println!(
        "\n## keyed count, 10,000 u64 keys, 2 spout tasks -> fields(key) -> 2 counting tasks, {secs} s per run\n"
    );
    println!("| | local mode (1 process) | cluster (2 worker processes) | cluster / local |");
    println!("|---|---:|---:|---:|");
    println!(
        "| steady-state tuples/s (seconds {WARMUP_SECS}..last-1) | {} ({ls} s) | {} ({cs} s) | **{:.2}x** |",
        m(lr),
        m(cr),
        cr / lr
    );
    println!(
        "| latency emit → counted, p50 | {:.2} ms | {:.2} ms | |",
        local.latency_ms(0.5),
        cluster.latency_ms(0.5)
    );
    println!(
        "| latency emit → counted, p99 | {:.2} ms | {:.2} ms | |",
        local.latency_ms(0.99),
        cluster.latency_ms(0.99)
    );
    println!(
        "| latency samples (1 tuple in 1024) | {} | {} | |",
        local.latency_us.len(),
        cluster.latency_us.len()
    );
    println!(
        "| tuples emitted / counted | {} / {} | {} / {} | |",
        local.emitted, local.counted, cluster.emitted, cluster.counted
    );
    println!(
        "| spout start skew / counters' first-tuple skew | {:.1} ms / {:.1} ms | {:.1} ms / {:.1} ms | |",
        local.start_skew_us as f64 / 1e3,
        local.first_skew_us as f64 / 1e3,
        cluster.start_skew_us as f64 / 1e3,
        cluster.first_skew_us as f64 / 1e3
    );
    let per_sec = |r: &Results| {
        r.per_sec
            .iter()
            .map(|&n| format!("{:.1}", n as f64 / 1e6))
            .collect::<Vec<_>>()
            .join(" ")
    };
    println!("\nper second (M tuples, both counting tasks):");
    println!("- local:   {}", per_sec(&local));
    println!("- cluster: {}", per_sec(&cluster));
    println!(
        "\ncluster: submit → finished {:.1} s (upload, process start, the run, the heartbeat that reports the end)",
        wall.as_secs_f64()
    );
    println!("\nplacement (`gale list` half way through the cluster run):\n```");
    for l in listing.lines() {
        if l.starts_with("topology ") || l.trim_start().starts_with("worker ") {
            println!("{l}");
        }
    }
    println!("```");
    println!("\nworkers' logs (tails):\n```\n{worker_tails}```");
    println!(
        "\nmachine: {} cores; load average before {load_before}, after {load_after}",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    let ok = local.emitted == local.counted && cluster.emitted == cluster.counted;
    if ok {
        println!("check: every emitted tuple counted, in both modes");
    } else {
        println!("check FAILED: emitted != counted");
    }
    Ok(ok)
}

fn main() -> ExitCode {
    let a = match args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("cluster_bench: {e}");
            return ExitCode::from(2);
        }
    };
    match run(&a) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("cluster_bench: {e}");
            ExitCode::FAILURE
        }
    }
}
