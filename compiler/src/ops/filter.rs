//! `filter(f)`: `f: fn(&T) -> bool`; passes on the tuples it accepts, unchanged, so its
//! output schema is its input's (`gale::ops::FilterOp`).

use super::{Builtin, Outputs, Site, function_tokens, one_function};
use crate::ast::BuiltinCall;
use crate::diagnostic::Diagnostics;
use proc_macro2::TokenStream;
use quote::quote;

/// `filter(f)`.
pub struct Filter;

impl Builtin for Filter {
    fn name(&self) -> &'static str {
        "filter"
    }

    fn usage(&self) -> &'static str {
        "filter(crate::path::to::predicate)"
    }

    fn outputs(&self) -> Outputs {
        Outputs::Input
    }

    fn check(&self, call: &BuiltinCall, diags: &mut Diagnostics) {
        one_function(self, call, diags);
    }

    fn construct(&self, call: &BuiltinCall, site: &Site) -> TokenStream {
        let (f, input) = (function_tokens(call), &site.input);
        quote!(__gale::FilterOp::<_, #input>::new(#f))
    }
}
