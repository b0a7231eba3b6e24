//! Checking: name resolution and every rule, producing the typed graph.
//!
//! [`check`] runs the passes below in order. Each pass pushes its findings into one
//! [`Diagnostics`] and carries on with what it could resolve, so a user sees every error in
//! the file at once; a graph is returned only when nothing was found.
//!
//! | pass | module | codes |
//! |------|--------|-------|
//! | type names: tuples, stream sets, `use` imports | `scope` | E0103, E0108, E0109 |
//! | tuple fields and stream sets | `schemas` | E0105, E0106, E0108, E0201, E0202, E0204, E0205 |
//! | the topology block | [`check`] | E0101, E0102 |
//! | configuration | `config` | E0107, E0501–E0504 |
//! | components | `components` | E0104, E0201–E0203, E0401–E0411 |
//! | spout retry policies (`attempts`, `backoff`) | `retry` | E0412–E0415, E0504 |
//! | edges | `edges` | E0301–E0309, E0311–E0313 |
//! | cycles | `cycles` | E0310 |
//! | keys: key groups of keyed consumers, keyed state | `keys` | E0417, E0418 |
//! | event time and windows | `time` | E0419–E0424, W0605 |
//! | joins (run by `time`) | `joins` | E0419, E0422, E0425, W0605 |
//! | window aggregations' fields and result types (run by `time`) | `aggregations` | E0423, E0426 |
//! | keyed state's time to live (`ttl`) | `ttl` | E0427, W0606 |
//! | warnings: settings that cannot work as meant | `warnings` | W0601–W0604 |
//!
//! Every code is described, with an example, in `grammar/README.md`. Codes `E00xx` belong
//! to the parser ([`crate::parse`]).
//!
//! What only rustc can know (that `SplitWords` really is a `Bolt<In = Sentence>`, that an
//! imported schema has a field `word`) is left to assertions in the generated code.

mod aggregations;
mod components;
mod config;
mod cycles;
mod edges;
mod joins;
mod keys;
mod retry;
mod schemas;
mod scope;
mod sinks;
pub(crate) mod suggest;
mod time;
mod ttl;
mod warnings;

use crate::ast::File;
use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::graph::Graph;

/// Checks a parsed file and builds its typed graph.
///
/// `source` is the text `file` was parsed from (for line and column numbers); `file_name`
/// is recorded in the graph for messages in generated code.
///
/// ```
/// let src = "use x::S; topology t { spout s = S -> S }";
/// let file = gale_compiler::parse::parse(src).unwrap();
/// let graph = gale_compiler::check::check(&file, src, "t.topo").unwrap();
/// assert_eq!(graph.components[0].outputs[0].schema, "S");
/// ```
pub fn check(file: &File, source: &str, file_name: &str) -> Result<Graph, Diagnostics> {
    let mut diags = Diagnostics::default();
    let scope = scope::Scope::build(file, &mut diags);
    let tuples = schemas::check_tuples(file, &scope, &mut diags);
    let stream_sets = schemas::check_stream_sets(file, &scope, &mut diags);

    let Some(topology) = file.topologies.first() else {
        diags.push(
            Diagnostic::error(
                "E0101",
                "no topology in this file",
                crate::ast::Span::new(0, 0),
            )
            .with_help("add one: `topology name { spout ... bolt ... a -> b }`"),
        );
        return Err(diags);
    };
    for extra in &file.topologies[1..] {
        diags.push(
            Diagnostic::error(
                "E0102",
                format!("a second topology `{}` in one file", extra.name.name),
                extra.name.span,
            )
            .with_label("second topology")
            .with_note(topology.name.span, "first topology here")
            .with_help("a `.topo` file holds one topology; move this one to its own file"),
        );
    }
    scope::rust_keyword(&topology.name, "topology", &mut diags);

    let config = config::check(&topology.configs, &mut diags);
    let mut components = components::check(topology, &scope, source, &mut diags);
    let edges = edges::check(topology, &components, &scope, source, &mut diags);
    cycles::check(&components, &edges, &mut diags);
    keys::check(&config, &components, &edges, &mut diags);
    keys::check_one_key(&components, &edges, &scope, &mut diags);
    time::check(&mut components, &edges, &scope, &config, &mut diags);
    ttl::check(&components, &mut diags);
    sinks::check(&config, &components, &edges, &mut diags);
    sinks::check_sources(&components, &scope, &mut diags);
    sinks::check_uids(&components, &mut diags);
    sinks::check_sink_dirs(&components, &mut diags);
    warnings::check(&topology.configs, &components, &edges, &scope, &mut diags);

    if diags.has_errors() {
        return Err(diags);
    }
    Ok(Graph {
        name: topology.name.name.clone(),
        uses: file.uses.iter().map(|u| u.tree.clone()).collect(),
        tuples,
        stream_sets,
        config,
        components: components.into_iter().map(|c| c.node).collect(),
        edges: edges.into_iter().map(|e| e.edge).collect(),
        file_name: file_name.to_string(),
        warnings: diags,
    })
}

#[cfg(test)]
mod tests;
