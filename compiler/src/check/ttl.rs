//! `ttl D`: the time to live of a component's keyed state. Only the built-ins that keep
//! keyed state have one (`process(T)`, windows, joins), and it is not zero (`E0427`). A
//! window or join whose state must outlive its `ttl` — it holds a key's elements for the
//! window's size (a session's gap, a join's bound) plus its lateness — may lose them to the
//! ttl while they are still needed (`W0606`).
//!
//! The comparison takes event time to run at the pace of processing time, as it does
//! for live data: the ttl is processing time, the window's span and its lateness are
//! event time.

use super::components::Checked;
use crate::ast::Operator;
use crate::diagnostic::{Diagnostic, Diagnostics};

/// Checks every component's `ttl`.
pub(crate) fn check(components: &[Checked<'_>], diags: &mut Diagnostics) {
    for c in components {
        let Some(ttl) = c.decl.ttl else { continue };
        let builtin = match &c.decl.op {
            Operator::Builtin(call) => crate::ops::find(&call.name.name).map(|b| (b, call)),
            Operator::User(_) => None,
        };
        let Some((builtin, call)) = builtin.filter(|(b, _)| b.keys_its_input()) else {
            let help = match &c.decl.op {
                _ if c.node.kind == crate::ast::ComponentKind::Spout => {
                    "remove it: a spout keeps no keyed state; give the `ttl` to the window, \
                     join or `process(T)` downstream"
                }
                Operator::User(_) => {
                    "a bolt of your own keeps its state itself: write it as `process(T)` to \
                     have keyed state with a ttl, or give its entries a time to live in its \
                     code"
                }
                Operator::Builtin(_) => "remove it: this operator keeps no state",
            };
            diags.push(
                Diagnostic::error(
                    "E0427",
                    format!("`ttl` on `{}`, which keeps no keyed state", c.node.name),
                    ttl.span,
                )
                .with_label("only `process(T)`, windows and joins have keyed state")
                .with_help(help),
            );
            continue;
        };
        if ttl.value.value == 0 {
            diags.push(
                Diagnostic::error(
                    "E0427",
                    format!("`{}` has a `ttl` of zero", c.node.name),
                    ttl.value.span,
                )
                .with_label("its state would expire as it is written")
                .with_help("give a time to live above zero (`ttl 1h`), or remove it: state then lives until the operator drops it"),
            );
            continue;
        }
        let span_ms = match (builtin.window(call), builtin.join(call)) {
            (Some(w), _) => w.span_ms(),
            (None, Some(j)) => Some(j.span_ms()),
            (None, None) => None,
        };
        let Some(span_ms) = span_ms else { continue };
        let lateness_ms = c.node.late.map_or(0, |l| l.1);
        let held = span_ms.saturating_add(lateness_ms);
        if held <= ttl.value.value {
            continue;
        }
        let (what, of) = match (builtin.window(call), builtin.join(call)) {
            (Some(w), _) if matches!(w.kind, crate::ops::window::Kind::Session { .. }) => {
                ("window", "gap")
            }
            (Some(_), _) => ("window", "window"),
            _ => ("join", "interval"),
        };
        let mut d = Diagnostic::warning(
            "W0606",
            format!(
                "the {what} `{}` holds a key's elements up to {} ({}), longer than its `ttl` of {}",
                c.node.name,
                ms(held),
                match lateness_ms {
                    0 => format!("{} of {of}", ms(span_ms)),
                    l => format!("{} of {of} and {} of lateness", ms(span_ms), ms(l)),
                },
                ms(ttl.value.value)
            ),
            ttl.span,
        )
        .with_label("state of a key quiet this long is dropped");
        if let Some(l) = c.decl.lateness {
            d = d.with_note(l.span, "a late element may come this long after its window");
        }
        diags.push(d.with_help(format!(
            "a key whose elements stop for the ttl loses them before its {what} is done, and a late element then finds nothing to update: make the `ttl` at least {}, or remove it ({what}s drop their state by the watermark)",
            ms(held)
        )));
    }
}

/// `90s` for 90,000 ms, `1500ms` for 1,500: a duration as a `.topo` file writes it.
fn ms(ms: u64) -> String {
    const UNITS: [(u64, &str); 3] = [(3_600_000, "h"), (60_000, "m"), (1_000, "s")];
    UNITS
        .iter()
        .find(|(unit, _)| ms >= *unit && ms.is_multiple_of(*unit))
        .map_or_else(
            || format!("{ms}ms"),
            |(unit, name)| format!("{}{name}", ms / unit),
        )
}
