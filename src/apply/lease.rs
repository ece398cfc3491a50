//! One apply per org at a time: a lease stored in the API itself.
//!
//! The lease is an org-level env var named [`LEASE_NAME`] whose metadata holds the holder, a
//! random token and an expiry. `POST /v1/env_var` creates it, or returns the existing one
//! unmodified: getting our own token back is the compare-and-set that grants the lease. An
//! expired lease is deleted and taken over. The TTL is short ([`DEFAULT_TTL`]); the holder renews
//! it with [`Lease::renew`] (a heartbeat) while it works, so a holder that dies blocks others for
//! at most one TTL. [`inspect`] and [`break_lease`] serve `bt-gitops unlock`. The live-state
//! reader ignores the lease, so it never shows in a plan.
//!
//! [`acquire_named`] is the same compare-and-set under another variable name: the controller's
//! per-org shard leases (`controller::shard`) use it with [`CONTROLLER_LEASE_NAME`].

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use crate::api::client::{Client, Method};
use crate::api::error::ApiError;

pub use crate::api::read::{CONTROLLER_LEASE_NAME, LEASE_NAME};

/// How long a lease lasts without a heartbeat.
pub const DEFAULT_TTL: Duration = Duration::from_secs(60);

/// A held lease. Release it with [`Lease::release`]; an unreleased lease expires on its own.
#[derive(Debug, Clone)]
pub struct Lease {
    client: Client,
    id: String,
    token: String,
    holder: String,
    /// The env var that holds it: [`LEASE_NAME`] or [`CONTROLLER_LEASE_NAME`].
    name: &'static str,
    pub org: String,
}

/// A lease as read back, for `unlock`.
#[derive(Debug, Clone)]
pub struct LeaseInfo {
    pub id: String,
    pub holder: String,
    /// Unix time.
    pub expires: u64,
}

/// A unix time as a local clock time with its zone, e.g. `2026-12-01 07:12:03 CET`.
#[must_use]
pub fn local_time(unix: u64) -> String {
    let Ok(ts) = jiff::Timestamp::from_second(i64::try_from(unix).unwrap_or(i64::MAX)) else {
        return format!("{unix} (unix time)");
    };
    ts.to_zoned_datetime(jiff::tz::TimeZone::system())
        .strftime("%Y-%m-%d %H:%M:%S %Z")
        .to_string()
}

/// `2026-12-01 07:12:03 CET (in 42 s)` style text for an expiry (0: not known).
fn until(expires: &u64) -> String {
    if *expires == 0 {
        return "an unknown time".to_owned();
    }
    let left = expires.saturating_sub(now());
    format!("{} (in {left} s)", local_time(*expires))
}

/// Why the lease was not taken.
#[derive(Debug, thiserror::Error)]
pub enum LeaseError {
    #[error(
        "another apply holds the lease of org `{org}`: {holder}, until {}; wait for it, or run `bt-gitops unlock --org {org}` if that apply is gone",
        until(expires)
    )]
    Held {
        org: String,
        holder: String,
        expires: u64,
    },
    /// The key cannot see the org: a 200 that does not name it (an empty or unfiltered list,
    /// assumption O2) is not taken for an org, nor for a lease someone else holds.
    #[error("org `{org}` is not visible to this API key, so its apply lease cannot be taken")]
    OrgNotVisible { org: String },
    #[error("cannot take the apply lease of org `{org}`")]
    Api {
        org: String,
        #[source]
        source: ApiError,
    },
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A token unique to this process and moment.
fn token(holder: &str) -> String {
    use sha2::Digest;
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let digest =
        sha2::Sha256::digest(format!("{holder}|{nanos}|{}", std::process::id()).as_bytes());
    digest.iter().take(16).map(|b| format!("{b:02x}")).collect()
}

/// Takes the lease of one org for `ttl`.
///
/// # Errors
/// [`LeaseError::Held`] naming the holder when another live lease exists; [`LeaseError::Api`]
/// when the API cannot be reached.
pub async fn acquire(
    client: &Client,
    org: &str,
    holder: &str,
    ttl: Duration,
) -> Result<Lease, LeaseError> {
    acquire_named(client, org, LEASE_NAME, holder, ttl).await
}

