//! The `group` kind: a permission group of the org (description, member users and service
//! accounts, inherited groups), on `/v1/group`. Membership is sent whole on create and as
//! add/remove deltas against the live group on update.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use super::{BodyError, CreateVerb, Ids, LiveNames, Lowered, OrgChild, OrgHeader, Reference};
use crate::diag::{Code, Diagnostic};
use crate::diff::fields::Field;
use crate::manifest::raw::{RawGroup, State};
use crate::model::lower::{Cx, Lowerer};
use crate::model::{BUILTIN_GROUPS, Email, GroupSpec, Kind, Name};
use crate::wire::{CreateGroup, Id, PatchGroup};

/// The `group` kind.
pub struct Group;

impl Group {
    /// The ids of a group's member users, then its service accounts.
    fn principals(g: &GroupSpec, ids: &dyn Ids) -> Result<Vec<Id>, BodyError> {
        g.members
            .iter()
            .map(|e| ids.org_object(Kind::Member, e.as_str()))
            .chain(
                g.service_accounts
                    .iter()
                    .map(|a| ids.org_object(Kind::ServiceAccount, a.as_str())),
            )
            .collect()
    }

    fn inherited(g: &GroupSpec, ids: &dyn Ids) -> Result<Vec<Id>, BodyError> {
        g.inherits
            .iter()
            .map(|n| ids.org_object(Kind::Group, n.as_str()))
            .collect()
    }
}

impl OrgChild for Group {
    const KIND: Kind = Kind::Group;
    const CREATE: CreateVerb = CreateVerb::Put;
    const NAMED_BY: &'static [Kind] = &[Kind::Grant];
    type Raw = RawGroup;
    type Spec = GroupSpec;
    type Item = crate::wire::Group;
    type Create = CreateGroup;
    type Patch = PatchGroup;

