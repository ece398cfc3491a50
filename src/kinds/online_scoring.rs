//! The `online_scoring` kind: a rule that scores a sample of a project's logs with scorer
//! functions. On the wire it is a project score of type `online` on `/v1/project_score`, so it
//! shares the scores' list and name space: see `project_score`.

use serde_json::{Value, json};

use super::function;
use super::project_score::ScoreParts;
use super::{BodyError, Ids};
use crate::diag::{Code, Diagnostic};
use crate::diff::fields::Field;
use crate::manifest::DocOrigin;
use crate::manifest::raw;
use crate::manifest::spanned::Sp;
use crate::model::lower::{Cx, Lowerer};
use crate::model::{FunctionRef, Kind, Name, OnlineScoringSpec, ProjectName, Scope, Spec};
use crate::refs::References;
use crate::source::Span;
use crate::wire::{
    self, OnlineScoreConfigBody, ProjectScoreConfigBody, ProjectScoreType, ScopeBody,
};

/// Checks one manifest entry (scorers, scope, span-only fields) and adds it to the desired
/// state, unless a score of the project has its name.
pub(crate) fn lower(lw: &mut Lowerer<'_>, cx: Cx<'_>, o: &Sp<raw::RawOnlineScoring>) {
    let at = cx.at;
    let Some(project) = cx.project else { return };
    let Some(name) = lw.name(at, &o.name) else {
        return;
    };
    if super::tombstone_only(&o.state, [o.sampling_rate.is_none(), o.scorers.is_none()]) {
        // Only the name identifies the rule; a tombstone's spec is never used.
        let spec = Spec::OnlineScoring(OnlineScoringSpec {
            description: None,
            sampling_rate: 0.0,
            scorers: Vec::new(),
            filter: None,
            scope: Scope::Span,
            apply_to_root_span: None,
            apply_to_span_names: None,
            skip_logging: None,
        });
        add(lw, cx, &name, spec, lw.span(at, &o.name), o);
        return;
    }
    let anchor = lw.span(at, &o.name);
    let sampling_rate = lw.required(anchor, &o.sampling_rate, "sampling_rate");
    let raw_scorers = lw.required(anchor, &o.scorers, "scorers");
    let (Some(sampling_rate), Some(raw_scorers)) = (sampling_rate, raw_scorers) else {
        return;
    };
    let sampling_rate = lw.range(at, sampling_rate, 0.0, 1.0, "`sampling_rate`");
    let scorers: Vec<FunctionRef> = raw_scorers
        .iter()
        .filter_map(|f| function::lower(lw, at, project, f))
        .collect();
    if raw_scorers.is_empty() {
        lw.diags.push(
            Diagnostic::error(
                Code::MissingField,
                "an online-scoring rule needs at least one scorer",
            )
            .with_label(lw.span(at, &o.name), "rule without scorers")
            .with_hint("add `scorers: [{ global: Factuality }]`"),
        );
        return;
    }
    let scope = match &o.scope {
        None => Some(Scope::Span),
        Some(scope) => lower_scope(lw, at, scope),
    };
    if let Some(scope) = &scope
        && !matches!(scope, Scope::Span)
    {
        let span_only = [
            (
                "apply_to_root_span",
                o.apply_to_root_span.as_ref().map(|v| lw.span(at, v)),
            ),
            (
                "apply_to_span_names",
                o.apply_to_span_names
                    .as_ref()
                    .and_then(|v| v.first())
                    .map(|v| lw.span(at, v)),
            ),
        ];
        for (field, span) in span_only {
            if let Some(span) = span {
                lw.diags.push(
                    Diagnostic::error(
                        Code::FieldNotAllowed,
                        format!("`{field}` only applies to the span scope"),
                    )
                    .with_label(span, "not allowed with this scope")
                    .with_hint("remove it, or use `scope: { type: span }`"),
                );
                return;
            }
        }
    }
    let (Some(sampling_rate), Some(scope)) = (sampling_rate, scope) else {
        return;
    };
    if scorers.len() != raw_scorers.len() {
        return;
    }
    let spec = Spec::OnlineScoring(OnlineScoringSpec {
        description: o.description.text(),
        sampling_rate,
        scorers,
        filter: o.filter.text(),
        scope,
        apply_to_root_span: o.apply_to_root_span.as_ref().map(|v| v.value),
        apply_to_span_names: o
            .apply_to_span_names
            .as_ref()
            .map(|v| v.iter().map(|s| s.value.clone()).collect()),
        skip_logging: o.skip_logging.as_ref().map(|v| v.value),
    });
    add(lw, cx, &name, spec, lw.span(at, &o.name), o);
}

