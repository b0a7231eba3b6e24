//! `process(T)`: runs `T: gale::ProcessBolt`, a bolt with keyed state
//! (`gale::ops::ProcessOp`). Keyed when every input edge is `fields(...)` by the same
//! fields (its key is then those fields), else not keyed (its key is `()`); an input keyed
//! two ways is `E0418`.

use super::{Builtin, Outputs, Site, function_tokens, one_function};
use crate::ast::BuiltinCall;
use crate::diagnostic::Diagnostics;
use proc_macro2::TokenStream;
use quote::quote;

/// `process(T)`.
pub struct Process;

impl Builtin for Process {
    fn name(&self) -> &'static str {
        "process"
    }

    fn usage(&self) -> &'static str {
        "process(crate::path::to::ProcessType)"
    }

    fn outputs(&self) -> Outputs {
        Outputs::Optional
    }

    fn check(&self, call: &BuiltinCall, diags: &mut Diagnostics) {
        one_function(self, call, diags);
    }

    fn keys_its_input(&self) -> bool {
        true
    }

    fn writes_outside(&self) -> bool {
        true
    }

    fn construct(&self, call: &BuiltinCall, site: &Site) -> TokenStream {
        let ty = function_tokens(call);
        let bolt = quote!(<#ty as ::core::default::Default>::default());
        let op = match &site.key {
            Some(key) => quote!(__gale::ProcessOp::keyed(#bolt, #key)),
            None => quote!(__gale::ProcessOp::unkeyed(#bolt)),
        };
        super::with_ttl(op, site)
    }
}
