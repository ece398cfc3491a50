//! Renderings of a plan: for humans, for machines (JSON) and for pull-request comments
//! (Markdown). Each reads only the [`Plan`] value, so no rendering can show
//! something the others do not contain.

pub mod human;
pub mod markdown;

use serde_json::Value;

use crate::plan::{FieldDiff, Plan, SecretState};

/// The plan as pretty JSON with a trailing newline: the `--format json` output and the
/// `--out plan.json` file.
#[must_use]
pub fn json(plan: &Plan) -> String {
    let mut text = serde_json::to_string_pretty(plan).unwrap_or_default();
    text.push('\n');
    text
}

/// A JSON value as it appears in a plan line: strings quoted, everything else compact.
#[must_use]
pub fn value_text(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => "(none)".to_owned(),
        Some(v) => v.to_string(),
    }
}

/// What happens to a secret, as a phrase ending in "from" (its source follows).
#[must_use]
pub fn secret_status_text(status: SecretState) -> &'static str {
    match status {
        SecretState::New => "set from",
        SecretState::ChangedInGit => "changed in git, written from",
        SecretState::RotatedOutside => {
            "rotated outside git; the declared value will be written back from"
        }
        SecretState::Unverified => "not written by bt-gitops before; will be written from",
        SecretState::Unavailable => "left as is: the value is not available from",
    }
}

/// How one field's change reads, independent of colour.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldView {
    /// `before -> after` (or just the value for a new object).
    Scalar {
        before: Option<String>,
        after: Option<String>,
    },
    /// Set-like lists: entries added and removed.
    Set {
        added: Vec<String>,
        removed: Vec<String>,
    },
    /// Multi-line text: a line diff (`' '`, `'+'`, `'-'` prefixed lines).
    Lines(Vec<(char, String)>),
}

/// Classifies a field change for display.
#[must_use]
pub fn field_view(f: &FieldDiff) -> FieldView {
    let strings = |v: Option<&Value>| -> Option<Vec<String>> {
        v.and_then(Value::as_array)?
            .iter()
            .map(|v| v.as_str().map(str::to_owned))
            .collect()
    };
    if let (Some(before), Some(after)) = (strings(f.before.as_ref()), strings(f.after.as_ref())) {
        let added = after
            .iter()
            .filter(|a| !before.contains(a))
            .cloned()
            .collect();
        let removed = before
            .iter()
            .filter(|b| !after.contains(b))
            .cloned()
            .collect();
        return FieldView::Set { added, removed };
    }
    // Text, or text wrapped in a one-member object such as an export's `{"btql_query": ...}`.
    let text = |v: Option<&Value>| match v {
        Some(Value::Object(map)) if map.len() == 1 => {
            map.values().next()?.as_str().map(str::to_owned)
        }
        v => v.and_then(Value::as_str).map(str::to_owned),
    };
    let same_shape = match (&f.before, &f.after) {
        (Some(Value::Object(b)), Some(Value::Object(a))) => b.keys().eq(a.keys()),
        (Some(Value::Object(_)), _) | (_, Some(Value::Object(_))) => false,
        _ => true,
    };
    if let (Some(before), Some(after), true) =
        (text(f.before.as_ref()), text(f.after.as_ref()), same_shape)
        && (before.contains('\n') || after.contains('\n'))
        && !after.is_empty()
    {
        // A last line without a newline must still equal the same line with one.
        let terminated = |mut s: String| {
            if !s.ends_with('\n') {
                s.push('\n');
            }
            s
        };
        let (before, after) = (terminated(before), terminated(after));
        let diff = similar::TextDiff::from_lines(&before, &after);
        let lines = diff
            .iter_all_changes()
            .map(|c| {
                let sign = match c.tag() {
                    similar::ChangeTag::Equal => ' ',
                    similar::ChangeTag::Insert => '+',
                    similar::ChangeTag::Delete => '-',
                };
                (sign, c.value().trim_end_matches('\n').to_owned())
            })
            .collect();
        return FieldView::Lines(lines);
    }
    FieldView::Scalar {
        before: f.before.as_ref().map(|v| value_text(Some(v))),
        after: f.after.as_ref().map(|v| match v.as_str() {
            // Text cleared with `null` in the manifest (see `manifest::clearable`).
            Some("") => CLEARED.to_owned(),
            _ => cleared_members_text(f.before.as_ref(), v),
        }),
    }
}

/// A value as text, with each member cleared by the manifest (empty text where `before` has
/// text) shown as [`CLEARED`]: `{"slack":{..., "message_template":(cleared)}}`.
fn cleared_members_text(before: Option<&Value>, after: &Value) -> String {
    const MARK: &str = "\u{1}cleared\u{1}";
    fn mark(before: &Value, after: &mut Value) -> bool {
        let (Value::Object(before), Value::Object(after)) = (before, after) else {
            return false;
        };
        let mut marked = false;
        for (k, a) in after.iter_mut() {
            let Some(b) = before.get(k) else { continue };
            if a.as_str() == Some("") && b.as_str().is_some_and(|b| !b.is_empty()) {
                *a = Value::String(MARK.to_owned());
                marked = true;
            } else {
                marked |= mark(b, a);
            }
        }
        marked
    }
    let mut shown = after.clone();
    match before {
        Some(before) if mark(before, &mut shown) => {
            let quoted = Value::String(MARK.to_owned()).to_string();
            shown.to_string().replace(&quoted, CLEARED)
        }
        _ => value_text(Some(after)),
    }
}

/// How a text field cleared by the manifest (`null`) shows in a plan.
pub const CLEARED: &str = "(cleared)";
