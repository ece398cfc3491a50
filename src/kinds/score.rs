//! The `score` kind: a human-review score of a project (slider, categorical, free-form, or
//! weighted / minimum / maximum over other scores), on `/v1/project_score`. Shared with
//! online-scoring rules: see `project_score`.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde_json::{Value, json};

use super::project_score::ScoreParts;
use crate::diag::{Code, Diagnostic};
use crate::diff::fields::Field;
use crate::manifest::DocOrigin;
use crate::manifest::raw;
use crate::manifest::spanned::Sp;
use crate::model::lower::{Cx, Lowerer};
use crate::model::{Kind, ScoreKind, ScoreSpec, Spec};
use crate::source::Span;
use crate::wire::{self, ProjectScoreCategories, ProjectScoreConfigBody, ProjectScoreType};

/// Checks one manifest entry (the fields its type needs and allows) and adds it to the desired
/// state; weighted, minimum and maximum scores refer to other scores of the project.
pub(crate) fn lower(lw: &mut Lowerer<'_>, cx: Cx<'_>, s: &Sp<raw::RawScore>) {
    use raw::ScoreType as T;
    let at = cx.at;
    let Some(name) = lw.name(at, &s.name) else {
        return;
    };
    let span = lw.span(at, &s.name);
    if super::tombstone_only(&s.state, [s.score_type.is_none()]) {
        // Only the name identifies the score; a tombstone's spec is never used.
        let spec = Spec::Score(ScoreSpec {
            description: None,
            kind: ScoreKind::FreeForm,
            object_types: None,
        });
        if let Some(key) = Lowerer::project_key(cx, Kind::Score, name.as_str())
            && let Some(key) = lw.add(cx, key, spec, span, &s.state, None, &s.previous_names)
        {
            lw.depend_on_project(cx, &key, span);
        }
        return;
    }
    let Some(score_type) = lw.required(span, &s.score_type, "type") else {
        return;
    };
    let ty = score_type.value;
    let type_name = match ty {
        T::Slider => "slider",
        T::Categorical => "categorical",
        T::FreeForm => "free-form",
        T::Weighted => "weighted",
        T::Minimum => "minimum",
        T::Maximum => "maximum",
    };
    let mut ok = true;
    let mut disallow = |lw: &mut Lowerer<'_>, present: Option<Span>, field: &str, allowed: &str| {
        if let Some(span) = present {
            ok = false;
            lw.diags.push(
                Diagnostic::error(
                    Code::FieldNotAllowed,
                    format!("`{field}` does not apply to a {type_name} score"),
                )
                .with_label(span, "not allowed here")
                .with_hint(format!("`{field}` is only for {allowed} scores")),
            );
        }
    };
    let categories_span = s.categories.as_ref().map(|c| {
        c.first()
            .map_or(lw.span(at, score_type), |c| lw.span(at, c))
    });
    if ty != T::Categorical {
        disallow(lw, categories_span, "categories", "categorical");
        disallow(
            lw,
            s.multi_select.as_ref().map(|v| lw.span(at, v)),
            "multi_select",
            "categorical",
        );
    }
    if ty != T::Weighted {
        disallow(
            lw,
            s.weights.as_ref().map(|v| lw.span(at, v)),
            "weights",
            "weighted",
        );
    }
    if !matches!(ty, T::Minimum | T::Maximum) {
        let span = s.scores.as_ref().map(|v| {
            v.first()
                .map_or(lw.span(at, score_type), |c| lw.span(at, c))
        });
        disallow(lw, span, "scores", "minimum and maximum");
    }
    let mut refs: Vec<(String, Span)> = Vec::new();
    let kind = match ty {
        T::Slider => ScoreKind::Slider,
        T::FreeForm => ScoreKind::FreeForm,
        T::Categorical => match &s.categories {
            None => {
                ok = false;
                missing(lw, at, s, type_name, "categories");
                ScoreKind::Slider
            }
            Some(cats) => {
                let mut seen = HashMap::new();
                let mut categories = Vec::new();
                for c in cats {
                    let value = lw.range(at, &c.value.value, 0.0, 1.0, "a category value");
                    if let Some(first) = seen.insert(c.name.value.clone(), lw.span(at, &c.name)) {
                        ok = false;
                        lw.diags.push(
                            Diagnostic::error(
                                Code::DuplicateObject,
                                format!("category `{}` is listed twice", c.name.value),
                            )
                            .with_label(lw.span(at, &c.name), "listed again here")
                            .with_label(first, "first listed here"),
                        );
                    }
                    match value {
                        Some(v) => categories.push((c.name.value.clone(), v)),
                        None => ok = false,
                    }
                }
                if cats.is_empty() {
                    ok = false;
                    missing(lw, at, s, type_name, "categories");
                }
                ScoreKind::Categorical {
                    categories,
                    multi_select: s.multi_select.as_ref().map(|m| m.value),
                }
            }
        },
        T::Weighted => match &s.weights {
            None => {
                ok = false;
                missing(lw, at, s, type_name, "weights");
                ScoreKind::Slider
            }
            Some(weights) => {
                let mut out = BTreeMap::new();
                for (score, w) in &weights.value {
                    if let Some(v) = lw.range(at, w, 0.0, f64::INFINITY, "a weight") {
                        out.insert(score.clone(), v);
                    } else {
                        ok = false;
                    }
                    refs.push((score.clone(), lw.span(at, w)));
                }
                if out.is_empty() {
                    ok = false;
                    missing(lw, at, s, type_name, "weights");
                } else if out.values().all(|w| *w == 0.0) {
                    lw.diags.push(
                        Diagnostic::warning(
                            Code::Suspicious,
                            "every weight is 0, so this score is always 0",
                        )
                        .with_label(lw.span(at, weights), "weights"),
                    );
                }
                ScoreKind::Weighted(out)
            }
        },
        T::Minimum | T::Maximum => match &s.scores {
            None => {
                ok = false;
                missing(lw, at, s, type_name, "scores");
                ScoreKind::Slider
            }
            Some(scores) => {
                if scores.is_empty() {
                    ok = false;
                    missing(lw, at, s, type_name, "scores");
                }
                for sc in scores {
                    refs.push((sc.value.clone(), lw.span(at, sc)));
                }
                let set = scores.iter().map(|s| s.value.clone()).collect();
                if ty == T::Minimum {
                    ScoreKind::Minimum(set)
                } else {
                    ScoreKind::Maximum(set)
                }
            }
        },
    };
    if !ok {
        return;
    }
    let spec = Spec::Score(ScoreSpec {
        description: s.description.text(),
        kind,
        object_types: s
            .object_types
            .as_ref()
            .map(|o| o.iter().map(|t| t.value).collect()),
    });
    let Some(key) = Lowerer::project_key(cx, Kind::Score, name.as_str()) else {
        return;
    };
    let span = lw.span(at, &s.name);
    let Some(key) = lw.add(cx, key, spec, span, &s.state, None, &s.previous_names) else {
        return;
    };
    lw.depend_on_project(cx, &key, span);
    for (score, span) in refs {
        if let Some(target) = Lowerer::project_key(cx, Kind::Score, score) {
            lw.reference(&key, target, span, "score");
        }
    }
}

