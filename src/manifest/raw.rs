//! The manifest language as serde types: exactly what a user may write, nothing resolved.
//!
//! These types are the input contract and the source of `schemas/manifest.schema.json`: doc
//! comments become schema descriptions, and `deny_unknown_fields` becomes
//! `additionalProperties: false`. Validation beyond shape (ranges, references, exclusivity rules)
//! happens once, in `model::lower`, where every problem becomes a coded diagnostic.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;

use super::clearable::{Clearable, refuse_null, required_not_null};
use super::spanned::Sp;
use super::values::{Duration, PermissionSpec, SecretRef};
pub use crate::vocab::{
    AclObjectType, AutomationStatus, ExportFormat, FunctionType, GroupPlacement,
    ImageRenderingMode, Permission, RetentionObjectType, ScoreObjectType, SpanFieldLayout,
};

/// One YAML document: an org, a project or a project template.
#[derive(Debug, Clone)]
pub enum RawDocument {
    Org(Box<RawOrg>),
    Project(Box<RawProject>),
    /// A document that failed to parse (its error is already reported), with whatever names
    /// could still be read from it, so that lowering does not pile "unknown org" or "unknown
    /// template" errors on top of the real one.
    Unparsed(UnparsedDocument),
}

/// The names of a document that failed to parse, read leniently.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UnparsedDocument {
    pub org: Option<String>,
    pub project: Option<String>,
    pub project_template: Option<String>,
}

/// An org document: settings, people, access control and org-wide credentials of one
/// Braintrust organization. Recognised by its `org:` key (and no `project:` key).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawOrg {
    /// The organization's name, as shown in Braintrust. Orgs cannot be created through the API:
    /// this names an existing org.
    pub org: Sp<String>,
    /// Base URL of this org's API (its data plane). Overrides `BRAINTRUST_API_URL`.
    pub api_url: Option<Sp<String>>,
    /// Name of the environment variable holding this org's API key. Overrides
    /// `BRAINTRUST_API_KEY`. The key itself is never written in a manifest.
    pub api_key_env: Option<Sp<String>>,
    /// Kinds whose unlisted live objects bt-gitops deletes. Without this, objects that exist in
    /// Braintrust but not in the manifests are left alone.
    #[serde(default)]
    pub authoritative: Vec<Sp<OrgCollection>>,
    /// Organization settings.
    #[serde(default, deserialize_with = "refuse_null")]
    #[schemars(with = "Sp<RawOrgSettings>")]
    pub settings: Option<Sp<RawOrgSettings>>,
    /// Members of the org, by email.
    #[serde(default)]
    pub members: Vec<Sp<String>>,
    /// Members to remove from the org, by email: one tombstone per member, without making
    /// `members` authoritative.
    #[serde(default)]
    pub removed_members: Vec<Sp<String>>,
    /// Permission groups. The built-in `Owners`, `Engineers` and `Viewers` exist in every org and
    /// can be referenced (and given members) without being declared.
    #[serde(default)]
    pub groups: Vec<Sp<RawGroup>>,
    /// Roles: named sets of permissions.
    #[serde(default)]
    pub roles: Vec<Sp<RawRole>>,
    /// Org-level access grants (ACLs). Use `on:` to grant on a project or a group/role object.
    #[serde(default)]
    pub grants: Vec<Sp<RawGrant>>,
    /// AI provider keys for the org.
    #[serde(default)]
    pub ai_secrets: Vec<Sp<RawAiSecret>>,
    /// Org-level environment variables for functions.
    #[serde(default)]
    pub env_vars: Vec<Sp<RawEnvVar>>,
    /// Service accounts and their tokens.
    #[serde(default)]
    pub service_accounts: Vec<Sp<RawServiceAccount>>,
    /// Rules for API keys, which can only be observed and deleted through the API.
    pub api_key_policy: Option<Sp<RawApiKeyPolicy>>,
    /// Named deployment environments (production, staging...).
    #[serde(default)]
    pub environments: Vec<Sp<RawEnvironment>>,
}

/// Collections of an org document that can be made authoritative.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OrgCollection {
    Members,
    Groups,
    Roles,
    Grants,
    AiSecrets,
    EnvVars,
    ServiceAccounts,
    Environments,
    Projects,
}

/// Organization settings (`PATCH /v1/organization`).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawOrgSettings {
    /// The org's data-plane API URL as recorded in Braintrust.
    #[serde(default, deserialize_with = "refuse_null")]
    #[schemars(with = "Sp<String>")]
    pub api_url: Option<Sp<String>>,
    #[serde(default, deserialize_with = "refuse_null")]
    #[schemars(with = "Sp<String>")]
    pub proxy_url: Option<Sp<String>>,
    #[serde(default, deserialize_with = "refuse_null")]
    #[schemars(with = "Sp<String>")]
    pub realtime_url: Option<Sp<String>>,
    #[serde(default, deserialize_with = "refuse_null")]
    #[schemars(with = "Sp<bool>")]
    pub is_universal_api: Option<Sp<bool>>,
    #[serde(default, deserialize_with = "refuse_null")]
    #[schemars(with = "Sp<bool>")]
    pub is_dataplane_private: Option<Sp<bool>>,
    /// How images in traces are shown.
    #[serde(default, deserialize_with = "refuse_null")]
    #[schemars(with = "Sp<ImageRenderingMode>")]
    pub image_rendering_mode: Option<Sp<ImageRenderingMode>>,
}

