//! Structured logs: every daemon (`gale nimbus`, `gale supervisor`), every worker and every
//! local run (`run`) logs with [`tracing`] to stderr.
//!
//! - **Format.** Text by default, one line per event, as a person reads it (colour only
//!   when stderr is a terminal); JSON lines with `--log-format json` or
//!   `GALE_LOG_FORMAT=json` (the flag wins), in `tracing-subscriber`'s JSON layout: the
//!   event's `level`, `target` and `fields` (its message is `fields.message`), the span it
//!   happened in (`span`) and every span around it (`spans`), outermost first.
//! - **Filter.** `RUST_LOG`, with `tracing-subscriber`'s `EnvFilter` syntax
//!   (`warn`, `info,gale::transport=debug`...); `info` when unset or empty.
//! - **Context.** A worker's own thread runs in a `worker` span (`topology`, `worker`);
//!   each executor thread, of a worker or of a local run, in an `executor` span
//!   (`topology`, `component`, `executor`, `task`), so that whatever an
//!   executor logs (a failed tuple, a checkpoint, a router's complaint) names them. A span
//!   is entered once, at the top of the thread: nothing is done per tuple.
//!
//! A supervisor hands its format and filter to the workers it starts, in their
//! environment ([`LogConfig::to_env`]).
//!
//! A worker's line from inside an executor (one line, wrapped here):
//!
//! ```text
//! {"timestamp":"2026-12-03T19:55:09.640536Z","level":"WARN","fields":{"message":"bolt `count` task 6
//!  failed a tuple (1 so far): panicked: chaos","component":"count","task":6,"failed":1},
//!  "target":"gale::exec::chain::stage",
//!  "span":{"component":"count","executor":0,"task":"5-6","topology":"exactly_once-1","name":"executor"},
//!  "spans":[{"topology":"exactly_once-1","worker":0,"name":"worker"},
//!           {"component":"count","executor":0,"task":"5-6","topology":"exactly_once-1","name":"executor"}]}
//! ```
//!
//! Parsing ([`LogFormat`], [`LogConfig::resolve`]) is pure; [`init`] installs the global
//! subscriber, once: a later call leaves the first one in place.

use std::fmt;
use std::io::IsTerminal;
use std::str::FromStr;
use tracing_subscriber::EnvFilter;

/// The environment variable naming the log format (`text` or `json`), when no
/// `--log-format` flag is given.
pub const FORMAT_ENV: &str = "GALE_LOG_FORMAT";
/// The environment variable holding the filter directives.
pub const FILTER_ENV: &str = "RUST_LOG";
/// The filter when [`FILTER_ENV`] is unset or empty.
pub const DEFAULT_FILTER: &str = "info";

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// One human-readable line per event (the default).
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

impl LogFormat {
    /// Every format, by the name it is given on the command line.
    pub const ALL: [LogFormat; 2] = [LogFormat::Text, LogFormat::Json];

    /// Its name, as `--log-format` and [`FORMAT_ENV`] take it.
    pub fn name(self) -> &'static str {
        match self {
            LogFormat::Text => "text",
            LogFormat::Json => "json",
        }
    }
}

impl fmt::Display for LogFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for LogFormat {
    type Err = LogError;

    /// `text` or `json` (ASCII case and surrounding spaces ignored).
    fn from_str(s: &str) -> Result<Self, LogError> {
        let given = s.trim();
        LogFormat::ALL
            .into_iter()
            .find(|f| f.name().eq_ignore_ascii_case(given))
            .ok_or_else(|| LogError::UnknownFormat {
                given: s.to_string(),
            })
    }
}

/// A log setting that cannot be used. Not retryable: the process does not start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LogError {
    /// A format other than `text` or `json`.
    #[error("unknown log format `{given}`: expected `text` or `json`")]
    UnknownFormat {
        /// What was given.
        given: String,
    },
    /// Filter directives `EnvFilter` refuses.
    #[error(
        "invalid {FILTER_ENV} `{given}`: {reason} (expected directives such as `info` or `warn,gale::cluster=debug`)"
    )]
    BadFilter {
        /// What was given.
        given: String,
        /// Why it was refused.
        reason: String,
    },
}

