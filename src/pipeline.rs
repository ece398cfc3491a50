//! The pure front half of every command: parse, lower and build the graph.
//!
//! `validate` is exactly this; `plan`, `apply` and `watch` start with it. Stages after one that
//! produced errors still run where they can, so a single run reports as much as possible.

use crate::diag::{self, Diagnostic};
use crate::graph::DepGraph;
use crate::manifest;
use crate::model::{self, DesiredState};
use crate::source::SourceMap;

/// The desired state of a manifest tree, its graph, and everything wrong with it.
#[derive(Debug)]
pub struct Analysis {
    pub state: DesiredState,
    pub graph: DepGraph,
    /// Sorted by file and position.
    pub diagnostics: Vec<Diagnostic>,
}

impl Analysis {
    #[must_use]
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }

    #[must_use]
    pub fn error_count(&self) -> usize {
        self.diagnostics.iter().filter(|d| d.is_error()).count()
    }

    #[must_use]
    pub fn warning_count(&self) -> usize {
        self.diagnostics.len() - self.error_count()
    }
}

/// Parses, lowers and checks every manifest in `sources`.
#[must_use]
pub fn analyze(sources: &SourceMap) -> Analysis {
    let (docs, mut diagnostics) = manifest::parse(sources);
    let (state, lower_diags) = model::lower(&docs, sources);
    diagnostics.extend(lower_diags);
    let (graph, graph_diags) = DepGraph::build(&state);
    diagnostics.extend(graph_diags);
    diag::sort(&mut diagnostics);
    Analysis {
        state,
        graph,
        diagnostics,
    }
}
