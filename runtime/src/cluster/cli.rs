//! The `gale` command: `nimbus`, `supervisor`, `submit`, `list`, `kill`, `rebalance`.
//!
//! Every command reads the cluster secret from `--secret-file` or `GALE_SECRET`, and TLS
//! files from `--tls-cert/--tls-key/--tls-ca` or `GALE_TLS_CERT/KEY/CA`.

use super::client::{Client, connect, status_text};
use super::nimbus::NimbusConfig;
use super::proto::{
    KillRequest, ListReply, ListRequest, ParallelismChange, RebalanceRequest, SavepointRequest,
};
use super::security::{Secret, Security, TlsFiles};
use super::supervisor::SupervisorConfig;
use crate::logs::LogFormat;
use clap::{Arg, ArgAction, ArgMatches, Command};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// The default nimbus address.
pub const DEFAULT_NIMBUS: &str = "http://127.0.0.1:6627";

/// `--nimbus URL`.
pub fn nimbus_arg() -> Arg {
    Arg::new("nimbus")
        .long("nimbus")
        .value_name("URL")
        .env("GALE_NIMBUS")
        .default_value(DEFAULT_NIMBUS)
        .help("Nimbus's address")
}

/// `--log-format text|json` (else `GALE_LOG_FORMAT`): how a daemon, a worker or a local
/// run writes its log lines (see [`crate::logs`]).
pub fn log_format_arg() -> Arg {
    Arg::new("log-format")
        .long("log-format")
        .value_name("FORMAT")
        .env(crate::logs::FORMAT_ENV)
        .value_parser(parse_log_format)
        .help(
            "Log lines on stderr as `text` (default) or `json` (one object per line); \
             RUST_LOG filters them (default `info`)",
        )
}

fn parse_log_format(s: &str) -> Result<LogFormat, crate::logs::LogError> {
    s.parse()
}

/// Installs the process's log subscriber as `m`'s `--log-format` (over the environment)
/// says; returns its configuration.
pub fn install_logs(m: &ArgMatches) -> Result<crate::logs::LogConfig, crate::logs::LogError> {
    crate::logs::install(m.get_one::<LogFormat>("log-format").copied())
}

/// The security flags every command takes.
pub fn security_args(cmd: Command) -> Command {
    cmd.arg(
        Arg::new("secret-file")
            .long("secret-file")
            .value_name("PATH")
            .global(true)
            .help("File holding the cluster secret (else GALE_SECRET)"),
    )
    .arg(
        Arg::new("tls-cert")
            .long("tls-cert")
            .value_name("PEM")
            .global(true)
            .requires_all(["tls-key", "tls-ca"])
            .help("TLS certificate (else GALE_TLS_CERT); with --tls-key and --tls-ca"),
    )
    .arg(
        Arg::new("tls-key")
            .long("tls-key")
            .value_name("PEM")
            .global(true)
            .help("TLS private key, PKCS#8 (else GALE_TLS_KEY)"),
    )
    .arg(
        Arg::new("tls-ca")
            .long("tls-ca")
            .value_name("PEM")
            .global(true)
            .help("CA certificate peers are checked against (else GALE_TLS_CA)"),
    )
    .arg(
        Arg::new("tls-server-name")
            .long("tls-server-name")
            .value_name("NAME")
            .global(true)
            .help("Name nimbus's certificate must carry (else GALE_TLS_SERVER_NAME; default: the URL's host)"),
    )
}

/// The security the flags (over the environment) describe.
pub fn security_from(m: &ArgMatches) -> Result<Security, String> {
    let mut security = Security::from_env()?;
    if let Some(path) = m.get_one::<String>("secret-file") {
        security.secret = Some(Secret::from_file(path)?);
    }
    if let (Some(cert), Some(key), Some(ca)) = (
        m.get_one::<String>("tls-cert"),
        m.get_one::<String>("tls-key"),
        m.get_one::<String>("tls-ca"),
    ) {
        security.tls = Some(TlsFiles {
            cert: cert.into(),
            key: key.into(),
            ca: ca.into(),
        });
    }
    if let Some(name) = m.get_one::<String>("tls-server-name") {
        security.tls_server_name = Some(name.clone());
    }
    Ok(security)
}

