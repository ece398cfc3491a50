//! The dependency graph over resource keys: who must exist before whom.
//!
//! Edges come from the references lowering resolved (`Resource::depends_on`). The graph rejects
//! cycles with a diagnostic that walks the loop, and gives the order plans execute in: creates
//! and updates after everything they reference, deletes in the reverse order.

use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap, HashMap};

use crate::diag::{Code, Diagnostic};
use crate::model::{DesiredState, ResourceKey};
use crate::source::Span;

/// Dependencies between declared objects, stored by index for speed: `keys` is sorted, and
/// `deps[i]` holds the indices of the objects `keys[i]` needs first.
#[derive(Debug, Clone, Default)]
pub struct DepGraph {
    keys: Vec<ResourceKey>,
    index: HashMap<ResourceKey, u32>,
    deps: Vec<Vec<u32>>,
}

impl DepGraph {
    /// Builds the graph and reports every cycle.
    #[must_use]
    pub fn build(state: &DesiredState) -> (DepGraph, Vec<Diagnostic>) {
        let keys: Vec<ResourceKey> = state.resources.keys().cloned().collect();
        let index: HashMap<ResourceKey, u32> = keys
            .iter()
            .enumerate()
            .map(|(i, k)| (k.clone(), i as u32))
            .collect();
        let mut spans: HashMap<(u32, u32), Span> = HashMap::new();
        let deps: Vec<Vec<u32>> = state
            .resources
            .values()
            .enumerate()
            .map(|(i, resource)| {
                let mut out: Vec<u32> = resource
                    .depends_on
                    .iter()
                    .filter_map(|dep| {
                        let j = *index.get(&dep.target)?;
                        spans.insert((i as u32, j), dep.span);
                        Some(j)
                    })
                    .collect();
                out.sort_unstable();
                out.dedup();
                out
            })
            .collect();
        let graph = DepGraph { keys, index, deps };
        let diags = graph
            .cycles()
            .into_iter()
            .map(|cycle| {
                let names = cycle.iter().map(|i| graph.keys[*i as usize].to_string()).collect::<Vec<_>>();
                let mut d = Diagnostic::error(
                    Code::ReferenceCycle,
                    format!("reference cycle: {} -> {}", names.join(" -> "), names[0]),
                )
                .with_hint("objects cannot depend on themselves, directly or through others; break the loop");
                for (n, from) in cycle.iter().enumerate() {
                    let to = cycle[(n + 1) % cycle.len()];
                    if let Some(span) = spans.get(&(*from, to)) {
                        d = d.with_label(*span, format!("`{}` refers to `{}`", names[n], names[(n + 1) % names.len()]));
                    }
                }
                d
            })
            .collect();
        (graph, diags)
    }

    /// Number of nodes.
    #[must_use]
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Number of edges.
    #[must_use]
    pub fn edge_count(&self) -> usize {
        self.deps.iter().map(Vec::len).sum()
    }

    /// What `key` needs to exist first.
    pub fn dependencies<'a>(
        &'a self,
        key: &ResourceKey,
    ) -> impl Iterator<Item = &'a ResourceKey> + 'a {
        let deps = self
            .index
            .get(key)
            .map_or(&[][..], |i| &self.deps[*i as usize][..]);
        deps.iter().map(|j| &self.keys[*j as usize])
    }

    /// Every key, dependencies before dependants; ties broken by key order so the result is
    /// stable. Nodes on a cycle come last, in key order (validation has already reported them).
    #[must_use]
    pub fn topo_order(&self) -> Vec<ResourceKey> {
        let n = self.keys.len();
        let mut remaining: Vec<usize> = self.deps.iter().map(Vec::len).collect();
        let mut dependants: Vec<Vec<u32>> = vec![Vec::new(); n];
        for (i, deps) in self.deps.iter().enumerate() {
            for d in deps {
                dependants[*d as usize].push(i as u32);
            }
        }
        let mut ready: BinaryHeap<Reverse<u32>> = (0..n as u32)
            .filter(|i| remaining[*i as usize] == 0)
            .map(Reverse)
            .collect();
        let mut placed = vec![false; n];
        let mut order = Vec::with_capacity(n);
        while let Some(Reverse(i)) = ready.pop() {
            placed[i as usize] = true;
            order.push(self.keys[i as usize].clone());
            for d in &dependants[i as usize] {
                remaining[*d as usize] -= 1;
                if remaining[*d as usize] == 0 {
                    ready.push(Reverse(*d));
                }
            }
        }
        order.extend((0..n).filter(|i| !placed[*i]).map(|i| self.keys[i].clone()));
        order
    }

    /// Each cycle found by a depth-first search (one per back edge), rotated to start at its
    /// smallest key so the report is stable. Iterative, so deep chains cannot overflow the stack.
    fn cycles(&self) -> Vec<Vec<u32>> {
        const NEW: u8 = 0;
        const VISITING: u8 = 1;
        const DONE: u8 = 2;
        let n = self.keys.len();
        let mut mark = vec![NEW; n];
        let mut found: BTreeSet<Vec<u32>> = BTreeSet::new();
        for start in 0..n {
            if mark[start] != NEW {
                continue;
            }
            // Each frame is (node, position in its dependency list); `path` mirrors the stack.
            let mut stack: Vec<(u32, usize)> = vec![(start as u32, 0)];
            let mut path: Vec<u32> = vec![start as u32];
            mark[start] = VISITING;
            while let Some((node, pos)) = stack.last_mut() {
                let deps = &self.deps[*node as usize];
                if let Some(&next) = deps.get(*pos) {
                    *pos += 1;
                    match mark[next as usize] {
                        NEW => {
                            mark[next as usize] = VISITING;
                            path.push(next);
                            stack.push((next, 0));
                        }
                        VISITING => {
                            if let Some(at) = path.iter().position(|k| *k == next) {
                                let mut cycle = path[at..].to_vec();
                                if let Some(min) = cycle
                                    .iter()
                                    .enumerate()
                                    .min_by_key(|(_, k)| **k)
                                    .map(|(i, _)| i)
                                {
                                    cycle.rotate_left(min);
                                }
                                found.insert(cycle);
                            }
                        }
                        _ => {}
                    }
                } else {
                    mark[*node as usize] = DONE;
                    stack.pop();
                    path.pop();
                }
            }
        }
        found.into_iter().collect()
    }
}
