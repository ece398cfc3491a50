//! The HTTP surface: one router for Braintrust's own paths, built from the route files per kind
//! family, plus the `/_emulator/` controls. Every handler goes through [`respond`], which
//! authenticates, runs the operation under the store lock, persists after writes, and renders
//! the result as JSON.

use axum::Router;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Serialize;

use super::AppState;
use super::auth::{Caller, authenticate};
use super::error::ErrorResponse;
use super::store::Store;
use crate::vocab::Collection;

pub(crate) mod acl;
mod cron;
mod crud;
pub(crate) use crud::standard;
mod org;
mod tokens;

/// Whether an operation changes the store (and so must be persisted).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    Read,
    Write,
}

/// Authenticates, runs `op` under the store lock, persists after a successful write, renders JSON.
pub(crate) fn respond<T: Serialize>(
    state: &AppState,
    headers: &HeaderMap,
    access: Access,
    op: impl FnOnce(&mut Store, &Caller) -> Result<T, ErrorResponse>,
) -> Response {
    let shared = &state.0;
    let mut store = shared.store.lock().unwrap_or_else(|p| p.into_inner());
    let caller = match authenticate(&store, headers) {
        Ok(caller) => caller,
        Err(e) => return e.into_response(),
    };
    let value = match op(&mut store, &caller) {
        Ok(value) => value,
        Err(e) => return e.into_response(),
    };
    if access == Access::Write
        && let Some(path) = &shared.state_file
        && let Err(e) = store.save(path)
    {
        tracing::error!("{e}");
        return ErrorResponse::internal(e.to_string()).into_response();
    }
    drop(store);
    axum::Json(value).into_response()
}

/// The router for Braintrust's paths (without the controls and middleware).
pub(crate) fn api() -> Router<AppState> {
    Router::new()
        .route("/v1", get(hello))
        .route("/v1/", get(hello))
        .merge(org::routes())
        .merge(acl::routes())
        .merge(tokens::routes())
        .merge(cron::routes())
        .merge(crud::routes())
        .merge(crate::emulator::functions::routes())
}

async fn hello() -> &'static str {
    "Hello, World!"
}

/// The path of one object of a collection, for routing: `/v1/project_tag/{id}`.
fn item(collection: Collection) -> String {
    format!("{}/{{id}}", collection.path())
}
