//! The `alert` kind: a project automation that notifies a webhook or Slack channel when logs
//! match a filter (`event_type: logs` on `/v1/project_automation`). Shared with retention,
//! exports and environment alerts: see `automation`. The notification target (its checks, field
//! value, action and manifest form) is used by `environment_alert` too.

use serde_json::{Value, json};

use crate::diag::{Code, Diagnostic};
use crate::diff::fields::Field;
use crate::manifest::DocOrigin;
use crate::manifest::raw;
use crate::manifest::spanned::Sp;
use crate::model::lower::{Cx, Lowerer};
use crate::model::{AlertSpec, Kind, Notify, Spec};
use crate::wire::{self, AutomationAction, AutomationConfigBody, LogsAutomationBody};

/// Checks one manifest entry and adds it to the desired state.
pub(crate) fn lower(lw: &mut Lowerer<'_>, cx: Cx<'_>, a: &Sp<raw::RawAlert>) {
    let at = cx.at;
    let Some(name) = lw.name(at, &a.name) else {
        return;
    };
    if super::tombstone_only(
        &a.state,
        [a.filter.is_none(), a.interval.is_none(), a.notify.is_none()],
    ) {
        // Only the name identifies the alert; the rest of a tombstone's spec is never used.
        let spec = Spec::Alert(AlertSpec {
            description: None,
            filter: String::new(),
            interval_seconds: 0,
            notify: Notify::Webhook { url: String::new() },
        });
        let span = lw.span(at, &a.name);
        super::automation::add(
            lw,
            cx,
            Kind::Alert,
            &name,
            spec,
            span,
            &a.state,
            &a.previous_names,
        );
        return;
    }
    let anchor = lw.span(at, &a.name);
    let filter = lw.required(anchor, &a.filter, "filter");
    let interval = lw.required(anchor, &a.interval, "interval");
    let notify = lw.required(anchor, &a.notify, "notify");
    let (Some(filter), Some(interval), Some(notify_field)) = (filter, interval, notify) else {
        return;
    };
    let interval = lw.interval(at, interval, "`interval`");
    let notify = lower_notify(lw, at, notify_field);
    let (Some(interval_seconds), Some(notify)) = (interval, notify) else {
        return;
    };
    let spec = Spec::Alert(AlertSpec {
        description: a.description.text(),
        filter: filter.value.clone(),
        interval_seconds,
        notify,
    });
    super::automation::add(
        lw,
        cx,
        Kind::Alert,
        &name,
        spec,
        lw.span(at, &a.name),
        &a.state,
        &a.previous_names,
    );
}

/// Checks where an alert goes (`notify`: exactly one of `webhook` or `slack`); shared with
/// `environment_alert`.
pub(super) fn lower_notify(
    lw: &mut Lowerer<'_>,
    at: DocOrigin,
    notify_field: &Sp<raw::RawNotify>,
) -> Option<Notify> {
    match (&notify_field.webhook, &notify_field.slack) {
        (Some(url), None) => lw
            .url(at, url, "a webhook", &["https"])
            .map(|url| Notify::Webhook { url }),
        (None, Some(slack)) => Some(Notify::Slack {
            workspace_id: slack.workspace_id.value.clone(),
            channel: slack.channel.value.clone(),
            message_template: slack.message_template.text(),
        }),
        _ => {
            lw.diags.push(
                Diagnostic::error(
                    Code::FieldNotAllowed,
                    "`notify` needs exactly one of `webhook` or `slack`",
                )
                .with_label(lw.span(at, notify_field), "notification target")
                .with_hint(if notify_field.webhook.is_none() {
                    "add `webhook: https://...` or `slack: { workspace_id: ..., channel: ... }`"
                } else {
                    "keep `webhook` or `slack`; to notify both, declare two alerts"
                }),
            );
            None
        }
    }
}

/// The managed fields, in display order (see `diff::fields`).
#[must_use]
pub fn fields(a: &AlertSpec) -> Vec<Field> {
    vec![
        ("description", a.description.as_ref().map(|v| json!(v))),
        ("filter", Some(json!(a.filter))),
        ("interval_seconds", Some(json!(a.interval_seconds))),
        ("notify", Some(notify(&a.notify))),
    ]
}

/// A notification target as a field value (see `diff::fields`); shared with `environment_alert`.
pub(super) fn notify(n: &Notify) -> Value {
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

/// The automation config the API takes.
#[must_use]
pub fn config(a: &AlertSpec) -> AutomationConfigBody {
    AutomationConfigBody::Logs(LogsAutomationBody {
        btql_filter: a.filter.clone(),
        interval_seconds: a.interval_seconds,
        action: action(&a.notify),
    })
}

/// The action the API takes for a notification target; shared with `environment_alert`.
pub(super) fn action(n: &Notify) -> AutomationAction {
    match n {
        Notify::Webhook { url } => {
            AutomationAction::Webhook(wire::WebhookAction { url: url.clone() })
        }
        Notify::Slack {
            workspace_id,
            channel,
            message_template,
        } => AutomationAction::Slack(wire::SlackTarget {
            workspace_id: workspace_id.clone(),
            channel: channel.clone(),
            // A cleared template is left out of the config, which is sent whole (A4, J15).
            message_template: message_template.clone().filter(|m| !m.is_empty()),
        }),
    }
}

/// The notification target of a listed action; shared with `environment_alert`.
pub(super) fn read_action(a: &AutomationAction) -> Notify {
    match a {
        AutomationAction::Webhook(w) => Notify::Webhook { url: w.url.clone() },
        AutomationAction::Slack(s) => Notify::Slack {
            workspace_id: s.workspace_id.clone(),
            channel: s.channel.clone(),
            message_template: s.message_template.clone(),
        },
    }
}

/// The spec of a `logs` automation as listed.
#[must_use]
pub fn read(description: Option<&String>, l: &wire::LogsAutomation) -> AlertSpec {
    AlertSpec {
        description: description.cloned(),
        filter: l.btql_filter.clone(),
        interval_seconds: super::automation::seconds(l.interval_seconds),
        notify: read_action(&l.action),
    }
}

/// The manifest entry `import` writes.
#[must_use]
pub fn manifest(name: &str, a: &AlertSpec) -> Value {
    super::drop_nulls(json!({
        "name": name, "description": a.description, "filter": a.filter, "interval": a.interval_seconds,
        "notify": notify_manifest(&a.notify),
    }))
}

/// A notification target as `import` writes it; shared with `environment_alert`.
pub(super) fn notify_manifest(n: &Notify) -> Value {
    match n {
        Notify::Webhook { url } => json!({ "webhook": url }),
        Notify::Slack {
            workspace_id,
            channel,
            message_template,
        } => json!({ "slack": super::drop_nulls(json!({
            "workspace_id": workspace_id, "channel": channel, "message_template": message_template,
        })) }),
    }
}
