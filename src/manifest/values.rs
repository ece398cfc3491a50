//! Manifest values with more than one spelling: secrets, durations and permissions.
//!
//! Each has a hand-written `Deserialize` so that a wrong spelling gets a precise message, and a
//! literal secret is recognised without its text ever being kept (so no later error can echo it).

use std::borrow::Cow;
use std::fmt;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::de::{self, MapAccess, Visitor, value::MapAccessDeserializer};
use serde::{Deserialize, Deserializer};

use super::raw::{AclObjectType, Permission};

/// Where a secret comes from. The value itself is only read at plan or apply time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretRef {
    /// `{ env: NAME }`: the value of an environment variable.
    Env(String),
    /// `{ file: PATH }`: the contents of a file (trailing newline removed), relative to the
    /// manifest root.
    File(String),
    /// A secret written into the manifest. Always rejected; the text is dropped on parse.
    Literal,
}

impl<'de> Deserialize<'de> for SecretRef {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct SecretVisitor;

        impl<'de> Visitor<'de> for SecretVisitor {
            type Value = SecretRef;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("`{ env: NAME }` or `{ file: PATH }`")
            }

            fn visit_str<E: de::Error>(self, _value: &str) -> Result<SecretRef, E> {
                Ok(SecretRef::Literal)
            }

            fn visit_i64<E: de::Error>(self, _value: i64) -> Result<SecretRef, E> {
                Ok(SecretRef::Literal)
            }

            fn visit_u64<E: de::Error>(self, _value: u64) -> Result<SecretRef, E> {
                Ok(SecretRef::Literal)
            }

            fn visit_f64<E: de::Error>(self, _value: f64) -> Result<SecretRef, E> {
                Ok(SecretRef::Literal)
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<SecretRef, A::Error> {
                #[derive(Deserialize)]
                #[serde(deny_unknown_fields)]
                struct Source {
                    env: Option<String>,
                    file: Option<String>,
                }
                let source = Source::deserialize(MapAccessDeserializer::new(map))?;
                match (source.env, source.file) {
                    (Some(env), None) => Ok(SecretRef::Env(env)),
                    (None, Some(file)) => Ok(SecretRef::File(file)),
                    _ => Err(de::Error::custom(
                        "a secret needs exactly one of `env` or `file`",
                    )),
                }
            }
        }

        deserializer.deserialize_any(SecretVisitor)
    }
}

impl JsonSchema for SecretRef {
    fn schema_name() -> Cow<'static, str> {
        "SecretRef".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A secret, by reference: `{ env: NAME }` or `{ file: PATH }`. Literal secrets are rejected.",
            "oneOf": [
                { "type": "object", "properties": { "env": { "type": "string" } }, "required": ["env"], "additionalProperties": false },
                { "type": "object", "properties": { "file": { "type": "string" } }, "required": ["file"], "additionalProperties": false }
            ]
        })
    }
}

/// A duration as written: seconds, or a number with a unit (`90s`, `15m`, `1h`, `7d`).
/// Checked and converted by lowering, so a bad spelling gets a coded diagnostic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Duration {
    Seconds(u64),
    Text(String),
}

impl Duration {
    /// The duration in seconds, or `None` when the text is not a valid duration.
    #[must_use]
    pub fn seconds(&self) -> Option<u64> {
        match self {
            Duration::Seconds(s) => Some(*s),
            Duration::Text(text) => parse_duration(text),
        }
    }
}

