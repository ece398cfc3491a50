//! Applying as a library value: take every org's lease (kept alive by a heartbeat), re-plan
//! from live state, run the guards, journal each change, execute, and give the leases back,
//! whatever happens. Nothing here prints: the caller gets an [`Applied`] value or an error,
//! and warnings go to a callback.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use anyhow::Context;

use crate::api::client::{Client, ClientConfig};
use crate::apply::guard::{self, GuardConfig};
use crate::apply::journal::Journal;
use crate::apply::lease::{self, Lease};
use crate::apply::{self as executor, ApplyInput, ApplyReport, SecretValue};
use crate::model::ResourceKey;
use crate::pipeline::Analysis;
use crate::plan::{GuardFinding, Plan};
use crate::reconcile::{self, OrgTarget, PlanInput};

/// How an apply runs: the knobs `apply` and the controller share.
#[derive(Debug, Clone)]
pub struct ApplySettings {
    /// Allow a plan that deletes a large share of a kind.
    pub allow_mass_delete: bool,
    /// Changes (and requests) in flight at once, per org.
    pub concurrency: u16,
    /// How long a lease lasts if this process dies without releasing it.
    pub lease_ttl: Duration,
    /// Where journals are written.
    pub journal_dir: PathBuf,
}

impl Default for ApplySettings {
    fn default() -> ApplySettings {
        ApplySettings {
            allow_mass_delete: false,
            concurrency: 8,
            lease_ttl: lease::DEFAULT_TTL,
            journal_dir: PathBuf::from(".bt-gitops/journal"),
        }
    }
}

/// What an apply did.
#[derive(Debug)]
pub struct Applied {
    pub report: ApplyReport,
    /// The journal of this apply.
    pub journal: PathBuf,
    /// Changes the re-plan found (before `only` kept some of them).
    pub planned: usize,
    /// Requests the apply sent (leases and changes; the re-plan counts its own), per org.
    pub requests_by_org: Vec<crate::reconcile::OrgRequests>,
}

/// A client per target.
///
/// # Errors
/// When a base URL is refused or the TLS stack cannot start.
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

/// Inputs of one unattended apply.
pub struct ApplyRequest<'a> {
    pub settings: &'a ApplySettings,
    pub analysis: &'a Analysis,
    /// The manifest root (`write_key_to` paths and file secrets are relative to it).
    pub root: &'a Path,
    pub targets: &'a [OrgTarget],
    /// Digests of the declared secrets' current values (see `diff::secrets`).
    pub digests: crate::diff::SecretDigests,
    /// Reads the values of the secrets a plan writes.
    pub secrets: &'a (dyn Fn(&Plan) -> BTreeMap<ResourceKey, SecretValue> + Sync),
    /// Apply only these addresses of the re-plan; `None`: all of it.
    pub only: Option<&'a BTreeSet<String>>,
    /// Told about lease trouble that does not stop the apply.
    pub warn: &'a (dyn Fn(String) + Sync),
}

/// Applies without asking: leases, re-plan, guards, journal, execute, release.
///
/// # Errors
/// When a lease is held elsewhere or lost, the re-plan fails or is incomplete, a guard refuses
/// the plan, or the journal cannot be written. Changes that fail are in the report, not errors.
pub async fn apply_unattended(request: ApplyRequest<'_>) -> anyhow::Result<Applied> {
    let clients = clients_for(request.targets, request.settings.concurrency)?;
    let holder = lease::holder_name();
    let ttl = request.settings.lease_ttl.max(Duration::from_secs(1));
    let held: Mutex<Vec<Lease>> = Mutex::new(Vec::new());
    let work = async {
        for (target, client) in &clients {
            let lease = lease::acquire(client, target.org.as_str(), &holder, ttl).await?;
            if let Ok(mut held) = held.lock() {
                held.push(lease);
            }
        }
        let leases: Vec<Lease> = held.lock().map(|h| h.clone()).unwrap_or_default();
        tokio::select! {
            r = locked(&request, &clients, &holder) => r,
            lost = heartbeat(&leases, ttl, request.warn) => Err(lost),
        }
    };
    let result = work.await.map(|mut applied| {
        let load = |a: &std::sync::atomic::AtomicU64| a.load(std::sync::atomic::Ordering::Relaxed);
        applied.requests_by_org = clients
            .iter()
            .map(|(t, c)| crate::reconcile::OrgRequests {
                org: t.org.to_string(),
                requests: load(&c.stats().requests),
                rate_limited: load(&c.stats().rate_limited),
            })
            .collect();
        applied
    });
    let leases = held
        .lock()
        .map(|mut h| std::mem::take(&mut *h))
        .unwrap_or_default();
    release(leases, request.warn).await;
    result
}

