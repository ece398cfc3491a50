//! The org's `api_key_policy` checked against the credentials the API lets bt-gitops see, and
//! the deletes it asks for. Pure: the caller passes the current time.
//!
//! What can be seen (assumption K7): `GET /v1/api_key` lists only the caller's own API keys,
//! even for an org owner, while `GET /v1/service_token` lists every service account's tokens
//! (with an owner key). So the policy checks every service token (age, and the accounts in
//! `allowed_service_accounts`) and bt-gitops's own API keys (age, `allowed_users`), and says
//! in the plan that other users' personal keys cannot be seen (the Braintrust UI shows them).
//! With `on_violation: delete`, each violating service token becomes a real delete change
//! (journaled, rendered and guarded like any other); a token declared in the manifests is never
//! deleted by the policy, nor the credential bt-gitops itself runs with (the lockout guard
//! refuses it too). API keys are reported only: their delete is not planned (see K11).

use crate::diff::{DeleteReason, DiffKind, ResourceDiff};
use crate::live::LiveState;
use crate::model::{ApiKeyPolicy, DesiredState, Kind, OrgName, PolicyAction, Presence};

/// What the policy found: plan notes and the deletes it plans.
#[derive(Debug, Default)]
pub struct PolicyFindings {
    /// One note per violation, plus one per org saying what could not be checked.
    pub notes: Vec<String>,
    /// Deletes of violating service tokens (`on_violation: delete`).
    pub deletes: Vec<ResourceDiff>,
}

/// Checks each org's policy against its live service tokens and listed API keys. `planned`
/// are the diffs already planned: a token the diff deletes anyway gets no second delete.
#[must_use]
pub fn check(
    desired: &DesiredState,
    live: &LiveState,
    planned: &[ResourceDiff],
    now_unix: i64,
) -> PolicyFindings {
    let mut out = PolicyFindings::default();
    for (org, cfg) in &desired.orgs {
        let Some(policy) = &cfg.api_key_policy else {
            continue;
        };
        out.notes.push(format!(
            "api_key_policy of org `{org}`: checks every service token and bt-gitops's own API keys; other users' personal API keys cannot be listed through the API (it lists only the caller's own keys), so they are not checked: review them in the Braintrust UI"
        ));
        service_tokens(desired, live, planned, org, policy, now_unix, &mut out);
        api_keys(live, org, policy, now_unix, &mut out);
    }
    out
}

/// The service tokens of `org` that break `policy`: a note each, and a delete each with
/// `on_violation: delete` unless the manifests declare the token or bt-gitops runs with it.
fn service_tokens(
    desired: &DesiredState,
    live: &LiveState,
    planned: &[ResourceDiff],
    org: &OrgName,
    policy: &ApiKeyPolicy,
    now_unix: i64,
    out: &mut PolicyFindings,
) {
    let own = live.own_credential.get(org);
    for (key, obj) in live
        .objects
        .iter()
        .filter(|(k, _)| k.kind == Kind::ServiceToken && k.org == *org)
    {
        let created = obj
            .raw
            .as_ref()
            .and_then(|r| r.get("created"))
            .and_then(|c| c.as_str());
        let mut why = Vec::new();
        if let Some(w) = too_old(policy, created, now_unix) {
            why.push(w);
        }
        let account = key.name.split_once('/').map_or("", |(a, _)| a);
        if let Some(allowed) = &policy.allowed_service_accounts
            && !allowed.iter().any(|a| a.as_str() == account)
        {
            why.push(format!(
                "belongs to the service account `{account}`, which is not in allowed_service_accounts"
            ));
        }
        if why.is_empty() {
            continue;
        }
        let declared = desired
            .resources
            .get(key)
            .is_some_and(|r| r.presence == Presence::Present);
        let already = planned.iter().any(|d| d.key == *key);
        let is_own = own.is_some_and(|id| *id == obj.id);
        let action = match policy.on_violation {
            PolicyAction::Report => "reported only (on_violation: report)".to_owned(),
            PolicyAction::Delete if is_own => {
                "not deleted: bt-gitops runs with this token (rotate it, then apply with the new one)".to_owned()
            }
            PolicyAction::Delete if declared => {
                "not deleted: the manifests declare it (remove it from them, or mark it `state: absent`)".to_owned()
            }
            PolicyAction::Delete if already => "deleted by this plan".to_owned(),
            PolicyAction::Delete => {
                out.deletes.push(ResourceDiff {
                    key: key.clone(),
                    kind: DiffKind::Delete,
                    fields: Vec::new(),
                    live: Some((obj.id.clone(), obj.fingerprint.clone())),
                    renamed_from: None,
                    secret: None,
                    delete_reason: Some(DeleteReason::Policy),
                    protected: false,
                });
                "deleted by this plan (on_violation: delete)".to_owned()
            }
        };
        out.notes.push(format!(
            "api_key_policy of org `{org}`: service token `{}` {}; {action}",
            key.name,
            why.join(" and ")
        ));
    }
}

