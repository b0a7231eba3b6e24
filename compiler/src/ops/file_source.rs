//! `file_source("path")`: a replayable spout emitting every line of a text file (its
//! position in the checkpoints: a restore rewinds to it), as a tuple with one `String`
//! field (`gale::io::FileSource`).

use super::{Builtin, Outputs, Site, one_string};
use crate::ast::BuiltinCall;
use crate::diagnostic::Diagnostics;
use proc_macro2::TokenStream;
use quote::quote;

/// `file_source("path")`.
pub struct FileSource;

impl Builtin for FileSource {
    fn name(&self) -> &'static str {
        "file_source"
    }

    fn usage(&self) -> &'static str {
        "file_source(\"path/to/file\")"
    }

    fn outputs(&self) -> Outputs {
        Outputs::Declared
    }

    fn is_source(&self) -> bool {
        true
    }

    fn check(&self, call: &BuiltinCall, diags: &mut Diagnostics) {
        one_string(self, call, "the path of the file it reads", diags);
    }

    fn construct(&self, call: &BuiltinCall, site: &Site) -> TokenStream {
        let path = super::string_arg(call);
        let out = &site.out;
        // The output schema's one field (checked: `E0430`: a `String` or a `Str`); an
        // imported schema builds itself `From<String>`.
        let make = match site.out_fields.as_slice() {
            [field] => {
                let f = crate::codegen::rust::ident(field);
                quote!(|line: ::std::string::String| #out {
                    #f: ::core::convert::Into::into(line),
                })
            }
            _ => quote!(<#out as ::core::convert::From<::std::string::String>>::from),
        };
        quote!(__gale::FileSource::<#out>::new(#path, #make))
    }
}
