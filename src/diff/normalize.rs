//! Normalisation rules: when a desired value and a live value mean the same thing.
//!
//! Each rule is a named function with its own test, so "why is this not a change?" has one
//! place to look (kube-rs's absent / null / default lesson).

use serde_json::Value;

/// Tolerance for numbers that went through a float on one side (rates, weights, days).
const EPSILON: f64 = 1e-9;

/// Whether the live value satisfies the desired one. The desired value is always set: unset
/// desired fields are unmanaged and never compared.
#[must_use]
pub fn equivalent(desired: &Value, live: Option<&Value>) -> bool {
    let live = live.unwrap_or(&Value::Null);
    if blank_text_is_absent(desired, live) || numbers_compare_by_value(desired, live) {
        return true;
    }
    match (desired, live) {
        (Value::Object(d), Value::Object(l)) => unset_members_are_unmanaged(d, l),
        (Value::Array(d), Value::Array(l)) => {
            d.len() == l.len() && d.iter().zip(l).all(|(d, l)| equivalent(d, Some(l)))
        }
        _ => desired == live,
    }
}

/// An empty string and a missing value are the same: a PATCH cannot set a field to null, and
/// the UI stores "no description" either way. A text field cleared with `null` in a manifest is
/// desired as the empty string, so it is satisfied by a live value that is empty, `null` or
/// absent (J15).
#[must_use]
pub fn blank_text_is_absent(desired: &Value, live: &Value) -> bool {
    let blank = |v: &Value| v.is_null() || v.as_str().is_some_and(str::is_empty);
    blank(desired) && blank(live)
}

/// `1` and `1.0` are the same number.
#[must_use]
pub fn numbers_compare_by_value(desired: &Value, live: &Value) -> bool {
    match (desired.as_f64(), live.as_f64()) {
        (Some(d), Some(l)) => (d - l).abs() <= EPSILON * d.abs().max(1.0),
        _ => false,
    }
}

/// In objects, only the members the manifest sets are compared: a member the desired value
/// leaves out (or sets to `null`, meaning "not set") is unmanaged, whatever the live object has
/// there (server defaults such as a generated export `external_id`). Members are compared with
/// the same rules recursively.
#[must_use]
pub fn unset_members_are_unmanaged(
    desired: &serde_json::Map<String, Value>,
    live: &serde_json::Map<String, Value>,
) -> bool {
    desired
        .iter()
        .filter(|(_, d)| !d.is_null())
        .all(|(key, d)| equivalent(d, live.get(key)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn blank_text() {
        assert!(equivalent(&json!(""), None));
        assert!(equivalent(&json!(""), Some(&json!(null))));
        assert!(!equivalent(&json!("x"), Some(&json!(""))));
    }

    #[test]
    fn numbers() {
        assert!(equivalent(&json!(1), Some(&json!(1.0))));
        assert!(equivalent(&json!(0.1), Some(&json!(0.1000000000001))));
        assert!(!equivalent(&json!(0.1), Some(&json!(0.2))));
    }

    #[test]
    fn unset_members() {
        let eq = |d: serde_json::Value, l: serde_json::Value| equivalent(&d, Some(&l));
        assert!(eq(json!({ "a": 1, "b": null }), json!({ "a": 1.0 })));
        assert!(eq(json!({ "a": 1 }), json!({ "a": 1, "b": 2 })));
        assert!(eq(json!({ "a": 1, "b": null }), json!({ "a": 1, "b": 2 })));
        assert!(!eq(json!({ "a": 1, "b": 3 }), json!({ "a": 1, "b": 2 })));
        assert!(!eq(json!({ "a": 1, "b": 3 }), json!({ "a": 1 })));
    }

    #[test]
    fn arrays_keep_order() {
        assert!(equivalent(&json!(["a", "b"]), Some(&json!(["a", "b"]))));
        assert!(!equivalent(&json!(["a", "b"]), Some(&json!(["b", "a"]))));
    }
}
