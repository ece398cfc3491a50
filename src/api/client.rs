//! The HTTP client: one base URL and key per org, bounded concurrency, retries, pagination, and
//! a count of the requests made. Requests follow what first-party clients do: no body on a
//! DELETE, no paging parameters where the spec declares none, no blind retry of a create that is
//! not idempotent, and a list that hands back a cursor twice is an error, not a loop.
//!
//! The key is sent only as a bearer token and never appears in errors or logs.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

pub use reqwest::Method;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::Semaphore;

use super::error::{ApiError, redact};
pub use super::retry::Created;
use super::retry::{RetryPolicy, parse_retry_after, retry, retry_checked};
use crate::vocab::Collection;

/// Largest page requested from list endpoints.
pub const PAGE_SIZE: usize = 1000;

/// How to reach one org's API.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Base URL without a trailing slash, e.g. `https://api.braintrust.dev`.
    pub base_url: String,
    pub api_key: String,
    /// Requests in flight at once.
    pub concurrency: usize,
    pub retry: RetryPolicy,
    pub timeout: Duration,
}

impl ClientConfig {
    #[must_use]
    pub fn new(base_url: &str, api_key: &str) -> ClientConfig {
        ClientConfig {
            base_url: base_url.trim_end_matches('/').to_owned(),
            api_key: api_key.to_owned(),
            concurrency: 16,
            retry: RetryPolicy::default(),
            timeout: Duration::from_secs(60),
        }
    }

    #[must_use]
    pub fn with_concurrency(mut self, concurrency: usize) -> ClientConfig {
        self.concurrency = concurrency.max(1);
        self
    }

    #[must_use]
    pub fn with_retry(mut self, retry: RetryPolicy) -> ClientConfig {
        self.retry = retry;
        self
    }
}

/// Why a base URL is refused.
#[derive(Debug, Clone, thiserror::Error)]
pub enum UrlError {
    #[error("`{0}` is not an http(s) URL")]
    NotHttp(String),
    #[error(
        "`{0}` uses plain http; bt-gitops sends API keys only over https (or to a loopback address)"
    )]
    Insecure(String),
}

/// Checks a base URL: https, or http to a loopback host (the emulator).
///
/// # Errors
/// When the URL is not http(s), or is plain http to a non-loopback host.
pub fn check_base_url(url: &str) -> Result<(), UrlError> {
    if url.starts_with("https://") && url.len() > "https://".len() {
        return Ok(());
    }
    let Some(rest) = url.strip_prefix("http://") else {
        return Err(UrlError::NotHttp(url.to_owned()));
    };
    let authority = rest.split('/').next().unwrap_or("");
    let host = if authority.starts_with('[') {
        authority
            .split(']')
            .next()
            .map_or("", |h| h.trim_start_matches('['))
    } else {
        authority.rsplit_once(':').map_or(authority, |(h, _)| h)
    };
    let loopback = host == "localhost"
        || host == "::1"
        || host
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|ip| ip.is_loopback());
    if loopback {
        Ok(())
    } else {
        Err(UrlError::Insecure(url.to_owned()))
    }
}

/// A client for one org. Cheap to clone; clones share the concurrency limit and counters.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    config: Arc<ClientConfig>,
    limit: Arc<Semaphore>,
    stats: Arc<Stats>,
}

/// Counters of one client.
#[derive(Debug, Default)]
pub struct Stats {
    pub requests: AtomicU64,
    pub retries: AtomicU64,
    pub failures: AtomicU64,
    /// Permits withheld from the concurrency limit after rate limiting (see `Client::slow_down`).
    pub withheld: AtomicU64,
    /// Successes since the last change of the limit.
    pub streak: AtomicU64,
    /// Responses that were `429 Too Many Requests`.
    pub rate_limited: AtomicU64,
}

impl Client {
    /// Builds a client.
    ///
    /// # Errors
    /// When the base URL is refused or the TLS stack cannot start.
    pub fn new(config: ClientConfig) -> Result<Client, anyhow::Error> {
        check_base_url(&config.base_url)?;
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .user_agent(concat!("bt-gitops/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Client {
            http,
            limit: Arc::new(Semaphore::new(config.concurrency)),
            config: Arc::new(config),
            stats: Arc::default(),
        })
    }

