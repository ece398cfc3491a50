//! `acl`: create-or-return by the full tuple, get and delete by id, delete by content, the
//! per-object list (with required `object_type` and `object_id`), `list_org` (a bare array; the
//! profile may leave ACLs on single objects out of it, R8), and the idempotent `batch_update`
//! (also served as `batch-update`, the spelling of the official Python client). ACLs are
//! immutable: there is no PUT or PATCH.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::routing::{get, post};
use serde_json::Value;

use super::crud::{delete_one, get_one, list};
use super::{Access, respond};
use crate::api::wire::{self, JsonMap};
use crate::emulator::AppState;
use crate::emulator::auth::Caller;
use crate::emulator::error::ErrorResponse;
use crate::emulator::query::Params;
use crate::emulator::resource::{
    self, Constraints, Draft, Endpoint, Mode, Patched, Server, fields, no_cascade, normalize,
    object_org, parse, parse_json,
};
use crate::emulator::store::{Collection, Record, Store, natural_key};
use crate::vocab::ACL_BATCH_UPDATE_PATH;

/// `acl` through the generic layer (create and reads only).
pub(crate) static ACL: Endpoint = Endpoint {
    kind: Collection::Acl,
    put: false,
    name_param: "",
    project_scoped: false,
    server: &[Server::Id, Server::Created],
    create: acl_create,
    patch: acl_patch,
    normalize: normalize::<wire::Acl>,
    filters: acl_filters_required,
    on_delete: no_cascade,
};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route(
            Collection::Acl.path(),
            list(&ACL)
                .merge(super::crud::create(&ACL, Mode::Post))
                .merge(axum::routing::delete(delete_by_content)),
        )
        .route(Collection::Acl.org_list(), get(list_org))
        .route(ACL_BATCH_UPDATE_PATH, post(batch_update))
        // The official Python client `braintrust-api` posts batches here (a hyphen, not the
        // spec's underscore); the same operation.
        .route("/v1/acl/batch-update", post(batch_update))
        .route(
            &super::item(Collection::Acl),
            get_one(&ACL).merge(delete_one(&ACL)),
        )
}

fn text<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// Checks an ACL item: exactly one of user/group, exactly one of permission/role,
/// `restrict_object_type` only with a permission, and every referenced principal in the org.
fn validate(store: &Store, caller: &Caller, item: &wire::AclItem) -> Result<Draft, ErrorResponse> {
    if item.user_id.is_some() == item.group_id.is_some() {
        return Err(ErrorResponse::bad_request(
            "an ACL needs exactly one of `user_id` and `group_id`",
        ));
    }
    if item.permission.is_some() == item.role_id.is_some() {
        return Err(ErrorResponse::bad_request(
            "an ACL needs exactly one of `permission` and `role_id`",
        ));
    }
    if item.restrict_object_type.is_some() && item.role_id.is_some() {
        return Err(ErrorResponse::bad_request(
            "`restrict_object_type` cannot be set alongside a `role_id`",
        ));
    }
    let org_id = object_org(
        store,
        caller,
        &text(&item.object_type),
        item.object_id.as_str(),
    )?;
    if let Some(user) = &item.user_id
        && !store.is_member(&org_id, user.as_str())
    {
        return Err(ErrorResponse::bad_request(format!(
            "user `{user}` is not a member of the organization"
        )));
    }
    for (kind, id) in [
        (Collection::Group, &item.group_id),
        (Collection::Role, &item.role_id),
    ] {
        if let Some(id) = id {
            match store.get(kind, id.as_str()) {
                Some(r) if r.org_id == org_id => {}
                _ => {
                    return Err(ErrorResponse::bad_request(format!(
                        "{} `{id}` does not exist",
                        kind.api_name()
                    )));
                }
            }
        }
    }
    let mut object = fields(item, &[]);
    object.insert("_object_org_id".into(), Value::String(org_id.clone()));
    Ok(Draft {
        org_id,
        fields: object,
        secret: None,
    })
}

fn acl_create(store: &Store, caller: &Caller, body: &Value) -> Result<Draft, ErrorResponse> {
    validate(store, caller, &parse::<wire::AclItem>(body)?)
}

fn acl_patch(_: &Store, _: &Caller, _: &Record, _: &Value) -> Result<Patched, ErrorResponse> {
    Err(ErrorResponse::bad_request("ACLs are immutable"))
}

fn acl_filters(params: &Params) -> Result<Constraints, ErrorResponse> {
    let mut constraints = Vec::new();
    if let Some(v) = params.enum_value::<wire::AclObjectType>("object_type")? {
        constraints.push(("object_type", vec![v]));
    }
    for field in ["object_id", "user_id", "group_id", "role_id"] {
        if let Some(v) = params.uuid(field)? {
            constraints.push((field, vec![v]));
        }
    }
    if let Some(v) = params.enum_value::<wire::Permission>("permission")? {
        constraints.push(("permission", vec![v]));
    }
    if let Some(v) = params.enum_value::<wire::AclObjectType>("restrict_object_type")? {
        constraints.push(("restrict_object_type", vec![v]));
    }
    Ok(constraints)
}

