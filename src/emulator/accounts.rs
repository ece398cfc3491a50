//! Organizations, users, service accounts, memberships, API keys and service tokens: the
//! principals that the generic CRUD layer does not create, used by the members endpoint and by seeding.

use serde_json::{Value, json};

use super::resource::fields;
use super::store::{Collection, Record, Store};
use crate::api::wire::{self, JsonMap};

/// The built-in groups of every org, in creation order.
pub const BUILT_IN_GROUPS: [&str; 3] = ["Owners", "Engineers", "Viewers"];

fn object(value: Value) -> JsonMap {
    match value {
        Value::Object(map) => map,
        _ => JsonMap::new(),
    }
}

fn record(org_id: &str, object: JsonMap) -> Record {
    Record {
        seq: 0,
        org_id: org_id.to_owned(),
        deleted: false,
        secret: None,
        principal: None,
        service_account: false,
        object,
    }
}

/// Creates an org with its built-in groups (only Owners on a starter plan, G3); returns its id.
pub fn create_org(store: &mut Store, name: &str, id: Option<String>, extra: &JsonMap) -> String {
    let id = id.unwrap_or_else(|| store.clock.new_id());
    let now = store.clock.now();
    let mut org = object(json!({ "id": id, "name": name, "created": now }));
    for (key, value) in extra {
        if !value.is_null() && !org.contains_key(key) {
            org.insert(key.clone(), value.clone());
        }
    }
    let org = serde_json::from_value::<wire::Organization>(Value::Object(org.clone()))
        .map(|o| fields(&o, &[]))
        .unwrap_or(org);
    store.insert(Collection::Organization, record(&id, org));
    let groups = if store.profile.starter_plan {
        &BUILT_IN_GROUPS[..1]
    } else {
        &BUILT_IN_GROUPS[..]
    };
    for group in groups {
        let group_id = store.clock.new_id();
        let now = store.clock.now();
        let object = object(json!({
            "id": group_id,
            "org_id": id,
            "created": now,
            "name": group,
            "description": format!("Built-in {} group", group.to_ascii_lowercase()),
            "member_users": [],
            "member_groups": [],
        }));
        store.insert(Collection::Group, record(&id, object));
    }
    id
}

/// The user with this email, created (with the given names) when unknown; returns its id.
pub fn ensure_user(
    store: &mut Store,
    email: &str,
    given_name: Option<&str>,
    family_name: Option<&str>,
    id: Option<String>,
) -> String {
    if let Some(user) = store.user_by_email(email) {
        return user.id().to_owned();
    }
    let id = id.unwrap_or_else(|| store.clock.new_id());
    let now = store.clock.now();
    let mut user = object(json!({ "id": id, "email": email, "created": now }));
    if let Some(given) = given_name {
        user.insert("given_name".into(), Value::String(given.into()));
    }
    if let Some(family) = family_name {
        user.insert("family_name".into(), Value::String(family.into()));
    }
    store.insert(Collection::User, record("", user));
    id
}

/// Creates a service account (a user without an email); returns its id.
pub fn create_service_account(store: &mut Store, name: &str, id: Option<String>) -> String {
    let id = id.unwrap_or_else(|| store.clock.new_id());
    let now = store.clock.now();
    let user = object(json!({ "id": id, "given_name": name, "created": now }));
    let mut rec = record("", user);
    rec.service_account = true;
    store.insert(Collection::User, rec);
    id
}

/// The email of a service account (`ServiceToken.service_account_email`, "not routable" in the
/// spec). Its form is the emulator's own and bt-gitops must not rely on it: a `.invalid`
/// address, except under [`AccountListing::WithEmailUnmarked`](super::profile::AccountListing),
/// where it looks like anyone's (the worst case: only tokens tell the account apart).
pub fn service_account_email(store: &Store, name: &str, id: &str) -> String {
    let slug: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    let short: String = id.chars().filter(char::is_ascii_hexdigit).take(8).collect();
    if store.profile.service_accounts == super::profile::AccountListing::WithEmailUnmarked {
        format!("{slug}-{short}@bots.acme-corp.com")
    } else {
        format!("{slug}-{short}@service-accounts.invalid")
    }
}

/// A user record as the user list shows it under the profile's service-account rule (K1):
/// `None` when service accounts are not shown, else the object, with an email (and the
/// `user_type` marker unless unmarked) added to a service account's.
pub fn user_view(store: &Store, user: &Record) -> Option<JsonMap> {
    use super::profile::AccountListing;
    if !user.service_account {
        return Some(user.object.clone());
    }
    let mut object = user.object.clone();
    match store.profile.service_accounts {
        AccountListing::Hidden => return None,
        AccountListing::WithoutEmail => {}
        AccountListing::WithEmail | AccountListing::WithEmailUnmarked => {
            let email = service_account_email(store, user.str_field("given_name"), user.id());
            object.insert("email".into(), Value::String(email));
            if store.profile.service_accounts == AccountListing::WithEmail {
                object.insert("user_type".into(), Value::String("service_account".into()));
            }
        }
    }
    Some(object)
}

/// Adds a user to an org (idempotent); returns whether it was newly added.
pub fn add_member(store: &mut Store, org_id: &str, user_id: &str) -> bool {
    store
        .members
        .insert((org_id.to_owned(), user_id.to_owned()))
}

