//! The `config { ... }` block: known keys are typed and range-checked, other keys go to
//! [`Config::extra`] for components to read at run time.
//!
//! | key | value |
//! |-----|-------|
//! | `guarantee` | `at_most_once`, `at_least_once` or `exactly_once` |
//! | `message_timeout` | a duration greater than zero (`30s`) |
//! | `max_spout_pending` | an integer >= 1 |
//! | `ackers` | an integer (0 acks every spout tuple as soon as it is emitted) |
//! | `workers`, `batch_size`, `queue_capacity` | an integer >= 1 |
//! | `max_parallelism` | an integer from 1 to 32768: the key groups of keyed edges |
//! | `checkpoint_interval`, `checkpoint_timeout` | a duration greater than zero |
//! | `max_concurrent_checkpoints`, `retained_checkpoints` | an integer >= 1 |
//! | `restart_strategy` | `none`, `fixed_delay`, `exponential_backoff` or `failure_rate` |
//! | `restart_attempts` | an integer >= 0 |
//! | `restart_delay`, `restart_max_delay`, `restart_failure_interval` | a duration (`restart_delay` may be `0ms`) |
//!
//! What only works with acking (`max_spout_pending`, a spout's `attempts`) needs
//! `guarantee = at_least_once` (`E0504`, see [`require_acking`]); the checkpoint settings
//! need `guarantee = exactly_once` (`E0505`).

use crate::ast::{ConfigBlock, ConfigEntry, ConfigValue, Ident, Span};
use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::graph::{Config, Guarantee, MAX_MAX_PARALLELISM, RestartKind};
use std::collections::HashMap;

/// Checks every entry of every block (later blocks add to earlier ones).
pub(crate) fn check(blocks: &[ConfigBlock], diags: &mut Diagnostics) -> Config {
    let mut config = Config::default();
    let mut seen: HashMap<&str, &Ident> = HashMap::new();
    for entry in blocks.iter().flat_map(|b| &b.entries) {
        if let Some(first) = seen.insert(&entry.key.name, &entry.key) {
            diags.push(
                Diagnostic::error(
                    "E0107",
                    format!("the setting `{}` is given twice", entry.key.name),
                    entry.key.span,
                )
                .with_label("given again here")
                .with_note(first.span, "first given here"),
            );
            continue;
        }
        apply(entry, &mut config, diags);
    }
    if config.guarantee != Guarantee::ExactlyOnce {
        for key in CHECKPOINT_KEYS {
            if let Some(entry) = first_entry(blocks, key) {
                diags.push(without_checkpoints(blocks, entry, config.guarantee));
            }
        }
    }
    restart_settings_used(blocks, config.restart.kind, diags);
    if config.max_spout_pending.is_some()
        && let Some(entry) = first_entry(blocks, "max_spout_pending")
    {
        require_acking(
            blocks,
            "`max_spout_pending`",
            Span::new(entry.key.span.start, entry.value_span.end),
            "bounds the tuples in flight, which only acking tracks",
            diags,
        );
    }
    config
}

/// The `restart_*` settings strategy `kind` reads.
fn settings_of(kind: RestartKind) -> &'static [&'static str] {
    match kind {
        RestartKind::None => &[],
        RestartKind::FixedDelay => &["restart_attempts", "restart_delay"],
        RestartKind::ExponentialBackoff => {
            &["restart_attempts", "restart_delay", "restart_max_delay"]
        }
        RestartKind::FailureRate => &[
            "restart_attempts",
            "restart_delay",
            "restart_failure_interval",
        ],
    }
}

/// `E0506`: a `restart_*` setting the chosen strategy does not read.
fn restart_settings_used(blocks: &[ConfigBlock], kind: RestartKind, diags: &mut Diagnostics) {
    for key in RESTART_SETTINGS {
        if settings_of(kind).contains(key) {
            continue;
        }
        let Some(entry) = first_entry(blocks, key) else {
            continue;
        };
        let users: Vec<&str> = [
            RestartKind::FixedDelay,
            RestartKind::ExponentialBackoff,
            RestartKind::FailureRate,
        ]
        .into_iter()
        .filter(|k| settings_of(*k).contains(key))
        .map(RestartKind::word)
        .collect();
        diags.push(
            Diagnostic::error(
                "E0506",
                format!(
                    "`{key}` does not apply to the restart strategy `{}`",
                    kind.word()
                ),
                Span::new(entry.key.span.start, entry.value_span.end),
            )
            .with_label("not read by this strategy")
            .with_help(format!(
                "it is a setting of `restart_strategy = {}`; remove it, or choose that strategy",
                users.join("` or `")
            )),
        );
    }
}