/// The listed API keys of `org` (on the real API only bt-gitops's own, K7) that break `policy`.
fn api_keys(
    live: &LiveState,
    org: &OrgName,
    policy: &ApiKeyPolicy,
    now_unix: i64,
    out: &mut PolicyFindings,
) {
    let mut keys: Vec<_> = live.api_keys.iter().filter(|k| k.org == *org).collect();
    keys.sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));
    let own = live.own_credential.get(org);
    for k in keys {
        let mut why = Vec::new();
        if let Some(w) = too_old(policy, k.created.as_deref(), now_unix) {
            why.push(w);
        }
        if let Some(allowed) = &policy.allowed_users {
            let owner = k.owner_email.as_deref().unwrap_or("");
            if !allowed
                .iter()
                .any(|e| e.as_str().eq_ignore_ascii_case(owner))
            {
                let who = if owner.is_empty() {
                    "an unknown owner"
                } else {
                    owner
                };
                why.push(format!("belongs to {who}, who is not in allowed_users"));
            }
        }
        if why.is_empty() {
            continue;
        }
        let action = match policy.on_violation {
            PolicyAction::Report => "reported only (on_violation: report)",
            PolicyAction::Delete if own.is_some_and(|id| *id == k.id) => {
                "not deleted: bt-gitops runs with this key"
            }
            PolicyAction::Delete => {
                "on_violation: delete, but bt-gitops does not plan deletes of API keys; delete it in the Braintrust UI"
            }
        };
        out.notes.push(format!(
            "api_key_policy of org `{org}`: API key `{}` {}; {action}",
            k.name,
            why.join(" and ")
        ));
    }
}

