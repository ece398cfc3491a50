//! One module per kind: everything kind-specific on the client side, behind the [`ProjectChild`]
//! trait, so that a missing piece is a compile error rather than a silent gap.
//!
//! A kind's module holds its lowering and checks (manifest form to typed spec), the managed
//! fields the diff compares, the create and patch request bodies (typed [`crate::wire`] values,
//! so the compiler checks their field names), how a list item becomes a spec, and the manifest
//! form `import` writes. It is core code: no IO, no async, no `api` (the wire types are a pure
//! contract). The scaffolds that call it are generic: `model::lower` (`lower_children`) and
//! `api::read` (`Builder::children`) go through `project_children!`, the one list of these
//! kinds; `diff::fields`, `apply::ops` (`create_child`, `patch_child`) and `import` (`children`)
//! have one line per kind, the first two in matches the compiler checks for exhaustiveness.
//!
//! Plain project children: `tag`, `span_iframe`, `mcp_server` and `dataset`.
//! Plain org-level kinds (`group`, `role`, `environment`) go the same way through the
//! [`OrgChild`] trait and `org_children!`: `model::lower` (`lower_org_children`), `api::read`
//! (`Builder::org_children`), `diff::fields` and `apply::ops` (`create_org_child`, the
//! `Spec::OrgChild` arm of `update`) and `import` (`entry`) reach them through [`OrgChildSpec`].
//! Their bodies name other objects by id through [`Ids`].
//!
//! Special kinds have a module of plain functions each, called from the scaffolds' matches on
//! `Spec`. Org side: `org` (settings), `member`, `service_account`, `service_token`, `grant`
//! (`acl/batch_update`), `ai_secret` and `env_var` (write-only values, added to their bodies by
//! `apply::ops`). Project side: `project` (the project itself and its settings), `score` and
//! `online_scoring` (sharing `/v1/project_score`; the shared part is in `project_score`),
//! `alert`, `retention`, `export` and `environment_alert` (sharing `/v1/project_automation`; the
//! shared part is in `automation`), `view` (saved views, read per project and located by their
//! project in every write) and `ai_provider` (a project's AI provider key, kept in its env var
//! list; its create is checked in `apply::ops`, S12), with `function` for the function
//! references scorers and project settings share. Every kind in the registry now has its module
//! here (see ARCHITECTURE.md, "Adding a kind").

/// Every [`ProjectChild`] kind, as `module::Type(its list on RawProject)`: calls the macro `$m` with the given arguments
/// in brackets, then the kinds, so code is expanded once per kind (the `pub mod` lines and
/// [`ChildSpec`] here, lowering in `lower.rs`, the list calls in `read.rs`). A kind left out of this list has no
/// [`ChildVariant`]: the scaffolds never call it and the conformance test fails.
macro_rules! project_children {
    ($m:ident!($($arg:tt)*)) => {
        $m! {[$($arg)*] tag::Tag(tags), span_iframe::SpanIframe(span_iframes), mcp_server::McpServer(mcp_servers), dataset::Dataset(datasets)}
    };
}
pub(crate) use project_children;

macro_rules! modules {
    ([] $($module:ident::$kind:ident($field:ident)),*) => {
        $(pub mod $module;)*
    };
}
project_children!(modules!());

// The project-side kinds that share an API list with others (see `automation` and
// `project_score`): plain functions called from the scaffolds.
pub mod alert;
pub mod automation;
pub mod environment_alert;
pub mod export;
pub mod function;
pub mod online_scoring;
pub mod project;
pub mod project_score;
pub mod retention;
pub mod score;
pub mod view;

