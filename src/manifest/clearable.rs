//! [`Clearable<T>`]: an optional manifest value that tells a key left out from a key written
//! `null`, and [`refuse_null`] / [`required_not_null`] for optional keys where `null` cannot
//! mean anything.
//!
//! Absent leaves the live value alone (the field is unmanaged); `null` (or `~`, or a key with no
//! value) asks for the field to be empty on the live object. Without a state file bt-gitops
//! cannot know that a key was declared before, so clearing has to be written down. Fields
//! whose live value the API gives no way to clear keep `Option<Sp<T>>` and deserialize through
//! [`refuse_null`], which turns a `null` into a coded diagnostic at the value.

use std::borrow::Cow;

use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::de::Error as _;
use serde::{Deserialize, Deserializer};

use super::spanned::{DocPos, Sp};

/// An optional field that `null` clears. Fields of this type carry `#[serde(default)]`, so that
/// a key left out reads as [`Clearable::Absent`].
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Clearable<T> {
    /// The key is not written: the live value is left alone.
    #[default]
    Absent,
    /// The key is written `null`: the live value must be empty. Holds where the `null` is.
    Null(DocPos),
    /// The key holds a value.
    Set(Sp<T>),
}

impl<T> Clearable<T> {
    /// The value when one is written (neither absent nor `null`).
    #[must_use]
    pub fn as_ref(&self) -> Option<&Sp<T>> {
        match self {
            Clearable::Set(v) => Some(v),
            Clearable::Absent | Clearable::Null(_) => None,
        }
    }

    /// Whether a value is written.
    #[must_use]
    pub fn is_some(&self) -> bool {
        matches!(self, Clearable::Set(_))
    }

    /// Whether no value is written (absent or `null`).
    #[must_use]
    pub fn is_none(&self) -> bool {
        !self.is_some()
    }

    /// Whether the key is written `null`.
    #[must_use]
    pub fn is_null(&self) -> bool {
        matches!(self, Clearable::Null(_))
    }

    /// The written value, or `empty` when the key clears the field; `None` when the key is left
    /// out (unmanaged).
    #[must_use]
    pub fn value_or(&self, empty: T) -> Option<T>
    where
        T: Clone,
    {
        match self {
            Clearable::Absent => None,
            Clearable::Null(_) => Some(empty),
            Clearable::Set(v) => Some(v.value.clone()),
        }
    }

    /// `self` unless the key is left out, then `other` (a template's value under a project's).
    #[must_use]
    pub fn or<'a>(&'a self, other: &'a Clearable<T>) -> &'a Clearable<T> {
        match self {
            Clearable::Absent => other,
            _ => self,
        }
    }
}

impl Clearable<String> {
    /// A text field as the model holds it: the written text, the empty text when cleared (the
    /// API stores "no text" as empty or absent, and the diff treats both alike), `None` when
    /// left out.
    #[must_use]
    pub fn text(&self) -> Option<String> {
        self.value_or(String::new())
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Clearable<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let spanned = Sp::<Option<T>>::deserialize(deserializer)?;
        Ok(match spanned.value {
            Some(value) => Clearable::Set(Sp {
                value,
                pos: spanned.pos,
            }),
            None => Clearable::Null(spanned.pos),
        })
    }
}

/// The schema of `T` or `null`, like `Option<T>`: editors accept `null` here.
impl<T: JsonSchema> JsonSchema for Clearable<T> {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> Cow<'static, str> {
        <Option<T>>::schema_name()
    }

    fn schema_id() -> Cow<'static, str> {
        <Option<T>>::schema_id()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        <Option<T>>::json_schema(generator)
    }
}

/// What a `null` on a field that cannot be cleared is reported as (matched by
/// `manifest::classify_message`, which adds the key's name).
pub const NULL_NOT_CLEARABLE: &str = "`null` cannot clear the field";

/// What a `null` on a field a present object needs is reported as.
pub const NULL_REQUIRED: &str = "`null` is not a value for the required field";

/// `deserialize_with` for an optional field the API gives no way to clear: a key left out is
/// `None` (with `#[serde(default)]`), a `null` is an error at the value.
///
/// # Errors
/// When the value is `null`, or not a `T`.
pub fn refuse_null<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    match Option::<T>::deserialize(deserializer)? {
        Some(v) => Ok(Some(v)),
        None => Err(D::Error::custom(NULL_NOT_CLEARABLE)),
    }
}

/// `deserialize_with` for a field that a present object needs (one a tombstone may leave out):
/// a `null` is an error at the value rather than a missing field.
///
/// # Errors
/// When the value is `null`, or not a `T`.
pub fn required_not_null<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    match Option::<T>::deserialize(deserializer)? {
        Some(v) => Ok(Some(v)),
        None => Err(D::Error::custom(NULL_REQUIRED)),
    }
}
