//! # gale-macros
//!
//! Gale's procedural macros, a thin shim over `gale-compiler` (as `dfir_macro` is over
//! `dfir_lang`). Use them through the `gale` crate, which re-exports both:
//!
//! - [`derive@Tuple`]: a Rust struct as a tuple schema (codec, name, field names).
//! - [`topology!`]: a `.topo` file written inline, compiled by the same front end as
//!   `build.rs` uses, its diagnostics reported at the tokens they are about.
//!
//! Generated code names only `::gale::__private` paths.

mod diagnostics;
mod respan;
mod source_text;
mod topology_macro;
mod tuple_derive;

use proc_macro::TokenStream;

/// Makes a struct with named fields a Gale tuple schema: implements
/// `gale::__private::Codec` (each field in declaration order, with its own codec: the same
/// encoding as a `tuple` declared in a `.topo` file) and `gale::Tuple` (`NAME`, `FIELDS`).
///
/// The struct must also implement `Clone` and `Debug` (derive them), and every field type
/// must implement `gale::Codec`.
///
/// ```ignore
/// #[derive(Debug, Clone, PartialEq, gale::Tuple)]
/// pub struct Reading { pub sensor: u32, pub celsius: f64 }
/// ```
#[proc_macro_derive(Tuple)]
pub fn derive_tuple(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as syn::DeriveInput);
    tuple_derive::expand(&input)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// A topology written inline in the `.topo` language: `use` declarations, `tuple` and
/// `streams` declarations, and one `topology` block. Expands to
/// `pub mod <name> { ...; pub fn topology() -> gale::Topology }`, exactly what `build.rs`
/// generates for a `.topo` file; errors are reported at the offending tokens.
///
/// ```ignore
/// gale::topology! {
///     use crate::Reading;
///     topology sensors {
///         spout readings = Sensors() -> Reading parallelism 2
///         bolt  avg      = Average(Reading) parallelism 2
///         readings -> avg : fields(sensor)
///     }
/// }
/// fn main() -> std::process::ExitCode { gale::main(sensors::topology()) }
/// ```
#[proc_macro]
pub fn topology(input: TokenStream) -> TokenStream {
    topology_macro::expand(input.into()).into()
}