/// Adds a rule to the desired state, unless a score of the project has its name.
fn add(
    lw: &mut Lowerer<'_>,
    cx: Cx<'_>,
    name: &Name,
    spec: Spec,
    span: Span,
    o: &raw::RawOnlineScoring,
) {
    let Some(project) = cx.project else { return };
    // Online-scoring rules are project scores on the wire, so they share the score namespace.
    let Some(key) = Lowerer::project_key(cx, Kind::OnlineScoring, name.as_str()) else {
        return;
    };
    let score_key = Lowerer::project_key(cx, Kind::Score, name.as_str());
    if let Some(existing) = score_key.and_then(|k| lw.state.resources.get(&k)) {
        if !cx.from_template {
            let d = Diagnostic::error(
                Code::DuplicateObject,
                format!("`{name}` is both a score and an online-scoring rule in project `{project}`"),
            )
            .with_label(span, "online-scoring rule")
            .with_label(existing.span, "score with the same name")
            .with_hint("scores and online-scoring rules share one namespace per project; rename one of them");
            lw.diags.push(d);
        }
        return;
    }
    if let Some(key) = lw.add(cx, key, spec, span, &o.state, None, &o.previous_names) {
        lw.depend_on_project(cx, &key, span);
    }
}

fn lower_scope(lw: &mut Lowerer<'_>, at: DocOrigin, scope: &Sp<raw::RawScope>) -> Option<Scope> {
    let idle = scope
        .idle_seconds
        .as_ref()
        .and_then(|v| lw.range(at, v, 0.0, f64::INFINITY, "`idle_seconds`"));
    let group_fields = [
        ("group_by", scope.group_by.as_ref().map(|v| lw.span(at, v))),
        (
            "placement",
            scope.placement.as_ref().map(|v| lw.span(at, v)),
        ),
        (
            "interval_seconds",
            scope.interval_seconds.as_ref().map(|v| lw.span(at, v)),
        ),
        (
            "max_traces",
            scope.max_traces.as_ref().map(|v| lw.span(at, v)),
        ),
    ];
    match scope.scope_type.value {
        raw::ScopeType::Span | raw::ScopeType::Trace => {
            let type_name = if scope.scope_type.value == raw::ScopeType::Span {
                "span"
            } else {
                "trace"
            };
            let mut extra: Vec<(&str, Span)> = group_fields
                .iter()
                .filter_map(|(f, s)| s.map(|s| (*f, s)))
                .collect();
            if type_name == "span"
                && let Some(v) = &scope.idle_seconds
            {
                extra.push(("idle_seconds", lw.span(at, v)));
            }
            if let Some((field, span)) = extra.first() {
                lw.diags.push(
                    Diagnostic::error(Code::FieldNotAllowed, format!("`{field}` does not apply to the {type_name} scope"))
                        .with_label(*span, "not allowed here")
                        .with_hint("`group_by`, `placement`, `interval_seconds` and `max_traces` are for `type: group`"),
                );
                return None;
            }
            Some(if type_name == "span" {
                Scope::Span
            } else {
                Scope::Trace { idle_seconds: idle }
            })
        }
        raw::ScopeType::Group => {
            let (Some(group_by), Some(placement)) = (&scope.group_by, &scope.placement) else {
                lw.diags.push(
                    Diagnostic::error(
                        Code::MissingField,
                        "a group scope needs `group_by` and `placement`",
                    )
                    .with_label(lw.span(at, &scope.scope_type), "group scope")
                    .with_hint(
                        "add `group_by: metadata.session_id` and `placement: first` (or `each`)",
                    ),
                );
                return None;
            };
            let interval_seconds = scope
                .interval_seconds
                .as_ref()
                .and_then(|v| lw.range(at, v, 1.0, f64::INFINITY, "`interval_seconds`"));
            let max_traces = scope
                .max_traces
                .as_ref()
                .and_then(|v| lw.int_range(at, v, 1, 64, "`max_traces`"));
            if scope.interval_seconds.is_some() && interval_seconds.is_none()
                || scope.max_traces.is_some() && max_traces.is_none()
            {
                return None;
            }
            Some(Scope::Group {
                group_by: group_by.value.clone(),
                placement: placement.value,
                interval_seconds,
                max_traces,
                idle_seconds: idle,
            })
        }
    }
}

