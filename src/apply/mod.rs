//! Executing a plan: every change of a [`Plan`] becomes API calls, in dependency order.
//!
//! [`execute`] is the engine; the `apply` command (`cli::apply`) drives it after the refusals of
//! [`guard`], under the org's [`lease`], recording each change in the [`journal`], and only for
//! the changes of a saved plan that [`reviewed`] says still hold.
//!
//! # Guarantees
//! - Writes and creates start only after every change they depend on succeeded; the dependants of
//!   a failed change are skipped and name the failure. Independent work always runs to the end.
//! - Deletes run after all writes, one at a time, in plan order (dependants first); grant
//!   deletes all run, batched, where the first of them stands (nothing depends on a grant).
//! - Grant creates ready in the same wave, and grant deletes, go in as few `acl/batch_update`
//!   calls as allowed (per org, at most `ops::ACL_BATCH_MAX` ACLs each); each grant still has
//!   its own start, result and report line, and a failed call fails exactly its grants.
//! - Protected deletes are refused, never executed.
//! - Secret values are sent only in request bodies and never appear in the report.

pub mod guard;
pub mod journal;
pub mod lease;
mod ops;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use crate::api::client::Client;
use crate::api::error::ApiError;
use crate::live::LiveState;
use crate::model::{DesiredState, Kind, OrgName, ProjectName, ResourceKey};
use crate::plan::{Action, Change, Plan};

/// What an apply needs besides the plan.
pub struct ApplyInput<'a> {
    pub plan: &'a Plan,
    pub desired: &'a DesiredState,
    /// The live state the plan was made from (for ids).
    pub live: &'a LiveState,
    /// A client per org.
    pub clients: BTreeMap<OrgName, Client>,
    /// Secret values by object, read by the caller; with their digests for the metadata.
    pub secrets: BTreeMap<ResourceKey, SecretValue>,
    /// Changes run at once.
    pub concurrency: usize,
    /// The manifest root: `write_key_to` paths are relative to it.
    pub root: std::path::PathBuf,
    /// Called as each change finishes (journal, progress bar).
    pub observer: Option<&'a (dyn Fn(Outcome<'_>) + Sync)>,
}

/// How one change starts and ends, as told to the observer.
#[derive(Debug, Clone, Copy)]
pub enum Outcome<'a> {
    /// Told before the change's first request is sent.
    Started {
        address: &'a str,
        action: Action,
    },
    Succeeded(&'a Applied),
    Failed {
        address: &'a str,
        error: &'a str,
    },
    Skipped {
        address: &'a str,
        because_of: &'a str,
    },
    /// A request of a change that is a step of its own after the change's main write (an
    /// export's registration with the scheduler), told before it is sent and when it ends.
    Step {
        address: &'a str,
        step: &'a str,
        /// `None` before the request; then `Ok` or the error.
        result: Option<Result<(), &'a str>>,
    },
}

/// A secret value to write and the digest recorded next to it.
#[derive(Clone)]
pub struct SecretValue {
    pub value: String,
    pub digest: String,
}

impl std::fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretValue(hidden)")
    }
}

/// The outcome of an apply, change by change.
#[derive(Debug, Default, Clone)]
pub struct ApplyReport {
    pub succeeded: Vec<Applied>,
    pub failed: Vec<(String, String)>,
    /// `(address, the failed change it depended on)`.
    pub skipped: Vec<(String, String)>,
    /// Changes (or, without an address, whole plans) a guard refused; none of them ran.
    pub refused: Vec<Refused>,
}

/// A refusal, with the guard that made it.
#[derive(Debug, Clone, PartialEq)]
pub struct Refused {
    /// The change refused; `None` when the guard refuses the whole plan.
    pub address: Option<String>,
    pub guard: String,
    pub reason: String,
}

/// A change that went through.
#[derive(Debug, Clone)]
pub struct Applied {
    pub address: String,
    pub action: Action,
    /// The id of the object created, when the change created one.
    pub created_id: Option<String>,
}

