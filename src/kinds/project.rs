//! The `project` kind: a project itself, its description and settings, on `/v1/project`.
//! The objects inside a project are other kinds; `model::lower` (`lower_project`) checks the
//! project's name, key, template and `authoritative:` list and lowers its body, and asks this
//! module for the spec.
//!
//! The API's traps for projects: settings are not accepted on create (create, then PATCH the
//! settings) and PATCH replaces settings whole, so the settings the manifest leaves alone are
//! carried over from the live project.

use serde_json::{Value, json};

use super::function;
use super::{BodyError, Ids};
use crate::diff::fields::Field;
use crate::manifest::DocOrigin;
use crate::manifest::raw::{self, RawProject};
use crate::model::lower::Lowerer;
use crate::model::{ProjectName, ProjectSettings, ProjectSpec, RemoteEvalSource, SpanField};
use crate::refs::{RefKind, References};
use crate::wire::{
    self, CreateProject, ProjectPatchBody, ProjectSettingsBody, RemoteEvalSourceBody,
    SpanFieldOrderItem,
};

/// The spec of the project `name` declared by `raw` at `at`: description and settings come
/// from the project, else from its template.
pub(crate) fn lower(
    lw: &mut Lowerer<'_>,
    raw: &RawProject,
    at: DocOrigin,
    name: &ProjectName,
    template: Option<(&RawProject, DocOrigin)>,
) -> ProjectSpec {
    let (settings_src, settings_at) = match (&raw.settings, template) {
        (Some(s), _) => (Some(s), at),
        (None, Some((t, t_at))) => (t.settings.as_ref(), t_at),
        (None, None) => (None, at),
    };
    let settings = settings_src.map(|s| lower_settings(lw, settings_at, name, s));
    // `null` in the project clears a description its template sets.
    let description = match template {
        Some((t, _)) => raw.description.or(&t.description).text(),
        None => raw.description.text(),
    };
    ProjectSpec {
        description,
        settings,
    }
}

fn lower_settings(
    lw: &mut Lowerer<'_>,
    at: DocOrigin,
    project: &ProjectName,
    s: &raw::RawProjectSettings,
) -> ProjectSettings {
    ProjectSettings {
        comparison_key: s.comparison_key.as_ref().map(|v| v.value.clone()),
        baseline_experiment: s.baseline_experiment.as_ref().map(|v| v.value.clone()),
        span_field_order: s.span_field_order.as_ref().map(|fields| {
            fields
                .iter()
                .map(|f| SpanField {
                    object_type: f.object_type.value.clone(),
                    column_id: f.column_id.value.clone(),
                    position: f.position.value.clone(),
                    layout: f.layout.as_ref().map(|l| l.value),
                })
                .collect()
        }),
        remote_eval_sources: s.remote_eval_sources.as_ref().map(|sources| {
            sources
                .iter()
                .filter_map(|r| {
                    Some(RemoteEvalSource {
                        url: lw.url(at, &r.url, "a remote eval source", &["https", "http"])?,
                        name: r.name.as_ref().map(|v| v.value.clone()),
                        description: r.description.as_ref().map(|v| v.value.clone()),
                    })
                })
                .collect()
        }),
        disable_realtime_queries: s.disable_realtime_queries.as_ref().map(|v| v.value),
        default_preprocessor: s
            .default_preprocessor
            .as_ref()
            .and_then(|f| function::lower(lw, at, project, f)),
    }
}

/// The managed fields, in display order (see `diff::fields`).
#[must_use]
pub fn fields(p: &ProjectSpec) -> Vec<Field> {
    let mut out = vec![("description", p.description.as_ref().map(|v| json!(v)))];
    if let Some(settings) = &p.settings {
        out.push(("settings", Some(settings_field(settings))));
    }
    out
}

fn settings_field(s: &ProjectSettings) -> Value {
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
            .map(|f| json!(function::label(f))),
    );
    Value::Object(map)
}

/// One entry of a project's span field order, as the plan spells it (`layout` is null when
/// not set).
fn span_field(f: &SpanField) -> Value {
    json!({
        "object_type": f.object_type, "column_id": f.column_id, "position": f.position,
        "layout": f.layout.map(|l| l.as_str()),
    })
}

/// One remote eval source of a project, as the plan spells it.
fn remote_eval_source(r: &RemoteEvalSource) -> Value {
    json!({ "url": r.url, "name": r.name, "description": r.description })
}

/// The create body (settings follow in a PATCH: see [`settings_patch`]).
#[must_use]
pub fn create(p: &ProjectSpec, org: &str, name: &str) -> CreateProject {
    CreateProject {
        name: name.to_owned(),
        description: p.description.clone(),
        org_name: Some(org.to_owned()),
    }
}

/// The PATCH that sets a new project's declared settings (of the project `project`); `None`
/// when it declares none.
///
/// # Errors
/// When a named experiment or function did not resolve.
pub fn settings_patch(
    p: &ProjectSpec,
    project: &ProjectName,
    ids: &dyn Ids,
) -> Result<Option<ProjectPatchBody>, BodyError> {
    p.settings
        .as_ref()
        .map(|s| {
            Ok(ProjectPatchBody {
                settings: Some(settings_body(s, None, project, ids)?),
                ..ProjectPatchBody::default()
            })
        })
        .transpose()
}

