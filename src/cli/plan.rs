//! `bt-gitops plan`: read live state, diff, print the ordered plan.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::ValueEnum;

use super::{ExitStatus, PathArg, Printer, load, validate};
use crate::api::error::{ApiError, KeyPreview};
use crate::api::read::FetchError;
use crate::model::DesiredState;
use crate::pipeline::{self, Analysis};
use crate::plan::{ManifestFile, Manifests, Plan};
use crate::reconcile::{self, PlanInput, ReconcileError};
use crate::render;
use crate::source::SourceMap;

pub use crate::controller::keys::{DEFAULT_API_URL, secret_digests, targets};

#[derive(Debug, clap::Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub path: PathArg,
    /// How to print the plan on stdout.
    #[arg(long, value_enum, default_value_t = PlanFormat::Human)]
    pub format: PlanFormat,
    /// Also save the plan as JSON, for `apply --plan`.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Exit 2 when the plan has changes, 0 when it has none.
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// Plan against a local emulator (state in `.bt-gitops/emulator.json`) instead of Braintrust.
    #[arg(long)]
    pub emulator: bool,
    /// Mark the manifest objects changed since this git ref (for pull requests: the target
    /// branch) in every rendering.
    #[arg(long, value_name = "REF")]
    pub base: Option<String>,
    /// Requests in flight at once, per org.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub concurrency: u16,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PlanFormat {
    Human,
    Json,
    Markdown,
}

