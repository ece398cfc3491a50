//! The `service_account` kind: a service account of the org, by name, from the org's
//! `service_accounts:` list (its tokens are the `service_token` kind). Written through
//! `organization/members` (invite, remove by id) and read from the user list; a special kind:
//! plain functions (and the lowering method on `Lowerer`) called from the scaffolds.

use crate::manifest::raw::RawOrg;
use crate::model::lower::{Cx, Lowerer};
use crate::model::{Kind, Name, ResourceKey, Spec};
use crate::wire::{
    Id, InviteUsers, PatchOrganizationMembers, RemoveUsers, ServiceAccountInvite, User,
};

impl Lowerer<'_> {
    /// The org's `service_accounts:`: each name is checked and inserted, then its tokens.
    pub(crate) fn lower_service_accounts(&mut self, cx: Cx<'_>, raw: &RawOrg) {
        for sa in &raw.service_accounts {
            let Some(name) = self.name(cx.at, &sa.name) else {
                continue;
            };
            let key = ResourceKey::in_org(cx.org, Kind::ServiceAccount, name.as_str());
            let span = self.span(cx.at, &sa.name);
            let Some(key) = self.add(cx, key, Spec::ServiceAccount, span, &sa.state, None, &[])
            else {
                continue;
            };
            self.lower_service_tokens(cx, &key, &name, &sa.tokens);
        }
    }
}

/// The body that creates the service account `name` in the org `org_name`.
#[must_use]
pub fn invite(name: &str, org_name: &str) -> PatchOrganizationMembers {
    PatchOrganizationMembers {
        invite_users: Some(InviteUsers {
            service_accounts: Some(vec![ServiceAccountInvite {
                name: name.to_owned(),
                token_name: None,
            }]),
            ..InviteUsers::default()
        }),
        org_name: Some(org_name.to_owned()),
        ..PatchOrganizationMembers::default()
    }
}

/// The body that removes the service account `id` from the org `org_name`.
#[must_use]
pub fn remove(id: Id, org_name: &str) -> PatchOrganizationMembers {
    PatchOrganizationMembers {
        remove_users: Some(RemoveUsers {
            ids: Some(vec![id]),
            ..RemoveUsers::default()
        }),
        org_name: Some(org_name.to_owned()),
        ..PatchOrganizationMembers::default()
    }
}

/// The name of a user of the org list that is a service account: no email, and a valid name
/// as its given name.
#[must_use]
pub fn read(u: &User) -> Option<Name> {
    if u.email.is_some() {
        return None;
    }
    u.given_name.as_deref().and_then(|n| Name::new(n).ok())
}
