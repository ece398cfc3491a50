//! The kind registry: the one table of the kinds of object bt-gitops manages.
//!
//! `kinds!` generates the [`Kind`] enum, [`Kind::ALL`], the address names and their parsing,
//! and each kind's static facts (human name, API path and list, authoritative collections,
//! protected by default, holds a secret, shares its names with) from one row per kind. Nothing
//! else lists kinds: code that needs a fact asks the registry, and tests iterate [`Kind::ALL`].

use std::fmt;

use crate::manifest::raw::{OrgCollection, ProjectCollection};

macro_rules! kinds {
    ($(
        $(#[doc = $doc:literal])+
        $variant:ident {
            name: $name:literal,
            human: $human:literal,
            path: $path:expr,
            list: $list:literal,
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
            /// (`/v1/project_tag`); `None` for kinds written through a special endpoint
            /// (members, service accounts, grants).
            #[must_use]
            pub fn path(self) -> Option<&'static str> {
                match self { $(Kind::$variant => $path,)+ }
            }

            /// The API list that the live state of this kind is read from.
            #[must_use]
            pub fn list(self) -> &'static str {
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
        path: Some("/v1/organization"),
        list: "/v1/organization",
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
        path: None,
        list: "/v1/user",
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
        path: None,
        list: "/v1/user",
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
        path: Some("/v1/service_token"),
        list: "/v1/service_token",
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
        path: Some("/v1/group"),
        list: "/v1/group",
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
        path: Some("/v1/role"),
        list: "/v1/role",
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
        path: Some("/environment"),
        list: "/environment",
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
        path: Some("/v1/ai_secret"),
        list: "/v1/ai_secret",
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
        path: Some("/v1/project"),
        list: "/v1/project",
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
        path: Some("/v1/env_var"),
        list: "/v1/env_var",
        org_collection: Some(OrgCollection::EnvVars),
        project_collection: Some(ProjectCollection::EnvVars),
        protected: false,
        secret: true,
        shares: [],
    },
    /// A project tag.
    Tag {
        name: "tag",
        human: "tag",
        path: Some("/v1/project_tag"),
        list: "/v1/project_tag",
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
        path: Some("/v1/project_score"),
        list: "/v1/project_score",
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
        path: Some("/v1/project_score"),
        list: "/v1/project_score",
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
        path: Some("/v1/span_iframe"),
        list: "/v1/span_iframe",
        org_collection: None,
        project_collection: Some(ProjectCollection::SpanIframes),
        protected: false,
        secret: false,
        shares: [],
    },
    /// An alert automation of a project.
    Alert {
        name: "alert",
        human: "alert",
        path: Some("/v1/project_automation"),
        list: "/v1/project_automation",
        org_collection: None,
        project_collection: Some(ProjectCollection::Alerts),
        protected: false,
        secret: false,
        shares: [Retention, Export],
    },
    /// A data-retention automation of a project.
    Retention {
        name: "retention",
        human: "retention rule",
        path: Some("/v1/project_automation"),
        list: "/v1/project_automation",
        org_collection: None,
        project_collection: Some(ProjectCollection::Retention),
        protected: false,
        secret: false,
        shares: [Alert, Export],
    },
    /// A data-export automation of a project.
    Export {
        name: "export",
        human: "export",
        path: Some("/v1/project_automation"),
        list: "/v1/project_automation",
        org_collection: None,
        project_collection: Some(ProjectCollection::Exports),
        protected: false,
        secret: false,
        shares: [Alert, Retention],
    },
    /// An ACL: a subject gets a privilege on a target.
    Grant {
        name: "grant",
        human: "grant",
        path: None,
        list: "/v1/acl/list_org",
        org_collection: Some(OrgCollection::Grants),
        project_collection: Some(ProjectCollection::Grants),
        protected: false,
        secret: false,
        shares: [],
    },
}

impl Kind {
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