/// Whether an object should exist. `absent` is a tombstone: bt-gitops deletes the live object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum State {
    #[default]
    Present,
    Absent,
}

/// A permission group.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawGroup {
    pub name: Sp<String>,
    /// `null` clears it; left out, the live value is left alone.
    #[serde(default)]
    pub description: Clearable<String>,
    /// Member users, by email. They must also be org members.
    #[serde(default)]
    pub members: Vec<Sp<String>>,
    /// Service accounts in the group, by name.
    #[serde(default)]
    pub service_accounts: Vec<Sp<String>>,
    /// Groups whose members are also members of this group.
    #[serde(default)]
    pub inherits: Vec<Sp<String>>,
    /// Earlier names of this group: a rename instead of a delete and a create.
    #[serde(default)]
    pub previous_names: Vec<Sp<String>>,
    #[serde(default)]
    pub state: Option<Sp<State>>,
}

/// A role: permissions, optionally narrowed to one object type, and roles it inherits.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawRole {
    pub name: Sp<String>,
    /// `null` clears it; left out, the live value is left alone.
    #[serde(default)]
    pub description: Clearable<String>,
    /// `read`, or `{ permission: create, restrict_object_type: experiment }`.
    #[serde(default)]
    pub permissions: Vec<Sp<PermissionSpec>>,
    /// Roles whose permissions this role also grants.
    #[serde(default)]
    pub inherits: Vec<Sp<String>>,
    #[serde(default)]
    pub previous_names: Vec<Sp<String>>,
    #[serde(default)]
    pub state: Option<Sp<State>>,
}

/// An access grant (an ACL): one subject (user, group or service account) gets one role or one
/// permission on the org, the enclosing project, or the object named in `on`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawGrant {
    /// A user, by email.
    #[serde(default, deserialize_with = "refuse_null")]
    #[schemars(with = "Sp<String>")]
    pub user: Option<Sp<String>>,
    /// A group, by name.
    #[serde(default, deserialize_with = "refuse_null")]
    #[schemars(with = "Sp<String>")]
    pub group: Option<Sp<String>>,
    /// A service account, by name.
    #[serde(default, deserialize_with = "refuse_null")]
    #[schemars(with = "Sp<String>")]
    pub service_account: Option<Sp<String>>,
    /// A role, by name.
    #[serde(default, deserialize_with = "refuse_null")]
    #[schemars(with = "Sp<String>")]
    pub role: Option<Sp<String>>,
    /// A single permission.
    #[serde(default, deserialize_with = "refuse_null")]
    #[schemars(with = "Sp<Permission>")]
    pub permission: Option<Sp<Permission>>,
    /// Narrows a `permission` grant to objects of one type. Not allowed with `role`.
    #[serde(default, deserialize_with = "refuse_null")]
    #[schemars(with = "Sp<AclObjectType>")]
    pub restrict_object_type: Option<Sp<AclObjectType>>,
    /// The object granted on. Defaults to the org (in an org document) or the project (in a
    /// project document).
    #[serde(default, deserialize_with = "refuse_null")]
    #[schemars(with = "Sp<RawGrantTarget>")]
    pub on: Option<Sp<RawGrantTarget>>,
    #[serde(default)]
    pub state: Option<Sp<State>>,
}

/// The object of a grant, by kind and name. Exactly one field.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawGrantTarget {
    #[serde(default, deserialize_with = "refuse_null")]
    #[schemars(with = "Sp<String>")]
    pub project: Option<Sp<String>>,
    #[serde(default, deserialize_with = "refuse_null")]
    #[schemars(with = "Sp<String>")]
    pub group: Option<Sp<String>>,
    #[serde(default, deserialize_with = "refuse_null")]
    #[schemars(with = "Sp<String>")]
    pub role: Option<Sp<String>>,
    #[serde(default, deserialize_with = "refuse_null")]
    #[schemars(with = "Sp<String>")]
    pub experiment: Option<Sp<String>>,
    #[serde(default, deserialize_with = "refuse_null")]
    #[schemars(with = "Sp<String>")]
    pub dataset: Option<Sp<String>>,
    #[serde(default, deserialize_with = "refuse_null")]
    #[schemars(with = "Sp<String>")]
    pub prompt: Option<Sp<String>>,
}

/// An AI provider key. The key comes from the environment or a file, never from the manifest.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawAiSecret {
    pub name: Sp<String>,
    /// Provider: `openai`, `anthropic`, `google`, `mistral`, `bedrock`, `azure`...
    #[serde(rename = "type")]
    #[serde(default, deserialize_with = "refuse_null")]
    #[schemars(with = "Sp<String>")]
    pub provider: Option<Sp<String>>,
    /// `{ env: NAME }` or `{ file: PATH }`.
    pub secret: Option<Sp<SecretRef>>,
    /// Provider-specific settings (endpoints, deployments...).
    #[serde(default)]
    pub metadata: BTreeMap<String, serde_json::Value>,
    /// Refuse to delete this secret. Defaults to true for AI secrets.
    pub protect: Option<Sp<bool>>,
    #[serde(default)]
    pub previous_names: Vec<Sp<String>>,
    #[serde(default)]
    pub state: Option<Sp<State>>,
}

