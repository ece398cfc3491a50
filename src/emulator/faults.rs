//! Test controls applied around every API request: injected latency, fault rules (an error
//! status, 429 with `Retry-After`, a dropped connection, a delay, an error echoing the request,
//! or a dropped connection or error status after the request was served (a lost answer); on every Nth matching request, on a
//! seeded random fraction, or always, optionally limited to a method, a path pattern and a number
//! of times), the request log, and CORS preflight answers.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use super::AppState;
use super::error::json_error;
use super::store::{Collection, splitmix64};
use crate::api::wire::Id;

/// What an injected fault does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum FaultAction {
    /// Answer with this status and `{"error": "injected fault"}`.
    Status { status: u16 },
    /// Answer 429 with `Retry-After: <retry_after_secs>`.
    RateLimit {
        #[serde(default = "one")]
        retry_after_secs: u64,
    },
    /// Close the connection without a complete response.
    Drop,
    /// Wait this long, then answer normally (for client timeouts).
    Delay { ms: u64 },
    /// Answer with this status and an error message that repeats the request, its
    /// `Authorization` header and body included, as some servers and proxies do on 400 and 500:
    /// for proving that nothing secret a request carried reaches bt-gitops's outputs.
    Echo { status: u16 },
    /// Run the request (a write lands), then close the connection without its answer: what a
    /// client sees when its request timed out after the server acted on it.
    DropAfter,
    /// Run the request (a write lands), then answer this status instead of its answer, as a
    /// gateway that timed out waiting for the server does (502, 504).
    StatusAfter { status: u16 },
}

fn one() -> u64 {
    1
}

/// A fault rule. Without `every_nth` and `fraction` it fires on every matching request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaultRule {
    pub action: FaultAction,
    /// Only requests with this method (e.g. `POST`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// Only paths matching this pattern, where `*` matches any run of characters (e.g. `/v1/project*`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Fire on the Nth, 2Nth, ... matching request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub every_nth: Option<u64>,
    /// Fire on this fraction of matching requests, drawn from a generator seeded with `seed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fraction: Option<f64>,
    /// The seed for `fraction` (default 0), so a run is reproducible.
    #[serde(default)]
    pub seed: u64,
    /// Fire at most this many times.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub times: Option<u64>,
}

impl FaultRule {
    /// A rule that always applies `action`.
    pub fn new(action: FaultAction) -> FaultRule {
        FaultRule {
            action,
            method: None,
            path: None,
            every_nth: None,
            fraction: None,
            seed: 0,
            times: None,
        }
    }

    /// Only for this method.
    #[must_use]
    pub fn with_method(mut self, method: &str) -> FaultRule {
        self.method = Some(method.to_ascii_uppercase());
        self
    }

    /// Only for paths matching this `*` pattern.
    #[must_use]
    pub fn with_path(mut self, pattern: &str) -> FaultRule {
        self.path = Some(pattern.to_owned());
        self
    }

    /// On every Nth matching request.
    #[must_use]
    pub fn every_nth(mut self, n: u64) -> FaultRule {
        self.every_nth = Some(n);
        self
    }

    /// On a seeded random fraction of matching requests.
    #[must_use]
    pub fn with_fraction(mut self, fraction: f64, seed: u64) -> FaultRule {
        self.fraction = Some(fraction);
        self.seed = seed;
        self
    }

    /// At most this many times.
    #[must_use]
    pub fn times(mut self, times: u64) -> FaultRule {
        self.times = Some(times);
        self
    }

    fn matches(&self, method: &str, path: &str) -> bool {
        self.method
            .as_deref()
            .is_none_or(|m| m.eq_ignore_ascii_case(method))
            && self.path.as_deref().is_none_or(|p| glob(p, path))
    }
}

/// Matches `text` against a pattern where `*` is any run of characters.
pub fn glob(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let mut rest = text;
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            match rest.strip_prefix(part) {
                Some(r) => rest = r,
                None => return false,
            }
        } else if i == parts.len() - 1 {
            return rest.ends_with(part);
        } else {
            match rest.find(part) {
                Some(at) => rest = &rest[at + part.len()..],
                None => return false,
            }
        }
    }
    true
}

