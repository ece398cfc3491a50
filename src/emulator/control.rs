//! The `/_emulator/` control endpoints, outside Braintrust's own paths and without auth:
//!
//! | method and path | effect |
//! |---|---|
//! | `GET /_emulator/requests` | the request log, oldest first (`[LoggedRequest]`) |
//! | `DELETE /_emulator/requests` | empty the request log |
//! | `GET /_emulator/faults` | the fault rules |
//! | `POST /_emulator/faults` | append one rule (a `FaultRule` body) |
//! | `PUT /_emulator/faults` | replace all rules (an array body) |
//! | `DELETE /_emulator/faults` | remove all rules |
//! | `GET`, `POST /_emulator/latency` | read or set `{"ms": N}` injected before every API request |
//! | `GET /_emulator/state` | the whole state, as the `--state` file holds it (secrets included) |
//! | `POST /_emulator/reset` | put the state back as it was right after seeding (or loading) |
//! | `POST /_emulator/objects` | store one object as given, without validation (a `RawObject` body); answers `{"id": ...}` |
//!
//! Only requests addressed to a loopback host (`localhost`, `127.0.0.1`, `[::1]`) and carrying no
//! Origin but a loopback one get here: the middleware answers others 403, so a web page cannot
//! reach these endpoints through DNS rebinding or a cross-origin POST.

use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::{Deserialize, Serialize};

use super::AppState;
use super::error::json_error;
use super::faults::FaultRule;

/// The body of `POST /_emulator/objects`: an object of org `org` stored as given (see
/// `seed::insert_raw`), so that lists hold what our wire types cannot decode.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawObject {
    pub org: String,
    pub kind: super::store::Collection,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub body: serde_json::Value,
}

/// The body of `/_emulator/latency`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Latency {
    pub ms: u64,
}

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/_emulator/requests", get(requests).delete(clear_requests))
        .route(
            "/_emulator/faults",
            get(faults)
                .post(add_fault)
                .put(set_faults)
                .delete(clear_faults),
        )
        .route("/_emulator/latency", get(latency).post(set_latency))
        .route("/_emulator/state", get(state))
        .route("/_emulator/reset", axum::routing::post(reset))
        .route("/_emulator/objects", axum::routing::post(raw_object))
}

fn bad(e: serde_json::Error) -> Response {
    json_error(
        StatusCode::BAD_REQUEST,
        &format!("invalid control body: {e}"),
    )
}

async fn requests(State(st): State<AppState>) -> Response {
    axum::Json(st.controls().log().to_vec()).into_response()
}

async fn clear_requests(State(st): State<AppState>) -> StatusCode {
    st.controls().clear_log();
    StatusCode::NO_CONTENT
}

async fn faults(State(st): State<AppState>) -> Response {
    axum::Json(st.controls().rules()).into_response()
}

async fn add_fault(State(st): State<AppState>, body: Bytes) -> Response {
    match serde_json::from_slice::<FaultRule>(&body) {
        Ok(rule) => {
            st.controls().add_rule(rule);
            StatusCode::NO_CONTENT.into_response()
        }
        Err(e) => bad(e),
    }
}

async fn set_faults(State(st): State<AppState>, body: Bytes) -> Response {
    match serde_json::from_slice::<Vec<FaultRule>>(&body) {
        Ok(rules) => {
            st.controls().set_rules(rules);
            StatusCode::NO_CONTENT.into_response()
        }
        Err(e) => bad(e),
    }
}

async fn clear_faults(State(st): State<AppState>) -> StatusCode {
    st.controls().set_rules(Vec::new());
    StatusCode::NO_CONTENT
}

async fn latency(State(st): State<AppState>) -> Response {
    let ms = st.controls().latency().as_millis() as u64;
    axum::Json(Latency { ms }).into_response()
}

async fn set_latency(State(st): State<AppState>, body: Bytes) -> Response {
    match serde_json::from_slice::<Latency>(&body) {
        Ok(Latency { ms }) => {
            st.controls().set_latency(Duration::from_millis(ms));
            StatusCode::NO_CONTENT.into_response()
        }
        Err(e) => bad(e),
    }
}

async fn state(State(st): State<AppState>) -> Response {
    let snapshot = st.store().snapshot();
    axum::Json(snapshot).into_response()
}

async fn reset(State(st): State<AppState>) -> Response {
    match st.reset() {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => json_error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}

async fn raw_object(State(st): State<AppState>, body: Bytes) -> Response {
    let raw = match serde_json::from_slice::<RawObject>(&body) {
        Ok(raw) => raw,
        Err(e) => return bad(e),
    };
    let mut store = st.store();
    let Some(org_id) = store.org_by_name(&raw.org).map(|o| o.id().to_owned()) else {
        return json_error(
            StatusCode::NOT_FOUND,
            &format!("no org named `{}`", raw.org),
        );
    };
    let object = super::seed::SeedObject {
        kind: raw.kind,
        id: raw.id,
        body: raw.body,
        raw: true,
    };
    match super::seed::insert_raw(&mut store, &org_id, &object) {
        Ok(id) => axum::Json(serde_json::json!({ "id": id })).into_response(),
        Err(e) => json_error(StatusCode::BAD_REQUEST, &e.message),
    }
}
