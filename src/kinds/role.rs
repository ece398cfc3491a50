//! The `role` kind: a named set of permissions of the org, which may inherit other roles, on
//! `/v1/role`. Permissions and inherited roles are sent whole on create and as add/remove
//! deltas against the live role on update. System roles (no org) are read as names only.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use super::{BodyError, CreateVerb, Ids, LiveNames, Lowered, OrgChild, OrgHeader, Reference};
use crate::diff::fields::{Field, permission_label};
use crate::manifest::raw::RawRole;
use crate::model::lower::{Cx, Lowerer};
use crate::model::{AclObjectType, Kind, Name, Permission, RoleSpec};
use crate::wire::{CreateRole, Id, MemberPermission, PatchRole};

/// The `role` kind.
pub struct Role;

impl Role {
    fn inherited(r: &RoleSpec, ids: &dyn Ids) -> Result<Vec<Id>, BodyError> {
        r.inherits
            .iter()
            .map(|n| ids.org_object(Kind::Role, n.as_str()))
            .collect()
    }
}

/// Permissions as the API takes them.
fn permissions<'a>(
    set: impl IntoIterator<Item = &'a (Permission, Option<AclObjectType>)>,
) -> Vec<MemberPermission> {
    set.into_iter()
        .map(|(p, t)| MemberPermission {
            permission: *p,
            restrict_object_type: *t,
        })
        .collect()
}

impl OrgChild for Role {
    const KIND: Kind = Kind::Role;
    const CREATE: CreateVerb = CreateVerb::Put;
    const NAMED_BY: &'static [Kind] = &[Kind::Grant];
    type Raw = RawRole;
    type Spec = RoleSpec;
    type Item = crate::wire::Role;
    type Create = CreateRole;
    type Patch = PatchRole;

    fn header(r: &RawRole) -> OrgHeader<'_> {
        OrgHeader {
            name: &r.name,
            state: &r.state,
            previous_names: &r.previous_names,
            protect: None,
        }
    }

    fn lower(lw: &mut Lowerer<'_>, cx: Cx<'_>, r: &RawRole, name: &Name) -> Option<Lowered<RoleSpec>> {
        let at = cx.at;
        let permissions = r
            .permissions
            .iter()
            .map(|p| (p.permission, p.restrict_object_type))
            .collect();
        let inherits: BTreeSet<Name> = r.inherits.iter().filter_map(|s| lw.name(at, s)).collect();
        let refs = r
            .inherits
            .iter()
            .map(|i| Reference {
                kind: Kind::Role,
                name: i.value.clone(),
                span: lw.span(at, i),
                what: "role",
                hint: None,
            })
            .collect();
        Some(Lowered {
            key: name.to_string(),
            spec: RoleSpec {
                description: r.description.text(),
                permissions,
                inherits,
            },
            refs,
        })
    }

    fn fields(r: &RoleSpec) -> Vec<Field> {
        vec![
            ("description", r.description.as_ref().map(|v| json!(v))),
            (
                "permissions",
                Some(json!(
                    r.permissions
                        .iter()
                        .map(|(p, t)| permission_label(*p, *t))
                        .collect::<Vec<_>>()
                )),
            ),
            (
                "inherits",
                Some(json!(
                    r.inherits.iter().map(Name::as_str).collect::<Vec<_>>()
                )),
            ),
        ]
    }

    fn create(r: &RoleSpec, org_name: &str, name: &str, ids: &dyn Ids) -> Result<CreateRole, BodyError> {
        Ok(CreateRole {
            name: name.to_owned(),
            description: r.description.clone(),
            org_name: Some(org_name.to_owned()),
            member_permissions: Some(permissions(&r.permissions)),
            member_roles: Some(Self::inherited(r, ids)?),
        })
    }

    fn patch(
        r: &RoleSpec,
        live: Option<&RoleSpec>,
        rename: Option<String>,
        ids: &dyn Ids,
    ) -> Result<PatchRole, BodyError> {
        let old = live.ok_or(BodyError::NeedsLive)?;
        let want_roles: BTreeSet<Id> = Self::inherited(r, ids)?.into_iter().collect();
        let have_roles: BTreeSet<Id> = Self::inherited(old, ids)?.into_iter().collect();
        Ok(PatchRole {
            name: rename,
            description: r.description.clone(),
            add_member_permissions: Some(permissions(r.permissions.difference(&old.permissions))),
            remove_member_permissions: Some(permissions(old.permissions.difference(&r.permissions))),
            add_member_roles: Some(want_roles.difference(&have_roles).cloned().collect()),
            remove_member_roles: Some(have_roles.difference(&want_roles).cloned().collect()),
        })
    }

    fn name(r: &crate::wire::Role) -> Option<String> {
        if r.deleted_at.is_some() {
            return None;
        }
        Name::new(&r.name).ok().map(|n| n.to_string())
    }

    fn read(r: &crate::wire::Role, name: &str, names: &LiveNames) -> Option<(String, RoleSpec)> {
        // System roles (no org) are assignable but not ours to manage.
        r.org_id.as_ref()?;
        let spec = RoleSpec {
            description: r.description.clone(),
            permissions: r
                .member_permissions
                .iter()
                .flatten()
                .map(|p| (p.permission, p.restrict_object_type))
                .collect(),
            inherits: r
                .member_roles
                .iter()
                .flatten()
                .filter_map(|id| names.get(Kind::Role, id.as_str()))
                .filter_map(|n| Name::new(n).ok())
                .collect(),
        };
        Some((name.to_string(), spec))
    }

    fn manifest(name: &str, r: &RoleSpec) -> Value {
        super::drop_empty(json!({
            "name": name, "description": r.description,
            "permissions": r.permissions.iter().map(|(p, t)| match t {
                Some(t) => json!({ "permission": p.as_str(), "restrict_object_type": t.as_str() }),
                None => json!(p.as_str()),
            }).collect::<Vec<_>>(),
            "inherits": r.inherits.iter().map(Name::as_str).collect::<Vec<_>>(),
        }))
    }
}
