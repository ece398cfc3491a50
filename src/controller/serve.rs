//! The controller's HTTP endpoints, served with axum: `/healthz` (the process is alive),
//! `/readyz` (the last round succeeded, recently) and `/metrics` (Prometheus text, with
//! per-org gauges and counters), from the [`Status`] that rounds update.
//!
//! The server is bounded: at most [`MAX_CONNECTIONS`] connections are open (the oldest is
//! closed to admit a new one, so idle connections cannot keep a probe out), a connection idle
//! for [`IDLE_TIMEOUT`] is closed, a failing `accept` (out of file descriptors) backs off
//! instead of spinning, request bodies are never read, and headers are bounded by hyper's
//! read buffer.

use std::collections::{BTreeMap, VecDeque};
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

use super::{RoundOutcome, RoundReport};
use crate::reconcile::OrgRequests;

/// Connections open at once: far below the usual limit of 1,024 file descriptors.
pub const MAX_CONNECTIONS: usize = 64;

/// How long a connection may stay silent (before or between requests).
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(2);

/// What the rounds tell the endpoints.
#[derive(Debug)]
pub struct Status {
    inner: Mutex<Inner>,
    /// `/readyz` fails when the last success is older than this (a round hung).
    stale_after: Duration,
}

#[derive(Debug, Default)]
struct Inner {
    rounds: u64,
    failures: u64,
    drift_found: u64,
    applied: u64,
    last_round_ok: bool,
    last_success: Option<Instant>,
    last_success_unix: u64,
    round_seconds: f64,
    orgs: BTreeMap<String, OrgStatus>,
}

#[derive(Debug, Default, Clone)]
struct OrgStatus {
    drifted: usize,
    last_success_unix: u64,
    requests: u64,
    rate_limited: u64,
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Status {
    /// A status for rounds at least every `interval`.
    #[must_use]
    pub fn new(interval: Duration) -> Status {
        Status {
            inner: Mutex::new(Inner::default()),
            stale_after: interval.saturating_mul(3).max(Duration::from_secs(60)),
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut Inner) -> T) -> T {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut inner)
    }

    /// Whether the last round succeeded, and not too long ago.
    #[must_use]
    pub fn ready(&self) -> bool {
        self.with(|i| {
            i.last_round_ok
                && i.last_success
                    .is_some_and(|t| t.elapsed() <= self.stale_after)
        })
    }

    pub(super) fn record(&self, report: &RoundReport) {
        self.with(|i| {
            i.rounds += 1;
            i.round_seconds = report.duration.as_secs_f64();
            i.drift_found += report.new_drift.len() as u64;
            match &report.outcome {
                RoundOutcome::Failed { .. } => {
                    i.failures += 1;
                    i.last_round_ok = false;
                }
                ok => {
                    if let RoundOutcome::Applied { changes, .. } = ok {
                        i.applied += *changes as u64;
                    }
                    i.last_round_ok = true;
                    i.last_success = Some(Instant::now());
                    i.last_success_unix = unix_now();
                }
            }
        });
    }

    pub(super) fn record_requests(&self, requests: &[OrgRequests]) {
        self.with(|i| {
            for r in requests {
                let org = i.orgs.entry(r.org.clone()).or_default();
                org.requests += r.requests;
                org.rate_limited += r.rate_limited;
            }
        });
    }

    /// Records, per org reconciled in a successful round, how many objects drift now.
    pub(super) fn record_orgs(&self, drifted: &BTreeMap<String, usize>) {
        let now = unix_now();
        self.with(|i| {
            for (name, n) in drifted {
                let org = i.orgs.entry(name.clone()).or_default();
                org.drifted = *n;
                org.last_success_unix = now;
            }
        });
    }

    /// The Prometheus text exposition of every metric.
    #[must_use]
    pub fn render(&self) -> String {
        self.with(|i| {
            let mut out = String::new();
            let mut metric =
                |name: &str, kind: &str, help: &str, samples: Vec<(String, String)>| {
                    out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} {kind}\n"));
                    for (labels, value) in samples {
                        out.push_str(&format!("{name}{labels} {value}\n"));
                    }
                };
            let one = |v: String| vec![(String::new(), v)];
            let per_org = |f: &dyn Fn(&OrgStatus) -> String| {
                i.orgs
                    .iter()
                    .map(|(name, o)| (format!("{{org=\"{}\"}}", escape(name)), f(o)))
                    .collect::<Vec<_>>()
            };
            metric(
                "bt_gitops_watch_rounds_total",
                "counter",
                "Reconcile rounds run.",
                one(i.rounds.to_string()),
            );
            metric(
                "bt_gitops_watch_failures_total",
                "counter",
                "Rounds that failed.",
                one(i.failures.to_string()),
            );
            metric(
                "bt_gitops_watch_drift_total",
                "counter",
                "Drifted objects newly found (live changed outside git).",
                one(i.drift_found.to_string()),
            );
            metric(
                "bt_gitops_watch_applied_changes_total",
                "counter",
                "Changes applied by the controller.",
                one(i.applied.to_string()),
            );
            metric(
                "bt_gitops_watch_round_duration_seconds",
                "gauge",
                "How long the last round took.",
                one(format!("{:.3}", i.round_seconds)),
            );
            metric(
                "bt_gitops_watch_last_success_timestamp_seconds",
                "gauge",
                "When a round last succeeded (Unix time).",
                one(i.last_success_unix.to_string()),
            );
            metric(
                "bt_gitops_watch_ready",
                "gauge",
                "1 when the last round succeeded recently (as /readyz).",
                one(u8::from(i.last_round_ok).to_string()),
            );
            metric(
                "bt_gitops_org_in_sync",
                "gauge",
                "1 when the org matched its manifests in the last round that read it.",
                per_org(&|o| u8::from(o.drifted == 0).to_string()),
            );
            metric(
                "bt_gitops_org_drifted_objects",
                "gauge",
                "Objects of the org that differ from the manifests.",
                per_org(&|o| o.drifted.to_string()),
            );
            metric(
                "bt_gitops_org_last_success_timestamp_seconds",
                "gauge",
                "When a round last read the org completely (Unix time).",
                per_org(&|o| o.last_success_unix.to_string()),
            );
            metric(
                "bt_gitops_api_requests_total",
                "counter",
                "Requests sent to the Braintrust API.",
                per_org(&|o| o.requests.to_string()),
            );
            metric(
                "bt_gitops_api_rate_limited_total",
                "counter",
                "API responses that were 429 Too Many Requests.",
                per_org(&|o| o.rate_limited.to_string()),
            );
            out
        })
    }
}

