//! The generic CRUD layer: create-or-return (POST), create-or-replace (PUT), get, list, patch and
//! delete for every kind that follows the API's common pattern, driven by a per-kind [`Endpoint`].
//!
//! A spec says how to validate a create or patch body (by parsing it into the `api::wire` request
//! type, then checking what serde cannot), which server-assigned fields the kind has, how to
//! normalise a stored object (a round trip through the wire response type), and which list filters
//! it accepts. Everything else (natural-key lookup, id and timestamp assignment, org visibility,
//! pagination, soft delete) is here, once.

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::auth::Caller;
use super::error::ErrorResponse;
use super::query::Params;
use super::store::{Collection, Record, Store, natural_key_in, preview};
use crate::api::wire::{Id, JsonMap};

/// One REST collection's behaviour: what the generic CRUD layer needs to serve it.
pub struct Endpoint {
    pub kind: Collection,
    /// Whether `PUT` (create or replace) exists.
    pub put: bool,
    /// The list filter on `name`, e.g. `project_tag_name` (empty: none).
    pub name_param: &'static str,
    /// Whether lists accept `project_id` / `project_name`.
    pub project_scoped: bool,
    /// The server-assigned fields.
    pub server: &'static [Server],
    /// Validates a create (POST/PUT) body.
    pub create: fn(&Store, &Caller, &Value) -> Result<Draft, ErrorResponse>,
    /// Validates a PATCH body and applies it to a copy of the record's object.
    pub patch: fn(&Store, &Caller, &Record, &Value) -> Result<Patched, ErrorResponse>,
    /// Round-trips an object through the wire response type.
    pub normalize: fn(JsonMap) -> Result<JsonMap, ErrorResponse>,
    /// Extra list filters, as `(field, accepted values)` equality constraints.
    pub filters: fn(&Params) -> Result<Constraints, ErrorResponse>,
    /// Extra work after a delete (cascades).
    pub on_delete: fn(&mut Store, &Record),
}

/// List filters: `(field, accepted values)` pairs that must all hold.
pub type Constraints = Vec<(&'static str, Vec<String>)>;

/// A server-assigned field group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Server {
    Id,
    OrgId,
    Created,
    /// The creating user, unless the body set `user_id`.
    UserId,
    /// A sort key for tags and scores.
    Position,
    /// Refreshed on every write.
    UpdatedAt,
    /// `preview_secret`, `secret_updated_at`, `secret_updated_by_user_id`, set when a secret is written.
    Secret,
    /// `secret_category: "env_var"` unless given.
    SecretCategory,
}

impl Server {
    fn fields(self) -> &'static [&'static str] {
        match self {
            Server::Id => &["id"],
            Server::OrgId => &["org_id"],
            Server::Created => &["created"],
            Server::UserId => &["user_id"],
            Server::Position => &["position"],
            Server::UpdatedAt => &["updated_at"],
            Server::Secret => &[
                "preview_secret",
                "secret_updated_at",
                "secret_updated_by_user_id",
            ],
            Server::SecretCategory => &["secret_category"],
        }
    }
}

/// A validated create body: the client-set fields, the owning org and the write-only value.
pub struct Draft {
    pub org_id: String,
    pub fields: JsonMap,
    pub secret: Option<String>,
}

/// The result of a PATCH body applied to an object.
pub struct Patched {
    pub object: JsonMap,
    /// A new write-only value, if the patch set one.
    pub secret: Option<String>,
}

/// POST or PUT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Create, or return the existing object with the same natural key unmodified.
    Post,
    /// Create, or replace the existing object with the same natural key, keeping its id.
    Put,
}

// ---------------------------------------------------------------------------------------------
// Helpers for specs
// ---------------------------------------------------------------------------------------------

/// Parses a JSON body (already known to be JSON) into a wire request type.
///
/// # Errors
/// 400 when the body is not an object or does not match the type.
pub fn parse<T: DeserializeOwned>(body: &Value) -> Result<T, ErrorResponse> {
    if !body.is_object() {
        return Err(ErrorResponse::bad_request(
            "the request body must be a JSON object",
        ));
    }
    crate::api::wire::from_value(body.clone())
        .map_err(|e| ErrorResponse::bad_request(format!("invalid request body: {e}")))
}

