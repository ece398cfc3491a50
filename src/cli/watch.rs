//! `bt-gitops watch`: a level-triggered controller. Rounds start on file changes, on new
//! commits of a branch, and on a timer; every round re-reads the manifests and the live org and
//! plans (the trigger only names the reason). Changes the manifests did not ask for are drift:
//! logged as a structured event and counted. With `--auto-apply`, rounds apply under the same
//! guards and lease as `apply`. Health and Prometheus metrics are served on a local port;
//! SIGTERM or Ctrl-C ends the controller cleanly (a lease, if held, is released).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

use super::apply::{ApplyArgs, ReportFormat, apply_with_leases, clients_for};
use super::plan::{secret_digests, targets};
use super::{ExitStatus, PathArg, Printer, load};
use crate::api::retry::{Backoff, RetryPolicy};
use crate::file_events::{Trigger, watch_files};
use crate::pipeline;
use crate::reconcile::{self, OrgTarget, PlanInput};

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
    /// Fetch the branch from this remote first (local paths and `file://` remotes).
    #[arg(long, requires = "branch")]
    pub remote: Option<String>,
    /// Seconds between checks of the branch.
    #[arg(long, default_value_t = 30)]
    pub poll: u64,
    /// Apply each round's plan (with the guards and lease of `apply`); without it, only report.
    #[arg(long)]
    pub auto_apply: bool,
    /// Allow mass deletes in auto-applied rounds.
    #[arg(long)]
    pub allow_mass_delete: bool,
    /// Watch the local emulator instead of Braintrust.
    #[arg(long)]
    pub emulator: bool,
    /// Address of `/healthz` and `/metrics`.
    #[arg(long, default_value = "127.0.0.1:9464")]
    pub metrics_addr: String,
    /// Requests in flight at once, per org.
    #[arg(long, default_value_t = 8)]
    pub concurrency: u16,
}

/// Counters served on `/metrics`.
#[derive(Default)]
struct Metrics {
    rounds: AtomicU64,
    drift: AtomicU64,
    failures: AtomicU64,
    api_calls: AtomicU64,
    applied: AtomicU64,
    last_success: AtomicU64,
}

impl Metrics {
    fn render(&self) -> String {
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        format!(
            "# HELP bt_gitops_watch_rounds_total Reconcile rounds run.\n# TYPE bt_gitops_watch_rounds_total counter\nbt_gitops_watch_rounds_total {}\n\
             # HELP bt_gitops_watch_drift_total Changes found that the manifests did not ask for (live changed outside git).\n# TYPE bt_gitops_watch_drift_total counter\nbt_gitops_watch_drift_total {}\n\
             # HELP bt_gitops_watch_failures_total Rounds that failed.\n# TYPE bt_gitops_watch_failures_total counter\nbt_gitops_watch_failures_total {}\n\
             # HELP bt_gitops_api_requests_total Requests sent to the Braintrust API by planning.\n# TYPE bt_gitops_api_requests_total counter\nbt_gitops_api_requests_total {}\n\
             # HELP bt_gitops_watch_applied_changes_total Changes applied by auto-apply.\n# TYPE bt_gitops_watch_applied_changes_total counter\nbt_gitops_watch_applied_changes_total {}\n\
             # HELP bt_gitops_watch_last_success_timestamp_seconds When the last round succeeded.\n# TYPE bt_gitops_watch_last_success_timestamp_seconds gauge\nbt_gitops_watch_last_success_timestamp_seconds {}\n",
            g(&self.rounds),
            g(&self.drift),
            g(&self.failures),
            g(&self.api_calls),
            g(&self.applied),
            g(&self.last_success),
        )
    }
}

pub fn run(args: &WatchArgs, printer: Printer) -> anyhow::Result<ExitStatus> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(controller(args, printer))
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// One JSON line on stderr per event, for log pipelines.
fn event(printer: Printer, value: serde_json::Value) {
    printer.err(&format!("{value}\n"));
}