/// Why a credential created at `created` (RFC 3339) is too old for `policy`, if it is.
fn too_old(policy: &ApiKeyPolicy, created: Option<&str>, now_unix: i64) -> Option<String> {
    let max = policy.max_age_days?;
    let ts = created?.parse::<jiff::Timestamp>().ok()?;
    let age_days = (now_unix - ts.as_second()) / 86_400;
    (age_days > i64::from(max)).then(|| {
        let day = ts.strftime("%Y-%m-%d");
        format!("was created on {day}, more than max_age_days ({max}) ago")
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::live::{LiveApiKey, LiveObject};
    use crate::model::{OrgConfig, ResourceKey, ServiceTokenSpec, Spec};

    fn org() -> OrgName {
        OrgName::new("acme").expect("org name")
    }

    fn desired(policy: ApiKeyPolicy) -> DesiredState {
        let mut sources = crate::source::SourceMap::new();
        let file = sources.add("org.yaml", "org: acme\n");
        let mut d = DesiredState::default();
        let cfg = OrgConfig {
            name: org(),
            api_url: None,
            api_key_env: None,
            authoritative: std::collections::BTreeSet::new(),
            project_authoritative: std::collections::BTreeMap::new(),
            api_key_policy: Some(policy),
            span: crate::source::Span::new(file, 0, 0),
        };
        d.orgs.insert(org(), cfg);
        d
    }

    fn token(live: &mut LiveState, account: &str, name: &str, id: &str, created: &str) {
        let spec = ServiceTokenSpec {
            account: crate::model::Name::new(account).expect("name"),
            name: crate::model::Name::new(name).expect("name"),
            write_key_to: None,
        };
        live.objects.insert(
            ResourceKey::in_org(&org(), Kind::ServiceToken, format!("{account}/{name}")),
            LiveObject {
                id: id.to_owned(),
                spec: Spec::ServiceToken(spec),
                fingerprint: format!("fp-{id}"),
                secret: None,
                raw: Some(serde_json::json!({ "id": id, "created": created })),
            },
        );
    }

    const NOW: i64 = 1_796_083_200; // 2026-12-01

    #[test]
    fn old_and_foreign_tokens_are_deleted_but_never_bt_gitops_own() {
        let policy = ApiKeyPolicy {
            max_age_days: Some(365),
            allowed_users: None,
            allowed_service_accounts: Some(
                ["bt-gitops", "ci"]
                    .iter()
                    .map(|n| crate::model::Name::new(n).expect("name"))
                    .collect(),
            ),
            on_violation: PolicyAction::Delete,
        };
        let mut live = LiveState::default();
        token(&mut live, "ci", "fresh", "t1", "2026-11-01T00:00:00Z");
        token(&mut live, "ci", "stale", "t2", "2020-01-01T00:00:00Z");
        token(&mut live, "rogue", "fresh", "t3", "2026-11-01T00:00:00Z");
        token(&mut live, "bt-gitops", "own", "t4", "2020-01-01T00:00:00Z");
        live.own_credential.insert(org(), "t4".into());
        let found = check(&desired(policy), &live, &[], NOW);
        let deleted: Vec<&str> = found.deletes.iter().map(|d| d.key.name.as_str()).collect();
        assert_eq!(deleted, ["ci/stale", "rogue/fresh"]);
        assert!(
            found
                .deletes
                .iter()
                .all(|d| d.delete_reason == Some(DeleteReason::Policy))
        );
        let notes = found.notes.join("\n");
        assert!(notes.contains("other users' personal API keys cannot be listed"));
        assert!(notes.contains("`bt-gitops/own` was created on 2020-01-01"));
        assert!(notes.contains("bt-gitops runs with this token"));
        assert!(notes.contains("`rogue`, which is not in allowed_service_accounts"));
    }

    #[test]
    fn report_plans_no_delete_and_api_keys_are_only_reported() {
        let policy = ApiKeyPolicy {
            max_age_days: Some(365),
            allowed_users: Some(BTreeSetOf::of(&["alice@acme.com"])),
            allowed_service_accounts: None,
            on_violation: PolicyAction::Delete,
        };
        let mut live = LiveState::default();
        live.api_keys.push(LiveApiKey {
            org: org(),
            id: "k1".into(),
            name: "laptop".into(),
            owner_email: Some("zed@acme.com".into()),
            created: Some("2026-11-01T00:00:00Z".into()),
        });
        let found = check(&desired(policy.clone()), &live, &[], NOW);
        assert!(found.deletes.is_empty());
        assert!(found.notes.iter().any(|n| n.contains(
            "API key `laptop` belongs to zed@acme.com, who is not in allowed_users; on_violation: delete, but bt-gitops does not plan deletes of API keys"
        )));
        let mut live = LiveState::default();
        token(&mut live, "ci", "stale", "t2", "2020-01-01T00:00:00Z");
        let report = ApiKeyPolicy {
            on_violation: PolicyAction::Report,
            ..policy
        };
        let found = check(&desired(report), &live, &[], NOW);
        assert!(found.deletes.is_empty());
        assert!(found.notes.iter().any(|n| n.contains("reported only")));
    }

    struct BTreeSetOf;
    impl BTreeSetOf {
        fn of(emails: &[&str]) -> std::collections::BTreeSet<crate::model::Email> {
            emails
                .iter()
                .map(|e| crate::model::Email::new(e).expect("email"))
                .collect()
        }
    }
}
