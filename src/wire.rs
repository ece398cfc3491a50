//! Serde types for the Braintrust admin API, exactly as the API speaks them.
//!
//! The shapes follow the component schemas of the official OpenAPI spec
//! (`braintrust-openapi/spec.json`): field names, required fields, enum strings and nullability.
//! Both the HTTP client and the emulator use these types, so a wrong shape shows up in both. This is
//! a pure contract (serde data, no IO), like `vocab`: the core's per-kind modules (`kinds`) build
//! request bodies and read list items with it, while `api` alone does the HTTP.
//!
//! Conventions:
//! - Response objects are lenient: every optional field is an `Option` that accepts `null` and is
//!   left out when `None`, and unknown fields are ignored.
//! - Request bodies (`Create*`, `Patch*`, `Delete*`) are strict where the spec is: an optional field that
//!   the spec does not mark nullable rejects an explicit `null` (see [`non_null`]).
//! - Ids are [`Id`], a UUID string checked on deserialization.
//! - Where the spec is loose (metadata maps, custom charts, search clauses), the value stays
//!   [`serde_json::Value`].

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

pub use crate::vocab::{
    AclObjectType, AutomationStatus, ExportFormat, FunctionType, GroupPlacement,
    ImageRenderingMode, Permission, RetentionObjectType, ScoreObjectType, SpanFieldLayout,
};

/// A JSON object with arbitrary values (`additionalProperties: {nullable: true}` in the spec).
pub type JsonMap = serde_json::Map<String, Value>;

mod objects;
pub use objects::*;

// ---------------------------------------------------------------------------------------------
// Scalars and helpers
// ---------------------------------------------------------------------------------------------

/// A UUID in its canonical textual form (`8-4-4-4-12` hex digits), stored lowercase.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Id(String);

/// The error for text that is not a UUID.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a UUID")]
pub struct InvalidId(pub String);

impl Id {
    /// Parses a UUID, accepting either case and storing it lowercase.
    ///
    /// # Errors
    /// [`InvalidId`] when the text is not `8-4-4-4-12` hex digits.
    pub fn parse(text: &str) -> Result<Id, InvalidId> {
        let bytes = text.as_bytes();
        let well_formed = bytes.len() == 36
            && bytes.iter().enumerate().all(|(i, b)| match i {
                8 | 13 | 18 | 23 => *b == b'-',
                _ => b.is_ascii_hexdigit(),
            });
        if well_formed {
            Ok(Id(text.to_ascii_lowercase()))
        } else {
            Err(InvalidId(text.to_owned()))
        }
    }

    /// The nil UUID (all zeros).
    pub fn nil() -> Id {
        Id("00000000-0000-0000-0000-000000000000".to_owned())
    }

    /// The UUID text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Id({})", self.0)
    }
}

impl<'de> Deserialize<'de> for Id {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Id, D::Error> {
        let text = String::deserialize(d)?;
        Id::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// An API object with an id: what list pagination (`starting_after`) needs.
pub trait HasId {
    fn id(&self) -> &str;
}

macro_rules! has_id {
    ($($t:ident),+) => {$(
        impl HasId for $t {
            fn id(&self) -> &str {
                self.id.as_str()
            }
        }
    )+};
}

has_id!(
    Organization,
    User,
    Group,
    Role,
    Acl,
    Project,
    ProjectTag,
    ProjectScore,
    ProjectAutomation,
    SpanIFrame,
    McpServer,
    AiSecret,
    EnvVar,
    ServiceToken,
    ApiKey,
    Environment
);

/// Deserializes an optional field that the spec does not mark nullable: absent is `None`, `null` is an error.
///
/// Use with `#[serde(default, deserialize_with = "non_null")]`.
///
/// # Errors
/// When the value is `null` or does not deserialize as `T`.
pub fn non_null<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    match Option::<T>::deserialize(d)? {
        Some(value) => Ok(Some(value)),
        None => Err(serde::de::Error::custom("must not be null")),
    }
}

/// Deserializes a field that the spec marks required but nullable: it must be present, and may be `null`.
///
/// # Errors
/// When the value does not deserialize as `Option<T>`.
pub fn required_nullable<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d)
}

/// The envelope of every list endpoint except `GET /v1/acl/list_org`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ListResponse<T> {
    /// The page of objects, newest first.
    pub objects: Vec<T>,
}

// ---------------------------------------------------------------------------------------------
// Enums
// ---------------------------------------------------------------------------------------------

/// `ProjectScoreType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProjectScoreType {
    Slider,
    Categorical,
    Weighted,
    Minimum,
    Maximum,
    Online,
    #[serde(rename = "free-form")]
    FreeForm,
}

/// The `view_type` of a view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ViewType {
    Projects,
    Experiments,
    Experiment,
    Playgrounds,
    Playground,
    Datasets,
    Dataset,
    Prompts,
    Parameters,
    Tools,
    Scorers,
    Classifiers,
    Logs,
    Monitor,
    ForReviewProjectLog,
    ForReviewExperiments,
    ForReviewDatasets,
}

/// The `object_type` of an env var.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EnvVarObjectType {
    Organization,
    Project,
    Function,
}

/// `secret_category` of an env var (default `env_var`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SecretCategory {
    EnvVar,
    AiProvider,
    SandboxProvider,
}

// ---------------------------------------------------------------------------------------------
// Organization, members, users
// ---------------------------------------------------------------------------------------------

/// `Organization`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Organization {
    pub id: Id,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_universal_api: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_dataplane_private: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub realtime_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_rendering_mode: Option<ImageRenderingMode>,
}

/// `PatchOrganization`: every field optional and nullable; `null` means "leave unchanged".
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PatchOrganization {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub realtime_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_universal_api: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_dataplane_private: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_rendering_mode: Option<ImageRenderingMode>,
}

/// `User`: read-only through the API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct User {
    pub id: Id,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub given_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avatar_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
}

