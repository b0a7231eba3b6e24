//! Parsing `.topo` text into an [`ast::File`](crate::ast::File) with pest.
//!
//! The syntax lives in one place, `grammar/topo.pest`; this module derives a parser from it
//! and walks the resulting pairs into the AST, keeping a byte [`Span`] on everything a later
//! diagnostic may point at. It validates nothing beyond syntax, except what only the parser
//! can see: numbers that do not fit in 64 bits (`E0002`), unknown string escapes (`E0003`)
//! and a `parallelism`, `tasks`, `attempts` or `backoff` clause written twice (`E0004`).
//!
//! A syntax error (`E0001`) is worded for people: pest's expected rules are translated into
//! phrases such as "expected a grouping such as `shuffle` or `fields(word)`, found `fieds`"
//! (see `describe`), never internal rule names.
//!
//! ```
//! let file = gale_compiler::parse::parse("topology t { spout s = S -> W }").unwrap();
//! assert_eq!(file.topologies[0].components[0].name.name, "s");
//! ```

use crate::ast::{
    BuiltinCall, Clause, Component, ComponentKind, ConfigBlock, ConfigEntry, ConfigValue, Count,
    Edge, FieldDecl, File, Grouping, GroupingKind, Ident, OpArg, Operator, Output, Prim, RustPath,
    Span, StreamDecl, StreamSetDecl, Topology, TupleDecl, Type, TypeKind, Use,
};
use crate::diagnostic::{Diagnostic, Diagnostics};
use pest::Parser as _;
use pest::error::{Error as PestError, ErrorVariant, InputLocation};
use pest::iterators::Pair;

mod hints;

/// The pest parser generated from `grammar/topo.pest`.
mod generated {
    #![allow(missing_docs)]
    #[derive(pest_derive::Parser)]
    #[grammar = "../grammar/topo.pest"]
    pub struct TopoParser;
}
use generated::{Rule, TopoParser};

/// Code of every syntax error.
pub const E_SYNTAX: &str = "E0001";
/// Code of a number too large for 64 bits.
pub const E_NUMBER: &str = "E0002";
/// Code of an unknown escape sequence in a string.
pub const E_ESCAPE: &str = "E0003";
/// Code of a `parallelism`, `tasks`, `attempts` or `backoff` clause given twice.
pub const E_CLAUSE_TWICE: &str = "E0004";

/// Parses a whole file.
///
/// Returns the AST, or the diagnostics: a single `E0001` for a syntax error (pest stops at
/// the first), or every `E0002`–`E0004` found in an otherwise well-formed file (with an
/// `E0001` for each `backoff` written without a unit, which the grammar lets through to
/// ask for the unit).
pub fn parse(source: &str) -> Result<File, Diagnostics> {
    let mut pairs = match TopoParser::parse(Rule::file, source) {
        Ok(pairs) => pairs,
        Err(err) => {
            let mut diags = Diagnostics::default();
            diags.push(syntax_error(&err, source));
            return Err(diags);
        }
    };
    let mut walker = Walker::default();
    let file = match pairs.next() {
        Some(file) => walker.file(file),
        None => File {
            uses: vec![],
            tuples: vec![],
            stream_sets: vec![],
            topologies: vec![],
        },
    };
    if walker.diags.is_empty() {
        Ok(file)
    } else {
        Err(walker.diags)
    }
}

// ---------------------------------------------------------------------------------------
// Syntax errors in human words.

/// Turns pest's error into an `E0001` diagnostic: "expected X, found Y".
fn syntax_error(err: &PestError<Rule>, source: &str) -> Diagnostic {
    let pos = match err.location {
        InputLocation::Pos(p) => p,
        InputLocation::Span((s, _)) => s,
    };
    let (found, found_len) = token_at(source, pos);
    let mut span = Span::new(pos, pos + found_len);
    let (message, label, help) = match &err.variant {
        ErrorVariant::ParsingError { positives, .. } => {
            let expected = expected_phrase(positives);
            let message = format!("expected {expected}, found {found}");
            match hints::hint(positives, source, pos, &found) {
                Some(hint) => {
                    span = hint.span;
                    (hint.message.unwrap_or(message), hint.label, Some(hint.help))
                }
                None => (
                    message,
                    format!("expected {expected}"),
                    keyword_help(positives, &found),
                ),
            }
        }
        ErrorVariant::CustomError { message } => (message.clone(), String::new(), None),
    };
    let mut d = Diagnostic::error(E_SYNTAX, message, span).with_label(label);
    if let Some(help) = help {
        d = d.with_help(help);
    }
    d
}

