//! Unit tests of the pure parts of apply: guards and the saved-plan check.

use super::guard::{GuardConfig, check};
use super::{Reviewed, reviewed};
use crate::live::{LiveObject, LiveState};
use crate::model::*;
use crate::plan::{Action, Change, FORMAT_VERSION, FieldDiff, Plan};

fn change(address: &str, kind: &str, name: &str, action: Action) -> Change {
    Change {
        address: address.into(),
        org: "acme".into(),
        project: None,
        kind: kind.into(),
        name: name.into(),
        action,
        id: Some("id".into()),
        fingerprint: Some("f1".into()),
        fields: Vec::new(),
        renamed_from: None,
        secret: None,
        risks: Vec::new(),
        reason: None,
        protected: false,
        depends_on: Vec::new(),
        touched: false,
    }
}

fn plan(changes: Vec<Change>) -> Plan {
    Plan {
        format_version: FORMAT_VERSION,
        orgs: Vec::new(),
        changes,
        notes: Vec::new(),
        commit: None,
        author: None,
        dirty: false,
        base: None,
        guards: Vec::new(),
        incomplete: Vec::new(),
        manifests: None,
        unmanaged: Vec::new(),
    }
}

fn live_groups(n: usize) -> LiveState {
    let org = OrgName::new("acme").unwrap();
    let mut live = LiveState::default();
    for i in 0..n {
        let spec = Spec::OrgChild(OrgChildSpec::Group(GroupSpec {
            description: None,
            members: Default::default(),
            service_accounts: Default::default(),
            inherits: Default::default(),
            builtin: false,
        }));
        live.objects.insert(
            ResourceKey::in_org(&org, Kind::Group, format!("g{i}")),
            LiveObject {
                id: format!("id{i}"),
                spec,
                fingerprint: "f".into(),
                secret: None,
                raw: None,
            },
        );
    }
    live
}

#[test]
fn mass_delete_needs_the_flag() {
    let deletes: Vec<Change> = (0..6)
        .map(|i| {
            change(
                &format!("group:acme/g{i}"),
                "group",
                &format!("g{i}"),
                Action::Delete,
            )
        })
        .collect();
    let refusals = check(
        &plan(deletes.clone()),
        &live_groups(10),
        &GuardConfig::default(),
    );
    assert_eq!(refusals.len(), 1);
    assert_eq!(refusals[0].guard, "mass-delete");
    assert!(
        refusals[0].message.contains("6 of 10"),
        "{}",
        refusals[0].message
    );
    assert_eq!(refusals[0].flag, Some("--allow-mass-delete"));
    let allowed = GuardConfig {
        allow_mass_delete: true,
        ..GuardConfig::default()
    };
    assert!(check(&plan(deletes), &live_groups(10), &allowed).is_empty());
}

#[test]
fn small_deletes_stay_under_the_floor() {
    let deletes: Vec<Change> = (0..4)
        .map(|i| {
            change(
                &format!("group:acme/g{i}"),
                "group",
                &format!("g{i}"),
                Action::Delete,
            )
        })
        .collect();
    assert!(check(&plan(deletes), &live_groups(4), &GuardConfig::default()).is_empty());
}

#[test]
fn protected_deletes_are_refused() {
    let mut c = change("project:acme/p", "project", "p", Action::Delete);
    c.protected = true;
    let refusals = check(
        &plan(vec![c]),
        &LiveState::default(),
        &GuardConfig::default(),
    );
    assert_eq!(refusals.len(), 1);
    assert_eq!(refusals[0].guard, "protect");
}

#[test]
fn emptying_owners_is_a_lockout() {
    let mut c = change("group:acme/Owners", "group", "Owners", Action::Update);
    c.fields.push(FieldDiff {
        field: "members".into(),
        before: Some(serde_json::json!(["a@acme.com"])),
        after: Some(serde_json::json!([])),
    });
    let refusals = check(
        &plan(vec![c]),
        &LiveState::default(),
        &GuardConfig::default(),
    );
    assert_eq!(refusals.len(), 1);
    assert_eq!(refusals[0].guard, "lockout");
}

