//! The kind registry: the one table of the kinds of object bt-gitops manages.
//!
//! `kinds!` generates the [`Kind`] enum, [`Kind::ALL`], the address names and their parsing,
//! and each kind's static facts (human name, API collection and list, authoritative collections,
//! protected by default, holds a secret, shares its names with) from one row per kind. Nothing
//! else lists kinds: code that needs a fact asks the registry, and tests iterate [`Kind::ALL`].

use std::fmt;

use crate::manifest::raw::{OrgCollection, ProjectCollection};
use crate::vocab::Collection;

macro_rules! kinds {
    ($(
        $(#[doc = $doc:literal])+
        $variant:ident {
            name: $name:literal,
            human: $human:literal,
            collection: $collection:expr,
            list: $list:expr,
            org_collection: $org_collection:expr,
            project_collection: $project_collection:expr,
            protected: $protected:literal,
            secret: $secret:literal,
            shares: [$($shares:ident),*],
        },
    )+) => {
        /// The kinds of object bt-gitops manages, in the order a plan lists them.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Kind {
            $($(#[doc = $doc])+ $variant,)+
        }

        impl Kind {
            /// Every kind, in plan order.
            pub const ALL: &'static [Kind] = &[$(Kind::$variant,)+];

            /// The name used in addresses: `group`, `tag`, `online_scoring`...
            #[must_use]
            pub fn as_str(self) -> &'static str {
                match self { $(Kind::$variant => $name,)+ }
            }

            /// The name used in messages: `AI secret`, `online-scoring rule`...
            #[must_use]
            pub fn human(self) -> &'static str {
                match self { $(Kind::$variant => $human,)+ }
            }

            /// The API collection objects of this kind are created, changed and deleted in
            /// (`project_tag`); `None` for kinds written through a special endpoint (members,
            /// service accounts, grants).
            #[must_use]
            pub fn collection(self) -> Option<Collection> {
                match self { $(Kind::$variant => $collection,)+ }
            }

            /// The API collection that the live state of this kind is read from.
            #[must_use]
            pub fn list_collection(self) -> Collection {
                match self { $(Kind::$variant => $list,)+ }
            }

            /// The org collection that `authoritative:` names to own this kind's org-level
            /// objects.
            #[must_use]
            pub fn org_collection(self) -> Option<OrgCollection> {
                match self { $(Kind::$variant => $org_collection,)+ }
            }

            /// The project collection that a project's `authoritative:` names to own this
            /// kind's objects in it.
            #[must_use]
            pub fn project_collection(self) -> Option<ProjectCollection> {
                match self { $(Kind::$variant => $project_collection,)+ }
            }

            /// A delete is refused unless the manifest sets `protect: false`.
            #[must_use]
            pub fn protected_by_default(self) -> bool {
                match self { $(Kind::$variant => $protected,)+ }
            }

            /// Objects of this kind carry a write-only secret, compared through digests.
            #[must_use]
            pub fn holds_secret(self) -> bool {
                match self { $(Kind::$variant => $secret,)+ }
            }

            /// Other kinds stored in the same API collection, where names are unique across
            /// kinds: a score and an online-scoring rule are both project scores.
            #[must_use]
            pub fn shares_names_with(self) -> &'static [Kind] {
                match self { $(Kind::$variant => &[$(Kind::$shares),*],)+ }
            }
        }
    };
}

