//! The gate of each user spout and bolt: the one place generated code names its Rust type,
//! and where rustc checks, one fact at a time, what only rustc can know.
//!
//! For `bolt split = SplitWords(Sentence) -> Word` on line 14 of
//! `topologies/wordcount.topo`, codegen writes (early in the module):
//!
//! ```text
//! mod wordcount_topo_line_14_bolt_split {
//!     #[diagnostic::on_unimplemented(message = "topologies/wordcount.topo:14: bolt `split`: `{Self}` is not a bolt", ..)]
//!     pub trait IsBolt<I, O>: Bolt<In = I, Out = O> + Default {}
//!     #[diagnostic::on_unimplemented(message = "topologies/wordcount.topo:14: bolt `split`: `SplitWords` takes `{Self}`, the topology feeds it `Sentence`", ..)]
//!     pub trait Takes<T> { fn cast(t: T) -> Self; }   // implemented for T = Self only
//!     pub trait Emits<T> { fn cast(self) -> T; }       // likewise, for the output
//!     pub fn new<B: IsBolt<BI, BO>, BI: Takes<Sentence>, BO: Emits<Word>>() -> TypedBolt<B, BI, BO, Sentence, Word>
//! }
//! fn wordcount_topo_line_14_bolt_split() -> impl Bolt<In = Sentence, Out = Word> {
//!     wordcount_topo_line_14_bolt_split::new::<SplitWords, _, _>()
//! }
//! ```
//!
//! Each fact is its own bound, so a mistake fails one bound and is reported once, with a
//! message that starts with the `.topo` file, line and component; the line rustc shows is
//! the gate, whose name repeats the location. The wiring only calls the gate, whose type
//! comes from the `.topo` declaration (`gale::__private::TypedBolt`: its casts are the identity
//! once the facts hold), so it adds no errors of its own. A type missing from the `.topo`'s
//! `use` fails to resolve in the gate, once.

use super::rust::{ident, path};
use crate::ast::{ComponentKind, Operator};
use crate::graph::{Graph, Node};
use proc_macro2::{Ident, TokenStream};
use quote::{format_ident, quote};

/// The gate function of component `c` (`wordcount_topo_line_14_bolt_split`).
pub fn gate_ident(graph: &Graph, c: &Node) -> Ident {
    let kind = kind_word(c.kind);
    format_ident!("{}_line_{}_{kind}_{}", file_stem(graph), c.line, c.name)
}

/// `topologies/wordcount.topo` → `wordcount_topo`: the file's name (not its directory,
/// which differs between machines) as a valid identifier.
fn file_stem(graph: &Graph) -> String {
    let base = graph
        .file_name
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or(&graph.file_name);
    let stem: String = base
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    let stem = stem.trim_matches('_');
    if stem.is_empty() || stem.starts_with(|c: char| c.is_ascii_digit()) {
        format!("topo_{stem}")
    } else {
        stem.to_string()
    }
}

fn kind_word(kind: ComponentKind) -> &'static str {
    match kind {
        ComponentKind::Spout => "spout",
        ComponentKind::Bolt => "bolt",
    }
}

/// `{` and `}` are format syntax in `on_unimplemented` messages.
fn escape(text: &str) -> String {
    text.replace('{', "{{").replace('}', "}}")
}

/// The gates of every user component.
pub fn gates(graph: &Graph) -> TokenStream {
    graph
        .components
        .iter()
        .filter_map(|c| match &c.op {
            Operator::User(p) => Some(gate(graph, c, &p.text)),
            _ => None,
        })
        .collect()
}

