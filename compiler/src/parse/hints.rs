//! Better words for some syntax errors (`E0001`): what a Storm or Flink user, or a typo,
//! most likely meant.
//!
//! pest reports where parsing stopped, which is often one token after the mistake: in
//! `blot split = ...`, `blot` parses as the start of an edge and the error is at `split`.
//! [`hint`] looks at the found token and the word before it and, when it recognises the
//! mistake, moves the caret to it and says what to write:
//!
//! - a misspelt keyword (`blot`, `parallism`, `tople`): "did you mean `bolt`?";
//! - a grouping in Storm's or Flink's words (`fieldsGrouping(word)`, `keyBy(word)`,
//!   `shuffleGrouping`, `broadcast`, `allGrouping`, `globalGrouping`...): the `.topo` word;
//! - a `;` ending an item: not needed.

use super::Rule;
use crate::ast::Span;
use crate::check::suggest::similar;

/// What to say instead of pest's bare "expected ..., found ...".
pub(super) struct Hint {
    /// Where the caret goes.
    pub span: Span,
    /// A new message; `None` keeps "expected ..., found ...".
    pub message: Option<String>,
    /// The text under the caret.
    pub label: String,
    /// The help line.
    pub help: String,
}

/// A hint for the syntax error at `pos`, where pest expected `positives` and found the
/// token `found` (`` `blot` ``, `` `;` ``) of `found_len` bytes.
pub(super) fn hint(positives: &[Rule], source: &str, pos: usize, found: &str) -> Option<Hint> {
    let word = found
        .strip_prefix('`')
        .and_then(|f| f.strip_suffix('`'))
        .unwrap_or(found);
    if word == ";" && !positives.contains(&Rule::semicolon) {
        return Some(Hint {
            span: Span::new(pos, pos + 1),
            message: Some("`;` is not needed here".to_string()),
            label: "remove this `;`".to_string(),
            help: "items in a `.topo` file need no terminator; only `use` declarations end \
                   with `;`"
                .to_string(),
        });
    }
    let is_word = !word.is_empty() && word.chars().all(|c| c.is_alphanumeric() || c == '_');
    if is_word && positives.iter().any(|r| is_grouping(*r)) {
        return grouping(source, pos, word);
    }
    if is_word && let Some(close) = similar(word, keywords_for(positives)) {
        return Some(Hint {
            span: Span::new(pos, pos + word.len()),
            message: None,
            label: format!("did you mean `{close}`?"),
            help: format!("did you mean `{close}`? {}", synopsis(close)),
        });
    }
    // `blot split = ...`: the misspelt word parsed as an edge's source.
    let continues_edge = positives
        .iter()
        .any(|r| matches!(r, Rule::arrow | Rule::edge_stream | Rule::dot));
    if continues_edge && let Some((start, prev)) = word_before(source, pos) {
        let close = similar(prev, ITEM_KEYWORDS.iter().copied())?;
        return Some(Hint {
            span: Span::new(start, start + prev.len()),
            message: Some(format!("unknown keyword `{prev}`")),
            label: format!("did you mean `{close}`?"),
            help: format!("did you mean `{close}`? {}", synopsis(close)),
        });
    }
    None
}

/// Keywords that start an item in a topology, or follow a component.
const ITEM_KEYWORDS: &[&str] = &[
    "spout",
    "bolt",
    "config",
    "parallelism",
    "tasks",
    "attempts",
    "backoff",
];

const DECLARATION_KEYWORDS: &[&str] = &["use", "tuple", "streams", "topology"];

const GROUPINGS: &[&str] = &[
    "shuffle",
    "fields",
    "all",
    "global",
    "none",
    "local_or_shuffle",
    "direct",
    "partial_key",
    "custom",
];

/// The keywords that could stand where pest expected `positives`.
fn keywords_for(positives: &[Rule]) -> Vec<&'static str> {
    let mut out = Vec::new();
    for r in positives {
        let words: &[&str] = match r {
            Rule::file
            | Rule::declaration
            | Rule::use_decl
            | Rule::tuple_decl
            | Rule::streams_decl
            | Rule::topology
            | Rule::kw_use
            | Rule::kw_tuple
            | Rule::kw_streams
            | Rule::kw_topology
            | Rule::EOI => DECLARATION_KEYWORDS,
            Rule::component
            | Rule::component_kind
            | Rule::config_block
            | Rule::kw_config
            | Rule::edge
            | Rule::edge_source
            | Rule::modifier
            | Rule::parallelism
            | Rule::kw_parallelism
            | Rule::tasks
            | Rule::kw_tasks
            | Rule::attempts
            | Rule::kw_attempts
            | Rule::backoff
            | Rule::kw_backoff => ITEM_KEYWORDS,
            Rule::kw_direct => &["direct"],
            _ => &[],
        };
        for w in words {
            if !out.contains(w) {
                out.push(*w);
            }
        }
    }
    out
}

fn is_grouping(rule: Rule) -> bool {
    matches!(
        rule,
        Rule::grouping
            | Rule::simple_grouping
            | Rule::fields
            | Rule::partial_key
            | Rule::custom
            | Rule::fields_kw
            | Rule::partial_key_kw
            | Rule::custom_kw
    )
}

