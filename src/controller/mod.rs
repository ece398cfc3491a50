//! The controller: level-triggered reconciliation of the manifests against the live orgs, as a
//! library (kube-runtime's controller is the model). `bt-gitops watch` maps its arguments onto
//! it and prints what it reports; tests drive it in process.
//!
//! - A **round** ([`Controller::round`]) is a function of the world: it reads the manifests
//!   (at the followed branch's head, fetched first, when one is followed), the targets and the
//!   live orgs, plans, and returns what happened as a [`RoundReport`]: converged, drift found
//!   (objects and fields), applied, or failed with a cause and a retry delay. It prints
//!   nothing; [`RoundReport::log_lines`] renders it as JSON log lines with timestamps.
//! - **Triggers** ([`Trigger`]: start-up, files, branch, timer) feed one channel
//!   ([`Controller::run`]); they only say why a round started and carry nothing into planning.
//!   A queue of triggers is drained into one round. Failed rounds are retried after a delay
//!   from a jittered exponential [`Backoff`] iterator, never later than the timer.
//! - **Drift** is every difference between the live orgs and the manifests, except, with
//!   auto-apply, the changes of a round whose manifests changed since the last round (those
//!   are the manifests' changes, applied). Differences that already exist at start-up are
//!   drift. Each new drift is reported once (log and notifications), and its resolution once.
//! - [`serve`] answers `/healthz`, `/readyz` and `/metrics` from the [`Status`] the rounds
//!   update; [`notifications`] sends drift to a webhook and to Slack; [`apply`] is the unattended apply
//!   (leases, guards, journal) the controller shares with the CLI; [`keys`] resolves targets,
//!   keys and secrets. [`shard`] shares the orgs among replicas through per-org leases, and
//!   [`propose`] turns drift into a pull request; they plug into the extension points below.
//!
//! # Extension points
//!
//! - **May I reconcile this org now?** [`OrgGate`], set with [`Controller::with_gate`]. Each
//!   round asks it for every org of the manifests; orgs it declines are neither read nor
//!   applied in that round (their resources are left out of the desired state); it is given
//!   the org's target. Default: [`Always`]; [`ShardGate`] claims per-org controller leases
//!   through [`shard`] (`watch --shard`).
//! - **What to do with drift, per kind:** [`DriftPolicy`] (`report`, `propose`, `revert`) in
//!   [`Settings::policies`]. `revert` applies the plan for those objects (under the apply
//!   lease and guards); `propose` calls the [`ProposeHook`] set with
//!   [`Controller::with_propose`] with a [`ProposeRequest`]: the new drift of those kinds and
//!   the sources, ref, desired and live state it was found in (default: [`NoProposals`],
//!   which does nothing); `report` only reports. [`propose::open_or_update`] (drift to pull
//!   request) plugs in here; its `ProposeConfig::base_ref` is the request's `git_ref`.

pub mod apply;
pub mod keys;
pub mod notifications;
pub mod propose;
pub mod serve;
pub mod shard;

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::{Value, json};
use tokio::sync::mpsc;

pub use self::apply::ApplySettings;
pub use self::notifications::Notifier;
pub use self::serve::Status;
pub use crate::api::retry::{Backoff, RetryPolicy};
use crate::apply::SecretValue;
use crate::diag::Diagnostic;
use crate::diff::SecretDigests;
pub use crate::file_events::Trigger;
use crate::model::{DesiredState, OrgName, ResourceKey};
use crate::plan::{Action, Change, Plan};
use crate::reconcile::{self, OrgTarget, PlanInput};
use crate::source::SourceMap;

