//! `bt-gitops apply`: re-read live state, re-plan, refuse what is unsafe or changed since review,
//! execute, and report exactly what changed.

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::ValueEnum;

use super::plan::{checked_manifests, read_secret, secret_digests, stamp_git, targets};
use super::{ExitStatus, PathArg, Printer};
use crate::api::client::{Client, ClientConfig};
use crate::apply::guard::{self, GuardConfig};
use crate::apply::journal::Journal;
use crate::apply::lease::{self, Lease};
use crate::apply::{self, ApplyInput, ApplyReport, Outcome, SecretValue};
use crate::model::{DesiredState, SecretSource};
use crate::plan::{Action, FORMAT_VERSION, Plan, SecretState};
use crate::reconcile::{self, OrgTarget, PlanInput};
use crate::render;

/// Where journals go, relative to the current directory.
const JOURNAL_DIR: &str = ".bt-gitops/journal";

#[derive(Debug, clap::Args)]
pub struct ApplyArgs {
    #[command(flatten)]
    pub path: PathArg,
    /// Execute this reviewed plan (from `plan --out`): only its changes run, and each one whose
    /// live object changed since is refused.
    #[arg(long, value_name = "FILE")]
    pub plan: Option<PathBuf>,
    /// Do not ask for confirmation (required when there is no terminal).
    #[arg(long)]
    pub auto_approve: bool,
    /// Apply to the local emulator (state in `.bt-gitops/emulator.json`) instead of Braintrust.
    #[arg(long)]
    pub emulator: bool,
    /// Allow a plan that deletes a large share of a kind in one org or project.
    #[arg(long)]
    pub allow_mass_delete: bool,
    /// How to print the report on stdout.
    #[arg(long, value_enum, default_value_t = ReportFormat::Human)]
    pub format: ReportFormat,
    /// Changes (and requests) in flight at once, per org.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub concurrency: u16,
    /// How long the apply lease lasts if this process dies without releasing it, in seconds.
    #[arg(long, default_value_t = 900, hide = true)]
    pub lease_ttl: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    Human,
    Json,
}

pub fn run(args: &ApplyArgs, printer: Printer) -> anyhow::Result<ExitStatus> {
    let Some((analysis, root)) = checked_manifests(&args.path, printer) else {
        return Ok(ExitStatus::Failure);
    };
    let saved = match &args.plan {
        Some(path) => Some(load_plan(path)?),
        None => None,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        let emulated = if args.emulator {
            Some(super::emulator_flag::start(&analysis.state).await?)
        } else {
            None
        };
        let targets = match &emulated {
            Some(e) => e.targets.clone(),
            None => targets(&analysis.state)?,
        };
        let clients = clients_for(&targets, args.concurrency)?;
        apply_with_leases(
            args,
            printer,
            &analysis,
            &root,
            saved.as_ref(),
            &targets,
            &clients,
        )
        .await
    })
}

/// A client per target.
pub fn clients_for(
    targets: &[OrgTarget],
    concurrency: u16,
) -> anyhow::Result<Vec<(OrgTarget, Client)>> {
    targets
        .iter()
        .map(|t| {
            let config = ClientConfig::new(&t.base_url, &t.api_key)
                .with_concurrency(usize::from(concurrency));
            Client::new(config).map(|c| (t.clone(), c))
        })
        .collect()
}

/// Takes every org's lease, applies, and gives the leases back whatever happens (an error, a
/// refusal, Ctrl-C).
///
/// # Errors
/// When a lease is held by another apply, or the plan cannot be made.
pub async fn apply_with_leases(
    args: &ApplyArgs,
    printer: Printer,
    analysis: &crate::pipeline::Analysis,
    root: &Path,
    saved: Option<&Plan>,
    targets: &[OrgTarget],
    clients: &[(OrgTarget, Client)],
) -> anyhow::Result<ExitStatus> {
    let holder = lease::holder_name();
    let ttl = Duration::from_secs(args.lease_ttl);
    let mut leases: Vec<Lease> = Vec::new();
    for (target, client) in clients {
        match lease::acquire(client, target.org.as_str(), &holder, ttl).await {
            Ok(l) => leases.push(l),
            Err(err) => {
                release(leases, printer).await;
                return Err(err.into());
            }
        }
    }
    let work = apply_locked(
        args, printer, analysis, root, saved, targets, clients, &holder,
    );
    let result = tokio::select! {
        r = work => r,
        _ = tokio::signal::ctrl_c() => {
            printer.err("interrupted: releasing the apply lease; re-run apply to finish (it re-plans from live state)\n");
            Ok(ExitStatus::Failure)
        }
    };
    release(leases, printer).await;
    result
}