macro_rules! child_spec {
    ([] $($module:ident::$kind:ident($field:ident)),*) => {
        /// The spec of a [`ProjectChild`] kind, by kind: `Spec::Child` holds one.
        #[derive(Debug, Clone, PartialEq)]
        pub enum ChildSpec {
            $($kind(<$module::$kind as ProjectChild>::Spec),)*
        }

        impl ChildSpec {
            /// The registry row.
            #[must_use]
            pub fn kind(&self) -> Kind {
                match self {
                    $(ChildSpec::$kind(_) => <$module::$kind as ProjectChild>::KIND,)*
                }
            }

            /// The managed fields, in display order (see `diff::fields`).
            #[must_use]
            pub fn fields(&self) -> Vec<Field> {
                match self {
                    $(ChildSpec::$kind(s) => <$module::$kind as ProjectChild>::fields(s),)*
                }
            }

            /// The create call: its verb and its body, for an object named `name` in the
            /// project `project_id`.
            #[must_use]
            pub fn create(&self, project_id: Id, name: &str) -> (CreateVerb, Value) {
                match self {
                    $(ChildSpec::$kind(s) => (
                        <$module::$kind as ProjectChild>::CREATE,
                        body(&<$module::$kind as ProjectChild>::create(s, project_id, name)),
                    ),)*
                }
            }

            /// The key of the kind's list in a project manifest (`tags`...).
            #[must_use]
            pub fn manifest_key(&self) -> &'static str {
                match self {
                    $(ChildSpec::$kind(_) => <$module::$kind as ChildVariant>::MANIFEST_KEY,)*
                }
            }

            /// The manifest form `import` writes for the object named `name`.
            #[must_use]
            pub fn manifest(&self, name: &str) -> Value {
                match self {
                    $(ChildSpec::$kind(s) => <$module::$kind as ProjectChild>::manifest(name, s),)*
                }
            }

            /// The patch body; `rename` is the new name when the object is renamed.
            #[must_use]
            pub fn patch(&self, rename: Option<String>) -> Value {
                match self {
                    $(ChildSpec::$kind(s) => body(&<$module::$kind as ProjectChild>::patch(s, rename)),)*
                }
            }
        }

        $(impl ChildVariant for $module::$kind {
            const MANIFEST_KEY: &'static str = stringify!($field);

            fn entries(project: &RawProject) -> &[Sp<Self::Raw>] {
                &project.$field
            }

            fn header(raw: &Self::Raw) -> RawHeader<'_> {
                RawHeader {
                    name: &raw.name,
                    state: &raw.state,
                    previous_names: &raw.previous_names,
                }
            }

            fn wrap(spec: Self::Spec) -> Spec {
                Spec::Child(ChildSpec::$kind(spec))
            }

            fn spec(spec: &Spec) -> Option<&Self::Spec> {
                match spec {
                    Spec::Child(ChildSpec::$kind(s)) => Some(s),
                    _ => None,
                }
            }
        })*
    };
}
project_children!(child_spec!());

/// Every [`OrgChild`] kind, as `module::Type(its list on RawOrg)`, in the order lowering visits
/// them: the org-level counterpart of `project_children!`. It expands to the `pub mod` lines
/// and [`OrgChildSpec`] here, lowering in `lower.rs` and the list calls in `read.rs`.
macro_rules! org_children {
    ($m:ident!($($arg:tt)*)) => {
        $m! {[$($arg)*] group::Group(groups), role::Role(roles), environment::Environment(environments)}
    };
}
pub(crate) use org_children;

org_children!(modules!());

pub mod ai_provider;
pub mod ai_secret;
pub mod env_var;
pub mod grant;
pub mod member;
pub mod org;
pub mod service_account;
pub mod service_token;

