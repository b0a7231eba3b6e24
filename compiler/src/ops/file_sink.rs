//! `file_sink("dir")`: writes every tuple as a line of tab-separated fields into part
//! files under `dir`, exactly once by two-phase commit (`gale::io::FileSink` under
//! `gale::ops::TransactionalOp`).

use super::{Builtin, Outputs, Site, one_string};
use crate::ast::BuiltinCall;
use crate::diagnostic::Diagnostics;
use proc_macro2::TokenStream;
use quote::quote;

/// `file_sink("dir")`.
pub struct FileSink;

impl Builtin for FileSink {
    fn name(&self) -> &'static str {
        "file_sink"
    }

    fn usage(&self) -> &'static str {
        "file_sink(\"path/to/dir\")"
    }

    fn outputs(&self) -> Outputs {
        Outputs::Nothing
    }

    fn check(&self, call: &BuiltinCall, diags: &mut Diagnostics) {
        one_string(self, call, "the directory it writes to", diags);
    }

    fn construct(&self, call: &BuiltinCall, site: &Site) -> TokenStream {
        let dir = super::string_arg(call);
        let input = &site.input;
        quote!(__gale::TransactionalOp::new(__gale::FileSink::<#input>::new(#dir)))
    }
}