/// A boxed future, for the object-safe hooks below.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What the controller reads of the outside world besides the API: the caller's view of the
/// manifests, keys and secrets (the CLI reads the disk and the environment; tests hand in
/// fixed values).
pub trait World: Send + Sync {
    /// The manifests at `git_ref` (`None`: the work tree), with load diagnostics.
    fn load(&self, git_ref: Option<&str>) -> (SourceMap, Vec<Diagnostic>);
    /// Where and with which key to reach each org of `desired`.
    fn targets<'a>(
        &'a self,
        desired: &'a DesiredState,
    ) -> BoxFuture<'a, anyhow::Result<Vec<OrgTarget>>>;
    /// Digests of the declared secrets' current values.
    fn secret_digests(&self, desired: &DesiredState) -> SecretDigests;
    /// The values of the secrets `plan` writes.
    fn secret_values(
        &self,
        desired: &DesiredState,
        plan: &Plan,
    ) -> BTreeMap<ResourceKey, SecretValue>;
}

/// Extension point: whether this controller may reconcile an org now (see the module doc).
/// It is given the org's target, so it can reach the org's API.
pub trait OrgGate: Send + Sync {
    fn may_reconcile<'a>(&'a self, target: &'a OrgTarget) -> BoxFuture<'a, bool>;
}

/// The default gate: every org, always.
pub struct Always;

impl OrgGate for Always {
    fn may_reconcile<'a>(&'a self, _target: &'a OrgTarget) -> BoxFuture<'a, bool> {
        Box::pin(async { true })
    }
}

/// The gate of a replica among several: an org is reconciled while this replica holds its
/// controller lease ([`shard::Shard::claim`]); an unreachable API means "not now".
pub struct ShardGate(tokio::sync::Mutex<shard::Shard>);

impl ShardGate {
    #[must_use]
    pub fn new(shard: shard::Shard) -> ShardGate {
        ShardGate(tokio::sync::Mutex::new(shard))
    }

    /// Gives back every controller lease held (on a clean stop), so other replicas take the
    /// orgs at once; returns what could not be released.
    pub async fn release_all(&self) -> Vec<String> {
        self.0.lock().await.release_all().await
    }
}

impl OrgGate for ShardGate {
    fn may_reconcile<'a>(&'a self, target: &'a OrgTarget) -> BoxFuture<'a, bool> {
        Box::pin(async move {
            let config = crate::api::client::ClientConfig::new(&target.base_url, &target.api_key);
            let Ok(client) = crate::api::client::Client::new(config) else {
                return false;
            };
            let mut shard = self.0.lock().await;
            shard
                .claim(target.org.as_str(), &client)
                .await
                .unwrap_or(false)
        })
    }
}

/// What the propose hook is given: the new drift of kinds whose policy is `propose`, and what
/// the round read (the manifests, as loaded at the round's ref, the desired state and the live
/// state), so that it can write the live values back into the manifests.
pub struct ProposeRequest<'a> {
    pub drift: &'a [DriftedObject],
    pub sources: &'a SourceMap,
    /// The ref the manifests were read at (`None`: the work tree).
    pub git_ref: Option<&'a str>,
    pub desired: &'a DesiredState,
    pub live: &'a crate::live::LiveState,
}

/// Extension point: called with the new drift of kinds whose policy is
/// [`DriftPolicy::Propose`] (see the module doc).
pub trait ProposeHook: Send + Sync {
    fn propose<'a>(&'a self, request: ProposeRequest<'a>) -> BoxFuture<'a, anyhow::Result<()>>;
}

/// The default propose hook: does nothing.
pub struct NoProposals;

impl ProposeHook for NoProposals {
    fn propose<'a>(&'a self, _request: ProposeRequest<'a>) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(async { Ok(()) })
    }
}

/// The propose hook that writes drift back into the manifests and opens or updates one pull
/// request ([`propose::open_or_update`]). Each round's ref replaces `base_ref`, so drift is
/// proposed only when the manifests come from a commit (a followed branch or `--git-ref`).
pub struct PullRequests(pub propose::ProposeConfig);