/// Parses raw body bytes as JSON; an empty body (no bytes at all) is `{}`.
///
/// # Errors
/// 400 when the bytes are not JSON, whitespace alone included: a strict JSON parser refuses
/// it, and for an operation whose fields are all optional (`/v1/acl/batch_update`) reading it
/// as `{}` would accept a body that is not JSON at all.
pub fn parse_json(bytes: &[u8]) -> Result<Value, ErrorResponse> {
    if bytes.is_empty() {
        return Ok(Value::Object(JsonMap::new()));
    }
    serde_json::from_slice(bytes)
        .map_err(|e| ErrorResponse::bad_request(format!("the request body is not valid JSON: {e}")))
}

/// Serializes a wire value into an object, dropping the given keys.
pub fn fields<T: Serialize>(value: &T, drop: &[&str]) -> JsonMap {
    let mut map = match serde_json::to_value(value) {
        Ok(Value::Object(map)) => map,
        _ => JsonMap::new(),
    };
    for key in drop {
        map.remove(*key);
    }
    map
}

/// Round-trips an object through the wire response type `T`.
///
/// # Errors
/// 400 when the object does not fit `T` (e.g. a patch left it inconsistent).
pub fn normalize<T: Serialize + DeserializeOwned>(
    object: JsonMap,
) -> Result<JsonMap, ErrorResponse> {
    let typed: T = serde_json::from_value(Value::Object(object))
        .map_err(|e| ErrorResponse::bad_request(format!("invalid object after update: {e}")))?;
    Ok(fields(&typed, &[]))
}

/// Deep-merges `patch` into `target`: objects merge recursively, anything else replaces, nulls are ignored.
pub fn merge(target: &mut JsonMap, patch: &JsonMap) {
    for (key, value) in patch {
        if value.is_null() {
            continue;
        }
        match (target.get_mut(key), value) {
            (Some(Value::Object(inner)), Value::Object(p)) => merge(inner, p),
            _ => {
                target.insert(key.clone(), strip_nulls(value.clone()));
            }
        }
    }
}

fn strip_nulls(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k, strip_nulls(v)))
                .collect(),
        ),
        other => other,
    }
}

/// Checks that a string field is not empty (`minLength: 1`).
///
/// # Errors
/// 400 when it is empty.
pub fn non_empty(field: &str, value: &str) -> Result<(), ErrorResponse> {
    if value.is_empty() {
        Err(ErrorResponse::bad_request(format!(
            "`{field}` must not be empty"
        )))
    } else {
        Ok(())
    }
}

/// Checks that a number lies in `min..=max`.
///
/// # Errors
/// 400 when it does not.
pub fn in_range(field: &str, value: f64, min: f64, max: f64) -> Result<(), ErrorResponse> {
    if (min..=max).contains(&value) {
        Ok(())
    } else {
        Err(ErrorResponse::bad_request(format!(
            "`{field}` must be between {min} and {max}, got {value}"
        )))
    }
}

/// The live record of a kind with this id, if the caller's org owns it.
///
/// # Errors
/// 400 for an id that is not a UUID, 404 when there is no live object, 403 when another org owns it.
pub fn visible<'a>(
    store: &'a Store,
    caller: &Caller,
    kind: Collection,
    id: &str,
) -> Result<&'a Record, ErrorResponse> {
    let id = Id::parse(id).map_err(|e| ErrorResponse::bad_request(e.to_string()))?;
    match store.get(kind, id.as_str()) {
        None => Err(ErrorResponse::not_found(format!(
            "{} `{id}` not found",
            kind.api_name()
        ))),
        Some(record) if record.org_id != caller.org_id => Err(ErrorResponse::forbidden(format!(
            "missing permission on {} `{id}`",
            kind.api_name()
        ))),
        Some(record) => Ok(record),
    }
}