kinds! {
    /// The organization itself: its settings.
    Org {
        name: "org",
        human: "org",
        collection: Some(Collection::Organization),
        list: Collection::Organization,
        org_collection: None,
        project_collection: None,
        protected: true,
        secret: false,
        shares: [],
    },
    /// A human member of the org, by email.
    Member {
        name: "member",
        human: "member",
        collection: None,
        list: Collection::User,
        org_collection: Some(OrgCollection::Members),
        project_collection: None,
        protected: false,
        secret: false,
        shares: [],
    },
    /// A service account of the org, by name.
    ServiceAccount {
        name: "service_account",
        human: "service account",
        collection: None,
        list: Collection::User,
        org_collection: Some(OrgCollection::ServiceAccounts),
        project_collection: None,
        protected: false,
        secret: false,
        shares: [],
    },
    /// An API token of a service account.
    ServiceToken {
        name: "service_token",
        human: "service token",
        collection: Some(Collection::ServiceToken),
        list: Collection::ServiceToken,
        org_collection: Some(OrgCollection::ServiceAccounts),
        project_collection: None,
        protected: false,
        secret: false,
        shares: [],
    },
    /// A permission group.
    Group {
        name: "group",
        human: "group",
        collection: Some(Collection::Group),
        list: Collection::Group,
        org_collection: Some(OrgCollection::Groups),
        project_collection: None,
        protected: false,
        secret: false,
        shares: [],
    },
    /// A role: a named set of permissions.
    Role {
        name: "role",
        human: "role",
        collection: Some(Collection::Role),
        list: Collection::Role,
        org_collection: Some(OrgCollection::Roles),
        project_collection: None,
        protected: false,
        secret: false,
        shares: [],
    },
    /// A deployment environment (production, staging...).
    Environment {
        name: "environment",
        human: "environment",
        collection: Some(Collection::Environment),
        list: Collection::Environment,
        org_collection: Some(OrgCollection::Environments),
        project_collection: None,
        protected: false,
        secret: false,
        shares: [],
    },
    /// An AI provider credential of the org.
    AiSecret {
        name: "ai_secret",
        human: "AI secret",
        collection: Some(Collection::AiSecret),
        list: Collection::AiSecret,
        org_collection: Some(OrgCollection::AiSecrets),
        project_collection: None,
        protected: true,
        secret: true,
        shares: [],
    },
    /// A project and its settings.
    Project {
        name: "project",
        human: "project",
        collection: Some(Collection::Project),
        list: Collection::Project,
        org_collection: Some(OrgCollection::Projects),
        project_collection: None,
        protected: true,
        secret: false,
        shares: [],
    },
    /// An environment variable of the org, a project or a function.
    EnvVar {
        name: "env_var",
        human: "env var",
        collection: Some(Collection::EnvVar),
        list: Collection::EnvVar,
        org_collection: Some(OrgCollection::EnvVars),
        project_collection: Some(ProjectCollection::EnvVars),
        protected: false,
        secret: true,
        shares: [AiProvider],
    },
    /// An AI provider key of a project: an entry of the project's env var list filed under
    /// `secret_category: ai_provider` (S12), sharing its name space with the project's env vars.
    AiProvider {
        name: "ai_provider",
        human: "AI provider",
        collection: Some(Collection::EnvVar),
        list: Collection::EnvVar,
        org_collection: None,
        project_collection: Some(ProjectCollection::AiProviders),
        protected: true,
        secret: true,
        shares: [EnvVar],
    },
    /// A project tag.
    Tag {
        name: "tag",
        human: "tag",
        collection: Some(Collection::ProjectTag),
        list: Collection::ProjectTag,
        org_collection: None,
        project_collection: Some(ProjectCollection::Tags),
        protected: false,
        secret: false,
        shares: [],
    },
    /// A human-review score of a project.
    Score {
        name: "score",
        human: "score",
        collection: Some(Collection::ProjectScore),
        list: Collection::ProjectScore,
        org_collection: None,
        project_collection: Some(ProjectCollection::Scores),
        protected: false,
        secret: false,
        shares: [OnlineScoring],
    },
    /// An online-scoring rule of a project.
    OnlineScoring {
        name: "online_scoring",
        human: "online-scoring rule",
        collection: Some(Collection::ProjectScore),
        list: Collection::ProjectScore,
        org_collection: None,
        project_collection: Some(ProjectCollection::OnlineScoring),
        protected: false,
        secret: false,
        shares: [Score],
    },
    /// A custom span view (an iframe) of a project.
    SpanIframe {
        name: "span_iframe",
        human: "span iframe",
        collection: Some(Collection::SpanIframe),
        list: Collection::SpanIframe,
        org_collection: None,
        project_collection: Some(ProjectCollection::SpanIframes),
        protected: false,
        secret: false,
        shares: [],
    },
    /// An MCP server of a project.
    McpServer {
        name: "mcp_server",
        human: "MCP server",
        collection: Some(Collection::McpServer),
        list: Collection::McpServer,
        org_collection: None,
        project_collection: Some(ProjectCollection::McpServers),
        protected: false,
        secret: false,
        shares: [],
    },
    /// A dataset of a project (the object, never its rows).
    Dataset {
        name: "dataset",
        human: "dataset",
        collection: Some(Collection::Dataset),
        list: Collection::Dataset,
        org_collection: None,
        project_collection: Some(ProjectCollection::Datasets),
        protected: false,
        secret: false,
        shares: [],
    },
    /// A saved view of a project (shared views only: another user's views are left alone).
    View {
        name: "view",
        human: "saved view",
        collection: Some(Collection::View),
        list: Collection::View,
        org_collection: None,
        project_collection: Some(ProjectCollection::Views),
        protected: false,
        secret: false,
        shares: [],
    },
    /// An alert automation of a project.
    Alert {
        name: "alert",
        human: "alert",
        collection: Some(Collection::ProjectAutomation),
        list: Collection::ProjectAutomation,
        org_collection: None,
        project_collection: Some(ProjectCollection::Alerts),
        protected: false,
        secret: false,
        shares: [Retention, Export, EnvironmentAlert],
    },
    /// A data-retention automation of a project.
    Retention {
        name: "retention",
        human: "retention rule",
        collection: Some(Collection::ProjectAutomation),
        list: Collection::ProjectAutomation,
        org_collection: None,
        project_collection: Some(ProjectCollection::Retention),
        protected: false,
        secret: false,
        shares: [Alert, Export, EnvironmentAlert],
    },
    /// A data-export automation of a project.
    Export {
        name: "export",
        human: "export",
        collection: Some(Collection::ProjectAutomation),
        list: Collection::ProjectAutomation,
        org_collection: None,
        project_collection: Some(ProjectCollection::Exports),
        protected: false,
        secret: false,
        shares: [Alert, Retention, EnvironmentAlert],
    },
    /// An automation of a project that notifies when one of its org's environments changes.
    EnvironmentAlert {
        name: "environment_alert",
        human: "environment alert",
        collection: Some(Collection::ProjectAutomation),
        list: Collection::ProjectAutomation,
        org_collection: None,
        project_collection: Some(ProjectCollection::EnvironmentAlerts),
        protected: false,
        secret: false,
        shares: [Alert, Retention, Export],
    },
    /// An ACL: a subject gets a privilege on a target.
    Grant {
        name: "grant",
        human: "grant",
        collection: None,
        list: Collection::Acl,
        org_collection: Some(OrgCollection::Grants),
        project_collection: Some(ProjectCollection::Grants),
        protected: false,
        secret: false,
        shares: [],
    },
}

