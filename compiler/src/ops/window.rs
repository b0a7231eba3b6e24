//! What the window built-ins share: their arguments (sizes, then the aggregation, then an
//! optional `processing_time`), their checks, and the code that builds them
//! (`gale::window::WindowOp`). Each window kind is its own file (`tumbling.rs`,
//! `sliding.rs`, `session.rs`, `count_window.rs`) naming its sizes.
//!
//! The output of a window with an aggregation (`count`, `sum(f)`, `min(f)`, `max(f)`,
//! `avg(f)`, `aggregate(T)`) is a tuple with the key fields (named as the input's), `start`
//! and `end` (`u64`, the window's bounds in ms) and one more field for the result; with
//! `reduce(f)` it is the input schema (the folded tuple); with `apply(T)` whatever `T`
//! emits.

use super::{Builtin, Outputs, Site, bad_args};
use crate::ast::{BuiltinCall, OpArg, RustPath};
use crate::diagnostic::{Diagnostic, Diagnostics};

/// The aggregation of a window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Aggregation {
    /// `count`.
    Count,
    /// `sum(field)`.
    Sum(RustPath),
    /// `min(field)`.
    Min(RustPath),
    /// `max(field)`.
    Max(RustPath),
    /// `avg(field)`.
    Avg(RustPath),
    /// `reduce(fn)`: `fn(T, T) -> T`.
    Reduce(RustPath),
    /// `aggregate(T)`: `T: gale::state::AggregateFunction + Default`.
    Aggregate(RustPath),
    /// `apply(T)`: `T: gale::window::WindowFunction + Default`, sees every element.
    Apply(RustPath),
}

impl Aggregation {
    /// The input field it reads (`sum(amount)`: `amount`).
    pub fn field(&self) -> Option<&RustPath> {
        match self {
            Aggregation::Sum(f)
            | Aggregation::Min(f)
            | Aggregation::Max(f)
            | Aggregation::Avg(f) => Some(f),
            _ => None,
        }
    }
}

/// How a window's elements are assigned, in ms (or elements for `count_window`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `tumbling(size, ...)`.
    Tumbling {
        /// Window length.
        size: u64,
    },
    /// `sliding(size, slide, ...)`.
    Sliding {
        /// Window length.
        size: u64,
        /// Distance between starts.
        slide: u64,
    },
    /// `session(gap, ...)`.
    Session {
        /// Inactivity gap.
        gap: u64,
    },
    /// `count_window(n, ...)`.
    Count {
        /// Elements per window.
        n: u64,
    },
}

/// A checked window call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowCall {
    /// Its assigner.
    pub kind: Kind,
    /// Its aggregation.
    pub aggregation: Aggregation,
    /// On processing time (`processing_time`) rather than event time.
    pub processing_time: bool,
}

impl WindowCall {
    /// The longest time a window stays open (its size, or its gap), if it is a time window.
    pub fn span_ms(&self) -> Option<u64> {
        match self.kind {
            Kind::Tumbling { size } | Kind::Sliding { size, .. } => Some(size),
            Kind::Session { gap } => Some(gap),
            Kind::Count { .. } => None,
        }
    }
}

/// A further check of a window's sizes: false when it reported them wrong.
pub type SizeCheck = fn(&[u64], &BuiltinCall, &mut Diagnostics) -> bool;

/// A window built-in: its name, its sizes and how they make its assigner. Each kind is a
/// constant in its own file (`tumbling.rs`...).
pub struct WindowKind {
    /// Its keyword.
    pub name: &'static str,
    /// How it is written, for messages.
    pub usage: &'static str,
    /// How many size arguments come first.
    pub sizes: usize,
    /// Whether they count elements (else they are durations).
    pub counts: bool,
    /// Its assigner from its sizes.
    pub kind: fn(&[u64]) -> Kind,
    /// A further check of its sizes (false: reported).
    pub check_sizes: Option<SizeCheck>,
}

impl WindowKind {
    /// The call, checked.
    fn read(&self, call: &BuiltinCall, diags: &mut Diagnostics) -> Option<WindowCall> {
        let (sizes, aggregation, processing_time) =
            read(self, call, self.sizes, self.counts, diags)?;
        if let Some(check) = self.check_sizes
            && !check(&sizes, call, diags)
        {
            return None;
        }
        Some(WindowCall {
            kind: (self.kind)(&sizes),
            aggregation,
            processing_time,
        })
    }
}

impl Builtin for WindowKind {
    fn name(&self) -> &'static str {
        self.name
    }

    fn usage(&self) -> &'static str {
        self.usage
    }

    fn outputs(&self) -> Outputs {
        Outputs::Declared
    }

    fn check(&self, call: &BuiltinCall, diags: &mut Diagnostics) {
        self.read(call, diags);
    }

    fn keys_its_input(&self) -> bool {
        true
    }

    fn window(&self, call: &BuiltinCall) -> Option<WindowCall> {
        self.read(call, &mut Diagnostics::default())
    }

    fn construct(&self, call: &BuiltinCall, site: &Site) -> proc_macro2::TokenStream {
        construct(self.window(call), site)
    }
}