fn gate(graph: &Graph, c: &Node, op_text: &str) -> TokenStream {
    let kind = kind_word(c.kind);
    let loc = escape(&format!(
        "{}:{}: {kind} `{}`",
        graph.file_name, c.line, c.name
    ));
    let op = escape(op_text);
    let op_path = path(op_text);
    let name = &c.name;
    // The module and the gate share the name (types and values are separate namespaces),
    // so the line rustc shows for an error in the gate's body names the location too.
    let gate = gate_ident(graph, c);
    let module = gate.clone();
    let out_ty = match &c.output_type {
        Some(t) => {
            let t = ident(t);
            quote!(#t)
        }
        None => quote!(()),
    };
    let out_text = c.output_type.as_deref().unwrap_or("()");
    let emits = emits_trait(&loc, &op, name, out_text, c.output_type.is_some());
    match (c.kind, &c.input) {
        (ComponentKind::Spout, _) => {
            let is = format!("{loc}: `{{Self}}` is not a spout");
            let label = format!("`{{Self}}` is named as the spout `{name}`");
            let note = format!(
                "a spout implements `gale::Spout`; if `{{Self}}` is a bolt, declare it with \
                 `bolt {name} = {op}(Input) -> {out_text}` and feed it with an edge"
            );
            quote! {
                #[doc(hidden)]
                mod #module {
                    use super::*;
                    #[diagnostic::on_unimplemented(message = #is, label = #label, note = #note)]
                    pub trait IsSpout<O>: __gale::Spout<Out = O> + ::core::default::Default {}
                    impl<T: __gale::Spout + ::core::default::Default> IsSpout<T::Out> for T {}
                    #emits
                    pub fn new<S: IsSpout<SO>, SO: Emits<#out_ty> + 'static>()
                        -> __gale::TypedSpout<S, SO, #out_ty>
                    {
                        __gale::TypedSpout::new(
                            <S as ::core::default::Default>::default(),
                            <SO as Emits<#out_ty>>::cast,
                        )
                    }
                }
                fn #gate() -> impl __gale::Spout<Out = #out_ty> { #module::new::<#op_path, _>() }
            }
        }
        (ComponentKind::Bolt, Some(input)) => {
            let in_ty = ident(input);
            let is = format!("{loc}: `{{Self}}` is not a bolt");
            let label = format!("`{{Self}}` is named as the bolt `{name}`");
            let note = format!(
                "a bolt implements `gale::Bolt`; if `{{Self}}` is a spout, declare it with \
                 `spout {name} = {op}() -> Output`"
            );
            let takes = format!("{loc}: `{op}` takes `{{Self}}`, the topology feeds it `{input}`");
            let takes_label = format!("the bolt `{name}` is fed `{input}`");
            let takes_note = format!(
                "write `type In = {input};` in `impl gale::Bolt for {op}`, or give `{name}` the \
                 input `{{Self}}` in the `.topo` file: `bolt {name} = {op}({{Self}})`"
            );
            quote! {
                #[doc(hidden)]
                mod #module {
                    use super::*;
                    #[diagnostic::on_unimplemented(message = #is, label = #label, note = #note)]
                    pub trait IsBolt<I, O>: __gale::Bolt<In = I, Out = O> + ::core::default::Default {}
                    impl<T: __gale::Bolt + ::core::default::Default> IsBolt<T::In, T::Out> for T {}
                    #[diagnostic::on_unimplemented(message = #takes, label = #takes_label, note = #takes_note)]
                    pub trait Takes<T> { fn cast(t: T) -> Self; }
                    impl<T> Takes<T> for T { #[inline(always)] fn cast(t: T) -> T { t } }
                    #emits
                    pub fn new<B: IsBolt<BI, BO>, BI: Takes<#in_ty> + 'static, BO: Emits<#out_ty> + 'static>()
                        -> __gale::TypedBolt<B, BI, BO, #in_ty, #out_ty>
                    {
                        __gale::TypedBolt::new(
                            <B as ::core::default::Default>::default(),
                            <BI as Takes<#in_ty>>::cast,
                            <BO as Emits<#out_ty>>::cast,
                        )
                    }
                }
                fn #gate() -> impl __gale::Bolt<In = #in_ty, Out = #out_ty> {
                    #module::new::<#op_path, _, _>()
                }
            }
        }
        // A bolt without input is `E0406`: the checker never lets it through.
        (ComponentKind::Bolt, None) => TokenStream::new(),
    }
}

/// The output fact: `Emits<Word>` is implemented by `Word` only.
fn emits_trait(loc: &str, op: &str, name: &str, out: &str, has_output: bool) -> TokenStream {
    let (message, note) = if has_output {
        (
            format!("{loc}: `{op}` emits `{{Self}}`, the topology says it emits `{out}`"),
            format!(
                "write `type Out = {out};` in `{op}`'s impl, or declare its output as \
                 `-> {{Self}}` in the `.topo` file"
            ),
        )
    } else {
        (
            format!("{loc}: `{op}` emits `{{Self}}`, but the topology declares it a sink"),
            format!(
                "a sink emits nothing: write `type Out = ();` in `{op}`'s impl, or declare \
                 the output in the `.topo` file: `-> {{Self}}`"
            ),
        )
    };
    let label = format!("`{name}` is declared to emit `{out}`");
    quote! {
        #[diagnostic::on_unimplemented(message = #message, label = #label, note = #note)]
        pub trait Emits<T> { fn cast(self) -> T; }
        impl<T> Emits<T> for T { #[inline(always)] fn cast(self) -> T { self } }
    }
}
