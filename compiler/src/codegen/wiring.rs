//! `pub fn topology()`: one factory per fused chain, each nesting the chain's operators
//! into a single monomorphised value (see `gale::exec::chain`).

use super::rust::{ident, path};
use super::streams::outputs_ident;
use crate::ast::{ComponentKind, Operator};
use crate::graph::{Graph, Grouping};
use crate::plan::Plan;
use proc_macro2::TokenStream;
use quote::quote;

/// The `topology()` function.
pub fn topology_fn(graph: &Graph, plan: &Plan) -> TokenStream {
    let chains = plan.chains.iter().enumerate().map(|(i, chain)| {
        let head = chain.members[0];
        let c = &graph.components[head];
        match c.kind {
            ComponentKind::Spout => {
                let spout_head = spout_head(graph, plan, head);
                quote! {
                    t.spout_chain(#i, |w: &__gale::Wiring| {
                        #spout_head
                    });
                }
            }
            ComponentKind::Bolt => {
                let input = ident(c.input.as_deref().unwrap_or("()"));
                let stage = stage(graph, plan, head);
                quote! {
                    t.bolt_chain::<#input, _, _>(#i, |w: &__gale::Wiring| #stage);
                }
            }
        }
    });
    quote! {
        /// The topology: its plan and a factory per fused chain. Run it with `gale::main`.
        pub fn topology() -> __gale::Topology {
            let mut t = __gale::Topology::new(&DESC);
            #(#chains)*
            t
        }
    }
}

