//! `interval_join(lower, upper, f)`: every pair `(a, b)` of one key with
//! `a.ts + lower <= b.ts <= a.ts + upper`, made by `f(&a, &b)` as soon as its second
//! element arrives (Flink's `KeyedStream.intervalJoin(...).between(lower, upper)`); the
//! bounds are durations, negative ones written `-2s`, and `lower <= upper` (`E0421`). The
//! runtime half is `gale::ops::interval_join` over `gale::join::IntervalJoin`.

use super::join::{JoinCall, JoinKind, arity, function, parts};
use super::{Builtin, Outputs, Site, bad_args};
use crate::ast::{BuiltinCall, OpArg};
use crate::diagnostic::{Diagnostic, Diagnostics};
use proc_macro2::TokenStream;
use quote::quote;

/// `interval_join(lower, upper, f)`.
pub struct IntervalJoin;

/// The built-in.
pub const INTERVAL_JOIN: IntervalJoin = IntervalJoin;

impl IntervalJoin {
    fn read(&self, call: &BuiltinCall, diags: &mut Diagnostics) -> Option<JoinCall> {
        if !arity(self, call, 3, diags) {
            return None;
        }
        let lower = self.bound(call, &call.args[0], diags);
        let upper = self.bound(call, &call.args[1], diags);
        let function = function(self, call, call.args.get(2), diags);
        let (lower, upper) = (lower?, upper?);
        if lower > upper {
            diags.push(
                Diagnostic::error(
                    "E0421",
                    format!("an empty interval: its lower bound ({lower} ms) is above its upper bound ({upper} ms)"),
                    call.args[1].span(),
                )
                .with_label("below the lower bound")
                .with_help("`interval_join(lower, upper, f)` pairs `b` with `a` when `a.ts + lower <= b.ts <= a.ts + upper`: write the lower bound first, e.g. `interval_join(-2s, 1s, f)`"),
            );
            return None;
        }
        Some(JoinCall {
            kind: JoinKind::Interval { lower, upper },
            function: function?,
        })
    }

    fn bound(&self, call: &BuiltinCall, arg: &OpArg, diags: &mut Diagnostics) -> Option<i64> {
        let (magnitude, negative) = match arg {
            OpArg::Duration(d) => (d, false),
            OpArg::NegDuration(d) => (d, true),
            OpArg::Int(n) => {
                diags.push(
                    bad_args(
                        self,
                        call,
                        format!("takes durations, found the number `{}`", n.value),
                        n.span,
                    )
                    .with_label(format!("give the unit: `{}s` or `{}ms`", n.value, n.value)),
                );
                return None;
            }
            other => {
                diags.push(
                    bad_args(
                        self,
                        call,
                        format!("takes two durations first, found {}", other.kind()),
                        other.span(),
                    )
                    .with_label("expected a duration such as `-2s` or `1s`"),
                );
                return None;
            }
        };
        let Ok(v) = i64::try_from(magnitude.value) else {
            diags.push(
                bad_args(
                    self,
                    call,
                    "takes bounds of at most 2^63 ms".into(),
                    magnitude.span,
                )
                .with_label("too large a bound"),
            );
            return None;
        };
        Some(if negative { -v } else { v })
    }
}

impl Builtin for IntervalJoin {
    fn name(&self) -> &'static str {
        "interval_join"
    }

    fn usage(&self) -> &'static str {
        "interval_join(-2s, 1s, crate::path::to::join)"
    }

    fn outputs(&self) -> Outputs {
        Outputs::Declared
    }

    fn check(&self, call: &BuiltinCall, diags: &mut Diagnostics) {
        self.read(call, diags);
    }

    fn keys_its_input(&self) -> bool {
        true
    }

    fn late_stream(&self, call: &BuiltinCall) -> bool {
        self.join(call).is_some()
    }

    fn join(&self, call: &BuiltinCall) -> Option<JoinCall> {
        self.read(call, &mut Diagnostics::default())
    }

    fn construct(&self, call: &BuiltinCall, site: &Site) -> TokenStream {
        let Some(JoinCall {
            kind: JoinKind::Interval { lower, upper },
            function,
        }) = self.join(call)
        else {
            return quote!(::core::compile_error!("a join whose call did not check"));
        };
        let (key, time, split) = parts(site);
        let f = crate::codegen::rust::path(&function.text);
        let lateness = site.lateness_ms;
        let op = quote!(__gale::IntervalJoinOp::new(
            #lower, #upper, #lateness, #key, #time, #split, #f
        ));
        super::with_ttl(op, site)
    }
}