impl ApplyReport {
    #[must_use]
    pub fn total(&self) -> usize {
        self.succeeded.len() + self.failed.len() + self.skipped.len()
    }

    /// Everything ran and nothing was refused.
    #[must_use]
    pub fn is_clean(&self) -> bool {
        self.failed.is_empty() && self.skipped.is_empty() && self.refused.is_empty()
    }
}

/// Why one change failed.
#[derive(Debug, thiserror::Error)]
pub enum ChangeError {
    #[error(transparent)]
    Api(#[from] ApiError),
    #[error("{0}")]
    Unresolved(String),
    #[error(
        "refused: `{0}` is protected (projects and AI secrets are by default, other objects with `protect: true`); set `protect: false` in the manifest to delete it"
    )]
    Protected(String),
}

/// Ids known so far: live ones, then the ones created by this apply.
#[derive(Clone, Default)]
struct Ids(Arc<Mutex<HashMap<ResourceKey, String>>>);

impl Ids {
    fn get(&self, key: &ResourceKey) -> Option<String> {
        self.0.lock().ok()?.get(key).cloned()
    }

    fn set(&self, key: ResourceKey, id: String) {
        if let Ok(mut map) = self.0.lock() {
            map.insert(key, id);
        }
    }
}

/// Runs the plan.
///
/// # Errors
/// None at this level: every failure is recorded per change in the report.
pub async fn execute(input: ApplyInput<'_>) -> ApplyReport {
    let ids = Ids::default();
    for (key, obj) in &input.live.objects {
        ids.set(key.clone(), obj.id.clone());
    }
    // A renamed object keeps its id under its new address.
    for change in &input.plan.changes {
        if let (Some(id), Ok(key)) = (&change.id, key_of(change)) {
            ids.set(key, id.clone());
        }
    }
    let mut report = ApplyReport::default();
    let mut failed_or_skipped: HashMap<String, String> = HashMap::new();
    let (deletes, writes): (Vec<&Change>, Vec<&Change>) = input
        .plan
        .changes
        .iter()
        .partition(|c| c.action == Action::Delete);

    // Writes, in waves: a change starts once everything it depends on has finished.
    let mut done: HashMap<&str, bool> = HashMap::new();
    let mut pending: Vec<&Change> = writes;
    while !pending.is_empty() {
        let mut wave = Vec::new();
        let mut rest = Vec::new();
        for change in pending {
            let blocked_by = change
                .depends_on
                .iter()
                .find(|d| failed_or_skipped.contains_key(d.as_str()));
            if let Some(upstream) = blocked_by {
                let root = failed_or_skipped
                    .get(upstream.as_str())
                    .cloned()
                    .unwrap_or_else(|| upstream.clone());
                failed_or_skipped.insert(change.address.clone(), root.clone());
                if let Some(observe) = input.observer {
                    observe(Outcome::Skipped {
                        address: &change.address,
                        because_of: &root,
                    });
                }
                report.skipped.push((change.address.clone(), root));
                done.insert(&change.address, false);
                continue;
            }
            let ready = change.depends_on.iter().all(|d| {
                done.contains_key(d.as_str()) || !input.plan.changes.iter().any(|c| c.address == *d)
            });
            if ready {
                wave.push(change)
            } else {
                rest.push(change)
            }
        }
        if wave.is_empty() && !rest.is_empty() {
            // Only possible with a dependency that is not in the plan's write set: run in order.
            wave.push(rest.remove(0));
        }
        // Grant creates of the wave go in as few `acl/batch_update` calls as possible.
        let (grants, others): (Vec<&Change>, Vec<&Change>) =
            wave.into_iter().partition(|c| is_batched_grant(c));
        for chunk in others.chunks(input.concurrency.max(1)) {
            let results = run_chunk(&input, &ids, chunk).await;
            for (change, result) in chunk.iter().zip(results) {
                record(&input, &mut report, &mut failed_or_skipped, change, result);
                done.insert(&change.address, true);
            }
        }
        if !grants.is_empty() {
            for change in &grants {
                started(&input, change);
            }
            let results = ops::run_grants(&input, &ids, &grants, input.concurrency).await;
            for (change, result) in grants.iter().zip(results) {
                record(&input, &mut report, &mut failed_or_skipped, change, result);
                done.insert(&change.address, true);
            }
        }
        pending = rest;
    }

    // Deletes: one at a time, dependants first (the plan's order), except grant deletes: they
    // all go, batched, where the first of them stands. Nothing depends on a grant, so deleting
    // the later ones earlier is safe, and each still goes before the objects it names.
    let grant_deletes: Vec<&Change> = deletes
        .iter()
        .copied()
        .filter(|c| !c.protected && is_batched_grant(c))
        .collect();
    let mut grants_done = false;
    for change in deletes {
        if !change.protected && is_batched_grant(change) {
            if !grants_done {
                grants_done = true;
                for c in &grant_deletes {
                    started(&input, c);
                }
                let results =
                    ops::run_grants(&input, &ids, &grant_deletes, input.concurrency).await;
                for (c, result) in grant_deletes.iter().zip(results) {
                    record(&input, &mut report, &mut failed_or_skipped, c, result);
                }
            }
            continue;
        }
        let result = if change.protected {
            Err(ChangeError::Protected(change.address.clone()))
        } else {
            started(&input, change);
            ops::run(&input, &ids, change).await
        };
        record(&input, &mut report, &mut failed_or_skipped, change, result);
    }
    report
}

