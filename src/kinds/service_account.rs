//! The `service_account` kind: a service account of the org, by name, from the org's
//! `service_accounts:` list (its tokens are the `service_token` kind). Written through
//! `organization/members` (invite, remove by id) and read from the user list and the service
//! token list (assumption K1: the user list may hide service accounts, show them without an
//! email, or show them with one); a special kind: plain functions (and the lowering method on
//! `Lowerer`) called from the scaffolds.

use std::collections::{HashMap, HashSet};

use serde_json::Value;

use crate::manifest::raw::RawOrg;
use crate::model::lower::{Cx, Lowerer};
use crate::model::{Email, Kind, Name, ResourceKey, Spec};
use crate::wire::{
    Id, InviteUsers, PatchOrganizationMembers, RemoveUsers, ServiceAccountInvite, ServiceToken,
    User,
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

/// The service accounts the org's service tokens name (`service_account_id`, with the
/// account's name and email as the token list gives them): the one source that shows an
/// account whatever the user list does (K1).
#[derive(Debug, Clone, Default)]
pub struct TokenAccounts {
    by_id: HashMap<String, Option<String>>,
    emails: HashSet<String>,
}

impl TokenAccounts {
    /// The accounts named by these tokens.
    #[must_use]
    pub fn new<'a>(tokens: impl IntoIterator<Item = &'a ServiceToken>) -> TokenAccounts {
        let mut out = TokenAccounts::default();
        for t in tokens {
            if let Some(id) = &t.service_account_id {
                let name = out.by_id.entry(id.to_string()).or_default();
                if name.is_none() {
                    name.clone_from(&t.service_account_name);
                }
            }
            if let Some(email) = &t.service_account_email {
                out.emails.insert(email.to_lowercase());
            }
        }
        out
    }

    /// The accounts' ids, each with the name a token gives it.
    pub fn iter(&self) -> impl Iterator<Item = (&str, Option<&str>)> {
        self.by_id.iter().map(|(id, n)| (id.as_str(), n.as_deref()))
    }
}

/// What a user of the org's user list is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListedUser {
    /// A person, by email.
    Member(Email),
    /// A service account, by name.
    ServiceAccount(Name),
    /// Neither can be read (a service account without a usable name, a person without a
    /// valid email).
    Unreadable,
}

/// Tells a listed user (`raw`, as the API sent it) apart (K1): a service account is a user
/// without an email, one marked `user_type: service_account` (Braintrust's docs show the field
/// on service-account user records), one a service token names by id or by its
/// `service_account_email`, or one whose email is not routable ([`unroutable`]); it is named by its given name, else by the token's account name.
/// Everyone else with a valid email is a member. A service account is never read as a member.
#[must_use]
pub fn classify(u: &User, raw: &Value, tokens: &TokenAccounts) -> ListedUser {
    let marked = raw.get("user_type").and_then(Value::as_str) == Some("service_account");
    let token_name = tokens.by_id.get(u.id.as_str());
    let named_by_token = token_name.is_some()
        || u.email
            .as_deref()
            .is_some_and(|e| tokens.emails.contains(&e.to_lowercase()));
    let unroutable = u.email.as_deref().is_some_and(unroutable);
    if u.email.is_none() || marked || named_by_token || unroutable {
        let name = u
            .given_name
            .as_deref()
            .or(token_name.and_then(Option::as_deref));
        return match name.and_then(|n| Name::new(n).ok()) {
            Some(name) => ListedUser::ServiceAccount(name),
            None => ListedUser::Unreadable,
        };
    }
    match u.email.as_deref().map(Email::new) {
        Some(Ok(email)) => ListedUser::Member(email),
        _ => ListedUser::Unreadable,
    }
}

/// Whether an email cannot receive mail: its domain has one label, or ends in a top-level
/// domain reserved for that (RFC 2606, RFC 6761, RFC 6762: `invalid`, `test`, `example`,
/// `localhost`, `local`; and `internal`). The spec calls a service account's email "not
/// routable"; a person's email, which invitations go to, is routable.
#[must_use]
pub fn unroutable(email: &str) -> bool {
    let Some((_, domain)) = email.rsplit_once('@') else {
        return false;
    };
    let domain = domain.trim_end_matches('.').to_ascii_lowercase();
    match domain.rsplit_once('.') {
        None => true,
        Some((_, tld)) => matches!(
            tld,
            "invalid" | "test" | "example" | "localhost" | "local" | "internal"
        ),
    }
}