impl Kind {
    /// The path of [`Kind::collection`] (`/v1/project_tag`).
    #[must_use]
    pub fn path(self) -> Option<&'static str> {
        self.collection().map(Collection::path)
    }

    /// The org-wide list the live state of this kind is read from (`/v1/project_tag`).
    #[must_use]
    pub fn list(self) -> &'static str {
        self.list_collection().org_list()
    }

    /// The kind named by [`Kind::as_str`].
    #[must_use]
    pub fn parse(name: &str) -> Option<Kind> {
        Kind::ALL.iter().copied().find(|k| k.as_str() == name)
    }

    /// Whether objects of this kind can live in a project.
    #[must_use]
    pub fn in_project(self) -> bool {
        self.project_collection().is_some()
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::Kind;

    #[test]
    fn names_parse_back_and_are_unique() {
        for &kind in Kind::ALL {
            assert_eq!(Kind::parse(kind.as_str()), Some(kind));
        }
        let mut names: Vec<&str> = Kind::ALL.iter().map(|k| k.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Kind::ALL.len());
    }

    #[test]
    fn kinds_that_share_names_share_a_list_both_ways() {
        for &kind in Kind::ALL {
            for &other in kind.shares_names_with() {
                assert_ne!(kind, other);
                assert_eq!(kind.list(), other.list(), "{kind} and {other}");
                assert!(
                    other.shares_names_with().contains(&kind),
                    "{other} -> {kind}"
                );
            }
        }
    }
}