impl ProposeHook for PullRequests {
    fn propose<'a>(&'a self, request: ProposeRequest<'a>) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(async move {
            let Some(base_ref) = request.git_ref else {
                anyhow::bail!(
                    "drift is proposed only for manifests read from a commit (follow a branch with `--branch`)"
                );
            };
            let mut config = self.0.clone();
            base_ref.clone_into(&mut config.base_ref);
            let keys: Vec<ResourceKey> = request
                .desired
                .resources
                .keys()
                .filter(|k| {
                    let address = k.to_string();
                    request.drift.iter().any(|d| d.address == address)
                })
                .cloned()
                .collect();
            propose::open_or_update(
                &config,
                request.sources,
                request.desired,
                request.live,
                &keys,
            )
            .await?;
            Ok(())
        })
    }
}

/// What to do when objects of a kind drift.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DriftPolicy {
    /// Log and notify only.
    #[default]
    Report,
    /// Report, and hand the drifted objects to the [`ProposeHook`].
    Propose,
    /// Report, and apply the manifests over the drift.
    Revert,
}

impl std::str::FromStr for DriftPolicy {
    type Err = String;
    fn from_str(s: &str) -> Result<DriftPolicy, String> {
        match s {
            "report" => Ok(DriftPolicy::Report),
            "propose" => Ok(DriftPolicy::Propose),
            "revert" => Ok(DriftPolicy::Revert),
            other => Err(format!(
                "`{other}` is not a drift policy (report, propose, revert)"
            )),
        }
    }
}

/// The drift policy of each kind (by the kind's manifest name, `project`, `tag`, ...).
#[derive(Debug, Clone, Default)]
pub struct DriftPolicies {
    pub default: DriftPolicy,
    pub kinds: BTreeMap<String, DriftPolicy>,
}

impl DriftPolicies {
    #[must_use]
    pub fn for_kind(&self, kind: &str) -> DriftPolicy {
        self.kinds.get(kind).copied().unwrap_or(self.default)
    }
}

/// How the controller runs.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The manifest root: the repository of a followed branch, and the base of file secrets.
    pub root: PathBuf,
    /// Read the manifests at this ref instead of the work tree (when no branch is followed).
    pub git_ref: Option<String>,
    /// Follow this branch: manifests are read at its head.
    pub branch: Option<String>,
    /// Fetch the branch from this remote first: a configured remote, a path, a `file://` or
    /// an `https://` URL.
    pub remote: Option<String>,
    /// Token sent when fetching over HTTPS.
    pub git_token: Option<String>,
    /// Apply the manifests' own changes.
    pub auto_apply: bool,
    pub policies: DriftPolicies,
    pub apply: ApplySettings,
    /// Time between timer rounds; failed rounds are retried no later than this.
    pub interval: Duration,
    /// The base of the retry backoff after failed rounds.
    pub retry_base: Duration,
}

impl Settings {
    /// Settings for `root` with the defaults of `watch`.
    #[must_use]
    pub fn new(root: impl Into<PathBuf>) -> Settings {
        Settings {
            root: root.into(),
            git_ref: None,
            branch: None,
            remote: None,
            git_token: None,
            auto_apply: false,
            policies: DriftPolicies::default(),
            apply: ApplySettings::default(),
            interval: Duration::from_secs(300),
            retry_base: Duration::from_secs(1),
        }
    }
}

/// One object whose live state differs from the manifests.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DriftedObject {
    /// `project_tag:acme/chatbot/regression`.
    pub address: String,
    pub org: String,
    pub kind: String,
    /// What applying the manifests would do to it.
    pub action: Action,
    pub fields: Vec<DriftField>,
}

/// One field of a drifted object. Values of objects that hold a secret are never carried.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DriftField {
    pub field: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub live: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub manifests: Option<Value>,
}

