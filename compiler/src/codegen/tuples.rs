//! Tuple structs: fields, the binary codec, and the schema description.

use super::rust::{field_type, ident};
use crate::graph::TupleSchema;
use proc_macro2::TokenStream;
use quote::quote;

/// `pub struct Name { pub field: Type, ... }` with `Codec` and `Tuple` impls.
pub fn tuple_struct(t: &TupleSchema) -> TokenStream {
    let name = ident(&t.name);
    let field_names: Vec<_> = t.fields.iter().map(|(n, _)| ident(n)).collect();
    let field_types: Vec<_> = t.fields.iter().map(|(_, ty)| field_type(ty)).collect();
    let name_str = &t.name;
    let field_strs = t.fields.iter().map(|(n, _)| n.as_str());
    let doc = format!(" The `{}` tuple schema.", t.name);
    let text = text_fields(&field_names);
    quote! {
        #[doc = #doc]
        #[derive(Debug, Clone, PartialEq, Default)]
        pub struct #name {
            #( pub #field_names: #field_types, )*
        }

        impl __gale::Codec for #name {
            #[inline]
            fn encode(&self, out: &mut ::std::vec::Vec<u8>) {
                #( __gale::Codec::encode(&self.#field_names, out); )*
            }
            #[inline]
            fn decode(input: &mut &[u8]) -> ::core::result::Result<Self, __gale::DecodeError> {
                ::core::result::Result::Ok(#name {
                    #( #field_names: __gale::Codec::decode(input)?, )*
                })
            }
        }

        impl __gale::Tuple for #name {
            const NAME: &'static str = #name_str;
            const FIELDS: &'static [&'static str] = &[#(#field_strs),*];
            fn write_text(&self, out: &mut ::std::string::String) {
                #text
            }
        }
    }
}

/// The body of `Tuple::write_text`: the fields as text, tab-separated.
pub(crate) fn text_fields<F: quote::ToTokens>(fields: &[F]) -> TokenStream {
    let writes = fields.iter().enumerate().map(|(i, f)| {
        let tab = (i > 0).then(|| quote!(out.push('\t');));
        quote!(#tab (&&__gale::TextOf(&self.#f)).write_field(out);)
    });
    quote! {
        use __gale::{ViaDebug as _, ViaText as _};
        #(#writes)*
    }
}