    #[must_use]
    pub fn base_url(&self) -> &str {
        &self.config.base_url
    }

    #[must_use]
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Adaptive slow-down: a 429 takes one permit out of the concurrency limit (down to one
    /// request at a time), so a rate-limited client sends fewer requests at once instead of
    /// retrying at full width.
    fn slow_down(&self) {
        let withheld = self.stats.withheld.load(Ordering::Relaxed);
        if (withheld as usize) + 1 < self.config.concurrency && self.limit.forget_permits(1) == 1 {
            self.stats.withheld.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(
                in_flight = self.config.concurrency - withheld as usize - 1,
                "rate limited: sending fewer requests at once"
            );
        }
        self.stats.streak.store(0, Ordering::Relaxed);
    }

    /// After a run of successes, gives one withheld permit back.
    fn speed_up(&self) {
        const STREAK: u64 = 20;
        if self.stats.withheld.load(Ordering::Relaxed) == 0 {
            return;
        }
        if self.stats.streak.fetch_add(1, Ordering::Relaxed) + 1 >= STREAK {
            self.stats.streak.store(0, Ordering::Relaxed);
            if self
                .stats
                .withheld
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |w| w.checked_sub(1))
                .is_ok()
            {
                self.limit.add_permits(1);
            }
        }
    }

    /// Whether a key preview the API shows could be this client's key. Lets the caller find its
    /// own principal without the key leaving the client. The preview's format is not documented
    /// (K8), so any form of a few leading characters, a hidden middle of characters a key does
    /// not hold (`…`, `...`, `***`, `•••`) and a few trailing characters is read: `sk…ijkl`,
    /// `sk-ab...ijkl`. At least four known characters must match.
    #[must_use]
    pub fn key_matches_preview(&self, preview: &str) -> bool {
        preview_matches(&self.config.api_key, preview)
    }

    /// Whether this client authenticates with a service token (`bt-st-...`) rather than a
    /// user's API key (T3).
    #[must_use]
    pub fn uses_service_token(&self) -> bool {
        self.config.api_key.starts_with("bt-st-")
    }

    /// Requests that may be in flight right now (the limit less what rate limiting withheld).
    #[must_use]
    pub fn current_concurrency(&self) -> usize {
        self.config.concurrency - self.stats.withheld.load(Ordering::Relaxed) as usize
    }

    /// `GET path?query`, decoded as `T`.
    ///
    /// # Errors
    /// The last error after retries; see [`ApiError`].
    pub async fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<T, ApiError> {
        self.request::<(), T>(Method::GET, path, query, None).await
    }

