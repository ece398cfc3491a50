//! What alerts, retention rules, exports and environment alerts share: they are all project
//! automations on
//! `/v1/project_automation`, told apart by the config's `event_type`, with one name space per
//! project. This module holds that shared part (the name-space check at lowering, the request
//! bodies' common header, telling a list item's kind by its config); each kind's own part is in
//! `alert`, `retention`, `export` and `environment_alert`. The scaffolds (`model::lower`, `api::read`, `apply::ops`,
//! `diff::fields`, `import`) call these plain functions: automations do not fit
//! [`super::ProjectChild`], whose kinds each own an API list.

use super::{alert, environment_alert, export, retention};
use crate::diag::{Code, Diagnostic};
use crate::manifest::raw::State;
use crate::manifest::spanned::Sp;
use crate::model::lower::{Cx, Lowerer};
use crate::model::{Kind, Name, ResourceKey, Spec};
use crate::source::Span;
use crate::wire::{
    self, AutomationConfigBody, Id, ProjectAutomationBody, ProjectAutomationPatchBody,
};

/// Automations (alerts, retention rules, exports, environment alerts) share one namespace per
/// project. The key of the inserted object, if it was inserted.
#[allow(clippy::too_many_arguments)]
pub(crate) fn add(
    lw: &mut Lowerer<'_>,
    cx: Cx<'_>,
    kind: Kind,
    name: &Name,
    spec: Spec,
    span: Span,
    state: &Option<Sp<State>>,
    previous: &[Sp<String>],
) -> Option<ResourceKey> {
    // The registry's `shares` lists the other automation kinds.
    let others = kind.shares_names_with().iter().copied();
    for other in others {
        let other_key = Lowerer::project_key(cx, other, name.as_str())?;
        if let Some(existing) = lw.state.resources.get(&other_key) {
            if !cx.from_template {
                lw.diags.push(
                    Diagnostic::error(
                        Code::DuplicateObject,
                        format!("automation `{name}` is declared twice"),
                    )
                    .with_label(span, format!("{kind} declared here"))
                    .with_label(existing.span, format!("{other} with the same name"))
                    .with_hint(
                        "alerts, retention rules, exports and environment alerts share one namespace per project",
                    ),
                );
            }
            return None;
        }
    }
    let key = Lowerer::project_key(cx, kind, name.as_str())?;
    let key = lw.add(cx, key, spec, span, state, None, previous)?;
    lw.depend_on_project(cx, &key, span);
    Some(key)
}

/// The description and config of an automation spec; `None` for other specs. An AWS export
/// that declares no external id gets `fresh_external_id()` (the API requires one).
fn config(
    spec: &Spec,
    fresh_external_id: impl FnOnce() -> String,
) -> Option<(Option<String>, AutomationConfigBody)> {
    Some(match spec {
        Spec::Alert(a) => (a.description.clone(), alert::config(a)),
        Spec::Retention(r) => (None, retention::config(r)),
        Spec::Export(e) => (e.description.clone(), export::config(e, fresh_external_id)),
        Spec::EnvironmentAlert(e) => (e.description.clone(), environment_alert::config(e)),
        _ => return None,
    })
}

/// The create (PUT) body of an automation named `name` in the project `project_id`.
#[must_use]
pub fn create(
    spec: &Spec,
    project_id: Id,
    name: &str,
    fresh_external_id: impl FnOnce() -> String,
) -> Option<ProjectAutomationBody> {
    let (description, config) = config(spec, fresh_external_id)?;
    Some(ProjectAutomationBody {
        project_id,
        name: name.to_owned(),
        description,
        config,
    })
}

/// The PATCH body (the config is sent whole); `rename` is the new name when renamed.
#[must_use]
pub fn patch(
    spec: &Spec,
    rename: Option<String>,
    fresh_external_id: impl FnOnce() -> String,
) -> Option<ProjectAutomationPatchBody> {
    let (description, config) = config(spec, fresh_external_id)?;
    Some(ProjectAutomationPatchBody {
        name: rename,
        description,
        config,
    })
}

/// The kind and spec of a list item; `None` for automations bt-gitops does not manage.
#[must_use]
pub fn read(a: &wire::ProjectAutomation) -> Option<(Kind, Spec)> {
    match &a.config {
        wire::AutomationConfig::Logs(l) => Some((
            Kind::Alert,
            Spec::Alert(alert::read(a.description.as_ref(), l)),
        )),
        wire::AutomationConfig::Retention(r) => {
            Some((Kind::Retention, Spec::Retention(retention::read(r))))
        }
        wire::AutomationConfig::BtqlExport(e) => Some((
            Kind::Export,
            Spec::Export(export::read(a.description.as_ref(), e)),
        )),
        wire::AutomationConfig::EnvironmentUpdate(u) => Some((
            Kind::EnvironmentAlert,
            Spec::EnvironmentAlert(environment_alert::read(a.description.as_ref(), u)),
        )),
        _ => None,
    }
}

/// A whole number of seconds as read from the API (which speaks floats).
pub(super) fn seconds(s: f64) -> u64 {
    if s.is_finite() && s >= 0.0 {
        s.round() as u64
    } else {
        0
    }
}

/// Why [`read`] does not manage an automation (topic, topic digest, async query): such
/// automations still hold their names in the project (A2).
#[must_use]
pub fn unmanaged_reason(raw: &serde_json::Value) -> String {
    let event = raw["config"]["event_type"].as_str().unwrap_or("?");
    format!("automations with `event_type: {event}` are not managed by bt-gitops")
}