/// The name of a user of the org list that is a service account by the user list alone (no
/// tokens known): see [`classify`].
#[must_use]
pub fn read(u: &User, raw: &Value) -> Option<Name> {
    match classify(u, raw, &TokenAccounts::default()) {
        ListedUser::ServiceAccount(name) => Some(name),
        _ => None,
    }
}

/// Plan notes for the service accounts a plan creates in an org where nothing read tells
/// whether the user list shows service accounts (K1, `AccountListing::Unknown`: no account,
/// token or unknown principal seen). Braintrust's docs say it does not: a new account without a
/// token may then not be found after its create, and no later read can see it either. Apply
/// fails loudly when that happens; this says beforehand what the reviewer must do then, since
/// another apply would create a second account.
#[must_use]
pub fn unknown_listing_notes(
    live: &crate::live::LiveState,
    diffs: &[crate::diff::ResourceDiff],
) -> Vec<String> {
    use crate::live::AccountListing;
    diffs
        .iter()
        .filter(|d| d.kind == crate::diff::DiffKind::Create && d.key.kind == Kind::ServiceAccount)
        .filter(|d| {
            matches!(
                live.account_listing.get(&d.key.org),
                None | Some(AccountListing::Unknown)
            )
        })
        .map(|d| {
            format!(
                "`{}`: nothing read in org `{}` shows whether its user list shows service accounts (assumption K1; Braintrust's docs say it does not). If the new account cannot be found after its create, apply fails: then give it a token in the UI before applying again, or another apply would create a second account",
                d.key, d.key.org
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn user(raw: &Value) -> User {
        serde_json::from_value(raw.clone()).expect("a user")
    }

    const ID: &str = "0b2d3a4e-5f60-4a1b-8c2d-3e4f5a6b7c8d";

    #[test]
    fn every_source_tells_a_service_account() {
        let none = TokenAccounts::default();
        let read = |raw: Value, tokens: &TokenAccounts| classify(&user(&raw), &raw, tokens);
        let bot = ListedUser::ServiceAccount(Name::new("ci-bot").expect("name"));
        // Answer B: no email.
        assert_eq!(
            read(json!({ "id": ID, "given_name": "ci-bot" }), &none),
            bot
        );
        // Answer C: a marker, or an unroutable email.
        let marked = json!({ "id": ID, "given_name": "ci-bot", "email": "ci@bots.example.org", "user_type": "service_account" });
        assert_eq!(read(marked, &none), bot);
        let unroutable =
            json!({ "id": ID, "given_name": "ci-bot", "email": "ci-bot@service-accounts.invalid" });
        assert_eq!(read(unroutable, &none), bot);
        // Answer C, unmarked: only a token tells it apart, by id or by email.
        let plain = json!({ "id": ID, "given_name": "ci-bot", "email": "ci@bots.acme-corp.com" });
        assert_eq!(
            read(plain.clone(), &none),
            ListedUser::Member(Email::new("ci@bots.acme-corp.com").expect("email"))
        );
        let by_email: ServiceToken = serde_json::from_value(json!({
            "id": ID, "name": "ci", "preview_name": "bt-st-...abcd",
            "service_account_email": "CI@bots.acme-corp.com"
        }))
        .expect("a token");
        assert_eq!(read(plain.clone(), &TokenAccounts::new([&by_email])), bot);
        let by_id: ServiceToken = serde_json::from_value(json!({
            "id": ID, "name": "ci", "preview_name": "bt-st-...abcd",
            "service_account_id": ID, "service_account_name": "ci-bot"
        }))
        .expect("a token");
        let nameless = json!({ "id": ID, "email": "ci@bots.acme-corp.com" });
        assert_eq!(read(nameless, &TokenAccounts::new([&by_id])), bot);
        // A person.
        let alice = json!({ "id": ID, "given_name": "Alice", "email": "alice@acme.com" });
        assert_eq!(
            read(alice, &none),
            ListedUser::Member(Email::new("alice@acme.com").expect("email"))
        );
    }

    #[test]
    fn unroutable_emails() {
        for e in [
            "a@b.invalid",
            "a@localhost",
            "a@x.test",
            "a@host.local.",
            "a@corp.internal",
        ] {
            assert!(unroutable(e), "{e}");
        }
        for e in ["a@acme.com", "a@example.com", "no-at-sign"] {
            assert!(!unroutable(e), "{e}");
        }
    }
}