/// An environment variable for functions, at org, project or function level.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawEnvVar {
    pub name: Sp<String>,
    /// `{ env: NAME }` or `{ file: PATH }`.
    pub value: Option<Sp<SecretRef>>,
    /// In a project document: scope the variable to one function of the project, by slug.
    #[serde(default, deserialize_with = "refuse_null")]
    #[schemars(with = "Sp<String>")]
    pub function: Option<Sp<String>>,
    #[serde(default)]
    pub state: Option<Sp<State>>,
}

/// A service account (a non-human org member) and the tokens bt-gitops keeps for it.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawServiceAccount {
    pub name: Sp<String>,
    #[serde(default)]
    pub tokens: Vec<Sp<RawServiceToken>>,
    #[serde(default)]
    pub state: Option<Sp<State>>,
}

/// A service token. Its key is shown once by the API; bt-gitops writes it to `write_key_to`
/// (mode 0600) and nowhere else.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawServiceToken {
    pub name: Sp<String>,
    /// File that receives the new token's key, relative to the manifest root.
    pub write_key_to: Option<Sp<String>>,
    #[serde(default)]
    pub state: Option<Sp<State>>,
}

/// What bt-gitops does about API keys (keys are created in the UI; the API can list and delete).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawApiKeyPolicy {
    /// Keys older than this many days violate the policy.
    pub max_age_days: Option<Sp<u32>>,
    /// Only these users may hold keys; keys of other users violate the policy.
    pub allowed_users: Option<Vec<Sp<String>>>,
    /// Only these service accounts may hold service tokens; tokens of other accounts violate
    /// the policy.
    pub allowed_service_accounts: Option<Vec<Sp<String>>>,
    /// `report` (default) lists violations in the plan; `delete` plans the deletion of
    /// violating service tokens (API keys are only reported).
    pub on_violation: Option<Sp<PolicyAction>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PolicyAction {
    Report,
    Delete,
}

/// A named environment (`/environment`).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawEnvironment {
    pub name: Sp<String>,
    /// URL-safe identifier, unique in the org. Defaults to the name, lowercased.
    #[serde(default, deserialize_with = "refuse_null")]
    #[schemars(with = "Sp<String>")]
    pub slug: Option<Sp<String>>,
    /// `null` clears it; left out, the live value is left alone.
    #[serde(default)]
    pub description: Clearable<String>,
    #[serde(default)]
    pub state: Option<Sp<State>>,
}

/// A project document (`project: NAME`), or a project template (`project_template: NAME`) that
/// projects include with `template: NAME`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawProject {
    /// The project's name, unique in its org.
    pub project: Option<Sp<String>>,
    /// Declares a template instead of a project: the same fields, reused by projects.
    pub project_template: Option<Sp<String>>,
    /// The org the project belongs to. May be left out when the manifests declare one org.
    pub org: Option<Sp<String>>,
    /// A template whose tags, scores, rules, automations, grants and settings this project
    /// starts from. Entries the project declares with the same name replace the template's.
    pub template: Option<Sp<String>>,
    /// `null` clears it; left out, the live value is left alone.
    #[serde(default)]
    pub description: Clearable<String>,
    /// Earlier names of this project: a rename instead of a delete and a create.
    #[serde(default)]
    pub previous_names: Vec<Sp<String>>,
    /// Refuse to delete this project. Defaults to true for projects.
    pub protect: Option<Sp<bool>>,
    #[serde(default)]
    pub state: Option<Sp<State>>,
    /// Kinds in this project whose unlisted live objects bt-gitops deletes.
    #[serde(default)]
    pub authoritative: Vec<Sp<ProjectCollection>>,
    #[serde(default, deserialize_with = "refuse_null")]
    #[schemars(with = "Sp<RawProjectSettings>")]
    pub settings: Option<Sp<RawProjectSettings>>,
    #[serde(default)]
    pub tags: Vec<Sp<RawTag>>,
    /// Human-review scores (slider, categorical, free-form) and aggregate scores (weighted,
    /// minimum, maximum).
    #[serde(default)]
    pub scores: Vec<Sp<RawScore>>,
    /// Online-scoring rules: scorers run automatically on a sample of logs.
    #[serde(default)]
    pub online_scoring: Vec<Sp<RawOnlineScoring>>,
    /// Custom span views embedded as iframes.
    #[serde(default)]
    pub span_iframes: Vec<Sp<RawSpanIframe>>,
    /// MCP servers the project's prompts and agents can call.
    #[serde(default)]
    pub mcp_servers: Vec<Sp<crate::kinds::mcp_server::RawMcpServer>>,
    /// Datasets (name, description, metadata; never their rows).
    #[serde(default)]
    pub datasets: Vec<Sp<crate::kinds::dataset::RawDataset>>,
    /// Saved views of the project's pages (logs, experiments...), shared with its members.
    #[serde(default)]
    pub views: Vec<Sp<crate::kinds::view::RawView>>,
    /// Alerts on logs matching a BTQL filter.
    #[serde(default)]
    pub alerts: Vec<Sp<RawAlert>>,
    /// Retention rules. They permanently delete data older than `days`.
    #[serde(default)]
    pub retention: Vec<Sp<RawRetention>>,
    /// Periodic exports of logs to S3 or GCS.
    #[serde(default)]
    pub exports: Vec<Sp<RawExport>>,
    /// Alerts when an environment of the org changes (a prompt or function moved to it).
    #[serde(default)]
    pub environment_alerts: Vec<Sp<RawEnvironmentAlert>>,
    /// Project-level access grants.
    #[serde(default)]
    pub grants: Vec<Sp<RawGrant>>,
    /// Project- or function-level environment variables.
    #[serde(default)]
    pub env_vars: Vec<Sp<RawEnvVar>>,
    /// AI providers of the project (keys that override the org's AI secrets of the same
    /// provider); they share one name space with the project's env vars.
    #[serde(default)]
    pub ai_providers: Vec<Sp<crate::kinds::ai_provider::RawAiProvider>>,
}

