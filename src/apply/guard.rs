//! Guards: what `apply` refuses to do, decided from the plan and the live state alone.
//!
//! Each refusal names its guard, gives the numbers, and says which flag overrides it (when one
//! does). Guards run before any write; a refused plan applies nothing.

use std::collections::BTreeMap;
use std::fmt;

use crate::live::{LiveState, Principal};
use crate::model::{BUILTIN_GROUPS, Kind, OrgChildSpec, ResourceKey, Spec};
use crate::plan::{Action, GuardFinding, Plan};

/// Thresholds of the mass-delete guard.
#[derive(Debug, Clone, Copy)]
pub struct GuardConfig {
    /// Largest share of a kind's live objects (in one org or project) a plan may delete.
    pub max_delete_ratio: f64,
    /// Deletes below this count never trip the ratio guard (small collections).
    pub delete_floor: usize,
    /// `--allow-mass-delete`.
    pub allow_mass_delete: bool,
}

impl Default for GuardConfig {
    fn default() -> GuardConfig {
        GuardConfig {
            max_delete_ratio: 0.3,
            delete_floor: 5,
            allow_mass_delete: false,
        }
    }
}

/// One refusal.
#[derive(Debug, Clone, PartialEq)]
pub struct Refusal {
    pub guard: &'static str,
    pub message: String,
    /// The flag that overrides it, when one does.
    pub flag: Option<&'static str>,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "refused by the `{}` guard: {}", self.guard, self.message)?;
        if let Some(flag) = self.flag {
            write!(f, " (override with `{flag}`)")?;
        }
        Ok(())
    }
}

impl From<&Refusal> for GuardFinding {
    fn from(r: &Refusal) -> GuardFinding {
        GuardFinding {
            guard: r.guard.to_owned(),
            message: r.message.clone(),
            flag: r.flag.map(str::to_owned),
        }
    }
}

/// Checks a plan against every guard. Empty when the plan may run. `plan` runs this with the
/// default configuration, so a reviewer sees every refusal (and its override) that `apply`
/// would make.
#[must_use]
pub fn check(plan: &Plan, live: &LiveState, config: &GuardConfig) -> Vec<Refusal> {
    let mut out = Vec::new();
    out.extend(protected(plan));
    if !config.allow_mass_delete {
        out.extend(mass_delete(plan, live, config));
    }
    out.extend(lockout(plan, live));
    out.extend(service_token_key(plan, live));
    out.extend(unresolved_references(live));
    out.extend(name_taken(plan, live));
    out.extend(service_account_unconfirmed(plan, live));
    out.extend(retention_duplicate(plan, live));
    out
}

/// Creates of a retention rule for an object type that a live rule of another name already
/// covers in the same project, when the plan keeps that rule: the UI names the rules it makes
/// itself (A8), so a declared rule that does not carry the live one's name would become a
/// second rule for the same data. No flag overrides it: declare the live rule under its name
/// (`import` writes it), or delete it in the same plan.
fn retention_duplicate(plan: &Plan, live: &LiveState) -> Vec<Refusal> {
    plan.changes
        .iter()
        .filter(|c| c.kind == Kind::Retention.as_str() && c.action == Action::Create)
        .filter_map(|c| {
            let object_type = c
                .fields
                .iter()
                .find(|f| f.field == "object_type")?
                .after
                .as_ref()?
                .as_str()?;
            let project = c.project.as_deref()?;
            let (key, _) = live.objects.iter().find(|(k, o)| {
                k.kind == Kind::Retention
                    && k.org.as_str() == c.org
                    && k.project.as_ref().is_some_and(|p| p.as_str() == project)
                    && k.name != c.name
                    && matches!(&o.spec, Spec::Retention(r) if r.object_type.as_str() == object_type)
                    && !plan.changes.iter().any(|d| {
                        d.id.as_deref() == Some(o.id.as_str())
                            && matches!(d.action, Action::Delete | Action::Replace)
                    })
            })?;
            Some(Refusal {
                guard: "retention-duplicate",
                message: format!(
                    "`{}` adds a retention rule for `{object_type}` in project `{project}`, which the live rule `{}` already covers, and two rules would apply to the same data; rules made in the UI carry names the UI picks, so declare that rule under the name `{}` (`bt-gitops import` writes it) instead of a new one, or delete it in the same plan",
                    c.address, key.name, key.name
                ),
                flag: None,
            })
        })
        .collect()
}

