//! `map(f)`: `f: fn(In) -> Out`, one tuple out per tuple in (`gale::ops::MapOp`).

use super::Outputs;
use super::function::FunctionOp;
use quote::quote;

/// `map(f)`.
pub const MAP: FunctionOp = FunctionOp {
    name: "map",
    usage: "map(crate::path::to::function)",
    outputs: Outputs::Declared,
    build: |f, site| {
        let (input, out) = (&site.input, &site.out);
        quote!(__gale::MapOp::<_, #input, #out>::new(#f))
    },
};
