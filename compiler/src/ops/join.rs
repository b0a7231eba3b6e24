//! What the join built-ins share (`window_join.rs`, `interval_join.rs`): their input is a
//! stream set of two streams (the left `a` and the right `b`), both keyed alike and on
//! event time; their last argument is the join function `fn(&A, &B) -> Out`; elements
//! later than the allowed lateness go to the `late` stream (of the input set's schema).

use super::{Builtin, Site, bad_args};
use crate::ast::{BuiltinCall, OpArg, RustPath};
use crate::diagnostic::Diagnostics;
use proc_macro2::TokenStream;
use quote::quote;

/// How a join pairs elements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinKind {
    /// `window_join(tumbling(size), f)`.
    Tumbling {
        /// Window length, ms.
        size: u64,
    },
    /// `window_join(sliding(size, slide), f)`.
    Sliding {
        /// Window length, ms.
        size: u64,
        /// Distance between starts, ms.
        slide: u64,
    },
    /// `interval_join(lower, upper, f)`: `b.ts - a.ts` within `[lower, upper]` ms.
    Interval {
        /// The lowest `b.ts - a.ts`.
        lower: i64,
        /// The highest.
        upper: i64,
    },
}

/// A checked join call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinCall {
    /// How it pairs.
    pub kind: JoinKind,
    /// The join function.
    pub function: RustPath,
}

impl JoinCall {
    /// The longest an element waits for its pairs, ms (before the lateness).
    pub fn span_ms(&self) -> u64 {
        match self.kind {
            JoinKind::Tumbling { size } | JoinKind::Sliding { size, .. } => size,
            JoinKind::Interval { lower, upper } => lower.unsigned_abs().max(upper.unsigned_abs()),
        }
    }
}

/// The last argument of a join, its function; `E0416` otherwise.
pub(crate) fn function(
    op: &dyn Builtin,
    call: &BuiltinCall,
    arg: Option<&OpArg>,
    diags: &mut Diagnostics,
) -> Option<RustPath> {
    match arg {
        Some(OpArg::Path(p)) => Some(p.clone()),
        Some(other) => {
            diags.push(
                bad_args(
                    op,
                    call,
                    format!("takes the join function last, found {}", other.kind()),
                    other.span(),
                )
                .with_label("expected a function `fn(&A, &B) -> Out`"),
            );
            None
        }
        None => {
            diags.push(
                bad_args(
                    op,
                    call,
                    "takes a join function, and none is given".into(),
                    call.span,
                )
                .with_label("no join function"),
            );
            None
        }
    }
}

/// `E0416` when `call` has other than `n` arguments.
pub(crate) fn arity(
    op: &dyn Builtin,
    call: &BuiltinCall,
    n: usize,
    diags: &mut Diagnostics,
) -> bool {
    if call.args.len() == n {
        return true;
    }
    let span = call.args.get(n).map_or(call.span, OpArg::span);
    diags.push(
        bad_args(
            op,
            call,
            format!("takes {n} arguments, found {}", call.args.len()),
            span,
        )
        .with_label("wrong arguments"),
    );
    false
}

/// The pieces every join's Rust needs at `site`: the key, the event time, and the split
/// of the input set into its two sides.
pub(crate) fn parts(site: &Site) -> (TokenStream, TokenStream, TokenStream) {
    let input = &site.input;
    let key = site.key.clone().unwrap_or_else(|| quote!(|_: &#input| ()));
    let time = site
        .timestamp
        .clone()
        .unwrap_or_else(|| quote!(|_: &#input| 0u64));
    let split = match site.input_variants.as_slice() {
        [a, b] => {
            let (a, b) = (
                crate::codegen::rust::ident(a),
                crate::codegen::rust::ident(b),
            );
            quote!(|t: #input| match t {
                #input::#a(x) => __gale::Side::Left(x),
                #input::#b(x) => __gale::Side::Right(x),
            })
        }
        _ => quote!(::core::compile_error!(
            "a join whose input is not a set of two streams"
        )),
    };
    (key, time, split)
}
