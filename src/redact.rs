//! The one redaction layer: every secret value this process has read, and [`scrub`], which
//! replaces each of them wherever it appears in a text.
//!
//! Whoever reads a secret (an API key from the environment, the HMAC key, a `{ env: NAME }` or
//! `{ file: PATH }` secret, a service token's key returned by the API) calls [`register`] at
//! once. Every output edge scrubs what it writes: the CLI's stdout and stderr (reports, plans,
//! diagnostics, error chains), log lines, the journal, the watch log and events, plan files and
//! the API client's error type. A value that comes back inside an error message from a server
//! or a proxy echoing the request is therefore masked however it got there.

use std::borrow::Cow;
use std::sync::{OnceLock, RwLock};

/// What a secret value is replaced with.
pub const MASK: &str = "[redacted]";

/// Values shorter than this are not registered: masking every `ab` in the output would make it
/// unreadable and protects nothing.
const MIN_LEN: usize = 6;

fn registry() -> &'static RwLock<Vec<String>> {
    static SECRETS: OnceLock<RwLock<Vec<String>>> = OnceLock::new();
    SECRETS.get_or_init(|| RwLock::new(Vec::new()))
}

/// Remembers a secret value for the rest of the process, with the forms it takes once escaped
/// in JSON, and each of its lines when it spans several.
pub fn register(value: &str) {
    let mut forms = vec![value.to_owned(), value.trim().to_owned()];
    if let Ok(json) = serde_json::to_string(value) {
        forms.push(json[1..json.len() - 1].to_owned());
    }
    forms.extend(value.lines().map(|l| l.trim().to_owned()));
    let mut secrets = registry().write().unwrap_or_else(|p| p.into_inner());
    for form in forms {
        if form.chars().count() >= MIN_LEN && !secrets.contains(&form) {
            secrets.push(form);
        }
    }
    // Longest first, so a secret containing another is masked whole.
    secrets.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
}

/// `text` with every registered secret value replaced by [`MASK`].
#[must_use]
pub fn scrub(text: &str) -> Cow<'_, str> {
    let secrets = registry().read().unwrap_or_else(|p| p.into_inner());
    if !secrets.iter().any(|s| text.contains(s.as_str())) {
        return Cow::Borrowed(text);
    }
    let mut out = text.to_owned();
    for secret in secrets.iter() {
        if out.contains(secret.as_str()) {
            out = out.replace(secret.as_str(), MASK);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_every_registered_value_and_its_json_form() {
        register("hunter2-secret\"quoted\"");
        register("short");
        let json = serde_json::to_string("x hunter2-secret\"quoted\" y").unwrap_or_default();
        assert_eq!(scrub(&json), "\"x [redacted] y\"");
        assert_eq!(scrub("a hunter2-secret\"quoted\" b"), "a [redacted] b");
        assert_eq!(scrub("short stays"), "short stays");
    }
}