async fn release(leases: Vec<Lease>, printer: Printer) {
    for l in leases {
        let org = l.org.clone();
        if let Err(err) = l.release().await {
            printer.err(&format!("warning: could not release the apply lease of org `{org}` ({err}); it expires on its own\n"));
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn apply_locked(
    args: &ApplyArgs,
    printer: Printer,
    analysis: &crate::pipeline::Analysis,
    root: &Path,
    saved: Option<&Plan>,
    targets: &[OrgTarget],
    clients: &[(OrgTarget, Client)],
    holder: &str,
) -> anyhow::Result<ExitStatus> {
    let input = PlanInput {
        desired: &analysis.state,
        graph: &analysis.graph,
        targets: targets.to_vec(),
        secrets: secret_digests(&analysis.state, root),
        concurrency: usize::from(args.concurrency),
    };
    let outcome = reconcile::plan(input).await?;
    let plan = match saved {
        Some(saved) => {
            let (plan, refused) = apply::reviewed(saved, &outcome.plan);
            for line in &refused {
                printer.err(&format!("refused by the `stale-plan` guard: {line}\n"));
            }
            if !refused.is_empty() && plan.changes.is_empty() {
                return Ok(ExitStatus::Failure);
            }
            plan
        }
        None => outcome.plan.clone(),
    };
    let mut plan = plan;
    stamp_git(&mut plan, &args.path);
    if plan.is_empty() {
        printer.out("No changes. The live org matches the manifests.\n");
        return Ok(ExitStatus::Success);
    }

    let refusals = guard::check(
        &plan,
        &outcome.live,
        &GuardConfig {
            allow_mass_delete: args.allow_mass_delete,
            ..GuardConfig::default()
        },
    );
    if !refusals.is_empty() {
        for r in &refusals {
            printer.err(&format!("{r}\n"));
        }
        printer.err("nothing was applied\n");
        return Ok(ExitStatus::Failure);
    }

    if saved.is_none() {
        printer.err(&render::human::render(&plan, printer.style));
        if !args.auto_approve && !confirm(&plan, printer)? {
            return Ok(ExitStatus::Failure);
        }
    }

    let secrets = secret_values(&analysis.state, &plan, root);
    let journal = Journal::start(Path::new(JOURNAL_DIR), &plan, holder)
        .context("cannot start the apply journal")?;
    let journal = Mutex::new(journal);
    let progress = Progress::new(&plan, printer);
    let observe = |o: Outcome<'_>| {
        if let Ok(mut j) = journal.lock()
            && let Err(err) = j.record(o)
        {
            tracing::warn!(error = %err, "cannot write the journal");
        }
        progress.step(o);
    };
    let report = apply::execute(ApplyInput {
        plan: &plan,
        desired: &analysis.state,
        live: &outcome.live,
        clients: clients
            .iter()
            .map(|(t, c)| (t.org.clone(), c.clone()))
            .collect(),
        secrets,
        concurrency: usize::from(args.concurrency),
        root: root.to_path_buf(),
        observer: Some(&observe),
    })
    .await;
    progress.finish();
    let journal_path = journal
        .into_inner()
        .map_err(|_| anyhow::anyhow!("the journal lock was poisoned"))?
        .finish(&report)?;
    printer.out(&match args.format {
        ReportFormat::Human => report_human(&report, &journal_path),
        ReportFormat::Json => report_json(&report, &journal_path),
    });
    Ok(if report.failed.is_empty() && report.skipped.is_empty() {
        ExitStatus::Success
    } else {
        ExitStatus::Failure
    })
}

/// Reads a saved plan.
fn load_plan(path: &Path) -> anyhow::Result<Plan> {
    let text = fs_err::read_to_string(path)?;
    let plan: Plan = serde_json::from_str(&text)
        .with_context(|| format!("`{}` is not a bt-gitops plan", path.display()))?;
    if plan.format_version != FORMAT_VERSION {
        bail!(
            "`{}` has plan format {}, this bt-gitops reads format {FORMAT_VERSION}; re-run `plan --out`",
            path.display(),
            plan.format_version
        );
    }
    Ok(plan)
}

/// Asks on the terminal; without one, refuses.
fn confirm(plan: &Plan, printer: Printer) -> anyhow::Result<bool> {
    if !std::io::stdin().is_terminal() {
        printer.err("refused: there is no terminal to confirm on; review the plan and pass `--auto-approve`, or apply a saved plan with `--plan`\n");
        return Ok(false);
    }
    printer.err(&format!(
        "\nApply these {} changes? Only `yes` is accepted: ",
        plan.changes.len()
    ));
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    if answer.trim() == "yes" {
        Ok(true)
    } else {
        printer.err("apply cancelled; nothing was changed\n");
        Ok(false)
    }
}

/// The values of the secrets the plan writes, read now and kept only in memory.
fn secret_values(
    desired: &DesiredState,
    plan: &Plan,
    root: &Path,
) -> std::collections::BTreeMap<crate::model::ResourceKey, SecretValue> {
    let digests = secret_digests(desired, root);
    let writes: Vec<&str> = plan
        .changes
        .iter()
        .filter(|c| {
            c.secret
                .as_ref()
                .is_some_and(|s| s.status != SecretState::Unavailable)
        })
        .map(|c| c.address.as_str())
        .collect();
    desired
        .resources
        .iter()
        .filter(|(k, _)| writes.contains(&k.to_string().as_str()))
        .filter_map(|(k, r)| {
            let source: &SecretSource = r.spec.secret()?;
            let value = read_secret(source, root).ok()?;
            let digest = digests.get(k)?.as_ref().ok()?.clone();
            Some((k.clone(), SecretValue { value, digest }))
        })
        .collect()
}

/// Progress: a bar on a terminal for more than a few changes, plain lines otherwise.
struct Progress {
    bar: Option<indicatif::ProgressBar>,
    printer: Printer,
}

impl Progress {
    fn new(plan: &Plan, printer: Printer) -> Progress {
        let bar = (std::io::stderr().is_terminal() && plan.changes.len() > 5).then(|| {
            let bar = indicatif::ProgressBar::new(plan.changes.len() as u64);
            if let Ok(style) = indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} {msg}")
            {
                bar.set_style(style);
            }
            bar
        });
        Progress { bar, printer }
    }

    fn step(&self, outcome: Outcome<'_>) {
        let line = match outcome {
            Outcome::Succeeded(a) => format!("ok      {} {}", a.action.symbol(), a.address),
            Outcome::Failed { address, .. } => format!("FAILED  {address}"),
            Outcome::Skipped { address, .. } => format!("skipped {address}"),
        };
        match &self.bar {
            Some(bar) => {
                bar.inc(1);
                bar.set_message(line);
            }
            None => self.printer.err(&format!("{line}\n")),
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

fn report_human(report: &ApplyReport, journal: &Path) -> String {
    let mut out = String::new();
    for s in &report.succeeded {
        let id = s
            .created_id
            .as_deref()
            .map(|i| format!(" (id {i})"))
            .unwrap_or_default();
        out.push_str(&format!("  {} {}{id}\n", s.action.symbol(), s.address));
    }
    for (address, error) in &report.failed {
        out.push_str(&format!("  failed  {address}: {error}\n"));
    }
    for (address, upstream) in &report.skipped {
        out.push_str(&format!(
            "  skipped {address}: depends on `{upstream}`, which failed\n"
        ));
    }
    let created = report
        .succeeded
        .iter()
        .filter(|s| s.action == Action::Create)
        .count();
    out.push_str(&format!(
        "\nApply: {} succeeded ({created} created), {} failed, {} skipped. Journal: {}\n",
        report.succeeded.len(),
        report.failed.len(),
        report.skipped.len(),
        journal.display()
    ));
    out
}

fn report_json(report: &ApplyReport, journal: &Path) -> String {
    let value = serde_json::json!({
        "format_version": FORMAT_VERSION,
        "succeeded": report.succeeded.iter().map(|s| serde_json::json!({
            "address": s.address, "action": s.action, "id": s.created_id,
        })).collect::<Vec<_>>(),
        "failed": report.failed.iter().map(|(a, e)| serde_json::json!({ "address": a, "error": e })).collect::<Vec<_>>(),
        "skipped": report.skipped.iter().map(|(a, u)| serde_json::json!({ "address": a, "because_of": u })).collect::<Vec<_>>(),
        "journal": journal.display().to_string(),
    });
    let mut text = serde_json::to_string_pretty(&value).unwrap_or_default();
    text.push('\n');
    text
}
