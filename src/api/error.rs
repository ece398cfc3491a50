//! Errors of the API client. They keep the method, URL, status and body (with keys redacted),
//! because the Braintrust API has no error envelope and the raw text is what users need.

use std::fmt;
use std::time::Duration;

/// A failed API call.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ApiError {
    /// The server answered with a non-success status.
    #[error("{method} {url} returned {status}: {body}")]
    Status {
        method: String,
        url: String,
        status: u16,
        /// The response body, truncated and with anything that looks like a key redacted.
        body: String,
        /// The server's `Retry-After`, when it sent one.
        retry_after: Option<Duration>,
    },
    /// The request did not complete: connection refused or reset, timeout, TLS failure.
    #[error("{method} {url} failed: {message}")]
    Transport {
        method: String,
        url: String,
        message: String,
    },
    /// The TLS handshake failed: the server's certificate is not trusted (a private or
    /// TLS-inspecting CA missing from the trust store), expired, or for another name.
    #[error(
        "{method} {url} failed: TLS handshake refused: {reason}\n\nhint: bt-gitops trusts the platform's certificate store, the bundled Mozilla roots, and the CA bundle in `SSL_CERT_FILE` (or the directory `SSL_CERT_DIR`); for a private or proxy CA, set `SSL_CERT_FILE` to its PEM file"
    )]
    Tls {
        method: String,
        url: String,
        /// What rustls said about the certificate, e.g. "the certificate is signed by an unknown CA".
        reason: String,
    },
    /// The response was not the JSON we expected.
    #[error("{method} {url} returned a body we cannot read: {message}")]
    Decode {
        method: String,
        url: String,
        message: String,
    },
    /// A paginated list handed back a cursor it had already given: the server ignores our
    /// paging parameters, and following it would loop forever.
    #[error(
        "listing {collection} at {url} went in a circle: the page after `{cursor}` ended with `{cursor}` again (the server ignores the paging parameters); the list was not read"
    )]
    RepeatedCursor {
        collection: String,
        url: String,
        cursor: String,
    },
}

impl ApiError {
    /// Whether trying again may succeed: rate limits, server errors and transport failures.
    #[must_use]
    pub fn is_retryable(&self) -> bool {
        match self {
            ApiError::Status { status, .. } => matches!(status, 408 | 409 | 429) || *status >= 500,
            ApiError::Transport { .. } => true,
            ApiError::Decode { .. } | ApiError::Tls { .. } | ApiError::RepeatedCursor { .. } => {
                false
            }
        }
    }

    /// The HTTP status, if the server answered.
    #[must_use]
    pub fn status(&self) -> Option<u16> {
        match self {
            ApiError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The delay the server asked for, if any.
    #[must_use]
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            ApiError::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

/// Longest body kept in an error.
const MAX_BODY: usize = 2_000;

/// Replaces every secret value this process has read ([`crate::redact`]) and anything that looks
/// like a Braintrust key (`sk-...`, `bt-st-...`) with a mask, and truncates long bodies.
#[must_use]
pub fn redact(text: &str) -> String {
    let scrubbed = crate::redact::scrub(text);
    let text = scrubbed.as_ref();
    let mut out = String::with_capacity(text.len().min(MAX_BODY));
    let mut rest = text;
    while let Some(pos) = find_key(rest) {
        out.push_str(&rest[..pos.0]);
        out.push_str(pos.1);
        out.push_str("[redacted]");
        let tail = &rest[pos.0 + pos.1.len()..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
            .unwrap_or(tail.len());
        rest = &tail[end..];
    }
    out.push_str(rest);
    if out.len() > MAX_BODY {
        let mut cut = MAX_BODY;
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        out.truncate(cut);
        out.push_str("... (truncated)");
    }
    out
}

/// The first key prefix in `text` that starts a token: `(offset, prefix)`.
fn find_key(text: &str) -> Option<(usize, &'static str)> {
    ["bt-st-", "sk-"]
        .into_iter()
        .filter_map(|prefix| {
            text.match_indices(prefix)
                .find(|(i, _)| {
                    let boundary = text[..*i]
                        .chars()
                        .next_back()
                        .is_none_or(|c| !c.is_ascii_alphanumeric() && c != '-');
                    let long = text[i + prefix.len()..]
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
                        .count()
                        >= 8;
                    boundary && long
                })
                .map(|(i, _)| (i, prefix))
        })
        .min_by_key(|(i, _)| *i)
}

/// A key shown to users: the first characters only, e.g. `sk-abcd…`.
pub struct KeyPreview<'a>(pub &'a str);

impl fmt::Display for KeyPreview<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let prefix = if self.0.starts_with("bt-st-") { 10 } else { 7 };
        let shown: String = self.0.chars().take(prefix).collect();
        write!(f, "{shown}…")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_keys() {
        assert_eq!(
            redact("bad key sk-abcdefgh1234 here"),
            "bad key sk-[redacted] here"
        );
        assert_eq!(
            redact("{\"key\":\"bt-st-0123456789abcdef\"}"),
            "{\"key\":\"bt-st-[redacted]\"}"
        );
        assert_eq!(
            redact("task-list and sk-short stay"),
            "task-list and sk-short stay"
        );
        assert_eq!(
            redact(&"x".repeat(3000)).len(),
            MAX_BODY + "... (truncated)".len()
        );
    }

    #[test]
    fn previews() {
        assert_eq!(KeyPreview("sk-abcdefghijkl").to_string(), "sk-abcd…");
        assert_eq!(KeyPreview("bt-st-abcdefghijkl").to_string(), "bt-st-abcd…");
    }

    #[test]
    fn retryable_statuses() {
        let status = |s| ApiError::Status {
            method: "GET".into(),
            url: "u".into(),
            status: s,
            body: String::new(),
            retry_after: None,
        };
        assert!(status(429).is_retryable());
        assert!(status(503).is_retryable());
        assert!(!status(400).is_retryable());
        assert!(!status(404).is_retryable());
    }
}