/// `PatchOrganizationMembers`: invite and remove members, create service accounts.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PatchOrganizationMembers {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invite_users: Option<InviteUsers>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remove_users: Option<RemoveUsers>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org_id: Option<String>,
}

/// `PatchOrganizationMembers.invite_users`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct InviteUsers {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ids: Option<Vec<Id>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub emails: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_accounts: Option<Vec<ServiceAccountInvite>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub send_invite_emails: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_ids: Option<Vec<Id>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_names: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_id: Option<Id>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_name: Option<String>,
}

/// One service account to create; with `token_name`, an initial service token is created too.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceAccountInvite {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_name: Option<String>,
}

/// `PatchOrganizationMembers.remove_users`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RemoveUsers {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ids: Option<Vec<Id>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub emails: Option<Vec<String>>,
}

/// `PatchOrganizationMembersOutput`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PatchOrganizationMembersOutput {
    /// Always `"success"`.
    pub status: String,
    pub org_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub send_email_error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub added_users: Option<Vec<AddedUser>>,
}

/// One user added by a members PATCH; `api_key` is the one-time raw token of a new service account.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AddedUser {
    pub id: Id,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_name: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// Groups, roles, ACLs
// ---------------------------------------------------------------------------------------------

/// `Group`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Group {
    pub id: Id,
    pub org_id: Id,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<Id>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member_users: Option<Vec<Id>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member_groups: Option<Vec<Id>>,
}

/// `CreateGroup` (POST and PUT body); the member lists are the full membership.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreateGroup {
    pub name: String,
    /// Sent as `null` when unset, as the client always has.
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member_users: Option<Vec<Id>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member_groups: Option<Vec<Id>>,
}

/// `PatchGroup`: membership changes are add/remove deltas.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PatchGroup {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub add_member_users: Option<Vec<Id>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remove_member_users: Option<Vec<Id>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub add_member_groups: Option<Vec<Id>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remove_member_groups: Option<Vec<Id>>,
}

/// One entry of `member_permissions`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct MemberPermission {
    pub permission: Permission,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restrict_object_type: Option<AclObjectType>,
}

/// `Role`; `org_id: null` marks a system role.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Role {
    pub id: Id,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org_id: Option<Id>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<Id>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member_permissions: Option<Vec<MemberPermission>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member_roles: Option<Vec<Id>>,
}

/// `CreateRole` (POST and PUT body).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreateRole {
    pub name: String,
    /// Sent as `null` when unset, as the client always has.
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member_permissions: Option<Vec<MemberPermission>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member_roles: Option<Vec<Id>>,
}

/// `PatchRole`: permission and inheritance changes are add/remove deltas.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PatchRole {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub add_member_permissions: Option<Vec<MemberPermission>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remove_member_permissions: Option<Vec<MemberPermission>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub add_member_roles: Option<Vec<Id>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remove_member_roles: Option<Vec<Id>>,
}

/// `Acl`: one grant of a permission or role to a user or group on an object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Acl {
    pub id: Id,
    pub object_type: AclObjectType,
    pub object_id: Id,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<Id>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_id: Option<Id>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permission: Option<Permission>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restrict_object_type: Option<AclObjectType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_id: Option<Id>,
    pub _object_org_id: Id,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
}

/// `AclItem`: the request shape of an ACL (exactly one of user/group, exactly one of permission/role).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct AclItem {
    pub object_type: AclObjectType,
    pub object_id: Id,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<Id>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_id: Option<Id>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permission: Option<Permission>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restrict_object_type: Option<AclObjectType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_id: Option<Id>,
}

/// `AclBatchUpdateRequest`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AclBatchUpdateRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub add_acls: Option<Vec<AclItem>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remove_acls: Option<Vec<AclItem>>,
}

/// `AclBatchUpdateResponse`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AclBatchUpdateResponse {
    pub added_acls: Vec<Acl>,
    pub removed_acls: Vec<Acl>,
}

// ---------------------------------------------------------------------------------------------
// Projects and settings
// ---------------------------------------------------------------------------------------------

/// `Project`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Project {
    pub id: Id,
    pub org_id: Id,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<Id>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settings: Option<ProjectSettings>,
}

/// `CreateProject`; settings are not accepted on create.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreateProject {
    pub name: String,
    /// Sent as `null` when unset, as the client always has.
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org_name: Option<String>,
}

/// `PatchProject`; `settings` replaces the whole settings object.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PatchProject {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settings: Option<ProjectSettings>,
}

/// The PATCH body of a project as bt-gitops sends it: like [`PatchProject`], with the settings
/// as [`ProjectSettingsBody`].
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ProjectPatchBody {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub settings: Option<ProjectSettingsBody>,
}

/// [`ProjectSettings`] as bt-gitops sends them (the whole object: PATCH replaces it). The
/// baseline experiment id is sent back as read; remote eval sources carry explicit nulls.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ProjectSettingsBody {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comparison_key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub baseline_experiment_id: Option<String>,
    #[serde(rename = "spanFieldOrder", skip_serializing_if = "Option::is_none")]
    pub span_field_order: Option<Vec<SpanFieldOrderItem>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remote_eval_sources: Option<Vec<RemoteEvalSourceBody>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disable_realtime_queries: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_preprocessor: Option<SavedFunctionId>,
}

/// [`RemoteEvalSource`] as sent: unset name and description are `null`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RemoteEvalSourceBody {
    pub url: String,
    pub name: Option<String>,
    pub description: Option<String>,
}

/// `ProjectSettings`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ProjectSettings {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comparison_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline_experiment_id: Option<Id>,
    #[serde(
        rename = "spanFieldOrder",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub span_field_order: Option<Vec<SpanFieldOrderItem>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote_eval_sources: Option<Vec<RemoteEvalSource>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disable_realtime_queries: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_preprocessor: Option<SavedFunctionId>,
}