/// Creates of service accounts that may already exist unseen (assumption K1): the org's
/// reads show that its user list hides some principal (a service token's account, a group
/// member or a grant's user it does not show), or a member has the account's name as their
/// given name (a service account listed with an email and nothing that marks it reads as a
/// member). A create would then make a second account on every run, so the plan is refused.
/// No flag overrides it.
fn service_account_unconfirmed(plan: &Plan, live: &LiveState) -> Vec<Refusal> {
    plan.changes
        .iter()
        .filter(|c| c.action == Action::Create && c.kind == Kind::ServiceAccount.as_str())
        .filter_map(|c| {
            let key = super::key_of(c).ok()?;
            let namesake = live.objects.iter().find(|(k, o)| {
                k.kind == Kind::Member
                    && k.org == key.org
                    && o.raw.as_ref().and_then(|r| r["given_name"].as_str())
                        == Some(key.name.as_str())
            });
            let message = if let Some((member, _)) = namesake {
                format!(
                    "`{}` would create the service account `{}`, but the member `{}` has that name as their given name and may be this account, listed with an email (assumption K1); bt-gitops cannot tell and will not create a second one. Check the org's members in the UI: give the account a token (then bt-gitops tells it apart), or rename the declared account",
                    c.address, key.name, member.name
                )
            } else if let Some(crate::live::AccountListing::Hidden(why)) =
                live.account_listing.get(&key.org)
            {
                format!(
                    "`{}` would create the service account `{}`, which bt-gitops does not see; but this org's user list does not show every service account ({why}; assumption K1), so `{}` may exist without tokens and bt-gitops will not create a second one. Check the org's service accounts in the UI, and give the account a token there (then bt-gitops sees it) or create it there",
                    c.address, key.name, key.name
                )
            } else {
                return None;
            };
            Some(Refusal {
                guard: "service-account-unconfirmed",
                message,
                flag: None,
            })
        })
        .collect()
}

/// Names of functions, prompts, experiments or datasets that do not resolve: the objects that
/// use them cannot be written, so the plan is refused before anything runs (not left to fail
/// after merge). No flag overrides it: create the object or fix the name.
fn unresolved_references(live: &LiveState) -> Vec<Refusal> {
    live.unresolved
        .iter()
        .map(|message| Refusal {
            guard: "unresolved-reference",
            message: message.clone(),
            flag: None,
        })
        .collect()
}

/// Creates (and renames) under a name that a live object outside the model holds in the same
/// name space: the API would replace that object in place (`PUT` by name) or refuse the
/// create, and bt-gitops cannot tell which, so the plan is refused. No flag overrides it.
fn name_taken(plan: &Plan, live: &LiveState) -> Vec<Refusal> {
    plan.changes
        .iter()
        .filter(|c| {
            c.action == Action::Create || c.action == Action::Update && c.renamed_from.is_some()
        })
        .filter_map(|c| {
            let key = super::key_of(c).ok()?;
            if let Some(message) = held_by_other_kind(c, &key, live) {
                return Some(Refusal {
                    guard: "name-taken",
                    message,
                    flag: None,
                });
            }
            let holder = live.unknown.iter().find(|u| u.holds_name_of(&key))?;
            let id = holder
                .id
                .as_deref()
                .map(|i| format!(" (id {i})"))
                .unwrap_or_default();
            Some(Refusal {
                guard: "name-taken",
                message: format!(
                    "`{}` needs the name `{}`, which a live {} object{id} holds that bt-gitops does not manage ({}); writing it would replace or collide with that object. Rename the declared {}, or rename or delete the live object",
                    c.address,
                    key.name,
                    holder.collection.api_name(),
                    holder.reason,
                    key.kind.human(),
                ),
                flag: None,
            })
        })
        .collect()
}

/// Why a create (or rename) of `key` needs a name that a live managed object of another kind
/// holds in the same name space, or `None`. Kinds that share a list either replace each other
/// (`diff` plans that, or holds the create back, for scores and automations) or, for a
/// project's env vars and AI providers, never: writing one under the other's name would
/// replace the entry or be answered with it unmodified (S8, S12), so the plan is refused.
fn held_by_other_kind(
    c: &crate::plan::Change,
    key: &ResourceKey,
    live: &LiveState,
) -> Option<String> {
    key.kind.shares_names_with().iter().find_map(|other| {
        let held = ResourceKey {
            kind: *other,
            ..key.clone()
        };
        let obj = live.objects.get(&held)?;
        Some(format!(
            "`{}` needs the name `{}`, which the live {} `{held}` (id {}) holds in the same name space; writing it would replace or collide with that object. Rename the declared {}, or delete the live {} in an apply of its own first",
            c.address,
            key.name,
            other.human(),
            obj.id,
            key.kind.human(),
            other.human(),
        ))
    })
}

