//! Live state: what the API reported, in the same shape as the desired state.
//!
//! `api::read` builds it from wire objects (ids resolved back to names and emails, soft-deleted
//! objects dropped); `diff` compares it with the desired state. Nothing here does IO.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use crate::model::{Kind, OrgName, ProjectName, ResourceKey, Spec};

/// Everything read from the API for the orgs of one run.
#[derive(Debug, Clone, Default)]
pub struct LiveState {
    pub objects: BTreeMap<ResourceKey, LiveObject>,
    /// Reads that failed or were cut short: deletes in these scopes are not safe.
    pub incomplete: BTreeSet<ReadScope>,
    /// Live API keys, for the API-key policy (observe and delete only).
    pub api_keys: Vec<LiveApiKey>,
    /// Who bt-gitops itself is in each org, when its key could be matched to a principal.
    pub own_principal: BTreeMap<OrgName, Principal>,
    /// The functions, prompts, experiments and datasets the manifests name, as found live.
    pub references: crate::refs::References,
    /// The names of those that were not found, one message each: the plan is refused.
    pub unresolved: Vec<String>,
}

/// A user (by email) or a service account (by name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    User(String),
    ServiceAccount(String),
}

/// One live object.
#[derive(Debug, Clone)]
pub struct LiveObject {
    /// The API's id (a UUID), used by updates and deletes.
    pub id: String,
    /// The object's managed fields, normalised like the desired state.
    pub spec: Spec,
    /// A digest of the object as the API returned it: a saved plan is refused for this object
    /// when the digest changed before apply.
    pub fingerprint: String,
    /// For objects holding a write-only secret: what bt-gitops can know about it.
    pub secret: Option<LiveSecret>,
}

/// What is known about a write-only secret without reading it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveSecret {
    /// HMAC of the value bt-gitops last wrote, stored in the object's metadata.
    pub recorded_digest: Option<String>,
    /// When bt-gitops last wrote it (RFC 3339, from the same metadata).
    pub recorded_at: Option<String>,
    /// When the API says the value last changed.
    pub updated_at: Option<String>,
}

/// A live API key (created in the UI; the API can list and delete them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveApiKey {
    pub org: OrgName,
    pub id: String,
    pub name: String,
    pub owner_email: Option<String>,
    pub created: Option<String>,
}

/// The part of an org a list read covered: one kind, in the org or in one project.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ReadScope {
    pub org: OrgName,
    pub project: Option<ProjectName>,
    pub kind: Kind,
}

impl fmt::Display for ReadScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.project {
            Some(p) => write!(f, "{} of project {}/{}", self.kind, self.org, p),
            None => write!(f, "{} of org {}", self.kind, self.org),
        }
    }
}

impl LiveState {
    /// Whether the list covering `key` completed.
    #[must_use]
    pub fn is_complete_for(&self, key: &ResourceKey) -> bool {
        let org_wide = ReadScope {
            org: key.org.clone(),
            project: None,
            kind: key.kind,
        };
        let scoped = ReadScope {
            org: key.org.clone(),
            project: key.project.clone(),
            kind: key.kind,
        };
        !self.incomplete.contains(&org_wide) && !self.incomplete.contains(&scoped)
    }
}
