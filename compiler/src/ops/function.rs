//! What `map(f)`, `filter(f)` and `flat_map(f)` share: one argument, a Rust function, and
//! a runtime adapter built around it. Each is a constant in its own file naming its
//! output rule and the code that builds it.

use super::{Builtin, Outputs, Site, function_tokens, one_function};
use crate::ast::BuiltinCall;
use crate::diagnostic::Diagnostics;
use proc_macro2::TokenStream;

/// A built-in that names one Rust function.
pub struct FunctionOp {
    /// Its keyword.
    pub name: &'static str,
    /// How it is written, for messages.
    pub usage: &'static str,
    /// What it outputs.
    pub outputs: Outputs,
    /// The adapter around the function `f` at `site`.
    pub build: fn(f: TokenStream, site: &Site) -> TokenStream,
}

impl Builtin for FunctionOp {
    fn name(&self) -> &'static str {
        self.name
    }

    fn usage(&self) -> &'static str {
        self.usage
    }

    fn outputs(&self) -> Outputs {
        self.outputs
    }

    fn check(&self, call: &BuiltinCall, diags: &mut Diagnostics) {
        one_function(self, call, diags);
    }

    fn construct(&self, call: &BuiltinCall, site: &Site) -> TokenStream {
        (self.build)(function_tokens(call), site)
    }
}
