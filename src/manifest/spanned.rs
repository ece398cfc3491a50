//! [`Sp<T>`]: a parsed value with the byte range it came from.
//!
//! It wraps `serde_saphyr::Spanned` so that the rest of the crate never names the YAML library,
//! and implements `JsonSchema` by delegating to `T`, so spans stay invisible in the schema.

use std::borrow::Cow;
use std::ops::Deref;

use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Deserializer};

/// Where a value sits in its YAML document: byte offset and length relative to the document's
/// text, plus the 1-based line and column as a fallback when no byte offset is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DocPos {
    pub offset: Option<usize>,
    pub len: usize,
    pub line: usize,
    pub col: usize,
}

/// A value and its position in the document it was parsed from.
#[derive(Debug, Clone, PartialEq)]
pub struct Sp<T> {
    pub value: T,
    pub pos: DocPos,
}

impl<T> Sp<T> {
    /// A value that did not come from a file (templates applied by lowering, tests).
    #[must_use]
    pub fn synthetic(value: T) -> Sp<T> {
        Sp {
            value,
            pos: DocPos::default(),
        }
    }
}

impl<T> Deref for Sp<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Sp<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let spanned = serde_saphyr::Spanned::<T>::deserialize(deserializer)?;
        let loc = spanned.referenced;
        let span = loc.span();
        let offset = span.byte_offset().and_then(|o| usize::try_from(o).ok());
        let len = span
            .byte_len()
            .and_then(|l| usize::try_from(l).ok())
            .unwrap_or(0);
        Ok(Sp {
            value: spanned.value,
            pos: DocPos {
                offset,
                len,
                line: usize::try_from(loc.line()).unwrap_or(0),
                col: usize::try_from(loc.column()).unwrap_or(0),
            },
        })
    }
}

impl<T: JsonSchema> JsonSchema for Sp<T> {
    fn inline_schema() -> bool {
        T::inline_schema()
    }

    fn schema_name() -> Cow<'static, str> {
        T::schema_name()
    }

    fn schema_id() -> Cow<'static, str> {
        T::schema_id()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        T::json_schema(generator)
    }
}
