//! Field extraction: every spec as a flat list of named, comparable values.
//!
//! A field whose desired value is `None` is not managed: the manifest does not mention it, so
//! whatever the live object has is left alone. Values are JSON values only as a neutral,
//! printable representation; nothing here is serialized to a format.

use serde_json::{Value, json};

use crate::kinds::{alert, export, function, online_scoring, retention, score};
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
        Spec::Project(p) => {
            let mut out = vec![("description", p.description.as_ref().map(|v| json!(v)))];
            if let Some(settings) = &p.settings {
                out.push(("settings", Some(project_settings(settings))));
            }
            out
        }
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

fn project_settings(s: &ProjectSettings) -> Value {
    let mut map = serde_json::Map::new();
    let mut put = |k: &str, v: Option<Value>| {
        if let Some(v) = v {
            map.insert(k.to_owned(), v);
        }
    };
    put(
        "comparison_key",
        s.comparison_key.as_ref().map(|v| json!(v)),
    );
    // `baseline_experiment` is not compared until experiment names are resolved to ids.
    put(
        "span_field_order",
        s.span_field_order
            .as_ref()
            .map(|f| json!(f.iter().map(span_field).collect::<Vec<_>>())),
    );
    put(
        "remote_eval_sources",
        s.remote_eval_sources
            .as_ref()
            .map(|r| json!(r.iter().map(remote_eval_source).collect::<Vec<_>>())),
    );
    put(
        "disable_realtime_queries",
        s.disable_realtime_queries.map(|v| json!(v)),
    );
    put(
        "default_preprocessor",
        s.default_preprocessor
            .as_ref()
            .map(|f| json!(function::label(f))),
    );
    Value::Object(map)
}

/// One entry of a project's span field order, as the API and the plan spell it (`layout` is
/// null when not set).
#[must_use]
pub fn span_field(f: &SpanField) -> Value {
    json!({
        "object_type": f.object_type, "column_id": f.column_id, "position": f.position,
        "layout": f.layout.map(|l| l.as_str()),
    })
}

/// One remote eval source of a project, as the API and the plan spell it.
#[must_use]
pub fn remote_eval_source(r: &RemoteEvalSource) -> Value {
    json!({ "url": r.url, "name": r.name, "description": r.description })
}
