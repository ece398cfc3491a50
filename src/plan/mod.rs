//! The plan: one value holding every change in execution order.
//!
//! Built from the diff and the dependency graph: creates and updates after everything they
//! reference, deletes after that in reverse dependency order. Each change carries its address,
//! action, field-level before/after, risk classes and the fingerprint of the live object it
//! read. The human, JSON and Markdown renderings all read this one value, and `apply` executes
//! only what it contains; this type (with `format_version`) is the plan file's format.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::diff::{DeleteReason, DiffKind, ResourceDiff, SecretStatus};
use crate::graph::DepGraph;
use crate::model::{BUILTIN_GROUPS, Kind, ResourceKey};

/// Version of the plan's JSON form. Bumped on any incompatible change (2: the plan carries its
/// manifests, the guards it trips, its incomplete reads and its secrets' digests).
pub const FORMAT_VERSION: u32 = 2;

/// A complete plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub format_version: u32,
    /// The orgs read, with the API URL used for each.
    pub orgs: Vec<PlanOrg>,
    /// Changes in execution order.
    pub changes: Vec<Change>,
    /// Things the reviewer should know that are not changes (unavailable secrets, incomplete
    /// reads, policy violations).
    #[serde(default)]
    pub notes: Vec<String>,
    /// Git commit the manifests were read at, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    /// Author of that commit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    /// The manifests were read from a work tree with uncommitted changes.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dirty: bool,
    /// With `plan --base REF`: the ref the change is compared with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base: Option<String>,
    /// What `apply` would refuse in this plan, guard by guard, found when the plan was made.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub guards: Vec<GuardFinding>,
    /// Scopes whose list read failed: the plan is incomplete there and nothing is planned in
    /// them. A plan with any is an error (exit 1), never a plan to apply as is.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub incomplete: Vec<String>,
    /// The manifests the plan was made from, so that `apply --plan` rebuilds exactly the
    /// reviewed desired state without reading the work tree.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manifests: Option<Manifests>,
    /// Live objects outside bt-gitops's model (a shape, a value or a category it does not
    /// manage): never changed or deleted, and their names are taken (see the `name-taken`
    /// guard).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unmanaged: Vec<UnmanagedObject>,
}

/// A live object outside the model, as shown to reviewers (its JSON stays out of the plan).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct UnmanagedObject {
    pub org: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    /// The API collection it was listed from (`project_automation`).
    pub collection: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Why bt-gitops does not manage it.
    pub reason: String,
}

impl UnmanagedObject {
    /// `project_automation `nightly-loop` in acme/chatbot (id ...)`.
    #[must_use]
    pub fn describe(&self) -> String {
        let name = self
            .name
            .as_deref()
            .map(|n| format!(" `{n}`"))
            .unwrap_or_default();
        let place = match &self.project {
            Some(p) => format!("{}/{p}", self.org),
            None => self.org.clone(),
        };
        let id = self
            .id
            .as_deref()
            .map(|i| format!(" (id {i})"))
            .unwrap_or_default();
        format!("{}{name} in {place}{id}", self.collection)
    }
}

/// A refusal `apply` would make, as shown to reviewers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GuardFinding {
    /// `protect`, `mass-delete`, `lockout`, `service-token-key`, `unresolved-reference`,
    /// `stale-plan`.
    pub guard: String,
    pub message: String,
    /// The flag that overrides it, when one does.
    #[serde(default, rename = "override", skip_serializing_if = "Option::is_none")]
    pub flag: Option<String>,
}

impl GuardFinding {
    /// ` (override with `--flag`)` when a flag overrides the guard, empty otherwise.
    #[must_use]
    pub fn override_note(&self) -> String {
        self.flag
            .as_deref()
            .map(|f| format!(" (override with `{f}`)"))
            .unwrap_or_default()
    }
}

/// The manifest files a plan was made from. They hold secret references only (a literal
/// secret is an error, and no plan is made from manifests with errors).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifests {
    /// The manifest directory as given to `plan`: `{ file: ... }` secrets and `write_key_to`
    /// paths are relative to it.
    pub root: String,
    /// SHA-256 of the files (paths and texts), checked when the plan is read back.
    pub hash: String,
    pub files: Vec<ManifestFile>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestFile {
    pub path: String,
    pub text: String,
}