/// Parses `90s`, `15m`, `1h`, `7d`, `2w` or a plain number of seconds. Compound forms like
/// `1h30m` are accepted.
#[must_use]
pub fn parse_duration(text: &str) -> Option<u64> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    if let Ok(n) = text.parse::<u64>() {
        return Some(n);
    }
    let mut total: u64 = 0;
    let mut digits = String::new();
    for c in text.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3_600,
            'd' => 86_400,
            'w' => 604_800,
            _ => return None,
        };
        let n: u64 = digits.parse().ok()?;
        digits.clear();
        total = total.checked_add(n.checked_mul(unit)?)?;
    }
    if !digits.is_empty() {
        return None;
    }
    Some(total)
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct DurationVisitor;

        impl Visitor<'_> for DurationVisitor {
            type Value = Duration;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a duration such as `1h`, `30m` or a number of seconds")
            }

            fn visit_u64<E: de::Error>(self, value: u64) -> Result<Duration, E> {
                Ok(Duration::Seconds(value))
            }

            // Negative and fractional numbers are kept as text, so that lowering reports them
            // as invalid durations at the value's position.
            fn visit_i64<E: de::Error>(self, value: i64) -> Result<Duration, E> {
                Ok(u64::try_from(value)
                    .map_or_else(|_| Duration::Text(value.to_string()), Duration::Seconds))
            }

            fn visit_f64<E: de::Error>(self, value: f64) -> Result<Duration, E> {
                Ok(Duration::Text(value.to_string()))
            }

            fn visit_str<E: de::Error>(self, value: &str) -> Result<Duration, E> {
                Ok(Duration::Text(value.to_owned()))
            }
        }

        deserializer.deserialize_any(DurationVisitor)
    }
}

impl JsonSchema for Duration {
    fn schema_name() -> Cow<'static, str> {
        "Duration".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "Seconds, or a number with a unit: `90s`, `15m`, `1h`, `7d`, `2w`.",
            "oneOf": [
                { "type": "integer", "minimum": 0 },
                { "type": "string", "pattern": "^([0-9]+[smhdw])+$" }
            ]
        })
    }
}

/// A role permission: `read`, or `{ permission: create, restrict_object_type: experiment }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PermissionSpec {
    pub permission: Permission,
    pub restrict_object_type: Option<AclObjectType>,
}

impl<'de> Deserialize<'de> for PermissionSpec {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct PermissionVisitor;

        impl<'de> Visitor<'de> for PermissionVisitor {
            type Value = PermissionSpec;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a permission name or `{ permission, restrict_object_type }`")
            }

            fn visit_str<E: de::Error>(self, value: &str) -> Result<PermissionSpec, E> {
                let permission =
                    Permission::deserialize(de::value::StrDeserializer::<E>::new(value))?;
                Ok(PermissionSpec {
                    permission,
                    restrict_object_type: None,
                })
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<PermissionSpec, A::Error> {
                #[derive(Deserialize)]
                #[serde(deny_unknown_fields)]
                struct Restricted {
                    permission: Permission,
                    restrict_object_type: Option<AclObjectType>,
                }
                let r = Restricted::deserialize(MapAccessDeserializer::new(map))?;
                Ok(PermissionSpec {
                    permission: r.permission,
                    restrict_object_type: r.restrict_object_type,
                })
            }
        }

        deserializer.deserialize_any(PermissionVisitor)
    }
}

impl JsonSchema for PermissionSpec {
    fn schema_name() -> Cow<'static, str> {
        "PermissionSpec".into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let permission = generator.subschema_for::<Permission>();
        let object_type = generator.subschema_for::<AclObjectType>();
        json_schema!({
            "description": "A permission, optionally restricted to one object type.",
            "oneOf": [
                permission,
                {
                    "type": "object",
                    "properties": { "permission": permission, "restrict_object_type": object_type },
                    "required": ["permission"],
                    "additionalProperties": false
                }
            ]
        })
    }
}

#[cfg(test)]
mod tests {
    use super::parse_duration;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90s"), Some(90));
        assert_eq!(parse_duration("15m"), Some(900));
        assert_eq!(parse_duration("1h30m"), Some(5400));
        assert_eq!(parse_duration("7d"), Some(604_800));
        assert_eq!(parse_duration("3600"), Some(3600));
        assert_eq!(parse_duration("1x"), None);
        assert_eq!(parse_duration("h"), None);
        assert_eq!(parse_duration("10"), Some(10));
        assert_eq!(parse_duration(""), None);
        assert_eq!(parse_duration("99999999999999999999w"), None);
    }
}