/// Collections of a project document that can be made authoritative.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ProjectCollection {
    Tags,
    Scores,
    OnlineScoring,
    SpanIframes,
    McpServers,
    Datasets,
    Views,
    Alerts,
    Retention,
    Exports,
    EnvironmentAlerts,
    Grants,
    EnvVars,
    AiProviders,
}

/// Project settings. `PATCH` replaces them whole, so bt-gitops always sends all of them.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawProjectSettings {
    /// Key used to match rows when comparing experiments (`input` by default in Braintrust).
    #[serde(default, deserialize_with = "refuse_null")]
    #[schemars(with = "Sp<String>")]
    pub comparison_key: Option<Sp<String>>,
    /// Default baseline experiment, by name.
    #[serde(default, deserialize_with = "refuse_null")]
    #[schemars(with = "Sp<String>")]
    pub baseline_experiment: Option<Sp<String>>,
    /// Order of fields in the trace view.
    #[serde(default, deserialize_with = "refuse_null")]
    #[schemars(with = "Vec<Sp<RawSpanField>>")]
    pub span_field_order: Option<Vec<Sp<RawSpanField>>>,
    /// Remote eval endpoints.
    #[serde(default, deserialize_with = "refuse_null")]
    #[schemars(with = "Vec<Sp<RawRemoteEvalSource>>")]
    pub remote_eval_sources: Option<Vec<Sp<RawRemoteEvalSource>>>,
    /// Turn off realtime queries for this project.
    #[serde(default, deserialize_with = "refuse_null")]
    #[schemars(with = "Sp<bool>")]
    pub disable_realtime_queries: Option<Sp<bool>>,
    /// Default preprocessor function.
    #[serde(default, deserialize_with = "refuse_null")]
    #[schemars(with = "Sp<RawFunctionRef>")]
    pub default_preprocessor: Option<Sp<RawFunctionRef>>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawSpanField {
    pub object_type: Sp<String>,
    pub column_id: Sp<String>,
    pub position: Sp<String>,
    #[serde(default, deserialize_with = "refuse_null")]
    #[schemars(with = "Sp<SpanFieldLayout>")]
    pub layout: Option<Sp<SpanFieldLayout>>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawRemoteEvalSource {
    pub url: Sp<String>,
    #[serde(default, deserialize_with = "refuse_null")]
    #[schemars(with = "Sp<String>")]
    pub name: Option<Sp<String>>,
    #[serde(default, deserialize_with = "refuse_null")]
    #[schemars(with = "Sp<String>")]
    pub description: Option<Sp<String>>,
}

/// A function: `{ global: Factuality }` for a built-in, or `{ function: slug }` for a function
/// of this project (or of `project`), resolved by slug at plan time.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawFunctionRef {
    #[serde(default, deserialize_with = "refuse_null")]
    #[schemars(with = "Sp<String>")]
    pub global: Option<Sp<String>>,
    #[serde(default, deserialize_with = "refuse_null")]
    #[schemars(with = "Sp<String>")]
    pub function: Option<Sp<String>>,
    /// The project that holds `function`, when it is not this one.
    #[serde(default, deserialize_with = "refuse_null")]
    #[schemars(with = "Sp<String>")]
    pub project: Option<Sp<String>>,
    /// For `global`: the function type (`scorer` by default).
    #[serde(default, deserialize_with = "refuse_null")]
    #[schemars(with = "Sp<FunctionType>")]
    pub function_type: Option<Sp<FunctionType>>,
    /// For `function`: pin this version of it (its transaction id `_xact_id`, or a short
    /// version id); without it, the latest version runs.
    #[serde(default, deserialize_with = "refuse_null")]
    #[schemars(with = "Sp<String>")]
    pub version: Option<Sp<String>>,
}

/// A project tag.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawTag {
    pub name: Sp<String>,
    /// `#rgb` or `#rrggbb`.
    #[serde(default, deserialize_with = "refuse_null")]
    #[schemars(with = "Sp<String>")]
    pub color: Option<Sp<String>>,
    /// `null` clears it; left out, the live value is left alone.
    #[serde(default)]
    pub description: Clearable<String>,
    #[serde(default)]
    pub previous_names: Vec<Sp<String>>,
    #[serde(default)]
    pub state: Option<Sp<State>>,
}

