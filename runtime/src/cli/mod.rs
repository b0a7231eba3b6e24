//! The command line every topology binary gets from [`gale::main`](crate::main):
//! `run` (local mode) and `plan` (the physical plan, or Graphviz with `--dot`).

pub mod check;
mod duration;
mod plan_view;
mod progress;
mod ui;

pub use duration::parse_duration;
pub use plan_view::{render_dot, render_plan};

use crate::exec::local::{RunOptions, run_local};
use crate::topology::Topology;
use clap::{Arg, ArgAction, Command};
use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

fn command(name: &'static str) -> Command {
    let cmd = Command::new(name)
        .about("A Gale topology binary")
        .subcommand_required(true)
        .arg_required_else_help(true)
        .subcommand(
            Command::new("run")
                .about("Run the whole topology in this process (local mode)")
                .arg(
                    Arg::new("duration")
                        .long("duration")
                        .value_name("DURATION")
                        .help("Stop the spouts after this long, then drain (e.g. 10s, 500ms, 2m)"),
                )
                .arg(
                    Arg::new("no-progress")
                        .long("no-progress")
                        .action(ArgAction::SetTrue)
                        .help("Do not show the live progress line"),
                )
                .arg(
                    Arg::new("set")
                        .long("set")
                        .value_name("KEY=VALUE")
                        .action(ArgAction::Append)
                        .help("Override a config entry the components read (repeatable)"),
                )
                .arg(
                    Arg::new("quiet")
                        .long("quiet")
                        .short('q')
                        .action(ArgAction::SetTrue)
                        .help("Do not print the summary"),
                )
                .arg(
                    Arg::new("checkpoint-dir")
                        .long("checkpoint-dir")
                        .value_name("DIR")
                        .value_parser(clap::value_parser!(std::path::PathBuf))
                        .help("Where an exactly_once topology writes its checkpoints"),
                )
                .arg(
                    Arg::new("from-savepoint")
                        .long("from-savepoint")
                        .value_name("DIR")
                        .value_parser(clap::value_parser!(std::path::PathBuf))
                        .requires("checkpoint-dir")
                        .conflicts_with("restore")
                        .help(
                            "Start from the savepoint in DIR (as `savepoint --dir DIR` wrote \
                             it), also with other task counts: keyed state moves by key group",
                        ),
                )
                .arg(
                    Arg::new("restore")
                        .long("restore")
                        .action(ArgAction::SetTrue)
                        .requires("checkpoint-dir")
                        .help(
                            "Start from the latest complete checkpoint in --checkpoint-dir \
                             (after a crash; corrupt or incomplete ones are skipped)",
                        ),
                )
                .arg(
                    Arg::new("ui")
                        .long("ui")
                        .value_name("ADDR")
                        .value_parser(clap::value_parser!(std::net::SocketAddr))
                        .help(
                            "Serve the web UI, REST API and /metrics of this run on ADDR \
                             (e.g. 127.0.0.1:8080; loopback only without GALE_SECRET)",
                        ),
                )
                .arg(crate::cluster::cli::log_format_arg()),
        )
        .subcommand(
            Command::new("savepoint")
                .about("Take a savepoint of a local run of this topology (a kept checkpoint)")
                .arg(
                    Arg::new("checkpoint-dir")
                        .long("checkpoint-dir")
                        .value_name("DIR")
                        .required(true)
                        .value_parser(clap::value_parser!(std::path::PathBuf))
                        .help("The --checkpoint-dir of the run"),
                )
                .arg(
                    Arg::new("dir")
                        .long("dir")
                        .value_name("OUT")
                        .value_parser(clap::value_parser!(std::path::PathBuf))
                        .help("Copy the savepoint here (default: keep it in the checkpoint directory)"),
                )
                .arg(
                    Arg::new("timeout")
                        .long("timeout")
                        .value_name("DURATION")
                        .default_value("60s")
                        .help("How long to wait for the run to take it"),
                ),
        )
        .subcommand(
            Command::new("plan")
                .about("Print the physical plan: tasks, fused chains, edges and groupings")
                .arg(
                    Arg::new("dot")
                        .long("dot")
                        .action(ArgAction::SetTrue)
                        .help("Print Graphviz DOT instead"),
                ),
        )
        .subcommand(
            Command::new("submit")
                .about("Upload this binary and its plan to a cluster's nimbus")
                .arg(crate::cluster::cli::nimbus_arg())
                .arg(
                    Arg::new("workers")
                        .long("workers")
                        .value_name("N")
                        .value_parser(clap::value_parser!(u32).range(1..=1024))
                        .help("Worker processes (default: the topology's `workers` setting)"),
                )
                .arg(
                    Arg::new("set")
                        .long("set")
                        .value_name("KEY=VALUE")
                        .action(ArgAction::Append)
                        .help("Override a config entry the components read (repeatable)"),
                )
                .arg(
                    Arg::new("checkpoint-dir")
                        .long("checkpoint-dir")
                        .value_name("URL")
                        .help(
                            "exactly_once: where checkpoints go, a directory or object store \
                             URL every machine reaches (file://, s3://, gs://, az://; \
                             default: nimbus's directory, reachable on its machine only)",
                        ),
                )
                .arg(
                    Arg::new("from-savepoint")
                        .long("from-savepoint")
                        .value_name("DIR")
                        .help(
                            "exactly_once: start from this savepoint (what `gale savepoint` \
                             printed, or a directory it wrote), also at other task counts; \
                             checked against this binary before the upload",
                        ),
                ),
        )
        .subcommand(
            Command::new("worker")
                .about("Run one worker of a submitted topology (started by a supervisor)")
                .hide(true)
                .arg(crate::cluster::cli::nimbus_arg())
                .arg(Arg::new("topology").long("topology").required(true))
                .arg(
                    Arg::new("worker")
                        .long("worker")
                        .required(true)
                        .value_parser(clap::value_parser!(u32)),
                )
                .arg(
                    Arg::new("version")
                        .long("version")
                        .value_parser(clap::value_parser!(u64))
                        .help("The assignment version the supervisor started it for"),
                )
                .arg(
                    Arg::new("sha256")
                        .long("sha256")
                        .help("The SHA-256 of the binary the supervisor started"),
                )
                .arg(crate::cluster::cli::log_format_arg()),
        );
    crate::cluster::cli::security_args(cmd)
}