/// Reads `call` as a window with `sizes` leading size arguments (durations, or a count for
/// `count_window`); reports what is wrong (`E0416`, `E0421`) and returns `None` then.
pub fn read(
    op: &dyn Builtin,
    call: &BuiltinCall,
    sizes: usize,
    counts: bool,
    diags: &mut Diagnostics,
) -> Option<(Vec<u64>, Aggregation, bool)> {
    let args = &call.args;
    if args.len() < sizes + 1 || args.len() > sizes + 2 {
        let span = args.get(sizes + 2).map_or(call.span, OpArg::span);
        diags.push(
            bad_args(
                op,
                call,
                format!(
                    "takes {sizes} size{} and an aggregation, found {} argument{}",
                    if sizes == 1 { "" } else { "s" },
                    args.len(),
                    if args.len() == 1 { "" } else { "s" }
                ),
                span,
            )
            .with_label("wrong arguments"),
        );
        return None;
    }
    let mut ok = true;
    let mut values = Vec::new();
    for a in &args[..sizes] {
        match (a, counts) {
            (OpArg::Duration(d), false) | (OpArg::Int(d), true) => {
                if d.value == 0 {
                    ok = false;
                    diags.push(
                        Diagnostic::error(
                            "E0421",
                            format!("a window size of zero in `{}`", call.name.name),
                            d.span,
                        )
                        .with_label("must be greater than zero")
                        .with_help(format!("write it `{}`", op.usage())),
                    );
                }
                values.push(d.value);
            }
            (OpArg::Int(n), false) => {
                ok = false;
                diags.push(
                    bad_args(
                        op,
                        call,
                        format!("takes durations, found the number `{}`", n.value),
                        n.span,
                    )
                    .with_label(format!("give the unit: `{}s` or `{}ms`", n.value, n.value)),
                );
            }
            (other, _) => {
                ok = false;
                let want = if counts {
                    "a number of elements"
                } else {
                    "a duration"
                };
                diags.push(
                    bad_args(
                        op,
                        call,
                        format!("takes {want} first, found {}", other.kind()),
                        other.span(),
                    )
                    .with_label(format!("expected {want}")),
                );
            }
        }
    }
    let aggregation = aggregation(op, call, &args[sizes], diags);
    let processing_time = match args.get(sizes + 1) {
        None => false,
        Some(OpArg::Path(p)) if p.text == "processing_time" && !counts => true,
        Some(OpArg::Path(p)) if p.text == "event_time" && !counts => false,
        Some(other) => {
            ok = false;
            diags.push(
                bad_args(
                    op,
                    call,
                    "takes `processing_time` or `event_time` after its aggregation".into(),
                    other.span(),
                )
                .with_label("expected `processing_time` or `event_time`"),
            );
            false
        }
    };
    match (ok, aggregation) {
        (true, Some(a)) => Some((values, a, processing_time)),
        _ => None,
    }
}

/// The name of a nested call, if `arg` is one.
fn c_name(arg: &OpArg) -> Option<&str> {
    match arg {
        OpArg::Call(c) => Some(c.name.name.as_str()),
        _ => None,
    }
}

fn aggregation(
    op: &dyn Builtin,
    call: &BuiltinCall,
    arg: &OpArg,
    diags: &mut Diagnostics,
) -> Option<Aggregation> {
    const KINDS: &str = "`count`, `sum(f)`, `min(f)`, `max(f)`, `avg(f)`, `reduce(fn)`, `aggregate(T)` or `apply(T)`";
    let field_arg = matches!(c_name(arg), Some("sum" | "min" | "max" | "avg"));
    let one = |c: &BuiltinCall, diags: &mut Diagnostics| match c.args.as_slice() {
        // `sum(f)`, `min(f)`, `max(f)`, `avg(f)` name a field: one plain name.
        [OpArg::Path(p)] if field_arg && p.text.contains("::") => {
            diags.push(
                bad_args(
                    op,
                    call,
                    format!(
                        "`{}` takes a field name, found the path `{}`",
                        c.name.name, p.text
                    ),
                    p.span,
                )
                .with_label("a field of the input schema, such as `amount`"),
            );
            None
        }
        [OpArg::Path(p)] => Some(p.clone()),
        _ => {
            diags.push(
                bad_args(
                    op,
                    call,
                    format!(
                        "`{}` takes one name, found {} arguments",
                        c.name.name,
                        c.args.len()
                    ),
                    c.span,
                )
                .with_label(format!("write `{}(name)`", c.name.name)),
            );
            None
        }
    };
    match arg {
        OpArg::Path(p) if p.text == "count" => Some(Aggregation::Count),
        OpArg::Call(c) => {
            let make: fn(RustPath) -> Aggregation = match c.name.name.as_str() {
                "sum" => Aggregation::Sum,
                "min" => Aggregation::Min,
                "max" => Aggregation::Max,
                "avg" => Aggregation::Avg,
                "reduce" => Aggregation::Reduce,
                "aggregate" => Aggregation::Aggregate,
                "apply" => Aggregation::Apply,
                other => {
                    diags.push(
                        bad_args(
                            op,
                            call,
                            format!("has no aggregation `{other}`"),
                            c.name.span,
                        )
                        .with_label(format!("expected {KINDS}")),
                    );
                    return None;
                }
            };
            one(c, diags).map(make)
        }
        other => {
            diags.push(
                bad_args(
                    op,
                    call,
                    format!("takes an aggregation, found {}", other.kind()),
                    other.span(),
                )
                .with_label(format!("expected {KINDS}")),
            );
            None
        }
    }
}