async fn controller(args: &WatchArgs, printer: Printer) -> anyhow::Result<ExitStatus> {
    let metrics = Arc::new(Metrics::default());
    let listener = tokio::net::TcpListener::bind(&args.metrics_addr)
        .await
        .with_context(|| format!("cannot serve metrics on {}", args.metrics_addr))?;
    let addr = listener.local_addr()?;
    tokio::spawn(serve_metrics(listener, metrics.clone()));

    let (tx, mut rx) = mpsc::channel::<Trigger>(16);
    // Following a branch, the first round waits for its commit to be resolved.
    if args.branch.is_none() {
        let _ = tx.send(Trigger::Startup).await;
    }
    let dir = if args.path.path.is_file() {
        args.path
            .path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default()
    } else {
        args.path.path.clone()
    };
    let _files = if args.branch.is_none() {
        Some(
            watch_files(&dir, Duration::from_millis(300), tx.clone())
                .context("cannot watch the manifest directory")?,
        )
    } else {
        None
    };
    let timer_tx = tx.clone();
    let interval = Duration::from_secs(args.interval.max(1));
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(interval).await;
            if timer_tx.send(Trigger::Timer).await.is_err() {
                return;
            }
        }
    });
    let branch_ref = Arc::new(std::sync::Mutex::new(None::<String>));
    if let Some(branch) = args.branch.clone() {
        let (path, remote, poll, tx, branch_ref) = (
            args.path.path.clone(),
            args.remote.clone(),
            args.poll.max(1),
            tx.clone(),
            branch_ref.clone(),
        );
        tokio::spawn(async move {
            let mut last = None;
            loop {
                let head = tokio::task::spawn_blocking({
                    let (path, remote, branch) = (path.clone(), remote.clone(), branch.clone());
                    move || crate::git::branch_head(&path, remote.as_deref(), &branch)
                })
                .await;
                if let Ok(Ok((commit, reference))) = head
                    && last.as_ref() != Some(&commit)
                {
                    if let Ok(mut r) = branch_ref.lock() {
                        *r = Some(reference);
                    }
                    last = Some(commit.clone());
                    if tx.send(Trigger::Commit(commit)).await.is_err() {
                        return;
                    }
                }
                tokio::time::sleep(Duration::from_secs(poll)).await;
            }
        });
    }
    event(
        printer,
        json!({ "event": "started", "metrics": format!("http://{addr}/metrics"), "auto_apply": args.auto_apply }),
    );

    let mut emulated = None;
    let mut backoff = Backoff::new(&RetryPolicy {
        attempts: u32::MAX,
        base: Duration::from_secs(1),
        cap: Duration::from_secs(300),
        seed: 0xbac0,
    });
    let mut converged_at: Option<u64> = None;
    let mut terminate = signal_terminate()?;
    loop {
        let trigger = tokio::select! {
            t = rx.recv() => match t { Some(t) => t, None => break },
            _ = tokio::signal::ctrl_c() => break,
            _ = terminate.recv() => break,
        };
        // Level-triggered: drain whatever else queued up; one round covers them all.
        while rx.try_recv().is_ok() {}
        let git_ref = branch_ref.lock().ok().and_then(|r| r.clone());
        let round = round(
            args,
            printer,
            &metrics,
            &mut emulated,
            git_ref,
            &mut converged_at,
        );
        let outcome = tokio::select! {
            r = round => r,
            _ = tokio::signal::ctrl_c() => break,
            _ = terminate.recv() => break,
        };
        metrics.rounds.fetch_add(1, Ordering::Relaxed);
        match outcome {
            Ok(()) => {
                metrics.last_success.store(now(), Ordering::Relaxed);
                backoff = Backoff::new(&RetryPolicy {
                    attempts: u32::MAX,
                    base: Duration::from_secs(1),
                    cap: Duration::from_secs(300),
                    seed: 0xbac0,
                });
            }
            Err(err) => {
                metrics.failures.fetch_add(1, Ordering::Relaxed);
                let delay = backoff
                    .next()
                    .unwrap_or(Duration::from_secs(300))
                    .min(interval);
                event(
                    printer,
                    json!({ "event": "round_failed", "trigger": format!("{trigger:?}"), "error": format!("{err:#}"), "retry_in_seconds": delay.as_secs_f64() }),
                );
                // Back off before retrying; triggers that arrive meanwhile are merged into it.
                tokio::select! {
                    () = tokio::time::sleep(delay) => {}
                    _ = tokio::signal::ctrl_c() => break,
                    _ = terminate.recv() => break,
                }
                let _ = tx.try_send(Trigger::Timer);
            }
        }
    }
    event(
        printer,
        json!({ "event": "stopped", "rounds": metrics.rounds.load(Ordering::Relaxed) }),
    );
    Ok(ExitStatus::Success)
}

