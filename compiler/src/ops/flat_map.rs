//! `flat_map(f)`: `f: fn(In) -> impl IntoIterator<Item = Out>`, any number of tuples out
//! per tuple in (`gale::ops::FlatMapOp`).

use super::{Builtin, Outputs, Site, function_tokens, one_function};
use crate::ast::BuiltinCall;
use crate::diagnostic::Diagnostics;
use proc_macro2::TokenStream;
use quote::quote;

/// `flat_map(f)`.
pub struct FlatMap;

impl Builtin for FlatMap {
    fn name(&self) -> &'static str {
        "flat_map"
    }

    fn usage(&self) -> &'static str {
        "flat_map(crate::path::to::function)"
    }

    fn outputs(&self) -> Outputs {
        Outputs::Declared
    }

    fn check(&self, call: &BuiltinCall, diags: &mut Diagnostics) {
        one_function(self, call, diags);
    }

    fn construct(&self, call: &BuiltinCall, site: &Site) -> TokenStream {
        let (f, input, out) = (function_tokens(call), &site.input, &site.out);
        quote!(__gale::FlatMapOp::<_, #input, #out>::new(#f))
    }
}
