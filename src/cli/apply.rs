//! `bt-gitops apply`: take the lease (kept alive by a heartbeat, released on every exit and on
//! Ctrl-C, SIGTERM and SIGHUP), re-read live state, re-plan (from the reviewed manifests a saved
//! plan carries, with `--plan`), refuse what is unsafe or not as reviewed, journal each change
//! before and after it runs, and report exactly what changed and what was refused.

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::ValueEnum;

use super::plan::{analyzed, checked_manifests, secret_digests, stamp_git, targets};
use super::{ExitStatus, PathArg, Printer};
use crate::api::client::Client;
use crate::apply::guard::{self, GuardConfig};
use crate::apply::journal::Journal;
use crate::apply::lease::{self, Lease};
use crate::apply::{self, ApplyReport, Outcome, Refused};
use crate::controller::apply::{Execution, clients_for, execute_recorded, heartbeat, release};
use crate::controller::keys::secret_values;
use crate::plan::{Action, FORMAT_VERSION, GuardFinding, Plan};
use crate::reconcile::{self, OrgTarget, PlanInput};
use crate::render;
use crate::source::SourceMap;

/// Where journals go, relative to the current directory.
const JOURNAL_DIR: &str = ".bt-gitops/journal";

#[derive(Debug, clap::Args)]
pub struct ApplyArgs {
    #[command(flatten)]
    pub path: PathArg,
    /// Execute this reviewed plan (from `plan --out`): its changes run exactly as reviewed,
    /// from the manifests it carries (PATH and the work tree are not read); each one that would
    /// now run differently, or is no longer planned, is refused, and new changes do not run.
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
    /// How long the apply lease lasts if this process dies without releasing it, in seconds
    /// (renewed every third of it while the apply runs).
    #[arg(long, default_value_t = lease::DEFAULT_TTL.as_secs(), hide = true)]
    pub lease_ttl: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    Human,
    Json,
}

pub fn run(args: &ApplyArgs, printer: Printer) -> anyhow::Result<ExitStatus> {
    // With `--plan`, the desired state is rebuilt from the manifests the plan carries: the work
    // tree is not read at all.
    let (analysis, root, saved) = match &args.plan {
        Some(path) => {
            if args.path.path != Path::new(".") || args.path.git_ref.is_some() {
                printer.err("note: PATH and --git-ref are not read with --plan: the plan carries the manifests it was made from\n");
            }
            let saved = load_plan(path)?;
            let Some(analysis) = reviewed_manifests(&saved, printer) else {
                return Ok(ExitStatus::Failure);
            };
            let root = saved
                .manifests
                .as_ref()
                .map(|m| PathBuf::from(&m.root))
                .unwrap_or_default();
            (analysis, root, Some(saved))
        }
        None => {
            let Some((analysis, root)) = checked_manifests(&args.path, printer) else {
                return Ok(ExitStatus::Failure);
            };
            (analysis, root, None)
        }
    };
    // Under `--emulator`, each apply runs its own emulator on the shared state file: taking the
    // lease happens under a file lock, so a second apply loads the first one's lease and is
    // refused exactly as against Braintrust.
    let state_lock = super::emulator_flag::lock_state_if(args.emulator)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let result = runtime.block_on(async {
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
            state_lock,
        )
        .await
    });
    // A confirmation prompt may still be reading stdin on a blocking thread: do not wait for it.
    runtime.shutdown_background();
    result
}

/// The reviewed manifests of a saved plan, analysed; `None` (diagnostics printed) when they do
/// not check.
fn reviewed_manifests(saved: &Plan, printer: Printer) -> Option<crate::pipeline::Analysis> {
    let manifests = saved.manifests.as_ref()?;
    let mut sources = SourceMap::new();
    for f in &manifests.files {
        sources.add(f.path.clone(), f.text.clone());
    }
    analyzed(&sources, Vec::new(), printer)
}

