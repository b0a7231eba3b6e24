//! Cycles (`E0310`): a topology is a directed acyclic graph. Each cycle is reported once,
//! at the edge that closes it, with its path (`a -> b -> a`).

use super::components::Checked;
use super::edges::CheckedEdge;
use crate::diagnostic::{Diagnostic, Diagnostics};

/// Reports one cycle per strongly connected group of components.
pub(crate) fn check(
    components: &[Checked<'_>],
    edges: &[CheckedEdge<'_>],
    diags: &mut Diagnostics,
) {
    let n = components.len();
    let mut succ: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (i, e) in edges.iter().enumerate() {
        succ[e.edge.from].push(i);
    }
    // Depth-first search with colours; a back edge closes a cycle. Each component belongs
    // to at most one reported cycle, so a knot of cycles is reported once.
    let mut colour = vec![Colour::White; n];
    let mut in_reported = vec![false; n];
    for start in 0..n {
        if colour[start] != Colour::White {
            continue;
        }
        let mut path: Vec<usize> = vec![start];
        let mut stack: Vec<(usize, usize)> = vec![(start, 0)];
        colour[start] = Colour::Grey;
        while let Some((node, next)) = stack.last_mut() {
            let node = *node;
            let Some(&edge) = succ[node].get(*next) else {
                colour[node] = Colour::Black;
                stack.pop();
                path.pop();
                continue;
            };
            *next += 1;
            let to = edges[edge].edge.to;
            match colour[to] {
                Colour::White => {
                    colour[to] = Colour::Grey;
                    stack.push((to, 0));
                    path.push(to);
                }
                Colour::Grey => {
                    let at = path.iter().position(|&p| p == to).unwrap_or(0);
                    let cycle = &path[at..];
                    if cycle.iter().any(|&c| in_reported[c]) {
                        continue;
                    }
                    for &c in cycle {
                        in_reported[c] = true;
                    }
                    report(cycle, &edges[edge], components, diags);
                }
                Colour::Black => {}
            }
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Colour {
    White,
    Grey,
    Black,
}

fn report(
    cycle: &[usize],
    closing: &CheckedEdge<'_>,
    components: &[Checked<'_>],
    diags: &mut Diagnostics,
) {
    let mut names: Vec<&str> = cycle
        .iter()
        .map(|&c| components[c].node.name.as_str())
        .collect();
    names.push(names[0]);
    let path = names.join(" -> ");
    diags.push(
        Diagnostic::error(
            "E0310",
            format!("the topology has a cycle: {path}"),
            closing.decl.span,
        )
        .with_label("this edge closes the cycle")
        .with_help(
            "topologies are acyclic; to feed results back, use an external queue and a spout",
        ),
    );
}