impl DriftedObject {
    fn from_change(change: &Change) -> DriftedObject {
        let secret = change.secret.is_some();
        DriftedObject {
            address: change.address.clone(),
            org: change.org.clone(),
            kind: change.kind.clone(),
            action: change.action,
            fields: change
                .fields
                .iter()
                .map(|f| DriftField {
                    field: f.field.clone(),
                    live: if secret { None } else { f.before.clone() },
                    manifests: if secret { None } else { f.after.clone() },
                })
                .collect(),
        }
    }
}

/// What a round found and did.
#[derive(Debug, Clone, PartialEq)]
pub enum RoundOutcome {
    /// The live orgs match the manifests.
    Converged,
    /// The live orgs differ from the manifests; reported, not (all) undone.
    Drift { objects: Vec<DriftedObject> },
    /// Changes were applied (the manifests' own, and drift of kinds set to `revert`); `drift`
    /// lists the drift found before applying.
    Applied {
        changes: usize,
        drift: Vec<DriftedObject>,
    },
    /// The round could not finish; the next one starts after `retry_after`.
    Failed {
        cause: String,
        retry_after: Duration,
    },
}

/// A round's outcome, with what was new about it.
#[derive(Debug, Clone)]
pub struct RoundReport {
    pub trigger: Trigger,
    pub outcome: RoundOutcome,
    /// Drift not reported before (logged and notified in this round).
    pub new_drift: Vec<DriftedObject>,
    /// Drift reported before that is gone.
    pub resolved: Vec<DriftedObject>,
    /// Orgs the gate declined this round.
    pub skipped_orgs: Vec<String>,
    /// Notifications or proposals that could not be sent (the round still counts).
    pub warnings: Vec<String>,
    pub duration: Duration,
}

impl RoundReport {
    /// The round as JSON log lines (one object each, with `ts`, `level` and `event`).
    #[must_use]
    pub fn log_lines(&self) -> Vec<Value> {
        let trigger = self.trigger.to_string();
        let secs = self.duration.as_secs_f64();
        let mut out = Vec::new();
        if !self.new_drift.is_empty() {
            out.push(log_line(
                "warn",
                "drift",
                json!({ "trigger": trigger, "objects": self.new_drift }),
            ));
        }
        if !self.resolved.is_empty() {
            let addresses: Vec<&str> = self.resolved.iter().map(|d| d.address.as_str()).collect();
            out.push(log_line(
                "info",
                "drift_resolved",
                json!({ "addresses": addresses }),
            ));
        }
        for w in &self.warnings {
            out.push(log_line("warn", "warning", json!({ "message": w })));
        }
        out.push(match &self.outcome {
            RoundOutcome::Converged => log_line(
                "info",
                "round",
                json!({ "trigger": trigger, "result": "converged", "seconds": secs }),
            ),
            RoundOutcome::Drift { objects } => log_line(
                "info",
                "round",
                json!({ "trigger": trigger, "result": "drift", "drifted": objects.len(), "seconds": secs }),
            ),
            RoundOutcome::Applied { changes, drift } => log_line(
                "info",
                "round",
                json!({ "trigger": trigger, "result": "applied", "changes": changes, "drifted": drift.len(), "seconds": secs }),
            ),
            RoundOutcome::Failed { cause, retry_after } => log_line(
                "error",
                "round_failed",
                json!({ "trigger": trigger, "error": cause, "retry_in_seconds": retry_after.as_secs_f64(), "seconds": secs }),
            ),
        });
        out
    }
}

/// A JSON log line: `{"ts": RFC 3339, "level", "event", ...fields}`, with secrets scrubbed.
#[must_use]
pub fn log_line(level: &str, event: &str, fields: Value) -> Value {
    let mut line = json!({
        "ts": jiff::Timestamp::now().to_string(),
        "level": level,
        "event": event,
    });
    if let (Some(map), Value::Object(extra)) = (line.as_object_mut(), fields) {
        map.extend(extra);
    }
    let text = crate::redact::scrub(&line.to_string()).into_owned();
    serde_json::from_str(&text).unwrap_or(line)
}