/// Takes every org's lease, keeps it alive with a heartbeat while applying, and gives the
/// leases back whatever happens: an error, a refusal, Ctrl-C, SIGTERM or SIGHUP (at the
/// confirmation prompt too). `state_lock` (the emulator's state file lock) is let go once the
/// leases are taken.
///
/// # Errors
/// When a lease is held by another apply or is lost, or the plan cannot be made.
#[allow(clippy::too_many_arguments)]
pub async fn apply_with_leases(
    args: &ApplyArgs,
    printer: Printer,
    analysis: &crate::pipeline::Analysis,
    root: &Path,
    saved: Option<&Plan>,
    targets: &[OrgTarget],
    clients: &[(OrgTarget, Client)],
    state_lock: Option<super::emulator_flag::StateLock>,
) -> anyhow::Result<ExitStatus> {
    let holder = lease::holder_name();
    let ttl = Duration::from_secs(args.lease_ttl.max(1));
    let warn = |message: String| printer.err(&format!("warning: {message}\n"));
    let held: Mutex<Vec<Lease>> = Mutex::new(Vec::new());
    let work = async {
        for (target, client) in clients {
            let lease = lease::acquire(client, target.org.as_str(), &holder, ttl).await?;
            if let Ok(mut held) = held.lock() {
                held.push(lease);
            }
        }
        drop(state_lock);
        let leases: Vec<Lease> = held.lock().map(|h| h.clone()).unwrap_or_default();
        tokio::select! {
            r = apply_locked(args, printer, analysis, root, saved, targets, clients, &holder) => r,
            lost = heartbeat(&leases, ttl, &warn) => Err(lost),
        }
    };
    let result = tokio::select! {
        r = work => r,
        signal = interrupted() => {
            printer.err(&format!("interrupted ({signal}): releasing the apply lease; operations that were in flight are in the journal; re-run apply to finish (it re-plans from live state)\n"));
            Ok(ExitStatus::Interrupted)
        }
    };
    let leases = held
        .lock()
        .map(|mut h| std::mem::take(&mut *h))
        .unwrap_or_default();
    release(leases, &warn).await;
    result
}

/// Waits for Ctrl-C, SIGTERM or SIGHUP; names the one that came.
async fn interrupted() -> &'static str {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let (Ok(mut term), Ok(mut hup)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::hangup()),
        ) {
            return tokio::select! {
                _ = tokio::signal::ctrl_c() => "Ctrl-C",
                _ = term.recv() => "SIGTERM",
                _ = hup.recv() => "SIGHUP",
            };
        }
    }
    let _ = tokio::signal::ctrl_c().await;
    "Ctrl-C"
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
    let mut refused: Vec<Refused> = Vec::new();
    let mut unreviewed: Vec<String> = Vec::new();
    let mut plan = match saved {
        Some(saved) => {
            let r = apply::reviewed(saved, &outcome.plan);
            refused = r.refused;
            unreviewed = r.unreviewed;
            r.plan
        }
        None => {
            let mut plan = outcome.plan.clone();
            stamp_git(&mut plan, &args.path);
            plan
        }
    };
    let incomplete = outcome.plan.incomplete.clone();
    let guards = guard::check(
        &plan,
        &outcome.live,
        &GuardConfig {
            allow_mass_delete: args.allow_mass_delete,
            ..GuardConfig::default()
        },
    );
    // What is shown before confirmation is judged with this apply's overrides.
    plan.guards = guards.iter().map(GuardFinding::from).collect();
    if !guards.is_empty() {
        // A guard refuses the plan as a whole: nothing of it runs.
        refused.extend(guards.iter().map(|g| {
            let finding = GuardFinding::from(g);
            Refused {
                address: None,
                reason: format!("{}{}", finding.message, finding.override_note()),
                guard: finding.guard,
            }
        }));
        plan.changes.clear();
    }
    for address in &unreviewed {
        printer.err(&format!(
            "not run: `{address}` is not in the reviewed plan; plan again to review it\n"
        ));
    }
    if plan.is_empty() && refused.is_empty() && incomplete.is_empty() {
        printer.out("No changes. The live org matches the manifests.\n");
        return Ok(ExitStatus::Success);
    }
    for r in &refused {
        printer.err(&format!("{}\n", refused_line(r)));
    }
    for scope in &incomplete {
        printer.err(&format!("incomplete: {scope}\n"));
    }
    if saved.is_none() && !plan.is_empty() {
        printer.err(&render::human::render(&plan, printer.style));
        if !args.auto_approve && !confirm(&plan, printer).await? {
            return Ok(ExitStatus::Failure);
        }
    }

    let secrets = secret_values(&analysis.state, &plan, root);
    let mut journal = Journal::start(Path::new(JOURNAL_DIR), &plan, holder)
        .context("cannot start the apply journal")?;
    for r in &refused {
        journal
            .refused(r)
            .context("cannot write the apply journal")?;
    }
    for scope in &incomplete {
        journal
            .incomplete(scope)
            .context("cannot write the apply journal")?;
    }
    let journal = Mutex::new(journal);
    let progress = Progress::new(&plan, printer);
    let warn = |message: String| printer.err(&format!("warning: {message}\n"));
    let mut report = if plan.is_empty() {
        ApplyReport::default()
    } else {
        execute_recorded(Execution {
            plan: &plan,
            analysis,
            live: &outcome.live,
            clients,
            secrets,
            concurrency: args.concurrency,
            root,
            journal: &journal,
            warn: &warn,
            step: &|o| progress.step(o),
        })
        .await
    };
    report.refused = refused;
    progress.finish();
    let journal_path = journal
        .into_inner()
        .map_err(|_| anyhow::anyhow!("the journal lock was poisoned"))?
        .finish(&report)?;
    let extra = ReportExtra {
        incomplete: &incomplete,
        unreviewed: &unreviewed,
        journal: &journal_path,
    };
    printer.out(&match args.format {
        ReportFormat::Human => report_human(&report, &extra),
        ReportFormat::Json => report_json(&report, &extra),
    });
    Ok(if report.is_clean() && incomplete.is_empty() {
        ExitStatus::Success
    } else {
        ExitStatus::Failure
    })
}

