//! The chaos benchmark: an at-least-once topology on a real cluster on 127.0.0.1 (nimbus,
//! three supervisors of two slots, three workers), while a random worker is killed with
//! `kill -9` every 10–20 s for three minutes — once a supervisor instead, once nimbus.
//! It measures, after each kill, how long the aggregate ack rate takes to be back to 90%
//! of what it was, and at the end that no id was lost.
//!
//! ```text
//! cargo build --release -p gale -p gale-tests --bins
//! cargo run --release -p gale-bench --bin chaos -- [--runs 4] [--secs 180] [--rate 2000] [--seed 1]
//! ```
//!
//! The topology is the tests' `cluster_acking` (a durable spout that records acked ids in
//! files and, restarted, emits only the ids not acked; a relay; a sink keyed by id), each
//! of its two spout tasks emitting `--rate` ids per second.

use std::collections::BTreeSet;
use std::fs;
use std::io::{Read, Seek, SeekFrom};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The sampling period of the ack counter.
const SAMPLE: Duration = Duration::from_millis(50);
/// The window over which a rate is measured.
const WINDOW: Duration = Duration::from_millis(500);

struct Args {
    runs: u32,
    secs: u64,
    rate: u64,
    seed: u64,
}

fn args() -> Result<Args, String> {
    let mut a = Args {
        runs: 1,
        secs: 180,
        rate: 2000,
        seed: 1,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let n: u64 = value
            .parse()
            .map_err(|_| format!("{flag} {value}: not a number"))?;
        match flag.as_str() {
            "--runs" => a.runs = n as u32,
            "--secs" => a.secs = n,
            "--rate" => a.rate = n,
            "--seed" => a.seed = n,
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    Ok(a)
}

fn free_port() -> Result<u16, String> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("no free port: {e}"))
}

/// The release binaries this benchmark runs.
fn bin(name: &str) -> Result<PathBuf, String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let path = root.join("target/release").join(name);
    if path.exists() {
        Ok(path)
    } else {
        Err(format!(
            "{} is missing: run `cargo build --release -p gale -p gale-tests --bins` first",
            path.display()
        ))
    }
}

/// The acked ids, read incrementally from the spout's files.
#[derive(Default)]
struct Acked {
    offsets: Vec<(PathBuf, u64, String)>,
    ids: BTreeSet<u64>,
    lines: u64,
}

impl Acked {
    fn poll(&mut self, dir: &Path) {
        for e in fs::read_dir(dir).into_iter().flatten().flatten() {
            let p = e.path();
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with("acked-") && !self.offsets.iter().any(|(q, _, _)| *q == p) {
                self.offsets.push((p, 0, String::new()));
            }
        }
        for (path, offset, partial) in &mut self.offsets {
            let Ok(mut f) = fs::File::open(&*path) else {
                continue;
            };
            if f.seek(SeekFrom::Start(*offset)).is_err() {
                continue;
            }
            let mut buf = String::new();
            let Ok(n) = f.read_to_string(&mut buf) else {
                continue;
            };
            *offset += n as u64;
            partial.push_str(&buf);
            while let Some(nl) = partial.find('\n') {
                let line: String = partial.drain(..=nl).collect();
                if let Ok(id) = line.trim().parse::<u64>() {
                    self.ids.insert(id);
                    self.lines += 1;
                }
            }
        }
    }
}

struct Cluster {
    dir: PathBuf,
    url: String,
    port: u16,
    gale: PathBuf,
    nimbus: Option<Child>,
    supervisors: Vec<(String, String, Option<Child>)>,
    env: Vec<(String, String)>,
}

