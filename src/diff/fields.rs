//! Field extraction: every spec as a flat list of named, comparable values.
//!
//! A field whose desired value is `None` is not managed: the manifest does not mention it, so
//! whatever the live object has is left alone. Values are JSON values only as a neutral,
//! printable representation; nothing here is serialized to a format.

use serde_json::{Value, json};

use crate::kinds::{alert, export, online_scoring, project, retention, score};
use crate::model::*;

/// One field of a spec. `None` means "not set" (unmanaged on the desired side).
pub type Field = (&'static str, Option<Value>);

/// The fields of a spec, in display order. The secret value itself is not a field: secrets are
/// compared through digests (see `diff::secrets`).
#[must_use]
pub fn fields(spec: &Spec) -> Vec<Field> {
    match spec {
        Spec::Org(s) => vec![
            ("api_url", s.api_url.as_ref().map(|v| json!(v))),
            ("proxy_url", s.proxy_url.as_ref().map(|v| json!(v))),
            ("realtime_url", s.realtime_url.as_ref().map(|v| json!(v))),
            ("is_universal_api", s.is_universal_api.map(|v| json!(v))),
            (
                "is_dataplane_private",
                s.is_dataplane_private.map(|v| json!(v)),
            ),
            (
                "image_rendering_mode",
                s.image_rendering_mode.map(|v| json!(v.as_str())),
            ),
        ],
        Spec::Member(_) | Spec::ServiceAccount | Spec::ServiceToken(_) | Spec::Grant(_) => {
            Vec::new()
        }
        Spec::Group(g) => vec![
            ("description", g.description.as_ref().map(|v| json!(v))),
            (
                "members",
                Some(json!(
                    g.members.iter().map(Email::as_str).collect::<Vec<_>>()
                )),
            ),
            (
                "service_accounts",
                Some(json!(
                    g.service_accounts
                        .iter()
                        .map(Name::as_str)
                        .collect::<Vec<_>>()
                )),
            ),
            (
                "inherits",
                Some(json!(
                    g.inherits.iter().map(Name::as_str).collect::<Vec<_>>()
                )),
            ),
        ],
        Spec::Role(r) => vec![
            ("description", r.description.as_ref().map(|v| json!(v))),
            (
                "permissions",
                Some(json!(
                    r.permissions
                        .iter()
                        .map(|(p, t)| permission_label(*p, *t))
                        .collect::<Vec<_>>()
                )),
            ),
            (
                "inherits",
                Some(json!(
                    r.inherits.iter().map(Name::as_str).collect::<Vec<_>>()
                )),
            ),
        ],
        Spec::Environment(e) => vec![("description", e.description.as_ref().map(|v| json!(v)))],
        Spec::AiSecret(s) => vec![
            ("type", s.provider.as_ref().map(|v| json!(v))),
            (
                "metadata",
                (!s.metadata.is_empty()).then(|| json!(s.metadata)),
            ),
        ],
        Spec::Project(p) => project::fields(p),
        Spec::EnvVar(_) => Vec::new(),
        Spec::Child(c) => c.fields(),
        Spec::Score(s) => score::fields(s),
        Spec::OnlineScoring(o) => online_scoring::fields(o),
        Spec::Alert(a) => alert::fields(a),
        Spec::Retention(r) => retention::fields(r),
        Spec::Export(e) => export::fields(e),
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
