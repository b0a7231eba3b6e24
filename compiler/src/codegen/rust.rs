//! Small helpers turning `.topo` text into Rust tokens.

use crate::ast::{Type, TypeKind};
use proc_macro2::TokenStream;
use quote::{format_ident, quote};

/// A Rust path from its text (`crate::ops::Split`); a `compile_error!` if it is not one.
pub fn path(text: &str) -> TokenStream {
    match syn::parse_str::<syn::Path>(text) {
        Ok(p) => quote!(#p),
        Err(_) => {
            let msg = format!("`{text}` is not a Rust path");
            quote!(::core::compile_error!(#msg))
        }
    }
}

/// `use <tree>;`
pub fn use_tree(tree: &str) -> TokenStream {
    match syn::parse_str::<syn::UseTree>(tree) {
        Ok(t) => quote!(use #t;),
        Err(_) => {
            let msg = format!("`use {tree};` is not a Rust use declaration");
            quote!(::core::compile_error!(#msg);)
        }
    }
}

/// An identifier for a name the checker accepted.
pub fn ident(name: &str) -> proc_macro2::Ident {
    format_ident!("{}", name)
}

/// The Rust type of a tuple field.
pub fn field_type(ty: &Type) -> TokenStream {
    match &ty.kind {
        TypeKind::Prim(p) => {
            let i = ident(p.as_str());
            quote!(#i)
        }
        TypeKind::String => quote!(::std::string::String),
        TypeKind::Str => quote!(::gale::__private::Str),
        TypeKind::Bytes => quote!(::std::vec::Vec<u8>),
        TypeKind::Option(inner) => {
            let t = field_type(inner);
            quote!(::core::option::Option<#t>)
        }
        TypeKind::Vec(inner) => {
            let t = field_type(inner);
            quote!(::std::vec::Vec<#t>)
        }
        TypeKind::Named(n) => {
            let i = ident(&n.name);
            quote!(#i)
        }
    }
}
