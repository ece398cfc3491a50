//! Secret digests: how bt-gitops tells whether a write-only secret changed without storing or
//! printing it.
//!
//! When bt-gitops writes a secret it records `HMAC-SHA256(key, value)` in the object's metadata.
//! A plan recomputes the HMAC of the value the manifest points at and compares. The key comes
//! from `BT_GITOPS_SECRET_KEY` when set; otherwise a fixed, org-specific key is used, which
//! still hides the value but lets someone holding the metadata test guesses, so set the variable
//! in CI.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The HMAC key used when `BT_GITOPS_SECRET_KEY` is not set.
#[must_use]
pub fn default_key(org: &str) -> Vec<u8> {
    format!("bt-gitops secret digest v1 for org {org}").into_bytes()
}

/// Hex HMAC-SHA256 of a secret value.
#[must_use]
pub fn digest(key: &[u8], value: &[u8]) -> String {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key) else {
        return String::new();
    };
    mac.update(value);
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_depend_on_key_and_value() {
        let a = digest(b"k1", b"secret");
        assert_eq!(a.len(), 64);
        assert_eq!(a, digest(b"k1", b"secret"));
        assert_ne!(a, digest(b"k2", b"secret"));
        assert_ne!(a, digest(b"k1", b"secret2"));
        assert!(!a.contains("secret"));
    }
}
