//! A Braintrust admin-API emulator: the test double for every test, and the embedded default that
//! lets a new user try bt-gitops without credentials.
//!
//! It serves the admin subset of the Braintrust REST API on 127.0.0.1 following the official
//! OpenAPI spec: organization (list, get, patch) and organization/members, user (list, get),
//! group, role, acl (+ `batch_update`, `list_org`), project, project_tag, project_score,
//! project_automation, span_iframe, view, ai_secret, env_var, service_token, api_key,
//! `/environment`, mcp_server, and the objects manifests name without managing (function,
//! prompt, experiment, dataset: see [`functions`]), plus the unauthenticated `GET /v1`. The behaviour follows
//! `braintrust-api.md` sections 9 and 10: POST returns an existing object with the same natural
//! key unmodified, PUT replaces it keeping its id, PATCH deep-merges and ignores nulls (but
//! replaces `project.settings` and applies add/remove lists to groups and roles), DELETE returns
//! the object which then reads as 404, lists are newest first with cursors, secrets are write-only.
//! Errors are `{"error": "..."}` with the API's statuses; an object of another org is 403.
//! Where the real API's behaviour is unsure, [`profile`] decides: the `real` profile (the
//! default) is at least as strict as the real API, `lenient` follows bt-gitops's first guesses.
//!
//! Test controls (latency, fault rules, the request log, a state dump) live under `/_emulator/`
//! (see [`control`]) and on [`EmuHandle`]. It is the only module that knows axum, and it does not
//! depend on the manifest, model or plan layers.
//!
//! ```no_run
//! # async fn demo() -> Result<(), bt_gitops::emulator::EmulatorError> {
//! use bt_gitops::emulator::{EmulatorConfig, spawn};
//! let emu = spawn(EmulatorConfig::default().with_deterministic(true)).await?;
//! let (url, key) = (emu.url().to_owned(), emu.api_key().to_owned());
//! // ... drive `url` with `Authorization: Bearer {key}`, then count writes:
//! let writes = emu.requests().iter().filter(|r| r.is_write()).count();
//! emu.shutdown().await;
//! # let _ = (url, key, writes); Ok(()) }
//! ```

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub mod accounts;
pub mod auth;
pub mod control;
pub mod endpoints;
pub mod error;
pub mod faults;
pub mod functions;
pub mod profile;
pub mod query;
pub mod resource;
mod routes;
pub mod seed;
pub mod store;

pub use faults::{FaultAction, FaultRule, LoggedRequest};
pub use profile::{
    AccountListing, ExportPathPatch, ForeignOrg, Overrides, PreviewStyle, Profile, ProfileName,
};
pub use seed::{SeedDoc, SeededKey};
pub use store::{Collection, Snapshot, Store};

/// How to start an emulator. Builder-lite: `EmulatorConfig::default().with_port(0)...`.
#[derive(Debug, Clone, Default)]
pub struct EmulatorConfig {
    /// The port on 127.0.0.1; 0 picks a free one.
    pub port: u16,
    /// The seed for a fresh state; `None` is [`SeedDoc::default_org`].
    pub seed: Option<SeedDoc>,
    /// Persist the state here (loaded if it exists, written atomically after every write).
    pub state_file: Option<PathBuf>,
    /// Latency injected before every API request.
    pub latency: Duration,
    /// Counter-based ids, keys and a ticking clock from 2026-01-01, for stable snapshots.
    pub deterministic: bool,
    /// Fault rules active from the start.
    pub faults: Vec<FaultRule>,
    /// The rules followed where the real API is unsure (default: [`Profile::real`]).
    pub profile: Profile,
}

impl EmulatorConfig {
    /// Listen on this port (0: any free port).
    #[must_use]
    pub fn with_port(mut self, port: u16) -> EmulatorConfig {
        self.port = port;
        self
    }

    /// Seed a fresh state with this document.
    #[must_use]
    pub fn with_seed(mut self, seed: SeedDoc) -> EmulatorConfig {
        self.seed = Some(seed);
        self
    }

    /// Persist the state to this file.
    #[must_use]
    pub fn with_state_file(mut self, path: impl Into<PathBuf>) -> EmulatorConfig {
        self.state_file = Some(path.into());
        self
    }