/// The PATCH body; `live` is the live project's settings, carried over where the manifest
/// leaves them alone; `rename` is the new name when the project is renamed.
///
/// # Errors
/// When a named experiment or function did not resolve.
pub fn patch(
    p: &ProjectSpec,
    live: Option<&ProjectSettings>,
    rename: Option<String>,
    project: &ProjectName,
    ids: &dyn Ids,
) -> Result<ProjectPatchBody, BodyError> {
    Ok(ProjectPatchBody {
        name: rename,
        description: p.description.clone(),
        settings: p
            .settings
            .as_ref()
            .map(|s| settings_body(s, live, project, ids))
            .transpose()?,
    })
}

/// Project settings as sent: the declared ones, over the live ones the manifest leaves alone
/// (PATCH replaces settings whole).
fn settings_body(
    desired: &ProjectSettings,
    live: Option<&ProjectSettings>,
    project: &ProjectName,
    ids: &dyn Ids,
) -> Result<ProjectSettingsBody, BodyError> {
    let live = live.cloned().unwrap_or_default();
    // By name, resolved when planning; an unmanaged live baseline is kept as it is.
    let baseline_experiment_id = desired
        .baseline_experiment
        .as_ref()
        .or(live.baseline_experiment.as_ref())
        .map(|name| ids.named(project, RefKind::Experiment, name))
        .transpose()?
        .map(|id| id.to_string());
    let default_preprocessor = desired
        .default_preprocessor
        .as_ref()
        .or(live.default_preprocessor.as_ref())
        .map(|f| function::body(f, ids))
        .transpose()?;
    Ok(ProjectSettingsBody {
        comparison_key: desired.comparison_key.clone().or(live.comparison_key),
        baseline_experiment_id,
        span_field_order: desired
            .span_field_order
            .as_ref()
            .or(live.span_field_order.as_ref())
            .map(|f| {
                f.iter()
                    .map(|f| SpanFieldOrderItem {
                        object_type: f.object_type.clone(),
                        column_id: f.column_id.clone(),
                        position: f.position.clone(),
                        layout: f.layout,
                    })
                    .collect()
            }),
        remote_eval_sources: desired
            .remote_eval_sources
            .as_ref()
            .or(live.remote_eval_sources.as_ref())
            .map(|r| {
                r.iter()
                    .map(|r| RemoteEvalSourceBody {
                        url: r.url.clone(),
                        name: r.name.clone(),
                        description: r.description.clone(),
                    })
                    .collect()
            }),
        disable_realtime_queries: desired
            .disable_realtime_queries
            .or(live.disable_realtime_queries),
        default_preprocessor,
    })
}

/// The spec of a listed project named `name`.
#[must_use]
pub fn read(p: &wire::Project, name: &ProjectName, refs: &References) -> ProjectSpec {
    ProjectSpec {
        description: p.description.clone(),
        settings: Some(read_settings(p.settings.as_ref(), name, refs)),
    }
}

fn read_settings(
    s: Option<&wire::ProjectSettings>,
    project: &ProjectName,
    refs: &References,
) -> ProjectSettings {
    let Some(s) = s else {
        return ProjectSettings::default();
    };
    ProjectSettings {
        comparison_key: s.comparison_key.clone(),
        baseline_experiment: s
            .baseline_experiment_id
            .as_ref()
            .map(|id| refs.experiment_name(id.as_str())),
        span_field_order: s.span_field_order.as_ref().map(|f| {
            f.iter()
                .map(|f| SpanField {
                    object_type: f.object_type.clone(),
                    column_id: f.column_id.clone(),
                    position: f.position.clone(),
                    layout: f.layout,
                })
                .collect()
        }),
        remote_eval_sources: s.remote_eval_sources.as_ref().map(|r| {
            r.iter()
                .map(|r| RemoteEvalSource {
                    url: r.url.clone(),
                    name: r.name.clone(),
                    description: r.description.clone(),
                })
                .collect()
        }),
        disable_realtime_queries: s.disable_realtime_queries,
        default_preprocessor: s
            .default_preprocessor
            .as_ref()
            .map(|f| function::read(f, project, refs)),
    }
}

/// The settings `import` writes; `None` when there are none to write.
#[must_use]
pub fn manifest_settings(p: &ProjectSpec) -> Option<Value> {
    let settings = p.settings.as_ref()?;
    let value = super::drop_empty(json!({
        "comparison_key": settings.comparison_key,
        "span_field_order": settings.span_field_order.as_ref().map(|f| f.iter().map(|f| super::drop_nulls(span_field(f))).collect::<Vec<_>>()),
        "remote_eval_sources": settings.remote_eval_sources.as_ref().map(|r| r.iter().map(|r| super::drop_nulls(remote_eval_source(r))).collect::<Vec<_>>()),
        "disable_realtime_queries": settings.disable_realtime_queries,
        "default_preprocessor": settings.default_preprocessor.as_ref().and_then(|f| function::manifest(f, None)),
    }));
    value
        .as_object()
        .is_some_and(|m| !m.is_empty())
        .then_some(value)
}