/// A human-review or aggregate score. Which fields apply depends on `type`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(transform = tombstone_schema::<RawScore>)]
pub struct RawScore {
    pub name: Sp<String>,
    /// Required unless `state: absent`.
    #[serde(rename = "type")]
    #[serde(default, deserialize_with = "required_not_null")]
    #[schemars(with = "Sp<ScoreType>")]
    pub score_type: Option<Sp<ScoreType>>,
    /// `null` clears it; left out, the live value is left alone.
    #[serde(default)]
    pub description: Clearable<String>,
    /// `categorical` only: the choices, each with a value between 0 and 1.
    #[serde(default, deserialize_with = "refuse_null")]
    #[schemars(with = "Vec<Sp<RawCategory>>")]
    pub categories: Option<Vec<Sp<RawCategory>>>,
    /// `categorical` only: allow several categories at once.
    #[serde(default, deserialize_with = "refuse_null")]
    #[schemars(with = "Sp<bool>")]
    pub multi_select: Option<Sp<bool>>,
    /// `weighted` only: score name -> weight.
    #[serde(default, deserialize_with = "refuse_null")]
    #[schemars(with = "Sp<BTreeMap<String, Sp<f64>>>")]
    pub weights: Option<Sp<BTreeMap<String, Sp<f64>>>>,
    /// `minimum` and `maximum` only: the scores combined.
    #[serde(default, deserialize_with = "refuse_null")]
    #[schemars(with = "Vec<Sp<String>>")]
    pub scores: Option<Vec<Sp<String>>>,
    /// Where the score is shown: `project_logs`, `experiment`, `dataset`.
    #[serde(default, deserialize_with = "refuse_null")]
    #[schemars(with = "Vec<Sp<ScoreObjectType>>")]
    pub object_types: Option<Vec<Sp<ScoreObjectType>>>,
    #[serde(default)]
    pub previous_names: Vec<Sp<String>>,
    #[serde(default)]
    pub state: Option<Sp<State>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, JsonSchema)]