fn acl_filters_required(params: &Params) -> Result<Constraints, ErrorResponse> {
    for required in ["object_type", "object_id"] {
        if params.one(required)?.is_none() {
            return Err(ErrorResponse::bad_request(format!(
                "query parameter `{required}` is required"
            )));
        }
    }
    acl_filters(params)
}

/// The ACL for the list_org filters.
static ACL_ORG: Endpoint = Endpoint {
    filters: acl_filters,
    ..ACL
};

/// The list_org filters of a server that leaves out ACLs on single objects (R8).
fn acl_filters_org_level(params: &Params) -> Result<Constraints, ErrorResponse> {
    let mut constraints = acl_filters(params)?;
    let org_level = [
        wire::AclObjectType::Organization,
        wire::AclObjectType::Project,
        wire::AclObjectType::Group,
        wire::AclObjectType::Role,
        wire::AclObjectType::OrgMember,
        wire::AclObjectType::ProjectLog,
        wire::AclObjectType::OrgProject,
        wire::AclObjectType::OrgAuditLogs,
    ];
    constraints.push(("object_type", org_level.iter().map(text).collect()));
    Ok(constraints)
}

/// The ACL for the list_org filters, without ACLs on single experiments, datasets, prompts and
/// prompt sessions (the profile's `acl_list_org_omits_objects`, R8).
static ACL_ORG_LEVEL: Endpoint = Endpoint {
    filters: acl_filters_org_level,
    ..ACL
};

async fn list_org(
    State(st): State<AppState>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> axum::response::Response {
    respond(&st, &headers, Access::Read, |store, caller| {
        let endpoint = if store.profile.acl_list_org_omits_objects {
            &ACL_ORG_LEVEL
        } else {
            &ACL_ORG
        };
        let objects = resource::list(store, caller, endpoint, &Params::parse(q.as_deref()))?;
        // The spec shows a bare array; the profile may wrap it as the other lists are (P8).
        Ok(if store.profile.acl_list_org_envelope {
            serde_json::json!({ "objects": objects })
        } else {
            Value::Array(objects.into_iter().map(Value::Object).collect())
        })
    })
}

/// The live ACL with the same tuple as an item.
fn find(store: &Store, draft: &Draft) -> Option<Record> {
    let probe = Record {
        seq: 0,
        org_id: draft.org_id.clone(),
        deleted: false,
        secret: None,
        principal: None,
        service_account: false,
        object: draft.fields.clone(),
    };
    natural_key(Collection::Acl, &probe)
        .and_then(|key| store.table(Collection::Acl).get_by_key(&key).cloned())
}

async fn delete_by_content(
    State(st): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> axum::response::Response {
    respond(&st, &headers, Access::Write, |store, caller| {
        let item: wire::AclItem = parse(&parse_json(&body)?)?;
        let draft = validate(store, caller, &item)?;
        let existing =
            find(store, &draft).ok_or_else(|| ErrorResponse::not_found("no such ACL"))?;
        resource::delete(store, caller, &ACL, existing.id())
    })
}

async fn batch_update(
    State(st): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> axum::response::Response {
    respond(&st, &headers, Access::Write, |store, caller| {
        let req: wire::AclBatchUpdateRequest = parse(&parse_json(&body)?)?;
        let adds = req.add_acls.unwrap_or_default();
        let removes = req.remove_acls.unwrap_or_default();
        // Validate everything before changing anything.
        for item in &adds {
            validate(store, caller, item)?;
        }
        let remove_drafts = removes
            .iter()
            .map(|item| validate(store, caller, item))
            .collect::<Result<Vec<_>, _>>()?;
        let mut added_acls: Vec<JsonMap> = Vec::new();
        for item in &adds {
            let before = store.table(Collection::Acl).len();
            let body = serde_json::to_value(item).unwrap_or(Value::Null);
            let acl = resource::create(store, caller, &ACL, &body, Mode::Post, None)?;
            if store.table(Collection::Acl).len() > before {
                added_acls.push(acl);
            }
        }
        let mut removed_acls: Vec<JsonMap> = Vec::new();
        for draft in &remove_drafts {
            if let Some(existing) = find(store, draft)
                && let Some(object) = store.delete(Collection::Acl, existing.id())
            {
                removed_acls.push(object);
            }
        }
        Ok(serde_json::json!({ "added_acls": added_acls, "removed_acls": removed_acls }))
    })
}