/// How long a round in flight may go on after the controller is told to stop (Kubernetes
/// waits 30 s between SIGTERM and SIGKILL by default).
pub const STOP_GRACE: Duration = Duration::from_secs(20);

/// How many manifest errors a failed round's cause quotes.
const SHOWN_CAUSES: usize = 3;

/// The controller's state between rounds.
pub struct Controller {
    settings: Settings,
    world: Arc<dyn World>,
    gate: Arc<dyn OrgGate>,
    propose: Arc<dyn ProposeHook>,
    notifier: Notifier,
    status: Arc<Status>,
    /// Digest of the manifests of the last successful round.
    last_manifests: Option<u64>,
    /// Drift reported and not yet resolved, by address.
    reported: BTreeMap<String, DriftedObject>,
    backoff: Backoff,
}

impl Controller {
    #[must_use]
    pub fn new(settings: Settings, world: Arc<dyn World>) -> Controller {
        let backoff = backoff(&settings);
        let status = Arc::new(Status::new(settings.interval));
        Controller {
            settings,
            world,
            gate: Arc::new(Always),
            propose: Arc::new(NoProposals),
            notifier: Notifier::default(),
            status,
            last_manifests: None,
            reported: BTreeMap::new(),
            backoff,
        }
    }

    #[must_use]
    pub fn with_gate(mut self, gate: Arc<dyn OrgGate>) -> Controller {
        self.gate = gate;
        self
    }

    #[must_use]
    pub fn with_propose(mut self, hook: Arc<dyn ProposeHook>) -> Controller {
        self.propose = hook;
        self
    }

    #[must_use]
    pub fn with_notifier(mut self, notifier: Notifier) -> Controller {
        self.notifier = notifier;
        self
    }

    /// What `/readyz` and `/metrics` read.
    #[must_use]
    pub fn status(&self) -> Arc<Status> {
        self.status.clone()
    }

    /// Runs one round and records it in [`Controller::status`].
    pub async fn round(&mut self, trigger: Trigger) -> RoundReport {
        let started = Instant::now();
        let mut report = RoundReport {
            trigger,
            outcome: RoundOutcome::Converged,
            new_drift: Vec::new(),
            resolved: Vec::new(),
            skipped_orgs: Vec::new(),
            warnings: Vec::new(),
            duration: Duration::ZERO,
        };
        match self.reconcile(&mut report).await {
            Ok(outcome) => {
                self.backoff = backoff(&self.settings);
                report.outcome = outcome;
                self.follow_drift(&mut report).await;
            }
            Err(err) => {
                let retry_after = self
                    .backoff
                    .next()
                    .unwrap_or(self.settings.interval)
                    .min(self.settings.interval);
                report.outcome = RoundOutcome::Failed {
                    cause: crate::redact::scrub(&format!("{err:#}")).into_owned(),
                    retry_after,
                };
                // Drift found before the failure (a revert that failed) is still reported.
                self.follow_drift(&mut report).await;
            }
        }
        report.duration = started.elapsed();
        self.status.record(&report);
        report
    }