    fn header(g: &RawGroup) -> OrgHeader<'_> {
        OrgHeader {
            name: &g.name,
            state: &g.state,
            previous_names: &g.previous_names,
            protect: None,
        }
    }

    fn lower(lw: &mut Lowerer<'_>, cx: Cx<'_>, g: &RawGroup, name: &Name) -> Option<Lowered<GroupSpec>> {
        let at = cx.at;
        let builtin = BUILTIN_GROUPS.contains(&name.as_str());
        if builtin {
            if let Some(state) = g.state.as_ref().filter(|s| s.value == State::Absent) {
                let span = lw.span(at, state);
                lw.diags.push(
                    Diagnostic::error(
                        Code::BuiltinObject,
                        format!("the built-in group `{name}` cannot be deleted"),
                    )
                    .with_label(span, "built-in groups exist in every org")
                    .with_hint("remove `state: absent`; to empty the group, list no members"),
                );
            }
            if let Some(prev) = g.previous_names.first() {
                let span = lw.span(at, prev);
                lw.diags.push(
                    Diagnostic::error(
                        Code::BuiltinObject,
                        format!("the built-in group `{name}` cannot be renamed"),
                    )
                    .with_label(span, "built-in groups keep their names")
                    .with_hint("remove `previous_names`; to use another name, declare a new group and move the members"),
                );
            }
        }
        let mut members = BTreeSet::new();
        let mut refs = Vec::new();
        let check_members = lw.declares_members(cx);
        for m in &g.members {
            if let Some(email) = lw.email(at, m) {
                if check_members {
                    refs.push(Reference {
                        kind: Kind::Member,
                        name: email.to_string(),
                        span: lw.span(at, m),
                        what: "member",
                        hint: Some("add the email to the org's `members` list"),
                    });
                }
                members.insert(email);
            }
        }
        let service_accounts: BTreeSet<Name> = g
            .service_accounts
            .iter()
            .filter_map(|s| lw.name(at, s))
            .collect();
        let inherits: BTreeSet<Name> = g.inherits.iter().filter_map(|s| lw.name(at, s)).collect();
        for (list, kind, what) in [
            (&g.service_accounts, Kind::ServiceAccount, "service account"),
            (&g.inherits, Kind::Group, "group"),
        ] {
            for s in list {
                refs.push(Reference {
                    kind,
                    name: s.value.clone(),
                    span: lw.span(at, s),
                    what,
                    hint: None,
                });
            }
        }
        Some(Lowered {
            key: name.to_string(),
            spec: GroupSpec {
                description: g.description.text(),
                members,
                service_accounts,
                inherits,
                builtin,
            },
            refs,
        })
    }

    fn fields(g: &GroupSpec) -> Vec<Field> {
        vec![
            ("description", g.description.as_ref().map(|v| json!(v))),
            (
                "members",
                Some(json!(
                    g.members.iter().map(Email::as_str).collect::<Vec<_>>()
                )),
            ),
            (
                "service_accounts",
                Some(json!(
                    g.service_accounts
                        .iter()
                        .map(Name::as_str)
                        .collect::<Vec<_>>()
                )),
            ),
            (
                "inherits",
                Some(json!(
                    g.inherits.iter().map(Name::as_str).collect::<Vec<_>>()
                )),
            ),
        ]
    }

    fn create(g: &GroupSpec, org_name: &str, name: &str, ids: &dyn Ids) -> Result<CreateGroup, BodyError> {
        Ok(CreateGroup {
            name: name.to_owned(),
            description: g.description.clone(),
            org_name: Some(org_name.to_owned()),
            member_users: Some(Self::principals(g, ids)?),
            member_groups: Some(Self::inherited(g, ids)?),
        })
    }

    fn patch(
        g: &GroupSpec,
        live: Option<&GroupSpec>,
        rename: Option<String>,
        ids: &dyn Ids,
    ) -> Result<PatchGroup, BodyError> {
        let old = live.ok_or(BodyError::NeedsLive)?;
        let want: BTreeSet<Id> = Self::principals(g, ids)?.into_iter().collect();
        let have: BTreeSet<Id> = Self::principals(old, ids)?.into_iter().collect();
        let want_groups: BTreeSet<Id> = Self::inherited(g, ids)?.into_iter().collect();
        let have_groups: BTreeSet<Id> = Self::inherited(old, ids)?.into_iter().collect();
        Ok(PatchGroup {
            name: rename,
            description: g.description.clone(),
            add_member_users: Some(want.difference(&have).cloned().collect()),
            remove_member_users: Some(have.difference(&want).cloned().collect()),
            add_member_groups: Some(want_groups.difference(&have_groups).cloned().collect()),
            remove_member_groups: Some(have_groups.difference(&want_groups).cloned().collect()),
        })
    }

    fn name(g: &crate::wire::Group) -> Option<String> {
        if g.deleted_at.is_some() {
            return None;
        }
        Name::new(&g.name).ok().map(|n| n.to_string())
    }

    fn read(g: &crate::wire::Group, name: &str, names: &LiveNames) -> Option<(String, GroupSpec)> {
        let users: Vec<&Id> = g.member_users.iter().flatten().collect();
        let spec = GroupSpec {
            description: g.description.clone(),
            members: users
                .iter()
                .filter_map(|id| names.get(Kind::Member, id.as_str()))
                .filter_map(|e| Email::new(e).ok())
                .collect(),
            service_accounts: users
                .iter()
                .filter_map(|id| names.get(Kind::ServiceAccount, id.as_str()))
                .filter_map(|n| Name::new(n).ok())
                .collect(),
            inherits: g
                .member_groups
                .iter()
                .flatten()
                .filter_map(|id| names.get(Kind::Group, id.as_str()))
                .filter_map(|n| Name::new(n).ok())
                .collect(),
            builtin: BUILTIN_GROUPS.contains(&name),
        };
        Some((name.to_string(), spec))
    }

    fn manifest(name: &str, g: &GroupSpec) -> Value {
        super::drop_empty(json!({
            "name": name, "description": g.description,
            "members": g.members.iter().map(Email::as_str).collect::<Vec<_>>(),
            "service_accounts": g.service_accounts.iter().map(Name::as_str).collect::<Vec<_>>(),
            "inherits": g.inherits.iter().map(Name::as_str).collect::<Vec<_>>(),
        }))
    }
}