fn command() -> Command {
    let listen = |default: &'static str| {
        Arg::new("listen")
            .long("listen")
            .value_name("ADDR")
            .default_value(default)
            .help("Address to listen on (non-loopback needs a secret)")
    };
    let dir = |default: &'static str| {
        Arg::new("dir")
            .long("dir")
            .value_name("PATH")
            .default_value(default)
            .help("State directory")
    };
    let secs = |name: &'static str, default: &'static str, help: &'static str| {
        Arg::new(name)
            .long(name)
            .value_name("DURATION")
            .default_value(default)
            .help(help)
    };
    security_args(
        Command::new("gale")
            .about("Gale cluster daemons and client")
            .subcommand_required(true)
            .arg_required_else_help(true)
            .subcommand(crate::cli::check::command())
            .subcommand(
                Command::new("nimbus")
                    .about("Run nimbus: accepts topologies, schedules them, watches heartbeats")
                    .arg(listen("127.0.0.1:6627"))
                    .arg(dir("gale-nimbus"))
                    .arg(secs(
                        "supervisor-timeout",
                        "10s",
                        "Supervisor heartbeat timeout",
                    ))
                    .arg(secs("worker-timeout", "30s", "Worker heartbeat timeout"))
                    .arg(
                        Arg::new("http")
                            .long("http")
                            .value_name("ADDR")
                            .default_value("127.0.0.1:6628")
                            .help("Address of the REST API (`off`: none)"),
                    )
                    .arg(
                        Arg::new("http-public-read")
                            .long("http-public-read")
                            .action(clap::ArgAction::SetTrue)
                            .help("The REST API's reads need no secret (actions still do)"),
                    )
                    .arg(log_format_arg()),
            )
            .subcommand(
                Command::new("supervisor")
                    .about("Run a supervisor: runs the workers nimbus assigns to its slots")
                    .arg(nimbus_arg())
                    .arg(
                        Arg::new("id")
                            .long("id")
                            .value_name("ID")
                            .help("Supervisor id (default: host-firstport)"),
                    )
                    .arg(
                        Arg::new("host")
                            .long("host")
                            .value_name("HOST")
                            .default_value("127.0.0.1")
                            .help("Address its workers listen on"),
                    )
                    .arg(
                        Arg::new("ports")
                            .long("ports")
                            .value_name("PORT,...")
                            .value_delimiter(',')
                            .default_value("6700,6701")
                            .help("Worker slots"),
                    )
                    .arg(dir("gale-supervisor"))
                    .arg(log_format_arg()),
            )
            .subcommand(
                Command::new("submit")
                    .about("Submit a topology binary (runs `BINARY submit`)")
                    .arg(Arg::new("binary").required(true).value_name("BINARY"))
                    .arg(nimbus_arg())
                    .arg(
                        Arg::new("workers")
                            .long("workers")
                            .value_name("N")
                            .help("Worker processes (default: the topology's `workers`)"),
                    )
                    .arg(
                        Arg::new("set")
                            .long("set")
                            .value_name("KEY=VALUE")
                            .action(ArgAction::Append)
                            .help("Override a config entry (repeatable)"),
                    )
                    .arg(
                        Arg::new("checkpoint-dir")
                            .long("checkpoint-dir")
                            .value_name("URL")
                            .help("exactly_once: where checkpoints go (a directory or object store URL every machine reaches)"),
                    )
                    .arg(
                        Arg::new("from-savepoint")
                            .long("from-savepoint")
                            .value_name("DIR")
                            .help("exactly_once: start from this savepoint (what `gale savepoint` printed)"),
                    ),
            )
            .subcommand(
                Command::new("savepoint")
                    .about("Take a savepoint of a running exactly_once topology (a kept checkpoint)")
                    .arg(Arg::new("name").required(true))
                    .arg(
                        Arg::new("dir")
                            .long("dir")
                            .value_name("DIR")
                            .help("Copy it here, a directory or object store URL (default: keep it in the topology's checkpoint storage)"),
                    )
                    .arg(nimbus_arg()),
            )
            .subcommand(
                Command::new("list")
                    .about("Show topologies, their workers and throughput, and supervisors")
                    .arg(nimbus_arg()),
            )
            .subcommand(
                Command::new("kill")
                    .about("Kill a topology: every worker of it is stopped")
                    .arg(Arg::new("name").required(true))
                    .arg(nimbus_arg()),
            )
            .subcommand(
                Command::new("rebalance")
                    .about("Change components' executors (1..=tasks) and reschedule")
                    .arg(Arg::new("name").required(true))
                    .arg(
                        Arg::new("parallelism")
                            .long("parallelism")
                            .short('e')
                            .value_name("COMPONENT=N")
                            .action(ArgAction::Append)
                            .required(true),
                    )
                    .arg(nimbus_arg()),
            ),
    )
}