/// The head of spout `c`'s chain: the spout and its output, and, with a retry policy, its
/// `failed` stream (never counted: its tuples were counted when first emitted).
fn spout_head(graph: &Graph, plan: &Plan, c: usize) -> TokenStream {
    let ctor = constructor(graph, c);
    let out = output(graph, plan, c);
    match graph.components[c].retry {
        Some(retry) => {
            let failed = stream(graph, plan, c, retry.failed_stream);
            quote!(__gale::SpoutHead::with_failed(#c, #ctor, #out, #failed))
        }
        None => quote!(__gale::SpoutHead::new(#c, #ctor, #out)),
    }
}

fn constructor(graph: &Graph, c: usize) -> TokenStream {
    let node = &graph.components[c];
    let input = node.input.as_deref().map(ident);
    let out = node.output_type.as_deref().map(ident);
    let site = || crate::ops::Site {
        input: quote!(#input),
        out: match &out {
            Some(o) => quote!(#o),
            None => quote!(()),
        },
        key: input_key(graph, c),
        key_fields: key_fields(graph, c).unwrap_or_default(),
        timestamp: input_timestamp(graph, c),
        lateness_ms: node.late.map_or(0, |l| l.1),
        ttl_ms: node.state_ttl_ms,
        out_fields: node
            .output_type
            .as_deref()
            .and_then(|o| graph.tuple(o))
            .map(|t| t.fields.iter().map(|(n, _)| n.clone()).collect())
            .unwrap_or_default(),
        input_variants: graph
            .input_set(c)
            .map(|s| {
                s.streams
                    .iter()
                    .map(|s| s.variant.clone().unwrap_or_else(|| s.name.clone()))
                    .collect()
            })
            .unwrap_or_default(),
    };
    match &node.op {
        Operator::User(_) => {
            let gate = super::operators::gate_ident(graph, node);
            quote!(#gate())
        }
        Operator::Builtin(call) => match crate::ops::find(&call.name.name) {
            Some(op) => op.construct(call, &site()),
            None => {
                let msg = format!("`{}` is not a built-in operator", call.name.name);
                quote!(::core::compile_error!(#msg))
            }
        },
    }
}

fn stage(graph: &Graph, plan: &Plan, c: usize) -> TokenStream {
    let ctor = constructor(graph, c);
    let out = output(graph, plan, c);
    if fed_by_counted(graph, plan, c).is_some() {
        quote!(__gale::Stage::fused(#c, #ctor, #out))
    } else {
        quote!(__gale::Stage::new(#c, #ctor, #out))
    }
}

/// The fused consumer whose input is exactly `c`'s output: `c` has one stream and one of
/// its consumers is fused. Its `Counted` then counts that consumer's input too.
fn fused_single_consumer(graph: &Graph, plan: &Plan, c: usize) -> Option<usize> {
    let node = &graph.components[c];
    if node.declared_outputs().len() != 1 || node.late.is_some() {
        return None;
    }
    graph
        .edges
        .iter()
        .enumerate()
        .find(|(i, e)| e.from == c && plan.fused[*i])
        .map(|(_, e)| e.to)
}

/// The producer whose `Counted` counts `c`'s input, if any.
fn fed_by_counted(graph: &Graph, plan: &Plan, c: usize) -> Option<usize> {
    graph
        .edges
        .iter()
        .enumerate()
        .find(|(i, e)| e.to == c && plan.fused[*i])
        .map(|(_, e)| e.from)
        .filter(|&p| fused_single_consumer(graph, plan, p) == Some(c))
}

/// Where component `c`'s output goes: counted, split by stream, then per consumer. A
/// spout's `failed` stream is not part of it (see `spout_head`).
fn output(graph: &Graph, plan: &Plan, c: usize) -> TokenStream {
    let out = untimed_output(graph, plan, c);
    let node = &graph.components[c];
    let (Some(t), Some(schema)) = (&node.event_time, node.output_type.as_deref()) else {
        return out;
    };
    // `timestamp(f) watermark ...`: its output generates the watermarks.
    let schema = ident(schema);
    let field = ident(&t.field);
    let generator = match &t.watermark {
        crate::graph::WatermarkStrategy::Bounded(ms) => quote!(__gale::BoundedWatermarks::new(#ms)),
        crate::graph::WatermarkStrategy::Monotonous => quote!(__gale::BoundedWatermarks::new(0)),
        crate::graph::WatermarkStrategy::Custom(p) => {
            let p = path(p);
            quote!(<#p as ::core::default::Default>::default())
        }
    };
    quote!(__gale::Timestamped::new(
        |t: &#schema| __gale::Timestamp::millis(&t.#field),
        #generator,
        #out
    ))
}

fn untimed_output(graph: &Graph, plan: &Plan, c: usize) -> TokenStream {
    let node = &graph.components[c];
    let declared = node.declared_outputs().len();
    if let Some((late, _)) = node.late {
        // A window emits its results and its late tuples (`gale::window::WindowOutput`).
        let results = stream(graph, plan, c, 0);
        let late = stream(graph, plan, c, late);
        return quote!(__gale::Counted::new(
            #c,
            __gale::WindowOutputs::new(#c, #results, #late)
        ));
    }
    if declared == 0 {
        return quote!(());
    }
    let is_set = graph
        .stream_sets
        .iter()
        .any(|s| Some(&s.name) == node.output_type.as_ref());
    if is_set {
        let set = outputs_ident(node.output_type.as_deref().unwrap_or_default());
        let streams = (0..declared).map(|s| stream(graph, plan, c, s));
        quote!(__gale::Counted::new(#c, #set(#(#streams),*)))
    } else {
        let s = stream(graph, plan, c, 0);
        match fused_single_consumer(graph, plan, c) {
            Some(consumer) => quote!(__gale::Counted::feeding(#c, #consumer, #s)),
            None => quote!(__gale::Counted::new(#c, #s)),
        }
    }
}

/// One stream of component `c`: every consumer gets every tuple.
fn stream(graph: &Graph, plan: &Plan, c: usize, s: usize) -> TokenStream {
    let consumers: Vec<TokenStream> = graph
        .edges
        .iter()
        .enumerate()
        .filter(|(_, e)| e.from == c && e.stream == s)
        .map(|(i, e)| {
            if plan.fused[i] {
                stage(graph, plan, e.to)
            } else {
                router(graph, i)
            }
        })
        .collect();
    let mut iter = consumers.into_iter().rev();
    match iter.next() {
        None => quote!(__gale::Discard),
        Some(last) => iter.fold(last, |acc, first| quote!(__gale::Tee::new(#first, #acc))),
    }
}

fn router(graph: &Graph, edge: usize) -> TokenStream {
    let e = &graph.edges[edge];
    let schema_name = &graph.components[e.from].outputs[e.stream].schema;
    let schema = ident(schema_name);
    let tuple = graph.tuple(schema_name);
    let key = |fields: &[String]| {
        let f: Vec<TokenStream> = fields.iter().map(|f| key_part(tuple, f)).collect();
        if f.len() == 1 {
            let f0 = &f[0];
            quote!(|t: &#schema| __gale::hash_key(&#f0))
        } else {
            quote!(|t: &#schema| __gale::hash_key(&(#(&#f),*)))
        }
    };
    let grouping = match &e.grouping {
        Grouping::Shuffle | Grouping::None => quote!(__gale::Shuffle::new()),
        Grouping::Fields(f) => {
            let k = key(f);
            let m = u32::try_from(graph.config.max_parallelism).unwrap_or(u32::MAX);
            quote!(__gale::Fields::new(#k, #m))
        }
        Grouping::PartialKey(f) => {
            let k = key(f);
            quote!(__gale::PartialKey::new(#k))
        }
        Grouping::All => quote!(__gale::All),
        Grouping::Global => quote!(__gale::Global),
        Grouping::Direct => quote!(__gale::Direct),
        Grouping::LocalOrShuffle => quote!(__gale::LocalOrShuffle::new()),
        Grouping::Custom(p) => {
            let p = path(p);
            quote!(__gale::Custom::new(<#p as ::core::default::Default>::default()))
        }
    };
    match (graph.input_set(e.to), e.input) {
        // Into a stream of a stream-set input: the tuples become the set's variant for it.
        (Some(set), Some(input)) => {
            let name = ident(&set.name);
            let s = &set.streams[input];
            let variant = ident(s.variant.as_deref().unwrap_or(&s.name));
            quote!(__gale::Router::<#schema, _, _>::wrapping(
                w,
                #edge,
                #grouping,
                __gale::Variant(#name::#variant)
            ))
        }
        _ => quote!(__gale::Router::<#schema, _>::new(w, #edge, #grouping)),
    }
}

/// When every edge into component `c` is `fields(...)` by the same fields (into a
/// stream-set input: by as many fields, per stream): the closure taking an input tuple to
/// its key (the field, or a tuple of the fields, owned; floats as their bits, as the
/// grouping hashes them).
fn input_key(graph: &Graph, c: usize) -> Option<TokenStream> {
    let schema_name = graph.components[c].input.as_deref()?;
    let schema = ident(schema_name);
    let key_of = |tuple: Option<&crate::graph::TupleSchema>, fields: &[String]| {
        let parts: Vec<TokenStream> = fields
            .iter()
            .map(|f| {
                let part = key_part(tuple, f);
                quote!(::core::clone::Clone::clone(&#part))
            })
            .collect();
        if parts.len() == 1 {
            parts[0].clone()
        } else {
            quote!((#(#parts),*))
        }
    };
    let Some(set) = graph.input_set(c) else {
        let fields = key_fields(graph, c)?;
        let key = key_of(graph.tuple(schema_name), &fields);
        return Some(quote!(|t: &#schema| #key));
    };
    let by_stream = set_key_fields(graph, c)?;
    let arms = set.streams.iter().zip(&by_stream).map(|(s, fields)| {
        let variant = ident(s.variant.as_deref().unwrap_or(&s.name));
        let key = key_of(graph.tuple(&s.schema), fields);
        quote!(#schema::#variant(t) => #key)
    });
    Some(quote!(|t: &#schema| match t { #(#arms),* }))
}

/// The fields every edge into component `c` keys by, if they all key by the same (into a
/// stream-set input: the first stream's).
pub(crate) fn key_fields(graph: &Graph, c: usize) -> Option<Vec<String>> {
    if graph.input_set(c).is_some() {
        return set_key_fields(graph, c).and_then(|f| f.into_iter().next());
    }
    let mut fields = None;
    for e in graph.edges.iter().filter(|e| e.to == c) {
        let Grouping::Fields(f) = &e.grouping else {
            return None;
        };
        match &fields {
            None => fields = Some(f.clone()),
            Some(seen) if seen == f => {}
            Some(_) => return None,
        }
    }
    fields
}

/// Into a stream-set input: per stream, the fields its edges key by, when every edge is
/// `fields(...)`, the edges into one stream by the same fields, every stream fed, and
/// every stream by as many fields (the check pass holds keyed operators to this).
fn set_key_fields(graph: &Graph, c: usize) -> Option<Vec<Vec<String>>> {
    let set = graph.input_set(c)?;
    let mut by_stream: Vec<Option<Vec<String>>> = vec![None; set.streams.len()];
    for e in graph.edges.iter().filter(|e| e.to == c) {
        let Grouping::Fields(f) = &e.grouping else {
            return None;
        };
        let s = e.input?;
        match &by_stream[s] {
            None => by_stream[s] = Some(f.clone()),
            Some(seen) if seen == f => {}
            Some(_) => return None,
        }
    }
    let by_stream: Vec<Vec<String>> = by_stream.into_iter().collect::<Option<_>>()?;
    let n = by_stream.first()?.len();
    by_stream.iter().all(|f| f.len() == n).then_some(by_stream)
}

/// The event time of an input tuple of component `c`, when its input carries it (into a
/// stream-set input: every stream, each in its own field).
fn input_timestamp(graph: &Graph, c: usize) -> Option<TokenStream> {
    let node = &graph.components[c];
    let schema = ident(node.input.as_deref()?);
    let Some(set) = graph.input_set(c) else {
        let f = ident(node.input_time.as_deref()?);
        return Some(quote!(|t: &#schema| __gale::Timestamp::millis(&t.#f)));
    };
    let arms = set
        .streams
        .iter()
        .zip(&node.input_times)
        .map(|(s, f)| {
            let variant = ident(s.variant.as_deref().unwrap_or(&s.name));
            let f = ident(f.as_deref()?);
            Some(quote!(#schema::#variant(t) => __gale::Timestamp::millis(&t.#f)))
        })
        .collect::<Option<Vec<_>>>()?;
    (arms.len() == set.streams.len()).then(|| quote!(|t: &#schema| match t { #(#arms),* }))
}

/// The hashed value of field `f` of `t`: the field itself, or the bits of a float (floats
/// are not `Hash`; grouping by one is warned about, `W0603`).
fn key_part(tuple: Option<&crate::graph::TupleSchema>, f: &str) -> TokenStream {
    use crate::ast::{Prim, TypeKind};
    let name = ident(f);
    let ty = tuple.and_then(|t| {
        t.fields
            .iter()
            .find(|(n, _)| n == f)
            .map(|(_, ty)| &ty.kind)
    });
    let float = |k: &TypeKind| matches!(k, TypeKind::Prim(Prim::F32 | Prim::F64));
    match ty {
        Some(k) if float(k) => quote!(t.#name.to_bits()),
        Some(TypeKind::Option(inner)) if float(&inner.kind) => {
            quote!(t.#name.map(|x| x.to_bits()))
        }
        _ => quote!(t.#name),
    }
}
