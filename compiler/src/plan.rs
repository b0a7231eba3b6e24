//! Planning: from the logical graph to the physical plan — which operators are **fused**
//! into one chain (one task, direct calls, no queue), and which task ids each component
//! gets. The plan is data: codegen embeds it in the binary, and `plan` prints it.
//!
//! Fusion rule (Flink's operator chaining, Storm's `none` grouping): an edge is fused when
//! its grouping is `none`, both ends have the same parallelism and the same number of
//! tasks, the consumer has no other input (and does not consume a stream set), and the
//! producer is not already fused with another consumer. A `none` edge that cannot be fused is routed like `shuffle`.
//!
//! An edge from a spout's `failed` stream is never fused: the runtime emits given-up
//! tuples on it from its retry bookkeeping, so they always go through a queue.

use crate::graph::{Graph, Grouping};

/// The physical plan of a topology.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Per component (by id): its first task id and its chain.
    pub components: Vec<PlannedComponent>,
    /// The fused chains, ordered by head component id.
    pub chains: Vec<Chain>,
    /// Per graph edge (same index): whether it is fused.
    pub fused: Vec<bool>,
}

/// Where a component landed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlannedComponent {
    /// Its tasks are `first_task..first_task + tasks`.
    pub first_task: u32,
    /// The chain it belongs to.
    pub chain: usize,
}

/// A fused chain: members run as one task per task index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chain {
    /// Member component ids, head first.
    pub members: Vec<usize>,
    /// Executors.
    pub parallelism: u32,
    /// Tasks.
    pub tasks: u32,
}

/// Computes the plan: fuse chains, then assign task ids.
pub fn plan(graph: &Graph) -> Plan {
    let fused = fuse_chains(graph);
    let chains = collect_chains(graph, &fused);
    let first_tasks = assign_task_ids(graph);
    let mut components: Vec<PlannedComponent> = first_tasks
        .into_iter()
        .map(|first_task| PlannedComponent {
            first_task,
            chain: 0,
        })
        .collect();
    for (i, chain) in chains.iter().enumerate() {
        for &m in &chain.members {
            components[m].chain = i;
        }
    }
    Plan {
        components,
        chains,
        fused,
    }
}

/// Decides, per edge, whether it is fused.
pub fn fuse_chains(graph: &Graph) -> Vec<bool> {
    let mut fused = vec![false; graph.edges.len()];
    let mut has_fused_out = vec![false; graph.components.len()];
    for (i, e) in graph.edges.iter().enumerate() {
        let (a, b) = (&graph.components[e.from], &graph.components[e.to]);
        let eligible = e.grouping == Grouping::None
            && a.parallelism == b.parallelism
            && a.tasks == b.tasks
            && graph.inputs_of(e.to).count() == 1
            && !has_fused_out[e.from]
            && !a.is_failed_stream(e.stream)
            && a.late.is_none_or(|(late, _)| late != e.stream)
            && graph.input_set(e.to).is_none()
            && e.from != e.to;
        if eligible {
            fused[i] = true;
            has_fused_out[e.from] = true;
        }
    }
    fused
}

fn collect_chains(graph: &Graph, fused: &[bool]) -> Vec<Chain> {
    let mut fused_in = vec![false; graph.components.len()];
    let mut next = vec![None; graph.components.len()];
    for (i, e) in graph.edges.iter().enumerate() {
        if fused[i] {
            fused_in[e.to] = true;
            next[e.from] = Some(e.to);
        }
    }
    let mut chains = Vec::new();
    for (head, &is_fused_in) in fused_in.iter().enumerate() {
        if is_fused_in {
            continue;
        }
        let mut members = vec![head];
        let mut cur = head;
        while let Some(n) = next[cur] {
            if members.contains(&n) {
                break; // impossible after the cycle check; never loop
            }
            members.push(n);
            cur = n;
        }
        let h = &graph.components[head];
        chains.push(Chain {
            members,
            parallelism: h.parallelism,
            tasks: h.tasks,
        });
    }
    chains
}

/// Gives each component a contiguous range of task ids, in declaration order, from 1.
pub fn assign_task_ids(graph: &Graph) -> Vec<u32> {
    let mut next = 1u32;
    graph
        .components
        .iter()
        .map(|c| {
            let first = next;
            next += c.tasks;
            first
        })
        .collect()
}