/// A grant create or delete: written through batched `acl/batch_update` calls
/// (`ops::run_grants`) instead of one call per change.
fn is_batched_grant(change: &Change) -> bool {
    matches!(change.action, Action::Create | Action::Delete) && change.kind == Kind::Grant.as_str()
}

async fn run_chunk(
    input: &ApplyInput<'_>,
    ids: &Ids,
    chunk: &[&Change],
) -> Vec<Result<Option<String>, ChangeError>> {
    for change in chunk {
        started(input, change);
    }
    let futures = chunk.iter().map(|change| ops::run(input, ids, change));
    join_all(futures).await
}

/// Tells the observer (the journal) that a change is about to send its first request.
fn started(input: &ApplyInput<'_>, change: &Change) {
    if let Some(observe) = input.observer {
        observe(Outcome::Started {
            address: &change.address,
            action: change.action,
        });
    }
}

/// Polls futures together and returns their outputs in order.
async fn join_all<F: std::future::Future>(futures: impl Iterator<Item = F>) -> Vec<F::Output> {
    let mut futures: Vec<std::pin::Pin<Box<F>>> = futures.map(Box::pin).collect();
    let mut out: Vec<Option<F::Output>> = futures.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (i, f) in futures.iter_mut().enumerate() {
            if out[i].is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => out[i] = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    out.into_iter().flatten().collect()
}

fn record(
    input: &ApplyInput<'_>,
    report: &mut ApplyReport,
    failed: &mut HashMap<String, String>,
    change: &Change,
    result: Result<Option<String>, ChangeError>,
) {
    match result {
        Ok(created_id) => {
            let applied = Applied {
                address: change.address.clone(),
                action: change.action,
                created_id,
            };
            if let Some(observe) = input.observer {
                observe(Outcome::Succeeded(&applied));
            }
            report.succeeded.push(applied);
        }
        Err(err) => {
            tracing::warn!(address = %change.address, error = %err, "change failed");
            let error = err.to_string();
            if let Some(observe) = input.observer {
                observe(Outcome::Failed {
                    address: &change.address,
                    error: &error,
                });
            }
            failed.insert(change.address.clone(), change.address.clone());
            report.failed.push((change.address.clone(), error));
        }
    }
}

/// What of a saved plan may run now.
#[derive(Debug, Clone)]
pub struct Reviewed {
    /// The reviewed changes that still hold, as reviewed, in the saved plan's order.
    pub plan: Plan,
    /// Reviewed changes that may not run (`stale-plan` guard), with why.
    pub refused: Vec<Refused>,
    /// Changes a fresh plan has that the review did not see: they do not run.
    pub unreviewed: Vec<String>,
}

/// The reviewed changes of a saved plan that still hold against a fresh plan made from the
/// same manifests: each must still be planned with the same action against the same live
/// object (fingerprint), with the same field values and the same secret digest. Every other
/// reviewed change is refused by the `stale-plan` guard, with its dependants, including a
/// reviewed change that a fresh plan no longer has; changes only the fresh plan has do not run.
#[must_use]
pub fn reviewed(saved: &Plan, fresh: &Plan) -> Reviewed {
    let mut refused: Vec<Refused> = Vec::new();
    let mut changes = Vec::new();
    let stale = |address: &str, reason: String| Refused {
        address: Some(address.to_owned()),
        guard: "stale-plan".to_owned(),
        reason,
    };
    for s in &saved.changes {
        let Some(f) = fresh.changes.iter().find(|f| f.address == s.address) else {
            refused.push(stale(
                &s.address,
                format!(
                    "reviewed as `{}` but no longer planned: the live org changed since review{}; run `plan` again and review it",
                    s.action.symbol(),
                    if fresh.incomplete.is_empty() {
                        ""
                    } else {
                        ", or its list could not be read now (see `incomplete`)"
                    }
                ),
            ));
            continue;
        };
        let reason = if f.action != s.action || f.fingerprint != s.fingerprint {
            Some(format!(
                "the live object changed since review (was {} with fingerprint {}, now {} with {}); run `plan` again and review it",
                s.action.symbol(),
                s.fingerprint.as_deref().unwrap_or("none"),
                f.action.symbol(),
                f.fingerprint.as_deref().unwrap_or("none")
            ))
        } else if f.fields != s.fields || f.renamed_from != s.renamed_from {
            Some("what would run now differs from the reviewed values; run `plan` again and review it".to_owned())
        } else if f.secret != s.secret {
            Some("the secret value to write is not the reviewed one (its digest or source differs); run `plan` again and review it".to_owned())
        } else {
            f.depends_on
                .iter()
                .find(|d| {
                    refused
                        .iter()
                        .any(|r| r.address.as_deref() == Some(d.as_str()))
                })
                .map(|dep| format!("depends on `{dep}`, which was refused"))
        };
        match reason {
            Some(reason) => refused.push(stale(&s.address, reason)),
            None => changes.push(Change {
                touched: s.touched,
                ..f.clone()
            }),
        }
    }
    let unreviewed = fresh
        .changes
        .iter()
        .filter(|f| !saved.changes.iter().any(|s| s.address == f.address))
        .map(|f| f.address.clone())
        .collect();
    Reviewed {
        plan: Plan {
            changes,
            commit: saved.commit.clone(),
            author: saved.author.clone(),
            dirty: saved.dirty,
            manifests: saved.manifests.clone(),
            ..fresh.clone()
        },
        refused,
        unreviewed,
    }
}

/// The resource key a change is about.
pub(crate) fn key_of(change: &Change) -> Result<ResourceKey, ChangeError> {
    let bad = || {
        ChangeError::Unresolved(format!(
            "`{}` is not a valid address in this plan",
            change.address
        ))
    };
    let org = OrgName::new(&change.org).map_err(|_| bad())?;
    let kind = Kind::parse(&change.kind).ok_or_else(bad)?;
    let project = match &change.project {
        Some(p) => Some(ProjectName::new(p).map_err(|_| bad())?),
        None => None,
    };
    Ok(ResourceKey {
        org,
        project,
        kind,
        name: change.name.clone(),
    })
}

#[cfg(test)]
mod tests;
