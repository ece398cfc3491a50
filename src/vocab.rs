//! The Braintrust API's vocabularies: permissions, object types, formats, statuses..., and its
//! REST collections with their paths.
//!
//! `vocabularies!` defines each enum once, with the API's spelling of every value: serde
//! (de)serializes it, `as_str` returns it, `ALL` lists the values. The same types serve the
//! manifest language (`manifest::raw`, and so its JSON Schema), the model and the wire types
//! (`api::wire`), so no layer spells a value again or converts between copies of a list.
//!
//! `collections!` does the same for the API's collections: the kind registry names the
//! collection each kind is written to and read from, the reader and writer take its path from
//! here, and the emulator serves and stores the same [`Collection`]s, so each path is spelled once.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

macro_rules! vocabularies {
    ($(
        $(#[doc = $doc:literal])*
        $name:ident { $($variant:ident = $text:literal,)+ }
    )+) => {$(
        $(#[doc = $doc])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
            JsonSchema,
        )]
        pub enum $name {
            $(#[serde(rename = $text)] $variant,)+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            /// The API's spelling.
            #[must_use]
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text,)+ }
            }
        }
    )+};
}

vocabularies! {
    /// The eight Braintrust permissions.
    Permission {
        Create = "create",
        Read = "read",
        Update = "update",
        Delete = "delete",
        CreateAcls = "create_acls",
        ReadAcls = "read_acls",
        UpdateAcls = "update_acls",
        DeleteAcls = "delete_acls",
    }

    /// Object types an ACL can be attached to or restricted to.
    AclObjectType {
        Organization = "organization",
        Project = "project",
        Experiment = "experiment",
        Dataset = "dataset",
        Prompt = "prompt",
        PromptSession = "prompt_session",
        Group = "group",
        Role = "role",
        OrgMember = "org_member",
        ProjectLog = "project_log",
        OrgProject = "org_project",
        OrgAuditLogs = "org_audit_logs",
    }

    ImageRenderingMode {
        Auto = "auto",
        ClickToLoad = "click_to_load",
        Blocked = "blocked",
    }

    FunctionType {
        Llm = "llm",
        Scorer = "scorer",
        Task = "task",
        Tool = "tool",
        CustomView = "custom_view",
        Preprocessor = "preprocessor",
        Facet = "facet",
        Classifier = "classifier",
        Tag = "tag",
        Parameters = "parameters",
        Sandbox = "sandbox",
    }

    SpanFieldLayout {
        Full = "full",
        TwoColumn = "two_column",
    }

    ScoreObjectType {
        ProjectLogs = "project_logs",
        Experiment = "experiment",
        Dataset = "dataset",
    }

    GroupPlacement {
        First = "first",
        Each = "each",
    }

    RetentionObjectType {
        ProjectLogs = "project_logs",
        Experiment = "experiment",
        Dataset = "dataset",
    }

    ExportFormat {
        Jsonl = "jsonl",
        Parquet = "parquet",
    }

    AutomationStatus {
        Active = "active",
        Paused = "paused",
    }

    /// What a saved view shows (`view_type`): the manifest's `type` of a view.
    ViewType {
        Projects = "projects",
        Experiments = "experiments",
        Experiment = "experiment",
        Playgrounds = "playgrounds",
        Playground = "playground",
        Datasets = "datasets",
        Dataset = "dataset",
        Prompts = "prompts",
        Parameters = "parameters",
        Tools = "tools",
        Scorers = "scorers",
        Classifiers = "classifiers",
        Logs = "logs",
        Monitor = "monitor",
        ForReviewProjectLog = "for_review_project_log",
        ForReviewExperiments = "for_review_experiments",
        ForReviewDatasets = "for_review_datasets",
    }
}

