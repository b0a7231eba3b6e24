//! `window_join(tumbling(size) | sliding(size, slide), f)`: every pair `(a, b)` of one key
//! whose elements fall in the same window, made by `f(&a, &b)` when the window fires
//! (Flink's `JoinedStreams.window(...)`; a pair in several sliding windows is output once
//! per window). The runtime half is `gale::ops::window_join`.

use super::join::{JoinCall, JoinKind, arity, function, parts};
use super::{Builtin, Outputs, Site, bad_args};
use crate::ast::{BuiltinCall, OpArg};
use crate::diagnostic::{Diagnostic, Diagnostics};
use proc_macro2::TokenStream;
use quote::quote;

/// `window_join(window, f)`.
pub struct WindowJoin;

/// The built-in.
pub const WINDOW_JOIN: WindowJoin = WindowJoin;

impl WindowJoin {
    fn read(&self, call: &BuiltinCall, diags: &mut Diagnostics) -> Option<JoinCall> {
        if !arity(self, call, 2, diags) {
            return None;
        }
        let kind = self.window(call, &call.args[0], diags);
        let function = function(self, call, call.args.get(1), diags);
        Some(JoinCall {
            kind: kind?,
            function: function?,
        })
    }

    fn window(&self, call: &BuiltinCall, arg: &OpArg, diags: &mut Diagnostics) -> Option<JoinKind> {
        let OpArg::Call(w) = arg else {
            diags.push(
                bad_args(
                    self,
                    call,
                    format!("takes its window first, found {}", arg.kind()),
                    arg.span(),
                )
                .with_label("expected `tumbling(size)` or `sliding(size, slide)`"),
            );
            return None;
        };
        let sizes: Vec<u64> = w
            .args
            .iter()
            .map(|a| match a {
                OpArg::Duration(d) if d.value > 0 => Some(d.value),
                OpArg::Duration(d) => {
                    diags.push(
                        Diagnostic::error(
                            "E0421",
                            format!("a window size of zero in `{}`", call.name.name),
                            d.span,
                        )
                        .with_label("must be greater than zero")
                        .with_help("write it `window_join(tumbling(10s), crate::path::to::join)`"),
                    );
                    None
                }
                other => {
                    diags.push(
                        bad_args(
                            self,
                            call,
                            format!("sizes its window with durations, found {}", other.kind()),
                            other.span(),
                        )
                        .with_label("expected a duration such as `10s`"),
                    );
                    None
                }
            })
            .collect::<Option<_>>()?;
        match (w.name.name.as_str(), sizes.as_slice()) {
            ("tumbling", [size]) => Some(JoinKind::Tumbling { size: *size }),
            ("sliding", [size, slide]) if size % slide == 0 => Some(JoinKind::Sliding {
                size: *size,
                slide: *slide,
            }),
            ("sliding", [size, slide]) => {
                diags.push(
                    Diagnostic::error(
                        "E0421",
                        format!("a sliding window of {size} ms is not a multiple of its slide of {slide} ms"),
                        w.args[1].span(),
                    )
                    .with_label("the slide must divide the size")
                    .with_help("every element must be in the same number of windows: make the size a multiple of the slide, e.g. `sliding(10s, 2s)`"),
                );
                None
            }
            (name @ ("tumbling" | "sliding"), _) => {
                let want = if name == "tumbling" {
                    "one duration"
                } else {
                    "two durations"
                };
                diags.push(
                    bad_args(self, call, format!("`{name}` takes {want}"), w.span)
                        .with_label("wrong window arguments"),
                );
                None
            }
            (other, _) => {
                diags.push(
                    bad_args(self, call, format!("has no window `{other}`"), w.name.span)
                        .with_label("expected `tumbling(size)` or `sliding(size, slide)`"),
                );
                None
            }
        }
    }
}

impl Builtin for WindowJoin {
    fn name(&self) -> &'static str {
        "window_join"
    }

    fn usage(&self) -> &'static str {
        "window_join(tumbling(10s), crate::path::to::join)"
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
        let Some(j) = self.join(call) else {
            return quote!(::core::compile_error!("a join whose call did not check"));
        };
        let assigner = match j.kind {
            JoinKind::Tumbling { size } => quote!(__gale::Assigner::Tumbling { size: #size }),
            JoinKind::Sliding { size, slide } => {
                quote!(__gale::Assigner::Sliding { size: #size, slide: #slide })
            }
            JoinKind::Interval { .. } => quote!(::core::compile_error!("not a window join")),
        };
        let (key, time, split) = parts(site);
        let f = crate::codegen::rust::path(&j.function.text);
        let lateness = site.lateness_ms;
        let op = quote!(__gale::WindowOp::with(
            #assigner,
            #lateness,
            false,
            __gale::JoinAgg::new(#split),
            #key,
            #time,
            __gale::JoinPairs(#f)
        ));
        super::with_ttl(op, site)
    }
}