#[cfg(unix)]
fn signal_terminate() -> anyhow::Result<tokio::signal::unix::Signal> {
    Ok(tokio::signal::unix::signal(
        tokio::signal::unix::SignalKind::terminate(),
    )?)
}

/// One reconcile round: read, plan, report drift, and apply when asked.
async fn round(
    args: &WatchArgs,
    printer: Printer,
    metrics: &Metrics,
    emulated: &mut Option<super::emulator_flag::Emulated>,
    git_ref: Option<String>,
    converged_at: &mut Option<u64>,
) -> anyhow::Result<()> {
    if args.branch.is_some() && git_ref.is_none() {
        anyhow::bail!(
            "the branch `{}` has not been read yet",
            args.branch.as_deref().unwrap_or_default()
        );
    }
    let path_arg = PathArg {
        path: args.path.path.clone(),
        git_ref: git_ref.or_else(|| args.path.git_ref.clone()),
    };
    let (sources, diags) = load::load_arg(&path_arg);
    let analysis = pipeline::analyze(&sources);
    let errors = diags
        .iter()
        .chain(&analysis.diagnostics)
        .filter(|d| d.is_error())
        .count();
    if errors > 0 {
        let mut all: Vec<_> = diags.iter().chain(&analysis.diagnostics).collect();
        all.retain(|d| d.is_error());
        let first: Vec<String> = all
            .iter()
            .take(SHOWN_CAUSES)
            .map(|d| d.short(&sources))
            .collect();
        let more = errors.saturating_sub(SHOWN_CAUSES);
        anyhow::bail!(
            "{errors} error(s) in the manifests: {}{}; run `bt-gitops validate` to see them",
            first.join("; "),
            if more > 0 {
                format!("; and {more} more")
            } else {
                String::new()
            }
        );
    }
    let fingerprint = manifest_fingerprint(&sources);
    let root: PathBuf = if args.path.path.is_file() {
        args.path
            .path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default()
    } else {
        args.path.path.clone()
    };
    if args.emulator && emulated.is_none() {
        *emulated = Some(super::emulator_flag::start(&analysis.state).await?);
    }
    let targets: Vec<OrgTarget> = match emulated {
        Some(e) => e.targets.clone(),
        None => targets(&analysis.state)?,
    };
    let outcome = reconcile::plan(PlanInput {
        desired: &analysis.state,
        graph: &analysis.graph,
        targets: targets.clone(),
        secrets: secret_digests(&analysis.state, &root),
        concurrency: usize::from(args.concurrency),
    })
    .await?;
    metrics
        .api_calls
        .fetch_add(outcome.requests, Ordering::Relaxed);
    let changes = outcome.plan.changes.len();
    // Changes while the manifests are the ones that last converged: the live org moved.
    if changes > 0 && *converged_at == Some(fingerprint) {
        metrics.drift.fetch_add(changes as u64, Ordering::Relaxed);
        let addresses: Vec<&str> = outcome
            .plan
            .changes
            .iter()
            .map(|c| c.address.as_str())
            .collect();
        event(
            printer,
            json!({ "event": "drift", "changes": changes, "addresses": addresses }),
        );
    }
    if changes == 0 {
        *converged_at = Some(fingerprint);
        event(printer, json!({ "event": "round", "changes": 0 }));
        return Ok(());
    }
    event(
        printer,
        json!({ "event": "round", "changes": changes, "summary": outcome.plan.summary().line() }),
    );
    if !args.auto_apply {
        return Ok(());
    }
    let apply_args = ApplyArgs {
        path: path_arg,
        plan: None,
        auto_approve: true,
        emulator: args.emulator,
        allow_mass_delete: args.allow_mass_delete,
        format: ReportFormat::Json,
        concurrency: args.concurrency,
        lease_ttl: crate::apply::lease::DEFAULT_TTL.as_secs(),
    };
    let clients = clients_for(&targets, args.concurrency)?;
    let status = apply_with_leases(
        &apply_args,
        printer,
        &analysis,
        &root,
        None,
        &targets,
        &clients,
        None,
    )
    .await?;
    if status != ExitStatus::Success {
        anyhow::bail!("auto-apply did not complete (see the report above)");
    }
    metrics.applied.fetch_add(changes as u64, Ordering::Relaxed);
    *converged_at = Some(fingerprint);
    event(printer, json!({ "event": "applied", "changes": changes }));
    Ok(())
}

