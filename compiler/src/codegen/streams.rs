//! Stream sets: an enum with one variant per stream (with the binary codec, for a bolt that
//! consumes the set across workers), and the emitter that splits it.
//!
//! `streams Routed { normal: Event, alerts: Alert }` becomes `enum Routed { Normal(Event),
//! Alerts(Alert) }` and `RoutedOutputs<E0, E1>`, which sends each variant to its stream.

use super::rust::ident;
use crate::graph::{Graph, StreamSet};
use proc_macro2::TokenStream;
use quote::{format_ident, quote};

/// The name of a stream set's splitting emitter.
pub fn outputs_ident(set: &str) -> proc_macro2::Ident {
    format_ident!("{}Outputs", set)
}

/// The enum and its splitting emitter.
pub fn stream_set(set: &StreamSet, _graph: &Graph) -> TokenStream {
    let name = ident(&set.name);
    let outputs = outputs_ident(&set.name);
    let variants: Vec<_> = set
        .streams
        .iter()
        .map(|s| ident(s.variant.as_deref().unwrap_or(&s.name)))
        .collect();
    let schemas: Vec<_> = set.streams.iter().map(|s| ident(&s.schema)).collect();
    let params: Vec<_> = (0..set.streams.len())
        .map(|i| format_ident!("E{}", i))
        .collect();
    let idx: Vec<_> = (0..set.streams.len()).map(syn::Index::from).collect();
    let idx_u32: Vec<_> = (0..set.streams.len())
        .map(|i| proc_macro2::Literal::u32_suffixed(i as u32))
        .collect();
    let doc = format!(
        " The `{}` stream set: emit a variant to emit on its stream.",
        set.name
    );
    let outputs_doc = format!(" Splits `{}` values onto their streams.", set.name);
    quote! {
        #[doc = #doc]
        #[derive(Debug, Clone, PartialEq)]
        pub enum #name {
            #( #variants(#schemas), )*
        }

        impl __gale::Codec for #name {
            #[inline]
            fn encode(&self, out: &mut ::std::vec::Vec<u8>) {
                match self {
                    #( #name::#variants(t) => {
                        __gale::Codec::encode(&(#idx_u32 as u32), out);
                        __gale::Codec::encode(t, out);
                    } )*
                }
            }
            fn decode(input: &mut &[u8]) -> ::core::result::Result<Self, __gale::DecodeError> {
                let tag: u32 = __gale::Codec::decode(input)?;
                match tag {
                    #( #idx_u32 => ::core::result::Result::Ok(#name::#variants(__gale::Codec::decode(input)?)), )*
                    other => ::core::result::Result::Err(__gale::DecodeError::BadTag(u8::try_from(other).unwrap_or(u8::MAX))),
                }
            }
        }

        #[doc = #outputs_doc]
        #[doc(hidden)]
        pub struct #outputs<#(#params),*>(#(pub #params),*);

        impl<#(#params: __gale::Emitter<#schemas>),*> __gale::Emitter<#name> for #outputs<#(#params),*> {
            #[inline]
            fn emit(&mut self, tuple: #name) {
                match tuple {
                    #( #name::#variants(t) => self.#idx.emit(t), )*
                }
            }
            #[inline]
            fn emit_direct(&mut self, task: __gale::TaskId, tuple: #name) {
                match tuple {
                    #( #name::#variants(t) => self.#idx.emit_direct(task, t), )*
                }
            }
        }

        impl<#(#params: __gale::Downstream<#schemas>),*> __gale::Downstream<#name> for #outputs<#(#params),*> {
            #[inline]
            fn emit_tracked(&mut self, tuple: #name, anchoring: &mut __gale::Anchoring<'_>) {
                match tuple {
                    #( #name::#variants(t) => self.#idx.emit_tracked(t, anchoring), )*
                }
            }
            #[inline]
            fn emit_direct_tracked(&mut self, task: __gale::TaskId, tuple: #name, anchoring: &mut __gale::Anchoring<'_>) {
                match tuple {
                    #( #name::#variants(t) => self.#idx.emit_direct_tracked(task, t, anchoring), )*
                }
            }
            fn open(&mut self, wiring: &__gale::Wiring) {
                #( self.#idx.open(wiring); )*
            }
            fn flush(&mut self) {
                #( self.#idx.flush(); )*
            }
            fn finish(&mut self) {
                #( self.#idx.finish(); )*
            }
            fn report(&mut self, wiring: &__gale::Wiring) {
                #( self.#idx.report(wiring); )*
            }
            fn watermark(&mut self, watermark: i64) {
                #( self.#idx.watermark(watermark); )*
            }
            fn barrier(&mut self, id: u64, savepoint: bool) {
                #( self.#idx.barrier(id, savepoint); )*
            }
            fn notify_complete(&mut self, id: u64) {
                #( self.#idx.notify_complete(id); )*
            }
            fn tick(&mut self, now_ms: u64) {
                #( self.#idx.tick(now_ms); )*
            }
            fn advance_snapshots(&mut self, budget: ::std::time::Duration) -> bool {
                let mut pending = false;
                #( pending |= self.#idx.advance_snapshots(budget); )*
                pending
            }
            fn snapshot_paused(&mut self, took: ::std::time::Duration) {
                #( self.#idx.snapshot_paused(took); )*
            }
            fn tick_interval(&self) -> ::core::option::Option<::std::time::Duration> {
                let mut t: ::core::option::Option<::std::time::Duration> = ::core::option::Option::None;
                #( t = match (t, self.#idx.tick_interval()) {
                    (::core::option::Option::Some(a), ::core::option::Option::Some(b)) => ::core::option::Option::Some(a.min(b)),
                    (a, b) => a.or(b),
                }; )*
                t
            }
        }
    }
}