/// One entry of `ProjectSettings.spanFieldOrder`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpanFieldOrderItem {
    pub object_type: String,
    pub column_id: String,
    pub position: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layout: Option<SpanFieldLayout>,
}

/// One entry of `ProjectSettings.remote_eval_sources`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RemoteEvalSource {
    pub url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// `SavedFunctionId`: a reference to a function by id or to a built-in by name.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SavedFunctionId {
    Function(FunctionById),
    Global(GlobalFunction),
}

tagged_deserialize!(SavedFunctionId, "type", {
    "function" => Function(FunctionById),
    "global" => Global(GlobalFunction),
});

/// `SavedFunctionId` of type `function`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunctionById {
    pub id: String,
    #[serde(
        default,
        deserialize_with = "non_null",
        skip_serializing_if = "Option::is_none"
    )]
    pub version: Option<String>,
}

/// `SavedFunctionId` of type `global`: a built-in function by name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GlobalFunction {
    pub name: String,
    /// `FunctionTypeEnum` (not nullable in the spec, default `scorer`).
    #[serde(
        default,
        deserialize_with = "non_null",
        skip_serializing_if = "Option::is_none"
    )]
    pub function_type: Option<FunctionType>,
}

// ---------------------------------------------------------------------------------------------
// Project tags and scores
// ---------------------------------------------------------------------------------------------

/// `ProjectTag`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProjectTag {
    pub id: Id,
    pub project_id: Id,
    pub user_id: Id,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub color: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<String>,
}

/// `CreateProjectTag`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreateProjectTag {
    pub project_id: Id,
    pub name: String,
    /// Sent as `null` when unset, as the client always has.
    #[serde(default)]
    pub color: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
}

/// `PatchProjectTag`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PatchProjectTag {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub color: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// `ProjectScore`: a human-review score or an online-scoring rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProjectScore {
    pub id: Id,
    pub project_id: Id,
    pub user_id: Id,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub score_type: ProjectScoreType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub categories: Option<ProjectScoreCategories>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<ProjectScoreConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<String>,
}

/// `CreateProjectScore` (POST and PUT body).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreateProjectScore {
    pub project_id: Id,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub score_type: ProjectScoreType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub categories: Option<ProjectScoreCategories>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<ProjectScoreConfig>,
}

/// `PatchProjectScore`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PatchProjectScore {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score_type: Option<ProjectScoreType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub categories: Option<ProjectScoreCategories>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<ProjectScoreConfig>,
}

/// `ProjectScoreCategories`: the shape depends on the score type.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum ProjectScoreCategories {
    /// For `categorical` scores: named values.
    Categorical(Vec<ProjectScoreCategory>),
    /// For `weighted` scores: score name to weight.
    Weighted(BTreeMap<String, f64>),
    /// For `minimum` (and `maximum`) scores: the included score names.
    Minimum(Vec<String>),
}

impl<'de> Deserialize<'de> for ProjectScoreCategories {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(d)?;
        let result = match &value {
            Value::Object(_) => from_value(value).map(ProjectScoreCategories::Weighted),
            Value::Array(items) if items.iter().all(Value::is_string) && !items.is_empty() => {
                from_value(value).map(ProjectScoreCategories::Minimum)
            }
            Value::Array(_) => from_value(value).map(ProjectScoreCategories::Categorical),
            _ => return Err(serde::de::Error::custom("expected an array or an object")),
        };
        result.map_err(serde::de::Error::custom)
    }
}

/// `ProjectScoreCategory`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProjectScoreCategory {
    pub name: String,
    pub value: f64,
}

/// `ProjectScoreConfig`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ProjectScoreConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multi_select: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub visibility: Option<ScoreVisibility>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub online: Option<OnlineScoreConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condition: Option<ProjectScoreCondition>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_types: Option<Vec<ScoreObjectType>>,
}

/// `ProjectScoreConfig.visibility`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ScoreVisibility {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub users: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub groups: Option<Vec<String>>,
}

/// `OnlineScoreConfig`: an online-scoring rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OnlineScoreConfig {
    /// Fraction of logs scored, `0..=1`.
    pub sampling_rate: f64,
    pub scorers: Vec<SavedFunctionId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub btql_filter: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub apply_to_root_span: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub apply_to_span_names: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skip_logging: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<Scope>,
}

/// `SpanScope` | `TraceScope` | `GroupScope`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Scope {
    Span,
    Trace(TraceScope),
    Group(GroupScope),
}

tagged_deserialize!(Scope, "type", {
    "span" => Span,
    "trace" => Trace(TraceScope),
    "group" => Group(GroupScope),
});

/// `TraceScope` (without its tag).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TraceScope {
    #[serde(
        default,
        deserialize_with = "non_null",
        skip_serializing_if = "Option::is_none"
    )]
    pub idle_seconds: Option<f64>,
}

/// `GroupScope` (without its tag).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupScope {
    pub group_by: String,
    /// At least 1.
    #[serde(
        default,
        deserialize_with = "non_null",
        skip_serializing_if = "Option::is_none"
    )]
    pub interval_seconds: Option<f64>,
    /// `1..=64`.
    #[serde(
        default,
        deserialize_with = "non_null",
        skip_serializing_if = "Option::is_none"
    )]
    pub max_traces: Option<i64>,
    pub placement: GroupPlacement,
    #[serde(
        default,
        deserialize_with = "non_null",
        skip_serializing_if = "Option::is_none"
    )]
    pub idle_seconds: Option<f64>,
}

/// `ProjectScoreCondition`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProjectScoreCondition {
    pub when: ConditionWhen,
    #[serde(
        default,
        deserialize_with = "non_null",
        skip_serializing_if = "Option::is_none"
    )]
    pub behavior: Option<ConditionBehavior>,
}

/// `ProjectScoreCondition.when`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ConditionWhen {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clauses: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subspan_clauses: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_clauses: Option<Vec<String>>,
}