async fn locked(
    request: &ApplyRequest<'_>,
    clients: &[(OrgTarget, Client)],
    holder: &str,
) -> anyhow::Result<Applied> {
    let analysis = request.analysis;
    let outcome = reconcile::plan(PlanInput {
        desired: &analysis.state,
        graph: &analysis.graph,
        targets: request.targets.to_vec(),
        secrets: request.digests.clone(),
        concurrency: usize::from(request.settings.concurrency),
    })
    .await?;
    if let Some(scope) = outcome.plan.incomplete.first() {
        anyhow::bail!("incomplete: {scope}");
    }
    let planned = outcome.plan.changes.len();
    let mut plan = outcome.plan.clone();
    if let Some(only) = request.only {
        plan.changes.retain(|c| only.contains(&c.address));
    }
    let guards = guard::check(
        &plan,
        &outcome.live,
        &GuardConfig {
            allow_mass_delete: request.settings.allow_mass_delete,
            ..GuardConfig::default()
        },
    );
    if let Some(g) = guards.first() {
        let finding = GuardFinding::from(g);
        anyhow::bail!(
            "refused by the `{}` guard: {}{}; nothing was applied",
            finding.guard,
            finding.message,
            finding.override_note()
        );
    }
    if plan.changes.is_empty() {
        return Ok(Applied {
            report: ApplyReport::default(),
            journal: PathBuf::new(),
            planned,
            requests_by_org: Vec::new(),
        });
    }
    let secrets = (request.secrets)(&plan);
    let journal = Journal::start(&request.settings.journal_dir, &plan, holder)
        .context("cannot start the apply journal")?;
    let journal = Mutex::new(journal);
    let report = execute_recorded(Execution {
        plan: &plan,
        analysis,
        live: &outcome.live,
        clients,
        secrets,
        concurrency: request.settings.concurrency,
        root: request.root,
        journal: &journal,
        warn: request.warn,
        step: &|_| {},
    })
    .await;
    let journal = journal
        .into_inner()
        .map_err(|_| anyhow::anyhow!("the journal lock was poisoned"))?
        .finish(&report)?;
    Ok(Applied {
        report,
        journal,
        planned,
        requests_by_org: Vec::new(),
    })
}

/// One plan to execute, with the journal that records it.
pub struct Execution<'a> {
    pub plan: &'a Plan,
    pub analysis: &'a Analysis,
    /// The live state the plan was made from.
    pub live: &'a crate::live::LiveState,
    pub clients: &'a [(OrgTarget, Client)],
    pub secrets: BTreeMap<ResourceKey, SecretValue>,
    pub concurrency: u16,
    pub root: &'a Path,
    pub journal: &'a Mutex<Journal>,
    /// Told when the journal cannot be written.
    pub warn: &'a (dyn Fn(String) + Sync),
    /// Told as each change starts and ends (a progress bar).
    pub step: &'a (dyn Fn(executor::Outcome<'_>) + Sync),
}

/// Executes a plan, recording each change in the journal before and after it runs.
pub async fn execute_recorded(run: Execution<'_>) -> ApplyReport {
    let observe = |o: executor::Outcome<'_>| {
        if let Ok(mut j) = run.journal.lock()
            && let Err(err) = j.record(o)
        {
            (run.warn)(format!("cannot write the apply journal: {err}"));
        }
        (run.step)(o);
    };
    executor::execute(ApplyInput {
        plan: run.plan,
        desired: &run.analysis.state,
        live: run.live,
        clients: run
            .clients
            .iter()
            .map(|(t, c)| (t.org.clone(), c.clone()))
            .collect(),
        secrets: run.secrets,
        concurrency: usize::from(run.concurrency),
        root: run.root.to_path_buf(),
        observer: Some(&observe),
    })
    .await
}

/// Renews every lease every third of its TTL. Returns only when a lease is lost (broken by
/// `unlock`, or expired and taken over), which ends the apply.
pub async fn heartbeat(
    leases: &[Lease],
    ttl: Duration,
    warn: &(dyn Fn(String) + Sync),
) -> anyhow::Error {
    loop {
        tokio::time::sleep(ttl / 3).await;
        for l in leases {
            match l.renew(ttl).await {
                Ok(()) => {}
                Err(err) if err.status() == Some(404) => {
                    return anyhow::anyhow!(
                        "lost the apply lease of org `{}` (broken with `unlock`, or expired and taken by another apply); stopped; the journal lists what ran",
                        l.org
                    );
                }
                Err(err) => warn(format!(
                    "could not renew the apply lease of org `{}` ({err}); retrying",
                    l.org
                )),
            }
        }
    }
}

/// Gives the leases back, waiting at most a few seconds for each (a stopping process must not
/// hang on an unreachable API; an unreleased lease expires within its TTL).
pub async fn release(leases: Vec<Lease>, warn: &(dyn Fn(String) + Sync)) {
    for l in leases {
        let org = l.org.clone();
        match tokio::time::timeout(Duration::from_secs(5), l.release()).await {
            Ok(Ok(())) => {}
            Ok(Err(err)) => warn(format!(
                "could not release the apply lease of org `{org}` ({err}); it expires on its own"
            )),
            Err(_) => warn(format!(
                "releasing the apply lease of org `{org}` timed out; it expires on its own"
            )),
        }
    }
}
