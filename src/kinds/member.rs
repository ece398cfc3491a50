//! The `member` kind: a human member of the org, by email, from the org's `members:` list (and
//! single-member tombstones from `removed_members:`).
//! Written through `organization/members` (invite, remove) and read from the user list; a
//! special kind: plain functions (and the lowering method on `Lowerer`) called from the
//! scaffolds.

use crate::manifest::raw::{RawOrg, State};
use crate::manifest::spanned::Sp;
use crate::model::lower::{Cx, Lowerer};
use crate::model::{Email, Kind, ResourceKey, Spec};
use crate::wire::{InviteUsers, PatchOrganizationMembers, RemoveUsers, User};

impl Lowerer<'_> {
    /// The org's `members:`: each email is checked and inserted. Returns whether the org
    /// declares any member (then users named elsewhere must be among them).
    pub(crate) fn lower_members(&mut self, cx: Cx<'_>, raw: &RawOrg) -> bool {
        let mut declared = false;
        for m in &raw.members {
            let Some(email) = self.email(cx.at, m) else {
                continue;
            };
            declared = true;
            let key = ResourceKey::in_org(cx.org, Kind::Member, email.as_str());
            let span = self.span(cx.at, m);
            self.add(cx, key, Spec::Member(email), span, &None, None, &[]);
        }
        // `removed_members:` are single-member tombstones; they do not make the org declare
        // its members. An email in both lists is reported as declared twice.
        let absent = Some(Sp::synthetic(State::Absent));
        for m in &raw.removed_members {
            let Some(email) = self.email(cx.at, m) else {
                continue;
            };
            let key = ResourceKey::in_org(cx.org, Kind::Member, email.as_str());
            let span = self.span(cx.at, m);
            self.add(cx, key, Spec::Member(email), span, &absent, None, &[]);
        }
        declared
    }
}

/// The body that invites `email` into the org `org_name`, without sending an invite email.
#[must_use]
pub fn invite(email: &Email, org_name: &str) -> PatchOrganizationMembers {
    PatchOrganizationMembers {
        invite_users: Some(InviteUsers {
            emails: Some(vec![email.as_str().to_owned()]),
            send_invite_emails: Some(false),
            ..InviteUsers::default()
        }),
        org_name: Some(org_name.to_owned()),
        ..PatchOrganizationMembers::default()
    }
}

/// The body that removes the member `email` from the org `org_name`.
#[must_use]
pub fn remove(email: &str, org_name: &str) -> PatchOrganizationMembers {
    PatchOrganizationMembers {
        remove_users: Some(RemoveUsers {
            emails: Some(vec![email.to_owned()]),
            ..RemoveUsers::default()
        }),
        org_name: Some(org_name.to_owned()),
        ..PatchOrganizationMembers::default()
    }
}

/// The email of a user of the org list that is a member (it has a valid email); service
/// accounts have none.
#[must_use]
pub fn read(u: &User) -> Option<Email> {
    Email::new(u.email.as_deref()?).ok()
}