    /// Inject this latency before every API request.
    #[must_use]
    pub fn with_latency(mut self, latency: Duration) -> EmulatorConfig {
        self.latency = latency;
        self
    }

    /// Use deterministic ids, keys and clock.
    #[must_use]
    pub fn with_deterministic(mut self, deterministic: bool) -> EmulatorConfig {
        self.deterministic = deterministic;
        self
    }

    /// Follow these rules where the real API is unsure.
    #[must_use]
    pub fn with_profile(mut self, profile: Profile) -> EmulatorConfig {
        self.profile = profile;
        self
    }

    /// Start with these fault rules.
    #[must_use]
    pub fn with_faults(mut self, faults: Vec<FaultRule>) -> EmulatorConfig {
        self.faults = faults;
        self
    }
}

/// A failure to start an emulator.
#[derive(Debug, thiserror::Error)]
pub enum EmulatorError {
    #[error(transparent)]
    Persist(#[from] store::PersistError),
    #[error(transparent)]
    Seed(#[from] seed::SeedError),
    #[error("cannot listen on 127.0.0.1:{port}: {source}")]
    Bind {
        port: u16,
        #[source]
        source: std::io::Error,
    },
}

/// The state shared by all handlers.
#[derive(Debug)]
pub struct Shared {
    store: Mutex<Store>,
    /// The state right after seeding or loading, for [`AppState::reset`].
    initial: Store,
    state_file: Option<PathBuf>,
    controls: Mutex<faults::Controls>,
}

/// The axum state: a handle on [`Shared`].
#[derive(Debug, Clone)]
pub struct AppState(Arc<Shared>);

impl AppState {
    /// Wraps a store; `state_file` is where writes are persisted.
    pub fn new(store: Store, state_file: Option<PathBuf>) -> AppState {
        AppState(Arc::new(Shared {
            initial: store.clone(),
            store: Mutex::new(store),
            state_file,
            controls: Mutex::new(faults::Controls::default()),
        }))
    }

    /// Locks the store.
    pub fn store(&self) -> MutexGuard<'_, Store> {
        self.0.store.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Puts the store back to its state right after seeding (or loading the state file), and
    /// persists that when there is a state file. Controls and the request log are kept.
    ///
    /// # Errors
    /// When the state file cannot be written.
    pub fn reset(&self) -> Result<(), store::PersistError> {
        let mut store = self.store();
        *store = self.0.initial.clone();
        match &self.0.state_file {
            Some(path) => store.save(path),
            None => Ok(()),
        }
    }

    /// The rules this emulator follows where the real API is unsure.
    pub fn profile(&self) -> Profile {
        self.store().profile
    }

    /// Locks the controls (latency, faults, request log).
    pub fn controls(&self) -> MutexGuard<'_, faults::Controls> {
        self.0.controls.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The whole application: Braintrust's paths, the controls, and the fault/log middleware.
pub fn app(state: AppState) -> Router {
    routes::api()
        .merge(control::routes())
        .fallback(|| async {
            error::json_error(axum::http::StatusCode::NOT_FOUND, "no such endpoint")
        })
        .method_not_allowed_fallback(|| async {
            error::json_error(
                axum::http::StatusCode::METHOD_NOT_ALLOWED,
                "method not allowed on this path",
            )
        })
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            profile::middleware,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            faults::middleware,
        ))
        .with_state(state)
}

/// Builds the state a config describes: loads the state file if it exists, otherwise seeds a
/// fresh store (and writes the state file at once when there is one).
///
/// # Errors
/// When the state file or the seed is invalid, or the state file cannot be written.
pub fn build(config: &EmulatorConfig) -> Result<(AppState, Vec<SeededKey>), EmulatorError> {
    let (store, keys) = match &config.state_file {
        Some(path) if path.exists() => {
            let mut store = Store::load(path)?;
            store.profile = config.profile;
            (store, Vec::new())
        }
        _ => {
            let mut store = Store::new(config.deterministic);
            store.profile = config.profile;
            let seed = config.seed.clone().unwrap_or_else(SeedDoc::default_org);
            let keys = seed.apply(&mut store)?;
            if let Some(path) = &config.state_file {
                store.save(path)?;
            }
            (store, keys)
        }
    };
    let state = AppState::new(store, config.state_file.clone());
    {
        let mut controls = state.controls();
        controls.set_latency(config.latency);
        controls.set_rules(config.faults.clone());
    }
    Ok((state, keys))
}

/// A running emulator. Dropping it stops the server.
#[derive(Debug)]
pub struct EmuHandle {
    url: String,
    addr: SocketAddr,
    api_key: String,
    service_token: Option<String>,
    keys: Vec<SeededKey>,
    state: AppState,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

/// Starts an emulator on 127.0.0.1 in the current tokio runtime.
///
/// # Errors
/// When the state cannot be built or the port cannot be bound.
///
/// # Guarantees
/// The server accepts connections when this returns; it stops on [`EmuHandle::shutdown`] or drop.
pub async fn spawn(config: EmulatorConfig) -> Result<EmuHandle, EmulatorError> {
    let (state, keys) = build(&config)?;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", config.port))
        .await
        .map_err(|source| EmulatorError::Bind {
            port: config.port,
            source,
        })?;
    let addr = listener
        .local_addr()
        .map_err(|source| EmulatorError::Bind {
            port: config.port,
            source,
        })?;
    let (api_key, service_token) = {
        let store = state.store();
        let first = |kind: Collection| {
            store
                .table(kind)
                .live()
                .last()
                .and_then(|r| r.secret.clone())
        };
        (
            first(Collection::ApiKey).unwrap_or_default(),
            first(Collection::ServiceToken),
        )
    };
    let (tx, rx) = oneshot::channel::<()>();
    let router = app(state.clone());
    let task = tokio::spawn(async move {
        let server = axum::serve(listener, router).with_graceful_shutdown(async move {
            let _ = rx.await;
        });
        if let Err(e) = server.await {
            tracing::error!("emulator server failed: {e}");
        }
    });
    Ok(EmuHandle {
        url: format!("http://{addr}"),
        addr,
        api_key,
        service_token,
        keys,
        state,
        shutdown: Some(tx),
        task: Some(task),
    })
}

impl EmuHandle {
    /// The base URL, `http://127.0.0.1:PORT` (API paths start with `/v1`).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The socket address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The first org's first user API key (`sk-...`).
    pub fn api_key(&self) -> &str {
        &self.api_key
    }