#[test]
fn stale_changes_of_a_saved_plan_are_refused_with_their_dependants() {
    let group = change("group:acme/g", "group", "g", Action::Create);
    let mut grant = change("grant:acme/x", "grant", "x", Action::Create);
    grant.depends_on = vec!["group:acme/g".into()];
    let tag = change("project:acme/p/tag:t", "tag", "t", Action::Update);
    let saved = plan(vec![group.clone(), grant.clone(), tag.clone()]);
    let mut moved = group.clone();
    moved.fingerprint = Some("f2".into());
    let fresh = plan(vec![moved, grant, tag]);
    let Reviewed {
        plan: run, refused, ..
    } = reviewed(&saved, &fresh);
    assert_eq!(
        run.changes
            .iter()
            .map(|c| c.address.as_str())
            .collect::<Vec<_>>(),
        ["project:acme/p/tag:t"]
    );
    assert_eq!(refused.len(), 2, "{refused:?}");
    assert!(refused.iter().all(|r| r.guard == "stale-plan"));
    assert!(refused[0].reason.contains("changed since review"));
    assert!(refused[1].reason.contains("depends on `group:acme/g`"));
}

/// A tag reviewed as `#111111 -> #222222` that would now be written as `#ff0000` is refused,
/// and a reviewed create that a fresh plan no longer has is refused too, never dropped.
#[test]
fn changed_values_and_vanished_changes_are_refused() {
    let mut tag = change("project:acme/p/tag:t", "tag", "t", Action::Update);
    tag.fields.push(FieldDiff {
        field: "color".into(),
        before: Some(serde_json::json!("#111111")),
        after: Some(serde_json::json!("#222222")),
    });
    let created = change("project:acme/p/tag:new", "tag", "new", Action::Create);
    let saved = plan(vec![tag.clone(), created]);
    let mut now = tag;
    now.fields[0].after = Some(serde_json::json!("#ff0000"));
    let result = reviewed(&saved, &plan(vec![now]));
    assert!(result.plan.changes.is_empty());
    let refused: Vec<(&str, &str)> = result
        .refused
        .iter()
        .map(|r| (r.address.as_deref().unwrap_or(""), r.guard.as_str()))
        .collect();
    assert_eq!(
        refused,
        [
            ("project:acme/p/tag:t", "stale-plan"),
            ("project:acme/p/tag:new", "stale-plan")
        ]
    );
    assert!(result.refused[0].reason.contains("reviewed values"));
    assert!(result.refused[1].reason.contains("no longer planned"));
}

#[test]
fn new_changes_are_not_run_from_a_saved_plan() {
    let saved = plan(vec![change("group:acme/g", "group", "g", Action::Update)]);
    let fresh = plan(vec![
        change("group:acme/g", "group", "g", Action::Update),
        change("group:acme/h", "group", "h", Action::Create),
    ]);
    let result = reviewed(&saved, &fresh);
    assert_eq!(result.plan.changes.len(), 1);
    assert!(result.refused.is_empty());
    assert_eq!(result.unreviewed, ["group:acme/h"]);
}