/// The managed fields, in display order (see `diff::fields`).
#[must_use]
pub fn fields(o: &OnlineScoringSpec) -> Vec<Field> {
    vec![
        ("description", o.description.as_ref().map(|v| json!(v))),
        ("sampling_rate", Some(json!(o.sampling_rate))),
        (
            "scorers",
            Some(json!(
                o.scorers.iter().map(function::label).collect::<Vec<_>>()
            )),
        ),
        ("filter", o.filter.as_ref().map(|v| json!(v))),
        ("scope", Some(scope_field(&o.scope))),
        ("apply_to_root_span", o.apply_to_root_span.map(|v| json!(v))),
        (
            "apply_to_span_names",
            o.apply_to_span_names.as_ref().map(|v| json!(v)),
        ),
        ("skip_logging", o.skip_logging.map(|v| json!(v))),
    ]
}

/// A rule's scope as the plan spells it (unset values are null).
fn scope_field(s: &Scope) -> Value {
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

/// The request body's parts: a score of type `online` whose config holds the rule.
///
/// # Errors
/// When a scorer is a project function whose slug did not resolve when planning.
pub fn body(o: &OnlineScoringSpec, ids: &dyn Ids) -> Result<ScoreParts, BodyError> {
    let scorers = o
        .scorers
        .iter()
        .map(|f| function::body(f, ids))
        .collect::<Result<Vec<wire::SavedFunctionId>, BodyError>>()?;
    let scope = match &o.scope {
        Scope::Span => ScopeBody::Span,
        Scope::Trace { idle_seconds } => ScopeBody::Trace {
            idle_seconds: *idle_seconds,
        },
        Scope::Group {
            group_by,
            placement,
            interval_seconds,
            max_traces,
            idle_seconds,
        } => ScopeBody::Group {
            group_by: group_by.clone(),
            placement: *placement,
            interval_seconds: *interval_seconds,
            max_traces: *max_traces,
            idle_seconds: *idle_seconds,
        },
    };
    let online = OnlineScoreConfigBody {
        sampling_rate: o.sampling_rate,
        scorers,
        // A cleared filter is left out of the config, which is sent whole (J7, J15).
        btql_filter: o.filter.clone().filter(|f| !f.is_empty()),
        scope,
        apply_to_root_span: o.apply_to_root_span,
        apply_to_span_names: o.apply_to_span_names.clone(),
        skip_logging: o.skip_logging,
    };
    Ok(ScoreParts {
        score_type: ProjectScoreType::Online,
        description: o.description.clone(),
        categories: None,
        config: Some(ProjectScoreConfigBody {
            online: Some(online),
            ..ProjectScoreConfigBody::default()
        }),
    })
}

/// The spec of an `online` project score as listed; `None` without its online config.
#[must_use]
pub fn read(
    s: &wire::ProjectScore,
    project: &ProjectName,
    refs: &References,
) -> Option<OnlineScoringSpec> {
    let online = s.config.as_ref().and_then(|c| c.online.as_ref())?;
    Some(OnlineScoringSpec {
        description: s.description.clone(),
        sampling_rate: online.sampling_rate,
        scorers: online
            .scorers
            .iter()
            .map(|f| function::read(f, project, refs))
            .collect(),
        filter: online.btql_filter.clone(),
        scope: match &online.scope {
            None | Some(wire::Scope::Span) => Scope::Span,
            Some(wire::Scope::Trace(t)) => Scope::Trace {
                idle_seconds: t.idle_seconds,
            },
            Some(wire::Scope::Group(g)) => Scope::Group {
                group_by: g.group_by.clone(),
                placement: g.placement,
                interval_seconds: g.interval_seconds,
                max_traces: g.max_traces,
                idle_seconds: g.idle_seconds,
            },
        },
        apply_to_root_span: online.apply_to_root_span,
        apply_to_span_names: online.apply_to_span_names.clone(),
        skip_logging: online.skip_logging,
    })
}

/// The manifest entry `import` writes for a rule of project `here`; `None` when a scorer is a
/// project function known only by id (manifests cannot express that).
#[must_use]
pub fn manifest(name: &str, o: &OnlineScoringSpec, here: Option<&ProjectName>) -> Option<Value> {
    let scorers: Vec<Value> = o
        .scorers
        .iter()
        .map(|f| function::manifest(f, here))
        .collect::<Option<_>>()?;
    // A span scope is the default: leave it out.
    let scope = match &o.scope {
        Scope::Span => Value::Null,
        s => super::drop_nulls(scope_field(s)),
    };
    Some(super::drop_nulls(json!({
        "name": name, "description": o.description, "sampling_rate": o.sampling_rate, "scorers": scorers,
        "filter": o.filter, "scope": scope, "apply_to_root_span": o.apply_to_root_span,
        "apply_to_span_names": o.apply_to_span_names, "skip_logging": o.skip_logging,
    })))
}
