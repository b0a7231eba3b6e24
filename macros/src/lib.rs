//! Gale's procedural macros (placeholder; being written).
use proc_macro::TokenStream;

/// `#[derive(Tuple)]`.
#[proc_macro_derive(Tuple, attributes(gale))]
pub fn derive_tuple(_input: TokenStream) -> TokenStream {
    TokenStream::new()
}

/// `topology! { ... }`.
#[proc_macro]
pub fn topology(_input: TokenStream) -> TokenStream {
    TokenStream::new()
}
