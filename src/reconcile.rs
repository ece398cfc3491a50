//! Reconciliation: read live state for every org of the manifests, diff, and build the plan.
//!
//! This is the async middle of `plan`, `apply` and `watch`. It talks to the API
//! through [`api`](crate::api) and does no other IO: API keys and secret digests are resolved by
//! the caller and passed in, and nothing is printed.

use std::collections::BTreeSet;

use crate::api::client::{Client, ClientConfig};
use crate::api::error::ApiError;
use crate::api::read::{FetchError, fetch_org_then};
use crate::api::refs::fetch_references;
use crate::apply::guard::{self, GuardConfig};
use crate::diff::{self, SecretDigests};
use crate::graph::DepGraph;
use crate::live::LiveState;
use crate::model::{DesiredState, Kind, OrgName, Presence, ProjectName, ResourceKey};
use crate::pipeline::Analysis;
use crate::plan::{self, GuardFinding, Plan, PlanOrg, UnmanagedObject};
use crate::refs::{ObjectRef, References};

/// Where and how to reach one org.
#[derive(Debug, Clone)]
pub struct OrgTarget {
    pub org: OrgName,
    pub base_url: String,
    pub api_key: String,
}

/// Everything a plan needs besides the network.
pub struct PlanInput<'a> {
    pub desired: &'a DesiredState,
    pub graph: &'a DepGraph,
    pub targets: Vec<OrgTarget>,
    pub secrets: SecretDigests,
    pub concurrency: usize,
}

/// The plan and what it was made from.
#[derive(Debug)]
pub struct PlanOutcome {
    pub plan: Plan,
    pub live: LiveState,
    /// Requests made, over all orgs.
    pub requests: u64,
    /// Requests made, and how many were answered `429`, per org.
    pub requests_by_org: Vec<OrgRequests>,
}

/// The API traffic of one org in one plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgRequests {
    pub org: String,
    pub requests: u64,
    pub rate_limited: u64,
}

/// Why a plan could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    #[error("cannot read org `{org}` at {url}")]
    Fetch {
        org: String,
        url: String,
        #[source]
        source: FetchError,
    },
    #[error("cannot set up the API client for org `{org}`")]
    Client {
        org: String,
        #[source]
        source: anyhow::Error,
    },
}

/// Reads every org concurrently, diffs and plans.
///
/// # Errors
/// When an org cannot be read at all (unknown org, rejected key, unreachable URL). A list that
/// fails inside an org is recorded in the plan's `incomplete` list, and nothing is planned in
/// its scope; the caller treats such a plan as incomplete.
pub async fn plan(input: PlanInput<'_>) -> Result<PlanOutcome, ReconcileError> {
    let desired = input.desired;
    let reads = Reads::start(&input.targets, input.concurrency, |org, client| {
        let env = projects_with_env_vars(desired, org);
        let wanted = crate::refs::wanted(desired, org);
        let org = org.clone();
        async move {
            let refs = fetch_references(&client, &org, &wanted).await;
            (env, refs)
        }
    });
    let read = reads.finish().await?;
    Ok(plan_from(input, read))
}

/// Reads live state while `analyze` works out the desired state on the blocking pool, then
/// diffs and plans: the network waits and the parsing overlap. `targets` are the orgs the
/// manifests name (from a cheap first pass); the env var reads, which need the declared
/// projects, start once the analysis is done. `secrets` gives the digests of the analysed
/// state's secrets.
///
/// Returns the analysis, and the plan unless the analysis has errors (then the reads are
/// dropped and nothing else is sent).
pub async fn analyze_and_plan(
    targets: Vec<OrgTarget>,
    concurrency: usize,
    analyze: impl FnOnce() -> Analysis + Send + 'static,
    secrets: impl FnOnce(&Analysis) -> SecretDigests,
) -> (Analysis, Option<Result<PlanOutcome, ReconcileError>>) {
    let mut senders = Vec::new();
    let reads = Reads::start(&targets, concurrency, |org, client| {
        let (tx, rx) = tokio::sync::oneshot::channel::<(Vec<ProjectName>, BTreeSet<ObjectRef>)>();
        senders.push((org.clone(), tx));
        let org = org.clone();
        async move {
            let (env, wanted) = rx.await.unwrap_or_default();
            let refs = fetch_references(&client, &org, &wanted).await;
            (env, refs)
        }
    });
    let analysis = match tokio::task::spawn_blocking(analyze).await {
        Ok(analysis) => analysis,
        Err(err) => std::panic::resume_unwind(err.into_panic()),
    };
    if analysis.has_errors() {
        return (analysis, None);
    }
    for (org, tx) in senders {
        // A closed receiver is a read that already failed; its error is reported below.
        let _ = tx.send((
            projects_with_env_vars(&analysis.state, &org),
            crate::refs::wanted(&analysis.state, &org),
        ));
    }
    let outcome = reads.finish().await.map(|read| {
        plan_from(
            PlanInput {
                desired: &analysis.state,
                graph: &analysis.graph,
                secrets: secrets(&analysis),
                targets,
                concurrency,
            },
            read,
        )
    });
    (analysis, Some(outcome))
}