/// A digest of the manifest texts, to tell "the manifests changed" from "the live org changed".
fn manifest_fingerprint(sources: &crate::source::SourceMap) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for (_, f) in sources.iter() {
        f.path.hash(&mut h);
        f.text.hash(&mut h);
    }
    h.finish()
}

/// How many manifest errors a failed round's message quotes (as `file:line:col: error[CODE]`).
const SHOWN_CAUSES: usize = 3;

/// Connections the metrics server keeps open at once: far below the usual limit of 1,024 file
/// descriptors. When full, the oldest connection is closed to admit a new one, so idle
/// connections cannot keep a health probe out.
const MAX_METRICS_CONNECTIONS: usize = 64;

/// How long a metrics connection may take to send its request.
const METRICS_READ_TIMEOUT: Duration = Duration::from_secs(2);

/// A minimal HTTP/1.1 server for `/healthz` and `/metrics` (one request per connection, of at
/// most 2 KiB). Open connections are bounded (the oldest makes room for the newest), idle ones
/// are dropped after a short timeout, and a failing `accept` (out of file descriptors, say)
/// backs off instead of spinning.
async fn serve_metrics(listener: tokio::net::TcpListener, metrics: Arc<Metrics>) {
    let mut open: std::collections::VecDeque<tokio::task::AbortHandle> =
        std::collections::VecDeque::new();
    let mut pause = Duration::from_millis(10);
    loop {
        let mut stream = match listener.accept().await {
            Ok((stream, _)) => {
                pause = Duration::from_millis(10);
                stream
            }
            Err(err) => {
                tracing::warn!(error = %err, "metrics server cannot accept a connection");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(1));
                continue;
            }
        };
        open.retain(|task| !task.is_finished());
        while open.len() >= MAX_METRICS_CONNECTIONS {
            if let Some(oldest) = open.pop_front() {
                oldest.abort();
            }
        }
        let metrics = metrics.clone();
        let task = tokio::spawn(async move {
            let mut buf = [0u8; 2048];
            let n = match tokio::time::timeout(METRICS_READ_TIMEOUT, stream.read(&mut buf)).await {
                Ok(Ok(n)) => n,
                _ => return,
            };
            let request = String::from_utf8_lossy(&buf[..n]);
            let path = request.split_whitespace().nth(1).unwrap_or("/");
            let (status, content_type, body) = match path {
                "/healthz" => ("200 OK", "text/plain", "ok\n".to_owned()),
                "/metrics" => ("200 OK", "text/plain; version=0.0.4", metrics.render()),
                _ => ("404 Not Found", "text/plain", "not found\n".to_owned()),
            };
            let response = format!(
                "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(response.as_bytes()).await;
            let _ = stream.shutdown().await;
        });
        open.push_back(task.abort_handle());
    }
}
