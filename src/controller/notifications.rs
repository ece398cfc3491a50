//! Drift notifications: a generic webhook (JSON) and a Slack incoming webhook, each sent once
//! per new drift and once when it is resolved, listing objects and fields. Objects that hold a
//! secret are listed without values, and every payload passes through
//! [`redact`](crate::redact) before it leaves. Requests go through [`api`](crate::api).

use serde_json::{Value, json};

use super::DriftedObject;

/// Where notifications go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A receiver of the JSON payload `{"event", "objects"}`.
    Webhook(String),
    /// A Slack incoming-webhook URL (`{"text"}`).
    Slack(String),
}

/// The notification targets of a controller (none by default).
#[derive(Debug, Clone, Default)]
pub struct Notifier {
    targets: Vec<Target>,
}

impl Notifier {
    /// Notifies these targets. Their URLs are registered as secrets.
    #[must_use]
    pub fn new(targets: Vec<Target>) -> Notifier {
        for t in &targets {
            let (Target::Webhook(url) | Target::Slack(url)) = t;
            crate::redact::register(url);
        }
        Notifier { targets }
    }

    /// The targets named by [`BT_GITOPS_WEBHOOK_URL`](crate::env::BT_GITOPS_WEBHOOK_URL) and
    /// [`BT_GITOPS_SLACK_WEBHOOK_URL`](crate::env::BT_GITOPS_SLACK_WEBHOOK_URL).
    #[must_use]
    pub fn from_env() -> Notifier {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let mut targets = Vec::new();
        if let Some(url) = var(crate::env::BT_GITOPS_WEBHOOK_URL) {
            targets.push(Target::Webhook(url.trim().to_owned()));
        }
        if let Some(url) = var(crate::env::BT_GITOPS_SLACK_WEBHOOK_URL) {
            targets.push(Target::Slack(url.trim().to_owned()));
        }
        Notifier::new(targets)
    }

    /// Names of the targets, for the start-up log (never their URLs).
    #[must_use]
    pub fn kinds(&self) -> Vec<&'static str> {
        self.targets
            .iter()
            .map(|t| match t {
                Target::Webhook(_) => "webhook",
                Target::Slack(_) => "slack",
            })
            .collect()
    }

    /// Tells every target about new drift; returns what could not be sent.
    pub async fn drift(&self, objects: &[DriftedObject]) -> Vec<String> {
        self.send("drift", objects).await
    }

    /// Tells every target that drift is gone; returns what could not be sent.
    pub async fn resolved(&self, objects: &[DriftedObject]) -> Vec<String> {
        self.send("drift_resolved", objects).await
    }

    async fn send(&self, event: &str, objects: &[DriftedObject]) -> Vec<String> {
        let mut failures = Vec::new();
        for target in &self.targets {
            let (url, body, name) = match target {
                Target::Webhook(url) => (url, webhook_body(event, objects), "webhook"),
                Target::Slack(url) => (url, slack_body(event, objects), "Slack"),
            };
            if let Err(err) = crate::api::webhook::post_json(url, &scrubbed(body)).await {
                failures.push(format!("the {name} notification was not sent: {err}"));
            }
        }
        failures
    }
}

/// `value` with every registered secret masked.
fn scrubbed(value: Value) -> Value {
    let text = value.to_string();
    match crate::redact::scrub(&text) {
        std::borrow::Cow::Borrowed(_) => value,
        std::borrow::Cow::Owned(clean) => serde_json::from_str(&clean).unwrap_or(Value::Null),
    }
}

/// The generic payload: `{"event": "drift" | "drift_resolved", "objects": [...]}`.
#[must_use]
pub fn webhook_body(event: &str, objects: &[DriftedObject]) -> Value {
    json!({ "source": "bt-gitops", "event": event, "objects": objects })
}

/// Slack's payload: one line per object, its fields after it.
#[must_use]
pub fn slack_body(event: &str, objects: &[DriftedObject]) -> Value {
    let mut text = match event {
        "drift" => format!(
            ":warning: bt-gitops: {} object(s) differ from the manifests\n",
            objects.len()
        ),
        _ => format!(
            ":white_check_mark: bt-gitops: drift resolved for {} object(s)\n",
            objects.len()
        ),
    };
    for o in objects {
        text.push_str(&format!("• `{}`", o.address));
        if event == "drift" {
            let fields: Vec<String> = o
                .fields
                .iter()
                .map(|f| match (&f.live, &f.manifests) {
                    (Some(l), Some(m)) => format!("`{}`: live {l}, manifests {m}", f.field),
                    _ => format!("`{}`", f.field),
                })
                .collect();
            if fields.is_empty() {
                text.push_str(&format!(" ({:?})", o.action).to_lowercase());
            } else {
                text.push_str(&format!(": {}", fields.join("; ")));
            }
        }
        text.push('\n');
    }
    json!({ "text": text })
}