/// Takes the lease called `name` (an org-level env var) of one org for `ttl`: [`acquire`] for
/// any lease bt-gitops keeps in the API. `name` must be one the live-state reader ignores
/// ([`crate::api::read::LEASE_NAMES`]).
///
/// # Errors
/// As [`acquire`].
pub async fn acquire_named(
    client: &Client,
    org: &str,
    name: &'static str,
    holder: &str,
    ttl: Duration,
) -> Result<Lease, LeaseError> {
    let api = |source| LeaseError::Api {
        org: org.to_owned(),
        source,
    };
    let org_id = org_id(client, org).await?;
    let mine = token(holder);
    for _ in 0..2 {
        let expires = now() + ttl.as_secs();
        let body = json!({
            "object_type": "organization", "object_id": org_id, "name": name,
            "metadata": { "holder": holder, "token": mine, "expires_at": expires },
        });
        let got: Value = client
            .send(Method::POST, "/v1/env_var", &body)
            .await
            .map_err(api)?;
        let id = got
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let meta = got.get("metadata").cloned().unwrap_or(Value::Null);
        if meta.get("token").and_then(Value::as_str) == Some(mine.as_str()) {
            // Two POSTs that cross may both create (S11): the oldest live lease of this name
            // holds it, and a younger one steps back.
            let created = got
                .get("created")
                .and_then(Value::as_str)
                .unwrap_or_default();
            if let Some(rival) = older_rival(client, &org_id, name, &id, created)
                .await
                .map_err(api)?
            {
                let _ = client.delete::<Value>(&format!("/v1/env_var/{id}")).await;
                return Err(LeaseError::Held {
                    org: org.to_owned(),
                    holder: rival.holder,
                    expires: rival.expires,
                });
            }
            return Ok(Lease {
                client: client.clone(),
                id,
                token: mine,
                holder: holder.to_owned(),
                name,
                org: org.to_owned(),
            });
        }
        let their_expiry = meta.get("expires_at").and_then(Value::as_u64).unwrap_or(0);
        if their_expiry > now() {
            let holder = meta
                .get("holder")
                .and_then(Value::as_str)
                .unwrap_or("an unknown holder")
                .to_owned();
            return Err(LeaseError::Held {
                org: org.to_owned(),
                holder,
                expires: their_expiry,
            });
        }
        // Expired: take it over. Losing a race here is fine: the next POST decides.
        let _ = client.delete::<Value>(&format!("/v1/env_var/{id}")).await;
    }
    Err(LeaseError::Held {
        org: org.to_owned(),
        holder: "another apply (the lease changed hands while taking it)".into(),
        expires: 0,
    })
}

/// Another live lease called `name` of the org, created before ours (`id`, `created`), if
/// there is one: the one that holds the org when two creates of the name both landed (S11).
/// Expired ones are deleted on the way (best effort), as `acquire_named` would take them over.
async fn older_rival(
    client: &Client,
    org_id: &str,
    name: &str,
    id: &str,
    created: &str,
) -> Result<Option<LeaseInfo>, ApiError> {
    let vars: Vec<crate::api::wire::EnvVar> = client
        .list_all(
            "/v1/env_var",
            &[
                ("object_type", "organization".to_owned()),
                ("object_id", org_id.to_owned()),
                ("env_var_name", name.to_owned()),
            ],
        )
        .await?;
    let mut oldest: Option<(String, String, LeaseInfo)> = None;
    for v in vars {
        let other = v.id.to_string();
        if v.name != name || other == id {
            continue;
        }
        let meta = v.metadata.unwrap_or_default();
        let expires = meta.get("expires_at").and_then(Value::as_u64).unwrap_or(0);
        if expires <= now() {
            let _ = client
                .delete::<Value>(&format!("/v1/env_var/{other}"))
                .await;
            continue;
        }
        let their_created = v.created.unwrap_or_default();
        if (their_created.as_str(), other.as_str()) >= (created, id) {
            continue;
        }
        let info = LeaseInfo {
            id: other.clone(),
            holder: meta
                .get("holder")
                .and_then(Value::as_str)
                .unwrap_or("an unknown holder")
                .to_owned(),
            expires,
        };
        if oldest.as_ref().is_none_or(|(c, i, _)| {
            (their_created.as_str(), other.as_str()) < (c.as_str(), i.as_str())
        }) {
            oldest = Some((their_created, other, info));
        }
    }
    Ok(oldest.map(|(_, _, info)| info))
}

