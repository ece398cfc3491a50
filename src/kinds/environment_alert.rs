//! The `environment_alert` kind: a project automation that notifies a webhook or Slack channel
//! when one of the org's environments changes (`event_type: environment_update` on
//! `/v1/project_automation`), optionally only for some environments, named by slug. Shared with
//! alerts, retention rules and exports: see `automation`; the notification target is the one
//! `alert` checks and sends.
//!
//! The environments it names are checked twice: at lowering, one declared in the org document
//! becomes a dependency (created first) and one declared `state: absent` is an error; at plan
//! time, [`unresolved`] refuses a slug that is neither declared nor live.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use super::alert;
use crate::diag::{Code, Diagnostic};
use crate::diff::fields::Field;
use crate::manifest::raw::{self, OrgCollection};
use crate::manifest::spanned::Sp;
use crate::model::lower::{Cx, Lowerer};
use crate::model::{DesiredState, EnvironmentAlertSpec, Kind, Notify, Presence, ResourceKey, Spec};
use crate::wire::{AutomationConfigBody, EnvironmentUpdateAutomation};

/// Checks one manifest entry and adds it to the desired state, with a reference to each
/// environment it names.
pub(crate) fn lower(lw: &mut Lowerer<'_>, cx: Cx<'_>, a: &Sp<raw::RawEnvironmentAlert>) {
    let at = cx.at;
    let Some(name) = lw.name(at, &a.name) else {
        return;
    };
    let span = lw.span(at, &a.name);
    if super::tombstone_only(&a.state, [a.notify.is_none()]) {
        // Only the name identifies the alert; the rest of a tombstone's spec is never used.
        let spec = Spec::EnvironmentAlert(EnvironmentAlertSpec {
            description: None,
            environments: None,
            notify: Notify::Webhook { url: String::new() },
        });
        super::automation::add(
            lw,
            cx,
            Kind::EnvironmentAlert,
            &name,
            spec,
            span,
            &a.state,
            &a.previous_names,
        );
        return;
    }
    // Checked before `notify`, so that a mistake in each is reported in one run.
    let no_environment = a.environments.as_ref().is_some_and(Vec::is_empty);
    if no_environment {
        // The API's meaning of an empty filter is not documented (A9): never send one.
        lw.diags.push(
            Diagnostic::error(
                Code::FieldNotAllowed,
                format!("environment alert `{name}` lists no environment"),
            )
            .with_label(span, "`environments: []`")
            .with_hint(
                "leave `environments` out to watch every environment, or name at least one slug",
            ),
        );
    }
    let Some(notify_field) = lw.required(span, &a.notify, "notify") else {
        return;
    };
    let Some(notify) = alert::lower_notify(lw, at, notify_field) else {
        return;
    };
    if no_environment {
        return;
    }
    let environments = a.environments.as_ref().map(|list| {
        list.iter()
            .map(|slug| (slug.value.clone(), lw.span(at, slug)))
            .collect::<Vec<_>>()
    });
    let spec = Spec::EnvironmentAlert(EnvironmentAlertSpec {
        description: a.description.text(),
        environments: environments
            .as_ref()
            .map(|list| list.iter().map(|(slug, _)| slug.clone()).collect()),
        notify,
    });
    let Some(key) = super::automation::add(
        lw,
        cx,
        Kind::EnvironmentAlert,
        &name,
        spec,
        span,
        &a.state,
        &a.previous_names,
    ) else {
        return;
    };
    for (slug, slug_span) in environments.unwrap_or_default() {
        // A declared environment is created first; an undeclared one is looked up live when
        // planning (`unresolved`).
        lw.reference(
            &key,
            ResourceKey::in_org(cx.org, Kind::Environment, slug),
            slug_span,
            "environment",
        );
    }
}

/// The managed fields, in display order (see `diff::fields`). `environments` is always
/// managed: leaving it out means every environment, which differs from a list.
#[must_use]
pub fn fields(e: &EnvironmentAlertSpec) -> Vec<Field> {
    vec![
        ("description", e.description.as_ref().map(|v| json!(v))),
        (
            "environments",
            Some(match &e.environments {
                Some(slugs) => json!(slugs),
                None => json!("all"),
            }),
        ),
        ("notify", Some(alert::notify(&e.notify))),
    ]
}

/// The automation config the API takes: the slugs in order, no filter for every environment.
#[must_use]
pub fn config(e: &EnvironmentAlertSpec) -> AutomationConfigBody {
    AutomationConfigBody::EnvironmentUpdate(EnvironmentUpdateAutomation {
        environment_filter: e
            .environments
            .as_ref()
            .map(|slugs| slugs.iter().cloned().collect()),
        action: alert::action(&e.notify),
    })
}

/// The spec of an `environment_update` automation as listed.
#[must_use]
pub fn read(description: Option<&String>, u: &EnvironmentUpdateAutomation) -> EnvironmentAlertSpec {
    EnvironmentAlertSpec {
        description: description.cloned(),
        environments: u
            .environment_filter
            .as_ref()
            .map(|slugs| slugs.iter().cloned().collect::<BTreeSet<_>>()),
        notify: alert::read_action(&u.action),
    }
}