/// "a name, `->` or `}`": the human phrases of the expected rules, deduplicated.
fn expected_phrase(positives: &[Rule]) -> String {
    const DECLARATIONS: [Rule; 5] = [
        Rule::use_decl,
        Rule::tuple_decl,
        Rule::streams_decl,
        Rule::topology,
        Rule::EOI,
    ];
    let mut rules = positives.to_vec();
    // pest may report only the first alternative of a declaration; name them all.
    let starts = [
        Rule::file,
        Rule::kw_use,
        Rule::kw_tuple,
        Rule::kw_streams,
        Rule::kw_topology,
    ];
    if rules
        .iter()
        .any(|r| DECLARATIONS[..4].contains(r) || starts.contains(r))
    {
        rules.extend(DECLARATIONS);
    }
    rules.retain(|r| *r != Rule::file);
    let mut phrases: Vec<&str> = Vec::new();
    for rule in &rules {
        let phrase = describe(*rule);
        if !phrases.contains(&phrase) {
            phrases.push(phrase);
        }
    }
    // Tokens that continue the current construct first, then new constructs, then closers.
    phrases.sort_by_key(|p| match *p {
        "`}`" => 2,
        "end of file" => 3,
        p if p.starts_with('`') => 0,
        _ => 1,
    });
    match phrases.as_slice() {
        [] => "something else".to_string(),
        [one] => (*one).to_string(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

/// A help line when a keyword stands where a name was expected.
fn keyword_help(positives: &[Rule], found: &str) -> Option<String> {
    const KEYWORDS: [&str; 10] = [
        "use",
        "tuple",
        "streams",
        "topology",
        "spout",
        "bolt",
        "config",
        "parallelism",
        "tasks",
        "direct",
    ];
    let word = found.trim_matches('`');
    if found == "`/*`" {
        return Some("this block comment is never closed with `*/`".to_string());
    }
    if found == "`\"`" {
        return Some("this string is never closed with `\"`".to_string());
    }
    if found == "`=>`"
        && positives
            .iter()
            .any(|r| matches!(r, Rule::arrow | Rule::output))
    {
        return Some("outputs and edges are written with `->`".to_string());
    }
    let wants_name = positives.iter().any(|r| {
        matches!(
            r,
            Rule::ident
                | Rule::schema_name
                | Rule::field_name
                | Rule::stream_name
                | Rule::component_name
                | Rule::config_key
                | Rule::edge_source
        )
    });
    (wants_name && KEYWORDS.contains(&word))
        .then(|| format!("`{word}` is a keyword and cannot be used as a name"))
}

/// How a rule reads in "expected ..." (pest's `renamed_rules`, for every rule).
fn describe(rule: Rule) -> &'static str {
    match rule {
        Rule::EOI => "end of file",
        Rule::WHITESPACE | Rule::COMMENT => "whitespace",
        Rule::file | Rule::declaration => "a declaration",
        Rule::topology_item => "a component, an edge or a `config` block",
        Rule::ident_char => "a name",
        Rule::path_segment => "a Rust path",
        Rule::use_decl | Rule::kw_use => "a `use` declaration",
        Rule::tuple_decl | Rule::kw_tuple => "a `tuple` declaration",
        Rule::streams_decl | Rule::kw_streams => "a `streams` declaration",
        Rule::topology | Rule::kw_topology => "a `topology`",
        Rule::keyword | Rule::ident | Rule::word => "a name",
        Rule::path => "a Rust path such as `crate::ops::SplitWords`",
        Rule::digits | Rule::integer => "a number",
        Rule::kw_as | Rule::use_alias => "`as`",
        Rule::kw_config | Rule::config_block => "a `config` block",
        Rule::kw_direct => "`direct`",
        Rule::kw_parallelism | Rule::parallelism => "`parallelism`",
        Rule::kw_tasks | Rule::tasks => "`tasks`",
        Rule::kw_attempts | Rule::attempts => "`attempts`",
        Rule::kw_backoff | Rule::backoff => "`backoff`",
        Rule::kw_timestamp | Rule::timestamp => "`timestamp`",
        Rule::kw_watermark | Rule::watermark => "`watermark`",
        Rule::kw_idle | Rule::idle => "`idle`",
        Rule::kw_lateness | Rule::lateness => "`lateness`",
        Rule::kw_ttl | Rule::ttl => "`ttl`",
        Rule::kw_idempotent | Rule::idempotent => "`idempotent`",
        Rule::kw_uid | Rule::uid => "`uid`",
        Rule::modifier => {
            "`parallelism`, `tasks`, `attempts`, `backoff`, `timestamp`, `watermark`, `idle`, `lateness`, `ttl`, `idempotent` or `uid`"
        }
        Rule::arrow | Rule::output => "`->`",
        Rule::colon => "`:`",
        Rule::semicolon => "`;`",
        Rule::comma => "`,`",
        Rule::dot | Rule::edge_stream | Rule::edge_input => "`.`",
        Rule::equals => "`=`",
        Rule::lbrace => "`{`",
        Rule::rbrace => "`}`",
        Rule::lparen | Rule::input => "`(`",
        Rule::rparen => "`)`",
        Rule::langle => "`<`",
        Rule::rangle => "`>`",
        Rule::use_tree | Rule::use_path | Rule::use_segment => "a path to import",
        Rule::use_suffix => "`::`",
        Rule::use_group => "`{`",
        Rule::use_glob => "`*`",
        Rule::field_decl => "a field such as `word: String`",
        Rule::field_type
        | Rule::option_type
        | Rule::vec_type
        | Rule::option_kw
        | Rule::vec_kw
        | Rule::prim_type
        | Rule::string_type
        | Rule::str_type
        | Rule::bytes_type
        | Rule::named_type => "a field type such as `u64`, `String`, `Option<T>` or a tuple name",
        Rule::stream_decl => "a stream such as `alerts: Alert`",
        Rule::schema_name => "a tuple name",
        Rule::name_body => "a name",
        Rule::field_name => "a field name",
        Rule::stream_name => "a stream name",
        Rule::component_name => "a component name",
        Rule::config_key => "a setting such as `workers = 2`",
        Rule::edge_source => "an edge such as `a -> b`",
        Rule::config_entry => "a setting such as `workers = 2`",
        Rule::config_value | Rule::float | Rule::boolean | Rule::string | Rule::string_body => {
            "a value such as `2`, `30s`, `0.5`, `true`, `\"text\"` or a word"
        }
        Rule::duration | Rule::duration_unit => {
            "a duration such as `30s` (units `ms`, `s`, `m`, `h`)"
        }
        Rule::component | Rule::component_kind => "a component",
        Rule::operator | Rule::builtin | Rule::builtin_kw => {
            "an operator such as `SplitWords` or `map(f)`"
        }
        Rule::op_args | Rule::op_arg | Rule::op_call | Rule::neg_duration => {
            "an argument such as `crate::ops::f`, `10s`, `100` or `sum(amount)`"
        }
        Rule::edge => "an edge such as `a -> b`",
        Rule::grouping
        | Rule::simple_grouping
        | Rule::fields
        | Rule::partial_key
        | Rule::custom
        | Rule::fields_kw
        | Rule::partial_key_kw
        | Rule::custom_kw => "a grouping such as `shuffle` or `fields(word)`",
        Rule::field_list => "a field name",
    }
}

/// The token at `pos` for "found ...", and its length in bytes.
fn token_at(source: &str, pos: usize) -> (String, usize) {
    let rest = source.get(pos..).unwrap_or("");
    let is_word = |c: char| c.is_alphanumeric() || c == '_';
    match rest.chars().next() {
        None => ("end of file".to_string(), 0),
        Some(c) if is_word(c) => {
            let len = rest.find(|c: char| !is_word(c)).unwrap_or(rest.len());
            (format!("`{}`", &rest[..len]), len)
        }
        Some(c) if c.is_whitespace() => ("whitespace".to_string(), c.len_utf8()),
        Some(c) => {
            let two = rest.char_indices().nth(2).map_or(rest.len(), |(i, _)| i);
            if ["->", "::", "=>", "//", "/*"].contains(&&rest[..two]) {
                (format!("`{}`", &rest[..two]), two)
            } else {
                (format!("`{c}`"), c.len_utf8())
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// From pairs to the AST.

/// Walks pest pairs into AST nodes, collecting the few non-syntax errors it can see.
#[derive(Default)]
struct Walker {
    diags: Diagnostics,
}

/// The span of a pair without the whitespace and comments pest may have skipped at its
/// end (before an optional part that turned out to be absent): it ends where its last
/// token ends.
fn span_of(pair: &Pair<'_, Rule>) -> Span {
    let start = pair.as_span().start();
    let mut end = pair.as_span().end();
    let mut last = pair.clone().into_inner().last();
    while let Some(p) = last {
        end = p.as_span().end();
        last = p.into_inner().last();
    }
    Span::new(start, end)
}

fn ident(pair: &Pair<'_, Rule>) -> Ident {
    Ident {
        name: pair.as_str().to_string(),
        span: span_of(pair),
    }
}

/// The meaningful children of a pair: punctuation and keyword tokens are dropped.
fn children<'i>(pair: Pair<'i, Rule>) -> impl Iterator<Item = Pair<'i, Rule>> {
    pair.into_inner().filter(|p| {
        !matches!(
            p.as_rule(),
            Rule::arrow
                | Rule::colon
                | Rule::semicolon
                | Rule::comma
                | Rule::dot
                | Rule::equals
                | Rule::lbrace
                | Rule::rbrace
                | Rule::lparen
                | Rule::rparen
                | Rule::langle
                | Rule::rangle
                | Rule::kw_use
                | Rule::kw_as
                | Rule::kw_tuple
                | Rule::kw_streams
                | Rule::kw_topology
                | Rule::kw_config
                | Rule::kw_parallelism
                | Rule::kw_tasks
                | Rule::kw_attempts
                | Rule::kw_backoff
                | Rule::kw_timestamp
                | Rule::kw_watermark
                | Rule::kw_idle
                | Rule::kw_lateness
                | Rule::kw_ttl
                | Rule::kw_idempotent
                | Rule::kw_uid
                | Rule::option_kw
                | Rule::vec_kw
                | Rule::fields_kw
                | Rule::partial_key_kw
                | Rule::custom_kw
                | Rule::EOI
        )
    })
}

/// The single meaningful child of a pair; the grammar guarantees there is one.
fn only_child<'i>(pair: Pair<'i, Rule>) -> Pair<'i, Rule> {
    let rule = pair.as_rule();
    children(pair)
        .next()
        .unwrap_or_else(|| panic!("grammar: {rule:?} has a child"))
}

impl Walker {
    fn file(&mut self, pair: Pair<'_, Rule>) -> File {
        let mut file = File {
            uses: vec![],
            tuples: vec![],
            stream_sets: vec![],
            topologies: vec![],
        };
        for p in children(pair) {
            match p.as_rule() {
                Rule::use_decl => file.uses.push(self.use_decl(p)),
                Rule::tuple_decl => file.tuples.push(self.tuple_decl(p)),
                Rule::streams_decl => file.stream_sets.push(self.streams_decl(p)),
                Rule::topology => file.topologies.push(self.topology(p)),
                _ => {}
            }
        }
        file
    }

    fn use_decl(&mut self, pair: Pair<'_, Rule>) -> Use {
        let span = span_of(&pair);
        let mut imported = Vec::new();
        let tree = use_tree(only_child(pair), &mut imported, None);
        Use {
            tree,
            imported,
            span,
        }
    }

    fn tuple_decl(&mut self, pair: Pair<'_, Rule>) -> TupleDecl {
        let span = span_of(&pair);
        let mut it = children(pair);
        let name = it
            .next()
            .map(|p| ident(&p))
            .unwrap_or_else(|| panic!("grammar: tuple name"));
        let fields = it
            .map(|field| {
                let mut f = children(field);
                let (Some(name), Some(ty)) = (f.next(), f.next()) else {
                    panic!("grammar: field_decl is `name : type`")
                };
                FieldDecl {
                    name: ident(&name),
                    ty: field_type(ty),
                }
            })
            .collect();
        TupleDecl { name, fields, span }
    }

    fn streams_decl(&mut self, pair: Pair<'_, Rule>) -> StreamSetDecl {
        let span = span_of(&pair);
        let mut it = children(pair);
        let name = it
            .next()
            .map(|p| ident(&p))
            .unwrap_or_else(|| panic!("grammar: set name"));
        let streams = it
            .map(|stream| {
                let mut direct = false;
                let mut names = Vec::new();
                for p in children(stream) {
                    match p.as_rule() {
                        Rule::kw_direct => direct = true,
                        _ => names.push(ident(&p)),
                    }
                }
                let [name, ty]: [Ident; 2] = names
                    .try_into()
                    .unwrap_or_else(|_| panic!("grammar: stream is `name: type`"));
                StreamDecl { name, direct, ty }
            })
            .collect();
        StreamSetDecl {
            name,
            streams,
            span,
        }
    }

    fn topology(&mut self, pair: Pair<'_, Rule>) -> Topology {
        let span = span_of(&pair);
        let mut it = children(pair);
        let name = it
            .next()
            .map(|p| ident(&p))
            .unwrap_or_else(|| panic!("grammar: topology name"));
        let mut topology = Topology {
            name,
            configs: vec![],
            components: vec![],
            edges: vec![],
            span,
        };
        for item in it {
            match item.as_rule() {
                Rule::config_block => topology.configs.push(self.config_block(item)),
                Rule::component => topology.components.push(self.component(item)),
                Rule::edge => topology.edges.push(self.edge(item)),
                _ => {}
            }
        }
        topology
    }

    fn config_block(&mut self, pair: Pair<'_, Rule>) -> ConfigBlock {
        let span = span_of(&pair);
        let entries = children(pair)
            .map(|entry| {
                let mut e = children(entry);
                let (Some(key), Some(value)) = (e.next(), e.next()) else {
                    panic!("grammar: config_entry is `key = value`")
                };
                let value = only_child(value);
                let value_span = span_of(&value);
                ConfigEntry {
                    key: ident(&key),
                    value: self.config_value(value),
                    value_span,
                }
            })
            .collect();
        ConfigBlock { entries, span }
    }

    fn config_value(&mut self, pair: Pair<'_, Rule>) -> ConfigValue {
        let span = span_of(&pair);
        match pair.as_rule() {
            Rule::duration => ConfigValue::DurationMs(self.duration_ms(pair)),
            Rule::float => match pair.as_str().replace('_', "").parse::<f64>() {
                // `1000…0.5` with hundreds of digits parses as infinity: too large too.
                Ok(f) if f.is_finite() => ConfigValue::Float(f),
                _ => {
                    self.diags.push(too_large(span, "number"));
                    ConfigValue::Float(0.0)
                }
            },
            Rule::integer => ConfigValue::Int(self.number(pair.as_str(), span)),
            Rule::boolean => ConfigValue::Bool(pair.as_str() == "true"),
            Rule::string => ConfigValue::Str(self.string(only_child(pair))),
            _ => ConfigValue::Word(pair.as_str().to_string()),
        }
    }

    /// A duration (`250ms`, `30s`, `5m`, `1h`) in milliseconds; `E0002` when it exceeds
    /// `u64`.
    fn duration_ms(&mut self, pair: Pair<'_, Rule>) -> u64 {
        let span = span_of(&pair);
        let mut it = pair.into_inner();
        let (Some(n), Some(unit)) = (it.next(), it.next()) else {
            panic!("grammar: duration is digits and a unit")
        };
        let factor = match unit.as_str() {
            "h" => 3_600_000,
            "m" => 60_000,
            "s" => 1_000,
            _ => 1,
        };
        let ms = self.number(n.as_str(), span).checked_mul(factor);
        ms.unwrap_or_else(|| {
            self.diags.push(too_large(span, "duration"));
            0
        })
    }

    fn operator(&mut self, pair: Pair<'_, Rule>) -> Operator {
        let inner = only_child(pair);
        if inner.as_rule() == Rule::path {
            return Operator::User(rust_path(&inner));
        }
        Operator::Builtin(self.call(inner))
    }

    /// `name(arg, ...)`: a built-in operator, or a call among its arguments.
    fn call(&mut self, pair: Pair<'_, Rule>) -> BuiltinCall {
        let (text, span) = (pair.as_str().to_string(), span_of(&pair));
        let mut it = children(pair);
        let Some(name) = it.next() else {
            panic!("grammar: a call starts with its name")
        };
        let args = it.map(|arg| self.op_arg(only_child(arg))).collect();
        BuiltinCall {
            name: ident(&name),
            args,
            text,
            span,
        }
    }

    fn op_arg(&mut self, pair: Pair<'_, Rule>) -> OpArg {
        let span = span_of(&pair);
        match pair.as_rule() {
            Rule::duration => OpArg::Duration(Count {
                value: self.duration_ms(pair),
                span,
            }),
            Rule::integer => OpArg::Int(Count {
                value: self.number(pair.as_str(), span),
                span,
            }),
            Rule::neg_duration => OpArg::NegDuration(Count {
                value: self.duration_ms(only_child(pair)),
                span,
            }),
            Rule::op_call => OpArg::Call(self.call(pair)),
            Rule::string => OpArg::Str {
                value: self.string(only_child(pair)),
                span,
            },
            _ => OpArg::Path(rust_path(&pair)),
        }
    }

    /// `backoff 100`: a syntax error (`E0001`) asking for the unit.
    fn unitless_backoff(&mut self, number: &Pair<'_, Rule>) -> u64 {
        let n = number.as_str();
        self.diags.push(
            Diagnostic::error(
                E_SYNTAX,
                format!("expected a duration such as `100ms`, found `{n}`"),
                span_of(number),
            )
            .with_label("a number without a unit")
            .with_help(format!("give the unit: `{n}ms` or `{n}s`")),
        );
        0
    }

    /// A decimal number with optional `_` separators; `E0002` when it exceeds `u64`.
    fn number(&mut self, text: &str, span: Span) -> u64 {
        text.replace('_', "").parse::<u64>().unwrap_or_else(|_| {
            self.diags.push(too_large(span, "number"));
            0
        })
    }

    /// The value of a string body with its escapes resolved; `E0003` for unknown ones.
    fn string(&mut self, body: Pair<'_, Rule>) -> String {
        let start = body.as_span().start();
        let text = body.as_str();
        let mut out = String::with_capacity(text.len());
        let mut chars = text.char_indices();
        while let Some((i, c)) = chars.next() {
            if c != '\\' {
                out.push(c);
                continue;
            }
            let Some((j, e)) = chars.next() else { break };
            match e {
                'n' => out.push('\n'),
                't' => out.push('\t'),
                'r' => out.push('\r'),
                '0' => out.push('\0'),
                '\\' | '"' => out.push(e),
                _ => {
                    let span = Span::new(start + i, start + j + e.len_utf8());
                    self.diags.push(
                        Diagnostic::error(
                            E_ESCAPE,
                            format!("unknown escape `\\{e}` in a string"),
                            span,
                        )
                        .with_label("unknown escape")
                        .with_help(r#"the escapes are `\n`, `\t`, `\r`, `\0`, `\\` and `\"`"#),
                    );
                }
            }
        }
        out
    }

    fn component(&mut self, pair: Pair<'_, Rule>) -> Component {
        let span = span_of(&pair);
        let mut it = children(pair);
        let (Some(kind), Some(name), Some(op)) = (it.next(), it.next(), it.next()) else {
            panic!("grammar: component is `kind name = operator`")
        };
        let kind = if kind.as_str() == "spout" {
            ComponentKind::Spout
        } else {
            ComponentKind::Bolt
        };
        let mut component = Component {
            kind,
            name: ident(&name),
            op: self.operator(op),
            input: None,
            output: None,
            parallelism: None,
            tasks: None,
            attempts: None,
            backoff: None,
            timestamp: None,
            watermark: None,
            idle: None,
            lateness: None,
            ttl: None,
            idempotent: None,
            uid: None,
            span,
        };
        for p in it {
            match p.as_rule() {
                Rule::input => component.input = children(p).next().map(|s| ident(&s)),
                Rule::output => {
                    let out_span = span_of(&p);
                    let mut direct = false;
                    let mut ty = None;
                    for q in children(p) {
                        match q.as_rule() {
                            Rule::kw_direct => direct = true,
                            _ => ty = Some(ident(&q)),
                        }
                    }
                    let ty = ty.unwrap_or_else(|| panic!("grammar: output has a type"));
                    component.output = Some(Output {
                        ty,
                        direct,
                        span: out_span,
                    });
                }
                Rule::parallelism
                | Rule::tasks
                | Rule::attempts
                | Rule::backoff
                | Rule::idle
                | Rule::lateness
                | Rule::ttl => {
                    self.clause(p, &mut component);
                }
                Rule::timestamp => {
                    let span = span_of(&p);
                    let field = ident(&only_child(p));
                    match &component.timestamp {
                        Some(first) => {
                            let first = first.span;
                            self.twice("timestamp", &component, span, first);
                        }
                        None => component.timestamp = Some(field),
                    }
                }
                Rule::uid => {
                    let span = span_of(&p);
                    let value = self.string(only_child(only_child(p)));
                    match &component.uid {
                        Some((_, first)) => {
                            let first = *first;
                            self.twice("uid", &component, span, first);
                        }
                        None => component.uid = Some((value, span)),
                    }
                }
                Rule::idempotent => {
                    let span = span_of(&p);
                    match component.idempotent {
                        Some(first) => self.twice("idempotent", &component, span, first),
                        None => component.idempotent = Some(span),
                    }
                }
                Rule::watermark => {
                    let span = span_of(&p);
                    let strategy = self.op_arg(only_child(only_child(p)));
                    let w = crate::ast::Watermark { strategy, span };
                    match &component.watermark {
                        Some(first) => {
                            let first = first.span;
                            self.twice("watermark", &component, span, first);
                        }
                        None => component.watermark = Some(w),
                    }
                }
                _ => {}
            }
        }
        component
    }

    /// Stores a `parallelism`, `tasks`, `attempts` or `backoff` clause in `component`, or
    /// reports it as given twice (`E0004`).
    fn clause(&mut self, pair: Pair<'_, Rule>, component: &mut Component) {
        let rule = pair.as_rule();
        let span = span_of(&pair);
        let value = only_child(pair);
        let value = Count {
            span: span_of(&value),
            value: match value.as_rule() {
                Rule::duration => self.duration_ms(value),
                _ if matches!(
                    rule,
                    Rule::backoff | Rule::idle | Rule::lateness | Rule::ttl
                ) =>
                {
                    self.unitless_backoff(&value)
                }
                _ => self.number(value.as_str(), span_of(&value)),
            },
        };
        let (keyword, first) = match rule {
            Rule::parallelism => (
                "parallelism",
                store(&mut component.parallelism, value).map(|c| c.span),
            ),
            Rule::tasks => ("tasks", store(&mut component.tasks, value).map(|c| c.span)),
            Rule::attempts => (
                "attempts",
                store(&mut component.attempts, Clause { value, span }).map(|c| c.span),
            ),
            Rule::idle => (
                "idle",
                store(&mut component.idle, Clause { value, span }).map(|c| c.span),
            ),
            Rule::lateness => (
                "lateness",
                store(&mut component.lateness, Clause { value, span }).map(|c| c.span),
            ),
            Rule::ttl => (
                "ttl",
                store(&mut component.ttl, Clause { value, span }).map(|c| c.span),
            ),
            _ => (
                "backoff",
                store(&mut component.backoff, Clause { value, span }).map(|c| c.span),
            ),
        };
        if let Some(first) = first {
            self.twice(keyword, component, span, first);
        }
    }

    /// `E0004`: a clause given twice.
    fn twice(&mut self, keyword: &str, component: &Component, span: Span, first: Span) {
        self.diags.push(
            Diagnostic::error(
                E_CLAUSE_TWICE,
                format!("`{keyword}` is given twice for `{}`", component.name.name),
                span,
            )
            .with_label("given again here")
            .with_note(first, "first given here"),
        );
    }

    fn edge(&mut self, pair: Pair<'_, Rule>) -> Edge {
        let span = span_of(&pair);
        let mut from = None;
        let mut stream = None;
        let mut to = None;
        let mut input = None;
        let mut grouping = Grouping {
            kind: GroupingKind::Shuffle,
            span,
        };
        for p in children(pair) {
            match p.as_rule() {
                Rule::edge_stream => stream = Some(ident(&only_child(p))),
                Rule::edge_input => input = Some(ident(&only_child(p))),
                Rule::grouping => grouping = self.grouping(only_child(p)),
                _ if from.is_none() => from = Some(ident(&p)),
                _ => to = Some(ident(&p)),
            }
        }
        let (Some(from), Some(to)) = (from, to) else {
            panic!("grammar: edge is `a -> b`")
        };
        Edge {
            from,
            stream,
            to,
            input,
            grouping,
            span,
        }
    }

    fn grouping(&mut self, pair: Pair<'_, Rule>) -> Grouping {
        let span = span_of(&pair);
        let kind = match pair.as_rule() {
            Rule::fields => GroupingKind::Fields(field_list(only_child(pair))),
            Rule::partial_key => GroupingKind::PartialKey(field_list(only_child(pair))),
            Rule::custom => GroupingKind::Custom(rust_path(&only_child(pair))),
            _ => match pair.as_str() {
                "all" => GroupingKind::All,
                "global" => GroupingKind::Global,
                "none" => GroupingKind::None,
                "local_or_shuffle" => GroupingKind::LocalOrShuffle,
                "direct" => GroupingKind::Direct,
                _ => GroupingKind::Shuffle,
            },
        };
        Grouping { kind, span }
    }
}

/// Puts `value` into an empty `slot`; when the slot is taken, leaves it and returns what
/// is already there.
fn store<T: Copy>(slot: &mut Option<T>, value: T) -> Option<T> {
    match slot {
        Some(first) => Some(*first),
        None => {
            *slot = Some(value);
            None
        }
    }
}

fn too_large(span: Span, what: &str) -> Diagnostic {
    Diagnostic::error(E_NUMBER, format!("this {what} is too large"), span)
        .with_label("does not fit in 64 bits")
}

fn rust_path(pair: &Pair<'_, Rule>) -> RustPath {
    RustPath {
        text: pair.as_str().to_string(),
        span: span_of(pair),
    }
}

fn field_list(pair: Pair<'_, Rule>) -> Vec<Ident> {
    children(pair).map(|p| ident(&p)).collect()
}

fn field_type(pair: Pair<'_, Rule>) -> Type {
    let span = span_of(&pair);
    let inner = only_child(pair);
    let kind = match inner.as_rule() {
        Rule::option_type => TypeKind::Option(Box::new(field_type(only_child(inner)))),
        Rule::vec_type => TypeKind::Vec(Box::new(field_type(only_child(inner)))),
        Rule::string_type => TypeKind::String,
        Rule::str_type => TypeKind::Str,
        Rule::bytes_type => TypeKind::Bytes,
        Rule::named_type => TypeKind::Named(ident(&only_child(inner))),
        _ => TypeKind::Prim(match inner.as_str() {
            "u8" => Prim::U8,
            "u16" => Prim::U16,
            "u32" => Prim::U32,
            "u64" => Prim::U64,
            "i8" => Prim::I8,
            "i16" => Prim::I16,
            "i32" => Prim::I32,
            "i64" => Prim::I64,
            "f32" => Prim::F32,
            "f64" => Prim::F64,
            _ => Prim::Bool,
        }),
    };
    Type { kind, span }
}

/// Rebuilds a use tree as normalised text (`a::b::{C, D as E}`) and collects the names it
/// imports. `parent` is the last path segment before a group, for `{self}`.
fn use_tree(pair: Pair<'_, Rule>, imported: &mut Vec<Ident>, parent: Option<&Ident>) -> String {
    let mut path: Option<(String, Ident)> = None;
    let mut text = String::new();
    for p in children(pair) {
        match p.as_rule() {
            Rule::use_path => {
                let segments: Vec<Pair<'_, Rule>> = children(p).collect();
                text = segments
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join("::");
                let last = segments.last().map(ident);
                let last = match (last, parent) {
                    (Some(l), Some(parent)) if l.name == "self" && segments.len() == 1 => Ident {
                        name: parent.name.clone(),
                        span: l.span,
                    },
                    (l, _) => l.unwrap_or_else(|| panic!("grammar: use_path has a segment")),
                };
                path = Some((text.clone(), last));
            }
            Rule::use_group => text = use_group(p, imported, None),
            Rule::use_glob => text = "*".to_string(),
            Rule::use_suffix => {
                let last = path.take().map(|(_, l)| l);
                let inner = only_child(p);
                if inner.as_rule() == Rule::use_glob {
                    text.push_str("::*");
                } else {
                    let group = use_group(inner, imported, last.as_ref());
                    text = format!("{text}::{group}");
                }
            }
            Rule::use_alias => {
                let alias = ident(&only_child(p));
                text = format!("{text} as {}", alias.name);
                path = None;
                if alias.name != "_" {
                    imported.push(alias);
                }
            }
            _ => {}
        }
    }
    if let Some((_, last)) = path {
        imported.push(last);
    }
    text
}

fn use_group(pair: Pair<'_, Rule>, imported: &mut Vec<Ident>, parent: Option<&Ident>) -> String {
    let items: Vec<String> = children(pair)
        .map(|t| use_tree(t, imported, parent))
        .collect();
    format!("{{{}}}", items.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(source: &str) -> String {
        let diags = parse(source).expect_err("a syntax error");
        diags.items[0].message.clone()
    }

    #[test]
    fn syntax_errors_speak_human() {
        assert_eq!(
            err("topology t { a -> b : fieds(word) }"),
            "expected a grouping such as `shuffle` or `fields(word)`, found `fieds`"
        );
        assert_eq!(err("tuple A { a u8 }"), "expected `:`, found `u8`");
        assert_eq!(
            err("topology t { bolt direct = B(W) }"),
            "expected a component name, found `direct`"
        );
        assert_eq!(
            err("tople x {}"),
            "expected a `use` declaration, a `tuple` declaration, a `streams` declaration, \
             a `topology` or end of file, found `tople`"
        );
    }

    #[test]
    fn names_that_look_like_keywords() {
        let src = "topology t { bolt count = C(W) -> W bolt print = P(W) bolt all = A(W) \
                   count -> print : all  print -> all : none }";
        let t = &parse(src).expect("parses").topologies[0];
        assert_eq!(t.components[2].name.name, "all");
        assert_eq!(t.edges[0].grouping.kind, GroupingKind::All);
        assert_eq!(t.edges[1].grouping.kind, GroupingKind::None);
    }

    #[test]
    fn retry_clauses_are_contextual() {
        let src = "topology t { spout s = S -> W tasks 4 backoff 2s attempts 3 parallelism 2 \
                   bolt attempts = A(W) bolt backoff = B(W) \
                   s -> attempts  attempts -> backoff  backoff.x -> y }";
        let t = &parse(src).expect("parses").topologies[0];
        let s = &t.components[0];
        assert_eq!(s.attempts.map(|a| a.value.value), Some(3));
        assert_eq!(s.backoff.map(|b| b.value.value), Some(2_000));
        let backoff = s.backoff.expect("backoff");
        assert_eq!(&src[backoff.span.start..backoff.span.end], "backoff 2s");
        assert_eq!(&src[backoff.value.span.start..backoff.value.span.end], "2s");
        assert_eq!(
            (s.parallelism.map(|p| p.value), s.tasks.map(|t| t.value)),
            (Some(2), Some(4))
        );
        assert_eq!(t.components[1].name.name, "attempts");
        assert_eq!(t.components[2].name.name, "backoff");
        let sources: Vec<&str> = t.edges.iter().map(|e| e.from.name.as_str()).collect();
        assert_eq!(sources, ["s", "attempts", "backoff"]);
        assert_eq!(
            err("topology t { spout s = S -> W attempts 2 backoff 100 }"),
            "expected a duration such as `100ms`, found `100`"
        );
        assert_eq!(
            err("topology t { spout s = S -> W attempts 2 backoff 1x }"),
            "expected a duration such as `30s` (units `ms`, `s`, `m`, `h`), found `x`"
        );
    }

    #[test]
    fn use_trees() {
        let src = "use crate::ops::{self, a::{B, C as D}, E as _, *}; use x::Y as Z; topology t {}";
        let file = parse(src).expect("parses");
        assert_eq!(
            file.uses[0].tree,
            "crate::ops::{self, a::{B, C as D}, E as _, *}"
        );
        let names: Vec<&str> = file
            .uses
            .iter()
            .flat_map(|u| &u.imported)
            .map(|i| i.name.as_str())
            .collect();
        assert_eq!(names, ["ops", "B", "D", "Z"]);
    }

    #[test]
    fn values_and_types() {
        let src = r#"tuple T { a: Option<Vec<u8>>, b: bytes, c: Loc }
            topology t { config { d = 1_500ms, m = 2m, h = 1h, f = 0.5, s = "a\"b\n", w = fast, b = false } }"#;
        let file = parse(src).expect("parses");
        let fields = &file.tuples[0].fields;
        let TypeKind::Option(inner) = &fields[0].ty.kind else {
            panic!("option")
        };
        assert!(matches!(&inner.kind, TypeKind::Vec(v) if v.kind == TypeKind::Prim(Prim::U8)));
        assert_eq!(fields[1].ty.kind, TypeKind::Bytes);
        assert!(matches!(&fields[2].ty.kind, TypeKind::Named(n) if n.name == "Loc"));
        let values: Vec<&ConfigValue> = file.topologies[0].configs[0]
            .entries
            .iter()
            .map(|e| &e.value)
            .collect();
        assert_eq!(
            values,
            [
                &ConfigValue::DurationMs(1_500),
                &ConfigValue::DurationMs(120_000),
                &ConfigValue::DurationMs(3_600_000),
                &ConfigValue::Float(0.5),
                &ConfigValue::Str("a\"b\n".into()),
                &ConfigValue::Word("fast".into()),
                &ConfigValue::Bool(false),
            ]
        );
    }

    #[test]
    fn spans_end_at_the_last_token() {
        let src = "topology t {\n  a -> b   // trailing\n}";
        let edge = &parse(src).expect("parses").topologies[0].edges[0];
        assert_eq!(&src[edge.span.start..edge.span.end], "a -> b");
        assert_eq!(edge.grouping.span, edge.span);
    }

    #[test]
    fn word_count() {
        let src = include_str!("../tests/ui/pass/wordcount.topo");
        let file = parse(src).expect("parses");
        assert_eq!(file.uses.len(), 1);
        assert_eq!(file.tuples.len(), 3);
        let t = &file.topologies[0];
        assert_eq!(t.name.name, "wordcount");
        assert_eq!(t.components.len(), 4);
        assert_eq!(t.edges.len(), 3);
        let count = &t.components[2];
        assert_eq!(count.kind, ComponentKind::Bolt);
        assert_eq!(
            count.op,
            Operator::User(RustPath {
                text: "CountWords".into(),
                span: count.op.span()
            })
        );
        assert_eq!(count.input.as_ref().map(|i| i.name.as_str()), Some("Word"));
        assert_eq!(
            count.output.as_ref().map(|o| o.ty.name.as_str()),
            Some("Count")
        );
        assert_eq!(count.parallelism.map(|p| p.value), Some(4));
        assert_eq!(count.tasks.map(|p| p.value), Some(8));
        assert_eq!(
            &src[count.span.start..count.span.end],
            "bolt  count     = CountWords(Word) -> Count              parallelism 4 tasks 8"
        );
        let GroupingKind::Fields(fields) = &t.edges[1].grouping.kind else {
            panic!("fields")
        };
        assert_eq!(fields[0].name, "word");
        assert_eq!(&src[fields[0].span.start..fields[0].span.end], "word");
    }
}