/// How a process logs: a format and a filter, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogConfig {
    /// Text or JSON lines.
    pub format: LogFormat,
    /// `RUST_LOG`-style directives ([`DEFAULT_FILTER`] when none were given).
    pub filter: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            format: LogFormat::Text,
            filter: DEFAULT_FILTER.to_string(),
        }
    }
}

impl LogConfig {
    /// The configuration `flag` (the `--log-format` given, if any), `format_env` (the
    /// value of [`FORMAT_ENV`]) and `filter_env` (of [`FILTER_ENV`]) describe: the flag
    /// over the environment over the defaults; an empty variable counts as unset.
    pub fn resolve(
        flag: Option<LogFormat>,
        format_env: Option<&str>,
        filter_env: Option<&str>,
    ) -> Result<LogConfig, LogError> {
        let format = match (flag, format_env.filter(|v| !v.trim().is_empty())) {
            (Some(f), _) => f,
            (None, Some(v)) => v.parse()?,
            (None, None) => LogFormat::default(),
        };
        let filter = filter_env
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .unwrap_or(DEFAULT_FILTER)
            .to_string();
        let config = LogConfig { format, filter };
        config.env_filter()?;
        Ok(config)
    }

    /// [`LogConfig::resolve`] with this process's environment.
    pub fn from_env(flag: Option<LogFormat>) -> Result<LogConfig, LogError> {
        let var = |name: &str| std::env::var_os(name).map(|v| v.to_string_lossy().into_owned());
        Self::resolve(flag, var(FORMAT_ENV).as_deref(), var(FILTER_ENV).as_deref())
    }

