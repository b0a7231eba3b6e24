//! A real cluster on 127.0.0.1 for the cluster tests: a nimbus and supervisors started as
//! processes of the `gale` binary, in a fresh directory, killed when the test ends.
//!
//! The binaries are the workspace's own (`gale`, `wordcount`), found next to the test
//! executable; when they are missing (a `cargo test` of this crate alone), they are built
//! into `target/cluster-bins` first.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

/// Cluster tests run one at a time (each starts several processes; two cores).
pub fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|p| p.into_inner())
}

/// The `target/<profile>` directory this test runs from.
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test executable has a path");
    // target/debug/deps/<test> -> target/debug
    exe.parent()
        .and_then(Path::parent)
        .expect("the test runs from target/<profile>/deps")
        .to_path_buf()
}

/// The path of a workspace binary (`gale`, `wordcount`), built first (once per test
/// binary) so a test never runs a stale one: `cargo test -p gale-tests` alone does not
/// rebuild the `gale` and `wordcount` packages' binaries.
pub fn workspace_bin(name: &str) -> PathBuf {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let profile = profile_dir();
        let mut cmd = Command::new(cargo);
        cmd.args(["build", "-p", "gale", "-p", "wordcount", "--bins"]);
        if profile.file_name().is_some_and(|p| p == "release") {
            cmd.arg("--release");
        }
        if let Some(target) = profile.parent() {
            cmd.arg("--target-dir").arg(target);
        }
        let status = cmd.status().expect("cargo runs");
        assert!(status.success(), "building gale and wordcount failed");
    });
    profile_dir().join(name)
}