/// Parses the command line and runs the topology: the `main` of every topology binary.
///
/// ```no_run
/// # mod wordcount { pub fn topology() -> gale::Topology { unimplemented!() } }
/// fn main() -> std::process::ExitCode {
///     gale::main(wordcount::topology())
/// }
/// ```
pub fn main(topology: Topology) -> ExitCode {
    main_from(topology, std::env::args_os())
}

/// [`main`] with explicit arguments (the first is the program name).
pub fn main_from<I, T>(topology: Topology, args: I) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let matches = match command(topology.desc().name).try_get_matches_from(args) {
        Ok(m) => m,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    match matches.subcommand() {
        Some(("submit", m)) => submit(topology, m),
        Some(("worker", m)) => {
            if let Err(e) = crate::cluster::cli::install_logs(m) {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
            let args = crate::cluster::worker::WorkerArgs {
                nimbus: m.get_one::<String>("nimbus").cloned().unwrap_or_default(),
                topology: m.get_one::<String>("topology").cloned().unwrap_or_default(),
                worker: m.get_one::<u32>("worker").copied().unwrap_or(0),
                version: m.get_one::<u64>("version").copied(),
                sha256: m.get_one::<String>("sha256").cloned(),
            };
            ExitCode::from(crate::cluster::worker::run(topology, &args))
        }
        Some(("savepoint", m)) => {
            let timeout = match m.get_one::<String>("timeout").map(|s| parse_duration(s)) {
                Some(Ok(d)) => d,
                Some(Err(e)) => {
                    eprintln!("error: --timeout: {e}");
                    return ExitCode::from(2);
                }
                None => std::time::Duration::from_secs(60),
            };
            let Some(dir) = m.get_one::<std::path::PathBuf>("checkpoint-dir") else {
                return ExitCode::from(2);
            };
            let target = m.get_one::<std::path::PathBuf>("dir");
            match crate::exec::savepoints::request(dir, target.map(|p| p.as_path()), timeout) {
                Ok((id, path)) => {
                    println!("savepoint {id} written to {}", path.display());
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Some(("plan", m)) => {
            if m.get_flag("dot") {
                print!("{}", render_dot(topology.desc()));
            } else {
                print!("{}", render_plan(topology.desc()));
            }
            ExitCode::SUCCESS
        }
        Some(("run", m)) => {
            if let Err(e) = crate::cluster::cli::install_logs(m) {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
            let duration = match m.get_one::<String>("duration").map(|s| parse_duration(s)) {
                None => None,
                Some(Ok(d)) => Some(d),
                Some(Err(e)) => {
                    eprintln!("error: invalid --duration: {e}");
                    return ExitCode::from(2);
                }
            };
            let mut overrides = Vec::new();
            for kv in m.get_many::<String>("set").into_iter().flatten() {
                let Some((k, v)) = kv.split_once('=') else {
                    eprintln!("error: --set expects KEY=VALUE, got `{kv}`");
                    return ExitCode::from(2);
                };
                let key: &'static str = Box::leak(k.trim().to_string().into_boxed_str());
                overrides.push((key, crate::topology::ConfigValue::parse(v.trim())));
            }
            crate::topology::set_config_overrides(overrides);
            let stop = Arc::new(AtomicBool::new(false));
            let handler_stop = stop.clone();
            // A second Ctrl-C exits at once; the first stops the spouts and drains.
            let _ = ctrlc::set_handler(move || {
                if handler_stop.swap(true, Ordering::Relaxed) {
                    std::process::exit(130);
                }
                eprintln!("\nstopping: draining in-flight tuples (Ctrl-C again to exit now)");
            });
            let show = !m.get_flag("no-progress") && std::io::stderr().is_terminal();
            let live = match m.get_one::<std::net::SocketAddr>("ui") {
                Some(&addr) => {
                    let live = crate::exec::local::LiveMetrics::default();
                    if let Err(e) = ui::start(topology.desc(), live.clone(), stop.clone(), addr) {
                        eprintln!("error: {e}");
                        return ExitCode::FAILURE;
                    }
                    Some(live)
                }
                None => None,
            };
            let options = RunOptions {
                duration,
                stop: Some(stop),
                progress: if show { Some(progress::show) } else { None },
                clock: None,
                checkpoint_dir: m.get_one::<std::path::PathBuf>("checkpoint-dir").cloned(),
                restore: m.get_flag("restore"),
                from_savepoint: m.get_one::<std::path::PathBuf>("from-savepoint").cloned(),
                live,
            };
            match run_local(topology, options) {
                Ok(summary) => {
                    if show {
                        progress::clear();
                    }
                    if !m.get_flag("quiet") {
                        eprint!("{}", summary.render());
                    }
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        _ => ExitCode::from(2),
    }
}

/// `submit`: uploads this very binary with its plan.
fn submit(topology: Topology, m: &clap::ArgMatches) -> ExitCode {
    use crate::cluster::{cli, client, submit};
    let result = (|| {
        let security = cli::security_from(m)?;
        let nimbus = m.get_one::<String>("nimbus").cloned().unwrap_or_default();
        let mut plan = submit::plan(topology.desc(), m.get_one::<u32>("workers").copied());
        for kv in m.get_many::<String>("set").into_iter().flatten() {
            let (k, v) = kv
                .split_once('=')
                .ok_or_else(|| format!("--set expects KEY=VALUE, got `{kv}`"))?;
            plan.config
                .insert(k.trim().to_string(), v.trim().to_string());
        }
        if let Some(ck) = plan.checkpoints.as_mut() {
            // `--set restart_strategy=...` and the other restart keys, as `run --set` takes
            // them: nimbus restarts the topology by this strategy.
            let strategy = topology
                .desc()
                .settings
                .restart
                .with_overrides(|k| {
                    plan.config
                        .get(k)
                        .map(|v| crate::topology::ConfigValue::parse(v))
                })
                .map_err(|e| e.to_string())?;
            ck.restart = Some(crate::cluster::checkpoint_plan::restart_plan(strategy));
            if let Some(dir) = m.get_one::<String>("checkpoint-dir") {
                ck.storage = dir.clone();
            }
            if let Some(from) = m.get_one::<String>("from-savepoint") {
                let (root, id) =
                    crate::cluster::checkpoint_plan::resolve_savepoint(topology.desc(), from)?;
                eprintln!("gale: starting from savepoint {id} in {root}");
                ck.from_savepoint = root;
                ck.from_savepoint_id = id;
            }
        } else if m.contains_id("checkpoint-dir") || m.contains_id("from-savepoint") {
            return Err(
                "--checkpoint-dir and --from-savepoint are for `guarantee = exactly_once` topologies"
                    .to_string(),
            );
        }
        let exe = std::env::current_exe().map_err(|e| format!("cannot find this binary: {e}"))?;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        rt.block_on(async {
            let mut c = client::connect(&nimbus, &security).await?;
            submit::upload(&mut c, &exe, plan).await
        })
    })();
    match result {
        Ok(reply) => {
            println!(
                "submitted {} ({} workers)",
                reply.topology_id, reply.workers
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
