//! The GitHub REST API, as far as drift proposals need it: find the open pull request of a
//! branch, open one, or update its title and body. Same client as the Braintrust API (retries,
//! rate limits, redacted errors), with the token from [`crate::env::BT_GITOPS_GITHUB_TOKEN`].

use serde::Deserialize;
use serde_json::json;

use super::client::{Client, ClientConfig, Method};
use super::error::ApiError;

/// GitHub's API when [`crate::env::BT_GITOPS_GITHUB_API_URL`] is unset.
pub const DEFAULT_API_URL: &str = "https://api.github.com";

/// One repository on GitHub (or GitHub Enterprise).
#[derive(Debug, Clone)]
pub struct GitHub {
    client: Client,
    /// `owner/name`.
    repo: String,
}

/// A pull request as GitHub returns it (the fields used).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PullRequest {
    pub number: u64,
    pub html_url: String,
}

/// What [`GitHub::propose`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Proposed {
    Opened(PullRequest),
    Updated(PullRequest),
}

impl GitHub {
    /// A client for `repo` (`owner/name`) at `base_url` with `token`.
    ///
    /// # Errors
    /// When the base URL is refused (plain HTTP off loopback) or the TLS stack cannot start.
    pub fn new(base_url: &str, token: &str, repo: &str) -> Result<GitHub, anyhow::Error> {
        crate::redact::register(token);
        let client = Client::new(ClientConfig::new(base_url.trim_end_matches('/'), token))?;
        Ok(GitHub {
            client,
            repo: repo.to_owned(),
        })
    }

    /// Opens a pull request from `head` into `base`, or, when one is already open from `head`,
    /// updates its title and body: one pull request per proposal branch.
    ///
    /// # Errors
    /// When GitHub refuses or cannot be reached.
    pub async fn propose(
        &self,
        head: &str,
        base: &str,
        title: &str,
        body: &str,
    ) -> Result<Proposed, ApiError> {
        let owner = self.repo.split('/').next().unwrap_or_default();
        let pulls = format!("/repos/{}/pulls", self.repo);
        let open: Vec<PullRequest> = self
            .client
            .get(
                &pulls,
                &[
                    ("head", format!("{owner}:{head}")),
                    ("base", base.to_owned()),
                    ("state", "open".to_owned()),
                ],
            )
            .await?;
        match open.first() {
            Some(existing) => {
                let path = format!("{pulls}/{}", existing.number);
                let updated = self
                    .client
                    .send(
                        Method::PATCH,
                        &path,
                        &json!({ "title": title, "body": body }),
                    )
                    .await?;
                Ok(Proposed::Updated(updated))
            }
            None => {
                let body = json!({ "title": title, "head": head, "base": base, "body": body });
                let opened = self.client.send(Method::POST, &pulls, &body).await?;
                Ok(Proposed::Opened(opened))
            }
        }
    }
}
