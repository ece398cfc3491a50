//! Route builders for the common CRUD pattern, and the routes of every kind that uses it as is
//! (project, group, role, project_tag, project_score, project_automation, span_iframe,
//! mcp_server, env_var, environment) or with a twist (view: locator on reads and deletes;
//! ai_secret: delete by name).

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::routing::{MethodRouter, delete, get};

use super::{Access, respond};
use crate::api::wire::{self, ListResponse};
use crate::emulator::AppState;
use crate::emulator::endpoints;
use crate::emulator::error::ErrorResponse;
use crate::emulator::query::Params;
use crate::emulator::resource::{self, Endpoint, Mode, parse, parse_json, visible};
use crate::vocab::Collection;

/// `GET <collection>`: the list.
pub(crate) fn list(spec: &'static Endpoint) -> MethodRouter<AppState> {
    get(
        move |State(st): State<AppState>, headers: HeaderMap, RawQuery(q): RawQuery| async move {
            respond(&st, &headers, Access::Read, |store, caller| {
                let objects = resource::list(store, caller, spec, &Params::parse(q.as_deref()))?;
                Ok(ListResponse { objects })
            })
        },
    )
}

/// `POST` or `PUT <collection>`: create-or-return / create-or-replace.
pub(crate) fn create(spec: &'static Endpoint, mode: Mode) -> MethodRouter<AppState> {
    let handler = move |State(st): State<AppState>, headers: HeaderMap, body: Bytes| async move {
        respond(&st, &headers, Access::Write, |store, caller| {
            resource::create(store, caller, spec, &parse_json(&body)?, mode, None)
        })
    };
    match mode {
        Mode::Post => axum::routing::post(handler),
        Mode::Put => axum::routing::put(handler),
    }
}

/// `GET <collection>/{id}`.
pub(crate) fn get_one(spec: &'static Endpoint) -> MethodRouter<AppState> {
    get(
        move |State(st): State<AppState>, headers: HeaderMap, Path(id): Path<String>| async move {
            respond(&st, &headers, Access::Read, |store, caller| {
                resource::get(store, caller, spec, &id)
            })
        },
    )
}

/// `PATCH <collection>/{id}`.
pub(crate) fn patch_one(spec: &'static Endpoint) -> MethodRouter<AppState> {
    axum::routing::patch(
        move |State(st): State<AppState>,
              headers: HeaderMap,
              Path(id): Path<String>,
              body: Bytes| async move {
            respond(&st, &headers, Access::Write, |store, caller| {
                resource::patch(store, caller, spec, &id, &parse_json(&body)?)
            })
        },
    )
}

/// `DELETE <collection>/{id}`.
pub(crate) fn delete_one(spec: &'static Endpoint) -> MethodRouter<AppState> {
    delete(
        move |State(st): State<AppState>, headers: HeaderMap, Path(id): Path<String>| async move {
            respond(&st, &headers, Access::Write, |store, caller| {
                resource::delete(store, caller, spec, &id)
            })
        },
    )
}

/// The standard routes of a kind: list, POST, PUT if it has one, GET, PATCH, DELETE.
pub(crate) fn standard(spec: &'static Endpoint) -> Router<AppState> {
    let mut routes = list(spec).merge(create(spec, Mode::Post));
    if spec.put {
        routes = routes.merge(create(spec, Mode::Put));
    }
    Router::new().route(spec.kind.path(), routes).route(
        &super::item(spec.kind),
        get_one(spec).merge(patch_one(spec)).merge(delete_one(spec)),
    )
}

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .merge(standard(&endpoints::PROJECT))
        .merge(standard(&endpoints::GROUP))
        .merge(standard(&endpoints::ROLE))
        .merge(standard(&endpoints::PROJECT_TAG))
        .merge(standard(&endpoints::PROJECT_SCORE))
        .merge(standard(&endpoints::PROJECT_AUTOMATION))
        .merge(standard(&endpoints::SPAN_IFRAME))
        .merge(standard(&endpoints::MCP_SERVER))
        .merge(standard(&endpoints::ENV_VAR))
        .merge(standard(&endpoints::ENVIRONMENT))
        .route(
            Collection::AiSecret.path(),
            list(&endpoints::AI_SECRET)
                .merge(create(&endpoints::AI_SECRET, Mode::Post))
                .merge(create(&endpoints::AI_SECRET, Mode::Put))
                .merge(delete(ai_secret_delete_by_name)),
        )
        .route(
            &super::item(Collection::AiSecret),
            get_one(&endpoints::AI_SECRET)
                .merge(patch_one(&endpoints::AI_SECRET))
                .merge(delete_one(&endpoints::AI_SECRET)),
        )
        .route(
            Collection::View.path(),
            list(&endpoints::VIEW)
                .merge(create(&endpoints::VIEW, Mode::Post))
                .merge(create(&endpoints::VIEW, Mode::Put)),
        )
        .route(
            &super::item(Collection::View),
            get(view_get)
                .merge(patch_one(&endpoints::VIEW))
                .merge(delete(view_delete)),
        )
}

/// `DELETE /v1/ai_secret` with body `{name, org_name?}`.
async fn ai_secret_delete_by_name(
    State(st): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> axum::response::Response {
    respond(&st, &headers, Access::Write, |store, caller| {
        let req: wire::DeleteAiSecret = parse(&parse_json(&body)?)?;
        caller.check_org_name(req.org_name.as_deref())?;
        let id = store
            .table(endpoints::AI_SECRET.kind)
            .live()
            .find(|r| r.org_id == caller.org_id && r.str_field("name") == req.name)
            .map(|r| r.id().to_owned())
            .ok_or_else(|| {
                ErrorResponse::not_found(format!("ai_secret `{}` not found", req.name))
            })?;
        resource::delete(store, caller, &endpoints::AI_SECRET, &id)
    })
}

/// `GET /v1/view/{id}?object_type=&object_id=` (both required).
async fn view_get(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> axum::response::Response {
    respond(&st, &headers, Access::Read, |store, caller| {
        let params = Params::parse(q.as_deref());
        let object_type = params
            .enum_value::<wire::AclObjectType>("object_type")?
            .ok_or_else(|| {
                ErrorResponse::bad_request("query parameter `object_type` is required")
            })?;
        let object_id = params
            .uuid("object_id")?
            .ok_or_else(|| ErrorResponse::bad_request("query parameter `object_id` is required"))?;
        endpoints::check_view_locator(store, caller, &object_type, &object_id)?;
        Ok(visible(store, caller, endpoints::VIEW.kind, &id)?
            .object
            .clone())
    })
}

/// `DELETE /v1/view/{id}` with the locator body `{object_type, object_id}`.
async fn view_delete(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> axum::response::Response {
    respond(&st, &headers, Access::Write, |store, caller| {
        let req: wire::DeleteView = parse(&parse_json(&body)?)?;
        let object_type = serde_json::to_value(req.object_type)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        endpoints::check_view_locator(store, caller, &object_type, req.object_id.as_str())?;
        resource::delete(store, caller, &endpoints::VIEW, &id)
    })
}