    /// The first org's first service token (`bt-st-...`), if the seed made one.
    pub fn service_token(&self) -> Option<&str> {
        self.service_token.as_deref()
    }

    /// Every credential seeding created (empty when the state was loaded from a file).
    pub fn seeded_keys(&self) -> &[SeededKey] {
        &self.keys
    }

    /// The axum state, for direct access to the store and controls.
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// The request log so far, oldest first.
    pub fn requests(&self) -> Vec<LoggedRequest> {
        self.state.controls().log().to_vec()
    }

    /// The number of logged write requests (POST, PUT, PATCH, DELETE).
    pub fn write_count(&self) -> usize {
        self.state
            .controls()
            .log()
            .iter()
            .filter(|r| r.is_write())
            .count()
    }

    /// Empties the request log.
    pub fn clear_requests(&self) {
        self.state.controls().clear_log();
    }

    /// Replaces the fault rules.
    pub fn set_faults(&self, rules: Vec<FaultRule>) {
        self.state.controls().set_rules(rules);
    }

    /// Appends a fault rule.
    pub fn add_fault(&self, rule: FaultRule) {
        self.state.controls().add_rule(rule);
    }

    /// Removes every fault rule.
    pub fn clear_faults(&self) {
        self.state.controls().set_rules(Vec::new());
    }

    /// Sets the latency injected before every API request.
    pub fn set_latency(&self, latency: Duration) {
        self.state.controls().set_latency(latency);
    }

    /// Puts the store back to its state right after seeding (see [`AppState::reset`]).
    ///
    /// # Errors
    /// When the state file cannot be written.
    pub fn reset(&self) -> Result<(), store::PersistError> {
        self.state.reset()
    }

    /// The whole state, as the state file would hold it.
    pub fn snapshot(&self) -> Snapshot {
        self.state.store().snapshot()
    }

    /// Stops accepting connections, lets in-flight requests finish, and waits for the server.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
        }
    }
}

impl Drop for EmuHandle {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}