/// The settings of a strategy (`restart_strategy` itself aside).
const RESTART_SETTINGS: &[&str] = &[
    "restart_attempts",
    "restart_delay",
    "restart_max_delay",
    "restart_failure_interval",
];

/// The settings of checkpoints (`exactly_once`).
const CHECKPOINT_KEYS: [&str; 9] = [
    "checkpoint_interval",
    "checkpoint_timeout",
    "max_concurrent_checkpoints",
    "retained_checkpoints",
    "restart_strategy",
    "restart_attempts",
    "restart_delay",
    "restart_max_delay",
    "restart_failure_interval",
];

/// `E0505`: a checkpoint setting under a guarantee that takes no checkpoints.
fn without_checkpoints(blocks: &[ConfigBlock], entry: &ConfigEntry, g: Guarantee) -> Diagnostic {
    let name = match g {
        Guarantee::AtMostOnce => "at_most_once",
        Guarantee::AtLeastOnce => "at_least_once",
        Guarantee::ExactlyOnce => "exactly_once",
    };
    let d = Diagnostic::error(
        "E0505",
        format!("`{}` needs `guarantee = exactly_once`", entry.key.name),
        Span::new(entry.key.span.start, entry.value_span.end),
    )
    .with_label("only checkpoints use it");
    match first_entry(blocks, "guarantee") {
        Some(e) => d.with_note(e.value_span, "the guarantee is set here").with_help(format!(
            "`{name}` takes no checkpoints: write `guarantee = exactly_once`, or remove the setting"
        )),
        None => d.with_help(format!(
            "the default guarantee, `{name}`, takes no checkpoints: add `guarantee = exactly_once`, or remove the setting"
        )),
    }
}

/// A duration setting greater than zero, in ms.
fn positive_duration(entry: &ConfigEntry, help: &str, diags: &mut Diagnostics) -> Option<u64> {
    match entry.value {
        ConfigValue::DurationMs(0) => {
            diags.push(out_of_range(entry, "must be longer than zero").with_help(help.to_string()));
            None
        }
        ConfigValue::DurationMs(ms) => Some(ms),
        ConfigValue::Int(n) => {
            diags.push(
                wrong_type(entry, "a duration such as `10s`")
                    .with_help(format!("give the unit: `{n}s` or `{n}ms`")),
            );
            None
        }
        _ => {
            diags.push(wrong_type(entry, "a duration such as `10s`"));
            None
        }
    }
}

/// A duration setting that may be zero.
fn duration(entry: &ConfigEntry, diags: &mut Diagnostics) -> Option<u64> {
    match entry.value {
        ConfigValue::DurationMs(ms) => Some(ms),
        ConfigValue::Int(n) => {
            diags.push(
                wrong_type(entry, "a duration such as `1s`")
                    .with_help(format!("give the unit: `{n}s` or `{n}ms`")),
            );
            None
        }
        _ => {
            diags.push(wrong_type(entry, "a duration such as `1s`"));
            None
        }
    }
}

/// The strategy `restart_strategy` names (`E0501` / `E0507` otherwise).
fn restart_kind(entry: &ConfigEntry, diags: &mut Diagnostics) -> Option<RestartKind> {
    const ALL: [RestartKind; 4] = [
        RestartKind::None,
        RestartKind::FixedDelay,
        RestartKind::ExponentialBackoff,
        RestartKind::FailureRate,
    ];
    let ConfigValue::Word(word) = &entry.value else {
        diags.push(wrong_type(
            entry,
            "one of `none`, `fixed_delay`, `exponential_backoff`, `failure_rate`",
        ));
        return None;
    };
    if let Some(k) = ALL.into_iter().find(|k| k.word() == word) {
        return Some(k);
    }
    let d = Diagnostic::error(
        "E0507",
        format!("unknown restart strategy `{word}`"),
        entry.value_span,
    )
    .with_label("not a restart strategy");
    diags.push(
        match super::suggest::similar(word, ALL.into_iter().map(|k| k.word())) {
            Some(close) => d.with_help(format!("did you mean `{close}`?")),
            None => d.with_help(
                "the strategies are `none`, `fixed_delay`, `exponential_backoff` and `failure_rate`",
            ),
        },
    );
    None
}

