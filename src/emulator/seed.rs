//! Seeding: the default org, and the `--seed FILE` document.
//!
//! A seed document is JSON:
//!
//! ```json
//! {
//!   "orgs": [{
//!     "name": "acme",
//!     "id": "optional uuid", "api_url": "optional, and any other Organization field",
//!     "users": [{
//!       "email": "ada@acme.example.com", "given_name": "Ada", "family_name": "L",
//!       "id": "optional uuid", "owner": true, "groups": ["Engineers"],
//!       "api_keys": [{"name": "ci", "key": "sk-optional-fixed-value"}]
//!     }],
//!     "service_accounts": [{
//!       "name": "deployer", "owner": true, "groups": [],
//!       "tokens": [{"name": "ci", "key": "bt-st-optional-fixed-value"}]
//!     }],
//!     "objects": [
//!       {"kind": "project", "id": "optional uuid", "body": {"name": "web"}},
//!       {"kind": "project_tag", "body": {"project_name": "web", "name": "prod"}}
//!     ]
//!   }]
//! }
//! ```
//!
//! Every org gets the built-in groups Owners, Engineers and Viewers; `owner: true` puts a
//! principal in Owners. `objects` are created in order with the same validation as a POST, as the
//! org's first user; a body may name its project with `project_name` instead of `project_id`.
//! An object with `"raw": true` is stored as given instead (see [`insert_raw`]): the way to hold
//! objects outside bt-gitops's model (new event types, new enum values, missing fields).
//! Keys without `key` get a generated value (deterministic in deterministic mode).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::accounts;
use super::auth::Caller;
use super::endpoints;
use super::error::ErrorResponse;
use super::resource::{self, Endpoint, Mode};
use super::store::{Collection, Store};
use crate::api::wire::JsonMap;

/// A seed document.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedDoc {
    pub orgs: Vec<SeedOrg>,
}

/// One org of a seed document.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SeedOrg {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default)]
    pub users: Vec<SeedUser>,
    #[serde(default)]
    pub service_accounts: Vec<SeedServiceAccount>,
    #[serde(default)]
    pub objects: Vec<SeedObject>,
    /// Further `Organization` fields (`api_url`, `proxy_url`...).
    #[serde(flatten)]
    pub extra: JsonMap,
}

/// A user of a seeded org.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedUser {
    pub email: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub given_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default)]
    pub owner: bool,
    #[serde(default)]
    pub groups: Vec<String>,
    #[serde(default)]
    pub api_keys: Vec<SeedKey>,
}

/// A service account of a seeded org.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedServiceAccount {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default)]
    pub owner: bool,
    #[serde(default)]
    pub groups: Vec<String>,
    #[serde(default)]
    pub tokens: Vec<SeedKey>,
    /// Removed from the org after seeding, its tokens left behind (a deleted account's
    /// leftovers, issue 14).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub removed: bool,
}

/// An API key or service token; `key` fixes the raw value.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedKey {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// When the key was made (RFC 3339), instead of the emulator's clock: old keys for the
    /// `api_key_policy`'s `max_age_days`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
}

/// An object created through the generic create path, or with `raw: true` stored as given.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedObject {
    pub kind: Collection,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub body: Value,
    /// Store `body` as the listed object, bypassing the emulator's validation (only `id` is
    /// filled in when absent, and `project_name` resolved): objects and values outside our wire
    /// types, as a real org may hold them.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub raw: bool,
}

/// A credential created by seeding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeededKey {
    pub org: String,
    /// The user's email or the service account's name.
    pub principal: String,
    /// `api_key` or `service_token`.
    pub kind: Collection,
    pub name: String,
    pub key: String,
}

/// Sets the `created` time of a seeded key or token, when the seed gives one.
fn backdate(store: &mut Store, kind: Collection, object: &JsonMap, created: Option<&str>) {
    let (Some(created), Some(id)) = (created, object.get("id").and_then(Value::as_str)) else {
        return;
    };
    let Some(record) = store.get(kind, id).cloned() else {
        return;
    };
    let mut object = record.object.clone();
    object.insert("created".into(), Value::String(created.to_owned()));
    store.update(kind, id, object, record.secret.clone());
}

/// A seed that cannot be applied.
#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error("cannot read seed file `{path}`: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("seed file `{path}` is not a valid seed document: {source}")]
    Parse {
        path: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("seed org `{org}`: {message}")]
    Invalid { org: String, message: String },
}

