//! Identifier newtypes. Their constructors are the only validation of names and emails, so a
//! function taking a [`ProjectName`] never has to wonder whether it was checked.

use std::fmt;

/// Why a name or email was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidId(pub String);

/// Longest name accepted. Braintrust declares no limit; this keeps names printable and keys small.
pub const MAX_NAME_LEN: usize = 256;

fn check_name(value: &str) -> Result<(), InvalidId> {
    if value.is_empty() {
        return Err(InvalidId("a name cannot be empty".into()));
    }
    if value.trim() != value {
        return Err(InvalidId(
            "a name cannot start or end with whitespace".into(),
        ));
    }
    if value.chars().count() > MAX_NAME_LEN {
        return Err(InvalidId(format!(
            "a name cannot be longer than {MAX_NAME_LEN} characters"
        )));
    }
    if value.chars().any(char::is_control) {
        return Err(InvalidId("a name cannot contain control characters".into()));
    }
    if let Some(c) = value.chars().find(|c| is_invisible(*c)) {
        return Err(InvalidId(format!(
            "a name cannot contain bidirectional or invisible characters (found U+{:04X})",
            u32::from(c)
        )));
    }
    Ok(())
}

pub use crate::diag::is_invisible;

macro_rules! name_types {
    ($($(#[doc = $doc:literal])+ $name:ident,)+) => {$(
        $(#[doc = $doc])+
        ///
        /// Shared, not copied: a clone (every key of the org or project holds one) is a
        /// reference count, and equal names held by the same allocation compare at once.
        #[derive(Debug, Clone, Eq)]
        pub struct $name(std::sync::Arc<str>);

        impl PartialEq for $name {
            fn eq(&self, other: &$name) -> bool {
                std::sync::Arc::ptr_eq(&self.0, &other.0) || self.0 == other.0
            }
        }

        impl Ord for $name {
            fn cmp(&self, other: &$name) -> std::cmp::Ordering {
                if std::sync::Arc::ptr_eq(&self.0, &other.0) {
                    std::cmp::Ordering::Equal
                } else {
                    self.0.cmp(&other.0)
                }
            }
        }

        impl PartialOrd for $name {
            fn partial_cmp(&self, other: &$name) -> Option<std::cmp::Ordering> {
                Some(self.cmp(other))
            }
        }

        impl std::hash::Hash for $name {
            fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
                self.0.hash(state);
            }
        }

        impl $name {
            /// Checks and wraps a name.
            ///
            /// # Errors
            /// When the name is empty, padded with whitespace, too long or has control, bidirectional
            /// or invisible characters.
            pub fn new(value: &str) -> Result<$name, InvalidId> {
                check_name(value).map(|()| $name(std::sync::Arc::from(value)))
            }

            #[must_use]
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    )+};
}

name_types! {
    /// The name of a Braintrust organization.
    OrgName,
    /// The name of a project, unique in its org.
    ProjectName,
    /// The name of any object scoped by an org or a project (group, role, tag, score...).
    Name,
}

/// A user's email address, lowercased so that lookups ignore case.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Email(String);

impl Email {
    /// Checks and normalises an email address.
    ///
    /// # Errors
    /// When the address has no single `@`, an empty local part, a domain without a dot, or
    /// whitespace.
    pub fn new(value: &str) -> Result<Email, InvalidId> {
        let bad = |why: &str| {
            Err(InvalidId(format!(
                "`{value}` is not an email address: {why}"
            )))
        };
        if value.chars().any(char::is_whitespace) {
            return bad("it contains whitespace");
        }
        let Some((local, domain)) = value.split_once('@') else {
            return bad("it has no `@`");
        };
        if local.is_empty() || domain.contains('@') {
            return bad("it needs exactly one `@` with a name before it");
        }
        if !domain.contains('.') || domain.starts_with('.') || domain.ends_with('.') {
            return bad("its domain needs a dot, like `example.com`");
        }
        Ok(Email(value.to_lowercase()))
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(Name::new("ml-engineers").is_ok());
        assert!(Name::new("").is_err());
        assert!(Name::new(" x").is_err());
        assert!(Name::new("a\tb").is_err());
        assert!(Name::new(&"x".repeat(257)).is_err());
    }

    #[test]
    fn emails() {
        assert_eq!(
            Email::new("Alice@Acme.com").unwrap().as_str(),
            "alice@acme.com"
        );
        for bad in [
            "alice",
            "@acme.com",
            "a@b",
            "a@@b.com",
            "a b@c.com",
            "a@.com",
        ] {
            assert!(Email::new(bad).is_err(), "{bad}");
        }
    }
}
