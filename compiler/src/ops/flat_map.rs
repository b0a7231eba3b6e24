//! `flat_map(f)`: `f: fn(In) -> impl IntoIterator<Item = Out>`, any number of tuples out
//! per tuple in (`gale::ops::FlatMapOp`).

use super::Outputs;
use super::function::FunctionOp;
use quote::quote;

/// `flat_map(f)`.
pub const FLAT_MAP: FunctionOp = FunctionOp {
    name: "flat_map",
    usage: "flat_map(crate::path::to::function)",
    outputs: Outputs::Declared,
    build: |f, site| {
        let (input, out) = (&site.input, &site.out);
        quote!(__gale::FlatMapOp::<_, #input, #out>::new(#f))
    },
};