/// Two supervisors of two slots, for a slow, never-ending at-least-once topology (the
/// durable spout emits 200 ids/s of 1,000,000).
pub fn slow_cluster(name: &str) -> Cluster {
    Cluster::start(
        name,
        2,
        2,
        &[("GALE_TEST_IDS", "1000000"), ("GALE_TEST_RATE", "200")],
    )
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A running cluster.
pub struct Cluster {
    /// Its directory (nimbus and supervisor state, logs, test files).
    pub dir: PathBuf,
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    nimbus_port: u16,
    /// The REST API's address, `127.0.0.1:<port>`.
    pub http: String,
    /// The secret every daemon and client uses.
    pub secret: String,
    nimbus: Option<Child>,
    supervisors: Vec<Option<Child>>,
    /// Each supervisor's id.
    pub supervisor_ids: Vec<String>,
    /// Their ports, as `--ports` takes them.
    supervisor_ports: Vec<String>,
    /// Extra environment for the daemons (their workers inherit it).
    env: Vec<(String, String)>,
}

impl Cluster {
    /// Nimbus plus `supervisors` supervisors with `slots` ports each. The supervisor
    /// timeout is 3 s.
    pub fn start(name: &str, supervisors: usize, slots: usize, env: &[(&str, &str)]) -> Cluster {
        let dir = std::env::temp_dir().join(format!(
            "gale-cluster-{name}-{}-{}",
            std::process::id(),
            Instant::now().elapsed().as_nanos()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("test dir");
        let nimbus_port = free_port();
        let mut c = Cluster {
            url: format!("http://127.0.0.1:{nimbus_port}"),
            nimbus_port,
            http: format!("127.0.0.1:{}", free_port()),
            secret: format!("test-secret-{name}"),
            nimbus: None,
            supervisors: Vec::new(),
            supervisor_ids: Vec::new(),
            supervisor_ports: Vec::new(),
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .chain([("GALE_TEST_DIR".to_string(), dir.display().to_string())])
                .collect(),
            dir,
        };
        c.start_nimbus();
        for s in 0..supervisors {
            let ports: Vec<String> = (0..slots).map(|_| free_port().to_string()).collect();
            c.supervisor_ids.push(format!("sup{s}"));
            c.supervisor_ports.push(ports.join(","));
            c.supervisors.push(None);
            c.start_supervisor(s);
        }
        let ids = c.supervisor_ids.clone();
        c.wait_for(
            "every supervisor registered",
            Duration::from_secs(30),
            |c| {
                let list = c.list();
                ids.iter().all(|id| {
                    list.lines().any(|l| {
                        l.starts_with(&format!("supervisor {id} ")) && l.contains(" alive ")
                    })
                })
            },
        );
        c
    }

    fn daemon(&self, log: &str, args: &[&str]) -> Child {
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join(format!("{log}.log")))
            .expect("log file");
        let err = out.try_clone().expect("log file");
        Command::new(workspace_bin("gale"))
            .args(args)
            .env("GALE_SECRET", &self.secret)
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .expect("gale starts")
    }

    /// Starts nimbus (again) on its port and directory.
    pub fn start_nimbus(&mut self) {
        let child = self.daemon(
            "nimbus",
            &[
                "nimbus",
                "--listen",
                &format!("127.0.0.1:{}", self.nimbus_port),
                "--dir",
                &self.dir.join("nimbus").display().to_string(),
                "--supervisor-timeout",
                "3s",
                "--worker-timeout",
                "20s",
                "--http",
                &self.http.clone(),
            ],
        );
        self.nimbus = Some(child);
        self.wait_for("nimbus answers", Duration::from_secs(30), |c| {
            c.gale(&["list"]).status.success()
        });
    }

    /// Nimbus's process id, if it runs.
    pub fn nimbus_pid(&self) -> Option<u32> {
        self.nimbus.as_ref().map(Child::id)
    }

    /// `kill -9` nimbus.
    pub fn kill_nimbus(&mut self) {
        if let Some(mut n) = self.nimbus.take() {
            let _ = n.kill();
            let _ = n.wait();
        }
    }

    /// Starts supervisor `i` (again) with its id, ports and directory.
    pub fn start_supervisor(&mut self, i: usize) {
        let id = self.supervisor_ids[i].clone();
        let child = self.daemon(
            &format!("supervisor-{i}"),
            &[
                "supervisor",
                "--nimbus",
                &self.url.clone(),
                "--id",
                &id,
                "--ports",
                &self.supervisor_ports[i].clone(),
                "--dir",
                &self.dir.join(&id).display().to_string(),
            ],
        );
        self.supervisors[i] = Some(child);
    }

    /// Supervisor `i`'s process id, if it runs.
    pub fn supervisor_pid(&self, i: usize) -> Option<u32> {
        self.supervisors.get(i)?.as_ref().map(Child::id)
    }

    /// `kill -9` supervisor `i` (its workers run on, as Storm's do).
    pub fn kill_supervisor(&mut self, i: usize) {
        if let Some(mut s) = self.supervisors[i].take() {
            let _ = s.kill();
            let _ = s.wait();
        }
    }

    /// Runs `gale ARGS --nimbus URL` with the cluster's secret.
    pub fn gale(&self, args: &[&str]) -> Output {
        self.gale_with(args, Some(&self.secret))
    }

    /// Runs `gale ARGS --nimbus URL` with `secret` (none: no secret at all).
    pub fn gale_with(&self, args: &[&str], secret: Option<&str>) -> Output {
        let mut cmd = Command::new(workspace_bin("gale"));
        cmd.args(args).arg("--nimbus").arg(&self.url);
        cmd.env_remove("GALE_SECRET");
        if let Some(s) = secret {
            cmd.env("GALE_SECRET", s);
        }
        cmd.envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        cmd.output().expect("gale runs")
    }

    /// `gale submit BINARY --workers 2 EXTRA...`; panics unless it succeeds. Returns the
    /// topology id it printed.
    pub fn submit(&self, binary: &Path, extra: &[&str]) -> String {
        let binary = binary.display().to_string();
        let mut args = vec!["submit", binary.as_str(), "--workers", "2"];
        args.extend_from_slice(extra);
        let out = self.gale(&args);
        let said = output_text(&out);
        assert!(out.status.success(), "submit failed: {said}");
        said.split_whitespace()
            .skip_while(|w| *w != "submitted")
            .nth(1)
            .unwrap_or_else(|| panic!("no topology id in {said}"))
            .to_string()
    }

    /// `gale list`'s output (empty on failure).
    pub fn list(&self) -> String {
        String::from_utf8_lossy(&self.gale(&["list"]).stdout).into_owned()
    }

    /// Waits until nimbus lists topology `id` as finished; panics after `timeout`.
    pub fn wait_finished(&self, id: &str, timeout: Duration) {
        self.wait_for("the topology finished", timeout, |c| {
            c.list().contains(&format!("topology {id}  finished"))
        });
    }

    /// The workers `gale list` shows, each with the executors it runs (`count:0-1`...).
    pub fn workers(&self) -> Vec<Worker> {
        self.list()
            .lines()
            .filter(|l| l.trim_start().starts_with("worker "))
            .map(|l| Worker {
                line: l.trim().to_string(),
                executors: l
                    .rsplit_once('[')
                    .map_or("", |(_, e)| e)
                    .trim_end_matches(']')
                    .split(", ")
                    .filter(|e| !e.is_empty())
                    .map(str::to_string)
                    .collect(),
            })
            .collect()
    }

    /// Polls `f` every 200 ms until it is true; panics with `what` and the daemons' logs
    /// after `timeout`.
    pub fn wait_for(&self, what: &str, timeout: Duration, mut f: impl FnMut(&Cluster) -> bool) {
        let start = Instant::now();
        while start.elapsed() < timeout {
            if f(self) {
                return;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        panic!(
            "timed out after {timeout:?} waiting for: {what}\n--- gale list:\n{}\n--- logs:\n{}",
            self.list(),
            self.logs()
        );
    }

    /// Every daemon and worker log, for failure messages.
    pub fn logs(&self) -> String {
        let mut s = String::new();
        let mut stack = vec![self.dir.clone()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
                let p = e.path();
                if p.is_dir() {
                    stack.push(p);
                } else if p.extension().is_some_and(|x| x == "log") {
                    let text = std::fs::read_to_string(&p).unwrap_or_default();
                    let tail: Vec<&str> = text.lines().rev().take(40).collect();
                    s.push_str(&format!("=== {}\n", p.display()));
                    for l in tail.into_iter().rev() {
                        s.push_str(l);
                        s.push('\n');
                    }
                }
            }
        }
        s
    }

    /// The pid of worker `index` of topology `id` (from /proc), if one runs.
    pub fn worker_pid(&self, id: &str, index: u32) -> Option<u32> {
        let index = index.to_string();
        self.worker_pids(id).into_iter().find(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|cmd| {
                let args: Vec<&[u8]> = cmd.split(|&b| b == 0).collect();
                args.windows(2)
                    .any(|w| w[0] == b"--worker" && w[1] == index.as_bytes())
            })
        })
    }

    /// The pids of the worker processes of topology `id` (from /proc).
    pub fn worker_pids(&self, id: &str) -> Vec<u32> {
        self.pids_of_workers(Some(id))
    }

    /// The pids of every worker process of this cluster (of any topology).
    pub fn all_worker_pids(&self) -> Vec<u32> {
        self.pids_of_workers(None)
    }

    fn pids_of_workers(&self, id: Option<&str>) -> Vec<u32> {
        let mut pids = Vec::new();
        for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            let Ok(cmd) = std::fs::read(e.path().join("cmdline")) else {
                continue;
            };
            let args: Vec<String> = cmd
                .split(|&b| b == 0)
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect();
            let is_worker = args.get(1).is_some_and(|a| a == "worker");
            let ours = id
                .is_none_or(|id| args.windows(2).any(|w| w[0] == "--topology" && w[1] == id))
                && args
                    .windows(2)
                    .any(|w| w[0] == "--nimbus" && w[1] == self.url);
            let zombie = std::fs::read_to_string(e.path().join("stat"))
                .is_ok_and(|s| s.split_whitespace().nth(2) == Some("Z"));
            if is_worker && ours && !zombie {
                pids.push(pid);
            }
        }
        pids
    }
}

