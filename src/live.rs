//! Live state: what the API reported, in the same shape as the desired state.
//!
//! `api::read` builds it from wire objects (ids resolved back to names and emails, soft-deleted
//! objects dropped); `diff` compares it with the desired state. Nothing here does IO.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use crate::model::{Kind, OrgName, ProjectName, ResourceKey, Spec};
use crate::vocab::Collection;

/// Everything read from the API for the orgs of one run.
#[derive(Debug, Clone, Default)]
pub struct LiveState {
    pub objects: BTreeMap<ResourceKey, LiveObject>,
    /// Reads that failed or were cut short: deletes in these scopes are not safe.
    pub incomplete: BTreeSet<ReadScope>,
    /// Why a scope of `incomplete` is held back, when it is not a failed list (an object that
    /// could hold a name anywhere in it, named).
    pub incomplete_reasons: BTreeMap<ReadScope, Vec<String>>,
    /// Live API keys, for the API-key policy (observe and delete only).
    pub api_keys: Vec<LiveApiKey>,
    /// Who bt-gitops itself is in each org, when its key could be matched to a principal.
    pub own_principal: BTreeMap<OrgName, Principal>,
    /// The functions, prompts, experiments and datasets the manifests name, as found live.
    pub references: crate::refs::References,
    /// The names of those that were not found, one message each: the plan is refused.
    pub unresolved: Vec<String>,
    /// Objects the API listed that are outside bt-gitops's model (an undecodable item, a value
    /// we do not know, a shape we do not manage): never changed or deleted, shown in the plan
    /// as unmanaged, and their names are taken.
    pub unknown: Vec<UnknownObject>,
    /// What each org's reads showed about how its user list shows service accounts (K1).
    pub account_listing: BTreeMap<OrgName, AccountListing>,
    /// Service accounts seen only through their tokens (the user list did not show them): they
    /// may exist hidden from the user list, or be deleted with their tokens left behind, and
    /// nothing read tells which. `import` does not write them.
    pub accounts_seen_only_through_tokens: BTreeSet<ResourceKey>,
}

/// How an org's user list was seen to show service accounts (assumption K1): whether an
/// account missing from it can be taken as absent.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum AccountListing {
    /// The user list shows service accounts (one without an email, one marked
    /// `user_type: service_account`, or one whose id a service token names): an account
    /// missing from it does not exist.
    Listed,
    /// The user list hides some principal (a service token's account, a group member or a
    /// grant's user missing from it, said in the text): an account missing from it may exist.
    Hidden(String),
    /// Nothing read tells either way (no service account, token or unknown principal).
    #[default]
    Unknown,
}

/// A listed object outside the model, kept as the API sent it.
#[derive(Debug, Clone, PartialEq)]
pub struct UnknownObject {
    pub org: OrgName,
    /// The project it lives in, for project-scoped collections.
    pub project: Option<ProjectName>,
    /// The API collection it was listed from.
    pub collection: Collection,
    /// Its id, when it has a string one.
    pub id: Option<String>,
    /// The name it holds in its collection's name space (an env var's or automation's `name`, an
    /// environment's `slug`, a user's email), when it has one.
    pub name: Option<String>,
    /// Why it is outside the model.
    pub reason: String,
    /// The object as listed.
    pub raw: serde_json::Value,
}

impl UnknownObject {
    /// Whether this object holds the name of `key`: same org, project and collection name
    /// space, same name.
    #[must_use]
    pub fn holds_name_of(&self, key: &ResourceKey) -> bool {
        self.org == key.org
            && self.project == key.project
            && key.kind.list_collection() == self.collection
            && self.name.as_deref().is_some_and(|n| match key.kind {
                Kind::Member => n.eq_ignore_ascii_case(&key.name),
                _ => n == key.name,
            })
    }
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
    /// The object as the API listed it, with the fields the model leaves out: updates that
    /// replace a whole field (project `settings`) start from it so that nothing unknown is lost.
    pub raw: Option<serde_json::Value>,
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