    /// Reads the world, plans, and applies what the settings allow.
    async fn reconcile(&mut self, report: &mut RoundReport) -> anyhow::Result<RoundOutcome> {
        let git_ref = self.resolve_ref().await?;
        let world = self.world.clone();
        let (sources, diags) = {
            let git_ref = git_ref.clone();
            tokio::task::spawn_blocking(move || world.load(git_ref.as_deref())).await?
        };
        let analysis = crate::pipeline::analyze(&sources);
        let errors: Vec<&Diagnostic> = diags
            .iter()
            .chain(&analysis.diagnostics)
            .filter(|d| d.is_error())
            .collect();
        if !errors.is_empty() {
            let first: Vec<String> = errors
                .iter()
                .take(SHOWN_CAUSES)
                .map(|d| d.short(&sources))
                .collect();
            let more = errors.len().saturating_sub(SHOWN_CAUSES);
            anyhow::bail!(
                "{} error(s) in the manifests: {}{}; run `bt-gitops validate` to see them",
                errors.len(),
                first.join("; "),
                if more > 0 {
                    format!("; and {more} more")
                } else {
                    String::new()
                }
            );
        }
        let fingerprint = manifest_fingerprint(&sources);
        let manifests_changed = self.last_manifests.is_some_and(|f| f != fingerprint);
        let mut analysis = analysis;
        let all_targets = self.world.targets(&analysis.state).await?;
        let mut targets = Vec::new();
        for t in all_targets {
            if self.gate.may_reconcile(&t).await {
                targets.push(t);
            } else {
                report.skipped_orgs.push(t.org.to_string());
            }
        }
        keep_orgs(&mut analysis.state, &targets);
        let digests = self.world.secret_digests(&analysis.state);
        let outcome = reconcile::plan(PlanInput {
            desired: &analysis.state,
            graph: &analysis.graph,
            targets: targets.clone(),
            secrets: digests.clone(),
            concurrency: usize::from(self.settings.apply.concurrency),
        })
        .await?;
        self.status.record_requests(&outcome.requests_by_org);
        if let Some(scope) = outcome.plan.incomplete.first() {
            anyhow::bail!("incomplete read: {scope}");
        }
        let changes = &outcome.plan.changes;
        let own_changes = self.settings.auto_apply && manifests_changed;
        let drift: Vec<DriftedObject> = if own_changes {
            Vec::new()
        } else {
            changes.iter().map(DriftedObject::from_change).collect()
        };
        // Drift found in this round is reported even when it is reverted at once, or the
        // revert fails.
        report.new_drift.clone_from(&drift);
        let proposed: Vec<DriftedObject> = drift
            .iter()
            .filter(|o| self.settings.policies.for_kind(&o.kind) == DriftPolicy::Propose)
            .filter(|o| self.reported.get(&o.address) != Some(*o))
            .cloned()
            .collect();
        if !proposed.is_empty() {
            let request = ProposeRequest {
                drift: &proposed,
                sources: &sources,
                git_ref: git_ref.as_deref(),
                desired: &analysis.state,
                live: &outcome.live,
            };
            if let Err(err) = self.propose.propose(request).await {
                report
                    .warnings
                    .push(format!("proposing drift failed: {err:#}"));
            }
        }
        let to_apply: BTreeSet<String> = changes
            .iter()
            .filter(|c| {
                own_changes || self.settings.policies.for_kind(&c.kind) == DriftPolicy::Revert
            })
            .map(|c| c.address.clone())
            .collect();
        let outcome = if changes.is_empty() {
            RoundOutcome::Converged
        } else if to_apply.is_empty() {
            RoundOutcome::Drift {
                objects: drift.clone(),
            }
        } else {
            let world = self.world.clone();
            let desired = analysis.state.clone();
            let secrets = move |plan: &Plan| world.secret_values(&desired, plan);
            let warnings = std::sync::Mutex::new(Vec::new());
            let warn = |w: String| {
                if let Ok(mut ws) = warnings.lock() {
                    ws.push(w);
                }
            };
            let applied = apply::apply_unattended(apply::ApplyRequest {
                settings: &self.settings.apply,
                analysis: &analysis,
                root: &self.settings.root,
                targets: &targets,
                digests,
                secrets: &secrets,
                only: Some(&to_apply),
                warn: &warn,
            })
            .await?;
            self.status.record_requests(&applied.requests_by_org);
            report
                .warnings
                .extend(warnings.into_inner().unwrap_or_default());
            if !applied.report.is_clean() {
                let failed: Vec<String> = applied
                    .report
                    .failed
                    .iter()
                    .map(|(a, e)| format!("{a}: {e}"))
                    .collect();
                anyhow::bail!(
                    "the apply did not complete ({} failed, {} skipped; journal {}): {}",
                    applied.report.failed.len(),
                    applied.report.skipped.len(),
                    applied.journal.display(),
                    failed.join("; ")
                );
            }
            if to_apply.len() < changes.len() {
                // Drift of kinds that are not reverted remains.
                RoundOutcome::Drift {
                    objects: drift
                        .iter()
                        .filter(|d| !to_apply.contains(&d.address))
                        .cloned()
                        .collect(),
                }
            } else {
                RoundOutcome::Applied {
                    changes: applied.report.succeeded.len(),
                    drift: drift.clone(),
                }
            }
        };
        let in_sync: BTreeMap<String, usize> = targets
            .iter()
            .map(|t| {
                let drifted = match &outcome {
                    RoundOutcome::Drift { objects } => {
                        objects.iter().filter(|o| o.org == t.org.as_str()).count()
                    }
                    _ => 0,
                };
                (t.org.to_string(), drifted)
            })
            .collect();
        self.status.record_orgs(&in_sync);
        self.last_manifests = Some(fingerprint);
        Ok(outcome)
    }

