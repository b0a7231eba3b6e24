//! `filter(f)`: `f: fn(&T) -> bool`; passes on the tuples it accepts, unchanged, so its
//! output schema is its input's (`gale::ops::FilterOp`).

use super::Outputs;
use super::function::FunctionOp;
use quote::quote;

/// `filter(f)`.
pub const FILTER: FunctionOp = FunctionOp {
    name: "filter",
    usage: "filter(crate::path::to::predicate)",
    outputs: Outputs::Input,
    build: |f, site| {
        let input = &site.input;
        quote!(__gale::FilterOp::<_, #input>::new(#f))
    },
};