impl Cluster {
    fn daemon(&self, log: &str, args: &[&str]) -> Result<Child, String> {
        let out = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join(format!("{log}.log")))
            .map_err(|e| e.to_string())?;
        let err = out.try_clone().map_err(|e| e.to_string())?;
        Command::new(&self.gale)
            .args(args)
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(|e| format!("cannot start gale: {e}"))
    }

    fn start_nimbus(&mut self) -> Result<(), String> {
        let listen = format!("127.0.0.1:{}", self.port);
        let dir = self.dir.join("nimbus").display().to_string();
        let child = self.daemon(
            "nimbus",
            &[
                "nimbus",
                "--listen",
                &listen,
                "--dir",
                &dir,
                "--supervisor-timeout",
                "3s",
                "--worker-timeout",
                "10s",
            ],
        )?;
        self.nimbus = Some(child);
        Ok(())
    }

    fn start_supervisor(&mut self, i: usize) -> Result<(), String> {
        let (id, ports, _) = &self.supervisors[i];
        let dir = self.dir.join(id).display().to_string();
        let args = [
            "supervisor",
            "--nimbus",
            &self.url,
            "--id",
            id,
            "--ports",
            ports,
            "--dir",
            &dir,
        ];
        let child = self.daemon(&format!("supervisor-{i}"), &args)?;
        self.supervisors[i].2 = Some(child);
        Ok(())
    }

    fn gale(&self, args: &[&str]) -> String {
        let out = Command::new(&self.gale)
            .args(args)
            .args(["--nimbus", &self.url])
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .output();
        out.map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default()
    }

    fn worker_pids(&self) -> Vec<u32> {
        let mut pids = Vec::new();
        for e in fs::read_dir("/proc").into_iter().flatten().flatten() {
            let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            let Ok(cmd) = fs::read(e.path().join("cmdline")) else {
                continue;
            };
            let args: Vec<String> = cmd
                .split(|&b| b == 0)
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect();
            let zombie = fs::read_to_string(e.path().join("stat"))
                .is_ok_and(|s| s.split_whitespace().nth(2) == Some("Z"));
            if args.get(1).is_some_and(|a| a == "worker")
                && args
                    .windows(2)
                    .any(|w| w[0] == "--nimbus" && w[1] == self.url)
                && !zombie
            {
                pids.push(pid);
            }
        }
        pids
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for (_, _, c) in &mut self.supervisors {
            if let Some(c) = c {
                let _ = c.kill();
                let _ = c.wait();
            }
        }
        if let Some(n) = &mut self.nimbus {
            let _ = n.kill();
            let _ = n.wait();
        }
        for pid in self.worker_pids() {
            kill9(pid);
        }
    }
}

fn kill9(pid: u32) {
    let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
}

/// The ack rate (ids per second) over the window ending at sample `i`.
fn rate_at(samples: &[(Duration, u64)], i: usize) -> f64 {
    let (t, n) = samples[i];
    let j = samples[..=i]
        .iter()
        .rposition(|(u, _)| t.saturating_sub(*u) >= WINDOW)
        .unwrap_or(0);
    let (u, m) = samples[j];
    let dt = (t - u).as_secs_f64();
    if dt <= 0.0 { 0.0 } else { (n - m) as f64 / dt }
}

/// One fault and how long the ack rate took to come back.
struct Event {
    at: Duration,
    what: String,
    recovered: Option<Duration>,
}

/// Seconds from `e.at` until the windowed rate is back to 90% of the median rate in the
/// 5 s before it.
fn recovery(samples: &[(Duration, u64)], at: Duration) -> Option<Duration> {
    let before: Vec<f64> = (0..samples.len())
        .filter(|&i| samples[i].0 < at && at - samples[i].0 <= Duration::from_secs(5))
        .map(|i| rate_at(samples, i))
        .collect();
    if before.is_empty() {
        return None;
    }
    let mut sorted = before.clone();
    sorted.sort_by(f64::total_cmp);
    let steady = sorted[sorted.len() / 2];
    // The first window that lies wholly after the fault and is back to 90%.
    (0..samples.len())
        .filter(|&i| samples[i].0 >= at + WINDOW)
        .find(|&i| rate_at(samples, i) >= 0.9 * steady)
        .map(|i| samples[i].0 - at - WINDOW / 2)
}