impl SeedDoc {
    /// Reads a seed document from a file.
    ///
    /// # Errors
    /// When the file cannot be read or is not a seed document.
    pub fn load(path: &std::path::Path) -> Result<SeedDoc, SeedError> {
        let shown = path.display().to_string();
        let text = fs_err::read_to_string(path).map_err(|source| SeedError::Io {
            path: shown.clone(),
            source,
        })?;
        serde_json::from_str(&text).map_err(|source| SeedError::Parse {
            path: shown,
            source,
        })
    }

    /// The default seed: org `emulated-org`, its owner `owner@emulated-org.example.com` with an API
    /// key, and an owner service account `emulator-bot` with a service token.
    pub fn default_org() -> SeedDoc {
        SeedDoc {
            orgs: vec![SeedOrg {
                name: "emulated-org".into(),
                users: vec![SeedUser {
                    email: "owner@emulated-org.example.com".into(),
                    given_name: Some("Emulator".into()),
                    family_name: Some("Owner".into()),
                    owner: true,
                    api_keys: vec![SeedKey {
                        name: "default".into(),
                        key: None,
                        created: None,
                    }],
                    ..SeedUser::default()
                }],
                service_accounts: vec![SeedServiceAccount {
                    name: "emulator-bot".into(),
                    owner: true,
                    tokens: vec![SeedKey {
                        name: "default".into(),
                        key: None,
                        created: None,
                    }],
                    ..SeedServiceAccount::default()
                }],
                ..SeedOrg::default()
            }],
        }
    }

    /// Applies the document to a store; returns the credentials it created.
    ///
    /// # Errors
    /// When an org name repeats, a group is unknown, or an object is invalid.
    pub fn apply(&self, store: &mut Store) -> Result<Vec<SeededKey>, SeedError> {
        let mut keys = Vec::new();
        for org in &self.orgs {
            let invalid = |message: String| SeedError::Invalid {
                org: org.name.clone(),
                message,
            };
            if store.org_by_name(&org.name).is_some() {
                return Err(invalid("the org name is used twice".into()));
            }
            let org_id = accounts::create_org(store, &org.name, org.id.clone(), &org.extra);
            let mut first_user: Option<String> = None;
            let join = |store: &mut Store, user_id: &str, owner: bool, groups: &[String]| {
                accounts::add_member(store, &org_id, user_id);
                let names = owner
                    .then_some("Owners")
                    .into_iter()
                    .chain(groups.iter().map(String::as_str));
                for name in names {
                    let group = accounts::group_by_name(store, &org_id, name)
                        .ok_or_else(|| invalid(format!("unknown group `{name}`")))?;
                    accounts::add_to_group(store, &group, user_id);
                }
                Ok::<(), SeedError>(())
            };
            for user in &org.users {
                let id = accounts::ensure_user(
                    store,
                    &user.email,
                    user.given_name.as_deref(),
                    user.family_name.as_deref(),
                    user.id.clone(),
                );
                join(store, &id, user.owner, &user.groups)?;
                first_user.get_or_insert(id.clone());
                for key in &user.api_keys {
                    let (object, raw) =
                        accounts::create_api_key(store, &org_id, &id, &key.name, key.key.clone());
                    backdate(store, Collection::ApiKey, &object, key.created.as_deref());
                    keys.push(SeededKey {
                        org: org.name.clone(),
                        principal: user.email.clone(),
                        kind: Collection::ApiKey,
                        name: key.name.clone(),
                        key: raw,
                    });
                }
            }
            for account in &org.service_accounts {
                let id = accounts::create_service_account(store, &account.name, account.id.clone());
                join(store, &id, account.owner, &account.groups)?;
                first_user.get_or_insert(id.clone());
                for token in &account.tokens {
                    let (object, raw) = accounts::create_service_token(
                        store,
                        &org_id,
                        &id,
                        &token.name,
                        token.key.clone(),
                    );
                    backdate(
                        store,
                        Collection::ServiceToken,
                        &object,
                        token.created.as_deref(),
                    );
                    keys.push(SeededKey {
                        org: org.name.clone(),
                        principal: account.name.clone(),
                        kind: Collection::ServiceToken,
                        name: token.name.clone(),
                        key: raw,
                    });
                }
                if account.removed {
                    accounts::remove_member(store, &org_id, &id);
                }
            }
            if org.objects.is_empty() {
                continue;
            }
            let caller = Caller {
                user_id: first_user
                    .clone()
                    .ok_or_else(|| invalid("objects need at least one user".into()))?,
                org_id: org_id.clone(),
                org_name: org.name.clone(),
                service_token: false,
                credential_id: String::new(),
            };
            for object in &org.objects {
                create_object(store, &caller, object)
                    .map_err(|e| invalid(format!("{}: {}", object.kind.api_name(), e.message)))?;
            }
        }
        Ok(keys)
    }
}