/// `ProjectScoreCondition.behavior`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConditionBehavior {
    Hidden,
}

/// The create (PUT) body of a project score as bt-gitops sends it, in the client's field order
/// ([`CreateProjectScore`] is the API's schema, which the emulator checks it against).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProjectScoreBody {
    pub score_type: ProjectScoreType,
    /// Sent as `null` when unset.
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub categories: Option<ProjectScoreCategories>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config: Option<ProjectScoreConfigBody>,
    pub project_id: Id,
    pub name: String,
}

/// The PATCH body of a project score as bt-gitops sends it (unset fields left out).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProjectScorePatchBody {
    pub score_type: ProjectScoreType,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub categories: Option<ProjectScoreCategories>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config: Option<ProjectScoreConfigBody>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// The parts of [`ProjectScoreConfig`] bt-gitops writes.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ProjectScoreConfigBody {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub multi_select: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub online: Option<OnlineScoreConfigBody>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub object_types: Option<Vec<ScoreObjectType>>,
}

/// [`OnlineScoreConfig`] as sent, in the client's field order (unset fields left out).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OnlineScoreConfigBody {
    pub sampling_rate: f64,
    pub scorers: Vec<SavedFunctionId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub btql_filter: Option<String>,
    pub scope: ScopeBody,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub apply_to_root_span: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub apply_to_span_names: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skip_logging: Option<bool>,
}

/// [`Scope`] as sent, in the client's field order (unset fields left out).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ScopeBody {
    Span,
    Trace {
        #[serde(skip_serializing_if = "Option::is_none")]
        idle_seconds: Option<f64>,
    },
    Group {
        group_by: String,
        placement: GroupPlacement,
        #[serde(skip_serializing_if = "Option::is_none")]
        interval_seconds: Option<f64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        max_traces: Option<i64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        idle_seconds: Option<f64>,
    },
}

// ---------------------------------------------------------------------------------------------
// Project automations
// ---------------------------------------------------------------------------------------------

/// `ProjectAutomation`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProjectAutomation {
    pub id: Id,
    pub project_id: Id,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<Id>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub config: AutomationConfig,
}

/// `CreateProjectAutomation` (POST and PUT body).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreateProjectAutomation {
    pub project_id: Id,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub config: AutomationConfig,
}

/// `PatchProjectAutomation`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PatchProjectAutomation {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<AutomationConfig>,
}

/// `ProjectAutomation.config`, discriminated by `event_type`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event_type", rename_all = "snake_case")]
pub enum AutomationConfig {
    /// An alert on logs matching a filter, at most once per interval.
    Logs(LogsAutomation),
    /// A periodic export of logs to S3 or GCS.
    BtqlExport(Box<BtqlExportAutomation>),
    /// A system-created asynchronous query.
    AsyncQuery(AsyncQueryAutomation),
    /// Data retention: deletes data older than `retention_days`.
    Retention(RetentionAutomation),
    /// A notification when an environment changes.
    EnvironmentUpdate(EnvironmentUpdateAutomation),
    /// Topic classification of logs.
    Topic(Box<TopicAutomationConfig>),
    /// A scheduled digest of topics to Slack.
    TopicDigest(TopicDigestAutomationConfig),
}

tagged_deserialize!(AutomationConfig, "event_type", {
    "logs" => Logs(LogsAutomation),
    "btql_export" => BtqlExport(Box<BtqlExportAutomation>),
    "async_query" => AsyncQuery(AsyncQueryAutomation),
    "retention" => Retention(RetentionAutomation),
    "environment_update" => EnvironmentUpdate(EnvironmentUpdateAutomation),
    "topic" => Topic(Box<TopicAutomationConfig>),
    "topic_digest" => TopicDigest(TopicDigestAutomationConfig),
});

/// `event_type: logs`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogsAutomation {
    pub btql_filter: String,
    /// `1..=2592000`.
    pub interval_seconds: f64,
    pub action: AutomationAction,
}

/// `event_type: btql_export`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BtqlExportAutomation {
    #[serde(
        default,
        deserialize_with = "non_null",
        skip_serializing_if = "Option::is_none"
    )]
    pub status: Option<AutomationStatus>,
    pub export_definition: ExportDefinition,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<Scope>,
    pub export_path: String,
    pub format: ExportFormat,
    /// `1..=2592000`.
    pub interval_seconds: f64,
    pub credentials: ExportCredentials,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_size: Option<f64>,
}

/// `event_type: async_query`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AsyncQueryAutomation {
    #[serde(
        default,
        deserialize_with = "non_null",
        skip_serializing_if = "Option::is_none"
    )]
    pub status: Option<AutomationStatus>,
    pub created_by_user_id: Id,
    pub object_type: AsyncQueryObjectType,
    pub object_id: String,
    pub query: String,
    pub format: AsyncQueryFormat,
    /// `1..=100000`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_size: Option<i64>,
}

/// `event_type: retention`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RetentionAutomation {
    pub object_type: RetentionObjectType,
    /// At least 0.
    pub retention_days: f64,
}

/// `event_type: environment_update`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnvironmentUpdateAutomation {
    #[serde(
        default,
        deserialize_with = "non_null",
        skip_serializing_if = "Option::is_none"
    )]
    pub environment_filter: Option<Vec<String>>,
    pub action: AutomationAction,
}

/// The action of a `logs` or `environment_update` automation.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AutomationAction {
    Webhook(WebhookAction),
    Slack(SlackTarget),
}

tagged_deserialize!(AutomationAction, "type", {
    "webhook" => Webhook(WebhookAction),
    "slack" => Slack(SlackTarget),
});

/// A webhook action.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhookAction {
    pub url: String,
}

/// A Slack action (without its tag).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SlackTarget {
    pub workspace_id: String,
    pub channel: String,
    #[serde(
        default,
        deserialize_with = "non_null",
        skip_serializing_if = "Option::is_none"
    )]
    pub message_template: Option<String>,
}

