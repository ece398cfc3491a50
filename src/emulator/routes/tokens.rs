//! `service_token` (create needs an org-owner service-token caller; names are not unique; the raw
//! key is returned once) and `api_key` (list, get and delete only).

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::{post, put};
use serde_json::Value;

use super::crud::{delete_one, get_one, list};
use super::{Access, respond};
use crate::api::wire;
use crate::emulator::AppState;
use crate::emulator::accounts;
use crate::emulator::auth::Caller;
use crate::emulator::error::ErrorResponse;
use crate::emulator::resource::{
    self, Draft, Endpoint, Patched, no_cascade, no_filters, normalize, parse, parse_json,
};
use crate::emulator::store::{Collection, Record, Store};

fn no_create(_: &Store, _: &Caller, _: &Value) -> Result<Draft, ErrorResponse> {
    Err(ErrorResponse::bad_request(
        "this kind cannot be created this way",
    ))
}

fn no_patch(_: &Store, _: &Caller, _: &Record, _: &Value) -> Result<Patched, ErrorResponse> {
    Err(ErrorResponse::bad_request("this kind cannot be patched"))
}

static SERVICE_TOKEN: Endpoint = Endpoint {
    kind: Collection::ServiceToken,
    put: false,
    name_param: "service_token_name",
    project_scoped: false,
    server: &[],
    create: no_create,
    patch: no_patch,
    normalize: normalize::<wire::ServiceToken>,
    filters: no_filters,
    on_delete: no_cascade,
};

static API_KEY: Endpoint = Endpoint {
    kind: Collection::ApiKey,
    put: false,
    name_param: "api_key_name",
    project_scoped: false,
    server: &[],
    create: no_create,
    patch: no_patch,
    normalize: normalize::<wire::ApiKey>,
    filters: no_filters,
    on_delete: no_cascade,
};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route(
            Collection::ServiceToken.path(),
            list(&SERVICE_TOKEN)
                .merge(post(|st, headers, body| create(st, headers, body, false)))
                .merge(put(|st, headers, body| create(st, headers, body, true)))
                .merge(axum::routing::delete(delete_by_body)),
        )
        .route(
            &super::item(Collection::ServiceToken),
            get_one(&SERVICE_TOKEN).merge(delete_one(&SERVICE_TOKEN)),
        )
        .route(Collection::ApiKey.path(), list(&API_KEY))
        .route(
            &super::item(Collection::ApiKey),
            get_one(&API_KEY).merge(delete_one(&API_KEY)),
        )
}

/// `POST` (always a new token) or `PUT` (rotates the token of the same account with the same name).
async fn create(
    State(st): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
    replace: bool,
) -> axum::response::Response {
    respond(&st, &headers, Access::Write, |store, caller| {
        let req: wire::CreateServiceToken = parse(&parse_json(&body)?)?;
        caller.check_org_name(req.org_name.as_deref())?;
        if !caller.may_create_service_tokens(store) {
            return Err(ErrorResponse::forbidden(
                "creating a service token requires an org-owner service token; user API keys are rejected",
            ));
        }
        let account = wire::Id::parse(&req.service_account_id)
            .ok()
            .and_then(|id| store.get(Collection::User, id.as_str()))
            .filter(|u| u.service_account && store.is_member(&caller.org_id, u.id()))
            .map(|u| u.id().to_owned())
            .ok_or_else(|| {
                ErrorResponse::bad_request(format!(
                    "service account `{}` does not exist",
                    req.service_account_id
                ))
            })?;
        let existing = replace
            .then(|| {
                store
                    .table(Collection::ServiceToken)
                    .live()
                    .find(|t| {
                        t.org_id == caller.org_id
                            && t.principal.as_deref() == Some(account.as_str())
                            && t.str_field("name") == req.name
                    })
                    .cloned()
            })
            .flatten();
        let (object, key) = match existing {
            Some(token) => accounts::rotate_service_token(store, &token),
            None => {
                accounts::create_service_token(store, &caller.org_id, &account, &req.name, None)
            }
        };
        let token: wire::ServiceToken = serde_json::from_value(Value::Object(object))
            .map_err(|e| ErrorResponse::internal(e.to_string()))?;
        Ok(wire::CreateServiceTokenOutput { token, key })
    })
}

async fn delete_by_body(
    State(st): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> axum::response::Response {
    respond(&st, &headers, Access::Write, |store, caller| {
        let req: wire::DeleteServiceToken = parse(&parse_json(&body)?)?;
        resource::delete(store, caller, &SERVICE_TOKEN, req.id.as_str())
    })
}