/// Service tokens can only be created by a service token with org-owner rights: with a user's
/// key (`sk-...`) the API rejects the create, so the plan is refused before anything runs.
fn service_token_key(plan: &Plan, live: &LiveState) -> Vec<Refusal> {
    plan.changes
        .iter()
        .filter(|c| {
            c.kind == Kind::ServiceToken.as_str()
                && matches!(c.action, Action::Create | Action::Replace)
        })
        .filter_map(|c| {
            let me = live
                .own_principal
                .iter()
                .find(|(org, _)| org.as_str() == c.org)
                .map(|(_, me)| me)?;
            let Principal::User(email) = me else {
                return None;
            };
            Some(Refusal {
                guard: "service-token-key",
                message: format!(
                    "`{}` creates a service token, but bt-gitops's key for org `{}` belongs to the user `{email}`, and the API accepts service-token creation only from an org owner's service token (`bt-st-...`); apply this plan with such a token",
                    c.address, c.org
                ),
                flag: None,
            })
        })
        .collect()
}

/// Deletes of protected objects. The executor would refuse them one by one; refusing the plan
/// up front keeps the rest of it from running half-way.
fn protected(plan: &Plan) -> Vec<Refusal> {
    plan.changes
        .iter()
        .filter(|c| c.protected && c.action == Action::Delete)
        .map(|c| Refusal {
            guard: "protect",
            message: format!(
                "`{}` is protected and would be deleted; set `protect: false` on it in the manifest (and keep its block until the delete is applied) to allow it",
                c.address
            ),
            flag: None,
        })
        .collect()
}

/// Deletes that remove a large share of a kind in one org or project.
fn mass_delete(plan: &Plan, live: &LiveState, config: &GuardConfig) -> Vec<Refusal> {
    // (org, project, kind) -> deletes planned
    let mut deletes: BTreeMap<(String, Option<String>, String), usize> = BTreeMap::new();
    for c in plan.changes.iter().filter(|c| c.action == Action::Delete) {
        *deletes
            .entry((c.org.clone(), c.project.clone(), c.kind.clone()))
            .or_default() += 1;
    }
    let mut out = Vec::new();
    for ((org, project, kind), n) in deletes {
        let total = live
            .objects
            .keys()
            .filter(|k| {
                k.org.as_str() == org
                    && k.project.as_ref().map(|p| p.to_string()) == project
                    && k.kind.as_str() == kind
            })
            .count();
        let ratio = if total == 0 {
            1.0
        } else {
            n as f64 / total as f64
        };
        if n >= config.delete_floor && ratio > config.max_delete_ratio {
            let scope = match &project {
                Some(p) => format!("project `{org}/{p}`"),
                None => format!("org `{org}`"),
            };
            out.push(Refusal {
                guard: "mass-delete",
                message: format!(
                    "the plan deletes {n} of {total} {kind} objects in {scope} ({:.0} %, limit {:.0} % once {} or more are deleted)",
                    ratio * 100.0,
                    config.max_delete_ratio * 100.0,
                    config.delete_floor
                ),
                flag: Some("--allow-mass-delete"),
            });
        }
    }
    out
}

