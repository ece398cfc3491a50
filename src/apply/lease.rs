//! One apply per org at a time: a lease stored in the API itself.
//!
//! The lease is an org-level env var named [`LEASE_NAME`] whose metadata holds the holder, a
//! random token and an expiry. `POST /v1/env_var` creates it, or returns the existing one
//! unmodified: getting our own token back is the compare-and-set that grants the lease. An
//! expired lease is deleted and taken over. The live-state reader ignores the lease, so it never
//! shows in a plan.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use crate::api::client::{Client, Method};
use crate::api::error::ApiError;

pub use crate::api::read::LEASE_NAME;

/// A held lease. Release it with [`Lease::release`]; an unreleased lease expires on its own.
#[derive(Debug)]
pub struct Lease {
    client: Client,
    id: String,
    pub org: String,
}

/// Why the lease was not taken.
#[derive(Debug, thiserror::Error)]
pub enum LeaseError {
    #[error(
        "another apply holds the lease of org `{org}`: {holder}, until {expires} (unix time); wait for it, or delete the `{LEASE_NAME}` env var if that apply is gone"
    )]
    Held {
        org: String,
        holder: String,
        expires: u64,
    },
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
    let api = |source| LeaseError::Api {
        org: org.to_owned(),
        source,
    };
    let orgs: Vec<crate::api::wire::Organization> = client
        .list_all("/v1/organization", &[("org_name", org.to_owned())])
        .await
        .map_err(api)?;
    let Some(org_id) = orgs
        .iter()
        .find(|o| o.name == org)
        .map(|o| o.id.to_string())
    else {
        return Err(LeaseError::Held {
            org: org.to_owned(),
            holder: "(org not visible to this key)".into(),
            expires: 0,
        });
    };
    let mine = token(holder);
    for _ in 0..2 {
        let expires = now() + ttl.as_secs();
        let body = json!({
            "object_type": "organization", "object_id": org_id, "name": LEASE_NAME,
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
            return Ok(Lease {
                client: client.clone(),
                id,
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
        let _ = client
            .send::<Value, Value>(Method::DELETE, &format!("/v1/env_var/{id}"), &Value::Null)
            .await;
    }
    Err(LeaseError::Held {
        org: org.to_owned(),
        holder: "another apply (the lease changed hands while taking it)".into(),
        expires: 0,
    })
}

impl Lease {
    /// Gives the lease back.
    ///
    /// # Errors
    /// When the API cannot be reached; the lease then expires on its own.
    pub async fn release(self) -> Result<(), ApiError> {
        self.client
            .send::<Value, Value>(
                Method::DELETE,
                &format!("/v1/env_var/{}", self.id),
                &Value::Null,
            )
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
