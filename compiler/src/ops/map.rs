//! `map(f)`: `f: fn(In) -> Out`, one tuple out per tuple in (`gale::ops::MapOp`).

use super::{Builtin, Outputs, Site, function_tokens, one_function};
use crate::ast::BuiltinCall;
use crate::diagnostic::Diagnostics;
use proc_macro2::TokenStream;
use quote::quote;

/// `map(f)`.
pub struct Map;

impl Builtin for Map {
    fn name(&self) -> &'static str {
        "map"
    }

    fn usage(&self) -> &'static str {
        "map(crate::path::to::function)"
    }

    fn outputs(&self) -> Outputs {
        Outputs::Declared
    }

    fn check(&self, call: &BuiltinCall, diags: &mut Diagnostics) {
        one_function(self, call, diags);
    }

    fn construct(&self, call: &BuiltinCall, site: &Site) -> TokenStream {
        let (f, input, out) = (function_tokens(call), &site.input, &site.out);
        quote!(__gale::MapOp::<_, #input, #out>::new(#f))
    }
}