/// `btql_export.export_definition`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ExportDefinition {
    LogTraces,
    LogSpans,
    BtqlQuery(BtqlQueryExport),
}

tagged_deserialize!(ExportDefinition, "type", {
    "log_traces" => LogTraces,
    "log_spans" => LogSpans,
    "btql_query" => BtqlQuery(BtqlQueryExport),
});

/// An export of a BTQL query.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BtqlQueryExport {
    pub btql_query: String,
}

/// `btql_export.credentials`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ExportCredentials {
    AwsIam(AwsIamCredentials),
    GcpServiceAccount(GcpCredentials),
}

tagged_deserialize!(ExportCredentials, "type", {
    "aws_iam" => AwsIam(AwsIamCredentials),
    "gcp_service_account" => GcpServiceAccount(GcpCredentials),
});

/// AWS IAM role credentials for an export.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AwsIamCredentials {
    pub role_arn: String,
    pub external_id: String,
}

/// GCP service account credentials for an export.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GcpCredentials {
    pub service_account_email: String,
}

/// The create (PUT) body of a project automation as bt-gitops sends it: the config in the
/// client's own field order, with whole-second intervals ([`CreateProjectAutomation`] is the
/// API's schema, which the emulator checks it against).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProjectAutomationBody {
    pub project_id: Id,
    pub name: String,
    /// Sent as `null` when unset.
    pub description: Option<String>,
    pub config: AutomationConfigBody,
}

/// The PATCH body of a project automation as bt-gitops sends it; the config is sent whole.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProjectAutomationPatchBody {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub config: AutomationConfigBody,
}

/// The configs bt-gitops writes, discriminated by `event_type` like [`AutomationConfig`].
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event_type", rename_all = "snake_case")]
pub enum AutomationConfigBody {
    Logs(LogsAutomationBody),
    Retention(RetentionAutomation),
    BtqlExport(BtqlExportAutomationBody),
    EnvironmentUpdate(EnvironmentUpdateAutomation),
}

/// `event_type: logs` as sent.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LogsAutomationBody {
    pub btql_filter: String,
    pub interval_seconds: u64,
    pub action: AutomationAction,
}

/// `event_type: btql_export` as sent (unset optional fields left out).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BtqlExportAutomationBody {
    pub export_definition: ExportDefinition,
    pub export_path: String,
    pub format: ExportFormat,
    pub interval_seconds: u64,
    pub credentials: ExportCredentials,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<AutomationStatus>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub batch_size: Option<i64>,
}

/// `async_query.object_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AsyncQueryObjectType {
    ProjectLogs,
    Experiment,
    Dataset,
    PlaygroundLogs,
}

/// `async_query.format`: only `jsonl`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AsyncQueryFormat {
    Jsonl,
}

/// `TopicAutomationConfig` (without its `event_type` tag).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TopicAutomationConfig {
    #[serde(
        default,
        deserialize_with = "non_null",
        skip_serializing_if = "Option::is_none"
    )]
    pub status: Option<AutomationStatus>,
    /// `0..=1`.
    pub sampling_rate: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub facet_model: Option<FacetModel>,
    pub facet_functions: Vec<SavedFunctionId>,
    pub topic_map_functions: Vec<TopicMapFunction>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<Scope>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_scope: Option<TopicDataScope>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub btql_filter: Option<String>,
    /// At least 600.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rerun_seconds: Option<f64>,
    /// At least 60.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relabel_overlap_seconds: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backfill_time_range: Option<TimeRange>,
}

/// `TopicAutomationFacetModel`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum FacetModel {
    #[serde(rename = "brain-facet-latest")]
    Latest,
    #[serde(rename = "brain-facet-1")]
    V1,
    #[serde(rename = "brain-facet-2")]
    V2,
}

/// `TopicMapFunctionAutomation`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TopicMapFunction {
    pub function: SavedFunctionId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub btql_filter: Option<String>,
}

/// `TopicAutomationDataScope`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum TopicDataScope {
    ProjectLogs,
    ProjectExperiments,
    Experiment(ExperimentScope),
}

tagged_deserialize!(TopicDataScope, "type", {
    "project_logs" => ProjectLogs,
    "project_experiments" => ProjectExperiments,
    "experiment" => Experiment(ExperimentScope),
});

/// A data scope of one experiment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExperimentScope {
    pub experiment_id: String,
}

/// A time range given as a string (e.g. `"7d"`) or as explicit bounds.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum TimeRange {
    Text(String),
    Bounds(TimeBounds),
}

impl<'de> Deserialize<'de> for TimeRange {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Value::deserialize(d)? {
            Value::String(text) => Ok(TimeRange::Text(text)),
            value @ Value::Object(_) => from_value(value)
                .map(TimeRange::Bounds)
                .map_err(serde::de::Error::custom),
            _ => Err(serde::de::Error::custom(
                "expected a string or `{from, to}`",
            )),
        }
    }
}

/// Explicit time bounds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimeBounds {
    pub from: String,
    pub to: String,
}

/// `TopicDigestAutomationConfig` (without its `event_type` tag).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TopicDigestAutomationConfig {
    #[serde(
        default,
        deserialize_with = "non_null",
        skip_serializing_if = "Option::is_none"
    )]
    pub status: Option<AutomationStatus>,
    /// `3600..=2592000`, default 86400.
    #[serde(
        default,
        deserialize_with = "non_null",
        skip_serializing_if = "Option::is_none"
    )]
    pub window_seconds: Option<i64>,
    /// `0..=1439`.
    pub scheduled_time_minutes_utc: i64,
    pub action: SlackAction,
    /// At most 10.
    #[serde(
        default,
        deserialize_with = "non_null",
        skip_serializing_if = "Option::is_none"
    )]
    pub topic_map_function_ids: Option<Vec<String>>,
}