fn missing(
    lw: &mut Lowerer<'_>,
    at: DocOrigin,
    s: &Sp<raw::RawScore>,
    type_name: &str,
    field: &str,
) {
    let span = s
        .score_type
        .as_ref()
        .map_or_else(|| lw.span(at, &s.name), |t| lw.span(at, t));
    lw.diags.push(
        Diagnostic::error(
            Code::MissingField,
            format!("a {type_name} score needs `{field}`"),
        )
        .with_label(span, format!("{type_name} score"))
        .with_hint(match field {
            "categories" => "add `categories: [{ name: good, value: 1 }, { name: bad, value: 0 }]`",
            "weights" => "add `weights: { score-a: 0.5, score-b: 0.5 }`",
            _ => "add `scores: [score-a, score-b]`",
        }),
    );
}

/// The managed fields, in display order (see `diff::fields`).
#[must_use]
pub fn fields(s: &ScoreSpec) -> Vec<Field> {
    let (ty, categories, weights, scores): (&str, Option<Value>, Option<Value>, Option<Value>) =
        match &s.kind {
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

/// The request body's parts: type, description, categories and config (left out when empty).
#[must_use]
pub fn body(s: &ScoreSpec) -> ScoreParts {
    let (score_type, categories) = match &s.kind {
        ScoreKind::Slider => (ProjectScoreType::Slider, None),
        ScoreKind::FreeForm => (ProjectScoreType::FreeForm, None),
        ScoreKind::Categorical { categories, .. } => (
            ProjectScoreType::Categorical,
            Some(ProjectScoreCategories::Categorical(
                categories
                    .iter()
                    .map(|(name, value)| wire::ProjectScoreCategory {
                        name: name.clone(),
                        value: *value,
                    })
                    .collect(),
            )),
        ),
        ScoreKind::Weighted(w) => (
            ProjectScoreType::Weighted,
            Some(ProjectScoreCategories::Weighted(w.clone())),
        ),
        ScoreKind::Minimum(n) => (
            ProjectScoreType::Minimum,
            Some(ProjectScoreCategories::Minimum(n.iter().cloned().collect())),
        ),
        ScoreKind::Maximum(n) => (
            ProjectScoreType::Maximum,
            Some(ProjectScoreCategories::Minimum(n.iter().cloned().collect())),
        ),
    };
    let config = ProjectScoreConfigBody {
        multi_select: match &s.kind {
            ScoreKind::Categorical { multi_select, .. } => *multi_select,
            _ => None,
        },
        online: None,
        object_types: s.object_types.as_ref().map(|t| t.iter().copied().collect()),
    };
    ScoreParts {
        score_type,
        description: s.description.clone(),
        categories,
        config: (config != ProjectScoreConfigBody::default()).then_some(config),
    }
}

/// The spec of a human-review score as listed.
#[must_use]
pub fn read(s: &wire::ProjectScore) -> ScoreSpec {
    let config = s.config.as_ref();
    let kind = match (&s.score_type, &s.categories) {
        (ProjectScoreType::Categorical, Some(ProjectScoreCategories::Categorical(c))) => {
            ScoreKind::Categorical {
                categories: c.iter().map(|c| (c.name.clone(), c.value)).collect(),
                multi_select: config.and_then(|c| c.multi_select),
            }
        }
        (ProjectScoreType::Categorical, _) => ScoreKind::Categorical {
            categories: Vec::new(),
            multi_select: None,
        },
        (ProjectScoreType::Weighted, Some(ProjectScoreCategories::Weighted(w))) => {
            ScoreKind::Weighted(w.iter().map(|(k, v)| (k.clone(), *v)).collect())
        }
        (ProjectScoreType::Weighted, _) => ScoreKind::Weighted(BTreeMap::new()),
        (ProjectScoreType::Minimum, c) => ScoreKind::Minimum(names(c.as_ref())),
        (ProjectScoreType::Maximum, c) => ScoreKind::Maximum(names(c.as_ref())),
        (ProjectScoreType::FreeForm, _) => ScoreKind::FreeForm,
        // `online` is told apart by `project_score::read`.
        (ProjectScoreType::Slider | ProjectScoreType::Online, _) => ScoreKind::Slider,
    };
    ScoreSpec {
        description: s.description.clone(),
        kind,
        object_types: config
            .and_then(|c| c.object_types.as_ref())
            .map(|t| t.iter().copied().collect()),
    }
}

fn names(c: Option<&ProjectScoreCategories>) -> BTreeSet<String> {
    match c {
        Some(ProjectScoreCategories::Minimum(n)) => n.iter().cloned().collect(),
        _ => BTreeSet::new(),
    }
}

/// The manifest entry `import` writes.
#[must_use]
pub fn manifest(name: &str, s: &ScoreSpec) -> Value {
    let mut v = json!({ "name": name });
    let (ty, extra): (&str, Option<(&str, Value)>) = match &s.kind {
        ScoreKind::Slider => ("slider", None),
        ScoreKind::FreeForm => ("free-form", None),
        ScoreKind::Categorical { categories, .. } => (
            "categorical",
            Some((
                "categories",
                json!(
                    categories
                        .iter()
                        .map(|(n, v)| json!({ "name": n, "value": v }))
                        .collect::<Vec<_>>()
                ),
            )),
        ),
        ScoreKind::Weighted(w) => ("weighted", Some(("weights", json!(w)))),
        ScoreKind::Minimum(n) => ("minimum", Some(("scores", json!(n)))),
        ScoreKind::Maximum(n) => ("maximum", Some(("scores", json!(n)))),
    };
    v["type"] = json!(ty);
    if let Some(d) = &s.description {
        v["description"] = json!(d);
    }
    if let Some((k, value)) = extra {
        v[k] = value;
    }
    if let ScoreKind::Categorical {
        multi_select: Some(m),
        ..
    } = &s.kind
    {
        v["multi_select"] = json!(m);
    }
    if let Some(t) = &s.object_types {
        v["object_types"] = json!(t.iter().map(|t| t.as_str()).collect::<Vec<_>>());
    }
    v
}