/// The manifest entry `import` writes (no `environments` for every environment); `None` for an
/// empty filter, which a manifest cannot express (its meaning is not documented, A9).
#[must_use]
pub fn manifest(name: &str, e: &EnvironmentAlertSpec) -> Option<Value> {
    if e.environments.as_ref().is_some_and(BTreeSet::is_empty) {
        return None;
    }
    Some(super::drop_nulls(json!({
        "name": name,
        "description": e.description,
        "environments": e.environments,
        "notify": alert::notify_manifest(&e.notify),
    })))
}

/// One message per environment slug that a present environment alert names and that neither a
/// manifest declares present nor exists live (or exists live but is deleted by an
/// authoritative `environments` list): the plan is refused (the `unresolved-reference` guard),
/// never left to a write that watches nothing. Slugs in an org whose environment list was not
/// read completely are not judged (that plan is incomplete anyway).
#[must_use]
pub fn unresolved(desired: &DesiredState, live: &crate::live::LiveState) -> Vec<String> {
    let mut out = Vec::new();
    for r in desired.of_kind(Kind::EnvironmentAlert) {
        let (Presence::Present, Spec::EnvironmentAlert(e)) = (r.presence, &r.spec) else {
            continue;
        };
        let org = &r.key.org;
        let authoritative = desired
            .orgs
            .get(org)
            .is_some_and(|o| o.authoritative.contains(&OrgCollection::Environments));
        for slug in e.environments.iter().flatten() {
            let key = ResourceKey::in_org(org, Kind::Environment, slug.as_str());
            let live_one = live.objects.contains_key(&key);
            let problem = match desired.resources.get(&key).map(|d| d.presence) {
                // Declared present: created before the alert if missing. Declared absent:
                // lowering already refused the reference.
                Some(_) => continue,
                None if live_one && !authoritative => continue,
                None if !live.is_complete_for(&key) => continue,
                None if live_one => {
                    "exists live but is not declared, and `authoritative: [environments]` deletes it"
                }
                None => "is neither declared in the manifests nor found live",
            };
            let known: Vec<&str> = desired
                .of_kind(Kind::Environment)
                .filter(|d| d.key.org == *org && d.presence == Presence::Present)
                .map(|d| d.key.name.as_str())
                .chain(
                    live.objects
                        .keys()
                        .filter(|k| k.kind == Kind::Environment && k.org == *org && !authoritative)
                        .map(|k| k.name.as_str()),
                )
                .collect();
            let hint = match crate::diag::did_you_mean(slug, known.iter().copied()) {
                Some(best) => format!("did you mean `{best}`?"),
                None => "declare it under `environments` in the org document, or fix the slug"
                    .to_owned(),
            };
            out.push(format!(
                "`{}` watches environment `{slug}` of org `{org}`, which {problem}; {hint}",
                r.key
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::unresolved;
    use crate::kinds::OrgChildSpec;
    use crate::live::{LiveObject, LiveState};
    use crate::model::{DesiredState, EnvironmentSpec, Kind, OrgName, ResourceKey, Spec};
    use crate::source::SourceMap;

    /// The org document `org`, and a project whose alert watches `staging`.
    fn desired(org: &str) -> DesiredState {
        let mut sources = SourceMap::new();
        sources.add("org.yaml", org);
        sources.add(
            "chatbot.yaml",
            "project: chatbot\norg: acme\nenvironment_alerts:\n  - { name: watch, environments: [staging], notify: { webhook: \"https://hooks.acme.com/x\" } }\n",
        );
        let analysis = crate::pipeline::analyze(&sources);
        assert!(!analysis.has_errors(), "{:?}", analysis.diagnostics);
        analysis.state
    }

    fn live_staging() -> LiveState {
        let org = OrgName::new("acme").expect("valid");
        let mut live = LiveState::default();
        live.objects.insert(
            ResourceKey::in_org(&org, Kind::Environment, "staging"),
            LiveObject {
                id: "e0000000-0000-4000-8000-000000000001".into(),
                spec: Spec::OrgChild(OrgChildSpec::Environment(EnvironmentSpec {
                    name: "Staging".into(),
                    slug: "staging".into(),
                    description: None,
                })),
                fingerprint: String::new(),
                secret: None,
                raw: None,
            },
        );
        live
    }

    #[test]
    fn a_slug_resolves_when_declared_or_live_and_kept() {
        assert!(unresolved(&desired("org: acme\n"), &live_staging()).is_empty());
        let declared = "org: acme\nenvironments:\n  - { name: Staging, slug: staging }\n";
        assert!(unresolved(&desired(declared), &LiveState::default()).is_empty());
    }

    #[test]
    fn a_slug_is_refused_when_missing_or_deleted_by_an_authoritative_list() {
        let missing = unresolved(&desired("org: acme\n"), &LiveState::default());
        assert_eq!(missing.len(), 1, "{missing:?}");
        assert!(
            missing[0].contains("`staging`") && missing[0].contains("neither declared"),
            "{missing:?}"
        );
        let deleted = unresolved(
            &desired("org: acme\nauthoritative: [environments]\n"),
            &live_staging(),
        );
        assert_eq!(deleted.len(), 1, "{deleted:?}");
        assert!(
            deleted[0].contains("`authoritative: [environments]` deletes it"),
            "{deleted:?}"
        );
    }
}