    /// A request with a JSON body, decoded as `T`.
    ///
    /// # Errors
    /// The last error after retries; see [`ApiError`].
    pub async fn send<B: Serialize + Sync, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: &B,
    ) -> Result<T, ApiError> {
        self.request(method, path, &[], Some(body)).await
    }

    /// `DELETE path`, with no request body (the spec declares none on deletes by id, and
    /// first-party clients send none), decoded as `T`.
    ///
    /// # Errors
    /// The last error after retries; see [`ApiError`].
    pub async fn delete<T: DeserializeOwned>(&self, path: &str) -> Result<T, ApiError> {
        self.request::<(), T>(Method::DELETE, path, &[], None).await
    }

    /// Registers the export automation `automation_id` with Braintrust's scheduler
    /// (`POST /automation/cron`, assumption A6), giving this client's own key as the token the
    /// export runs with: the key goes into this one request body and nowhere else (never a
    /// plan, log or journal; errors are redacted like every other).
    ///
    /// # Errors
    /// The last error after retries.
    pub async fn register_export(
        &self,
        automation_id: &str,
    ) -> Result<serde_json::Value, ApiError> {
        let body = crate::wire::RegisterCron {
            automation_id: automation_id.to_owned(),
            cron: crate::wire::CronJob {
                kind: "btql_export".to_owned(),
            },
            service_token: self.config.api_key.clone(),
        };
        self.send(Method::POST, crate::vocab::AUTOMATION_CRON_PATH, &body)
            .await
    }

    /// A create that is not idempotent (`POST /v1/service_token`, a service account made by the
    /// members PATCH): each attempt is sent once, and after a failure that retrying could fix
    /// (a timeout, a dropped connection, a 5xx) `landed` looks for the object (list and match)
    /// before the create is sent again, so that a create whose answer was lost is never made
    /// twice. See [`super::retry::retry_checked`].
    ///
    /// # Errors
    /// As [`super::retry::retry_checked`].
    pub async fn create_once<B, T, L, LFut>(
        &self,
        method: Method,
        path: &str,
        body: &B,
        landed: L,
    ) -> Result<Created<T>, ApiError>
    where
        B: Serialize + Sync,
        T: DeserializeOwned,
        L: FnMut() -> LFut,
        LFut: std::future::Future<Output = Result<Option<T>, ApiError>>,
    {
        retry_checked(
            &self.config.retry,
            |attempt| self.request_once(method.clone(), path, body, attempt),
            landed,
        )
        .await
    }

    /// The objects of a list endpoint that declares no paging parameters (`/environment`): one
    /// request, without `limit` or a cursor, answered with everything.
    ///
    /// # Errors
    /// The last error after retries.
    pub async fn list_unpaged<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<Vec<T>, ApiError> {
        Ok(self
            .get::<super::wire::ListResponse<T>>(path, query)
            .await?
            .objects)
    }

    /// Every object of a list endpoint (`{"objects": [...]}`), following `starting_after` cursors
    /// to the end (see [`is_last_page`]). A cursor handed back twice is an error
    /// ([`ApiError::RepeatedCursor`]), never a loop. A collection whose spec list declares no
    /// cursor paging (`Collection::declares_cursor_paging`) is read in one unpaged call.
    /// Strict: one item that does not decode as `T` fails the list; the reader uses
    /// [`Client::list_items`] instead.
    ///
    /// # Errors
    /// The first page that failed after retries; the caller records the read as incomplete.
    pub async fn list_all<T: DeserializeOwned + HasId>(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<Vec<T>, ApiError> {
        let listed = self.list_items::<T>(path, query).await?;
        match listed.unknown.into_iter().next() {
            None => Ok(listed.items),
            Some(item) => Err(ApiError::Decode {
                method: "GET".into(),
                url: path.to_owned(),
                message: item.error,
            }),
        }
    }

    /// Every item of a list endpoint (`{"objects": [...]}`), each decoded on its own: an item
    /// that does not fit `T` is kept raw in [`Listed::unknown`], and its neighbours still decode.
    ///
    /// # Errors
    /// The first page that failed after retries, or a page that is not a list of objects.
    pub async fn list_items<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<Listed<T>, ApiError> {
        Ok(Listed::decode(
            self.walk(path, query, Envelope::Objects).await?,
        ))
    }

    /// Like [`Client::list_items`], for endpoints that return a bare JSON array
    /// (`GET /v1/acl/list_org`).
    ///
    /// # Errors
    /// The first page that failed after retries.
    pub async fn list_items_bare<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<Listed<T>, ApiError> {
        Ok(Listed::decode(
            self.walk(path, query, Envelope::Bare).await?,
        ))
    }

    /// The items of a one-request list (`{"objects": [...]}`, no cursor), each decoded on its own.
    ///
    /// # Errors
    /// When the request failed after retries or the answer is not a list of objects.
    pub async fn get_items<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<Listed<T>, ApiError> {
        let page: RawPage = self.get(path, query).await?;
        Ok(Listed::decode(page.objects))
    }

    /// The raw items of a list, page by page. The cursor is the last item's `id`; a full page
    /// whose last item has no string `id` cannot be followed and fails the list.
    async fn walk(
        &self,
        path: &str,
        query: &[(&str, String)],
        envelope: Envelope,
    ) -> Result<Vec<serde_json::Value>, ApiError> {
        // No paging parameters where the spec declares none: one call answers everything.
        if let (Envelope::Objects, Some(c)) = (envelope, Collection::at_list_path(path))
            && !c.declares_cursor_paging()
        {
            return Ok(self.get::<RawPage>(path, query).await?.objects);
        }
        let mut all: Vec<serde_json::Value> = Vec::new();
        let mut cursors: std::collections::HashSet<String> = std::collections::HashSet::new();
        // The largest page seen so far: a server's page cap, once a page was cut by it.
        let mut largest = 0;
        loop {
            let mut q: Vec<(&str, String)> = query.to_vec();
            q.push(("limit", PAGE_SIZE.to_string()));
            if let Some(last) = all.last() {
                let Some(id) = last.get("id").and_then(serde_json::Value::as_str) else {
                    return Err(ApiError::Decode {
                        method: "GET".into(),
                        url: path.to_owned(),
                        message: "a list item without an `id` ends a full page, so the next page cannot be asked for".into(),
                    });
                };
                q.push(("starting_after", id.to_owned()));
            }
            let page: Vec<serde_json::Value> = match envelope {
                Envelope::Objects => self.get::<RawPage>(path, &q).await?.objects,
                Envelope::Bare => self.get::<BarePage>(path, &q).await?.objects(),
            };
            let n = page.len();
            all.extend(page);
            if is_last_page(n, largest) {
                return Ok(all);
            }
            largest = largest.max(n);
            let cursor = all
                .last()
                .and_then(|o| o.get("id"))
                .and_then(serde_json::Value::as_str)
                .unwrap_or_default()
                .to_owned();
            if !cursors.insert(cursor.clone()) {
                return Err(ApiError::RepeatedCursor {
                    collection: path.to_owned(),
                    url: format!("{}{path}", self.config.base_url),
                    cursor,
                });
            }
        }
    }

    async fn request<B: Serialize + Sync, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&B>,
    ) -> Result<T, ApiError> {
        let url = format!("{}{}", self.config.base_url, path);
        let shown_url = if query.is_empty() {
            url.clone()
        } else {
            let q: Vec<String> = query.iter().map(|(k, v)| format!("{k}={v}")).collect();
            format!("{url}?{}", q.join("&"))
        };
        retry(&self.config.retry, |attempt| {
            self.attempt(method.clone(), &url, &shown_url, query, body, attempt)
        })
        .await
    }

    /// A request sent once: for creates that must not be repeated blindly (see
    /// [`Client::create_once`]).
    async fn request_once<B: Serialize + Sync, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: &B,
        attempt: u32,
    ) -> Result<T, ApiError> {
        let url = format!("{}{}", self.config.base_url, path);
        self.attempt(method, &url, &url, &[], Some(body), attempt)
            .await
    }

    /// One attempt of a request.
    async fn attempt<B: Serialize + Sync, T: DeserializeOwned>(
        &self,
        method: Method,
        url: &str,
        shown_url: &str,
        query: &[(&str, String)],
        body: Option<&B>,
        attempt: u32,
    ) -> Result<T, ApiError> {
        if attempt > 1 {
            self.stats.retries.fetch_add(1, Ordering::Relaxed);
        }
        let _permit = self
            .limit
            .acquire()
            .await
            .map_err(|e| ApiError::Transport {
                method: method.to_string(),
                url: shown_url.to_owned(),
                message: e.to_string(),
            })?;
        self.stats.requests.fetch_add(1, Ordering::Relaxed);
        let mut req = self
            .http
            .request(method.clone(), url)
            .bearer_auth(&self.config.api_key)
            .query(query);
        if let Some(body) = body {
            req = req.json(body);
        }
        let result = self.finish::<T>(req, &method, shown_url).await;
        drop(_permit);
        match &result {
            Err(err) if err.status() == Some(429) => {
                self.stats.rate_limited.fetch_add(1, Ordering::Relaxed);
                self.slow_down();
            }
            Err(_) => {}
            Ok(_) => self.speed_up(),
        }
        if result.is_err() {
            self.stats.failures.fetch_add(1, Ordering::Relaxed);
        }
        result
    }

    async fn finish<T: DeserializeOwned>(
        &self,
        req: reqwest::RequestBuilder,
        method: &Method,
        url: &str,
    ) -> Result<T, ApiError> {
        let transport = |e: reqwest::Error| match tls_failure(&e) {
            Some(reason) => ApiError::Tls {
                method: method.to_string(),
                url: url.to_owned(),
                reason,
            },
            None => ApiError::Transport {
                method: method.to_string(),
                url: url.to_owned(),
                message: redact(&error_chain(&e)),
            },
        };
        let resp = req.send().await.map_err(transport)?;
        let status = resp.status();
        let retry_after = resp
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, SystemTime::now()));
        let bytes = resp.bytes().await.map_err(transport)?;
        if !status.is_success() {
            return Err(ApiError::Status {
                method: method.to_string(),
                url: url.to_owned(),
                status: status.as_u16(),
                body: redact(&String::from_utf8_lossy(&bytes)),
                retry_after,
            });
        }
        serde_json::from_slice(&bytes).map_err(|e| ApiError::Decode {
            method: method.to_string(),
            url: url.to_owned(),
            // serde quotes the value it could not read, which may be a secret.
            message: redact(&e.to_string()),
        })
    }
}

