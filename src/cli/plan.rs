//! `bt-gitops plan`: read live state, diff, print the ordered plan.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::ValueEnum;

use super::{ExitStatus, PathArg, Printer, load, validate};
use crate::api::error::{ApiError, KeyPreview};
use crate::api::read::FetchError;
use crate::diff::{SecretDigests, secrets};
use crate::model::{DesiredState, SecretSource};
use crate::pipeline::{self, Analysis};
use crate::plan::{ManifestFile, Manifests, Plan};
use crate::reconcile::{self, OrgTarget, PlanInput, ReconcileError};
use crate::render;
use crate::source::SourceMap;

/// Default API base URL.
pub const DEFAULT_API_URL: &str = "https://api.braintrust.dev";

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
    let mut plan = plan;
    stamp_git(&mut plan, &args.path);
    plan.manifests = Some(manifests_of(&sources, &root));
    if let Some(base) = &args.base {
        mark_touched(&mut plan, &analysis, &args.path.path, base)?;
    }
    print_plan(&plan, args, printer)?;
    if !plan.incomplete.is_empty() {
        printer.err(
            "error: the plan is incomplete (a list read failed); it must not be applied as is\n",
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
/// command touches the network with broken manifests.
pub fn checked_manifests(arg: &PathArg, printer: Printer) -> Option<(Analysis, PathBuf)> {
    checked_sources(arg, printer).map(|(_, analysis, root)| (analysis, root))
}

/// Like [`checked_manifests`], also returning the files read.
pub fn checked_sources(arg: &PathArg, printer: Printer) -> Option<(SourceMap, Analysis, PathBuf)> {
    let path = arg.path.as_path();
    let (sources, diags) = load::load_arg(arg);
    let analysis = analyzed(&sources, diags, printer)?;
    let root = if path.is_file() {
        path.parent().map(Path::to_path_buf).unwrap_or_default()
    } else {
        path.to_path_buf()
    };
    Some((sources, analysis, root))
}

/// Analyses loaded manifests and prints their diagnostics; `None` when there are errors.
pub fn analyzed(
    sources: &SourceMap,
    mut diags: Vec<crate::diag::Diagnostic>,
    printer: Printer,
) -> Option<Analysis> {
    let analysis = pipeline::analyze(sources);
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
            "{errors} error(s) in the manifests; nothing was sent to the API\n"
        ));
        return None;
    }
    Some(analysis)
}

/// The URL and key of every org, from the manifest and the environment.
///
/// # Errors
/// When a key is missing or a URL is refused, with what to set.
pub fn targets(desired: &DesiredState) -> anyhow::Result<Vec<OrgTarget>> {
    let mut out = Vec::new();
    for (name, cfg) in &desired.orgs {
        let base_url = cfg
            .api_url
            .clone()
            .or_else(|| {
                std::env::var(crate::env::BRAINTRUST_API_URL)
                    .ok()
                    .filter(|v| !v.is_empty())
            })
            .unwrap_or_else(|| DEFAULT_API_URL.to_owned());
        if let Err(err) = crate::api::client::check_base_url(&base_url) {
            bail!("org `{name}`: {err}");
        }
        let key_var = cfg
            .api_key_env
            .as_deref()
            .unwrap_or(crate::env::BRAINTRUST_API_KEY);
        let api_key = match std::env::var(key_var) {
            Ok(key) if !key.trim().is_empty() => {
                crate::redact::register(&key);
                key.trim().to_owned()
            }
            _ => bail!(
                "no API key for org `{name}`: set {key_var}{}, or try `--emulator` to plan against a local emulator",
                if cfg.api_key_env.is_some() {
                    " (named by the org's `api_key_env`)"
                } else {
                    ""
                }
            ),
        };
        out.push(OrgTarget {
            org: name.clone(),
            base_url,
            api_key,
        });
    }
    Ok(out)
}

/// HMAC digests of every declared secret's current value. Values are read here and dropped at
/// once; a value that cannot be read is recorded as unavailable, never as an error message that
/// could contain it.
pub fn secret_digests(desired: &DesiredState, root: &Path) -> SecretDigests {
    let user_key = std::env::var(crate::env::BT_GITOPS_SECRET_KEY)
        .ok()
        .filter(|k| !k.is_empty());
    if let Some(k) = &user_key {
        crate::redact::register(k);
    }
    let mut out = SecretDigests::new();
    for (key, resource) in &desired.resources {
        let Some(source) = resource.spec.secret() else {
            continue;
        };
        let hmac_key = user_key.as_ref().map_or_else(
            || secrets::default_key(key.org.as_str()),
            |k| k.as_bytes().to_vec(),
        );
        let value = read_secret(source, root);
        out.insert(
            key.clone(),
            value.map(|v| secrets::digest(&hmac_key, v.as_bytes())),
        );
    }
    out
}

/// Reads a secret's value and registers it with the redaction layer. Errors name the source,
/// never the value.
pub fn read_secret(source: &SecretSource, root: &Path) -> Result<String, String> {
    let value = read_secret_value(source, root);
    if let Ok(v) = &value {
        crate::redact::register(v);
    }
    value
}

fn read_secret_value(source: &SecretSource, root: &Path) -> Result<String, String> {
    match source {
        SecretSource::Env(name) => match std::env::var(name) {
            Ok(v) if !v.is_empty() => Ok(v),
            _ => Err(format!("environment variable {name} is not set")),
        },
        SecretSource::File(path) => fs_err::read_to_string(root.join(path))
            .map(|v| v.trim_end_matches(['\n', '\r']).to_owned())
            .map_err(|_| format!("file {path} cannot be read")),
    }
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
