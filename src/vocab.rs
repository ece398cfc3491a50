//! The Braintrust API's vocabularies: permissions, object types, formats, statuses...
//!
//! `vocabularies!` defines each enum once, with the API's spelling of every value: serde
//! (de)serializes it, `as_str` returns it, `ALL` lists the values. The same types serve the
//! manifest language (`manifest::raw`, and so its JSON Schema), the model and the wire types
//! (`api::wire`), so no layer spells a value again or converts between copies of a list.

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
