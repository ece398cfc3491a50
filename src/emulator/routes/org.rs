//! `organization` (list, get, patch), `organization/members` (invite, remove, service accounts)
//! and `user` (list, get). A credential sees only its own org: other orgs are 403. Under the
//! real-API profile the members PATCH answers `added_users` only for service accounts created
//! with a token, as the spec promises.
//!
//! Users are global and join orgs through memberships; inviting an unknown email creates the
//! user. Service accounts are users whose `given_name` is the account name, so they can be put
//! in groups and ACLs like any user; how `GET /v1/user` shows them (not at all, without an
//! email, with one) is the profile's service-account rule (K1, `accounts::user_view`).

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::routing::{get, patch};
use serde_json::Value;

use super::{Access, respond};
use crate::api::wire::{self, Id, JsonMap, ListResponse};
use crate::emulator::AppState;
use crate::emulator::accounts;
use crate::emulator::auth::Caller;
use crate::emulator::error::ErrorResponse;
use crate::emulator::query::Params;
use crate::emulator::resource::{fields, merge, non_empty, normalize, parse, parse_json};
use crate::emulator::store::{Collection, Record, Store};
use crate::vocab::ORG_MEMBERS_PATH;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route(Collection::Organization.path(), get(org_list))
        .route(ORG_MEMBERS_PATH, patch(members))
        .route(
            &super::item(Collection::Organization),
            get(org_get).patch(org_patch),
        )
        .route(Collection::User.path(), get(user_list))
        .route(&super::item(Collection::User), get(user_get))
}

fn own_org<'a>(store: &'a Store, caller: &Caller, id: &str) -> Result<&'a Record, ErrorResponse> {
    let id = Id::parse(id).map_err(|e| ErrorResponse::bad_request(e.to_string()))?;
    match store.get(Collection::Organization, id.as_str()) {
        Some(org) if org.id() == caller.org_id => Ok(org),
        Some(_) => Err(ErrorResponse::forbidden(format!(
            "the credential does not belong to organization `{id}`"
        ))),
        None => Err(ErrorResponse::not_found(format!(
            "organization `{id}` not found"
        ))),
    }
}