/// How a refusal reads on stderr and in the human report.
fn refused_line(r: &Refused) -> String {
    match &r.address {
        Some(address) => format!(
            "refused by the `{}` guard: `{address}`: {}",
            r.guard, r.reason
        ),
        None => format!(
            "refused by the `{}` guard: {}; nothing was applied",
            r.guard, r.reason
        ),
    }
}

/// Reads a saved plan and checks that it can be applied as reviewed.
///
/// # Errors
/// When the file is not a plan of this format, carries no manifests, or its manifests do not
/// match their recorded hash.
pub fn load_plan(path: &Path) -> anyhow::Result<Plan> {
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
    match &plan.manifests {
        None => bail!(
            "`{}` carries no manifests, so what was reviewed cannot be rebuilt; re-run `plan --out`",
            path.display()
        ),
        Some(m) if !m.intact() => bail!(
            "the manifests in `{}` do not match their recorded hash {}: the plan file was edited after `plan`; re-run `plan --out`",
            path.display(),
            m.hash
        ),
        Some(_) => Ok(plan),
    }
}

/// Asks on the terminal; without one, refuses. The answer is read on a blocking thread, so a
/// signal during the prompt still ends the apply and releases the lease.
async fn confirm(plan: &Plan, printer: Printer) -> anyhow::Result<bool> {
    if !std::io::stdin().is_terminal() {
        printer.err("refused: there is no terminal to confirm on; review the plan and pass `--auto-approve`, or apply a saved plan with `--plan`\n");
        return Ok(false);
    }
    printer.err(&format!(
        "\nApply these {} changes? Only `yes` is accepted: ",
        plan.changes.len()
    ));
    let _ = std::io::stderr().flush();
    let answer = tokio::task::spawn_blocking(|| {
        let mut answer = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut answer)
            .map(|_| answer)
    })
    .await??;
    if answer.trim() == "yes" {
        Ok(true)
    } else {
        printer.err("apply cancelled; nothing was changed\n");
        Ok(false)
    }
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
            Outcome::Started { .. } | Outcome::Step { .. } => return,
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

/// What the report says besides the executor's outcome.
struct ReportExtra<'a> {
    incomplete: &'a [String],
    unreviewed: &'a [String],
    journal: &'a Path,
}

fn report_human(report: &ApplyReport, extra: &ReportExtra<'_>) -> String {
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
    for r in &report.refused {
        out.push_str(&format!("  {}\n", refused_line(r)));
    }
    for scope in extra.incomplete {
        out.push_str(&format!("  incomplete: {scope}\n"));
    }
    for address in extra.unreviewed {
        out.push_str(&format!("  not run (not reviewed): {address}\n"));
    }
    let created = report
        .succeeded
        .iter()
        .filter(|s| s.action == Action::Create)
        .count();
    out.push_str(&format!(
        "\nApply: {} succeeded ({created} created), {} failed, {} skipped, {} refused. Journal: {}\n",
        report.succeeded.len(),
        report.failed.len(),
        report.skipped.len(),
        report.refused.len(),
        extra.journal.display()
    ));
    out
}

fn report_json(report: &ApplyReport, extra: &ReportExtra<'_>) -> String {
    let value = serde_json::json!({
        "format_version": FORMAT_VERSION,
        "succeeded": report.succeeded.iter().map(|s| serde_json::json!({
            "address": s.address, "action": s.action, "id": s.created_id,
        })).collect::<Vec<_>>(),
        "failed": report.failed.iter().map(|(a, e)| serde_json::json!({ "address": a, "error": e })).collect::<Vec<_>>(),
        "skipped": report.skipped.iter().map(|(a, u)| serde_json::json!({ "address": a, "because_of": u })).collect::<Vec<_>>(),
        "refused": report.refused.iter().map(|r| serde_json::json!({
            "address": r.address, "guard": r.guard, "reason": r.reason,
        })).collect::<Vec<_>>(),
        "incomplete": extra.incomplete,
        "not_reviewed": extra.unreviewed,
        "journal": extra.journal.display().to_string(),
    });
    let mut text = serde_json::to_string_pretty(&value).unwrap_or_default();
    text.push('\n');
    text
}