    /// Works out which drift is new and which is resolved, notifies, and calls the propose
    /// hook for kinds set to `propose`.
    async fn follow_drift(&mut self, report: &mut RoundReport) {
        let found = std::mem::take(&mut report.new_drift);
        let remaining: BTreeMap<String, DriftedObject> = match &report.outcome {
            RoundOutcome::Drift { objects } => objects
                .iter()
                .map(|o| (o.address.clone(), o.clone()))
                .collect(),
            // Nothing is known to be resolved by a round that failed.
            RoundOutcome::Failed { .. } => found
                .iter()
                .chain(self.reported.values())
                .map(|o| (o.address.clone(), o.clone()))
                .collect(),
            _ => BTreeMap::new(),
        };
        report.new_drift = found
            .into_iter()
            .filter(|o| self.reported.get(&o.address) != Some(o))
            .collect();
        report.resolved = self
            .reported
            .values()
            .filter(|o| !remaining.contains_key(&o.address))
            .filter(|o| !report.new_drift.iter().any(|n| n.address == o.address))
            .cloned()
            .collect();
        for o in &report.resolved {
            self.reported.remove(&o.address);
        }
        for o in &report.new_drift {
            if remaining.contains_key(&o.address) {
                self.reported.insert(o.address.clone(), o.clone());
            }
        }
        if !report.new_drift.is_empty() {
            report
                .warnings
                .extend(self.notifier.drift(&report.new_drift).await);
        }
        if !report.resolved.is_empty() {
            report
                .warnings
                .extend(self.notifier.resolved(&report.resolved).await);
        }
    }

    /// The ref to read manifests at: the followed branch's head (fetched first when a remote
    /// is given), the fixed ref, or the work tree.
    async fn resolve_ref(&self) -> anyhow::Result<Option<String>> {
        let Some(branch) = self.settings.branch.clone() else {
            return Ok(self.settings.git_ref.clone());
        };
        let (root, remote, token) = (
            self.settings.root.clone(),
            self.settings.remote.clone(),
            self.settings.git_token.clone(),
        );
        let (_, reference) = tokio::task::spawn_blocking(move || {
            crate::git::branch_head(&root, remote.as_deref(), &branch, token.as_deref())
        })
        .await??;
        Ok(Some(reference))
    }