/// The reads of every org, in flight.
struct Reads {
    tasks: tokio::task::JoinSet<(OrgName, String, Result<LiveState, FetchError>)>,
    clients: Vec<(String, Client)>,
    /// A client that could not be set up: no read starts, and `finish` returns it.
    failure: Option<ReconcileError>,
}

/// The live state of every org, and the traffic it took.
struct Read {
    live: LiveState,
    requests: u64,
    requests_by_org: Vec<OrgRequests>,
}

impl Reads {
    /// Starts reading every org; `later` gives, per org (with its client), the projects whose
    /// env vars are read and the named objects looked up (`api::refs`), both of which need the
    /// desired state: it is awaited alongside the org-wide lists.
    fn start<F, Fut>(targets: &[OrgTarget], concurrency: usize, mut later: F) -> Reads
    where
        F: FnMut(&OrgName, Client) -> Fut,
        Fut: std::future::Future<Output = (Vec<ProjectName>, Result<References, ApiError>)>
            + Send
            + 'static,
    {
        let mut tasks = tokio::task::JoinSet::new();
        let mut clients: Vec<(String, Client)> = Vec::new();
        for target in targets {
            let config =
                ClientConfig::new(&target.base_url, &target.api_key).with_concurrency(concurrency);
            let client = match Client::new(config) {
                Ok(client) => client,
                Err(source) => {
                    tasks.abort_all();
                    return Reads {
                        tasks,
                        clients,
                        failure: Some(ReconcileError::Client {
                            org: target.org.to_string(),
                            source,
                        }),
                    };
                }
            };
            clients.push((target.org.to_string(), client.clone()));
            let env = later(&target.org, client.clone());
            let org = target.org.clone();
            let url = target.base_url.clone();
            tasks.spawn(async move {
                let result = fetch_org_then(&client, &org, env).await;
                (org, url, result)
            });
        }
        Reads {
            tasks,
            clients,
            failure: None,
        }
    }

    async fn finish(mut self) -> Result<Read, ReconcileError> {
        if let Some(err) = self.failure.take() {
            return Err(err);
        }
        let mut live = LiveState::default();
        let mut failure = None;
        while let Some(joined) = self.tasks.join_next().await {
            let Ok((org, url, result)) = joined else {
                continue;
            };
            match result {
                Ok(state) => {
                    live.objects.extend(state.objects);
                    live.incomplete.extend(state.incomplete);
                    live.incomplete_reasons.extend(state.incomplete_reasons);
                    live.api_keys.extend(state.api_keys);
                    live.own_principal.extend(state.own_principal);
                    live.own_credential.extend(state.own_credential);
                    live.references.extend(state.references);
                    live.unknown.extend(state.unknown);
                    live.account_listing.extend(state.account_listing);
                    live.accounts_seen_only_through_tokens
                        .extend(state.accounts_seen_only_through_tokens);
                }
                Err(source) => {
                    failure.get_or_insert(ReconcileError::Fetch {
                        org: org.to_string(),
                        url,
                        source,
                    });
                }
            }
        }
        if let Some(err) = failure {
            return Err(err);
        }
        let load = |a: &std::sync::atomic::AtomicU64| a.load(std::sync::atomic::Ordering::Relaxed);
        let requests_by_org: Vec<OrgRequests> = self
            .clients
            .iter()
            .map(|(org, c)| OrgRequests {
                org: org.clone(),
                requests: load(&c.stats().requests),
                rate_limited: load(&c.stats().rate_limited),
            })
            .collect();
        let requests = requests_by_org.iter().map(|r| r.requests).sum();
        Ok(Read {
            live,
            requests,
            requests_by_org,
        })
    }
}