#[test]
fn the_tool_does_not_lock_itself_out() {
    let mut live = LiveState::default();
    live.own_principal.insert(
        OrgName::new("acme").unwrap(),
        crate::live::Principal::User("alice@acme.com".into()),
    );
    let remove = change(
        "member:acme/alice@acme.com",
        "member",
        "alice@acme.com",
        Action::Delete,
    );
    let refusals = check(&plan(vec![remove]), &live, &GuardConfig::default());
    assert_eq!(refusals.len(), 1, "{refusals:?}");
    assert!(refusals[0].message.contains("lock itself out"));

    let mut owners = change("group:acme/Owners", "group", "Owners", Action::Update);
    owners.fields.push(FieldDiff {
        field: "members".into(),
        before: Some(serde_json::json!(["alice@acme.com", "bob@acme.com"])),
        after: Some(serde_json::json!(["bob@acme.com"])),
    });
    let refusals = check(&plan(vec![owners]), &live, &GuardConfig::default());
    assert_eq!(refusals.len(), 1, "{refusals:?}");
    assert!(refusals[0].message.contains("from the Owners"));

    let other = change(
        "member:acme/zed@acme.com",
        "member",
        "zed@acme.com",
        Action::Delete,
    );
    assert!(check(&plan(vec![other]), &live, &GuardConfig::default()).is_empty());
}

/// A key that is a service token is one of its account's tokens: deleting any of them may cut
/// the apply off, and creating tokens needs such a key (a user's key is refused).
#[test]
fn service_tokens_are_guarded_both_ways() {
    let org = OrgName::new("acme").unwrap();
    let mut as_account = LiveState::default();
    as_account.own_principal.insert(
        org.clone(),
        crate::live::Principal::ServiceAccount("deployer".into()),
    );
    let delete = change(
        "service_token:acme/deployer/ci",
        "service_token",
        "deployer/ci",
        Action::Delete,
    );
    let refusals = check(&plan(vec![delete]), &as_account, &GuardConfig::default());
    assert_eq!(refusals.len(), 1, "{refusals:?}");
    assert_eq!(refusals[0].guard, "lockout");

    let mut as_user = LiveState::default();
    as_user
        .own_principal
        .insert(org, crate::live::Principal::User("alice@acme.com".into()));
    let create = change(
        "service_token:acme/deployer/new",
        "service_token",
        "deployer/new",
        Action::Create,
    );
    let refusals = check(
        &plan(vec![create.clone()]),
        &as_user,
        &GuardConfig::default(),
    );
    assert_eq!(refusals.len(), 1, "{refusals:?}");
    assert_eq!(refusals[0].guard, "service-token-key");
    assert!(check(&plan(vec![create]), &as_account, &GuardConfig::default()).is_empty());
}

/// When the token bt-gitops runs with is known (one listed preview matched it), only its delete
/// is refused: other tokens of the same account may go (an `api_key_policy` delete, a
/// tombstone), and many deletes still trip the mass-delete guard.
#[test]
fn a_known_own_token_narrows_the_lockout_guard() {
    let org = OrgName::new("acme").unwrap();
    let mut live = LiveState::default();
    live.own_principal.insert(
        org.clone(),
        crate::live::Principal::ServiceAccount("deployer".into()),
    );
    live.own_credential.insert(org, "own-token".into());
    let mut own = change(
        "service_token:acme/deployer/ci",
        "service_token",
        "deployer/ci",
        Action::Delete,
    );
    own.id = Some("own-token".into());
    let refusals = check(&plan(vec![own]), &live, &GuardConfig::default());
    assert_eq!(refusals.len(), 1, "{refusals:?}");
    assert_eq!(refusals[0].guard, "lockout");
    let mut other = change(
        "service_token:acme/deployer/old",
        "service_token",
        "deployer/old",
        Action::Delete,
    );
    other.id = Some("other-token".into());
    assert!(check(&plan(vec![other]), &live, &GuardConfig::default()).is_empty());
    let many: Vec<Change> = (0..6)
        .map(|i| {
            let mut c = change(
                &format!("service_token:acme/rogue/t{i}"),
                "service_token",
                &format!("rogue/t{i}"),
                Action::Delete,
            );
            c.id = Some(format!("t{i}"));
            c
        })
        .collect();
    let refusals = check(&plan(many), &live, &GuardConfig::default());
    assert!(
        refusals.iter().any(|r| r.guard == "mass-delete"),
        "{refusals:?}"
    );
}
