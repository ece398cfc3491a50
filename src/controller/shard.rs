//! Sharding orgs among controller replicas: one active reconciler per org.
//!
//! Each replica keeps a [`Shard`]. Before reconciling an org it calls [`Shard::claim`], which
//! takes or renews the org's controller lease: an org-level env var named
//! [`CONTROLLER_LEASE_NAME`], taken with the same compare-and-set as the apply lease
//! ([`crate::apply::lease::acquire_named`]) under a distinct name, so a controller holding an
//! org never blocks its own applies. A replica that holds a live lease keeps it by renewing it on
//! every claim; a replica that stops (crash, scale-down, network split) stops renewing, its lease
//! expires, and the next replica to claim the org takes it over: a dead replica's orgs move
//! within one lease TTL as long as the survivors claim at least once per TTL.
//!
//! Claims must come more often than the TTL (e.g. TTL = 3 x the round interval). Between a lease
//! expiring and its holder's failed renewal, two replicas may both believe they hold an org for
//! at most one round; applies stay safe because each apply also takes the apply lease.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::api::client::Client;
use crate::apply::lease::{self, CONTROLLER_LEASE_NAME, Lease, LeaseError};

/// The orgs one controller replica holds, and how it claims more.
#[derive(Debug)]
pub struct Shard {
    replica: String,
    ttl: Duration,
    held: BTreeMap<String, Lease>,
}

impl Shard {
    /// A replica named `replica_id` (unique among replicas: a pod name) whose leases last `ttl`
    /// without a renewal. Holds nothing yet.
    #[must_use]
    pub fn new(replica_id: impl Into<String>, ttl: Duration) -> Shard {
        Shard {
            replica: replica_id.into(),
            ttl,
            held: BTreeMap::new(),
        }
    }

    /// The replica's name, as written in its leases.
    #[must_use]
    pub fn replica(&self) -> &str {
        &self.replica
    }

    /// Claims `org` for this replica, or renews the claim it already holds: true when this
    /// replica may reconcile `org` now, false when another live replica holds it (or the key
    /// cannot see the org).
    ///
    /// # Errors
    /// When the API cannot be reached; the caller should not reconcile the org this time. A
    /// lease already held is kept, and expires on its own if the API stays away.
    pub async fn claim(&mut self, org: &str, client: &Client) -> Result<bool, LeaseError> {
        if let Some(held) = self.held.get(org) {
            match held.renew(self.ttl).await {
                Ok(()) => return Ok(true),
                // Gone: broken, or expired and taken over. Try to take it again below.
                Err(e) if e.status() == Some(404) => {
                    self.held.remove(org);
                }
                Err(source) => {
                    return Err(LeaseError::Api {
                        org: org.to_owned(),
                        source,
                    });
                }
            }
        }
        match lease::acquire_named(client, org, CONTROLLER_LEASE_NAME, &self.replica, self.ttl)
            .await
        {
            Ok(lease) => {
                self.held.insert(org.to_owned(), lease);
                Ok(true)
            }
            Err(LeaseError::Held { .. } | LeaseError::OrgNotVisible { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// The orgs this replica held at its last claims, in name order.
    pub fn held(&self) -> impl Iterator<Item = &str> {
        self.held.keys().map(String::as_str)
    }

    /// Gives back every lease (on shutdown), so other replicas take the orgs at once rather than
    /// after a TTL. Returns the orgs whose lease could not be released; those expire on their own.
    pub async fn release_all(&mut self) -> Vec<String> {
        let mut failed = Vec::new();
        for (org, lease) in std::mem::take(&mut self.held) {
            if lease.release().await.is_err() {
                failed.push(org);
            }
        }
        failed
    }
}
