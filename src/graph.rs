//! The dependency graph over resource keys: who must exist before whom.
//!
//! Edges come from the references lowering resolved (`Resource::depends_on`). The graph rejects
//! cycles with a diagnostic that walks the loop, and gives the order plans execute in: creates
//! and updates after everything they reference, deletes in the reverse order.

use std::collections::{BTreeMap, BTreeSet};

use crate::diag::{Code, Diagnostic};
use crate::model::{DesiredState, ResourceKey};
use crate::source::Span;

/// Dependencies between declared objects. `deps[a]` holds the objects `a` needs first.
#[derive(Debug, Clone, Default)]
pub struct DepGraph {
    deps: BTreeMap<ResourceKey, BTreeSet<ResourceKey>>,
}

impl DepGraph {
    /// Builds the graph and reports every cycle.
    #[must_use]
    pub fn build(state: &DesiredState) -> (DepGraph, Vec<Diagnostic>) {
        let mut deps: BTreeMap<ResourceKey, BTreeSet<ResourceKey>> = BTreeMap::new();
        let mut spans: BTreeMap<(&ResourceKey, &ResourceKey), Span> = BTreeMap::new();
        for (key, resource) in &state.resources {
            let entry = deps.entry(key.clone()).or_default();
            for dep in &resource.depends_on {
                entry.insert(dep.target.clone());
                spans.insert((key, &dep.target), dep.span);
            }
        }
        let graph = DepGraph { deps };
        let diags = graph
            .cycles()
            .into_iter()
            .map(|cycle| {
                let names = cycle.iter().map(ToString::to_string).collect::<Vec<_>>();
                let mut d = Diagnostic::error(
                    Code::ReferenceCycle,
                    format!("reference cycle: {} -> {}", names.join(" -> "), names[0]),
                )
                .with_hint("objects cannot depend on themselves, directly or through others; break the loop");
                for (i, from) in cycle.iter().enumerate() {
                    let to = &cycle[(i + 1) % cycle.len()];
                    if let Some(span) = spans.get(&(from, to)) {
                        d = d.with_label(*span, format!("`{from}` refers to `{to}`"));
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
        self.deps.len()
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.deps.is_empty()
    }

    /// Number of edges.
    #[must_use]
    pub fn edge_count(&self) -> usize {
        self.deps.values().map(BTreeSet::len).sum()
    }

    /// What `key` needs to exist first.
    pub fn dependencies<'a>(
        &'a self,
        key: &ResourceKey,
    ) -> impl Iterator<Item = &'a ResourceKey> + 'a {
        self.deps.get(key).into_iter().flatten()
    }

    /// Every key, dependencies before dependants; ties broken by key order so the result is
    /// stable. Nodes on a cycle come last, in key order (validation has already reported them).
    #[must_use]
    pub fn topo_order(&self) -> Vec<ResourceKey> {
        let mut remaining: BTreeMap<&ResourceKey, usize> = BTreeMap::new();
        let mut dependants: BTreeMap<&ResourceKey, Vec<&ResourceKey>> = BTreeMap::new();
        for (key, deps) in &self.deps {
            let known = deps.iter().filter(|d| self.deps.contains_key(*d)).count();
            remaining.insert(key, known);
            for d in deps.iter().filter(|d| self.deps.contains_key(*d)) {
                dependants.entry(d).or_default().push(key);
            }
        }
        let mut ready: BTreeSet<&ResourceKey> = remaining
            .iter()
            .filter(|(_, n)| **n == 0)
            .map(|(k, _)| *k)
            .collect();
        let mut order = Vec::with_capacity(self.deps.len());
        while let Some(key) = ready.pop_first() {
            order.push(key.clone());
            for dependant in dependants.get(key).into_iter().flatten() {
                if let Some(n) = remaining.get_mut(dependant) {
                    *n -= 1;
                    if *n == 0 {
                        ready.insert(dependant);
                    }
                }
            }
        }
        if order.len() < self.deps.len() {
            let placed: BTreeSet<&ResourceKey> = order.iter().collect();
            let rest: Vec<ResourceKey> = self
                .deps
                .keys()
                .filter(|k| !placed.contains(k))
                .cloned()
                .collect();
            order.extend(rest);
        }
        order
    }

    /// Each elementary cycle found by a depth-first search, rotated to start at its smallest key
    /// so the report is stable. Iterative, so deep chains cannot overflow the stack.
    fn cycles(&self) -> Vec<Vec<ResourceKey>> {
        #[derive(Clone, Copy, PartialEq)]
        enum Mark {
            Visiting,
            Done,
        }
        let mut marks: BTreeMap<&ResourceKey, Mark> = BTreeMap::new();
        let mut found: BTreeSet<Vec<ResourceKey>> = BTreeSet::new();
        for start in self.deps.keys() {
            if marks.contains_key(start) {
                continue;
            }
            // Stack of (node, iterator over its dependencies); `path` mirrors the stack.
            let mut stack: Vec<(&ResourceKey, Vec<&ResourceKey>)> =
                vec![(start, self.dependencies(start).collect())];
            let mut path: Vec<&ResourceKey> = vec![start];
            marks.insert(start, Mark::Visiting);
            while let Some((_, pending)) = stack.last_mut() {
                match pending.pop() {
                    Some(next) => match marks.get(next) {
                        None if self.deps.contains_key(next) => {
                            marks.insert(next, Mark::Visiting);
                            path.push(next);
                            stack.push((next, self.dependencies(next).collect()));
                        }
                        Some(Mark::Visiting) => {
                            if let Some(pos) = path.iter().position(|k| *k == next) {
                                let mut cycle: Vec<ResourceKey> =
                                    path[pos..].iter().map(|k| (*k).clone()).collect();
                                if let Some(min) = cycle
                                    .iter()
                                    .enumerate()
                                    .min_by(|a, b| a.1.cmp(b.1))
                                    .map(|(i, _)| i)
                                {
                                    cycle.rotate_left(min);
                                }
                                found.insert(cycle);
                            }
                        }
                        _ => {}
                    },
                    None => {
                        if let Some((done, _)) = stack.pop() {
                            marks.insert(done, Mark::Done);
                            path.pop();
                        }
                    }
                }
            }
        }
        found.into_iter().collect()
    }
}
