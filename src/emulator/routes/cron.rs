//! `POST /automation/cron`: an export automation made through the API is registered with the
//! scheduler, with the token its runs use (outside `/v1` and outside the spec; Braintrust's
//! data-management docs, assumption A6). The emulator checks the body as strictly as it can
//! (an export automation of the caller's org, `cron.type` `btql_export`, a token of that org)
//! and records the registration in `Store::cron`; nothing lists it, as on the real API.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::post;
use serde_json::json;

use super::{Access, respond};
use crate::emulator::AppState;
use crate::emulator::error::ErrorResponse;
use crate::emulator::resource::{parse, parse_json};
use crate::vocab::{AUTOMATION_CRON_PATH, Collection};
use crate::wire::RegisterCron;

pub(super) fn routes() -> Router<AppState> {
    Router::new().route(AUTOMATION_CRON_PATH, post(register))
}

async fn register(
    State(st): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> axum::response::Response {
    respond(&st, &headers, Access::Write, |store, caller| {
        let req: RegisterCron = parse(&parse_json(&body)?)?;
        if req.cron.kind != "btql_export" {
            return Err(ErrorResponse::bad_request(format!(
                "unsupported cron type `{}`",
                req.cron.kind
            )));
        }
        let automation = store
            .get(Collection::ProjectAutomation, &req.automation_id)
            .filter(|a| a.org_id == caller.org_id)
            .ok_or_else(|| {
                ErrorResponse::bad_request(format!(
                    "automation `{}` does not exist",
                    req.automation_id
                ))
            })?;
        if automation
            .object
            .get("config")
            .and_then(|c| c.get("event_type"))
            .and_then(|e| e.as_str())
            != Some("btql_export")
        {
            return Err(ErrorResponse::bad_request(
                "only export automations (`btql_export`) are registered",
            ));
        }
        let credential = store
            .credential(&req.service_token)
            .filter(|(_, r)| r.org_id == caller.org_id)
            .map(|(_, r)| r.id().to_owned())
            .ok_or_else(|| {
                ErrorResponse::bad_request("`service_token` is not a valid token of this org")
            })?;
        store.cron.insert(req.automation_id.clone(), credential);
        Ok(json!({ "automation_id": req.automation_id }))
    })
}