/// The `gale` binary's `main`.
pub fn main() -> ExitCode {
    let m = command().get_matches();
    let result = match m.subcommand() {
        Some((name, sub)) => run(name, sub, &m),
        None => Err("a subcommand is required".into()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn duration(m: &ArgMatches, name: &str) -> Result<Duration, String> {
    let text = m.get_one::<String>(name).map_or("", String::as_str);
    crate::cli::parse_duration(text).map_err(|e| format!("invalid --{name}: {e}"))
}

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the I/O runtime: {e}"))
}

fn run(name: &str, m: &ArgMatches, top: &ArgMatches) -> Result<(), String> {
    let security = security_from(m).or_else(|_| security_from(top))?;
    let nimbus = || {
        m.get_one::<String>("nimbus")
            .cloned()
            .unwrap_or_else(|| DEFAULT_NIMBUS.to_string())
    };
    match name {
        "check" => crate::cli::check::run(m).map_err(|e| e.to_string()),
        "nimbus" => {
            install_logs(m).map_err(|e| e.to_string())?;
            let listen = m
                .get_one::<String>("listen")
                .map_or("", String::as_str)
                .parse()
                .map_err(|e| format!("invalid --listen: {e}"))?;
            let dir = PathBuf::from(
                m.get_one::<String>("dir")
                    .map_or("gale-nimbus", String::as_str),
            );
            let mut config = NimbusConfig::new(listen, dir);
            config.security = security;
            config.supervisor_timeout = duration(m, "supervisor-timeout")?;
            config.worker_timeout = duration(m, "worker-timeout")?;
            let http = m.get_one::<String>("http").map_or("off", String::as_str);
            config.http = match http {
                "off" => None,
                a => Some(a.parse().map_err(|e| format!("invalid --http {a}: {e}"))?),
            };
            config.http_optional =
                m.value_source("http") == Some(clap::parser::ValueSource::DefaultValue);
            config.http_public_read = m.get_flag("http-public-read");
            runtime()?.block_on(super::nimbus::serve(config))
        }
        "supervisor" => {
            let logs = install_logs(m).map_err(|e| e.to_string())?;
            let ports = m
                .get_many::<String>("ports")
                .into_iter()
                .flatten()
                .map(|p| p.trim().parse::<u16>().map(u32::from))
                .collect::<Result<Vec<u32>, _>>()
                .map_err(|e| format!("invalid --ports: {e}"))?;
            let host = m.get_one::<String>("host").cloned().unwrap_or_default();
            let id = m
                .get_one::<String>("id")
                .cloned()
                .unwrap_or_else(|| format!("{host}-{}", ports.first().copied().unwrap_or(0)));
            let config = SupervisorConfig {
                nimbus: nimbus(),
                id,
                host,
                ports,
                dir: PathBuf::from(
                    m.get_one::<String>("dir")
                        .map_or("gale-supervisor", String::as_str),
                ),
                security,
                restart: super::restart::RestartPolicy::default(),
                logs,
            };
            runtime()?.block_on(super::supervisor::serve(config))
        }
        "submit" => {
            let binary = m.get_one::<String>("binary").cloned().unwrap_or_default();
            let mut cmd = std::process::Command::new(&binary);
            cmd.arg("submit").arg("--nimbus").arg(nimbus());
            if let Some(w) = m.get_one::<String>("workers") {
                cmd.arg("--workers").arg(w);
            }
            for kv in m.get_many::<String>("set").into_iter().flatten() {
                cmd.arg("--set").arg(kv);
            }
            for flag in ["checkpoint-dir", "from-savepoint"] {
                if let Some(v) = m.get_one::<String>(flag) {
                    cmd.arg(format!("--{flag}")).arg(v);
                }
            }
            cmd.envs(security.to_env());
            let status = cmd
                .status()
                .map_err(|e| format!("cannot run {binary}: {e}"))?;
            if status.success() {
                Ok(())
            } else {
                Err(format!("`{binary} submit` failed ({status})"))
            }
        }
        "savepoint" => {
            let name = m.get_one::<String>("name").cloned().unwrap_or_default();
            let dir = m.get_one::<String>("dir").cloned().unwrap_or_default();
            let reply = call(&nimbus(), &security, async |c| {
                c.savepoint(SavepointRequest { name, dir }).await
            })?;
            println!("savepoint {} at {}", reply.id, reply.path);
            Ok(())
        }
        "list" => {
            let reply = call(&nimbus(), &security, async |c| c.list(ListRequest {}).await)?;
            print!("{}", render_list(&reply));
            Ok(())
        }
        "kill" => {
            let name = m.get_one::<String>("name").cloned().unwrap_or_default();
            let reply = call(&nimbus(), &security, async |c| {
                c.kill(KillRequest { name }).await
            })?;
            println!("killed {}", reply.topology_id);
            Ok(())
        }
        "rebalance" => {
            let name = m.get_one::<String>("name").cloned().unwrap_or_default();
            let mut changes = Vec::new();
            for kv in m.get_many::<String>("parallelism").into_iter().flatten() {
                let (c, n) = kv
                    .split_once('=')
                    .ok_or_else(|| format!("--parallelism expects COMPONENT=N, got `{kv}`"))?;
                let parallelism = n
                    .trim()
                    .parse()
                    .map_err(|_| format!("--parallelism {kv}: `{n}` is not a number"))?;
                changes.push(ParallelismChange {
                    component: c.trim().to_string(),
                    parallelism,
                });
            }
            let reply = call(&nimbus(), &security, async |c| {
                c.rebalance(RebalanceRequest { name, changes }).await
            })?;
            println!(
                "rebalanced {} (version {})",
                reply.topology_id, reply.version
            );
            Ok(())
        }
        other => Err(format!("unknown command `{other}`")),
    }
}

/// Connects to nimbus and makes one call; a refused call is the error.
fn call<R>(
    url: &str,
    security: &Security,
    f: impl AsyncFnOnce(&mut Client) -> Result<tonic::Response<R>, tonic::Status>,
) -> Result<R, String> {
    runtime()?.block_on(async {
        let mut c = connect(url, security).await?;
        f(&mut c)
            .await
            .map(tonic::Response::into_inner)
            .map_err(|s| status_text(&s))
    })
}

/// `gale list`'s table.
pub fn render_list(reply: &ListReply) -> String {
    let mut s = String::new();
    if reply.topologies.is_empty() {
        s.push_str("no topologies\n");
    }
    for t in &reply.topologies {
        let n = t.workers.len();
        s.push_str(&format!(
            "topology {}  {}  version {}  up {:.0} s  {n} {}\n",
            t.id,
            t.status,
            t.version,
            t.uptime_ms as f64 / 1e3,
            if n == 1 { "worker" } else { "workers" }
        ));
        for w in &t.workers {
            let state = if w.state.is_empty() {
                if w.alive { "alive" } else { "silent" }
            } else {
                w.state.as_str()
            };
            let restarts = match (w.restarts, w.last_exit.is_empty()) {
                (0, true) => String::new(),
                (n, true) => format!("  restarts {n}"),
                (n, false) => format!("  restarts {n} (last exit: {})", w.last_exit),
            };
            s.push_str(&format!(
                "  worker {} on {} ({}:{})  {}{}  last heartbeat {} ms ago  [{}]\n",
                w.index,
                w.supervisor,
                w.host,
                w.port,
                state,
                restarts,
                w.last_heartbeat_ms,
                w.executors.join(", ")
            ));
            if !w.unhealthy.is_empty() {
                s.push_str(&format!("    unhealthy: {}\n", w.unhealthy));
            }
        }
        if !t.failure.is_empty() {
            s.push_str(&format!("  failed: {}\n", t.failure));
        }
        if let Some(c) = &t.checkpoints {
            s.push_str(&format!(
                "  checkpoints: last {} ({} ms, {} bytes, alignment {} ms, longest pause {:.1} ms)  completed {}  failed {}  restarts {}  in {}\n",
                if c.last_id == 0 { "none".to_string() } else { c.last_id.to_string() },
                c.last_duration_ms,
                c.last_bytes,
                c.last_alignment_ms,
                c.last_pause_us as f64 / 1e3,
                c.completed,
                c.failed,
                c.restarts,
                c.storage
            ));
            if !c.last_failure.is_empty() {
                s.push_str(&format!("    last failure: {}\n", c.last_failure));
            }
        }
        s.push_str(&format!(
            "  {:<16} {:>13} {:>13} {:>11} {:>9} {:>9} {:>14} {:>14}\n",
            "component",
            "emitted",
            "executed",
            "acked",
            "failed",
            "late",
            "emitted/s 10s",
            "executed/s 10s"
        ));
        for c in &t.components {
            s.push_str(&format!(
                "  {:<16} {:>13} {:>13} {:>11} {:>9} {:>9} {:>14.0} {:>14.0}\n",
                c.component,
                c.emitted,
                c.executed,
                c.acked,
                c.failed,
                c.late,
                c.emitted_per_second,
                c.executed_per_second
            ));
        }
    }
    for sup in &reply.supervisors {
        s.push_str(&format!(
            "supervisor {}  {}  slots {:?}  used {}  {}  last heartbeat {} ms ago\n",
            sup.id,
            sup.host,
            sup.ports,
            sup.used,
            if sup.alive { "alive" } else { "dead" },
            sup.last_heartbeat_ms
        ));
    }
    s
}
