//! Semantics: the typed desired state, lowered once from raw manifests.
//!
//! Every declared object becomes a [`Resource`] under a [`ResourceKey`] (kind + org + optional
//! project + name): the one address used in plans, diagnostics and logs. References between
//! objects are resolved here; the dependency graph is built from them in `graph`.
//! Model types are deliberately not `Serialize`: only `manifest::raw` and the API wire types are
//! serialized formats.

pub mod ids;
pub mod kind;
pub mod lower;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

pub use crate::kinds::{ChildSpec, OrgChildSpec};
pub use ids::{Email, InvalidId, Name, OrgName, ProjectName};
pub use kind::Kind;
pub use lower::lower;

pub use crate::manifest::raw::{
    AclObjectType, AutomationStatus, ExportFormat, FunctionType, GroupPlacement,
    ImageRenderingMode, OrgCollection, Permission, PolicyAction, ProjectCollection,
    RetentionObjectType, ScoreObjectType, SpanFieldLayout,
};
use crate::source::Span;

/// Built-in permission groups that exist in every org.
pub const BUILTIN_GROUPS: [&str; 3] = ["Owners", "Engineers", "Viewers"];

/// The address of an object: `group:acme/ml-engineers`, `project:acme/chatbot/tag:regression`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ResourceKey {
    pub org: OrgName,
    /// The enclosing project of project-scoped kinds; `None` for org-scoped kinds and projects.
    pub project: Option<ProjectName>,
    pub kind: Kind,
    /// The natural key within the scope: a name, an email, or a grant's canonical form.
    pub name: String,
}

impl ResourceKey {
    #[must_use]
    pub fn org(org: &OrgName) -> ResourceKey {
        ResourceKey {
            org: org.clone(),
            project: None,
            kind: Kind::Org,
            name: org.to_string(),
        }
    }

    #[must_use]
    pub fn in_org(org: &OrgName, kind: Kind, name: impl Into<String>) -> ResourceKey {
        ResourceKey {
            org: org.clone(),
            project: None,
            kind,
            name: name.into(),
        }
    }

    #[must_use]
    pub fn project(org: &OrgName, project: &ProjectName) -> ResourceKey {
        ResourceKey::in_org(org, Kind::Project, project.as_str())
    }

    #[must_use]
    pub fn in_project(
        org: &OrgName,
        project: &ProjectName,
        kind: Kind,
        name: impl Into<String>,
    ) -> ResourceKey {
        ResourceKey {
            org: org.clone(),
            project: Some(project.clone()),
            kind,
            name: name.into(),
        }
    }

    /// The key of the project this object lives in, if any.
    #[must_use]
    pub fn parent_project(&self) -> Option<ResourceKey> {
        self.project
            .as_ref()
            .map(|p| ResourceKey::project(&self.org, p))
    }
}

impl fmt::Display for ResourceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.project, self.kind) {
            (_, Kind::Org) => write!(f, "org:{}", self.org),
            (Some(project), kind) => {
                write!(f, "project:{}/{}/{}:{}", self.org, project, kind, self.name)
            }
            (None, kind) => write!(f, "{}:{}/{}", kind, self.org, self.name),
        }
    }
}

/// Everything the manifests ask for.
#[derive(Debug, Clone, Default)]
pub struct DesiredState {
    /// Per-org connection settings and policies, by org name.
    pub orgs: BTreeMap<OrgName, OrgConfig>,
    pub resources: BTreeMap<ResourceKey, Resource>,
}

/// How to reach one org and which of its collections the manifests own.
#[derive(Debug, Clone)]
pub struct OrgConfig {
    pub name: OrgName,
    pub api_url: Option<String>,
    pub api_key_env: Option<String>,
    pub authoritative: BTreeSet<OrgCollection>,
    /// Collections each declared project owns, by project name.
    pub project_authoritative: BTreeMap<ProjectName, BTreeSet<ProjectCollection>>,
    pub api_key_policy: Option<ApiKeyPolicy>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ApiKeyPolicy {
    pub max_age_days: Option<u32>,
    pub allowed_users: Option<BTreeSet<Email>>,
    /// Service accounts whose tokens are allowed; tokens of others violate the policy.
    pub allowed_service_accounts: Option<BTreeSet<Name>>,
    pub on_violation: PolicyAction,
}

/// Whether an object should exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Presence {
    Present,
    /// A tombstone: delete the live object if there is one.
    Absent,
}

/// One declared object.
#[derive(Debug, Clone)]
pub struct Resource {
    pub key: ResourceKey,
    pub spec: Spec,
    pub presence: Presence,
    /// A delete of this object is refused.
    pub protect: bool,
    /// Earlier names: the live object may still carry one of them (a rename).
    pub previous_names: Vec<String>,
    /// Other declared objects this one needs to exist first.
    pub depends_on: Vec<Dependency>,
    /// Where it is declared.
    pub span: Span,
}

/// An edge of the dependency graph, with the place in the manifest that created it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dependency {
    pub target: ResourceKey,
    pub span: Span,
}

