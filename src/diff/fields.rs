//! Field extraction: every spec as a flat list of named, comparable values.
//!
//! A field whose desired value is `None` is not managed: the manifest does not mention it, so
//! whatever the live object has is left alone. Values are JSON values only as a neutral,
//! printable representation; nothing here is serialized to a format.

use serde_json::{Value, json};

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
        Spec::Score(s) => {
            let (ty, categories, weights, scores): (
                &str,
                Option<Value>,
                Option<Value>,
                Option<Value>,
            ) = match &s.kind {
                ScoreKind::Slider => ("slider", None, None, None),
                ScoreKind::FreeForm => ("free-form", None, None, None),
                ScoreKind::Categorical { categories, .. } => (
                    "categorical",
                    Some(json!(
                        categories
                            .iter()
                            .map(|(n, v)| json!({ "name": n, "value": v }))
                            .collect::<Vec<_>>()
                    )),
                    None,
                    None,
                ),
                ScoreKind::Weighted(w) => ("weighted", None, Some(json!(w)), None),
                ScoreKind::Minimum(s) => ("minimum", None, None, Some(json!(s))),
                ScoreKind::Maximum(s) => ("maximum", None, None, Some(json!(s))),
            };
            let multi_select = match &s.kind {
                ScoreKind::Categorical { multi_select, .. } => multi_select.map(|v| json!(v)),
                _ => None,
            };
            vec![
                ("type", Some(json!(ty))),
                ("description", s.description.as_ref().map(|v| json!(v))),
                ("categories", categories),
                ("weights", weights),
                ("scores", scores),
                ("multi_select", multi_select),
                (
                    "object_types",
                    s.object_types
                        .as_ref()
                        .map(|t| json!(t.iter().map(|t| t.as_str()).collect::<Vec<_>>())),
                ),
            ]
        }
        Spec::OnlineScoring(o) => vec![
            ("description", o.description.as_ref().map(|v| json!(v))),
            ("sampling_rate", Some(json!(o.sampling_rate))),
            (
                "scorers",
                Some(json!(
                    o.scorers.iter().map(function_label).collect::<Vec<_>>()
                )),
            ),
            ("filter", o.filter.as_ref().map(|v| json!(v))),
            ("scope", Some(scope(&o.scope))),
            ("apply_to_root_span", o.apply_to_root_span.map(|v| json!(v))),
            (
                "apply_to_span_names",
                o.apply_to_span_names.as_ref().map(|v| json!(v)),
            ),
            ("skip_logging", o.skip_logging.map(|v| json!(v))),
        ],
        Spec::Alert(a) => vec![
            ("description", a.description.as_ref().map(|v| json!(v))),
            ("filter", Some(json!(a.filter))),
            ("interval_seconds", Some(json!(a.interval_seconds))),
            ("notify", Some(notify(&a.notify))),
        ],
        Spec::Retention(r) => vec![
            ("object_type", Some(json!(r.object_type.as_str()))),
            ("days", Some(json!(r.days))),
        ],
        Spec::Export(e) => vec![
            ("description", e.description.as_ref().map(|v| json!(v))),
            ("data", Some(export_data(&e.data))),
            ("path", Some(json!(e.path))),
            ("format", Some(json!(e.format.as_str()))),
            ("interval_seconds", Some(json!(e.interval_seconds))),
            ("credentials", Some(export_credentials(&e.credentials))),
            ("status", e.status.map(|s| json!(s.as_str()))),
            ("batch_size", e.batch_size.map(|v| json!(v))),
        ],
    }
}

/// Fields that the API cannot change in place: a change means delete and create.
#[must_use]
pub fn is_immutable(kind: Kind, field: &str) -> bool {
    matches!(
        (kind, field),
        (Kind::Export, "path") | (Kind::Retention, "object_type")
    )
}

#[must_use]
pub fn permission_label(p: Permission, t: Option<AclObjectType>) -> String {
    match t {
        Some(t) => format!("{} on {}", p.as_str(), t.as_str()),
        None => p.as_str().to_owned(),
    }
}

#[must_use]
pub fn function_label(f: &FunctionRef) -> String {
    match f {
        FunctionRef::Global {
            name,
            function_type: None,
        } => format!("global:{name}"),
        FunctionRef::Global {
            name,
            function_type: Some(t),
        } => format!("global:{name} ({})", t.as_str()),
        FunctionRef::Project { project, slug } => format!("function:{project}/{slug}"),
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
    // By name: the reader names the live id back through the looked-up experiments.
    put(
        "baseline_experiment",
        s.baseline_experiment.as_ref().map(|v| json!(v)),
    );
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
            .map(|f| json!(function_label(f))),
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

/// An online-scoring rule's scope, as the API and the plan spell it (unset values are null).
#[must_use]
pub fn scope(s: &Scope) -> Value {
    match s {
        Scope::Span => json!({ "type": "span" }),
        Scope::Trace { idle_seconds } => json!({ "type": "trace", "idle_seconds": idle_seconds }),
        Scope::Group {
            group_by,
            placement,
            interval_seconds,
            max_traces,
            idle_seconds,
        } => json!({
            "type": "group", "group_by": group_by,
            "placement": placement.as_str(),
            "interval_seconds": interval_seconds, "max_traces": max_traces, "idle_seconds": idle_seconds,
        }),
    }
}

fn notify(n: &Notify) -> Value {
    match n {
        Notify::Webhook { url } => json!({ "webhook": url }),
        Notify::Slack {
            workspace_id,
            channel,
            message_template,
        } => {
            json!({ "slack": { "workspace_id": workspace_id, "channel": channel, "message_template": message_template } })
        }
    }
}

fn export_data(d: &ExportData) -> Value {
    match d {
        ExportData::LogTraces => json!("log_traces"),
        ExportData::LogSpans => json!("log_spans"),
        ExportData::Query(q) => json!({ "btql_query": q }),
    }
}

fn export_credentials(c: &ExportCredentials) -> Value {
    match c {
        ExportCredentials::Aws {
            role_arn,
            external_id,
        } => json!({ "aws_role_arn": role_arn, "external_id": external_id }),
        ExportCredentials::Gcp { service_account } => {
            json!({ "gcp_service_account": service_account })
        }
    }
}