/// Removes a user from an org and from the org's groups; returns whether it was a member.
pub fn remove_member(store: &mut Store, org_id: &str, user_id: &str) -> bool {
    let was = store
        .members
        .remove(&(org_id.to_owned(), user_id.to_owned()));
    let groups: Vec<Record> = store
        .table(Collection::Group)
        .live()
        .filter(|g| g.org_id == org_id)
        .cloned()
        .collect();
    for group in groups {
        let mut object = group.object.clone();
        if let Some(Value::Array(members)) = object.get_mut("member_users") {
            let before = members.len();
            members.retain(|m| m.as_str() != Some(user_id));
            if members.len() != before {
                store.update(Collection::Group, group.id(), object, group.secret.clone());
            }
        }
    }
    was
}

/// Adds a user to a group of the org (idempotent).
pub fn add_to_group(store: &mut Store, group_id: &str, user_id: &str) {
    let Some(group) = store.get(Collection::Group, group_id).cloned() else {
        return;
    };
    let mut object = group.object.clone();
    let members = object
        .entry("member_users")
        .or_insert_with(|| Value::Array(Vec::new()));
    if let Value::Array(members) = members
        && !members.iter().any(|m| m.as_str() == Some(user_id))
    {
        members.push(Value::String(user_id.to_owned()));
        store.update(Collection::Group, group_id, object, group.secret.clone());
    }
}

/// The live group of an org with this name.
pub fn group_by_name(store: &Store, org_id: &str, name: &str) -> Option<String> {
    store
        .table(Collection::Group)
        .live()
        .find(|g| g.org_id == org_id && g.str_field("name") == name)
        .map(|g| g.id().to_owned())
}

/// Creates a user API key (`sk-...`); returns the `ApiKey` object and the raw key.
pub fn create_api_key(
    store: &mut Store,
    org_id: &str,
    user_id: &str,
    name: &str,
    raw: Option<String>,
) -> (JsonMap, String) {
    let raw = raw.unwrap_or_else(|| store.clock.new_token("sk-"));
    let id = store.clock.new_id();
    let now = store.clock.now();
    let user = store.get(Collection::User, user_id).cloned();
    let field = |f: &str| {
        user.as_ref()
            .and_then(|u| u.object.get(f).cloned())
            .unwrap_or(Value::Null)
    };
    let key = wire::ApiKey {
        id: wire::Id::parse(&id).unwrap_or_else(|_| wire::Id::nil()),
        created: Some(now),
        name: name.to_owned(),
        preview_name: store.profile.preview(&raw),
        user_id: wire::Id::parse(user_id).ok(),
        user_email: field("email").as_str().map(str::to_owned),
        user_given_name: field("given_name").as_str().map(str::to_owned),
        user_family_name: field("family_name").as_str().map(str::to_owned),
        org_id: wire::Id::parse(org_id).ok(),
    };
    let object = fields(&key, &[]);
    let mut rec = record(org_id, object.clone());
    rec.secret = Some(raw.clone());
    rec.principal = Some(user_id.to_owned());
    store.insert(Collection::ApiKey, rec);
    (object, raw)
}

/// Creates a service token (`bt-st-...`) for a service account; returns the `ServiceToken` object and the raw token.
pub fn create_service_token(
    store: &mut Store,
    org_id: &str,
    account_id: &str,
    name: &str,
    raw: Option<String>,
) -> (JsonMap, String) {
    let raw = raw.unwrap_or_else(|| store.clock.new_token("bt-st-"));
    let id = store.clock.new_id();
    let now = store.clock.now();
    let account_name = store
        .get(Collection::User, account_id)
        .map(|u| u.str_field("given_name").to_owned());
    let account_email = account_name
        .as_deref()
        .map(|n| service_account_email(store, n, account_id));
    let token = wire::ServiceToken {
        id: wire::Id::parse(&id).unwrap_or_else(|_| wire::Id::nil()),
        created: Some(now),
        name: name.to_owned(),
        preview_name: store.profile.preview(&raw),
        service_account_id: wire::Id::parse(account_id).ok(),
        service_account_email: account_email,
        service_account_name: account_name,
        org_id: wire::Id::parse(org_id).ok(),
    };
    let object = fields(&token, &[]);
    let mut rec = record(org_id, object.clone());
    rec.secret = Some(raw.clone());
    rec.principal = Some(account_id.to_owned());
    store.insert(Collection::ServiceToken, rec);
    (object, raw)
}

/// Replaces the raw value of an existing service token, keeping its id; returns the object and new raw token.
pub fn rotate_service_token(store: &mut Store, token: &Record) -> (JsonMap, String) {
    let raw = store.clock.new_token("bt-st-");
    let mut object = token.object.clone();
    object.insert(
        "preview_name".into(),
        Value::String(store.profile.preview(&raw)),
    );
    // Whether a rotation makes the token young again is unconfirmed (K12).
    if store.profile.rotation_resets_created {
        object.insert("created".into(), Value::String(store.clock.now()));
    }
    store.delete_credential(token);
    store.update(
        Collection::ServiceToken,
        token.id(),
        object.clone(),
        Some(raw.clone()),
    );
    store.add_credential(Collection::ServiceToken, token.id(), &raw);
    (object, raw)
}