/// A Prometheus label value with `\`, `"` and newlines escaped.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The router: `/healthz`, `/readyz`, `/metrics`.
pub fn router(status: Arc<Status>) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(status)
}

async fn readyz(State(status): State<Arc<Status>>) -> impl IntoResponse {
    if status.ready() {
        (StatusCode::OK, "ready\n")
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready: the last round failed, or none has succeeded yet\n",
        )
    }
}

async fn metrics(State(status): State<Arc<Status>>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        status.render(),
    )
}

/// Serves the endpoints on `listener` until the task is dropped.
///
/// # Errors
/// When serving fails for good (not for one bad connection).
pub async fn serve(listener: TcpListener, status: Arc<Status>) -> io::Result<()> {
    axum::serve(Bounded::new(listener), router(status)).await
}

/// A listener that keeps at most [`MAX_CONNECTIONS`] open (closing the oldest for a new one)
/// and backs off when `accept` fails.
struct Bounded {
    inner: TcpListener,
    open: VecDeque<oneshot::Sender<()>>,
}

impl Bounded {
    fn new(inner: TcpListener) -> Bounded {
        Bounded {
            inner,
            open: VecDeque::new(),
        }
    }
}

impl axum::serve::Listener for Bounded {
    type Io = Guarded;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Guarded, SocketAddr) {
        let mut pause = Duration::from_millis(10);
        loop {
            match self.inner.accept().await {
                Ok((stream, addr)) => {
                    self.open.retain(|s| !s.is_closed());
                    while self.open.len() >= MAX_CONNECTIONS {
                        // Dropping the sender closes that connection.
                        self.open.pop_front();
                    }
                    let (evict, evicted) = oneshot::channel();
                    self.open.push_back(evict);
                    return (Guarded::new(stream, evicted), addr);
                }
                Err(err) => {
                    tracing::warn!(error = %err, "the metrics server cannot accept a connection");
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_secs(1));
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }
}

/// A connection that ends when evicted or idle for [`IDLE_TIMEOUT`].
struct Guarded {
    stream: TcpStream,
    evicted: oneshot::Receiver<()>,
    idle: Pin<Box<tokio::time::Sleep>>,
}

impl Guarded {
    fn new(stream: TcpStream, evicted: oneshot::Receiver<()>) -> Guarded {
        Guarded {
            stream,
            evicted,
            idle: Box::pin(tokio::time::sleep(IDLE_TIMEOUT)),
        }
    }

    fn closed(&mut self, cx: &mut Context<'_>) -> Option<io::Error> {
        if Pin::new(&mut self.evicted).poll(cx).is_ready() {
            return Some(io::Error::new(
                io::ErrorKind::ConnectionAborted,
                "closed to admit a newer connection",
            ));
        }
        if self.idle.as_mut().poll(cx).is_ready() {
            return Some(io::Error::new(io::ErrorKind::TimedOut, "idle connection"));
        }
        None
    }
}

use std::future::Future as _;

impl AsyncRead for Guarded {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        match Pin::new(&mut self.stream).poll_read(cx, buf) {
            Poll::Ready(r) => {
                if buf.filled().len() > before {
                    let deadline = tokio::time::Instant::now() + IDLE_TIMEOUT;
                    self.idle.as_mut().reset(deadline);
                }
                Poll::Ready(r)
            }
            Poll::Pending => match self.closed(cx) {
                Some(err) => Poll::Ready(Err(err)),
                None => Poll::Pending,
            },
        }
    }
}

impl AsyncWrite for Guarded {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match Pin::new(&mut self.stream).poll_write(cx, buf) {
            Poll::Pending => match self.closed(cx) {
                Some(err) => Poll::Ready(Err(err)),
                None => Poll::Pending,
            },
            ready => ready,
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}