pub enum ScoreType {
    #[serde(rename = "slider")]
    Slider,
    #[serde(rename = "categorical")]
    Categorical,
    #[serde(rename = "free-form")]
    FreeForm,
    #[serde(rename = "weighted")]
    Weighted,
    #[serde(rename = "minimum")]
    Minimum,
    #[serde(rename = "maximum")]
    Maximum,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawCategory {
    pub name: Sp<String>,
    /// Between 0 and 1.
    pub value: Sp<f64>,
}

/// An online-scoring rule (a project score of type `online`).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(transform = tombstone_schema::<RawOnlineScoring>)]
pub struct RawOnlineScoring {
    pub name: Sp<String>,
    /// `null` clears it; left out, the live value is left alone.
    #[serde(default)]
    pub description: Clearable<String>,
    /// Fraction of logs scored, between 0 and 1. Required unless `state: absent`.
    #[serde(default, deserialize_with = "required_not_null")]
    #[schemars(with = "Sp<f64>")]
    pub sampling_rate: Option<Sp<f64>>,
    /// Scorers to run. Required unless `state: absent`.
    #[serde(default, deserialize_with = "required_not_null")]
    #[schemars(with = "Vec<Sp<RawFunctionRef>>")]
    pub scorers: Option<Vec<Sp<RawFunctionRef>>>,
    /// BTQL filter selecting the logs to score.
    /// `null` clears it; left out, the live value is left alone.
    #[serde(default)]
    pub filter: Clearable<String>,
    /// What one scoring run sees: a span (default), a trace or a group of traces.
    #[serde(default, deserialize_with = "refuse_null")]
    #[schemars(with = "Sp<RawScope>")]
    pub scope: Option<Sp<RawScope>>,
    /// Span scope only: score root spans.
    #[serde(default, deserialize_with = "refuse_null")]
    #[schemars(with = "Sp<bool>")]
    pub apply_to_root_span: Option<Sp<bool>>,
    /// Span scope only: score spans with these names.
    #[serde(default, deserialize_with = "refuse_null")]
    #[schemars(with = "Vec<Sp<String>>")]
    pub apply_to_span_names: Option<Vec<Sp<String>>>,
    /// Do not log the scorer spans.
    #[serde(default, deserialize_with = "refuse_null")]
    #[schemars(with = "Sp<bool>")]
    pub skip_logging: Option<Sp<bool>>,
    #[serde(default)]
    pub previous_names: Vec<Sp<String>>,
    #[serde(default)]
    pub state: Option<Sp<State>>,
}

/// The unit an online scorer or export works on.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawScope {
    #[serde(rename = "type")]
    pub scope_type: Sp<ScopeType>,
    /// Trace and group scopes: seconds without new spans before the unit is complete.
    #[serde(default, deserialize_with = "refuse_null")]
    #[schemars(with = "Sp<f64>")]
    pub idle_seconds: Option<Sp<f64>>,
    /// Group scope: the field traces are grouped by.
    #[serde(default, deserialize_with = "refuse_null")]
    #[schemars(with = "Sp<String>")]
    pub group_by: Option<Sp<String>>,
    /// Group scope: score the `first` trace of a group or `each`.
    #[serde(default, deserialize_with = "refuse_null")]
    #[schemars(with = "Sp<GroupPlacement>")]
    pub placement: Option<Sp<GroupPlacement>>,
    /// Group scope: at least 1.
    #[serde(default, deserialize_with = "refuse_null")]
    #[schemars(with = "Sp<f64>")]
    pub interval_seconds: Option<Sp<f64>>,
    /// Group scope: 1 to 64.
    #[serde(default, deserialize_with = "refuse_null")]
    #[schemars(with = "Sp<i64>")]
    pub max_traces: Option<Sp<i64>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ScopeType {
    Span,
    Trace,
    Group,
}

/// A span iframe: a custom view of span data.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(transform = tombstone_schema::<RawSpanIframe>)]
pub struct RawSpanIframe {
    pub name: Sp<String>,
    /// Required unless `state: absent`.
    #[serde(default, deserialize_with = "required_not_null")]
    #[schemars(with = "Sp<String>")]
    pub url: Option<Sp<String>>,
    /// `null` clears it; left out, the live value is left alone.
    #[serde(default)]
    pub description: Clearable<String>,
    /// Send span data to the iframe with `postMessage`.
    #[serde(default, deserialize_with = "refuse_null")]
    #[schemars(with = "Sp<bool>")]
    pub post_message: Option<Sp<bool>>,
    #[serde(default)]
    pub previous_names: Vec<Sp<String>>,
    #[serde(default)]
    pub state: Option<Sp<State>>,
}

/// An alert: fires when logs match `filter`, at most once per `interval`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(transform = tombstone_schema::<RawAlert>)]
pub struct RawAlert {
    pub name: Sp<String>,
    /// `null` clears it; left out, the live value is left alone.
    #[serde(default)]
    pub description: Clearable<String>,
    /// BTQL filter on logs. Required unless `state: absent`.
    #[serde(default, deserialize_with = "required_not_null")]
    #[schemars(with = "Sp<String>")]
    pub filter: Option<Sp<String>>,
    /// `1h`, `30m`, `90s`, `1d` or seconds; between 1 second and 30 days. Required unless
    /// `state: absent`.
    #[serde(default, deserialize_with = "required_not_null")]
    #[schemars(with = "Sp<Duration>")]
    pub interval: Option<Sp<Duration>>,
    /// Required unless `state: absent`.
    #[serde(default, deserialize_with = "required_not_null")]
    #[schemars(with = "Sp<RawNotify>")]
    pub notify: Option<Sp<RawNotify>>,
    #[serde(default)]
    pub previous_names: Vec<Sp<String>>,
    #[serde(default)]
    pub state: Option<Sp<State>>,
}

/// Where an alert goes: exactly one of `webhook` or `slack`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawNotify {
    /// An `https://` URL receiving a POST.
    #[serde(default, deserialize_with = "refuse_null")]
    #[schemars(with = "Sp<String>")]
    pub webhook: Option<Sp<String>>,
    #[serde(default, deserialize_with = "refuse_null")]
    #[schemars(with = "Sp<RawSlack>")]
    pub slack: Option<Sp<RawSlack>>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawSlack {
    pub workspace_id: Sp<String>,
    pub channel: Sp<String>,
    /// `null` clears it; left out, the live value is left alone.
    #[serde(default)]
    pub message_template: Clearable<String>,
}

/// An environment alert: notifies a webhook or Slack channel when one of the org's
/// environments changes.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(transform = tombstone_schema::<RawEnvironmentAlert>)]
pub struct RawEnvironmentAlert {
    pub name: Sp<String>,
    /// `null` clears it; left out, the live value is left alone.
    #[serde(default)]
    pub description: Clearable<String>,
    /// Slugs of the environments to watch, declared in the org document or existing live;
    /// every environment when left out.
    #[serde(default, deserialize_with = "refuse_null")]
    #[schemars(with = "Vec<Sp<String>>")]
    pub environments: Option<Vec<Sp<String>>>,
    /// Required unless `state: absent`.
    #[serde(default, deserialize_with = "required_not_null")]
    #[schemars(with = "Sp<RawNotify>")]
    pub notify: Option<Sp<RawNotify>>,
    #[serde(default)]
    pub previous_names: Vec<Sp<String>>,
    #[serde(default)]
    pub state: Option<Sp<State>>,
}

/// A retention rule: data of `object_type` older than `days` is permanently deleted.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(transform = tombstone_schema::<RawRetention>)]
pub struct RawRetention {
    /// Defaults to `retention-<object_type>`.
    #[serde(default, deserialize_with = "refuse_null")]
    #[schemars(with = "Sp<String>")]
    pub name: Option<Sp<String>>,
    /// Required unless `state: absent` (a tombstone needs `name` or `object_type`).
    #[serde(default, deserialize_with = "required_not_null")]
    #[schemars(with = "Sp<RetentionObjectType>")]
    pub object_type: Option<Sp<RetentionObjectType>>,
    /// Required unless `state: absent`.
    #[serde(default, deserialize_with = "required_not_null")]
    #[schemars(with = "Sp<f64>")]
    pub days: Option<Sp<f64>>,
    #[serde(default)]
    pub state: Option<Sp<State>>,
}

/// A periodic export of logs to object storage.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(transform = tombstone_schema::<RawExport>)]
pub struct RawExport {
    pub name: Sp<String>,
    /// `null` clears it; left out, the live value is left alone.
    #[serde(default)]
    pub description: Clearable<String>,
    /// `log_traces`, `log_spans` or `btql_query` (with `query`). Required unless
    /// `state: absent`.
    #[serde(default, deserialize_with = "required_not_null")]
    #[schemars(with = "Sp<ExportData>")]
    pub data: Option<Sp<ExportData>>,
    /// BTQL query, for `data: btql_query`.
    #[serde(default, deserialize_with = "refuse_null")]
    #[schemars(with = "Sp<String>")]
    pub query: Option<Sp<String>>,
    /// `s3://bucket/prefix` or `gs://bucket/prefix`. Braintrust cannot change it later.
    /// Required unless `state: absent`.
    #[serde(default, deserialize_with = "required_not_null")]
    #[schemars(with = "Sp<String>")]
    pub path: Option<Sp<String>>,
    /// Required unless `state: absent`.
    #[serde(default, deserialize_with = "required_not_null")]
    #[schemars(with = "Sp<ExportFormat>")]
    pub format: Option<Sp<ExportFormat>>,
    /// How often to export; between 1 second and 30 days. Required unless `state: absent`.
    #[serde(default, deserialize_with = "required_not_null")]
    #[schemars(with = "Sp<Duration>")]
    pub interval: Option<Sp<Duration>>,
    /// Required unless `state: absent`.
    #[serde(default, deserialize_with = "required_not_null")]
    #[schemars(with = "Sp<RawExportCredentials>")]
    pub credentials: Option<Sp<RawExportCredentials>>,
    /// `active` (default) or `paused`.
    #[serde(default, deserialize_with = "refuse_null")]
    #[schemars(with = "Sp<AutomationStatus>")]
    pub status: Option<Sp<AutomationStatus>>,
    #[serde(default, deserialize_with = "refuse_null")]
    #[schemars(with = "Sp<i64>")]
    pub batch_size: Option<Sp<i64>>,
    #[serde(default)]
    pub previous_names: Vec<Sp<String>>,
    #[serde(default)]
    pub state: Option<Sp<State>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ExportData {
    LogTraces,
    LogSpans,
    BtqlQuery,
}

/// Credentials Braintrust uses to write the export: exactly one of `aws_role_arn` or
/// `gcp_service_account`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawExportCredentials {
    #[serde(default, deserialize_with = "refuse_null")]
    #[schemars(with = "Sp<String>")]
    pub aws_role_arn: Option<Sp<String>>,
    /// AWS only; generated by Braintrust when left out.
    #[serde(default, deserialize_with = "refuse_null")]
    #[schemars(with = "Sp<String>")]
    pub external_id: Option<Sp<String>>,
    #[serde(default, deserialize_with = "refuse_null")]
    #[schemars(with = "Sp<String>")]
    pub gcp_service_account: Option<Sp<String>>,
}

/// Kinds whose tombstones (`state: absent`) need only their identifying fields: the fields a
/// present object must have.
pub trait TombstoneFields {
    /// Fields required unless `state: absent`, as written in YAML.
    const REQUIRED_UNLESS_ABSENT: &'static [&'static str];
    /// For kinds whose identifying field is itself optional: a tombstone needs one of these.
    const TOMBSTONE_NEEDS_ONE_OF: &'static [&'static str] = &[];
    /// The first field (in declaration order, as the parser would name it) that this entry
    /// needs and leaves out: any of [`Self::REQUIRED_UNLESS_ABSENT`] for a present object,
    /// and for a tombstone only what identifies it.
    fn first_missing(&self) -> Option<&'static str>;
}