/// A list page as raw JSON items, decoded one by one afterwards.
#[derive(serde::Deserialize)]
struct RawPage {
    objects: Vec<serde_json::Value>,
}

/// A page of a list the spec shows as a bare array (`acl/list_org`), read in either shape: the
/// bare array, or the `{"objects": [...]}` envelope of the other lists (assumption P8).
#[derive(serde::Deserialize)]
#[serde(untagged)]
enum BarePage {
    Bare(Vec<serde_json::Value>),
    Wrapped(RawPage),
}

impl BarePage {
    fn objects(self) -> Vec<serde_json::Value> {
        match self {
            BarePage::Bare(objects) | BarePage::Wrapped(RawPage { objects }) => objects,
        }
    }
}

/// A list decoded item by item: the items that fit the wire type, and the others kept raw.
#[derive(Debug)]
pub struct Listed<T> {
    pub items: Vec<T>,
    /// The JSON of each decoded item as the API sent it, in the order of `items` (it keeps the
    /// fields the wire type does not model, for read-modify-write).
    pub raw: Vec<serde_json::Value>,
    pub unknown: Vec<RawItem>,
}

/// A list item outside the wire type: its JSON as the API sent it and why it did not decode.
#[derive(Debug, Clone)]
pub struct RawItem {
    pub raw: serde_json::Value,
    /// The decode error (redacted: serde may quote the value it could not read).
    pub error: String,
}