/// What an object should look like, per kind. Values are validated and normalised.
#[derive(Debug, Clone, PartialEq)]
pub enum Spec {
    Org(OrgSettings),
    Member(Email),
    ServiceAccount,
    ServiceToken(ServiceTokenSpec),
    /// A plain org-level kind (group, role, environment...), whose module is in
    /// [`crate::kinds`].
    OrgChild(OrgChildSpec),
    AiSecret(AiSecretSpec),
    Project(ProjectSpec),
    EnvVar(EnvVarSpec),
    /// An AI provider key of a project, whose module is [`crate::kinds::ai_provider`].
    AiProvider(crate::kinds::ai_provider::AiProviderSpec),
    /// A plain project child (tag, span iframe...), whose module is in [`crate::kinds`].
    Child(ChildSpec),
    Score(ScoreSpec),
    OnlineScoring(OnlineScoringSpec),
    Alert(AlertSpec),
    Retention(RetentionSpec),
    Export(ExportSpec),
    EnvironmentAlert(EnvironmentAlertSpec),
    /// A saved view of a project, whose module is [`crate::kinds::view`].
    View(crate::kinds::view::ViewSpec),
    Grant(GrantSpec),
}

impl Spec {
    /// Where this object's write-only secret comes from, for kinds that
    /// [hold one](Kind::holds_secret) and declare it.
    #[must_use]
    pub fn secret(&self) -> Option<&SecretSource> {
        match self {
            Spec::AiSecret(s) => s.secret.as_ref(),
            Spec::EnvVar(e) => e.value.as_ref(),
            Spec::AiProvider(p) => p.secret.as_ref(),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct OrgSettings {
    pub api_url: Option<String>,
    pub proxy_url: Option<String>,
    pub realtime_url: Option<String>,
    pub is_universal_api: Option<bool>,
    pub is_dataplane_private: Option<bool>,
    pub image_rendering_mode: Option<ImageRenderingMode>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ServiceTokenSpec {
    pub account: Name,
    pub name: Name,
    pub write_key_to: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct GroupSpec {
    pub description: Option<String>,
    pub members: BTreeSet<Email>,
    pub service_accounts: BTreeSet<Name>,
    pub inherits: BTreeSet<Name>,
    pub builtin: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RoleSpec {
    pub description: Option<String>,
    pub permissions: BTreeSet<(Permission, Option<AclObjectType>)>,
    pub inherits: BTreeSet<Name>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct EnvironmentSpec {
    /// The display name.
    pub name: String,
    pub slug: String,
    pub description: Option<String>,
}

/// A write-only secret, by reference. The value is read at plan time, never stored here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    Env(String),
    File(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct AiSecretSpec {
    pub provider: Option<String>,
    pub secret: Option<SecretSource>,
    pub metadata: BTreeMap<String, serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ProjectSpec {
    pub description: Option<String>,
    /// `None` when the manifest does not manage settings at all.
    pub settings: Option<ProjectSettings>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct ProjectSettings {
    pub comparison_key: Option<String>,
    /// By name; resolved to an experiment id at plan time.
    pub baseline_experiment: Option<String>,
    pub span_field_order: Option<Vec<SpanField>>,
    pub remote_eval_sources: Option<Vec<RemoteEvalSource>>,
    pub disable_realtime_queries: Option<bool>,
    pub default_preprocessor: Option<FunctionRef>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SpanField {
    pub object_type: String,
    pub column_id: String,
    pub position: String,
    pub layout: Option<SpanFieldLayout>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RemoteEvalSource {
    pub url: String,
    pub name: Option<String>,
    pub description: Option<String>,
}

/// A function used by scoring: a built-in by name, or a project function by slug (resolved to
/// an id at plan time).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum FunctionRef {
    Global {
        name: String,
        function_type: Option<FunctionType>,
    },
    Project {
        project: ProjectName,
        slug: String,
        /// A pinned version (the function's `_xact_id`); `None` follows the latest.
        version: Option<String>,
    },
}

/// Where an environment variable applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnvVarScope {
    Org,
    Project(ProjectName),
    Function { project: ProjectName, slug: String },
}

#[derive(Debug, Clone, PartialEq)]
pub struct EnvVarSpec {
    pub name: Name,
    pub scope: EnvVarScope,
    pub value: Option<SecretSource>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TagSpec {
    pub color: Option<String>,
    pub description: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ScoreSpec {
    pub description: Option<String>,
    pub kind: ScoreKind,
    pub object_types: Option<BTreeSet<ScoreObjectType>>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ScoreKind {
    Slider,
    FreeForm,
    Categorical {
        categories: Vec<(String, f64)>,
        multi_select: Option<bool>,
    },
    Weighted(BTreeMap<String, f64>),
    Minimum(BTreeSet<String>),
    Maximum(BTreeSet<String>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct OnlineScoringSpec {
    pub description: Option<String>,
    pub sampling_rate: f64,
    pub scorers: Vec<FunctionRef>,
    pub filter: Option<String>,
    pub scope: Scope,
    pub apply_to_root_span: Option<bool>,
    pub apply_to_span_names: Option<Vec<String>>,
    pub skip_logging: Option<bool>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Scope {
    Span,
    Trace {
        idle_seconds: Option<f64>,
    },
    Group {
        group_by: String,
        placement: GroupPlacement,
        interval_seconds: Option<f64>,
        max_traces: Option<i64>,
        idle_seconds: Option<f64>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct SpanIframeSpec {
    pub url: String,
    pub description: Option<String>,
    pub post_message: Option<bool>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AlertSpec {
    pub description: Option<String>,
    pub filter: String,
    pub interval_seconds: u64,
    pub notify: Notify,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Notify {
    Webhook {
        url: String,
    },
    Slack {
        workspace_id: String,
        channel: String,
        message_template: Option<String>,
    },
}

/// An alert on changes to the org's environments.
#[derive(Debug, Clone, PartialEq)]
pub struct EnvironmentAlertSpec {
    pub description: Option<String>,
    /// The slugs of the environments watched; `None` for every environment.
    pub environments: Option<BTreeSet<String>>,
    pub notify: Notify,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RetentionSpec {
    pub object_type: RetentionObjectType,
    pub days: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ExportSpec {
    pub description: Option<String>,
    pub data: ExportData,
    pub path: String,
    pub format: ExportFormat,
    pub interval_seconds: u64,
    pub credentials: ExportCredentials,
    pub status: Option<AutomationStatus>,
    pub batch_size: Option<i64>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ExportData {
    LogTraces,
    LogSpans,
    Query(String),
}

#[derive(Debug, Clone, PartialEq)]
pub enum ExportCredentials {
    Aws {
        role_arn: String,
        external_id: Option<String>,
    },
    Gcp {
        service_account: String,
    },
}

/// An ACL: a subject gets a privilege on a target.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct GrantSpec {
    pub subject: Subject,
    pub privilege: Privilege,
    pub target: GrantTarget,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Subject {
    User(Email),
    Group(Name),
    ServiceAccount(Name),
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Privilege {
    Role(Name),
    Permission {
        permission: Permission,
        restrict_object_type: Option<AclObjectType>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum GrantTarget {
    Org,
    Project(ProjectName),
    Group(Name),
    Role(Name),
    /// An experiment, dataset or prompt of a project, by name; resolved at plan time.
    Object {
        project: ProjectName,
        object_type: AclObjectType,
        name: String,
    },
}

impl fmt::Display for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Subject::User(email) => write!(f, "user:{email}"),
            Subject::Group(name) => write!(f, "group:{name}"),
            Subject::ServiceAccount(name) => write!(f, "service_account:{name}"),
        }
    }
}

impl fmt::Display for Privilege {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Privilege::Role(name) => write!(f, "role:{name}"),
            Privilege::Permission {
                permission,
                restrict_object_type: None,
            } => {
                write!(f, "permission:{}", permission.as_str())
            }
            Privilege::Permission {
                permission,
                restrict_object_type: Some(t),
            } => {
                write!(f, "permission:{}[{}]", permission.as_str(), t.as_str())
            }
        }
    }
}

impl fmt::Display for GrantTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GrantTarget::Org => f.write_str("org"),
            GrantTarget::Project(name) => write!(f, "project:{name}"),
            GrantTarget::Group(name) => write!(f, "group:{name}"),
            GrantTarget::Role(name) => write!(f, "role:{name}"),
            GrantTarget::Object {
                object_type, name, ..
            } => write!(f, "{}:{name}", object_type.as_str()),
        }
    }
}

impl GrantSpec {
    /// The grant's natural key, used as the name part of its [`ResourceKey`]:
    /// `group:ml-engineers -> role:editor on project:chatbot`.
    #[must_use]
    pub fn key_name(&self) -> String {
        format!("{} -> {} on {}", self.subject, self.privilege, self.target)
    }
}

/// Keys whose declaration differs between two desired states: added, removed, or changed in
/// spec, presence or protection. Used to mark what a pull request touches.
#[must_use]
pub fn changed_between(before: &DesiredState, after: &DesiredState) -> Vec<ResourceKey> {
    let same = |a: &Resource, b: &Resource| {
        a.spec == b.spec && a.presence == b.presence && a.protect == b.protect
    };
    let mut out: Vec<ResourceKey> = after
        .resources
        .iter()
        .filter(|(k, r)| before.resources.get(*k).is_none_or(|b| !same(b, r)))
        .map(|(k, _)| k.clone())
        .collect();
    out.extend(
        before
            .resources
            .keys()
            .filter(|k| !after.resources.contains_key(*k))
            .cloned(),
    );
    out.sort();
    out.dedup();
    out
}

impl DesiredState {
    /// Number of declared objects.
    #[must_use]
    pub fn len(&self) -> usize {
        self.resources.len()
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.resources.is_empty()
    }

    /// Objects of one kind, in key order.
    pub fn of_kind(&self, kind: Kind) -> impl Iterator<Item = &Resource> {
        self.resources.values().filter(move |r| r.key.kind == kind)
    }
}