/// One entry of the request log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoggedRequest {
    /// Order of completion, from 1.
    pub seq: u64,
    pub method: String,
    pub path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
    /// The status answered; 0 when no response was delivered (a dropped connection, or a
    /// client that gave up first).
    pub status: u16,
    /// The injected fault, if one fired (`status`, `rate_limit` or `drop`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fault: Option<String>,
    /// Time spent answering, injected latency included.
    pub duration_ms: f64,
    /// The JSON body of a write request, as received. Kept in process only (tests read it
    /// through `EmuHandle::requests`): never served by the control endpoints, since a body may
    /// carry a secret.
    #[serde(skip)]
    pub body: Option<serde_json::Value>,
}

impl LoggedRequest {
    /// Whether the method changes state (POST, PUT, PATCH, DELETE).
    pub fn is_write(&self) -> bool {
        matches!(self.method.as_str(), "POST" | "PUT" | "PATCH" | "DELETE")
    }
}

#[derive(Debug, Clone)]
struct ActiveRule {
    rule: FaultRule,
    matched: u64,
    fired: u64,
    rng: u64,
}

/// Latency, fault rules and the request log.
#[derive(Debug, Default)]
pub struct Controls {
    latency: Duration,
    rules: Vec<ActiveRule>,
    log: Vec<LoggedRequest>,
    next_seq: u64,
}

impl Controls {
    /// The injected latency per request.
    pub fn latency(&self) -> Duration {
        self.latency
    }

    /// Sets the injected latency per request.
    pub fn set_latency(&mut self, latency: Duration) {
        self.latency = latency;
    }

    /// The fault rules.
    pub fn rules(&self) -> Vec<FaultRule> {
        self.rules.iter().map(|r| r.rule.clone()).collect()
    }

    /// Replaces the fault rules (their counters restart).
    pub fn set_rules(&mut self, rules: Vec<FaultRule>) {
        self.rules.clear();
        for rule in rules {
            self.add_rule(rule);
        }
    }

    /// Appends a fault rule.
    pub fn add_rule(&mut self, rule: FaultRule) {
        let rng = rule.seed ^ 0x5851_f42d_4c95_7f2d;
        self.rules.push(ActiveRule {
            rule,
            matched: 0,
            fired: 0,
            rng,
        });
    }

    /// The request log, oldest first.
    pub fn log(&self) -> &[LoggedRequest] {
        &self.log
    }

    /// Empties the request log.
    pub fn clear_log(&mut self) {
        self.log.clear();
    }

    fn decide(&mut self, method: &str, path: &str) -> Option<FaultAction> {
        for active in &mut self.rules {
            if !active.rule.matches(method, path)
                || active.rule.times.is_some_and(|t| active.fired >= t)
            {
                continue;
            }
            active.matched += 1;
            let fire = match (active.rule.every_nth, active.rule.fraction) {
                (Some(n), _) => n > 0 && active.matched % n == 0,
                (None, Some(p)) => {
                    let draw = (splitmix64(&mut active.rng) >> 11) as f64 / (1u64 << 53) as f64;
                    draw < p
                }
                (None, None) => true,
            };
            if fire {
                active.fired += 1;
                return Some(active.rule.action.clone());
            }
        }
        None
    }

    fn record(&mut self, mut entry: LoggedRequest) {
        self.next_seq += 1;
        entry.seq = self.next_seq;
        self.log.push(entry);
    }
}

/// A response body that fails at once, so the server aborts the connection.
struct Dropped;

impl HttpBody for Dropped {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, std::io::Error>>> {
        Poll::Ready(Some(Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionAborted,
            "injected dropped connection",
        ))))
    }
}