/// A Slack action (the only action a topic digest takes).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SlackAction {
    pub r#type: SlackActionType,
    pub workspace_id: String,
    pub channel: String,
    #[serde(
        default,
        deserialize_with = "non_null",
        skip_serializing_if = "Option::is_none"
    )]
    pub message_template: Option<String>,
}

/// The `type` tag of [`SlackAction`]: only `slack`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SlackActionType {
    Slack,
}

// ---------------------------------------------------------------------------------------------
// Span iframes, views, MCP servers
// ---------------------------------------------------------------------------------------------

/// `SpanIFrame`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpanIFrame {
    pub id: Id,
    pub project_id: Id,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<Id>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_at: Option<String>,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub post_message: Option<bool>,
}

/// `CreateSpanIFrame` (POST and PUT body).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreateSpanIFrame {
    pub project_id: Id,
    pub name: String,
    pub url: String,
    /// Sent as `null` when unset, as the client always has.
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub post_message: Option<bool>,
}

/// `PatchSpanIFrame`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PatchSpanIFrame {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub post_message: Option<bool>,
}

/// `View`: a saved UI view, located by `object_type` + `object_id`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct View {
    pub id: Id,
    pub object_type: AclObjectType,
    pub object_id: Id,
    /// Required; the spec lists `null` among the values but does not mark it nullable.
    pub view_type: ViewType,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub view_data: Option<ViewData>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub options: Option<ViewOptions>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<Id>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_at: Option<String>,
}

/// `CreateView` (POST and PUT body).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreateView {
    pub object_type: AclObjectType,
    pub object_id: Id,
    /// Required; the spec lists `null` among the values but does not mark it nullable.
    pub view_type: ViewType,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub view_data: Option<ViewData>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub options: Option<ViewOptions>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<Id>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_at: Option<String>,
}

/// `PatchView`: the locator (`object_type`, `object_id`) is required.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PatchView {
    pub object_type: AclObjectType,
    pub object_id: Id,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub view_type: Option<ViewType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub view_data: Option<ViewData>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub options: Option<ViewOptions>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<Id>,
}

/// `DeleteView`: the locator sent as the body of `DELETE /v1/view/{id}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeleteView {
    pub object_type: AclObjectType,
    pub object_id: Id,
}

/// `ViewData`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ViewData {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub search: Option<ViewDataSearch>,
    /// Opaque.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_charts: Option<Value>,
}

/// `ViewDataSearch`: opaque clauses.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ViewDataSearch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<Vec<Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<Vec<Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub r#match: Option<Vec<Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sort: Option<Vec<Value>>,
}

/// `ViewOptions`: monitor options, or table options (whose fields are all optional).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum ViewOptions {
    Monitor(MonitorViewOptions),
    Table(Box<TableViewOptions>),
}

impl<'de> Deserialize<'de> for ViewOptions {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(d)?;
        let Value::Object(map) = &value else {
            return Err(serde::de::Error::custom("expected an object"));
        };
        // Table options accept any object whose known fields fit, so a monitor-shaped object
        // that is not a valid monitor falls back to them, as the spec's `anyOf` does.
        if map.contains_key("viewType")
            && let Ok(monitor) = from_value::<MonitorViewOptions>(value.clone())
        {
            return Ok(ViewOptions::Monitor(monitor));
        }
        from_value(value)
            .map(ViewOptions::Table)
            .map_err(serde::de::Error::custom)
    }
}

/// `MonitorViewOptions`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MonitorViewOptions {
    #[serde(rename = "viewType")]
    pub view_type: MonitorViewType,
    pub options: MonitorOptions,
    #[serde(
        rename = "freezeColumns",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub freeze_columns: Option<bool>,
}

/// The `viewType` tag of [`MonitorViewOptions`]: only `monitor`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MonitorViewType {
    Monitor,
}

/// `MonitorViewOptions.options`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MonitorOptions {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub span_type: Option<MonitorSpanType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub range_value: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frame_start: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frame_end: Option<String>,
    #[serde(rename = "tzUTC", default, skip_serializing_if = "Option::is_none")]
    pub tz_utc: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chart_visibility: Option<BTreeMap<String, bool>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub r#type: Option<MonitorObjectType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_by: Option<String>,
}

/// `MonitorViewOptions.options.spanType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MonitorSpanType {
    Range,
    Frame,
}

/// `MonitorViewOptions.options.type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MonitorObjectType {
    Project,
    Experiment,
}

/// `TableViewOptions`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TableViewOptions {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column_visibility: Option<BTreeMap<String, bool>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column_order: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column_sizing: Option<BTreeMap<String, f64>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grouping: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub row_height: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tall_group_rows: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layout: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic_map_report_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chart_height: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub excluded_measures: Option<Vec<ChartMeasure>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub y_metric: Option<ChartMeasure>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x_axis: Option<ChartMeasure>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub symbol_grouping: Option<ChartMeasure>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x_axis_aggregation: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chart_annotations: Option<Vec<ChartAnnotation>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_range_filter: Option<TimeRange>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query_shape: Option<QueryShape>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub freeze_columns: Option<bool>,
}

/// A chart measure (`excludedMeasures[]`, `yMetric`, `xAxis`, `symbolGrouping`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChartMeasure {
    pub r#type: MeasureType,
    pub value: String,
}

/// [`ChartMeasure::type`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MeasureType {
    None,
    Score,
    Metric,
    Metadata,
}

/// `chartAnnotations[]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChartAnnotation {
    pub id: String,
    pub text: String,
}

/// `TableViewOptions.queryShape`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QueryShape {
    Traces,
    Spans,
    Topics,
}

/// `MCPServer`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct McpServer {
    pub id: Id,
    pub project_id: Id,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<Id>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_at: Option<String>,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub url: String,
}

