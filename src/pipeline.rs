//! The pure front half of every command: parse, lower and build the graph.
//!
//! `validate` is exactly this (documents parsed on several threads when the caller asks, see
//! [`analyze_with`]); `plan`, `apply` and `watch` start with it. Stages after one that
//! produced errors still run where they can, so a single run reports as much as possible.

use crate::diag::{self, Diagnostic};
use crate::graph::DepGraph;
use crate::manifest::{self, ParsedDocument};
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
    analyze_with(sources, 1)
}

/// Like [`analyze`], parsing the documents on up to `threads` threads (scoped, joined before
/// lowering). Lowering and the graph need every document and run on the calling thread. The
/// result, diagnostics included, is the same whatever the number of threads.
#[must_use]
pub fn analyze_with(sources: &SourceMap, threads: usize) -> Analysis {
    let (docs, mut diagnostics) = parse(sources, threads);
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

/// Below this many bytes of YAML a second thread costs more than it saves.
const PARALLEL_MIN_BYTES: usize = 256 * 1024;

/// [`manifest::parse`] with the documents shared among `threads` scoped threads in contiguous
/// runs of about equal size; the results are concatenated in document order.
fn parse(sources: &SourceMap, threads: usize) -> (Vec<ParsedDocument>, Vec<Diagnostic>) {
    let documents = manifest::documents(sources);
    let total: usize = documents.iter().map(manifest::Document::len).sum();
    let threads = threads.clamp(1, documents.len().max(1));
    if threads == 1 || total < PARALLEL_MIN_BYTES {
        let (docs, diags) = manifest::parse_documents(&documents, sources);
        return manifest::finish(docs, diags, sources);
    }
    let share = total.div_ceil(threads);
    let mut runs: Vec<&[manifest::Document]> = Vec::with_capacity(threads);
    let (mut start, mut size) = (0, 0);
    for (i, d) in documents.iter().enumerate() {
        size += d.len();
        if size >= share {
            runs.push(&documents[start..=i]);
            (start, size) = (i + 1, 0);
        }
    }
    if start < documents.len() {
        runs.push(&documents[start..]);
    }
    let results: Vec<(Vec<ParsedDocument>, Vec<Diagnostic>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = runs
            .iter()
            .skip(1)
            .map(|run| scope.spawn(|| manifest::parse_documents(run, sources)))
            .collect();
        let first = manifest::parse_documents(runs.first().copied().unwrap_or(&[]), sources);
        std::iter::once(first)
            .chain(handles.into_iter().map(|h| match h.join() {
                Ok(result) => result,
                Err(panic) => std::panic::resume_unwind(panic),
            }))
            .collect()
    });
    let (mut docs, mut diags) = (Vec::new(), Vec::new());
    for (d, g) in results {
        docs.extend(d);
        diags.extend(g);
    }
    manifest::finish(docs, diags, sources)
}
