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
//! Migrated so far: `tag`, `span_iframe` (the plain project children). The other kinds are still
//! written out in the scaffolds (see ARCHITECTURE.md, "Adding a kind").

pub mod span_iframe;
pub mod tag;

/// Every [`ProjectChild`] kind: calls the macro `$m` with the given arguments in brackets, then
/// the kinds' types, so a scaffold expands its code once per kind (`lower.rs`, `read.rs`).
macro_rules! project_children {
    ($m:ident!($($arg:tt)*)) => {
        $m!([$($arg)*] $crate::kinds::tag::Tag, $crate::kinds::span_iframe::SpanIframe)
    };
}
pub(crate) use project_children;

use serde::Serialize;
use serde_json::Value;

use crate::diff::fields::Field;
use crate::manifest::raw::{RawProject, State};
use crate::manifest::spanned::Sp;
use crate::model::lower::{Cx, Lowerer};
use crate::model::{Kind, Spec};
use crate::wire::Id;

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
pub(crate) trait ProjectChild {
    /// The registry row.
    const KIND: Kind;
    /// The key of the kind's list in a project manifest (`tags`, `span_iframes`...).
    const MANIFEST_KEY: &'static str;
    /// The create call's verb.
    const CREATE: CreateVerb;
    /// The manifest form.
    type Raw;
    /// The typed, validated spec.
    type Spec;
    /// The list item the API answers with.
    type Item: Serialize;
    /// The create request body.
    type Create: Serialize;
    /// The patch request body: an unset field is left out (left alone by the API).
    type Patch: Serialize;

    /// The kind's entries in a project manifest.
    fn entries(project: &RawProject) -> &[Sp<Self::Raw>];
    /// The name, state and previous names of one entry.
    fn header(raw: &Self::Raw) -> RawHeader<'_>;
    /// Checks one entry (its name already checked) and builds its spec; `None` after a
    /// diagnostic.
    fn lower(lw: &mut Lowerer<'_>, cx: Cx<'_>, raw: &Self::Raw) -> Option<Self::Spec>;
    /// The spec as the model's sum type.
    fn wrap(spec: Self::Spec) -> Spec;
    /// This kind's spec, when `spec` is one.
    fn spec(spec: &Spec) -> Option<&Self::Spec>;
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
pub(crate) fn body<T: Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}