/// `CreateMCPServer` (POST and PUT body).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreateMcpServer {
    pub project_id: Id,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub url: String,
}

/// `PatchMCPServer`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PatchMcpServer {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// Secrets, keys, environments
// ---------------------------------------------------------------------------------------------

/// `AISecret`: the secret value itself is never returned, only `preview_secret`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AiSecret {
    pub id: Id,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_updated_at: Option<String>,
    pub org_id: Id,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub r#type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<JsonMap>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_updated_by_user_id: Option<Id>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preview_secret: Option<String>,
}

/// `CreateAISecret` (POST and PUT body); a PUT without `secret` keeps the stored secret.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreateAiSecret {
    pub name: String,
    /// Sent as `null` when unset, as the client always has.
    #[serde(default)]
    pub r#type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<JsonMap>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

/// `PatchAISecret`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PatchAiSecret {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub r#type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<JsonMap>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

/// `DeleteAISecret`: the body of `DELETE /v1/ai_secret`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeleteAiSecret {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org_name: Option<String>,
}

/// `EnvVar`: the value itself is never returned.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnvVar {
    pub id: Id,
    pub object_type: EnvVarObjectType,
    pub object_id: Id,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_updated_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_updated_by_user_id: Option<Id>,
    /// A date-time per the spec; observed as a bool or string too, so kept opaque.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub used: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<JsonMap>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preview_secret: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_category: Option<SecretCategory>,
}

/// The POST and PUT body of `/v1/env_var` (inline in the spec).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreateEnvVar {
    pub object_type: EnvVarObjectType,
    pub object_id: Id,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<JsonMap>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_type: Option<String>,
}

/// The PATCH body of `/v1/env_var/{id}` (inline in the spec); `name` is required.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PatchEnvVar {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<JsonMap>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_type: Option<String>,
}

/// `ServiceToken`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceToken {
    pub id: Id,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    pub name: String,
    pub preview_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account_id: Option<Id>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account_email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org_id: Option<Id>,
}

/// `CreateServiceTokenOutput`: a [`ServiceToken`] plus the raw `key`, shown once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreateServiceTokenOutput {
    #[serde(flatten)]
    pub token: ServiceToken,
    pub key: String,
}

/// The POST and PUT body of `/v1/service_token` (inline in the spec); names need not be unique.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreateServiceToken {
    pub name: String,
    pub service_account_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org_name: Option<String>,
}

/// `DeleteServiceToken`: the body of `DELETE /v1/service_token`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeleteServiceToken {
    pub id: Id,
}

/// `ApiKey`: list, read and delete only (keys are created in the UI).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiKey {
    pub id: Id,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    pub name: String,
    pub preview_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<Id>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_given_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_family_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org_id: Option<Id>,
}

/// `Environment` (served under `/environment`, without `/v1`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Environment {
    pub id: Id,
    pub org_id: Id,
    pub name: String,
    pub slug: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_at: Option<String>,
}

/// `CreateEnvironment`; the slug is unique within the org.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreateEnvironment {
    pub name: String,
    pub slug: String,
    /// Sent as `null` when unset, as the client always has.
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org_name: Option<String>,
}

/// `PatchEnvironment`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PatchEnvironment {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slug: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// Strict deserialization
// ---------------------------------------------------------------------------------------------

/// Deserializes a wire type from JSON the way the spec reads it: an object is required where the
/// type is a struct (serde would also accept an array, field by field), and enum tags and
/// identifiers must be strings (serde would also accept a variant index).
///
/// # Errors
/// When `value` does not have the shape of `T`.
pub fn from_value<T: serde::de::DeserializeOwned>(value: Value) -> Result<T, serde_json::Error> {
    T::deserialize(strict::Strict(value))
}

mod strict {
    //! A `serde_json::Value` deserializer that refuses the shape coercions serde allows.

    use serde::de::value::{MapDeserializer, SeqDeserializer};
    use serde::de::{self, IntoDeserializer, Unexpected, Visitor};
    use serde::forward_to_deserialize_any;
    use serde_json::{Error, Value};

    pub struct Strict(pub Value);

    impl<'de> IntoDeserializer<'de, Error> for Strict {
        type Deserializer = Strict;
        fn into_deserializer(self) -> Strict {
            self
        }
    }

    fn unexpected(value: &Value) -> Unexpected<'_> {
        match value {
            Value::Null => Unexpected::Unit,
            Value::Bool(b) => Unexpected::Bool(*b),
            Value::Number(_) => Unexpected::Other("a number"),
            Value::String(s) => Unexpected::Str(s),
            Value::Array(_) => Unexpected::Seq,
            Value::Object(_) => Unexpected::Map,
        }
    }

    impl<'de> de::Deserializer<'de> for Strict {
        type Error = Error;

        fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
            match self.0 {
                Value::Null => visitor.visit_unit(),
                Value::Bool(b) => visitor.visit_bool(b),
                Value::Number(n) => n.deserialize_any(visitor).map_err(de::Error::custom),
                Value::String(s) => visitor.visit_string(s),
                Value::Array(items) => {
                    let mut seq = SeqDeserializer::new(items.into_iter().map(Strict));
                    let value = visitor.visit_seq(&mut seq)?;
                    seq.end()?;
                    Ok(value)
                }
                Value::Object(map) => {
                    let mut access =
                        MapDeserializer::new(map.into_iter().map(|(k, v)| (k, Strict(v))));
                    let value = visitor.visit_map(&mut access)?;
                    access.end()?;
                    Ok(value)
                }
            }
        }

        fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
            match self.0 {
                Value::Null => visitor.visit_none(),
                other => visitor.visit_some(Strict(other)),
            }
        }

        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            _: &'static [&'static str],
            visitor: V,
        ) -> Result<V::Value, Error> {
            self.deserialize_map(visitor)
        }

        fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
            match &self.0 {
                Value::Object(_) => self.deserialize_any(visitor),
                other => Err(de::Error::invalid_type(unexpected(other), &"an object")),
            }
        }

        fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
            match &self.0 {
                Value::Array(_) => self.deserialize_any(visitor),
                other => Err(de::Error::invalid_type(unexpected(other), &"an array")),
            }
        }

        fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
            match self.0 {
                Value::String(s) => visitor.visit_string(s),
                other => Err(de::Error::invalid_type(unexpected(&other), &"a string")),
            }
        }

        fn deserialize_enum<V: Visitor<'de>>(
            self,
            _: &'static str,
            _: &'static [&'static str],
            visitor: V,
        ) -> Result<V::Value, Error> {
            match self.0 {
                Value::String(s) => visitor.visit_enum(s.into_deserializer()),
                other => Err(de::Error::invalid_type(unexpected(&other), &"a string")),
            }
        }

        fn deserialize_newtype_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            visitor: V,
        ) -> Result<V::Value, Error> {
            visitor.visit_newtype_struct(self)
        }

        forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
            bytes byte_buf unit unit_struct tuple tuple_struct ignored_any
        }
    }
}