impl<T: DeserializeOwned> Listed<T> {
    /// Decodes each item on its own.
    #[must_use]
    pub fn decode(raw: Vec<serde_json::Value>) -> Listed<T> {
        let mut items = Vec::new();
        let mut raws = Vec::new();
        let mut unknown = Vec::new();
        for item in raw {
            match T::deserialize(&item) {
                Ok(t) => {
                    items.push(t);
                    raws.push(item);
                }
                Err(e) => unknown.push(RawItem {
                    raw: item,
                    error: redact(&e.to_string()),
                }),
            }
        }
        Listed {
            items,
            raw: raws,
            unknown,
        }
    }
}

/// Whether `preview` (head, hidden middle, tail) could show `key`: see
/// [`Client::key_matches_preview`].
#[must_use]
pub fn preview_matches(key: &str, preview: &str) -> bool {
    let shown = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    let head_len = preview.find(|c: char| !shown(c)).unwrap_or(preview.len());
    let (head, rest) = preview.split_at(head_len);
    let tail_start = rest.rfind(|c: char| !shown(c)).map_or(0, |i| {
        i + rest[i..].chars().next().map_or(1, char::len_utf8)
    });
    let (middle, tail) = rest.split_at(tail_start);
    !middle.is_empty()
        && head.len() + tail.len() >= 4
        && key.starts_with(head)
        && key.ends_with(tail)
        && key.len() > head.len() + tail.len()
}

/// Whether a page of `n` objects (asked for [`PAGE_SIZE`]) ends the list, after pages of at
/// most `largest` objects. The API documents no maximum page size (assumption P3), so a server
/// that caps pages lower than we ask returns short pages before the end, and the cap can be any
/// number: a short page ends the walk only when it is empty or shorter than an earlier page of
/// the same walk (which was then cut at the cap). A first short page is therefore followed up
/// once, which costs one request per non-empty list; truncating a list silently would turn
/// into wrong deletes and duplicate creates.
#[must_use]
pub fn is_last_page(n: usize, largest: usize) -> bool {
    n == 0 || n < largest
}