/// Whether `state` makes an entry a tombstone.
fn absent(state: &Option<Sp<State>>) -> bool {
    state.as_ref().is_some_and(|s| s.value == State::Absent)
}

/// The first of `fields` (name, whether it is set) that is not set, unless `state` is absent.
pub(crate) fn first_unset(
    state: &Option<Sp<State>>,
    fields: &[(&'static str, bool)],
) -> Option<&'static str> {
    if absent(state) {
        return None;
    }
    fields.iter().find(|(_, set)| !set).map(|(name, _)| *name)
}

impl TombstoneFields for RawScore {
    const REQUIRED_UNLESS_ABSENT: &'static [&'static str] = &["type"];
    fn first_missing(&self) -> Option<&'static str> {
        first_unset(&self.state, &[("type", self.score_type.is_some())])
    }
}
impl TombstoneFields for RawOnlineScoring {
    const REQUIRED_UNLESS_ABSENT: &'static [&'static str] = &["sampling_rate", "scorers"];
    fn first_missing(&self) -> Option<&'static str> {
        first_unset(
            &self.state,
            &[
                ("sampling_rate", self.sampling_rate.is_some()),
                ("scorers", self.scorers.is_some()),
            ],
        )
    }
}
impl TombstoneFields for RawSpanIframe {
    const REQUIRED_UNLESS_ABSENT: &'static [&'static str] = &["url"];
    fn first_missing(&self) -> Option<&'static str> {
        first_unset(&self.state, &[("url", self.url.is_some())])
    }
}
impl TombstoneFields for RawAlert {
    const REQUIRED_UNLESS_ABSENT: &'static [&'static str] = &["filter", "interval", "notify"];
    fn first_missing(&self) -> Option<&'static str> {
        first_unset(
            &self.state,
            &[
                ("filter", self.filter.is_some()),
                ("interval", self.interval.is_some()),
                ("notify", self.notify.is_some()),
            ],
        )
    }
}
impl TombstoneFields for RawRetention {
    const REQUIRED_UNLESS_ABSENT: &'static [&'static str] = &["object_type", "days"];
    const TOMBSTONE_NEEDS_ONE_OF: &'static [&'static str] = &["name", "object_type"];
    fn first_missing(&self) -> Option<&'static str> {
        if absent(&self.state) {
            // Named by `name`, or by its object type when unnamed.
            return (self.name.is_none() && self.object_type.is_none()).then_some("object_type");
        }
        first_unset(
            &self.state,
            &[
                ("object_type", self.object_type.is_some()),
                ("days", self.days.is_some()),
            ],
        )
    }
}
impl TombstoneFields for RawEnvironmentAlert {
    const REQUIRED_UNLESS_ABSENT: &'static [&'static str] = &["notify"];
    fn first_missing(&self) -> Option<&'static str> {
        first_unset(&self.state, &[("notify", self.notify.is_some())])
    }
}
impl TombstoneFields for RawExport {
    const REQUIRED_UNLESS_ABSENT: &'static [&'static str] =
        &["data", "path", "format", "interval", "credentials"];
    fn first_missing(&self) -> Option<&'static str> {
        first_unset(
            &self.state,
            &[
                ("data", self.data.is_some()),
                ("path", self.path.is_some()),
                ("format", self.format.is_some()),
                ("interval", self.interval.is_some()),
                ("credentials", self.credentials.is_some()),
            ],
        )
    }
}

