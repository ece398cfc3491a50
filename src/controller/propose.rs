//! Drift to pull request, the IO part: the proposal of [`crate::propose::write_back`] committed
//! on a branch, pushed, and offered as one pull request through the GitHub REST API (opened the
//! first time, updated afterwards). The controller calls [`open_or_update`] for the drifted
//! objects of kinds whose policy is `propose`.

use std::fmt::Write as _;
use std::path::PathBuf;

use crate::api::github::{self, GitHub, Proposed};
use crate::live::LiveState;
use crate::model::{DesiredState, ResourceKey};
use crate::propose::{self, Skipped};
use crate::source::SourceMap;

/// Where proposals go.
#[derive(Debug, Clone)]
pub struct ProposeConfig {
    /// A clone of the manifest repository (its work tree is never touched).
    pub repo: PathBuf,
    /// The ref the manifests were read from with `git::sources_at` (e.g. `refs/remotes/origin/main`);
    /// source paths are `BASE_REF:path`.
    pub base_ref: String,
    /// The branch the pull request merges into (e.g. `main`).
    pub base_branch: String,
    /// The proposal branch, owned by bt-gitops and replaced on every proposal.
    pub branch: String,
    /// The git remote to push to: a configured remote's name, a path or a URL.
    pub remote: String,
    /// `owner/name` on GitHub.
    pub github_repo: String,
    /// The GitHub REST API base URL ([`github::DEFAULT_API_URL`]).
    pub github_url: String,
    /// Pushes the branch and calls the API.
    pub token: String,
}

impl ProposeConfig {
    /// The GitHub URL and token from the environment ([`crate::env::BT_GITOPS_GITHUB_API_URL`],
    /// [`crate::env::BT_GITOPS_GITHUB_TOKEN`]); `None` without a token.
    #[must_use]
    pub fn github_from_env() -> Option<(String, String)> {
        let token = std::env::var(crate::env::BT_GITOPS_GITHUB_TOKEN)
            .ok()
            .filter(|t| !t.is_empty())?;
        crate::redact::register(&token);
        let url = std::env::var(crate::env::BT_GITOPS_GITHUB_API_URL)
            .ok()
            .filter(|u| !u.is_empty())
            .unwrap_or_else(|| github::DEFAULT_API_URL.to_owned());
        Some((url, token))
    }
}

/// What a proposal did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProposeOutcome {
    /// The pull request, when any object could be written back.
    pub pull_request: Option<Proposed>,
    /// The proposal branch's commit.
    pub commit: Option<String>,
    pub written: Vec<ResourceKey>,
    pub skipped: Vec<Skipped>,
}

/// Why a proposal failed.
#[derive(Debug, thiserror::Error)]
pub enum ProposeError {
    #[error("manifest `{0}` was not read from the proposal's base ref")]
    NotFromBase(String),
    #[error("cannot commit or push the proposal branch")]
    Git(#[from] crate::git::GitError),
    #[error("cannot open or update the pull request")]
    GitHub(#[from] crate::api::error::ApiError),
    #[error("cannot set up the GitHub client")]
    Client(#[source] anyhow::Error),
    #[error("the git task stopped")]
    Task(#[from] tokio::task::JoinError),
}

/// Writes the live values of `drifted` back into the manifests (`sources`, read at
/// `config.base_ref`), commits the edited files on `config.branch`, pushes it and opens or
/// updates its pull request. Nothing is pushed when no object could be written back.
///
/// # Errors
/// When a source is not from the base ref, or git or GitHub fail.
pub async fn open_or_update(
    config: &ProposeConfig,
    sources: &SourceMap,
    desired: &DesiredState,
    live: &LiveState,
    drifted: &[ResourceKey],
) -> Result<ProposeOutcome, ProposeError> {
    let proposal = propose::write_back(sources, desired, live, drifted);
    let mut outcome = ProposeOutcome {
        pull_request: None,
        commit: None,
        written: proposal.written,
        skipped: proposal.skipped,
    };
    if proposal.files.is_empty() {
        return Ok(outcome);
    }
    let prefix = format!("{}:", config.base_ref);
    let files = proposal
        .files
        .into_iter()
        .map(|f| match f.path.strip_prefix(&prefix) {
            Some(path) => Ok((path.to_owned(), f.text)),
            None => Err(ProposeError::NotFromBase(f.path)),
        })
        .collect::<Result<Vec<_>, _>>()?;
    let (title, body) = describe(&outcome.written, &outcome.skipped);
    let message = format!("{title}\n\n{body}");
    let git = config.clone();
    let commit = tokio::task::spawn_blocking(move || {
        let commit =
            crate::git::commit_files(&git.repo, &git.base_ref, &git.branch, &files, &message)?;
        crate::git::push_branch(&git.repo, &git.remote, &git.branch, Some(&git.token))?;
        Ok::<_, ProposeError>(commit)
    })
    .await??;
    let github = GitHub::new(&config.github_url, &config.token, &config.github_repo)
        .map_err(ProposeError::Client)?;
    let pull = github
        .propose(&config.branch, &config.base_branch, &title, &body)
        .await?;
    outcome.commit = Some(commit);
    outcome.pull_request = Some(pull);
    Ok(outcome)
}

/// The pull request's title and body: which objects drifted and were written back, and which
/// could not be.
fn describe(written: &[ResourceKey], skipped: &[Skipped]) -> (String, String) {
    let title = match written.len() {
        1 => format!("bt-gitops: accept drift of {}", written[0]),
        n => format!("bt-gitops: accept drift of {n} objects"),
    };
    let mut body = String::from(
        "These objects were changed outside the manifests. This branch writes their live values \
         back into the manifests; merge it to keep the changes, or close it and let an apply \
         revert them.\n\n",
    );
    for key in written {
        let _ = writeln!(body, "- `{key}`");
    }
    if !skipped.is_empty() {
        body.push_str("\nAlso drifted, but not written back:\n\n");
        for s in skipped {
            let _ = writeln!(body, "- `{}`: {}", s.key, s.reason);
        }
    }
    (title, body)
}
