//! Field extraction: every spec as a flat list of named, comparable values.
//!
//! A field whose desired value is `None` is not managed: the manifest does not mention it, so
//! whatever the live object has is left alone. A text field the manifest clears with `null`
//! (`manifest::clearable`) is the empty string, which `normalize::blank_text_is_absent` equates
//! with an empty, `null` or absent live value. Values are JSON values only as a neutral,
//! printable representation; nothing here is serialized to a format.

use serde_json::Value;

use crate::kinds::{alert, environment_alert, export, online_scoring, project, retention, score};
use crate::model::*;

/// One field of a spec. `None` means "not set" (unmanaged on the desired side).
pub type Field = (&'static str, Option<Value>);

/// The fields of a spec, in display order. The secret value itself is not a field: secrets are
/// compared through digests (see `diff::secrets`).
#[must_use]
pub fn fields(spec: &Spec) -> Vec<Field> {
    match spec {
        Spec::Org(s) => crate::kinds::org::fields(s),
        Spec::Member(_) | Spec::ServiceAccount | Spec::ServiceToken(_) | Spec::Grant(_) => {
            Vec::new()
        }
        Spec::OrgChild(c) => c.fields(),
        Spec::AiSecret(s) => crate::kinds::ai_secret::fields(s),
        Spec::Project(p) => project::fields(p),
        Spec::EnvVar(_) => Vec::new(),
        Spec::AiProvider(p) => crate::kinds::ai_provider::fields(p),
        Spec::Child(c) => c.fields(),
        Spec::Score(s) => score::fields(s),
        Spec::OnlineScoring(o) => online_scoring::fields(o),
        Spec::Alert(a) => alert::fields(a),
        Spec::Retention(r) => retention::fields(r),
        Spec::Export(e) => export::fields(e),
        Spec::EnvironmentAlert(e) => environment_alert::fields(e),
        Spec::View(v) => crate::kinds::view::fields(v),
    }
}

/// Fields that the API cannot change in place: a change means delete and create.
#[must_use]
pub fn is_immutable(kind: Kind, field: &str) -> bool {
    match kind {
        Kind::Export => export::IMMUTABLE.contains(&field),
        Kind::Retention => retention::IMMUTABLE.contains(&field),
        _ => false,
    }
}

#[must_use]
pub fn permission_label(p: Permission, t: Option<AclObjectType>) -> String {
    match t {
        Some(t) => format!("{} on {}", p.as_str(), t.as_str()),
        None => p.as_str().to_owned(),
    }
}
