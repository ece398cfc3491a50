//! `bt-gitops validate`: parse and check manifests, print diagnostics. Never touches the network.

use clap::ValueEnum;

use super::{ExitStatus, PathArg, Printer, load};
use crate::diag::{self, Diagnostic};
use crate::model::Kind;
use crate::pipeline;
use crate::source::SourceMap;

#[derive(Debug, clap::Args)]
pub struct ValidateArgs {
    #[command(flatten)]
    pub path: PathArg,
    /// `human`: diagnostics with source snippets; `short`: one `file:line:col: error[CODE]: ...`
    /// line per diagnostic, for editors and CI annotations.
    #[arg(long, value_enum, default_value_t = DiagFormat::Human)]
    pub format: DiagFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DiagFormat {
    Human,
    Short,
}

pub fn run(args: &ValidateArgs, printer: Printer) -> anyhow::Result<ExitStatus> {
    let (sources, mut diags) = load::load_arg(&args.path);
    let analysis = pipeline::analyze_with(&sources, load::parse_threads());
    diags.extend(analysis.diagnostics.iter().cloned());
    printer.err(&render_all(&diags, &sources, args.format, printer));
    let errors = diags.iter().filter(|d| d.is_error()).count();
    let warnings = diags.len() - errors;
    if errors > 0 {
        printer.err(&format!("{}\n", count_line(errors, warnings)));
        return Ok(ExitStatus::Failure);
    }
    let state = &analysis.state;
    let projects = state.of_kind(Kind::Project).count();
    let mut summary = format!(
        "ok: {} files, {} {}, {} {}, {} objects",
        sources.len(),
        state.orgs.len(),
        plural(state.orgs.len(), "org", "orgs"),
        projects,
        plural(projects, "project", "projects"),
        state.len(),
    );
    if warnings > 0 {
        summary.push_str(&format!(
            ", {} {}",
            warnings,
            plural(warnings, "warning", "warnings")
        ));
    }
    summary.push('\n');
    printer.out(&summary);
    Ok(ExitStatus::Success)
}

/// Renders diagnostics in the chosen format, one block per diagnostic.
pub fn render_all(
    diags: &[Diagnostic],
    sources: &SourceMap,
    format: DiagFormat,
    printer: Printer,
) -> String {
    let redactions = diag::secret_spans(diags);
    let mut out = String::new();
    for d in diags {
        match format {
            DiagFormat::Short => {
                out.push_str(&d.short(sources));
                out.push('\n');
            }
            DiagFormat::Human => {
                out.push_str(&diag::render(d, sources, printer.style, &redactions));
                for note in diag::foreign_label_notes(d, sources) {
                    out.push_str(&note);
                    out.push('\n');
                }
                out.push('\n');
            }
        }
    }
    out
}

fn count_line(errors: usize, warnings: usize) -> String {
    let mut line = format!("{errors} {}", plural(errors, "error", "errors"));
    if warnings > 0 {
        line.push_str(&format!(
            ", {warnings} {}",
            plural(warnings, "warning", "warnings")
        ));
    }
    line
}

/// `one` for 1, else `many`.
pub(crate) fn plural<'a>(n: usize, one: &'a str, many: &'a str) -> &'a str {
    if n == 1 { one } else { many }
}
