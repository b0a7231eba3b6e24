//! `#[derive(Tuple)]`: a Rust struct with named fields becomes a tuple schema.
//!
//! The encoding is the one codegen gives `tuple` declarations of `.topo` files
//! (`gale_compiler::codegen::tuples`): the fields in declaration order, each with its own
//! `Codec`. So a schema can move between a `.topo` file and Rust without changing bytes.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::ext::IdentExt;
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::token::Comma;
use syn::{Data, DeriveInput, Field, Fields};

const NEEDS: &str = "`#[derive(gale::Tuple)]` needs a struct with named fields";

/// The `Codec` and `Tuple` impls, or every reason the input cannot be a tuple.
pub(crate) fn expand(input: &DeriveInput) -> syn::Result<TokenStream> {
    let fields = match (not_generic(input), named_fields(input)) {
        (Ok(()), Ok(fields)) => fields,
        (Err(mut first), Err(second)) => {
            first.combine(second);
            return Err(first);
        }
        (Err(e), Ok(_)) | (Ok(()), Err(e)) => return Err(e),
    };
    let name = &input.ident;
    let name_str = name.unraw().to_string();
    let idents: Vec<_> = fields.iter().filter_map(|f| f.ident.as_ref()).collect();
    let field_strs = idents.iter().map(|i| i.unraw().to_string());
    let encode = fields.iter().zip(&idents).map(|(f, i)| {
        let ty = &f.ty;
        quote_spanned!(ty.span()=> <#ty as __gale::Codec>::encode(&self.#i, out);)
    });
    let decode = fields.iter().zip(&idents).map(|(f, i)| {
        let ty = &f.ty;
        quote_spanned!(ty.span()=> #i: <#ty as __gale::Codec>::decode(input)?,)
    });
    let text = fields.iter().zip(&idents).enumerate().map(|(n, (f, i))| {
        let ty = &f.ty;
        let tab = (n > 0).then(|| quote!(out.push('\t');));
        quote_spanned!(ty.span()=> #tab (&&__gale::TextOf::<#ty>(&self.#i)).write_field(out);)
    });
    Ok(quote! {
        const _: () = {
            use ::gale::__private as __gale;

            #[automatically_derived]
            impl __gale::Codec for #name {
                #[inline]
                fn encode(&self, out: &mut ::std::vec::Vec<u8>) {
                    #(#encode)*
                }
                #[inline]
                fn decode(
                    input: &mut &[u8],
                ) -> ::core::result::Result<Self, __gale::DecodeError> {
                    ::core::result::Result::Ok(#name { #(#decode)* })
                }
            }

            #[automatically_derived]
            impl __gale::Tuple for #name {
                const NAME: &'static str = #name_str;
                const FIELDS: &'static [&'static str] = &[#(#field_strs),*];
                fn write_text(&self, out: &mut ::std::string::String) {
                    use __gale::{ViaDebug as _, ViaText as _};
                    #(#text)*
                }
            }
        };
    })
}

/// A tuple schema is one concrete type: no type, lifetime or const parameters.
fn not_generic(input: &DeriveInput) -> syn::Result<()> {
    if input.generics.params.is_empty() && input.generics.where_clause.is_none() {
        return Ok(());
    }
    Err(syn::Error::new_spanned(
        &input.generics,
        "`#[derive(gale::Tuple)]` does not support generic structs: a tuple schema is one \
         concrete type",
    ))
}

/// The fields of a struct with named fields; an error at the offending token otherwise.
fn named_fields(input: &DeriveInput) -> syn::Result<&Punctuated<Field, Comma>> {
    match &input.data {
        Data::Struct(s) => match &s.fields {
            Fields::Named(named) => Ok(&named.named),
            Fields::Unnamed(f) => Err(syn::Error::new(
                f.span(),
                format!("{NEEDS}, not a tuple struct: groupings name fields"),
            )),
            Fields::Unit => Err(syn::Error::new_spanned(
                &input.ident,
                format!("{NEEDS}, not a unit struct"),
            )),
        },
        Data::Enum(e) => Err(syn::Error::new(
            e.enum_token.span,
            format!("{NEEDS}, not an enum"),
        )),
        Data::Union(u) => Err(syn::Error::new(
            u.union_token.span,
            format!("{NEEDS}, not a union"),
        )),
    }
}