/// A grouping written in Storm's or Flink's words, or misspelt.
fn grouping(source: &str, pos: usize, word: &str) -> Option<Hint> {
    let end = pos + word.len();
    let (args, args_end) = call_args(source, end).unwrap_or_default();
    let args_end = args_end.max(end);
    let fields = if args.is_empty() {
        "field"
    } else {
        args.as_str()
    };
    let (gale, origin) = match word {
        "fieldsGrouping" | "FieldsGrouping" => (format!("fields({fields})"), "Storm's"),
        "keyBy" | "key_by" | "KeyBy" => (format!("fields({fields})"), "Flink's"),
        "groupBy" | "group_by" | "partitionBy" => (format!("fields({fields})"), "another"),
        "shuffleGrouping" | "ShuffleGrouping" => ("shuffle".to_string(), "Storm's"),
        "rebalance" => ("shuffle".to_string(), "Flink's"),
        "allGrouping" | "AllGrouping" => ("all".to_string(), "Storm's"),
        "broadcast" => ("all".to_string(), "Flink's"),
        "globalGrouping" | "GlobalGrouping" => ("global".to_string(), "Storm's"),
        "noneGrouping" | "NoneGrouping" => ("none".to_string(), "Storm's"),
        "forward" => ("none".to_string(), "Flink's"),
        "localOrShuffleGrouping" => ("local_or_shuffle".to_string(), "Storm's"),
        "directGrouping" => ("direct".to_string(), "Storm's"),
        "partialKeyGrouping" => (format!("partial_key({fields})"), "Storm's"),
        "customGrouping" | "partitionCustom" => {
            let path = if args.is_empty() { "MyGrouping" } else { &args };
            (format!("custom({path})"), "a Storm or Flink")
        }
        _ => {
            let close = similar(word, GROUPINGS.iter().copied())?;
            return Some(Hint {
                span: Span::new(pos, end),
                message: None,
                label: format!("did you mean `{close}`?"),
                help: format!(
                    "did you mean `{close}`? the groupings are {}",
                    crate::check::suggest::list(GROUPINGS.iter().copied())
                ),
            });
        }
    };
    let written = &source[pos..args_end];
    Some(Hint {
        span: Span::new(pos, args_end),
        message: Some(format!(
            "`{written}` is {origin} name for a grouping; a `.topo` file writes `{gale}`"
        )),
        label: format!("write `{gale}`"),
        help: format!("write `{gale}`; {}", grouping_meaning(&gale)),
    })
}

fn grouping_meaning(gale: &str) -> &'static str {
    match gale.split('(').next().unwrap_or(gale) {
        "fields" => "equal values of the fields always reach the same task",
        "shuffle" => "tuples are spread evenly at random",
        "all" => "every task receives every tuple",
        "global" => "the whole stream goes to the consumer's lowest task",
        "none" => "one-to-one forward, fused into one task when the parallelisms match",
        "local_or_shuffle" => "a task in the same worker if there is one, else shuffle",
        "direct" => "the emitter names the receiving task",
        "partial_key" => "the less loaded of two candidate tasks for the key",
        _ => "a Rust type implementing `gale::CustomGrouping`",
    }
}

/// `("word", end)` for `("word")` or `(word)` at `at`: the arguments of a call, unquoted.
fn call_args(source: &str, at: usize) -> Option<(String, usize)> {
    let rest = source.get(at..)?;
    let open = rest.len() - rest.trim_start().len();
    if !rest[open..].starts_with('(') {
        return None;
    }
    let close = rest[open..].find([')', '\n'])?;
    if !rest[open + close..].starts_with(')') {
        return None;
    }
    let inner = &rest[open + 1..open + close];
    let args: Vec<String> = inner
        .split(',')
        .map(|a| a.trim().trim_matches(['"', '\'']).trim().to_string())
        .filter(|a| !a.is_empty())
        .collect();
    Some((args.join(", "), at + open + close + 1))
}

/// The word that ends right before `pos` (whitespace between), and its start.
fn word_before(source: &str, pos: usize) -> Option<(usize, &str)> {
    let before = source.get(..pos)?.trim_end();
    let start = before
        .char_indices()
        .rev()
        .take_while(|(_, c)| c.is_alphanumeric() || *c == '_')
        .last()
        .map(|(i, _)| i)?;
    Some((start, &before[start..]))
}

/// One line on what a keyword does.
fn synopsis(keyword: &str) -> &'static str {
    match keyword {
        "spout" => "a spout is declared `spout name = Operator() -> Output`",
        "bolt" => "a bolt is declared `bolt name = Operator(Input) -> Output`",
        "config" => "settings are written `config { key = value, ... }`",
        "parallelism" => "`parallelism N` after a component sets its executors",
        "tasks" => "`tasks N` after a component sets its tasks",
        "attempts" => "`attempts N` after a spout replays a failed tuple",
        "backoff" => "`backoff 100ms` after a spout's `attempts` sets the wait before a replay",
        "use" => "`use crate::ops::{A, B};` imports Rust types",
        "tuple" => "a schema is declared `tuple Name { field: Type }`",
        "streams" => "a stream set is declared `streams Name { stream: Tuple }`",
        "topology" => "a topology is declared `topology name { ... }`",
        "direct" => "`direct` marks a stream whose emitter picks the receiving task",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn call_arguments() {
        assert_eq!(
            call_args(r#"("word", "n") -> x"#, 0),
            Some(("word, n".to_string(), 13))
        );
        assert_eq!(call_args(" (word)", 0), Some(("word".to_string(), 7)));
        assert_eq!(call_args("word", 0), None);
    }

    #[test]
    fn the_word_before() {
        assert_eq!(word_before("  blot split", 7), Some((2, "blot")));
        assert_eq!(word_before("-> ", 3), None);
    }
}