/// The org that owns an object referenced by type and id (ACLs, views, env vars).
///
/// Kinds the emulator stores (experiments, datasets, prompts and functions included) must
/// exist; other object types (prompt sessions...) are assumed to be the caller's.
///
/// # Errors
/// 400 when a stored kind has no such object, 403 when another org owns it.
pub fn object_org(
    store: &Store,
    caller: &Caller,
    object_type: &str,
    object_id: &str,
) -> Result<String, ErrorResponse> {
    let kind = match object_type {
        "organization" => Collection::Organization,
        "project" | "project_log" => Collection::Project,
        "group" => Collection::Group,
        "role" => Collection::Role,
        "experiment" => Collection::Experiment,
        "dataset" => Collection::Dataset,
        "prompt" => Collection::Prompt,
        "function" => Collection::Function,
        _ => return Ok(caller.org_id.clone()),
    };
    match store.get(kind, object_id) {
        None => Err(ErrorResponse::bad_request(format!(
            "{object_type} `{object_id}` does not exist"
        ))),
        Some(record) if record.org_id != caller.org_id => Err(ErrorResponse::forbidden(format!(
            "missing permission on {object_type} `{object_id}`"
        ))),
        Some(record) => Ok(record.org_id.clone()),
    }
}

/// The live project with this id in the caller's org.
///
/// # Errors
/// 400 when it does not exist, 403 when another org owns it.
pub fn project(store: &Store, caller: &Caller, project_id: &Id) -> Result<Record, ErrorResponse> {
    object_org(store, caller, "project", project_id.as_str())?;
    store
        .get(Collection::Project, project_id.as_str())
        .cloned()
        .ok_or_else(|| ErrorResponse::bad_request(format!("project `{project_id}` does not exist")))
}

// ---------------------------------------------------------------------------------------------
// Operations
// ---------------------------------------------------------------------------------------------

/// POST or PUT a body.
///
/// # Errors
/// 400 for an invalid body, 403 for another org, 500 never.
pub fn create(
    store: &mut Store,
    caller: &Caller,
    spec: &Endpoint,
    body: &Value,
    mode: Mode,
    forced_id: Option<String>,
) -> Result<JsonMap, ErrorResponse> {
    let draft = (spec.create)(store, caller, body)?;
    let probe = Record {
        seq: 0,
        org_id: draft.org_id.clone(),
        deleted: false,
        secret: None,
        principal: None,
        service_account: false,
        object: draft.fields.clone(),
    };
    let existing = natural_key_in(&store.profile, spec.kind, &probe)
        .and_then(|key| store.table(spec.kind).get_by_key(&key))
        .cloned()
        // The answer of S11 where create-or-return is not atomic: two POSTs of one name that
        // cross both create, as every POST does here.
        .filter(|_| {
            !(mode == Mode::Post
                && spec.kind == Collection::EnvVar
                && store.profile.env_var_post_duplicates)
        });
    match (existing, mode) {
        // The answer of E3 where an existing slug is an error rather than returned.
        (Some(_), Mode::Post)
            if spec.kind == Collection::Environment
                && store.profile.environment_create_conflicts =>
        {
            Err(ErrorResponse {
                status: axum::http::StatusCode::CONFLICT,
                message: "an environment with this slug already exists".into(),
            })
        }
        (Some(existing), Mode::Post) => Ok(existing.object),
        (Some(existing), Mode::Put) => {
            let mut object = draft.fields;
            for group in spec.server {
                for field in group.fields() {
                    if let Some(value) = existing.object.get(*field)
                        && !object.contains_key(*field)
                    {
                        object.insert((*field).to_owned(), value.clone());
                    }
                }
            }
            let secret = match draft.secret {
                Some(secret) => {
                    stamp_secret(store, caller, spec, &mut object, &secret);
                    Some(secret)
                }
                None => existing.secret.clone(),
            };
            if spec.server.contains(&Server::UpdatedAt) {
                object.insert("updated_at".into(), Value::String(store.clock.now()));
            }
            let object = (spec.normalize)(object)?;
            store.update(spec.kind, existing.id(), object.clone(), secret);
            Ok(object)
        }
        (None, _) => {
            let mut object = draft.fields;
            let id = forced_id.unwrap_or_else(|| store.clock.new_id());
            let now = store.clock.now();
            for group in spec.server {
                let value = match group {
                    Server::Id => Value::String(id.clone()),
                    Server::OrgId => Value::String(draft.org_id.clone()),
                    Server::Created | Server::UpdatedAt => Value::String(now.clone()),
                    Server::UserId => Value::String(caller.user_id.clone()),
                    Server::Position => Value::String(position(store, spec.kind)),
                    Server::SecretCategory => Value::String("env_var".into()),
                    Server::Secret => continue,
                };
                for field in group.fields() {
                    object.entry((*field).to_owned()).or_insert(value.clone());
                }
            }
            if let Some(secret) = &draft.secret {
                stamp_secret(store, caller, spec, &mut object, secret);
            }
            let object = (spec.normalize)(object)?;
            store.insert(
                spec.kind,
                Record {
                    seq: 0,
                    org_id: draft.org_id,
                    deleted: false,
                    secret: draft.secret,
                    principal: None,
                    service_account: false,
                    object: object.clone(),
                },
            );
            Ok(object)
        }
    }
}