fn spec_of(kind: Collection) -> Option<&'static Endpoint> {
    Some(match kind {
        Collection::Project => &endpoints::PROJECT,
        Collection::Group => &endpoints::GROUP,
        Collection::Role => &endpoints::ROLE,
        Collection::ProjectTag => &endpoints::PROJECT_TAG,
        Collection::ProjectScore => &endpoints::PROJECT_SCORE,
        Collection::ProjectAutomation => &endpoints::PROJECT_AUTOMATION,
        Collection::SpanIframe => &endpoints::SPAN_IFRAME,
        Collection::View => &endpoints::VIEW,
        Collection::AiSecret => &endpoints::AI_SECRET,
        Collection::EnvVar => &endpoints::ENV_VAR,
        Collection::Environment => &endpoints::ENVIRONMENT,
        Collection::McpServer => &endpoints::MCP_SERVER,
        Collection::Function => &super::functions::FUNCTION,
        Collection::Prompt => &super::functions::PROMPT,
        Collection::Experiment => &super::functions::EXPERIMENT,
        Collection::Dataset => &super::functions::DATASET,
        Collection::Acl => &super::routes::acl::ACL,
        Collection::Organization
        | Collection::User
        | Collection::ServiceToken
        | Collection::ApiKey => return None,
    })
}

fn create_object(
    store: &mut Store,
    caller: &Caller,
    object: &SeedObject,
) -> Result<(), ErrorResponse> {
    if object.raw {
        return insert_raw(store, &caller.org_id, object).map(|_| ());
    }
    let spec = spec_of(object.kind).ok_or_else(|| {
        ErrorResponse::bad_request("this kind is seeded through `users` and `service_accounts`")
    })?;
    let mut body = object.body.clone();
    if let Some(map) = body.as_object_mut()
        && !map.contains_key("project_id")
        && let Some(Value::String(name)) = map.remove("project_name")
    {
        let id = store
            .table(Collection::Project)
            .live()
            .find(|p| p.org_id == caller.org_id && p.str_field("name") == name)
            .map(|p| p.id().to_owned())
            .ok_or_else(|| ErrorResponse::bad_request(format!("unknown project `{name}`")))?;
        map.insert("project_id".into(), Value::String(id));
    }
    if let Some(id) = &object.id {
        crate::api::wire::Id::parse(id).map_err(|e| ErrorResponse::bad_request(e.to_string()))?;
    }
    resource::create(store, caller, spec, &body, Mode::Post, object.id.clone()).map(|_| ())
}

/// Stores `object.body` in its collection of org `org_id` as is, without the create path's
/// validation: lists return it exactly as given. Only the `id` (from `object.id`, else a new
/// one) is filled in when the body has none, and `project_name` is replaced by `project_id`.
/// Returns the object's id.
///
/// # Errors
/// When the body is not a JSON object or names an unknown project.
pub fn insert_raw(
    store: &mut Store,
    org_id: &str,
    object: &SeedObject,
) -> Result<String, ErrorResponse> {
    let Value::Object(mut map) = object.body.clone() else {
        return Err(ErrorResponse::bad_request(
            "a raw object must be a JSON object",
        ));
    };
    if !map.contains_key("project_id")
        && let Some(Value::String(name)) = map.remove("project_name")
    {
        let id = store
            .table(Collection::Project)
            .live()
            .find(|p| p.org_id == org_id && p.str_field("name") == name)
            .map(|p| p.id().to_owned())
            .ok_or_else(|| ErrorResponse::bad_request(format!("unknown project `{name}`")))?;
        map.insert("project_id".into(), Value::String(id));
    }
    if !map.contains_key("id") {
        let id = match &object.id {
            Some(id) => id.clone(),
            None => store.clock.new_id(),
        };
        map.insert("id".into(), Value::String(id));
    }
    let id = map
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    store.insert(
        object.kind,
        super::store::Record {
            seq: 0,
            org_id: org_id.to_owned(),
            deleted: false,
            secret: None,
            principal: None,
            service_account: false,
            object: map,
        },
    );
    Ok(id)
}