macro_rules! org_child_spec {
    ([] $($module:ident::$kind:ident($field:ident)),*) => {
        /// The spec of an [`OrgChild`] kind, by kind: `Spec::OrgChild` holds one.
        #[derive(Debug, Clone, PartialEq)]
        pub enum OrgChildSpec {
            $($kind(<$module::$kind as OrgChild>::Spec),)*
        }

        impl OrgChildSpec {
            /// The registry row.
            #[must_use]
            pub fn kind(&self) -> Kind {
                match self {
                    $(OrgChildSpec::$kind(_) => <$module::$kind as OrgChild>::KIND,)*
                }
            }

            /// The managed fields, in display order (see `diff::fields`).
            #[must_use]
            pub fn fields(&self) -> Vec<Field> {
                match self {
                    $(OrgChildSpec::$kind(s) => <$module::$kind as OrgChild>::fields(s),)*
                }
            }

            /// The create call: its verb and its body, for an object named `name` in the org
            /// `org_name`; `ids` gives the ids of the objects the body names.
            ///
            /// # Errors
            /// When an object the body names has no id.
            pub fn create(&self, org_name: &str, name: &str, ids: &dyn Ids) -> Result<(CreateVerb, Value), BodyError> {
                match self {
                    $(OrgChildSpec::$kind(s) => Ok((
                        <$module::$kind as OrgChild>::CREATE,
                        body(&<$module::$kind as OrgChild>::create(s, org_name, name, ids)?),
                    )),)*
                }
            }

            /// The patch body, from the live spec `live` (when it is of the same kind);
            /// `rename` is the new name when the object is renamed.
            ///
            /// # Errors
            /// When an object the body names has no id, or the kind needs the live object and
            /// there is none.
            pub fn patch(&self, live: Option<&Spec>, rename: Option<String>, ids: &dyn Ids) -> Result<Value, BodyError> {
                match self {
                    $(OrgChildSpec::$kind(s) => {
                        let live = match live {
                            Some(Spec::OrgChild(OrgChildSpec::$kind(l))) => Some(l),
                            _ => None,
                        };
                        Ok(body(&<$module::$kind as OrgChild>::patch(s, live, rename, ids)?))
                    })*
                }
            }

            /// The key of the kind's list in an org manifest (`groups`...).
            #[must_use]
            pub fn manifest_key(&self) -> &'static str {
                match self {
                    $(OrgChildSpec::$kind(_) => stringify!($field),)*
                }
            }

            /// The manifest form `import` writes for the object named `name`.
            #[must_use]
            pub fn manifest(&self, name: &str) -> Value {
                match self {
                    $(OrgChildSpec::$kind(s) => <$module::$kind as OrgChild>::manifest(name, s),)*
                }
            }
        }

        $(impl OrgVariant for $module::$kind {
            fn entries(org: &RawOrg) -> &[Sp<Self::Raw>] {
                &org.$field
            }

            fn wrap(spec: Self::Spec) -> Spec {
                Spec::OrgChild(OrgChildSpec::$kind(spec))
            }
        })*
    };
}
org_children!(org_child_spec!());

/// An [`OrgChild`]'s place in [`Spec`] and in the org manifest; implemented for the kinds of
/// `org_children!`.
pub trait OrgVariant: OrgChild {
    /// The kind's entries in an org manifest.
    fn entries(org: &RawOrg) -> &[Sp<Self::Raw>];
    /// The spec as the model's sum type.
    fn wrap(spec: Self::Spec) -> Spec;
}

/// Ids of the objects a request body names, for the body builders of [`OrgChild`] kinds.
pub trait Ids {
    /// The id of the object `key`.
    ///
    /// # Errors
    /// When the object neither exists nor was created.
    fn id(&self, key: &crate::model::ResourceKey) -> Result<Id, BodyError>;
    /// The id of the org-level object of `kind` named `name`.
    ///
    /// # Errors
    /// When the object neither exists nor was created.
    fn org_object(&self, kind: Kind, name: &str) -> Result<Id, BodyError>;
    /// The id of a function, prompt, experiment or dataset the manifests name, in `project`:
    /// looked up when planning (`crate::refs`), or created by this apply (datasets); a name
    /// `id:<uuid>` is an id as read back.
    ///
    /// # Errors
    /// When it was not found.
    fn named(
        &self,
        project: &crate::model::ProjectName,
        kind: crate::refs::RefKind,
        name: &str,
    ) -> Result<Id, BodyError>;
}

/// Why a request body could not be built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyError {
    /// An object the body names has no id; the message says which.
    Unresolved(String),
    /// The change needs the live object (membership deltas), and there is none.
    NeedsLive,
}

/// Names of live objects by id, filled by the reader as it goes (members and service accounts
/// first, then each [`OrgChild`] kind's own list), so that a list item naming other objects by
/// id can be read as names.
#[derive(Debug, Default)]
pub struct LiveNames {
    names: HashMap<(Kind, String), String>,
}

impl LiveNames {
    /// Records the name of the live object `id` of `kind`.
    pub fn insert(&mut self, kind: Kind, id: &str, name: String) {
        self.names.insert((kind, id.to_owned()), name);
    }