    /// The environment that gives a child process (a worker) this configuration.
    pub fn to_env(&self) -> [(&'static str, String); 2] {
        [
            (FORMAT_ENV, self.format.name().to_string()),
            (FILTER_ENV, self.filter.clone()),
        ]
    }

    fn env_filter(&self) -> Result<EnvFilter, LogError> {
        EnvFilter::try_new(&self.filter).map_err(|e| LogError::BadFilter {
            given: self.filter.clone(),
            reason: e.to_string(),
        })
    }
}

/// Installs the process's subscriber for `config`, writing to stderr. Returns false when
/// the process already had one (that one stays: a second call is harmless).
pub fn init(config: &LogConfig) -> Result<bool, LogError> {
    let filter = config.env_filter()?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let installed = match config.format {
        LogFormat::Text => builder
            .with_ansi(std::io::stderr().is_terminal())
            .try_init(),
        LogFormat::Json => builder
            .json()
            .with_current_span(true)
            .with_span_list(true)
            .try_init(),
    };
    Ok(installed.is_ok())
}

/// [`LogConfig::from_env`] then [`init`]: what a process does first. Returns the
/// configuration (a supervisor hands it on to its workers).
pub fn install(flag: Option<LogFormat>) -> Result<LogConfig, LogError> {
    let config = LogConfig::from_env(flag)?;
    init(&config)?;
    Ok(config)
}

/// The span an executor thread runs in: `topology` (its id on a cluster, its name in a
/// local run), `component` (the name of its chain's head, `__acker` for an acker),
/// `executor` (its index in the chain) and `task` (the task ids it runs: `3`, or `2-3`).
/// Made where the thread is spawned, so its parent is the spawner's span (a worker's).
pub(crate) fn executor_span(
    topology: &str,
    component: &str,
    executor: u32,
    tasks: std::ops::Range<u32>,
) -> tracing::Span {
    tracing::info_span!(
        "executor",
        topology = %topology,
        component = %component,
        executor,
        task = %TaskRange(tasks),
    )
}

/// Task ids as a log field: `3`, `2-3`, or `-` for none.
struct TaskRange(std::ops::Range<u32>);

impl fmt::Display for TaskRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let r = &self.0;
        match r.end.saturating_sub(r.start) {
            0 => f.write_str("-"),
            1 => write!(f, "{}", r.start),
            _ => write!(f, "{}-{}", r.start, r.end - 1),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_are_named_text_and_json() {
        assert_eq!("text".parse(), Ok(LogFormat::Text));
        assert_eq!("json".parse(), Ok(LogFormat::Json));
        assert_eq!(" JSON ".parse(), Ok(LogFormat::Json));
        for f in LogFormat::ALL {
            assert_eq!(f.name().parse(), Ok(f));
            assert_eq!(f.to_string(), f.name());
        }
        assert_eq!(LogFormat::default(), LogFormat::Text);
    }

    #[test]
    fn an_unknown_format_names_the_accepted_ones() {
        let e = "xml".parse::<LogFormat>().expect_err("xml is no format");
        assert_eq!(
            e,
            LogError::UnknownFormat {
                given: "xml".into()
            }
        );
        assert_eq!(
            e.to_string(),
            "unknown log format `xml`: expected `text` or `json`"
        );
        assert!("".parse::<LogFormat>().is_err());
    }

    #[test]
    fn the_flag_wins_over_the_environment_over_the_defaults() {
        let r = LogConfig::resolve;
        assert_eq!(r(None, None, None), Ok(LogConfig::default()));
        assert_eq!(
            r(None, Some("json"), None).map(|c| c.format),
            Ok(LogFormat::Json)
        );
        assert_eq!(
            r(Some(LogFormat::Text), Some("json"), None).map(|c| c.format),
            Ok(LogFormat::Text)
        );
        // The flag wins even over a bad variable.
        assert_eq!(
            r(Some(LogFormat::Json), Some("yaml"), None).map(|c| c.format),
            Ok(LogFormat::Json)
        );
        assert_eq!(r(None, Some("  "), Some("")), Ok(LogConfig::default()));
        assert!(matches!(
            r(None, Some("yaml"), None),
            Err(LogError::UnknownFormat { given }) if given == "yaml"
        ));
    }

    #[test]
    fn the_filter_is_rust_log_checked() {
        let filter = |v| LogConfig::resolve(None, None, Some(v)).map(|c| c.filter);
        assert_eq!(filter("warn"), Ok("warn".to_string()));
        assert_eq!(
            filter(" info,gale::transport=debug "),
            Ok("info,gale::transport=debug".to_string())
        );
        let e = filter("gale=loud").expect_err("no such level");
        assert!(matches!(&e, LogError::BadFilter { given, .. } if given == "gale=loud"));
        assert!(
            e.to_string().contains("invalid RUST_LOG `gale=loud`"),
            "{e}"
        );
    }

    #[test]
    fn a_worker_gets_the_supervisors_format_and_filter() {
        let c = LogConfig::resolve(Some(LogFormat::Json), None, Some("debug"))
            .expect("a good configuration");
        let env = c.to_env();
        assert_eq!(
            env,
            [
                (FORMAT_ENV, "json".to_string()),
                (FILTER_ENV, "debug".to_string())
            ]
        );
        let again = LogConfig::resolve(None, Some(&env[0].1), Some(&env[1].1));
        assert_eq!(again, Ok(c));
    }

    #[test]
    fn a_second_init_is_harmless() {
        // Off: the subscriber is the test process's, and would print the other tests' logs.
        let c = LogConfig::resolve(None, None, Some("off")).expect("`off` is a filter");
        assert!(init(&c).is_ok());
        assert_eq!(init(&c), Ok(false), "the first subscriber stays");
    }

    #[test]
    fn task_ranges_read_as_people_write_them() {
        assert_eq!(TaskRange(3..4).to_string(), "3");
        assert_eq!(TaskRange(2..4).to_string(), "2-3");
        assert_eq!(TaskRange(5..5).to_string(), "-");
    }
}