/// Implements `Deserialize` for an enum tagged by a string field, strictly: the tag must be a
/// string naming a variant, and the variant's content is read with [`from_value`].
macro_rules! tagged_deserialize {
    ($ty:ident, $tag:literal, { $($name:literal => $variant:ident $(($inner:ty))?),+ $(,)? }) => {
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<$ty, D::Error> {
                let value = Value::deserialize(d)?;
                let Some(object) = value.as_object() else {
                    return Err(serde::de::Error::custom(concat!("expected an object with a `", $tag, "`")));
                };
                let tag = match object.get($tag) {
                    Some(Value::String(tag)) => tag.clone(),
                    _ => return Err(serde::de::Error::custom(concat!("missing or non-string `", $tag, "`"))),
                };
                match tag.as_str() {
                    $($name => tagged_deserialize!(@variant value, $ty, $variant $(($inner))?),)+
                    other => Err(serde::de::Error::custom(format!(
                        concat!("unknown `", $tag, "` `{}`"), other
                    ))),
                }
            }
        }
    };
    (@variant $value:ident, $ty:ident, $variant:ident ($inner:ty)) => {
        from_value::<$inner>($value)
            .map($ty::$variant)
            .map_err(serde::de::Error::custom)
    };
    (@variant $value:ident, $ty:ident, $variant:ident) => {{
        let _ = $value;
        Ok($ty::$variant)
    }};
}
use tagged_deserialize;

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn ids_are_checked_and_lowercased() {
        let id = Id::parse("0000000A-0000-4000-8000-00000000000B").expect("a uuid");
        assert_eq!(id.as_str(), "0000000a-0000-4000-8000-00000000000b");
        for bad in [
            "",
            "x",
            "0000000a-0000-4000-8000-00000000000",
            "0000000a_0000-4000-8000-00000000000b",
        ] {
            assert!(Id::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn strict_parsing_refuses_serde_coercions() {
        let array_as_struct =
            from_value::<PatchOrganizationMembers>(json!({"remove_users": [null]}));
        assert!(array_as_struct.is_err());
        let index_as_tag = from_value::<TopicDataScope>(json!({"type": 0}));
        assert!(index_as_tag.is_err());
        let unknown_tag = from_value::<AutomationConfig>(json!({"event_type": "sms"}));
        assert!(unknown_tag.is_err());
        let null_function_type = from_value::<SavedFunctionId>(
            json!({"type": "global", "name": "x", "function_type": null}),
        );
        assert!(null_function_type.is_err(), "not nullable in the spec");
        let nested = from_value::<CreateProjectScore>(json!({
            "project_id": "00000000-0000-4000-8000-000000000001", "name": "s", "score_type": "online",
            "config": {"condition": {"when": [null]}}}));
        assert!(nested.is_err(), "nested structs are strict too");
        let number_as_string = from_value::<CreateProject>(json!({"name": 7}));
        assert!(number_as_string.is_err());
    }

    #[test]
    fn tagged_and_untagged_shapes_round_trip() {
        for value in [
            json!({"event_type": "logs", "btql_filter": "f", "interval_seconds": 60.0,
                   "action": {"type": "slack", "workspace_id": "W", "channel": "c"}}),
            json!({"event_type": "btql_export", "export_definition": {"type": "btql_query", "btql_query": "q"},
                   "scope": {"type": "span"}, "export_path": "s3://b", "format": "jsonl", "interval_seconds": 1.0,
                   "credentials": {"type": "gcp_service_account", "service_account_email": "a@b"}}),
            json!({"event_type": "topic", "sampling_rate": 0.5, "facet_functions": [],
                   "topic_map_functions": [], "data_scope": {"type": "experiment", "experiment_id": "e"},
                   "backfill_time_range": {"from": "a", "to": "b"}}),
            json!({"event_type": "topic_digest", "scheduled_time_minutes_utc": 0,
                   "action": {"type": "slack", "workspace_id": "W", "channel": "c"}}),
        ] {
            let typed: AutomationConfig = from_value(value.clone()).expect("valid config");
            assert_eq!(serde_json::to_value(&typed).expect("serializes"), value);
        }
        for value in [
            json!([{"name": "good", "value": 1.0}]),
            json!({"a": 0.5}),
            json!(["a", "b"]),
        ] {
            let typed: ProjectScoreCategories =
                from_value(value.clone()).expect("valid categories");
            assert_eq!(serde_json::to_value(&typed).expect("serializes"), value);
        }
        let monitor: ViewOptions =
            from_value(json!({"viewType": "monitor", "options": {"spanType": "frame"}}))
                .expect("monitor");
        assert!(matches!(monitor, ViewOptions::Monitor(_)));
        let table: ViewOptions = from_value(json!({"columnOrder": ["a"]})).expect("table");
        assert!(matches!(table, ViewOptions::Table(_)));
    }
}