    /// The name of the live object `id` of `kind`, if it was read.
    #[must_use]
    pub fn get(&self, kind: Kind, id: &str) -> Option<&str> {
        self.names.get(&(kind, id.to_owned())).map(String::as_str)
    }
}

/// What lowering one org-level entry yields: the object's key name, its spec and the declared
/// objects it refers to, which the scaffold records after inserting it.
pub struct Lowered<S> {
    /// The name in the object's key (the name, or the slug of an environment).
    pub key: String,
    pub spec: S,
    pub refs: Vec<Reference>,
}

/// A reference from an object to another org-level object, checked once every object is known.
pub struct Reference {
    pub kind: Kind,
    pub name: String,
    pub span: Span,
    /// What the reference names, for messages: "group", "member"...
    pub what: &'static str,
    pub hint: Option<&'static str>,
}

/// The parts of an org-level manifest entry the scaffold handles: its name, `state`,
/// `previous_names` and `protect`.
pub struct OrgHeader<'a> {
    pub name: &'a Sp<String>,
    pub state: &'a Option<Sp<State>>,
    pub previous_names: &'a [Sp<String>],
    pub protect: Option<bool>,
}

/// A kind that lives in an org and has plain create, patch and delete calls on its own API
/// collection. Implemented once per kind, in its own module.
pub trait OrgChild {
    /// The registry row.
    const KIND: Kind;
    /// The create call's verb.
    const CREATE: CreateVerb;
    /// Kinds that name objects of this kind by id: when this kind's list fails, they cannot be
    /// read either and are recorded as incomplete too.
    const NAMED_BY: &'static [Kind];
    /// The manifest form.
    type Raw;
    /// The typed, validated spec.
    type Spec;
    /// The list item the API answers with.
    type Item: Serialize + DeserializeOwned + HasId;
    /// The create request body.
    type Create: Serialize;
    /// The patch request body.
    type Patch: Serialize;

    /// The name, state, previous names and protection of one manifest entry.
    fn header(raw: &Self::Raw) -> OrgHeader<'_>;
    /// Checks one entry (its name `name` already checked) and builds its spec; `None` after a
    /// diagnostic.
    fn lower(
        lw: &mut Lowerer<'_>,
        cx: Cx<'_>,
        raw: &Self::Raw,
        name: &Name,
    ) -> Option<Lowered<Self::Spec>>;
    /// The managed fields, in display order (see `diff::fields`).
    fn fields(spec: &Self::Spec) -> Vec<Field>;
    /// The create body for an object named `name` in the org `org_name`.
    ///
    /// # Errors
    /// When an object the body names has no id.
    fn create(
        spec: &Self::Spec,
        org_name: &str,
        name: &str,
        ids: &dyn Ids,
    ) -> Result<Self::Create, BodyError>;
    /// The patch body from the live spec, if any; `rename` is the new name when the object is
    /// renamed.
    ///
    /// # Errors
    /// When an object the body names has no id, or the kind needs the live spec and has none.
    fn patch(
        spec: &Self::Spec,
        live: Option<&Self::Spec>,
        rename: Option<String>,
        ids: &dyn Ids,
    ) -> Result<Self::Patch, BodyError>;
    /// The name other objects know a list item by (`None`: a deleted or unnameable item,
    /// skipped).
    fn name(item: &Self::Item) -> Option<String>;
    /// The key name and spec of a list item, normalised as lowering would; `None` for items
    /// bt-gitops does not manage (system roles). `names` holds the names read so far, this
    /// kind's own included.
    fn read(item: &Self::Item, name: &str, names: &LiveNames) -> Option<(String, Self::Spec)>;
    /// The manifest entry `import` writes (nulls are dropped by the caller).
    fn manifest(name: &str, spec: &Self::Spec) -> Value;
}

/// A [`ProjectChild`]'s place in [`Spec`]; implemented for the kinds of `project_children!`.
pub trait ChildVariant: ProjectChild {
    /// The key of the kind's list in a project manifest (`tags`, `span_iframes`...), the field of
    /// `RawProject` that holds it.
    const MANIFEST_KEY: &'static str;
    /// The kind's entries in a project manifest.
    fn entries(project: &RawProject) -> &[Sp<Self::Raw>];
    /// The name, state and previous names of one manifest entry (every manifest form has them).
    fn header(raw: &Self::Raw) -> RawHeader<'_>;
    /// The spec as the model's sum type.
    fn wrap(spec: Self::Spec) -> Spec;
    /// This kind's spec, when `spec` is one.
    fn spec(spec: &Spec) -> Option<&Self::Spec>;
}

