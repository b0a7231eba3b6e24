//! Printing the physical plan as text and as Graphviz DOT.

use crate::topology::{Kind, TopologyDesc};

/// The plan as text: components with their tasks, the fused chains, and the edges.
pub fn render_plan(desc: &TopologyDesc) -> String {
    let mut s = format!(
        "topology {} ({}; {} tasks in {} chains)\n\ncomponents:\n",
        desc.name,
        desc.source,
        desc.task_count(),
        desc.chains.len()
    );
    for c in desc.components {
        let kind = if c.kind == Kind::Spout {
            "spout"
        } else {
            "bolt"
        };
        s.push_str(&format!(
            "  {:<14} {:<5} {:<28} parallelism {:<3} tasks {:<3} ids {}..={}\n",
            c.name,
            kind,
            c.operator,
            c.parallelism,
            c.tasks,
            c.first_task,
            c.first_task + c.tasks - 1
        ));
    }
    s.push_str("\nchains (fused operators run as one task: direct calls, no queue):\n");
    for (i, ch) in desc.chains.iter().enumerate() {
        let names: Vec<&str> = ch
            .components
            .iter()
            .map(|&c| desc.components[c].name)
            .collect();
        s.push_str(&format!(
            "  chain {i}: {}  ({} executors, {} tasks)\n",
            names.join(" => "),
            ch.parallelism,
            ch.tasks
        ));
    }
    s.push_str("\nedges:\n");
    for e in desc.edges {
        let from = &desc.components[e.from];
        let stream = from.streams.get(e.stream).map_or("default", |st| st.name);
        let grouping = if e.detail.is_empty() {
            e.grouping.to_string()
        } else {
            format!("{}({})", e.grouping, e.detail)
        };
        s.push_str(&format!(
            "  {}.{} -> {} : {}{}\n",
            from.name,
            stream,
            desc.components[e.to].name,
            grouping,
            if e.fused { "  [fused]" } else { "" }
        ));
    }
    s
}

/// The plan as Graphviz DOT: one cluster per fused chain.
pub fn render_dot(desc: &TopologyDesc) -> String {
    let mut s = format!(
        "digraph \"{}\" {{\n  rankdir=LR;\n  node [shape=box];\n",
        desc.name
    );
    for (i, ch) in desc.chains.iter().enumerate() {
        s.push_str(&format!(
            "  subgraph cluster_{i} {{\n    label=\"chain {i} (x{})\";\n    style=dashed;\n",
            ch.tasks
        ));
        for &c in ch.components {
            let comp = &desc.components[c];
            let shape = if comp.kind == Kind::Spout {
                "ellipse"
            } else {
                "box"
            };
            s.push_str(&format!(
                "    \"{}\" [shape={shape}, label=\"{}\\n{}\\nparallelism {} tasks {}\"];\n",
                comp.name,
                comp.name,
                comp.operator.replace('"', "'"),
                comp.parallelism,
                comp.tasks
            ));
        }
        s.push_str("  }\n");
    }
    for e in desc.edges {
        let label = if e.detail.is_empty() {
            e.grouping.to_string()
        } else {
            format!("{}({})", e.grouping, e.detail)
        };
        let style = if e.fused { ", style=bold" } else { "" };
        s.push_str(&format!(
            "  \"{}\" -> \"{}\" [label=\"{}\"{style}];\n",
            desc.components[e.from].name, desc.components[e.to].name, label
        ));
    }
    s.push_str("}\n");
    s
}