/// Changes that would leave an org without owners.
fn lockout(plan: &Plan, live: &LiveState) -> Vec<Refusal> {
    let mut out = Vec::new();
    for c in &plan.changes {
        if c.kind != Kind::Group.as_str() || c.name != BUILTIN_GROUPS[0] || c.project.is_some() {
            continue;
        }
        let owners_after = c
            .fields
            .iter()
            .find(|f| f.field == "members")
            .and_then(|f| f.after.as_ref())
            .and_then(|v| v.as_array())
            .map(Vec::len);
        let accounts_after = c
            .fields
            .iter()
            .find(|f| f.field == "service_accounts")
            .map(|f| {
                f.after
                    .as_ref()
                    .and_then(|v| v.as_array())
                    .map_or(0, Vec::len)
            })
            .or_else(|| {
                live.objects
                    .iter()
                    .find(|(k, _)| {
                        k.org.as_str() == c.org && k.kind == Kind::Group && k.name == c.name
                    })
                    .and_then(|(_, o)| match &o.spec {
                        Spec::OrgChild(OrgChildSpec::Group(g)) => Some(g.service_accounts.len()),
                        _ => None,
                    })
            })
            .unwrap_or(0);
        if owners_after == Some(0) && accounts_after == 0 {
            out.push(Refusal {
                guard: "lockout",
                message: format!(
                    "`{}` would be left with no members: nobody could administer org `{}`",
                    c.address, c.org
                ),
                flag: None,
            });
        }
    }
    // bt-gitops removing its own access.
    for (org, me) in &live.own_principal {
        let (kind, name, field) = match me {
            Principal::User(email) => (Kind::Member, email.as_str(), "members"),
            Principal::ServiceAccount(name) => {
                (Kind::ServiceAccount, name.as_str(), "service_accounts")
            }
        };
        let removed_from_org = plan.changes.iter().any(|c| {
            c.org == org.as_str()
                && c.kind == kind.as_str()
                && c.name == name
                && c.action == Action::Delete
        });
        let removed_from_owners = plan.changes.iter().any(|c| {
            c.org == org.as_str()
                && c.kind == Kind::Group.as_str()
                && c.name == BUILTIN_GROUPS[0]
                && c.fields.iter().any(|f| {
                    f.field == field
                        && f.before
                            .as_ref()
                            .and_then(|v| v.as_array())
                            .is_some_and(|b| b.iter().any(|v| v == name))
                        && !f
                            .after
                            .as_ref()
                            .and_then(|v| v.as_array())
                            .is_some_and(|a| a.iter().any(|v| v == name))
                })
        });
        // The token bt-gitops authenticates with is one of its account's tokens. When its
        // preview named exactly one listed token, deleting that one is refused; otherwise which
        // one is not visible, so deleting any of them may cut the apply off half-way.
        let own_id = live.own_credential.get(org);
        let token_deleted = matches!(me, Principal::ServiceAccount(_))
            && plan.changes.iter().any(|c| {
                c.org == org.as_str()
                    && c.kind == Kind::ServiceToken.as_str()
                    && matches!(c.action, Action::Delete | Action::Replace)
                    && match own_id {
                        Some(id) => c.id.as_deref() == Some(id.as_str()),
                        None => c
                            .name
                            .split_once('/')
                            .is_some_and(|(account, _)| account == name),
                    }
            });
        if token_deleted {
            out.push(Refusal {
                guard: "lockout",
                message: format!("the plan deletes a service token of `{name}` in org `{org}`, and bt-gitops's API key is one of `{name}`'s tokens: the apply could lock itself out; apply this change with another key"),
                flag: None,
            });
        }
        if removed_from_org || removed_from_owners {
            let what = if removed_from_org {
                format!("removes `{name}` from org `{org}`")
            } else {
                format!("removes `{name}` from the Owners of org `{org}`")
            };
            out.push(Refusal {
                guard: "lockout",
                message: format!("the plan {what}, and `{name}` is who bt-gitops's API key belongs to: the apply would lock itself out; apply this change with another key"),
                flag: None,
            });
        }
    }
    // Removing every member of Owners from the org itself.
    for (org, owners) in owners_by_org(live) {
        let removed = plan
            .changes
            .iter()
            .filter(|c| {
                c.org == org
                    && c.kind == Kind::Member.as_str()
                    && c.action == Action::Delete
                    && owners.contains(&c.name)
            })
            .count();
        if !owners.is_empty() && removed == owners.len() {
            out.push(Refusal {
                guard: "lockout",
                message: format!(
                    "the plan removes all {removed} owners of org `{org}` from the org"
                ),
                flag: None,
            });
        }
    }
    out
}

fn owners_by_org(live: &LiveState) -> BTreeMap<String, Vec<String>> {
    live.objects
        .iter()
        .filter(|(k, _)| {
            k.kind == Kind::Group && k.name == BUILTIN_GROUPS[0] && k.project.is_none()
        })
        .filter_map(|(k, o)| match &o.spec {
            Spec::OrgChild(OrgChildSpec::Group(g)) => Some((
                k.org.to_string(),
                g.members.iter().map(ToString::to_string).collect(),
            )),
            _ => None,
        })
        .collect()
}