async fn org_list(
    State(st): State<AppState>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> axum::response::Response {
    respond(&st, &headers, Access::Read, |store, caller| {
        let params = Params::parse(q.as_deref());
        caller.check_org_name(params.one("org_name")?)?;
        let page = params.page()?;
        let ids = params.uuids("ids")?;
        let table = store.table(Collection::Organization);
        let items: Vec<&Record> = table
            .live()
            .filter(|o| o.id() == caller.org_id)
            .filter(|o| ids.is_empty() || ids.iter().any(|id| id == o.id()))
            .collect();
        let objects: Vec<JsonMap> = page
            .apply(table, items)
            .into_iter()
            .map(|o| o.object.clone())
            .collect();
        Ok(ListResponse { objects })
    })
}

async fn org_get(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> axum::response::Response {
    respond(&st, &headers, Access::Read, |store, caller| {
        own_org(store, caller, &id).map(|o| o.object.clone())
    })
}

async fn org_patch(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> axum::response::Response {
    respond(&st, &headers, Access::Write, |store, caller| {
        let org = own_org(store, caller, &id)?.clone();
        let req: wire::PatchOrganization = parse(&parse_json(&body)?)?;
        if let Some(name) = &req.name {
            non_empty("name", name)?;
            if store.org_by_name(name).is_some_and(|o| o.id() != org.id()) {
                return Err(ErrorResponse::bad_request(format!(
                    "an organization named `{name}` already exists"
                )));
            }
        }
        let mut object = org.object.clone();
        merge(&mut object, &fields(&req, &[]));
        let object = normalize::<wire::Organization>(object)?;
        store.update(Collection::Organization, org.id(), object.clone(), None);
        Ok(object)
    })
}

async fn user_list(
    State(st): State<AppState>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> axum::response::Response {
    respond(&st, &headers, Access::Read, |store, caller| {
        let params = Params::parse(q.as_deref());
        caller.check_org_name(params.one("org_name")?)?;
        let page = params.page()?;
        let ids = params.uuids("ids")?;
        let filters: Vec<(&str, Vec<&str>)> = ["given_name", "family_name", "email"]
            .into_iter()
            .map(|f| (f, params.all(f)))
            .filter(|(_, values)| !values.is_empty())
            .collect();
        let table = store.table(Collection::User);
        let items: Vec<(&Record, JsonMap)> = table
            .live()
            .filter(|u| store.is_member(&caller.org_id, u.id()))
            .filter(|u| ids.is_empty() || ids.iter().any(|id| id == u.id()))
            .filter_map(|u| Some((u, accounts::user_view(store, u)?)))
            .filter(|(_, shown)| {
                filters.iter().all(|(field, values)| {
                    values.contains(&shown.get(*field).and_then(Value::as_str).unwrap_or(""))
                })
            })
            .collect();
        let views: std::collections::HashMap<&str, JsonMap> = items
            .iter()
            .map(|(u, shown)| (u.id(), shown.clone()))
            .collect();
        let objects: Vec<JsonMap> = page
            .apply(table, items.into_iter().map(|(u, _)| u).collect())
            .into_iter()
            .filter_map(|u| views.get(u.id()).cloned())
            .collect();
        Ok(ListResponse { objects })
    })
}

async fn user_get(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> axum::response::Response {
    respond(&st, &headers, Access::Read, |store, caller| {
        let id = Id::parse(&id).map_err(|e| ErrorResponse::bad_request(e.to_string()))?;
        match store.get(Collection::User, id.as_str()) {
            Some(user) if store.is_member(&caller.org_id, user.id()) => {
                accounts::user_view(store, user).ok_or_else(|| {
                    ErrorResponse::forbidden(format!(
                        "missing read access to user id `{id}`, or the user does not exist"
                    ))
                })
            }
            Some(_) => Err(ErrorResponse::forbidden(format!(
                "user `{id}` is not a member of your organization"
            ))),
            None => Err(ErrorResponse::not_found(format!("user `{id}` not found"))),
        }
    })
}

async fn members(
    State(st): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> axum::response::Response {
    respond(&st, &headers, Access::Write, |store, caller| {
        patch_members(store, caller, &parse_json(&body)?)
    })
}

/// `PATCH /v1/organization/members`: validates everything first, then applies it.
fn patch_members(
    store: &mut Store,
    caller: &Caller,
    body: &Value,
) -> Result<wire::PatchOrganizationMembersOutput, ErrorResponse> {
    let req: wire::PatchOrganizationMembers = parse(body)?;
    caller.check_org_name(req.org_name.as_deref())?;
    if let Some(org_id) = &req.org_id
        && org_id != &caller.org_id
    {
        return Err(ErrorResponse::forbidden(format!(
            "the credential does not belong to organization `{org_id}`"
        )));
    }
    let invite = req.invite_users.unwrap_or_default();
    let remove = req.remove_users.unwrap_or_default();
    let org_id = caller.org_id.clone();

    let invite_ids = invite.ids.unwrap_or_default();
    for id in &invite_ids {
        if store.get(Collection::User, id.as_str()).is_none() {
            return Err(ErrorResponse::bad_request(format!(
                "user `{id}` does not exist"
            )));
        }
    }
    let emails = invite.emails.unwrap_or_default();
    for email in &emails {
        if !email.contains('@') {
            return Err(ErrorResponse::bad_request(format!(
                "`{email}` is not an email address"
            )));
        }
    }
    let accounts = invite.service_accounts.unwrap_or_default();
    for account in &accounts {
        non_empty("service_accounts[].name", &account.name)?;
        if account.token_name.is_some() && !caller.may_create_service_tokens(store) {
            return Err(ErrorResponse::forbidden(
                "creating a service account with a token requires an org-owner service token",
            ));
        }
    }
    let mut groups: Vec<String> = Vec::new();
    let group_ids = invite
        .group_ids
        .unwrap_or_default()
        .into_iter()
        .chain(invite.group_id);
    for id in group_ids {
        match store.get(Collection::Group, id.as_str()) {
            Some(g) if g.org_id == org_id => groups.push(id.as_str().to_owned()),
            _ => {
                return Err(ErrorResponse::bad_request(format!(
                    "group `{id}` does not exist"
                )));
            }
        }
    }
    let group_names = invite
        .group_names
        .unwrap_or_default()
        .into_iter()
        .chain(invite.group_name);
    for name in group_names {
        let id = accounts::group_by_name(store, &org_id, &name)
            .ok_or_else(|| ErrorResponse::bad_request(format!("group `{name}` does not exist")))?;
        groups.push(id);
    }

    let mut added = Vec::new();
    let join = |store: &mut Store, user_id: &str| -> bool {
        let new = accounts::add_member(store, &org_id, user_id);
        if new {
            for group in &groups {
                accounts::add_to_group(store, group, user_id);
            }
        }
        new
    };
    for id in &invite_ids {
        if join(store, id.as_str()) {
            let email = store
                .get(Collection::User, id.as_str())
                .and_then(|u| u.object.get("email"))
                .and_then(Value::as_str)
                .map(str::to_owned);
            added.push(added_user(id.as_str(), email, None, None));
        }
    }
    for email in &emails {
        let id = accounts::ensure_user(store, email, None, None, None);
        if join(store, &id) {
            added.push(added_user(&id, Some(email.clone()), None, None));
        }
    }
    for account in &accounts {
        let id = accounts::create_service_account(store, &account.name, None);
        join(store, &id);
        let api_key = account.token_name.as_ref().map(|token_name| {
            accounts::create_service_token(store, &org_id, &id, token_name, None).1
        });
        added.push(added_user(&id, None, api_key, account.token_name.clone()));
    }
    let mut leaving: Vec<String> = remove
        .ids
        .unwrap_or_default()
        .iter()
        .map(|id| id.as_str().to_owned())
        .collect();
    for email in remove.emails.unwrap_or_default() {
        if let Some(user) = store.user_by_email(&email) {
            leaving.push(user.id().to_owned());
        }
    }
    for id in leaving {
        accounts::remove_member(store, &org_id, &id);
    }
    if store.profile.added_users_only_with_tokens {
        // The spec fills `added_users` only "if service accounts with tokens were created".
        added.retain(|a| a.api_key.is_some());
    }
    Ok(wire::PatchOrganizationMembersOutput {
        status: "success".into(),
        org_id,
        send_email_error: None,
        added_users: (!added.is_empty() || !store.profile.added_users_only_with_tokens)
            .then_some(added),
    })
}

fn added_user(
    id: &str,
    email: Option<String>,
    api_key: Option<String>,
    token_name: Option<String>,
) -> wire::AddedUser {
    wire::AddedUser {
        id: Id::parse(id).unwrap_or_else(|_| Id::nil()),
        email,
        api_key,
        token_name,
    }
}