impl Drop for Cluster {
    /// Stops the daemons and every worker (workers outlive their supervisor) and removes
    /// the cluster's directory — each supervisor holds a copy of every binary — unless the
    /// test failed: its logs are kept then.
    fn drop(&mut self) {
        for s in self.supervisors.iter_mut().flatten() {
            let _ = s.kill();
            let _ = s.wait();
        }
        self.kill_nimbus();
        for pid in self.all_worker_pids() {
            kill9(pid);
        }
        if !std::thread::panicking() {
            std::thread::sleep(Duration::from_millis(100));
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// The resident memory of process `pid` in KiB (`VmRSS` in /proc), 0 if unknown.
pub fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next().and_then(|n| n.parse().ok()))
        .unwrap_or(0)
}

/// A command's stdout then stderr, as text.
pub fn output_text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// One HTTP/1.1 request to `addr` (`token`: sent as `Authorization: Bearer`); returns the
/// status code and the body.
pub fn http_request(
    addr: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: &str,
) -> (u16, String) {
    let auth = token.map(|t| format!("Bearer {t}"));
    let headers: Vec<(&str, &str)> = auth.iter().map(|a| ("Authorization", a.as_str())).collect();
    let (status, _, body) = http_exchange(addr, method, path, &headers, body);
    (status, body)
}

/// One HTTP/1.1 request to `addr` with extra `headers`; returns the status code, the
/// response's header block and its body (a chunked one joined).
pub fn http_exchange(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String, String) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).expect("the REST API accepts");
    let extra: String = headers
        .iter()
        .map(|(k, v)| format!("{k}: {v}\r\n"))
        .collect();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{extra}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).expect("request sent");
    let mut out = String::new();
    s.read_to_string(&mut out).expect("response read");
    let status = out
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let (head, body) = out.split_once("\r\n\r\n").unwrap_or((&out, ""));
    // Chunked bodies: keep what is between the chunk sizes.
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        let mut rest = body;
        let mut joined = String::new();
        while let Some((size, tail)) = rest.split_once("\r\n") {
            let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
            if n == 0 || tail.len() < n {
                break;
            }
            joined.push_str(&tail[..n]);
            rest = tail[n..].trim_start_matches("\r\n");
        }
        joined
    } else {
        body.to_string()
    };
    (status, head.to_string(), body)
}

/// The parent process of `pid` (from /proc), if it runs.
pub fn parent_pid(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // `pid (comm) state ppid ...`: comm may hold spaces, so read after its `)`.
    stat.rsplit_once(')')?
        .1
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// `kill -9 pid`.
pub fn kill9(pid: u32) {
    let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
}

/// Every id below `total` that the durable spout recorded as acked (in `dir`).
pub fn acked_ids(dir: &Path) -> std::collections::BTreeSet<u64> {
    let mut ids = std::collections::BTreeSet::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with("acked-") {
            let text = std::fs::read_to_string(e.path()).unwrap_or_default();
            ids.extend(text.lines().filter_map(|l| l.trim().parse::<u64>().ok()));
        }
    }
    ids
}

/// A worker as `gale list` shows it.
#[derive(Debug, Clone)]
pub struct Worker {
    /// Its whole line.
    pub line: String,
    /// The executors it runs, as `component:tasks`.
    pub executors: Vec<String>,
}

impl Worker {
    /// Whether it runs a task of `component`.
    pub fn runs(&self, component: &str) -> bool {
        self.executors
            .iter()
            .any(|e| e.split_once(':').is_some_and(|(c, _)| c == component))
    }
}