impl TombstoneFields for crate::kinds::mcp_server::RawMcpServer {
    const REQUIRED_UNLESS_ABSENT: &'static [&'static str] = &["url"];
    fn first_missing(&self) -> Option<&'static str> {
        first_unset(&self.state, &[("url", self.url.is_some())])
    }
}

impl TombstoneFields for crate::kinds::view::RawView {
    const REQUIRED_UNLESS_ABSENT: &'static [&'static str] = &["type"];
    fn first_missing(&self) -> Option<&'static str> {
        first_unset(&self.state, &[("type", self.view_type.is_some())])
    }
}

impl RawProject {
    /// The first entry (in document order) that leaves out a field it needs, and that field:
    /// what the parser reported when these fields were required even in tombstones.
    #[must_use]
    pub fn first_missing_field(&self) -> Option<(super::spanned::DocPos, &'static str)> {
        fn scan<T: TombstoneFields>(
            entries: &[Sp<T>],
            out: &mut Vec<(super::spanned::DocPos, &'static str)>,
        ) {
            out.extend(
                entries
                    .iter()
                    .filter_map(|e| e.value.first_missing().map(|f| (e.pos, f))),
            );
        }
        let mut found = Vec::new();
        scan(&self.scores, &mut found);
        scan(&self.online_scoring, &mut found);
        scan(&self.span_iframes, &mut found);
        scan(&self.alerts, &mut found);
        scan(&self.retention, &mut found);
        scan(&self.exports, &mut found);
        scan(&self.environment_alerts, &mut found);
        scan(&self.mcp_servers, &mut found);
        scan(&self.views, &mut found);
        scan(&self.ai_providers, &mut found);
        found
            .into_iter()
            .min_by_key(|(pos, _)| (pos.offset.unwrap_or(usize::MAX), pos.line, pos.col))
    }
}

/// Makes the schema say what lowering enforces: the kind's fields are required unless
/// `state: absent` (`if`/`else`), so that a tombstone may carry only its name.
pub(crate) fn tombstone_schema<T: TombstoneFields>(schema: &mut schemars::Schema) {
    let required = T::REQUIRED_UNLESS_ABSENT;
    if let Some(serde_json::Value::Array(list)) = schema.get_mut("required") {
        list.retain(|f| !f.as_str().is_some_and(|f| required.contains(&f)));
    }
    schema.insert(
        "if".into(),
        serde_json::json!({
            "properties": { "state": { "const": "absent" } },
            "required": ["state"],
        }),
    );
    if !T::TOMBSTONE_NEEDS_ONE_OF.is_empty() {
        let one_of: Vec<_> = T::TOMBSTONE_NEEDS_ONE_OF
            .iter()
            .map(|f| serde_json::json!({ "required": [f] }))
            .collect();
        schema.insert("then".into(), serde_json::json!({ "anyOf": one_of }));
    }
    schema.insert("else".into(), serde_json::json!({ "required": required }));
}