/// The response a fault answers with instead of the API's, or `None` when the API still answers.
fn injected(action: &FaultAction) -> Option<Response> {
    Some(match action {
        FaultAction::Status { status } => json_error(
            StatusCode::from_u16(*status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            "injected fault",
        ),
        FaultAction::RateLimit { retry_after_secs } => {
            let mut response = json_error(StatusCode::TOO_MANY_REQUESTS, "too many requests");
            if let Ok(value) = HeaderValue::from_str(&retry_after_secs.to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
            response
        }
        FaultAction::Drop => Response::new(Body::new(Dropped)),
        FaultAction::Delay { .. }
        | FaultAction::Echo { .. }
        | FaultAction::DropAfter
        | FaultAction::StatusAfter { .. } => return None,
    })
}

/// The answer of [`FaultAction::Echo`]: the request repeated in the error message.
async fn echo(status: u16, request: Request) -> Response {
    let auth = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let body = axum::body::to_bytes(request.into_body(), 1 << 20)
        .await
        .unwrap_or_default();
    json_error(
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        &format!(
            "cannot process request (Authorization: {auth}): {}",
            String::from_utf8_lossy(&body)
        ),
    )
}

fn fault_name(action: &FaultAction) -> &'static str {
    match action {
        FaultAction::Status { .. } => "status",
        FaultAction::RateLimit { .. } => "rate_limit",
        FaultAction::Drop => "drop",
        FaultAction::Delay { .. } => "delay",
        FaultAction::Echo { .. } => "echo",
        FaultAction::DropAfter => "drop_after",
        FaultAction::StatusAfter { .. } => "status_after",
    }
}

fn cors() -> Response {
    (
        StatusCode::OK,
        [
            (header::ACCESS_CONTROL_ALLOW_CREDENTIALS, "true"),
            (
                header::ACCESS_CONTROL_ALLOW_HEADERS,
                "Authorization, Content-Type, x-bt-org-name",
            ),
            (
                header::ACCESS_CONTROL_ALLOW_METHODS,
                "GET, POST, PUT, PATCH, DELETE, OPTIONS",
            ),
            (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
            (header::ACCESS_CONTROL_MAX_AGE, "86400"),
        ],
    )
        .into_response()
}

/// Answers a CORS preflight. On an object path (`/v1/<kind>/<id>`) the id must be a UUID (400)
/// of a live object (404), so that a deleted object is gone for every method.
fn preflight(state: &AppState, path: &str) -> Response {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let item = match segments.as_slice() {
        ["v1", collection, id] => Some((*collection, *id)),
        ["environment", id] => Some(("environment", *id)),
        _ => None,
    };
    if let Some((collection, id)) = item
        && let Some(kind) = Collection::from_api_name(collection)
        && !matches!(id, "members" | "batch_update" | "batch-update" | "list_org")
    {
        let Ok(id) = Id::parse(id) else {
            return json_error(StatusCode::BAD_REQUEST, &format!("`{id}` is not a UUID"));
        };
        if state.store().get(kind, id.as_str()).is_none() {
            return json_error(
                StatusCode::NOT_FOUND,
                &format!("{collection} `{id}` not found"),
            );
        }
    }
    cors()
}

/// Why a control request must be refused, if it must: the control plane reads every key and
/// secret and can reset the state, so it answers only requests addressed to a loopback name
/// (a DNS-rebinding page reaches the port under its own host name) that carry no Origin other
/// than a loopback one (a web page's cross-origin request, simple POSTs included, always does).
fn foreign_control_request(headers: &axum::http::HeaderMap) -> Option<&'static str> {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    if !is_loopback_authority(host) {
        return Some("the emulator's control endpoints answer only requests to a loopback host");
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        let origin = origin.to_str().unwrap_or("");
        let authority = origin.strip_prefix("http://").unwrap_or("");
        if !is_loopback_authority(authority) {
            return Some("the emulator's control endpoints refuse cross-origin requests");
        }
    }
    None
}

/// Whether `host[:port]` names this machine: `localhost` (or a name under it), `127.0.0.0/8` or
/// `[::1]`.
fn is_loopback_authority(authority: &str) -> bool {
    let host = match authority.strip_prefix('[') {
        Some(rest) => match rest.split_once(']') {
            Some((host, port)) if port.is_empty() || port.starts_with(':') => host,
            _ => return false,
        },
        None => authority.split(':').next().unwrap_or(""),
    };
    let host = host.to_ascii_lowercase();
    if host == "localhost" || host.ends_with(".localhost") {
        return true;
    }
    host.parse::<std::net::IpAddr>()
        .is_ok_and(|ip| ip.is_loopback())
}