macro_rules! collections {
    ($($variant:ident = ($name:literal, $path:literal, $deleted_at:literal),)+) => {
        /// The API's REST collections: one path each, and one emulator table each. Not the
        /// client's `model::Kind`: several kinds can share a collection (`project_score` holds
        /// scores and online-scoring rules), and some collections hold no managed kind.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        pub enum Collection {
            $(#[serde(rename = $name)] $variant,)+
        }

        /// Every collection.
        pub const ALL_COLLECTIONS: [Collection; [$($name),+].len()] = [$(Collection::$variant,)+];

        impl Collection {
            /// The API's name for the collection, as in its paths and error messages.
            #[must_use]
            pub fn api_name(self) -> &'static str {
                match self { $(Collection::$variant => $name,)+ }
            }

            /// The collection's path (`/v1/project_tag`); an object's is `{path}/{id}`.
            #[must_use]
            pub fn path(self) -> &'static str {
                match self { $(Collection::$variant => $path,)+ }
            }

            /// Whether the collection's wire object has a `deleted_at` field that a DELETE fills.
            #[must_use]
            pub fn has_deleted_at(self) -> bool {
                match self { $(Collection::$variant => $deleted_at,)+ }
            }

            /// The collection whose path ends with this name (`project_tag` -> `ProjectTag`).
            #[must_use]
            pub fn from_api_name(name: &str) -> Option<Collection> {
                ALL_COLLECTIONS.into_iter().find(|k| k.api_name() == name)
            }
        }
    };
}

collections! {
    Organization = ("organization", "/v1/organization", false),
    User = ("user", "/v1/user", false),
    Group = ("group", "/v1/group", true),
    Role = ("role", "/v1/role", true),
    Acl = ("acl", "/v1/acl", false),
    Project = ("project", "/v1/project", true),
    ProjectTag = ("project_tag", "/v1/project_tag", false),
    ProjectScore = ("project_score", "/v1/project_score", false),
    ProjectAutomation = ("project_automation", "/v1/project_automation", false),
    SpanIframe = ("span_iframe", "/v1/span_iframe", true),
    View = ("view", "/v1/view", true),
    AiSecret = ("ai_secret", "/v1/ai_secret", false),
    EnvVar = ("env_var", "/v1/env_var", false),
    ServiceToken = ("service_token", "/v1/service_token", false),
    ApiKey = ("api_key", "/v1/api_key", false),
    Environment = ("environment", "/environment", true),
    McpServer = ("mcp_server", "/v1/mcp_server", true),
    Function = ("function", "/v1/function", false),
    Prompt = ("prompt", "/v1/prompt", false),
    Experiment = ("experiment", "/v1/experiment", true),
    Dataset = ("dataset", "/v1/dataset", true),
}

/// `PATCH`: invite and remove an org's members and service accounts.
pub const ORG_MEMBERS_PATH: &str = "/v1/organization/members";
/// `POST`: add and remove ACLs in one request.
pub const ACL_BATCH_UPDATE_PATH: &str = "/v1/acl/batch_update";

/// Registers an export automation with Braintrust's scheduler (outside `/v1` and outside the
/// spec; Braintrust's data-management docs, assumption A6).
pub const AUTOMATION_CRON_PATH: &str = "/automation/cron";

impl Collection {
    /// The org-wide list of the collection: its path, but `/v1/acl/list_org` for ACLs (the
    /// plain ACL list needs an object).
    #[must_use]
    pub fn org_list(self) -> &'static str {
        match self {
            Collection::Acl => "/v1/acl/list_org",
            other => other.path(),
        }
    }

    /// Whether the spec's list operation of the collection declares cursor paging (`limit`
    /// and `starting_after`): every list but `/environment` (no paging parameters at all) and
    /// `/v1/env_var` (`limit` only), which are read in one call.
    #[must_use]
    pub fn declares_cursor_paging(self) -> bool {
        !matches!(self, Collection::Environment | Collection::EnvVar)
    }

    /// Whether the spec says that a name is unique within its project in this project-level
    /// collection (tags and scores: "in the project"). For automations, span iframes and MCP
    /// servers it says only "the same name", so a PUT might replace an object of that name in
    /// another project (A3, J9).
    #[must_use]
    pub fn names_unique_per_project(self) -> bool {
        matches!(self, Collection::ProjectTag | Collection::ProjectScore)
    }

    /// The collection whose list is at `path` (`org_list`), if any.
    #[must_use]
    pub fn at_list_path(path: &str) -> Option<Collection> {
        ALL_COLLECTIONS.into_iter().find(|c| c.org_list() == path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spelled_as_serde<T: Serialize + Copy>(all: &[T], as_str: fn(T) -> &'static str) {
        for &v in all {
            assert_eq!(
                serde_json::to_value(v).ok(),
                Some(serde_json::Value::String(as_str(v).to_owned()))
            );
        }
    }

    #[test]
    fn as_str_is_the_serde_spelling() {
        spelled_as_serde(Permission::ALL, Permission::as_str);
        spelled_as_serde(AclObjectType::ALL, AclObjectType::as_str);
        spelled_as_serde(ExportFormat::ALL, ExportFormat::as_str);
    }
}
