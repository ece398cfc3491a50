//! One module per kind: everything kind-specific on the client side, behind the [`ProjectChild`]
//! trait, so that a missing piece is a compile error rather than a silent gap.
//!
//! A kind's module holds its lowering and checks (manifest form to typed spec), the managed
//! fields the diff compares, the create and patch request bodies (typed [`crate::wire`] values,
//! so the compiler checks their field names), how a list item becomes a spec, and the manifest
//! form `import` writes. It is core code: no IO, no async, no `api` (the wire types are a pure
//! contract). The scaffolds that call it are generic: `model::lower` (`lower_children`) and
//! `api::read` (`Builder::children`) go through [`project_children!`], the one list of these
//! kinds; `diff::fields`, `apply::ops` (`create_child`, `patch_child`) and `import` (`children`)
//! have one line per kind, the first two in matches the compiler checks for exhaustiveness.
//!
//! Migrated so far: `tag`, `span_iframe`, `mcp_server`, `dataset` (the plain project children). The other kinds are still
//! written out in the scaffolds (see ARCHITECTURE.md, "Adding a kind").

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

/// A [`ProjectChild`]'s place in [`Spec`]; implemented for the kinds of [`project_children!`].
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

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::diff::fields::Field;
use crate::manifest::raw::{RawProject, State};
use crate::manifest::spanned::Sp;
use crate::model::lower::{Cx, Lowerer};
use crate::model::{Kind, Spec};
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