/// The first entry with this key (the one in effect: later ones are `E0107`).
fn first_entry<'a>(blocks: &'a [ConfigBlock], key: &str) -> Option<&'a ConfigEntry> {
    blocks
        .iter()
        .flat_map(|b| &b.entries)
        .find(|e| e.key.name == key)
}

/// `E0504`: `what`, written at `span`, only works with Storm's acking. Reported unless the
/// topology's guarantee is `at_least_once`, or is invalid (already reported: no cascade).
pub(crate) fn require_acking(
    blocks: &[ConfigBlock],
    what: &str,
    span: Span,
    label: &str,
    diags: &mut Diagnostics,
) {
    let entry = first_entry(blocks, "guarantee");
    let current = match entry.map(|e| guarantee_of(&e.value)) {
        None => Guarantee::AtMostOnce,
        Some(Some(g)) => g,
        Some(None) => return,
    };
    let (name, why) = match current {
        Guarantee::AtLeastOnce => return,
        Guarantee::AtMostOnce => ("at_most_once", "tracks no tuple"),
        Guarantee::ExactlyOnce => ("exactly_once", "restores checkpoints instead of acking"),
    };
    let d = Diagnostic::error(
        "E0504",
        format!("{what} needs `guarantee = at_least_once`"),
        span,
    )
    .with_label(label);
    let d = match entry {
        Some(e) => d
            .with_note(e.value_span, "the guarantee is set here")
            .with_help(format!("write `guarantee = at_least_once`: `{name}` {why}")),
        None if blocks.is_empty() => d.with_help(format!(
            "add `config {{ guarantee = at_least_once }}` to the topology: the default, \
             `{name}`, {why}"
        )),
        None => d.with_help(format!(
            "add `guarantee = at_least_once` to the `config` block: the default, `{name}`, {why}"
        )),
    };
    diags.push(d);
}

/// Stores one entry in `config`, or reports why it cannot be.
fn apply(entry: &ConfigEntry, config: &mut Config, diags: &mut Diagnostics) {
    let key = entry.key.name.as_str();
    match key {
        "guarantee" => {
            if let Some(g) = guarantee(entry, diags) {
                config.guarantee = g;
            }
        }
        "message_timeout" => match entry.value {
            ConfigValue::DurationMs(0) => {
                diags.push(out_of_range(entry, "must be longer than zero").with_help(
                    "a tuple tree not completed within the timeout is replayed; try `30s`",
                ))
            }
            ConfigValue::DurationMs(ms) => config.message_timeout_ms = ms,
            ConfigValue::Int(n) => diags.push(
                wrong_type(entry, "a duration such as `30s`")
                    .with_help(format!("give the unit: `{n}s` or `{n}ms`")),
            ),
            _ => diags.push(wrong_type(entry, "a duration such as `30s`")),
        },
        "ackers" => {
            if let Some(n) = integer(entry, 0, diags) {
                config.ackers = Some(n);
            }
        }
        "max_spout_pending" => {
            if let Some(n) = integer(entry, 1, diags) {
                config.max_spout_pending = Some(n);
            }
        }
        "workers" => {
            if let Some(n) = integer(entry, 1, diags) {
                config.workers = n;
            }
        }
        "batch_size" => {
            if let Some(n) = integer(entry, 1, diags) {
                config.batch_size = Some(n);
            }
        }
        "queue_capacity" => {
            if let Some(n) = integer(entry, 1, diags) {
                config.queue_capacity = Some(n);
            }
        }
        "max_parallelism" => {
            if let Some(n) = integer(entry, 1, diags) {
                if n > MAX_MAX_PARALLELISM {
                    diags.push(
                        out_of_range(entry, &format!("must be at most {MAX_MAX_PARALLELISM}"))
                            .with_help(
                                "it is the number of key groups keyed state is split into; \
                                 the default, 128, suits up to 128 tasks per component",
                            ),
                    );
                } else {
                    config.max_parallelism = n;
                }
            }
        }
        "checkpoint_interval" => {
            let help = "a checkpoint is taken this often; try `10s`";
            if let Some(ms) = positive_duration(entry, help, diags) {
                config.checkpoint_interval_ms = Some(ms);
            }
        }
        "checkpoint_timeout" => {
            let help = "a checkpoint not complete within it is aborted; try `10m`";
            if let Some(ms) = positive_duration(entry, help, diags) {
                config.checkpoint_timeout_ms = ms;
            }
        }
        "max_concurrent_checkpoints" => {
            if let Some(n) = integer(entry, 1, diags) {
                config.max_concurrent_checkpoints = n;
            }
        }
        "retained_checkpoints" => {
            if let Some(n) = integer(entry, 1, diags) {
                config.retained_checkpoints = n;
            }
        }
        "restart_strategy" => {
            if let Some(kind) = restart_kind(entry, diags) {
                config.restart.kind = kind;
            }
        }
        "restart_attempts" => {
            if let Some(n) = integer(entry, 0, diags) {
                config.restart.attempts = Some(n);
            }
        }
        "restart_delay" => {
            if let Some(ms) = duration(entry, diags) {
                config.restart.delay_ms = Some(ms);
            }
        }
        "restart_max_delay" => {
            let help = "the longest wait between two restarts; try `5m`";
            if let Some(ms) = positive_duration(entry, help, diags) {
                config.restart.max_delay_ms = Some(ms);
            }
        }
        "restart_failure_interval" => {
            let help = "failures are counted over this interval; try `1m`";
            if let Some(ms) = positive_duration(entry, help, diags) {
                config.restart.failure_interval_ms = Some(ms);
            }
        }
        _ => {
            config.extra.insert(key.to_string(), entry.value.clone());
        }
    }
}