    /// Runs rounds as triggers arrive until `stop` completes or every sender is gone (a round
    /// in flight then gets [`STOP_GRACE`] to finish). Each round's report is handed to
    /// `on_round` (to log it). A failed round is retried after its
    /// delay; triggers that arrive meanwhile are merged into the retry.
    pub async fn run(
        mut self,
        mut triggers: mpsc::Receiver<Trigger>,
        stop: impl Future<Output = ()>,
        on_round: impl Fn(&RoundReport),
    ) -> u64 {
        let mut rounds = 0;
        tokio::pin!(stop);
        let mut retry: Option<Duration> = None;
        loop {
            let trigger = match retry.take() {
                Some(delay) => tokio::select! {
                    () = tokio::time::sleep(delay) => Trigger::Retry,
                    t = triggers.recv() => match t { Some(t) => t, None => break },
                    () = &mut stop => break,
                },
                None => tokio::select! {
                    t = triggers.recv() => match t { Some(t) => t, None => break },
                    () = &mut stop => break,
                },
            };
            // Level-triggered: whatever else queued up is covered by this round.
            while triggers.try_recv().is_ok() {}
            let round = self.round(trigger);
            tokio::pin!(round);
            let report = tokio::select! {
                r = &mut round => r,
                () = &mut stop => {
                    // A round in flight may be applying: let it finish (and give its leases
                    // back) for a while; past that, its leases expire on their own.
                    if let Ok(report) = tokio::time::timeout(STOP_GRACE, round).await {
                        rounds += 1;
                        on_round(&report);
                    }
                    break;
                }
            };
            rounds += 1;
            on_round(&report);
            if let RoundOutcome::Failed { retry_after, .. } = report.outcome {
                retry = Some(retry_after);
            }
        }
        rounds
    }
}

fn backoff(settings: &Settings) -> Backoff {
    Backoff::new(&RetryPolicy {
        attempts: u32::MAX,
        base: settings.retry_base,
        cap: settings.interval,
        seed: 0xbac0,
    })
}

/// Leaves in `desired` only the orgs of `targets` (the gate declined the others).
fn keep_orgs(desired: &mut DesiredState, targets: &[OrgTarget]) {
    let keep: BTreeSet<&OrgName> = targets.iter().map(|t| &t.org).collect();
    desired.orgs.retain(|o, _| keep.contains(o));
    desired.resources.retain(|k, _| keep.contains(&k.org));
}

/// A digest of the manifest texts, to tell "the manifests changed" from "the live org changed".
fn manifest_fingerprint(sources: &SourceMap) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for (_, f) in sources.iter() {
        f.path.hash(&mut h);
        f.text.hash(&mut h);
    }
    h.finish()
}

/// Sends [`Trigger::Timer`] every `interval`.
pub fn spawn_timer(interval: Duration, out: mpsc::Sender<Trigger>) {
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(interval).await;
            if out.send(Trigger::Timer).await.is_err() {
                return;
            }
        }
    });
}

/// Polls the followed branch every `poll` and sends [`Trigger::Branch`] when its head changes
/// or its reading starts failing (the round then fetches it again and reports why).
pub fn spawn_branch_poller(settings: &Settings, poll: Duration, out: mpsc::Sender<Trigger>) {
    let Some(branch) = settings.branch.clone() else {
        return;
    };
    let (root, remote, token) = (
        settings.root.clone(),
        settings.remote.clone(),
        settings.git_token.clone(),
    );
    tokio::spawn(async move {
        let read = || {
            let (root, remote, branch, token) =
                (root.clone(), remote.clone(), branch.clone(), token.clone());
            async move {
                tokio::task::spawn_blocking(move || {
                    crate::git::branch_head(&root, remote.as_deref(), &branch, token.as_deref())
                        .map(|(commit, _)| commit)
                        .map_err(|e| e.to_string())
                })
                .await
                .unwrap_or_else(|e| Err(e.to_string()))
            }
        };
        // The head as the start-up round sees it (the poller starts before that round runs):
        // only a later change is a move, so the first poll starts no round of its own.
        let mut last = read().await;
        loop {
            tokio::time::sleep(poll).await;
            let head = read().await;
            if last != head {
                last = head;
                if out.send(Trigger::Branch).await.is_err() {
                    return;
                }
            }
        }
    });
}
