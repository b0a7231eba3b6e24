//! The plan as static data: `static DESC: TopologyDesc` (what `plan` prints and what the
//! runtime schedules).

use crate::ast::{ComponentKind, ConfigValue, Operator};
use crate::graph::{Graph, Grouping, Guarantee, Retry};
use crate::plan::Plan;
use proc_macro2::TokenStream;
use quote::quote;

fn operator_text(op: &Operator) -> String {
    op.text().split_whitespace().collect::<Vec<_>>().join(" ")
}

fn grouping_detail(g: &Grouping) -> String {
    match g {
        Grouping::Fields(f) | Grouping::PartialKey(f) => f.join(", "),
        Grouping::Custom(p) => p.clone(),
        _ => String::new(),
    }
}

fn opt_u64(v: Option<u64>) -> TokenStream {
    match v {
        Some(n) => quote!(::core::option::Option::Some(#n)),
        None => quote!(::core::option::Option::None),
    }
}

fn config_value(v: &ConfigValue) -> TokenStream {
    match v {
        ConfigValue::Int(n) => quote!(__gale::ConfigValue::Int(#n)),
        ConfigValue::Float(f) => quote!(__gale::ConfigValue::Float(#f)),
        ConfigValue::Bool(b) => quote!(__gale::ConfigValue::Bool(#b)),
        ConfigValue::Str(s) => quote!(__gale::ConfigValue::Str(#s)),
        ConfigValue::DurationMs(ms) => quote!(__gale::ConfigValue::DurationMs(#ms)),
        ConfigValue::Word(w) => quote!(__gale::ConfigValue::Word(#w)),
    }
}

/// A spout's retry policy as `Option<RetryDesc>`.
fn retry_desc(retry: Option<Retry>) -> TokenStream {
    match retry {
        Some(r) => {
            let (attempts, backoff_ms, failed) = (r.attempts, r.backoff_ms, r.failed_stream);
            quote! {
                ::core::option::Option::Some(__gale::RetryDesc {
                    attempts: #attempts, backoff_ms: #backoff_ms, failed_stream: #failed,
                })
            }
        }
        None => quote!(::core::option::Option::None),
    }
}

/// Each component's idleness timeout in ms (0: none): its own `idle D`, or, for a bolt
/// without a `timestamp(...)` of its own, the longest of its producers' when every one has
/// a timeout (else none). A consumer marks
/// an input channel idle by its producer's timeout, and a `map` after an idle spout
/// partition falls silent with it: the timeout travels with the event time.
fn idle_timeouts(graph: &Graph) -> Vec<u64> {
    let own: Vec<Option<u64>> = graph
        .components
        .iter()
        .map(|c| c.event_time.as_ref().map(|t| t.idle_ms.unwrap_or(0)))
        .collect();
    let mut idle: Vec<u64> = own.iter().map(|o| o.unwrap_or(0)).collect();
    // The graph is acyclic: a pass per component reaches every one.
    for _ in 0..graph.components.len() {
        let mut changed = false;
        for (i, own) in own.iter().enumerate() {
            if own.is_some() {
                continue;
            }
            // Idle only when every input is (as Flink's idleness): one producer without a
            // timeout keeps the bolt's channels active, whatever the others say.
            let inputs: Vec<u64> = graph
                .edges
                .iter()
                .filter(|e| e.to == i)
                .map(|e| idle[e.from])
                .collect();
            let inherited = if inputs.contains(&0) {
                0
            } else {
                inputs.iter().copied().max().unwrap_or(0)
            };
            if inherited != idle[i] {
                idle[i] = inherited;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    idle
}

/// `static DESC: __gale::TopologyDesc = ...;`
pub fn static_desc(graph: &Graph, plan: &Plan) -> TokenStream {
    let name = &graph.name;
    let source = &graph.file_name;
    let idle_ms = idle_timeouts(graph);
    let components = graph.components.iter().enumerate().map(|(i, c)| {
        let cname = &c.name;
        let kind = match c.kind {
            ComponentKind::Spout => quote!(__gale::Kind::Spout),
            ComponentKind::Bolt => quote!(__gale::Kind::Bolt),
        };
        let op = operator_text(&c.op);
        let input = match &c.input {
            Some(s) => quote!(::core::option::Option::Some(#s)),
            None => quote!(::core::option::Option::None),
        };
        let streams = c.outputs.iter().map(|s| {
            let (n, sc, d) = (&s.name, &s.schema, s.direct);
            quote!(__gale::StreamDesc { name: #n, schema: #sc, direct: #d })
        });
        let (par, tasks) = (c.parallelism, c.tasks);
        let first = plan.components[i].first_task;
        let chain = plan.components[i].chain;
        let line = c.line as u32;
        let retry = retry_desc(c.retry);
        let idle = idle_ms[i];
        let uid = &c.uid;
        let schema = crate::savepoint::state_schema(graph, i);
        quote! {
            __gale::ComponentDesc {
                name: #cname, kind: #kind, operator: #op, input: #input,
                streams: &[#(#streams),*],
                parallelism: #par, tasks: #tasks, first_task: #first, chain: #chain, line: #line,
                retry: #retry, idle_ms: #idle, uid: #uid, state_schema: #schema,
            }
        }
    });
    let chains = plan.chains.iter().map(|ch| {
        let members = &ch.members;
        let (par, tasks) = (ch.parallelism, ch.tasks);
        quote!(__gale::ChainDesc { components: &[#(#members),*], parallelism: #par, tasks: #tasks })
    });
    let edges = graph.edges.iter().enumerate().map(|(i, e)| {
        let (from, stream, to) = (e.from, e.stream, e.to);
        let kw = e.grouping.keyword();
        let detail = grouping_detail(&e.grouping);
        let fused = plan.fused[i];
        quote! {
            __gale::EdgeDesc { from: #from, stream: #stream, to: #to, grouping: #kw, detail: #detail, fused: #fused }
        }
    });
    let cfg = &graph.config;
    let guarantee = match cfg.guarantee {
        Guarantee::AtMostOnce => quote!(__gale::Guarantee::AtMostOnce),
        Guarantee::AtLeastOnce => quote!(__gale::Guarantee::AtLeastOnce),
        Guarantee::ExactlyOnce => quote!(__gale::Guarantee::ExactlyOnce),
    };
    let timeout = cfg.message_timeout_ms;
    let pending = opt_u64(cfg.max_spout_pending);
    let ackers = opt_u64(cfg.ackers);
    let workers = cfg.workers;
    let batch = cfg.batch_size.unwrap_or(1024);
    let capacity = cfg.queue_capacity.unwrap_or(16);
    let max_parallelism = u32::try_from(cfg.max_parallelism).unwrap_or(u32::MAX);
    let interval = opt_u64((cfg.guarantee == Guarantee::ExactlyOnce).then(|| {
        cfg.checkpoint_interval_ms
            .unwrap_or(crate::graph::DEFAULT_CHECKPOINT_INTERVAL_MS)
    }));
    let checkpoint_timeout = cfg.checkpoint_timeout_ms;
    let concurrent = usize::try_from(cfg.max_concurrent_checkpoints).unwrap_or(usize::MAX);
    let retained = usize::try_from(cfg.retained_checkpoints).unwrap_or(usize::MAX);
    let restart = restart_strategy(&cfg.restart);
    let entries = cfg.extra.iter().map(|(k, v)| {
        let v = config_value(v);
        quote!((#k, #v))
    });
    quote! {
        /// The physical plan, as data.
        pub static DESC: __gale::TopologyDesc = __gale::TopologyDesc {
            name: #name,
            source: #source,
            components: &[#(#components),*],
            chains: &[#(#chains),*],
            edges: &[#(#edges),*],
            settings: __gale::Settings {
                guarantee: #guarantee,
                message_timeout_ms: #timeout,
                max_spout_pending: #pending,
                ackers: #ackers,
                workers: #workers,
                batch_size: #batch,
                queue_capacity: #capacity,
                max_parallelism: #max_parallelism,
                checkpoints: __gale::CheckpointConfig {
                    interval_ms: #interval,
                    timeout_ms: #checkpoint_timeout,
                    max_concurrent: #concurrent,
                    retained: #retained,
                },
                restart: #restart,
            },
            config: &[#(#entries),*],
        };
    }
}

/// The runtime's restart strategy for the settings as written (Flink's defaults for the
/// unset ones: fixed delay 1 restart 1 s apart; backoff from 1 s to 5 min, unlimited;
/// failure rate 1 per minute, 1 s apart).
fn restart_strategy(r: &crate::graph::Restart) -> TokenStream {
    use crate::graph::RestartKind;
    let u32_of = |n: u64| u32::try_from(n).unwrap_or(u32::MAX);
    let delay = r.delay_ms.unwrap_or(1_000);
    match r.kind {
        RestartKind::None => quote!(__gale::RestartStrategy::None),
        RestartKind::FixedDelay => {
            let attempts = u32_of(r.attempts.unwrap_or(1));
            quote!(__gale::RestartStrategy::FixedDelay { attempts: #attempts, delay_ms: #delay })
        }
        RestartKind::ExponentialBackoff => {
            let max = r.max_delay_ms.unwrap_or(300_000);
            let attempts = match r.attempts {
                Some(n) => {
                    let n = u32_of(n);
                    quote!(::core::option::Option::Some(#n))
                }
                None => quote!(::core::option::Option::None),
            };
            quote!(__gale::RestartStrategy::ExponentialBackoff {
                initial_ms: #delay,
                max_ms: #max,
                attempts: #attempts,
            })
        }
        RestartKind::FailureRate => {
            let max = u32_of(r.attempts.unwrap_or(1));
            let interval = r.failure_interval_ms.unwrap_or(60_000);
            quote!(__gale::RestartStrategy::FailureRate {
                max_failures: #max,
                interval_ms: #interval,
                delay_ms: #delay,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::idle_timeouts;

    fn idle(spouts: &str) -> Vec<u64> {
        let src = format!(
            "use x::{{S, T, W, P}}; tuple E {{ at: u64 }} topology t {{ {spouts} \
             bolt b = P(E) -> E bolt c = P(E) a -> b a2 -> b b -> c }}"
        );
        let file = crate::parse::parse(&src).expect("parses");
        let graph = crate::check::check(&file, &src, "t.topo").expect("checks");
        idle_timeouts(&graph)
    }

    #[test]
    fn a_bolt_inherits_idleness_only_when_every_producer_has_it() {
        assert_eq!(
            idle("spout a = S -> E timestamp(at) idle 5s spout a2 = T -> E timestamp(at) idle 2s"),
            [5_000, 2_000, 5_000, 5_000],
            "both inputs idle: the longer timeout, passed on"
        );
        assert_eq!(
            idle("spout a = S -> E timestamp(at) idle 5s spout a2 = T -> E timestamp(at)"),
            [5_000, 0, 0, 0],
            "one input never idle: neither is the bolt"
        );
    }
}