/// Diffs, plans and runs the guards over the live state read.
fn plan_from(input: PlanInput<'_>, read: Read) -> PlanOutcome {
    let Read {
        mut live,
        requests,
        requests_by_org,
    } = read;
    // A name that does not resolve is refused at plan time (the `unresolved-reference` guard).
    live.unresolved = crate::refs::unresolved(input.desired, &live.references);
    live.unresolved
        .extend(crate::kinds::environment_alert::unresolved(
            input.desired,
            &live,
        ));
    // So is a built-in group the org does not have (G3: Starter plans have only Owners).
    live.unresolved
        .extend(crate::kinds::group::missing_builtins(input.desired, &live));
    let mut diffs = diff::diff(input.desired, &live, &input.secrets);
    // A failed list hides objects: nothing is planned in a scope that was not read completely.
    // Deletes there could remove what merely went unseen, and creates could overwrite it. The
    // plan names the scopes, and a plan with any is incomplete (an error, not a plan to apply).
    let mut incomplete: Vec<String> = live
        .incomplete
        .iter()
        .map(|s| match live.incomplete_reasons.get(s) {
            Some(why) => format!("{s}: changes there (deletes included) are held back: {}", why.join("; ")),
            None => format!("the list of {s} failed; changes there (deletes included) are held back until it reads completely"),
        })
        .collect();
    diffs.retain(|d| live.is_complete_for(&d.key));
    // A declared object whose name a live object of another kind holds, which the manifests do
    // not own, is held back too: the plan does not do all it was asked, so it is incomplete.
    incomplete.extend(diff::name_conflicts(input.desired, &live));
    let mut notes = Vec::new();
    notes.extend(unavailable_secret_notes(input.desired, &input.secrets));
    notes.extend(crate::kinds::group::starter_plan_notes(&live, &diffs));
    notes.extend(crate::kinds::service_account::unknown_listing_notes(
        &live, &diffs,
    ));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    // The API-key policy reports what it can see and, with `on_violation: delete`, plans
    // deletes of violating service tokens like any other change (guards and journal included).
    let policy = diff::policy::check(input.desired, &live, &diffs, now);
    notes.extend(policy.notes);
    diffs.extend(
        policy
            .deletes
            .into_iter()
            .filter(|d| live.is_complete_for(&d.key)),
    );
    // Every AI provider create depends on an unconfirmed answer (S12): say what apply does.
    notes.extend(
        diffs
            .iter()
            .filter(|d| d.key.kind == Kind::AiProvider)
            .filter(|d| matches!(d.kind, diff::DiffKind::Create | diff::DiffKind::Replace))
            .map(|d| crate::kinds::ai_provider::create_note(&d.key.to_string())),
    );
    notes.extend(crate::kinds::service_token::duplicate_name_notes(
        input.desired,
        &live,
    ));
    let orgs = input
        .targets
        .iter()
        .map(|t| PlanOrg {
            name: t.org.to_string(),
            api_url: t.base_url.clone(),
        })
        .collect();
    let mut plan = plan::build(diffs, input.graph, orgs, notes);
    plan.incomplete = incomplete;
    plan.unmanaged = unmanaged(&live);
    record_secret_digests(&mut plan, &input.secrets);
    // Every guard apply will run is run now too, so that review sees what apply would refuse.
    plan.guards = guard::check(&plan, &live, &GuardConfig::default())
        .iter()
        .map(GuardFinding::from)
        .collect();
    PlanOutcome {
        plan,
        live,
        requests,
        requests_by_org,
    }
}

/// The live objects outside the model, as the plan shows them, in a stable order.
fn unmanaged(live: &LiveState) -> Vec<UnmanagedObject> {
    let mut out: Vec<UnmanagedObject> = live
        .unknown
        .iter()
        .map(|u| UnmanagedObject {
            org: u.org.to_string(),
            project: u.project.as_ref().map(ToString::to_string),
            collection: u.collection.api_name().to_owned(),
            name: u.name.clone(),
            id: u.id.clone(),
            reason: u.reason.clone(),
        })
        .collect();
    out.sort();
    out
}

/// Records in each change the digest of the secret value it plans to write, so that
/// `apply --plan` can tell the reviewed value from another one.
fn record_secret_digests(plan: &mut Plan, secrets: &SecretDigests) {
    for change in &mut plan.changes {
        let Some(note) = change.secret.as_mut() else {
            continue;
        };
        note.digest = secrets
            .iter()
            .find(|(k, _)| k.to_string() == change.address)
            .and_then(|(_, d)| d.as_ref().ok().cloned());
    }
}

/// Declared projects whose env vars (with their AI providers) and views must be read (both
/// lists are per project).
fn projects_with_env_vars(desired: &DesiredState, org: &OrgName) -> Vec<ProjectName> {
    let mut out: BTreeSet<ProjectName> = desired
        .of_kind(Kind::EnvVar)
        .chain(desired.of_kind(Kind::AiProvider))
        .chain(desired.of_kind(Kind::View))
        .filter(|r| r.key.org == *org)
        .filter_map(|r| r.key.project.clone())
        .collect();
    // Authoritative env var and view collections need a read even when nothing is declared.
    if let Some(cfg) = desired.orgs.get(org) {
        for (project, collections) in &cfg.project_authoritative {
            if collections.contains(&crate::model::ProjectCollection::EnvVars)
                || collections.contains(&crate::model::ProjectCollection::AiProviders)
                || collections.contains(&crate::model::ProjectCollection::Views)
            {
                out.insert(project.clone());
            }
        }
    }
    // A renamed project is still live under an earlier name: read that one too.
    let previous: Vec<ProjectName> = out
        .iter()
        .filter_map(|p| desired.resources.get(&ResourceKey::project(org, p)))
        .flat_map(|r| &r.previous_names)
        .filter_map(|n| ProjectName::new(n).ok())
        .collect();
    out.extend(previous);
    out.into_iter().collect()
}

/// Declared secrets whose value cannot be read: they are left as they are, which the plan says
/// even when the object has no other change. The reason names the source, never a value.
fn unavailable_secret_notes(desired: &DesiredState, secrets: &SecretDigests) -> Vec<String> {
    secrets
        .iter()
        .filter(|(key, _)| {
            desired
                .resources
                .get(*key)
                .is_some_and(|r| r.presence == Presence::Present)
        })
        .filter_map(|(key, digest)| {
            let why = digest.as_ref().err()?;
            Some(format!(
                "`{key}`: {why}, so its secret is not written and stays as it is"
            ))
        })
        .collect()
}