fn guarantee(entry: &ConfigEntry, diags: &mut Diagnostics) -> Option<Guarantee> {
    const HELP: &str = "the guarantees are `at_most_once`, `at_least_once` and `exactly_once`";
    let ConfigValue::Word(word) = &entry.value else {
        diags.push(wrong_type(
            entry,
            "one of `at_most_once`, `at_least_once`, `exactly_once`",
        ));
        return None;
    };
    if let Some(g) = guarantee_of(&entry.value) {
        return Some(g);
    }
    let d = Diagnostic::error(
        "E0502",
        format!("unknown guarantee `{word}`"),
        entry.value_span,
    )
    .with_label("not a guarantee");
    let close = super::suggest::similar(word, ["at_most_once", "at_least_once", "exactly_once"]);
    diags.push(match close {
        Some(close) => d.with_help(format!("did you mean `{close}`?")),
        None => d.with_help(HELP),
    });
    None
}

/// The guarantee a `guarantee` value names, if it names one.
fn guarantee_of(value: &ConfigValue) -> Option<Guarantee> {
    match value {
        ConfigValue::Word(w) if w == "at_most_once" => Some(Guarantee::AtMostOnce),
        ConfigValue::Word(w) if w == "at_least_once" => Some(Guarantee::AtLeastOnce),
        ConfigValue::Word(w) if w == "exactly_once" => Some(Guarantee::ExactlyOnce),
        _ => None,
    }
}

/// An integer setting of at least `min`.
fn integer(entry: &ConfigEntry, min: u64, diags: &mut Diagnostics) -> Option<u64> {
    let ConfigValue::Int(n) = entry.value else {
        diags.push(wrong_type(entry, "an integer"));
        return None;
    };
    if n < min {
        let mut d = out_of_range(entry, &format!("must be at least {min}"));
        if entry.key.name == "max_spout_pending" {
            d = d.with_help("to leave the tuples in flight unbounded, remove the setting");
        }
        diags.push(d);
        return None;
    }
    Some(n)
}

fn wrong_type(entry: &ConfigEntry, expected: &str) -> Diagnostic {
    Diagnostic::error(
        "E0501",
        format!(
            "`{}` expects {expected}, found {}",
            entry.key.name,
            describe(&entry.value)
        ),
        entry.value_span,
    )
    .with_label(format!("expected {expected}"))
}

fn out_of_range(entry: &ConfigEntry, why: &str) -> Diagnostic {
    Diagnostic::error(
        "E0503",
        format!("`{}` {why}", entry.key.name),
        entry.value_span,
    )
    .with_label("out of range")
}

/// "a duration", "the word `fast`": how a value reads in a message.
fn describe(value: &ConfigValue) -> String {
    match value {
        ConfigValue::Int(n) => format!("the integer `{n}`"),
        ConfigValue::Float(_) => "a decimal number".to_string(),
        ConfigValue::Bool(b) => format!("`{b}`"),
        ConfigValue::Str(_) => "a string".to_string(),
        ConfigValue::DurationMs(_) => "a duration".to_string(),
        ConfigValue::Word(w) => format!("the word `{w}`"),
    }
}