/// The middleware: answers CORS preflights, then applies latency and faults and logs the request.
/// `/_emulator/` control requests pass through untouched and unlogged, once
/// `foreign_control_request` has let them.
pub async fn middleware(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    if path.starts_with("/_emulator/") || path == "/_emulator" {
        if let Some(refusal) = foreign_control_request(request.headers()) {
            return json_error(StatusCode::FORBIDDEN, refusal);
        }
        return next.run(request).await;
    }
    if method == Method::OPTIONS {
        return preflight(&state, &path);
    }
    let query = request.uri().query().map(str::to_owned);
    let (request, body) = captured_body(request).await;
    let (latency, fault) = {
        let mut controls = state.controls();
        let fault = controls.decide(method.as_str(), &path);
        (controls.latency, fault)
    };
    // The guard logs the request even when the client goes away before the answer (status 0).
    let mut guard = LogGuard {
        state: state.clone(),
        started: Instant::now(),
        entry: Some(LoggedRequest {
            seq: 0,
            method: method.to_string(),
            path,
            query,
            status: 0,
            fault: fault.as_ref().map(|f| fault_name(f).to_owned()),
            duration_ms: 0.0,
            body,
        }),
    };
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let response = match fault.as_ref().and_then(injected) {
        Some(response) => response,
        None if matches!(fault, Some(FaultAction::Echo { .. })) => {
            let status = match &fault {
                Some(FaultAction::Echo { status }) => *status,
                _ => 500,
            };
            echo(status, request).await
        }
        None => {
            if let Some(FaultAction::Delay { ms }) = &fault {
                tokio::time::sleep(Duration::from_millis(*ms)).await;
            }
            let answer = next.run(request).await;
            match &fault {
                Some(FaultAction::DropAfter) => Response::new(Body::new(Dropped)),
                Some(FaultAction::StatusAfter { status }) => json_error(
                    StatusCode::from_u16(*status).unwrap_or(StatusCode::GATEWAY_TIMEOUT),
                    "injected fault after the request was served",
                ),
                _ => answer,
            }
        }
    };
    if !matches!(fault, Some(FaultAction::Drop | FaultAction::DropAfter))
        && let Some(entry) = guard.entry.as_mut()
    {
        entry.status = response.status().as_u16();
    }
    drop(guard);
    response
}

/// The largest body the log keeps: what the JSON extractor accepts (axum's default limit).
const LOGGED_BODY_LIMIT: usize = 2 << 20;

/// Reads a write request's JSON body for the log and hands back an identical request. Only a
/// body with a `Content-Length` within [`LOGGED_BODY_LIMIT`] is read, so that what the handlers
/// see (and refuse) does not change; anything else passes through unread.
async fn captured_body(request: Request) -> (Request, Option<serde_json::Value>) {
    let write = matches!(
        *request.method(),
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    );
    let length = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if !write || !length.is_some_and(|n| n > 0 && n <= LOGGED_BODY_LIMIT) {
        return (request, None);
    }
    let (parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, LOGGED_BODY_LIMIT)
        .await
        .unwrap_or_default();
    let json = serde_json::from_slice(&bytes).ok();
    (Request::from_parts(parts, Body::from(bytes)), json)
}

/// Records its entry in the request log when dropped.
struct LogGuard {
    state: AppState,
    started: Instant,
    entry: Option<LoggedRequest>,
}

impl Drop for LogGuard {
    fn drop(&mut self) {
        if let Some(mut entry) = self.entry.take() {
            entry.duration_ms = self.started.elapsed().as_secs_f64() * 1000.0;
            self.state.controls().record(entry);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_matches_stars() {
        assert!(glob("/v1/project", "/v1/project"));
        assert!(!glob("/v1/project", "/v1/project/x"));
        assert!(glob("/v1/project*", "/v1/project/x"));
        assert!(glob("*/acl*", "/v1/acl/batch_update"));
        assert!(glob("/v1/*/x", "/v1/a/b/x"));
        assert!(!glob("/v1/*/x", "/v1/a/b/y"));
    }

    #[test]
    fn every_nth_and_times() {
        let mut c = Controls::default();
        c.add_rule(
            FaultRule::new(FaultAction::Status { status: 500 })
                .with_method("POST")
                .every_nth(2)
                .times(2),
        );
        let fired: Vec<bool> = (0..8)
            .map(|_| c.decide("POST", "/v1/x").is_some())
            .collect();
        assert_eq!(
            fired,
            [false, true, false, true, false, false, false, false]
        );
        assert!(c.decide("GET", "/v1/x").is_none());
    }

    #[test]
    fn fraction_is_reproducible() {
        let run = || {
            let mut c = Controls::default();
            c.add_rule(FaultRule::new(FaultAction::Drop).with_fraction(0.3, 42));
            (0..200).filter(|_| c.decide("GET", "/").is_some()).count()
        };
        let n = run();
        assert_eq!(n, run());
        assert!((30..90).contains(&n), "{n}");
    }
}
