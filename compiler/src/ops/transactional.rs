//! `transactional(T)`: runs `T: gale::TransactionalSink`, a sink whose writes commit with
//! the checkpoints (`gale::ops::TransactionalOp`): what ends an `exactly_once` topology.

use super::{Builtin, Outputs, Site, function_tokens, one_function};
use crate::ast::BuiltinCall;
use crate::diagnostic::Diagnostics;
use proc_macro2::TokenStream;
use quote::quote;

/// `transactional(T)`.
pub struct Transactional;

impl Builtin for Transactional {
    fn name(&self) -> &'static str {
        "transactional"
    }

    fn usage(&self) -> &'static str {
        "transactional(crate::path::to::SinkType)"
    }

    fn outputs(&self) -> Outputs {
        Outputs::Nothing
    }

    fn check(&self, call: &BuiltinCall, diags: &mut Diagnostics) {
        one_function(self, call, diags);
    }

    fn construct(&self, call: &BuiltinCall, _site: &Site) -> TokenStream {
        let ty = function_tokens(call);
        quote!(__gale::TransactionalOp::new(<#ty as ::core::default::Default>::default()))
    }
}