fn stamp_secret(
    store: &mut Store,
    caller: &Caller,
    spec: &Endpoint,
    object: &mut JsonMap,
    secret: &str,
) {
    if spec.server.contains(&Server::Secret) {
        object.insert("preview_secret".into(), Value::String(preview(secret)));
        object.insert("secret_updated_at".into(), Value::String(store.clock.now()));
        object.insert(
            "secret_updated_by_user_id".into(),
            Value::String(caller.user_id.clone()),
        );
    }
}

fn position(store: &Store, kind: Collection) -> String {
    // A LexoRank-like sort key: increasing with creation, opaque to clients.
    format!("0|h{:06}:", store.table(kind).len() + 1)
}

/// GET one object.
///
/// # Errors
/// See [`visible`].
pub fn get(
    store: &Store,
    caller: &Caller,
    spec: &Endpoint,
    id: &str,
) -> Result<JsonMap, ErrorResponse> {
    visible(store, caller, spec.kind, id).map(|r| r.object.clone())
}

/// GET a list, newest first, filtered and paginated.
///
/// # Errors
/// 400 for invalid parameters, 403 for another org's name.
pub fn list(
    store: &Store,
    caller: &Caller,
    spec: &Endpoint,
    params: &Params,
) -> Result<Vec<JsonMap>, ErrorResponse> {
    if !caller.list_org_name(store, params.one("org_name")?)? {
        return Ok(Vec::new());
    }
    let page = params.page_for(&store.profile, spec.kind.path())?;
    let ids = params.uuids("ids")?;
    let name = if spec.name_param.is_empty() {
        None
    } else {
        params.one(spec.name_param)?.map(str::to_owned)
    };
    let mut constraints = (spec.filters)(params)?;
    // K7: the real API lists only the caller's own API keys, even for an org owner.
    if spec.kind == Collection::ApiKey && store.profile.own_api_keys_only {
        constraints.push(("user_id", vec![caller.user_id.clone()]));
    }
    if spec.project_scoped {
        if let Some(project_id) = params.uuid("project_id")? {
            constraints.push(("project_id", vec![project_id]));
        }
        if let Some(project_name) = params.one("project_name")? {
            let id = store
                .table(Collection::Project)
                .live()
                .find(|p| p.org_id == caller.org_id && p.str_field("name") == project_name)
                .map(|p| p.id().to_owned());
            constraints.push(("project_id", id.into_iter().collect()));
        }
    }
    let table = store.table(spec.kind);
    // Soft-deleted objects stay listed, with `deleted_at`, when the profile says so (P9).
    let with_deleted = store.profile.lists_show_soft_deleted && spec.kind.has_deleted_at();
    let items: Vec<&Record> = table
        .newest_first()
        .filter(|r| !r.deleted || with_deleted)
        .filter(|r| r.org_id == caller.org_id)
        .filter(|r| ids.is_empty() || ids.iter().any(|id| id == r.id()))
        .filter(|r| name.as_deref().is_none_or(|n| r.str_field("name") == n))
        .filter(|r| {
            constraints.iter().all(|(field, accepted)| {
                let value = r.object.get(*field).and_then(Value::as_str).unwrap_or("");
                accepted.iter().any(|a| a == value)
            })
        })
        .collect();
    // Functions and prompts are versioned: `version=` answers each match as it was at that
    // version (its `_xact_id`), and leaves out those that never had it.
    let version = match spec.kind {
        Collection::Function | Collection::Prompt => params.one("version")?,
        _ => None,
    };
    Ok(page
        .apply(table, items)
        .into_iter()
        .filter_map(|r| match version {
            None => Some(r.object.clone()),
            Some(v) => store.version_of(r.id(), v).cloned(),
        })
        .collect())
}