/// The Rust that builds a window (`gale::window::WindowOp`) at `site`.
pub fn construct(call: Option<WindowCall>, site: &Site) -> proc_macro2::TokenStream {
    use quote::quote;
    let Some(w) = call else {
        return quote!(::core::compile_error!("a window whose call did not check"));
    };
    let input = &site.input;
    let out = &site.out;
    let assigner = match w.kind {
        Kind::Tumbling { size } => quote!(__gale::Assigner::Tumbling { size: #size }),
        Kind::Sliding { size, slide } => {
            quote!(__gale::Assigner::Sliding { size: #size, slide: #slide })
        }
        Kind::Session { gap } => quote!(__gale::Assigner::Session { gap: #gap }),
        Kind::Count { n } => quote!(__gale::Assigner::Count { n: #n }),
    };
    let field = |p: &RustPath| {
        let f = crate::codegen::rust::ident(&p.text);
        quote!(|t: &#input| t.#f)
    };
    let agg = match &w.aggregation {
        Aggregation::Count => quote!(__gale::CountAgg::<#input>::default()),
        Aggregation::Sum(f) => {
            let f = field(f);
            quote!(__gale::SumAgg::new(#f))
        }
        Aggregation::Min(f) => {
            let f = field(f);
            quote!(__gale::MinAgg::new(#f))
        }
        Aggregation::Max(f) => {
            let f = field(f);
            quote!(__gale::MaxAgg::new(#f))
        }
        Aggregation::Avg(f) => {
            let f = field(f);
            quote!(__gale::AvgAgg::new(#f))
        }
        Aggregation::Reduce(f) => {
            let f = crate::codegen::rust::path(&f.text);
            quote!(__gale::ReduceAgg::<#input>::new(#f))
        }
        Aggregation::Aggregate(t) => {
            let t = crate::codegen::rust::path(&t.text);
            quote!(<#t as ::core::default::Default>::default())
        }
        Aggregation::Apply(_) => quote!(__gale::CollectAgg::<#input>::default()),
    };
    let key = site.key.clone().unwrap_or_else(|| quote!(|_: &#input| ()));
    let time = site
        .timestamp
        .clone()
        .unwrap_or_else(|| quote!(|_: &#input| 0u64));
    let finish = match &w.aggregation {
        Aggregation::Reduce(_) => quote!(|_, _, r| r),
        Aggregation::Apply(t) => {
            let t = crate::codegen::rust::path(&t.text);
            quote!(__gale::ApplyFn(<#t as ::core::default::Default>::default()))
        }
        _ => {
            let keys = &site.key_fields;
            let key_fields = keys.iter().enumerate().map(|(i, f)| {
                let name = crate::codegen::rust::ident(f);
                if keys.len() == 1 {
                    quote!(#name: ::core::clone::Clone::clone(k))
                } else {
                    let i = syn::Index::from(i);
                    quote!(#name: ::core::clone::Clone::clone(&k.#i))
                }
            });
            let result = site
                .out_fields
                .iter()
                .find(|f| !keys.contains(f) && *f != "start" && *f != "end")
                .map(|f| crate::codegen::rust::ident(f));
            match result {
                Some(r) => quote!(|k, w: __gale::Window, r| #out {
                    #(#key_fields,)*
                    start: w.start,
                    end: w.end,
                    #r: r,
                }),
                None => quote!(::core::compile_error!(
                    "a window output without a result field"
                )),
            }
        }
    };
    let lateness = site.lateness_ms;
    let processing = w.processing_time;
    let constructor = match w.aggregation {
        Aggregation::Apply(_) => quote!(with),
        _ => quote!(new),
    };
    let op = quote!(__gale::WindowOp::#constructor(
        #assigner, #lateness, #processing, #agg, #key, #time, #finish
    ));
    super::with_ttl(op, site)
}
