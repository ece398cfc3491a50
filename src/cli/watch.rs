//! `bt-gitops watch`: maps its arguments onto the [`controller`](crate::controller), feeds it
//! triggers (files, the followed branch, a timer), serves `/healthz`, `/readyz` and `/metrics`,
//! and prints each round as JSON log lines on stderr (nothing else goes there). SIGTERM or
//! Ctrl-C ends it cleanly.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use serde_json::json;
use tokio::sync::mpsc;

use super::emulator_flag::Emulated;
use super::{ExitStatus, PathArg, Printer, load};
use crate::apply::SecretValue;
use crate::controller::keys::{secret_digests, secret_values, targets};
use crate::controller::propose::ProposeConfig;
use crate::controller::shard::Shard;
use crate::controller::{
    self, ApplySettings, BoxFuture, Controller, DriftPolicies, DriftPolicy, Notifier, PullRequests,
    Settings, ShardGate, Trigger, World, log_line,
};
use crate::diag::Diagnostic;
use crate::diff::SecretDigests;
use crate::file_events::watch_files;
use crate::model::{DesiredState, ResourceKey};
use crate::plan::Plan;
use crate::reconcile::OrgTarget;
use crate::source::SourceMap;

#[derive(Debug, clap::Args)]
pub struct WatchArgs {
    #[command(flatten)]
    pub path: PathArg,
    /// Seconds between timer-triggered rounds.
    #[arg(long, default_value_t = 300)]
    pub interval: u64,
    /// Follow this branch: a round starts when it moves, and manifests are read at its commit.
    #[arg(long)]
    pub branch: Option<String>,
    /// Fetch the branch from this remote first: a configured remote name, a local path, a
    /// `file://` URL or an `https://` URL (token from `BT_GITOPS_GIT_TOKEN`).
    #[arg(long, requires = "branch")]
    pub remote: Option<String>,
    /// Seconds between checks of the branch.
    #[arg(long, default_value_t = 30)]
    pub poll: u64,
    /// Apply each round's plan (with the guards and lease of `apply`); without it, only report.
    /// Drift is reverted unless `--drift-policy` says otherwise for its kind.
    #[arg(long)]
    pub auto_apply: bool,
    /// What to do with drift of one kind: `KIND=report|propose|revert` (repeatable). `propose`
    /// opens or updates a pull request with `--propose-to`; without it, it only reports.
    #[arg(long, value_name = "KIND=POLICY", value_parser = parse_policy)]
    pub drift_policy: Vec<(String, DriftPolicy)>,
    /// Allow mass deletes in auto-applied rounds.
    #[arg(long)]
    pub allow_mass_delete: bool,
    /// Watch the local emulator instead of Braintrust.
    #[arg(long)]
    pub emulator: bool,
    /// Address of `/healthz`, `/readyz` and `/metrics`.
    #[arg(long, default_value = "127.0.0.1:9464")]
    pub metrics_addr: String,
    /// Requests in flight at once, per org.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub concurrency: u16,
    /// Share the orgs with other replicas: reconcile an org only while holding its controller
    /// lease (named by `HOSTNAME`, lasting three intervals).
    #[arg(long)]
    pub shard: bool,
    /// Propose drift as one pull request on this GitHub repository (`OWNER/NAME`), from branch
    /// `bt-gitops/drift` pushed to `--remote`: the default drift policy becomes `propose`.
    /// Needs `--branch` and `BT_GITOPS_GITHUB_TOKEN`.
    #[arg(long, value_name = "OWNER/NAME", requires = "branch")]
    pub propose_to: Option<String>,
}

fn parse_policy(text: &str) -> Result<(String, DriftPolicy), String> {
    let (kind, policy) = text
        .split_once('=')
        .ok_or_else(|| format!("`{text}` is not KIND=POLICY"))?;
    Ok((kind.trim().to_owned(), policy.trim().parse()?))
}

pub fn run(args: &WatchArgs, printer: Printer) -> anyhow::Result<ExitStatus> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(watch(args, printer))
}

/// The manifests, keys and secrets as `watch` reads them: from the disk and the environment,
/// or from an emulator started on first use.
struct CliWorld {
    path: PathBuf,
    root: PathBuf,
    emulator: bool,
    emulated: tokio::sync::Mutex<Option<Emulated>>,
    /// Where the emulator's notices go, as JSON log lines (stderr holds nothing else).
    printer: Printer,
}

impl World for CliWorld {
    fn load(&self, git_ref: Option<&str>) -> (SourceMap, Vec<Diagnostic>) {
        load::load_arg(&PathArg {
            path: self.path.clone(),
            git_ref: git_ref.map(str::to_owned),
        })
    }

    fn targets<'a>(
        &'a self,
        desired: &'a DesiredState,
    ) -> BoxFuture<'a, anyhow::Result<Vec<OrgTarget>>> {
        Box::pin(async move {
            if !self.emulator {
                return targets(desired);
            }
            let mut emulated = self.emulated.lock().await;
            if emulated.is_none() {
                let orgs: Vec<_> = desired.orgs.keys().cloned().collect();
                let started = super::emulator_flag::start_quiet(&orgs).await?;
                for notice in &started.notices {
                    log(
                        self.printer,
                        &log_line("info", "emulator", json!({ "message": notice })),
                    );
                }
                *emulated = Some(started);
            }
            Ok(emulated
                .as_ref()
                .map(|e| e.targets.clone())
                .unwrap_or_default())
        })
    }

    fn secret_digests(&self, desired: &DesiredState) -> SecretDigests {
        secret_digests(desired, &self.root)
    }

    fn secret_values(
        &self,
        desired: &DesiredState,
        plan: &Plan,
    ) -> BTreeMap<ResourceKey, SecretValue> {
        secret_values(desired, plan, &self.root)
    }
}