pub fn run(args: &PlanArgs, printer: Printer) -> anyhow::Result<ExitStatus> {
    if !args.emulator
        && let Some(status) = run_overlapped(args, printer)?
    {
        return Ok(status);
    }
    let Some((sources, analysis, root)) = checked_sources(&args.path, printer) else {
        return Ok(ExitStatus::Failure);
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let plan = runtime.block_on(async {
        // The emulator, when used, must outlive the reads.
        let emulated = if args.emulator {
            Some(super::emulator_flag::start(&analysis.state).await?)
        } else {
            None
        };
        let targets = match &emulated {
            Some(e) => e.targets.clone(),
            None => targets(&analysis.state)?,
        };
        let input = PlanInput {
            desired: &analysis.state,
            graph: &analysis.graph,
            secrets: secret_digests(&analysis.state, &root),
            targets,
            concurrency: usize::from(args.concurrency),
        };
        let key_sources = key_sources(&analysis.state, args.emulator);
        let previews: Vec<(String, String)> = input
            .targets
            .iter()
            .map(|t| (t.org.to_string(), KeyPreview(&t.api_key).to_string()))
            .collect();
        let outcome = reconcile::plan(input)
            .await
            .map_err(|err| explain(err, &previews, &key_sources))?;
        anyhow::Ok(outcome.plan)
    })?;
    finish(plan, &sources, &analysis, &root, args, printer)
}

/// `plan` with the live reads started before the manifests are analysed: the orgs and their
/// keys come from [`manifest::org_headers`], and the reads run while the documents are parsed
/// and lowered. `None` (nothing printed, nothing sent) when that first pass finds no org or
/// a key is missing, and the caller plans the plain way, which reports it. When the analysed
/// manifests reach other orgs or URLs than the first pass, the reads are planned again with
/// the analysed targets.
fn run_overlapped(args: &PlanArgs, printer: Printer) -> anyhow::Result<Option<ExitStatus>> {
    let (sources, load_diags) = load::load_arg(&args.path);
    if load_diags.iter().any(crate::diag::Diagnostic::is_error) {
        return Ok(None);
    }
    let orgs: Vec<_> = crate::manifest::org_headers(&sources)
        .into_iter()
        .filter_map(|h| {
            let name = crate::model::OrgName::new(&h.name).ok()?;
            Some((name, h.api_url, h.api_key_env))
        })
        .collect();
    if orgs.is_empty() {
        return Ok(None);
    }
    let Ok(early) = crate::controller::keys::targets_of(orgs) else {
        return Ok(None);
    };
    let root = root_of(&args.path.path);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let sources = std::sync::Arc::new(sources);
    let shared = sources.clone();
    let threads = load::parse_threads();
    let secrets_root = root.clone();
    let (analysis, outcome) = runtime.block_on(reconcile::analyze_and_plan(
        early.clone(),
        usize::from(args.concurrency),
        move || pipeline::analyze_with(&shared, threads),
        move |a| secret_digests(&a.state, &secrets_root),
    ));
    if !report(&sources, load_diags, &analysis, printer) {
        return Ok(Some(ExitStatus::Failure));
    }
    let key_sources = key_sources(&analysis.state, false);
    let targets = targets(&analysis.state)?;
    let previews: Vec<(String, String)> = targets
        .iter()
        .map(|t| (t.org.to_string(), KeyPreview(&t.api_key).to_string()))
        .collect();
    let same = |a: &reconcile::OrgTarget, b: &reconcile::OrgTarget| {
        a.org == b.org && a.base_url == b.base_url && a.api_key == b.api_key
    };
    let matches =
        targets.len() == early.len() && targets.iter().zip(&early).all(|(a, b)| same(a, b));
    let outcome = match outcome {
        Some(outcome) if matches => outcome,
        _ => runtime.block_on(reconcile::plan(PlanInput {
            desired: &analysis.state,
            graph: &analysis.graph,
            secrets: secret_digests(&analysis.state, &root),
            targets,
            concurrency: usize::from(args.concurrency),
        })),
    };
    let plan = outcome
        .map_err(|err| explain(err, &previews, &key_sources))?
        .plan;
    finish(plan, &sources, &analysis, &root, args, printer).map(Some)
}

/// Stamps, prints and judges a plan made from `analysis`.
fn finish(
    mut plan: Plan,
    sources: &SourceMap,
    analysis: &Analysis,
    root: &Path,
    args: &PlanArgs,
    printer: Printer,
) -> anyhow::Result<ExitStatus> {
    stamp_git(&mut plan, &args.path);
    plan.manifests = Some(manifests_of(sources, root));
    if let Some(base) = &args.base {
        mark_touched(&mut plan, analysis, &args.path.path, base)?;
    }
    print_plan(&plan, args, printer)?;
    if !plan.incomplete.is_empty() {
        printer.err(
            "error: the plan is incomplete (see `incomplete:` above: a list read failed, or a declared object was held back); it must not be applied as is\n",
        );
        return Ok(ExitStatus::Failure);
    }
    if !plan.guards.is_empty() {
        printer.err(&format!(
            "error: apply would refuse this plan ({} guard finding(s) above)\n",
            plan.guards.len()
        ));
        return Ok(ExitStatus::Failure);
    }
    Ok(if args.detailed_exitcode && !plan.is_empty() {
        ExitStatus::Changes
    } else {
        ExitStatus::Success
    })
}

/// A plan in one of its renderings (invisible characters in names written out as `[U+XXXX]`).
pub fn render_plan(plan: &Plan, format: PlanFormat, printer: Printer) -> String {
    match format {
        PlanFormat::Human => {
            crate::diag::show_invisible(&render::human::render(plan, printer.out_style))
                .into_owned()
        }
        PlanFormat::Json => render::json(plan),
        PlanFormat::Markdown => {
            // Invisible characters written out make the comment longer: fit it again.
            let limit = render::markdown::GITHUB_COMMENT_LIMIT;
            let text = render::markdown::render(plan, limit);
            let shown = crate::diag::show_invisible(&text).into_owned();
            let over = shown.len().saturating_sub(limit);
            if over == 0 {
                shown
            } else {
                crate::diag::show_invisible(&render::markdown::render(
                    plan,
                    limit.saturating_sub(over * 2),
                ))
                .into_owned()
            }
        }
    }
}

fn print_plan(plan: &Plan, args: &PlanArgs, printer: Printer) -> anyhow::Result<()> {
    printer.out(&render_plan(plan, args.format, printer));
    if let Some(out) = &args.out {
        fs_err::write(out, crate::redact::scrub(&render::json(plan)).as_bytes())
            .with_context(|| format!("cannot save the plan to `{}`", out.display()))?;
        printer.err(&format!("plan saved to {}\n", out.display()));
    }
    Ok(())
}

/// Where each org's key came from, for error messages.
fn key_sources(desired: &DesiredState, emulator: bool) -> Vec<(String, String)> {
    desired
        .orgs
        .iter()
        .map(|(name, cfg)| {
            let source = if emulator {
                "the emulator".to_owned()
            } else {
                cfg.api_key_env
                    .clone()
                    .unwrap_or_else(|| crate::env::BRAINTRUST_API_KEY.to_owned())
            };
            (name.to_string(), source)
        })
        .collect()
}

/// Turns a failed read into a message that says what to do.
fn explain(
    err: ReconcileError,
    previews: &[(String, String)],
    sources: &[(String, String)],
) -> anyhow::Error {
    let ReconcileError::Fetch { org, url, source } = &err else {
        return err.into();
    };
    let lookup = |list: &[(String, String)]| {
        list.iter()
            .find(|(o, _)| o == org)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let (preview, key_source) = (lookup(previews), lookup(sources));
    match source {
        FetchError::Api(api) if matches!(api.status(), Some(401 | 403)) => anyhow::anyhow!(
            "the API key for org `{org}` ({preview}, from {key_source}) was rejected by {url} with status {}\n\nhint: check that the key is valid and belongs to a member of `{org}` who may read its settings",
            api.status().unwrap_or_default()
        ),
        FetchError::Api(api @ ApiError::Tls { .. }) => {
            anyhow::anyhow!("cannot reach {url} for org `{org}`: {api}")
        }
        FetchError::Api(api @ ApiError::Transport { .. }) => anyhow::anyhow!(
            "cannot reach {url} for org `{org}`: {api}\n\nhint: check {} or the org's `api_url`, or try `--emulator`",
            crate::env::BRAINTRUST_API_URL
        ),
        _ => err.into(),
    }
}

/// The manifest files as a plan carries them.
pub fn manifests_of(sources: &SourceMap, root: &Path) -> Manifests {
    let files = sources
        .iter()
        .map(|(_, f)| ManifestFile {
            path: f.path.clone(),
            text: f.text.clone(),
        })
        .collect();
    Manifests::new(root.display().to_string(), files)
}

/// Loads and checks the manifests; prints diagnostics. `None` when there are errors, so no
/// command changes anything with broken manifests (only `plan`, overlapping its reads with the
/// analysis, may have read live state by then).
pub fn checked_manifests(arg: &PathArg, printer: Printer) -> Option<(Analysis, PathBuf)> {
    checked_sources(arg, printer).map(|(_, analysis, root)| (analysis, root))
}

/// Like [`checked_manifests`], also returning the files read.
pub fn checked_sources(arg: &PathArg, printer: Printer) -> Option<(SourceMap, Analysis, PathBuf)> {
    let path = arg.path.as_path();
    let (sources, diags) = load::load_arg(arg);
    let analysis = analyzed(&sources, diags, printer)?;
    Some((sources, analysis, root_of(path)))
}

/// The manifest root of a path argument: the directory, or a file's directory.
fn root_of(path: &Path) -> PathBuf {
    if path.is_file() {
        path.parent().map(Path::to_path_buf).unwrap_or_default()
    } else {
        path.to_path_buf()
    }
}

/// Analyses loaded manifests and prints their diagnostics; `None` when there are errors.
pub fn analyzed(
    sources: &SourceMap,
    diags: Vec<crate::diag::Diagnostic>,
    printer: Printer,
) -> Option<Analysis> {
    let analysis = pipeline::analyze_with(sources, load::parse_threads());
    report(sources, diags, &analysis, printer).then_some(analysis)
}

/// Prints the diagnostics of loading and analysing; `false` when there are errors.
fn report(
    sources: &SourceMap,
    mut diags: Vec<crate::diag::Diagnostic>,
    analysis: &Analysis,
    printer: Printer,
) -> bool {
    diags.extend(analysis.diagnostics.iter().cloned());
    if !diags.is_empty() {
        printer.err(&validate::render_all(
            &diags,
            sources,
            validate::DiagFormat::Human,
            printer,
        ));
    }
    if diags.iter().any(|d| d.is_error()) {
        let errors = diags.iter().filter(|d| d.is_error()).count();
        printer.err(&format!(
            "{errors} {} in the manifests; nothing was changed through the API\n",
            validate::plural(errors, "error", "errors")
        ));
        return false;
    }
    true
}

/// Records the commit the manifests come from (and whether the work tree was dirty).
pub fn stamp_git(plan: &mut Plan, arg: &PathArg) {
    let info = match &arg.git_ref {
        Some(reference) => crate::git::commit_at(&arg.path, reference),
        None => crate::git::head(&arg.path),
    };
    if let Some(info) = info {
        plan.commit = Some(info.id);
        plan.author = Some(info.author);
        plan.dirty = info.dirty;
    }
}

/// Marks the changes of objects whose manifest differs between `base` and the manifests
/// planned, and says how many changed objects have no change to make.
fn mark_touched(
    plan: &mut Plan,
    analysis: &Analysis,
    path: &Path,
    base: &str,
) -> anyhow::Result<()> {
    let sources = crate::git::sources_at(path, base)
        .with_context(|| format!("cannot read the manifests at `{base}`"))?;
    let before = pipeline::analyze(&sources).state;
    let touched: std::collections::BTreeSet<String> =
        crate::model::changed_between(&before, &analysis.state)
            .iter()
            .map(ToString::to_string)
            .collect();
    let mut marked = 0;
    for change in &mut plan.changes {
        if touched.contains(&change.address) {
            change.touched = true;
            marked += 1;
        }
    }
    plan.base = Some(base.to_owned());
    let quiet = touched.len().saturating_sub(marked);
    if quiet > 0 {
        plan.notes.push(format!(
            "{quiet} manifest object(s) changed since `{base}` already match the live org"
        ));
    }
    Ok(())
}