/// PATCH an object.
///
/// # Errors
/// As [`visible`]; 400 for an invalid body or a rename onto another object's natural key.
pub fn patch(
    store: &mut Store,
    caller: &Caller,
    spec: &Endpoint,
    id: &str,
    body: &Value,
) -> Result<JsonMap, ErrorResponse> {
    let record = visible(store, caller, spec.kind, id)?.clone();
    let patched = (spec.patch)(store, caller, &record, body)?;
    let mut object = patched.object;
    if object.get("secret_updated_at").is_some_and(Value::is_null) {
        // A patch function's way to say the PATCH moves the secret's time (profile, S10). A
        // PATCH in the same millisecond as the last write still moves it.
        let before = record
            .object
            .get("secret_updated_at")
            .and_then(Value::as_str);
        let mut now = store.clock.now();
        while before == Some(now.as_str()) {
            std::thread::yield_now();
            now = store.clock.now();
        }
        object.insert("secret_updated_at".into(), Value::String(now));
    }
    let secret = match patched.secret {
        Some(secret) => {
            stamp_secret(store, caller, spec, &mut object, &secret);
            Some(secret)
        }
        None => record.secret.clone(),
    };
    if spec.server.contains(&Server::UpdatedAt) {
        object.insert("updated_at".into(), Value::String(store.clock.now()));
    }
    let object = (spec.normalize)(object)?;
    let probe = Record {
        object: object.clone(),
        ..record.clone()
    };
    if let Some(key) = natural_key_in(&store.profile, spec.kind, &probe)
        && let Some(other) = store.table(spec.kind).get_by_key(&key)
        && other.id() != record.id()
    {
        return Err(ErrorResponse::bad_request(format!(
            "another {} with the same name already exists",
            spec.kind.api_name()
        )));
    }
    store.update(spec.kind, record.id(), object.clone(), secret);
    Ok(object)
}

/// DELETE an object; returns it as it was, with `deleted_at` where the kind has it.
///
/// # Errors
/// See [`visible`].
pub fn delete(
    store: &mut Store,
    caller: &Caller,
    spec: &Endpoint,
    id: &str,
) -> Result<JsonMap, ErrorResponse> {
    let record = visible(store, caller, spec.kind, id)?.clone();
    if record.id() == caller.credential_id {
        // An emulator choice: a client cannot lock itself out by deleting its own credential.
        return Err(ErrorResponse::bad_request(
            "cannot delete the credential this request is authenticated with",
        ));
    }
    let object = store.delete(spec.kind, record.id()).ok_or_else(|| {
        ErrorResponse::not_found(format!("{} `{id}` not found", spec.kind.api_name()))
    })?;
    (spec.on_delete)(store, &record);
    Ok(object)
}

/// No extra list filters.
pub fn no_filters(_: &Params) -> Result<Constraints, ErrorResponse> {
    Ok(Vec::new())
}

/// Nothing to cascade.
pub fn no_cascade(_: &mut Store, _: &Record) {}
