//! Posting a JSON notification to a webhook (a generic receiver or a Slack incoming webhook).
//!
//! The URL itself is a secret (Slack's carries its token): it is registered with
//! [`redact`](crate::redact) by whoever reads it, and errors name only its host.

use std::time::Duration;

use super::error::ApiError;

/// How long one notification may take.
const TIMEOUT: Duration = Duration::from_secs(10);

/// Posts `body` as JSON to `url` once (a lost notification is logged by the caller, not
/// retried: the next change of drift sends a new one).
///
/// # Errors
/// When the request fails or the receiver answers with a non-success status.
pub async fn post_json(url: &str, body: &serde_json::Value) -> Result<(), ApiError> {
    let shown = shown_url(url);
    let transport = |e: reqwest::Error| ApiError::Transport {
        method: "POST".to_owned(),
        url: shown.clone(),
        message: crate::redact::scrub(&e.without_url().to_string()).into_owned(),
    };
    let http = reqwest::Client::builder()
        .timeout(TIMEOUT)
        .user_agent(concat!("bt-gitops/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(transport)?;
    let resp = http.post(url).json(body).send().await.map_err(transport)?;
    let status = resp.status();
    if status.is_success() {
        return Ok(());
    }
    let text = resp.text().await.unwrap_or_default();
    Err(ApiError::Status {
        method: "POST".to_owned(),
        url: shown,
        status: status.as_u16(),
        body: crate::redact::scrub(&text.chars().take(200).collect::<String>()).into_owned(),
        retry_after: None,
    })
}

/// `scheme://host[:port]/…`: the URL without its path, which may hold a token.
fn shown_url(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(u) => format!(
            "{}://{}{}/…",
            u.scheme(),
            u.host_str().unwrap_or(""),
            u.port().map(|p| format!(":{p}")).unwrap_or_default()
        ),
        Err(_) => "the webhook URL".to_owned(),
    }
}
