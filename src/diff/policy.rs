//! The org's `api_key_policy` checked against the live API keys: which keys break it (too old,
//! or owned by someone outside `allowed_users`). Pure: the caller passes the current time.
//! Violations are listed in the plan's notes; `on_violation: delete` says they would be deleted,
//! which this version does not plan yet. On the real API the key list holds only the caller's
//! own keys (assumption K7, contradicted), so other users' keys are not seen there.

use crate::live::LiveState;
use crate::model::{DesiredState, PolicyAction};

/// One message per live API key that breaks its org's policy, in org and key order.
#[must_use]
pub fn api_key_violations(desired: &DesiredState, live: &LiveState, now_unix: i64) -> Vec<String> {
    let mut out = Vec::new();
    for (org, cfg) in &desired.orgs {
        let Some(policy) = &cfg.api_key_policy else {
            continue;
        };
        let mut keys: Vec<_> = live.api_keys.iter().filter(|k| k.org == *org).collect();
        keys.sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));
        for k in keys {
            let mut why = Vec::new();
            if let (Some(max), Some(created)) = (policy.max_age_days, k.created.as_deref())
                && let Ok(ts) = created.parse::<jiff::Timestamp>()
            {
                let age_days = (now_unix - ts.as_second()) / 86_400;
                if age_days > i64::from(max) {
                    why.push(format!("is {age_days} days old (max_age_days: {max})"));
                }
            }
            if let Some(allowed) = &policy.allowed_users {
                let owner = k.owner_email.as_deref().unwrap_or("");
                if !allowed
                    .iter()
                    .any(|e| e.as_str().eq_ignore_ascii_case(owner))
                {
                    let who = if owner.is_empty() {
                        "an unknown owner"
                    } else {
                        owner
                    };
                    why.push(format!("belongs to {who}, who is not in allowed_users"));
                }
            }
            if why.is_empty() {
                continue;
            }
            let action = match policy.on_violation {
                PolicyAction::Report => "reported only (on_violation: report)",
                PolicyAction::Delete => {
                    "on_violation: delete, but deleting API keys is not planned by this version; delete it in the Braintrust UI"
                }
            };
            out.push(format!(
                "api_key_policy of org `{org}`: API key `{}` {}; {action}",
                k.name,
                why.join(" and ")
            ));
        }
    }
    out
}