fn run(a: &Args, run: u32) -> Result<(Vec<Event>, u64, u64), String> {
    let gale = bin("gale")?;
    let topo = bin("cluster_acking")?;
    let dir = std::env::temp_dir().join(format!("gale-chaos-{}-{run}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let total = a.rate * 2 * (a.secs + 20);
    let port = free_port()?;
    let env = vec![
        ("GALE_SECRET".to_string(), "chaos-secret".to_string()),
        ("GALE_TEST_DIR".to_string(), dir.display().to_string()),
        ("GALE_TEST_IDS".to_string(), total.to_string()),
        ("GALE_TEST_RATE".to_string(), a.rate.to_string()),
    ];
    let mut c = Cluster {
        dir: dir.clone(),
        url: format!("http://127.0.0.1:{port}"),
        port,
        gale,
        nimbus: None,
        supervisors: Vec::new(),
        env,
    };
    c.start_nimbus()?;
    for i in 0..3 {
        let ports = format!("{},{}", free_port()?, free_port()?);
        c.supervisors.push((format!("sup{i}"), ports, None));
        c.start_supervisor(i)?;
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while c.gale(&["list"]).matches(" alive ").count() < 3 {
        if Instant::now() > deadline {
            return Err("the supervisors did not register".into());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let out = Command::new(&topo)
        .args(["submit", "--nimbus", &c.url, "--workers", "3"])
        .envs(c.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .output()
        .map_err(|e| format!("cannot submit: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "submit failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }

    let mut rng = gale::rng::Rng::seeded(a.seed.wrapping_mul(1000) + u64::from(run));
    let mut acked = Acked::default();
    let mut samples: Vec<(Duration, u64)> = Vec::new();
    let mut events: Vec<Event> = Vec::new();
    let start = Instant::now();
    let chaos = Duration::from_secs(a.secs);
    let warmup = Duration::from_secs(15);
    let mut next_fault = warmup + Duration::from_secs(10 + rng.below(11) as u64);
    let supervisor_at = chaos / 3;
    let nimbus_at = 2 * chaos / 3;
    let (mut supervisor_done, mut nimbus_done) = (false, false);
    let mut restart_supervisor: Option<(Duration, usize)> = None;
    let mut restart_nimbus: Option<Duration> = None;
    loop {
        let t = start.elapsed();
        acked.poll(&dir);
        samples.push((t, acked.lines));
        if t < warmup + chaos && t >= next_fault {
            let what = if !supervisor_done && t >= supervisor_at {
                supervisor_done = true;
                let i = rng.below(3);
                if let Some(ch) = c.supervisors[i].2.as_mut() {
                    let _ = ch.kill();
                    let _ = ch.wait();
                }
                c.supervisors[i].2 = None;
                restart_supervisor = Some((t + Duration::from_secs(5), i));
                format!("kill -9 supervisor sup{i}")
            } else if !nimbus_done && t >= nimbus_at {
                nimbus_done = true;
                if let Some(n) = c.nimbus.as_mut() {
                    let _ = n.kill();
                    let _ = n.wait();
                }
                c.nimbus = None;
                restart_nimbus = Some(t + Duration::from_secs(3));
                "kill -9 nimbus".to_string()
            } else {
                let pids = c.worker_pids();
                if pids.is_empty() {
                    "no worker to kill".to_string()
                } else {
                    let pid = pids[rng.below(pids.len())];
                    kill9(pid);
                    format!("kill -9 worker pid {pid}")
                }
            };
            events.push(Event {
                at: t,
                what,
                recovered: None,
            });
            next_fault = t + Duration::from_secs(10 + rng.below(11) as u64);
        }
        if let Some((when, i)) = restart_supervisor
            && t >= when
        {
            c.start_supervisor(i)?;
            restart_supervisor = None;
        }
        if let Some(when) = restart_nimbus
            && t >= when
        {
            c.start_nimbus()?;
            restart_nimbus = None;
        }
        if t >= warmup + chaos {
            if acked.ids.len() as u64 >= total {
                break;
            }
            if t >= warmup + chaos + Duration::from_secs(120) {
                break;
            }
        }
        std::thread::sleep(SAMPLE);
    }
    for e in &mut events {
        e.recovered = recovery(&samples, e.at);
    }
    let lost = total - acked.ids.len() as u64;
    let _ = fs::remove_dir_all(&dir);
    Ok((events, total, lost))
}

fn percentile(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    if v.is_empty() {
        return f64::NAN;
    }
    v[((v.len() - 1) as f64 * p).round() as usize]
}

fn main() {
    let a = match args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("chaos: {e}");
            std::process::exit(2);
        }
    };
    let mut all: Vec<f64> = Vec::new();
    let mut never = 0;
    let mut lost_total = 0;
    for r in 0..a.runs {
        match run(&a, r) {
            Ok((events, total, lost)) => {
                println!("run {r}: {total} ids, {lost} lost");
                for e in &events {
                    match e.recovered {
                        Some(d) => {
                            all.push(d.as_secs_f64());
                            println!(
                                "  {:>6.1} s  {:<28} rate back to 90% after {:.2} s",
                                e.at.as_secs_f64(),
                                e.what,
                                d.as_secs_f64()
                            );
                        }
                        None => {
                            never += 1;
                            println!(
                                "  {:>6.1} s  {:<28} rate never back to 90%",
                                e.at.as_secs_f64(),
                                e.what
                            );
                        }
                    }
                }
                lost_total += lost;
            }
            Err(e) => {
                eprintln!("chaos: run {r}: {e}");
                std::process::exit(1);
            }
        }
    }
    let p50 = percentile(&mut all.clone(), 0.5);
    let max = all.iter().copied().fold(0.0, f64::max);
    println!(
        "{} runs: {lost_total} ids lost; rate back to 90% after a fault: p50 {p50:.2} s, max {max:.2} s ({} faults, {never} never recovered)",
        a.runs,
        all.len()
    );
    println!(
        "machine: {} cores",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
}