/// What went wrong in a TLS handshake, when that is why a request failed. reqwest's chain holds
/// an `io::Error` that wraps another `io::Error` that wraps rustls's error (and
/// `io::Error::source` skips the wrapped error), so each `io::Error` is unwrapped by hand.
fn tls_failure(e: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut next = Some(e);
    while let Some(err) = next {
        let mut inner: &(dyn std::error::Error + 'static) = err;
        while let Some(wrapped) = inner
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            inner = wrapped;
        }
        if let Some(tls) = inner.downcast_ref::<rustls::Error>() {
            return Some(match tls {
                rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer) => {
                    format!(
                        "the server's certificate is signed by a CA that is not trusted (unknown issuer; trusted: {})",
                        trust_store()
                    )
                }
                rustls::Error::InvalidCertificate(cert) => format!(
                    "the server's certificate is invalid ({cert:?}; trusted: {})",
                    trust_store()
                ),
                other => other.to_string(),
            });
        }
        next = err.source();
    }
    None
}

/// Which CAs a failed handshake was checked against (as reqwest and rustls-native-certs load
/// them), for the error message.
fn trust_store() -> String {
    let set = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
    let mut parts = Vec::new();
    for name in [crate::env::SSL_CERT_FILE, crate::env::SSL_CERT_DIR] {
        if let Some(value) = set(name) {
            parts.push(format!("{name}={}", value.to_string_lossy()));
        }
    }
    if parts.is_empty() {
        parts.push("the platform's certificate store".to_owned());
    }
    parts.push("the bundled Mozilla roots".to_owned());
    parts.join(", ")
}

/// The error and its causes on one line (reqwest hides the useful part in `source`).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// How a list endpoint wraps its page.
#[derive(Debug, Clone, Copy)]
enum Envelope {
    /// `{"objects": [...]}`, nearly every list.
    Objects,
    /// A bare array (`acl/list_org`), or the `objects` envelope all the same.
    Bare,
}

pub use crate::wire::HasId;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_decode_one_by_one() {
        let page = vec![
            serde_json::json!({"id": "a0000000-0000-4000-8000-000000000001", "project_id": "a0000000-0000-4000-8000-000000000002", "user_id": "a0000000-0000-4000-8000-000000000004", "name": "kept"}),
            serde_json::json!({"id": "a0000000-0000-4000-8000-000000000003", "user_id": "a0000000-0000-4000-8000-000000000004", "name": "no project"}),
        ];
        let listed: Listed<crate::wire::ProjectTag> = Listed::decode(page);
        assert_eq!(listed.items.len(), 1);
        assert_eq!(listed.items[0].name, "kept");
        assert_eq!(listed.raw.len(), 1);
        assert_eq!(listed.unknown.len(), 1);
        assert_eq!(listed.unknown[0].raw["name"], "no project");
        assert!(
            listed.unknown[0].error.contains("project_id"),
            "{}",
            listed.unknown[0].error
        );
    }

    #[test]
    fn previews_in_any_form() {
        let key = "sk-abcdefghijkl";
        for preview in [
            "sk…ijkl",
            "sk...ijkl",
            "sk-ab...ijkl",
            "sk-***ijkl",
            "sk•••ijkl",
        ] {
            assert!(preview_matches(key, preview), "{preview}");
        }
        for preview in ["sk…ijkm", "sx...ijkl", "…", "...", "sk-abcdefghijkl", "s…l"] {
            assert!(!preview_matches(key, preview), "{preview}");
        }
        assert!(preview_matches("bt-st-0123456789", "bt...6789"));
    }

    #[test]
    fn last_pages() {
        assert!(is_last_page(0, 0));
        assert!(
            !is_last_page(37, 0),
            "a first short page may be a capped one"
        );
        assert!(!is_last_page(37, 37), "as long as a cut page");
        assert!(is_last_page(3, 37), "shorter than the cap");
        assert!(!is_last_page(100, 0));
        assert!(!is_last_page(PAGE_SIZE, 0));
    }

    #[test]
    fn base_urls() {
        assert!(check_base_url("https://api.braintrust.dev").is_ok());
        assert!(check_base_url("http://127.0.0.1:8080").is_ok());
        assert!(check_base_url("http://localhost:1").is_ok());
        assert!(check_base_url("http://[::1]:1").is_ok());
        assert!(matches!(
            check_base_url("http://api.example.com"),
            Err(UrlError::Insecure(_))
        ));
        assert!(matches!(
            check_base_url("ftp://x"),
            Err(UrlError::NotHttp(_))
        ));
        assert!(matches!(
            check_base_url("http://127.0.0.1.evil.com"),
            Err(UrlError::Insecure(_))
        ));
    }
}
