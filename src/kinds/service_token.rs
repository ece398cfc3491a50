//! The `service_token` kind: an API token of a service account, declared in the account's
//! `tokens:` and keyed `account/name`, on `/v1/service_token`. It is created (its key shown
//! once, optionally written to a file by apply) and deleted, never changed; a special kind:
//! plain functions (and the lowering method on `Lowerer`) called from the scaffolds.

use std::collections::HashMap;

use crate::manifest::raw::RawServiceToken;
use crate::manifest::spanned::Sp;
use crate::model::lower::{Cx, Lowerer};
use crate::model::{Kind, Name, ResourceKey, ServiceTokenSpec, Spec};
use crate::wire::{CreateServiceToken, ServiceToken};

impl Lowerer<'_> {
    /// The tokens of the service account `account` (inserted as `key`): each is checked,
    /// inserted and made to depend on its account.
    pub(crate) fn lower_service_tokens(
        &mut self,
        cx: Cx<'_>,
        key: &ResourceKey,
        account: &Name,
        tokens: &[Sp<RawServiceToken>],
    ) {
        let at = cx.at;
        for token in tokens {
            let Some(token_name) = self.name(at, &token.name) else {
                continue;
            };
            let write_key_to = token
                .write_key_to
                .as_ref()
                .and_then(|p| self.relative_path(at, p));
            let tkey = ResourceKey::in_org(
                cx.org,
                Kind::ServiceToken,
                format!("{account}/{token_name}"),
            );
            let spec = Spec::ServiceToken(ServiceTokenSpec {
                account: account.clone(),
                name: token_name,
                write_key_to,
            });
            let span = self.span(at, &token.name);
            if let Some(tkey) = self.add(cx, tkey, spec, span, &token.state, None, &[]) {
                self.reference(&tkey, key.clone(), span, "service account");
            }
        }
    }
}

/// The create body of the token `t`, for the service account with id `account_id` in the org
/// `org_name`.
#[must_use]
pub fn create(t: &ServiceTokenSpec, account_id: String, org_name: &str) -> CreateServiceToken {
    CreateServiceToken {
        name: t.name.as_str().to_owned(),
        service_account_id: account_id,
        org_name: Some(org_name.to_owned()),
    }
}

/// The key name (`account/name`) and spec of a listed token; its account is found by id among
/// the service accounts read (`accounts`), or by name when the token gives no id. `None` for
/// a token whose account is not among them: a deleted account's leftover token is never read
/// as one of a live account (issue 14: import brought such accounts back).
#[must_use]
pub fn read(
    t: &ServiceToken,
    accounts: &HashMap<String, Name>,
) -> Option<(String, ServiceTokenSpec)> {
    let account = match &t.service_account_id {
        Some(id) => accounts.get(id.as_str()).cloned(),
        None => t
            .service_account_name
            .as_deref()
            .and_then(|n| accounts.values().find(|a| a.as_str() == n).cloned()),
    };
    let (Some(account), Ok(name)) = (account, Name::new(&t.name)) else {
        return None;
    };
    Some((
        format!("{account}/{name}"),
        ServiceTokenSpec {
            account,
            name,
            write_key_to: None,
        },
    ))
}

/// Plan notes for service-token names that more than one live token of an account holds
/// (assumption K10: token names need not be unique). bt-gitops manages the first such token
/// it reads and keeps the others as unmanaged objects, never deleted: the note says which one a
/// declaration of that name is met by, and that a delete removes only that one, so that neither
/// happens silently.
#[must_use]
pub fn duplicate_name_notes(
    desired: &crate::model::DesiredState,
    live: &crate::live::LiveState,
) -> Vec<String> {
    let mut out = Vec::new();
    for u in &live.unknown {
        if u.collection != crate::vocab::Collection::ServiceToken || u.project.is_some() {
            continue;
        }
        let Some(name) = &u.name else { continue };
        if !desired.orgs.contains_key(&u.org) {
            continue;
        }
        let key = ResourceKey::in_org(&u.org, Kind::ServiceToken, name.as_str());
        let Some(managed) = live.objects.get(&key) else {
            continue;
        };
        let (account, token) = name.split_once('/').unwrap_or(("?", name));
        let declared = match desired.resources.get(&key).map(|r| r.presence) {
            Some(crate::model::Presence::Present) => "the declaration of this token is met by it, ",
            Some(_) => "its tombstone deletes only it, ",
            None => "",
        };
        out.push(format!(
            "service account `{account}` of org `{}` holds more than one token named `{token}` (names need not be unique): bt-gitops manages the one with id {} ({declared}an `authoritative` delete removes only it) and leaves the one with id {} alone, shown as unmanaged; delete the token you do not want in the UI",
            u.org,
            managed.id,
            u.id.as_deref().unwrap_or("?"),
        ));
    }
    out
}