impl Manifests {
    /// The manifests of `files` under `root`, with their hash.
    #[must_use]
    pub fn new(root: String, files: Vec<ManifestFile>) -> Manifests {
        let hash = Manifests::hash_of(&files);
        Manifests { root, hash, files }
    }

    /// SHA-256 over each file's path and text, length-prefixed.
    #[must_use]
    pub fn hash_of(files: &[ManifestFile]) -> String {
        use sha2::Digest;
        let mut h = sha2::Sha256::new();
        for f in files {
            for part in [&f.path, &f.text] {
                h.update((part.len() as u64).to_le_bytes());
                h.update(part.as_bytes());
            }
        }
        h.finalize().iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Whether the files still have the hash recorded with them.
    #[must_use]
    pub fn intact(&self) -> bool {
        Manifests::hash_of(&self.files) == self.hash
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanOrg {
    pub name: String,
    pub api_url: String,
}

/// One change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    /// `project:acme/chatbot/tag:regression`.
    pub address: String,
    pub org: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    pub kind: String,
    pub name: String,
    pub action: Action,
    /// The live object's id, for updates and deletes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Digest of the live object when the plan was made; apply refuses the change if it moved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
    /// Field-level before/after of managed fields.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldDiff>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renamed_from: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<SecretNote>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub risks: Vec<Risk>,
    /// Why a delete happens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The object is protected: apply refuses this delete.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub protected: bool,
    /// Addresses of objects this change needs that the same plan creates.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<String>,
    /// With `plan --base`: the manifest object was changed since the base ref.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub touched: bool,
}

/// What a change does. The symbol is how plans print it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Create,
    Update,
    Delete,
    Replace,
}

impl Action {
    #[must_use]
    pub fn symbol(self) -> &'static str {
        match self {
            Action::Create => "+",
            Action::Update => "~",
            Action::Delete => "-",
            Action::Replace => "-/+",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldDiff {
    pub field: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<Value>,
}

/// A secret's fate, without its value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretNote {
    /// `env ACME_OPENAI_KEY` or `file .secrets/x`.
    pub source: String,
    pub status: SecretState,
    /// HMAC digest of the value planned (never the value): `apply --plan` refuses to write a
    /// value whose digest differs from the reviewed one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SecretState {
    New,
    ChangedInGit,
    RotatedOutside,
    Unverified,
    Unavailable,
}

/// Review flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Risk {
    /// Permanently deletes data: a project deleted, a retention rule added or shortened.
    DataDestroying,
    /// Someone loses access: a grant, a membership or a permission removed.
    AccessReducing,
    /// May lock everyone out: the Owners group loses members.
    Lockout,
    /// Data may leave Braintrust: a new or changed export, webhook or iframe destination.
    Exfiltration,
    /// A secret value is replaced.
    SecretRotation,
}

impl Risk {
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            Risk::DataDestroying => "data-destroying",
            Risk::AccessReducing => "access-reducing",
            Risk::Lockout => "lockout",
            Risk::Exfiltration => "exfiltration",
            Risk::SecretRotation => "secret-rotation",
        }
    }
}

/// Counts per action.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub create: usize,
    pub update: usize,
    pub delete: usize,
    pub replace: usize,
}