/// The id of an org by name.
async fn org_id(client: &Client, org: &str) -> Result<String, LeaseError> {
    let orgs: Vec<crate::api::wire::Organization> = client
        .list_all("/v1/organization", &[("org_name", org.to_owned())])
        .await
        .map_err(|source| LeaseError::Api {
            org: org.to_owned(),
            source,
        })?;
    orgs.iter()
        .find(|o| o.name == org)
        .map(|o| o.id.to_string())
        .ok_or_else(|| LeaseError::OrgNotVisible {
            org: org.to_owned(),
        })
}

/// The org's lease as it stands, if there is one (expired or not).
///
/// # Errors
/// When the API cannot be read.
pub async fn inspect(client: &Client, org: &str) -> Result<Option<LeaseInfo>, LeaseError> {
    let org_id = org_id(client, org).await?;
    let vars: Vec<crate::api::wire::EnvVar> = client
        .list_all(
            "/v1/env_var",
            &[
                ("object_type", "organization".to_owned()),
                ("object_id", org_id),
            ],
        )
        .await
        .map_err(|source| LeaseError::Api {
            org: org.to_owned(),
            source,
        })?;
    Ok(vars.into_iter().find(|v| v.name == LEASE_NAME).map(|v| {
        let meta = v.metadata.unwrap_or_default();
        LeaseInfo {
            id: v.id.to_string(),
            holder: meta
                .get("holder")
                .and_then(Value::as_str)
                .unwrap_or("an unknown holder")
                .to_owned(),
            expires: meta.get("expires_at").and_then(Value::as_u64).unwrap_or(0),
        }
    }))
}

/// Deletes a lease whatever its holder: `bt-gitops unlock`.
///
/// # Errors
/// When the API refuses or cannot be reached.
pub async fn break_lease(client: &Client, id: &str) -> Result<(), ApiError> {
    client
        .delete::<Value>(&format!("/v1/env_var/{id}"))
        .await
        .map(|_| ())
}

impl Lease {
    /// Pushes the expiry `ttl` into the future: the heartbeat of a running apply.
    ///
    /// # Errors
    /// When the lease is gone (broken with `unlock`, or expired and taken over) or the API
    /// cannot be reached.
    pub async fn renew(&self, ttl: Duration) -> Result<(), ApiError> {
        let body = json!({
            "name": self.name,
            "metadata": { "holder": self.holder, "token": self.token, "expires_at": now() + ttl.as_secs() },
        });
        self.client
            .send::<Value, Value>(Method::PATCH, &format!("/v1/env_var/{}", self.id), &body)
            .await
            .map(|_| ())
    }

    /// Gives the lease back.
    ///
    /// # Errors
    /// When the API cannot be reached; the lease then expires on its own.
    pub async fn release(self) -> Result<(), ApiError> {
        self.client
            .delete::<Value>(&format!("/v1/env_var/{}", self.id))
            .await
            .map(|_| ())
    }
}

/// Who is applying, for the lease and the journal: user, host and process.
#[must_use]
pub fn holder_name() -> String {
    let user = std::env::var(crate::env::USER)
        .or_else(|_| std::env::var("USERNAME"))
        .unwrap_or_else(|_| "unknown".into());
    let host = std::env::var(crate::env::HOSTNAME).unwrap_or_else(|_| "localhost".into());
    format!(
        "bt-gitops apply by {user}@{host} (pid {})",
        std::process::id()
    )
}