/// One JSON log line on stderr.
fn log(printer: Printer, line: &serde_json::Value) {
    printer.err(&format!("{line}\n"));
}

async fn watch(args: &WatchArgs, printer: Printer) -> anyhow::Result<ExitStatus> {
    let root = if args.path.path.is_file() {
        args.path
            .path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default()
    } else {
        args.path.path.clone()
    };
    let git_token = std::env::var(crate::env::BT_GITOPS_GIT_TOKEN)
        .ok()
        .filter(|t| !t.trim().is_empty())
        .map(|t| {
            crate::redact::register(&t);
            t.trim().to_owned()
        });
    let interval = Duration::from_secs(args.interval.max(1));
    let settings = Settings {
        root: root.clone(),
        git_ref: args.path.git_ref.clone(),
        branch: args.branch.clone(),
        remote: args.remote.clone(),
        git_token,
        auto_apply: args.auto_apply,
        policies: DriftPolicies {
            default: if args.propose_to.is_some() {
                DriftPolicy::Propose
            } else if args.auto_apply {
                DriftPolicy::Revert
            } else {
                DriftPolicy::Report
            },
            kinds: args.drift_policy.iter().cloned().collect(),
        },
        apply: ApplySettings {
            allow_mass_delete: args.allow_mass_delete,
            concurrency: args.concurrency,
            ..ApplySettings::default()
        },
        interval,
        retry_base: Duration::from_secs(1),
    };
    let world = Arc::new(CliWorld {
        path: args.path.path.clone(),
        root: root.clone(),
        emulator: args.emulator,
        emulated: tokio::sync::Mutex::new(None),
        printer,
    });
    let notifier = Notifier::from_env();
    let notify_kinds = notifier.kinds();
    let mut controller = Controller::new(settings.clone(), world).with_notifier(notifier);
    let gate = args.shard.then(|| {
        let replica = std::env::var(crate::env::HOSTNAME)
            .ok()
            .filter(|h| !h.trim().is_empty())
            .unwrap_or_else(crate::apply::lease::holder_name);
        Arc::new(ShardGate::new(Shard::new(
            replica,
            interval.saturating_mul(3),
        )))
    });
    if let Some(gate) = &gate {
        controller = controller.with_gate(gate.clone());
    }
    if let (Some(github_repo), Some(branch)) = (&args.propose_to, &args.branch) {
        let Some((github_url, token)) = ProposeConfig::github_from_env() else {
            anyhow::bail!(
                "--propose-to needs a GitHub token in {}",
                crate::env::BT_GITOPS_GITHUB_TOKEN
            );
        };
        controller = controller.with_propose(Arc::new(PullRequests(ProposeConfig {
            repo: root.clone(),
            base_ref: String::new(),
            base_branch: branch.clone(),
            branch: "bt-gitops/drift".to_owned(),
            remote: args.remote.clone().unwrap_or_else(|| "origin".to_owned()),
            github_repo: github_repo.clone(),
            github_url,
            token,
        })));
    }

    let listener = tokio::net::TcpListener::bind(&args.metrics_addr)
        .await
        .with_context(|| format!("cannot serve metrics on {}", args.metrics_addr))?;
    let addr = listener.local_addr()?;
    let server = tokio::spawn(controller::serve::serve(listener, controller.status()));

    let (tx, rx) = mpsc::channel::<Trigger>(16);
    let _ = tx.send(Trigger::Startup).await;
    let _files = if args.branch.is_none() {
        Some(
            watch_files(&root, Duration::from_millis(300), tx.clone())
                .context("cannot watch the manifest directory")?,
        )
    } else {
        None
    };
    controller::spawn_timer(interval, tx.clone());
    controller::spawn_branch_poller(&settings, Duration::from_secs(args.poll.max(1)), tx.clone());
    log(
        printer,
        &log_line(
            "info",
            "started",
            json!({
                "metrics": format!("http://{addr}/metrics"),
                "auto_apply": args.auto_apply,
                "branch": args.branch,
                "notifications": notify_kinds,
                "shard": args.shard,
            }),
        ),
    );
    let rounds = controller
        .run(rx, stopped(), |report| {
            for line in report.log_lines() {
                log(printer, &line);
            }
        })
        .await;
    server.abort();
    if let Some(gate) = gate {
        for failure in gate.release_all().await {
            log(
                printer,
                &log_line(
                    "warn",
                    "warning",
                    json!({ "message": format!("the controller lease of org `{failure}` was not released; it expires on its own") }),
                ),
            );
        }
    }
    log(
        printer,
        &log_line("info", "stopped", json!({ "rounds": rounds })),
    );
    Ok(ExitStatus::Success)
}

/// Completes on Ctrl-C or SIGTERM.
async fn stopped() {
    #[cfg(unix)]
    if let Ok(mut term) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
    {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        return;
    }
    let _ = tokio::signal::ctrl_c().await;
}