impl Plan {
    #[must_use]
    pub fn summary(&self) -> Summary {
        let mut s = Summary::default();
        for c in &self.changes {
            match c.action {
                Action::Create => s.create += 1,
                Action::Update => s.update += 1,
                Action::Delete => s.delete += 1,
                Action::Replace => s.replace += 1,
            }
        }
        s
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    /// The plan cannot be applied as reviewed: a guard refuses it or a read was incomplete.
    #[must_use]
    pub fn is_blocked(&self) -> bool {
        !self.guards.is_empty() || !self.incomplete.is_empty()
    }
}

impl Summary {
    /// `3 to create, 1 to update, 0 to delete` (and replacements when there are any).
    #[must_use]
    pub fn line(&self) -> String {
        let mut line = format!(
            "{} to create, {} to update, {} to delete",
            self.create, self.update, self.delete
        );
        if self.replace > 0 {
            line.push_str(&format!(", {} to replace", self.replace));
        }
        line
    }
}

/// Builds the plan: orders the diffs and classifies their risks.
#[must_use]
pub fn build(
    diffs: Vec<ResourceDiff>,
    graph: &DepGraph,
    orgs: Vec<PlanOrg>,
    notes: Vec<String>,
) -> Plan {
    let position: HashMap<ResourceKey, usize> = graph
        .topo_order()
        .into_iter()
        .enumerate()
        .map(|(i, k)| (k, i))
        .collect();
    let created: BTreeSet<ResourceKey> = diffs
        .iter()
        .filter(|d| d.kind == DiffKind::Create)
        .map(|d| d.key.clone())
        .collect();

    let (mut deletes, mut writes): (Vec<ResourceDiff>, Vec<ResourceDiff>) =
        diffs.into_iter().partition(|d| d.kind == DiffKind::Delete);
    writes.sort_by_key(|d| {
        (
            position.get(&d.key).copied().unwrap_or(usize::MAX),
            d.key.clone(),
        )
    });
    // Deletes go dependants first: reverse graph order for declared objects, and reverse kind
    // order (grants, project objects, projects, roles, groups, members) for the rest.
    deletes.sort_by(|a, b| {
        let rank = |d: &ResourceDiff| {
            (
                std::cmp::Reverse(d.key.kind),
                std::cmp::Reverse(position.get(&d.key).copied()),
            )
        };
        rank(a).cmp(&rank(b)).then_with(|| a.key.cmp(&b.key))
    });

    let changes = writes
        .into_iter()
        .chain(deletes)
        .map(|d| {
            let depends_on = graph
                .dependencies(&d.key)
                .filter(|k| created.contains(*k) && **k != d.key)
                .map(ToString::to_string)
                .collect();
            change(d, depends_on)
        })
        .collect();
    Plan {
        format_version: FORMAT_VERSION,
        orgs,
        changes,
        notes,
        commit: None,
        author: None,
        dirty: false,
        base: None,
        guards: Vec::new(),
        incomplete: Vec::new(),
        manifests: None,
        unmanaged: Vec::new(),
    }
}

fn change(d: ResourceDiff, depends_on: Vec<String>) -> Change {
    let action = match d.kind {
        DiffKind::Create => Action::Create,
        DiffKind::Update => Action::Update,
        DiffKind::Delete => Action::Delete,
        DiffKind::Replace => Action::Replace,
    };
    let risks = risks(&d);
    Change {
        address: d.key.to_string(),
        org: d.key.org.to_string(),
        project: d.key.project.as_ref().map(ToString::to_string),
        kind: d.key.kind.as_str().to_owned(),
        name: d.key.name.clone(),
        action,
        id: d.live.as_ref().map(|(id, _)| id.clone()),
        fingerprint: d.live.as_ref().map(|(_, f)| f.clone()),
        fields: d
            .fields
            .into_iter()
            .map(|f| FieldDiff {
                field: f.field,
                before: f.before,
                after: f.after,
            })
            .collect(),
        renamed_from: d.renamed_from,
        secret: d.secret.map(|s| SecretNote {
            source: s.source,
            status: match s.status {
                SecretStatus::New => SecretState::New,
                SecretStatus::ChangedInGit => SecretState::ChangedInGit,
                SecretStatus::RotatedOutside => SecretState::RotatedOutside,
                SecretStatus::Unverified => SecretState::Unverified,
                SecretStatus::Unavailable => SecretState::Unavailable,
            },
            digest: None,
        }),
        risks,
        reason: d.delete_reason.map(|r| match r {
            // Members have no `state: absent`: they leave through the org's list.
            DeleteReason::Tombstone if d.key.kind == Kind::Member => {
                "listed in `removed_members`".to_owned()
            }
            DeleteReason::Tombstone => "marked `state: absent`".to_owned(),
            DeleteReason::NotDeclared => "not declared in an authoritative collection".to_owned(),
            DeleteReason::AccountRemoved => {
                "its service account is marked `state: absent`".to_owned()
            }
            DeleteReason::Policy => {
                "breaks the org's api_key_policy (on_violation: delete)".to_owned()
            }
        }),
        protected: d.protected && action == Action::Delete,
        depends_on,
        touched: false,
    }
}

/// The review flags of one diff.
fn risks(d: &ResourceDiff) -> Vec<Risk> {
    let mut risks = BTreeSet::new();
    let field = |name: &str| d.fields.iter().find(|f| f.field == name);
    let removed_from = |name: &str| {
        field(name).is_some_and(|f| {
            let before: BTreeSet<String> = string_set(f.before.as_ref());
            let after: BTreeSet<String> = string_set(f.after.as_ref());
            before.difference(&after).next().is_some()
        })
    };
    match (d.kind, d.key.kind) {
        (DiffKind::Delete, Kind::Project | Kind::Dataset) => {
            risks.insert(Risk::DataDestroying);
        }
        (
            DiffKind::Delete,
            Kind::Grant
            | Kind::Member
            | Kind::Group
            | Kind::Role
            | Kind::ServiceAccount
            | Kind::ServiceToken,
        ) => {
            risks.insert(Risk::AccessReducing);
        }
        (DiffKind::Create | DiffKind::Replace, Kind::Retention) => {
            risks.insert(Risk::DataDestroying);
        }
        (DiffKind::Update, Kind::Retention) => {
            let shorter = field("days").is_some_and(|f| {
                match (
                    f.before.as_ref().and_then(Value::as_f64),
                    f.after.as_ref().and_then(Value::as_f64),
                ) {
                    (Some(b), Some(a)) => a < b,
                    _ => true,
                }
            });
            if shorter {
                risks.insert(Risk::DataDestroying);
            }
        }
        (DiffKind::Create | DiffKind::Replace, Kind::Export) => {
            risks.insert(Risk::Exfiltration);
        }
        (DiffKind::Update, Kind::Export)
            if field("path").is_some()
                || field("credentials").is_some()
                || field("data").is_some() =>
        {
            risks.insert(Risk::Exfiltration);
        }
        (
            DiffKind::Create | DiffKind::Replace | DiffKind::Update,
            Kind::Alert | Kind::EnvironmentAlert | Kind::SpanIframe | Kind::McpServer,
        ) if field("notify")
            .is_some_and(|f| f.after.as_ref().is_some_and(|v| v.get("webhook").is_some()))
            || field("url").is_some() =>
        {
            risks.insert(Risk::Exfiltration);
        }
        (DiffKind::Update, Kind::Group)
            if removed_from("members")
                || removed_from("inherits")
                || removed_from("service_accounts") =>
        {
            risks.insert(Risk::AccessReducing);
            if BUILTIN_GROUPS[0] == d.key.name && removed_from("members") {
                risks.insert(Risk::Lockout);
            }
        }
        (DiffKind::Update, Kind::Role)
            if removed_from("permissions") || removed_from("inherits") =>
        {
            risks.insert(Risk::AccessReducing);
        }
        _ => {}
    }
    if d.secret.as_ref().is_some_and(|s| {
        matches!(
            s.status,
            SecretStatus::ChangedInGit | SecretStatus::RotatedOutside | SecretStatus::Unverified
        )
    }) {
        risks.insert(Risk::SecretRotation);
    }
    risks.into_iter().collect()
}

fn string_set(v: Option<&Value>) -> BTreeSet<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// Changes grouped by kind, in first-appearance order, for renderers.
#[must_use]
pub fn by_kind(plan: &Plan) -> Vec<(&str, Vec<&Change>)> {
    let mut order: Vec<&str> = Vec::new();
    let mut groups: BTreeMap<&str, Vec<&Change>> = BTreeMap::new();
    for c in &plan.changes {
        if !groups.contains_key(c.kind.as_str()) {
            order.push(&c.kind);
        }
        groups.entry(&c.kind).or_default().push(c);
    }
    order
        .into_iter()
        .map(|k| (k, groups.remove(k).unwrap_or_default()))
        .collect()
}