use std::collections::HashMap;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::diff::fields::Field;
use crate::manifest::raw::{RawOrg, RawProject, State};
use crate::manifest::spanned::Sp;
use crate::model::lower::{Cx, Lowerer};
use crate::model::{Kind, Name, Spec};
use crate::source::Span;
use crate::wire::{HasId, Id};

/// How a kind's create request is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CreateVerb {
    /// Create, or return the existing object with the same natural key.
    Post,
    /// Create, or replace the existing object with the same natural key.
    Put,
}

/// The parts every manifest entry of a project child has: its name, `state` and
/// `previous_names`.
pub struct RawHeader<'a> {
    pub name: &'a Sp<String>,
    pub state: &'a Option<Sp<State>>,
    pub previous_names: &'a [Sp<String>],
}

/// What the reader needs of every list item: its id, its project and its name, and whether it
/// is soft-deleted.
pub struct ItemHeader<'a> {
    pub id: &'a Id,
    pub project_id: &'a Id,
    pub name: &'a str,
    pub deleted: bool,
}

/// A kind that lives in a project and has plain create, patch and delete calls on its own API
/// collection. Implemented once per kind, in its own module.
pub trait ProjectChild {
    /// The registry row.
    const KIND: Kind;
    /// The create call's verb.
    const CREATE: CreateVerb;
    /// The manifest form.
    type Raw;
    /// The typed, validated spec.
    type Spec;
    /// The list item the API answers with.
    type Item: Serialize + DeserializeOwned + HasId;
    /// The create request body.
    type Create: Serialize;
    /// The patch request body: an unset field is left out (left alone by the API).
    type Patch: Serialize;

    /// Checks one entry (its name already checked) and builds its spec; `None` after a
    /// diagnostic.
    fn lower(lw: &mut Lowerer<'_>, cx: Cx<'_>, raw: &Self::Raw) -> Option<Self::Spec>;
    /// The managed fields, in display order (see `diff::fields`).
    fn fields(spec: &Self::Spec) -> Vec<Field>;
    /// The create body for an object named `name` in the project `project_id`.
    fn create(spec: &Self::Spec, project_id: Id, name: &str) -> Self::Create;
    /// The patch body; `rename` is the new name when the object is renamed.
    fn patch(spec: &Self::Spec, rename: Option<String>) -> Self::Patch;
    /// The id, project and name of a list item.
    fn item(item: &Self::Item) -> ItemHeader<'_>;
    /// The spec of a list item, normalised as lowering would.
    fn read(item: &Self::Item) -> Self::Spec;
    /// The manifest entry `import` writes (nulls are dropped by the caller).
    fn manifest(name: &str, spec: &Self::Spec) -> Value;
}

/// A typed request body as JSON.
fn body<T: Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

/// An object without its `null` members (one level deep): how manifest forms leave out what is
/// not set.
pub(crate) fn drop_nulls(mut v: Value) -> Value {
    if let Value::Object(map) = &mut v {
        map.retain(|_, v| !v.is_null());
    }
    v
}

/// An object without its `null`, empty-list and empty-object members (one level deep).
pub(crate) fn drop_empty(mut v: Value) -> Value {
    if let Value::Object(map) = &mut v {
        map.retain(|_, v| {
            !(v.is_null()
                || v.as_array().is_some_and(Vec::is_empty)
                || v.as_object().is_some_and(serde_json::Map::is_empty))
        });
    }
    v
}

/// Whether an entry is a tombstone (`state: absent`) that leaves out some of the fields a
/// present object needs (`missing`, one flag per such field): it is then lowered from its
/// identifying fields alone, and the spec built for it is never compared or sent (a tombstone
/// is deleted by key and live id).
pub(crate) fn tombstone_only<const N: usize>(
    state: &Option<Sp<State>>,
    missing: [bool; N],
) -> bool {
    Lowerer::presence(state) == crate::model::Presence::Absent && missing.contains(&true)
}