/// The uses of built-in groups that the live org does not have (assumption G3: on Starter
/// plans only Owners exists): a declared built-in group, a group inheriting one, a grant to
/// one or on one. Each is a message for the plan's `unresolved-reference` refusal, so such a
/// manifest fails review instead of an apply after merge. Built-in groups are taken from the
/// live group list, never assumed; an org whose group list did not read completely is left
/// to the incomplete plan.
#[must_use]
pub fn missing_builtins(
    desired: &crate::model::DesiredState,
    live: &crate::live::LiveState,
) -> Vec<String> {
    use crate::model::{GrantSpec, GrantTarget, OrgChildSpec, Presence, ResourceKey, Spec, Subject};
    let mut out = Vec::new();
    for org in desired.orgs.keys() {
        let missing: Vec<&str> = BUILTIN_GROUPS
            .iter()
            .copied()
            .filter(|b| {
                let key = ResourceKey::in_org(org, Kind::Group, *b);
                live.is_complete_for(&key) && !live.objects.contains_key(&key)
            })
            .collect();
        if missing.is_empty() {
            continue;
        }
        let is_missing = |n: &str| missing.contains(&n);
        let why = |b: &str| {
            format!(
                "the built-in group `{b}`, which org `{org}` does not have (plans below Enterprise have only Owners, and custom groups cannot be created there)"
            )
        };
        for (key, r) in desired
            .resources
            .iter()
            .filter(|(k, r)| k.org == *org && r.presence == Presence::Present)
        {
            match &r.spec {
                Spec::OrgChild(OrgChildSpec::Group(g)) => {
                    if is_missing(key.name.as_str()) {
                        out.push(format!(
                            "`{key}` declares {}; remove it, or use a group the org has",
                            why(&key.name)
                        ));
                    }
                    for b in g.inherits.iter().filter(|b| is_missing(b.as_str())) {
                        out.push(format!("`{key}` inherits {}; remove it", why(b.as_str())));
                    }
                }
                Spec::Grant(GrantSpec {
                    subject, target, ..
                }) => {
                    if let Subject::Group(b) = subject
                        && is_missing(b.as_str())
                    {
                        out.push(format!("`{key}` grants to {}; remove it", why(b.as_str())));
                    }
                    if let GrantTarget::Group(b) = target
                        && is_missing(b.as_str())
                    {
                        out.push(format!("`{key}` grants on {}; remove it", why(b.as_str())));
                    }
                }
                _ => {}
            }
        }
    }
    out
}

/// Plan notes for the custom groups and roles a plan creates in an org that has only the
/// Owners built-in group (G3). That is how orgs on plans below Enterprise look, and there the
/// API refuses group and role creates with 403; the plan tier itself cannot be read, so this is
/// said in the plan for the reviewer rather than refused (an Enterprise org whose Engineers and
/// Viewers were deleted looks the same).
#[must_use]
pub fn starter_plan_notes(
    live: &crate::live::LiveState,
    diffs: &[crate::diff::ResourceDiff],
) -> Vec<String> {
    use crate::diff::DiffKind;
    use crate::model::ResourceKey;
    let only_owners = |org: &crate::model::OrgName| {
        BUILTIN_GROUPS.iter().filter(|b| **b != "Owners").all(|b| {
            let key = ResourceKey::in_org(org, Kind::Group, *b);
            live.is_complete_for(&key) && !live.objects.contains_key(&key)
        })
    };
    diffs
        .iter()
        .filter(|d| matches!(d.kind, DiffKind::Create | DiffKind::Replace))
        .filter(|d| matches!(d.key.kind, Kind::Group | Kind::Role))
        .filter(|d| only_owners(&d.key.org))
        .map(|d| {
            format!(
                "`{}` is a new {} in org `{}`, which has only the Owners built-in group: orgs on plans below Enterprise look like this, and there the API refuses group and role creates with 403 (G3); check the org's plan before merging",
                d.key,
                d.key.kind.human(),
                d.key.org
            )
        })
        .collect()
}
