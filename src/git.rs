//! Git: the only module that knows git2. Reads manifests at any ref without a checkout, and
//! says which commit (and whether a dirty work tree) a plan was made from.

use std::path::{Path, PathBuf};

use git2::{ObjectType, Repository, StatusOptions, TreeWalkMode, TreeWalkResult};

use crate::source::SourceMap;

/// Why git could not answer.
#[derive(Debug, thiserror::Error)]
pub enum GitError {
    #[error("`{path}` is not inside a git repository")]
    NotARepo {
        path: PathBuf,
        #[source]
        source: git2::Error,
    },
    #[error("`{reference}` does not name a commit in this repository")]
    UnknownRef {
        reference: String,
        #[source]
        source: git2::Error,
    },
    #[error("`{path}` is not inside the repository at `{root}`")]
    OutsideRepo { path: PathBuf, root: PathBuf },
    #[error(transparent)]
    Git(#[from] git2::Error),
}

/// The commit a run is based on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitInfo {
    pub id: String,
    pub author: String,
    /// The work tree has uncommitted changes to tracked or new files.
    pub dirty: bool,
}

/// The repository holding `path`.
///
/// # Errors
/// When `path` is not in a repository.
pub fn open(path: &Path) -> Result<Repository, GitError> {
    Repository::discover(path).map_err(|source| GitError::NotARepo {
        path: path.to_path_buf(),
        source,
    })
}

/// `HEAD`'s commit and whether the work tree is dirty; `None` outside a repository or before
/// the first commit.
#[must_use]
pub fn head(path: &Path) -> Option<CommitInfo> {
    let repo = open(path).ok()?;
    let commit = repo.head().ok()?.peel_to_commit().ok()?;
    let author = author_of(&commit);
    let mut options = StatusOptions::new();
    options.include_untracked(true).include_ignored(false);
    // bt-gitops's own state (emulator, journal) is not a change to the manifests.
    let dirty = repo
        .statuses(Some(&mut options))
        .map(|s| {
            s.iter()
                .any(|e| e.path().map_or(true, |p| !p.starts_with(".bt-gitops/")))
        })
        .unwrap_or(false);
    Some(CommitInfo {
        id: commit.id().to_string(),
        author,
        dirty,
    })
}

/// The commit a reference names, for plans made with `--git-ref` (never dirty).
#[must_use]
pub fn commit_at(path: &Path, reference: &str) -> Option<CommitInfo> {
    let repo = open(path).ok()?;
    let commit = repo
        .revparse_single(reference)
        .ok()?
        .peel_to_commit()
        .ok()?;
    Some(CommitInfo {
        id: commit.id().to_string(),
        author: author_of(&commit),
        dirty: false,
    })
}

fn author_of(commit: &git2::Commit<'_>) -> String {
    let author = commit.author();
    match (author.name().ok(), author.email().ok()) {
        (Some(n), Some(e)) => format!("{n} <{e}>"),
        (Some(n), None) => n.to_owned(),
        _ => String::from("unknown"),
    }
}

/// The `.yaml`/`.yml` files under `path` as they are at `reference` (a branch, tag, commit or
/// any revision git understands), without touching the work tree. Paths are shown as
/// `REF:path`.
///
/// # Errors
/// When `path` is outside a repository, or the reference names no commit.
pub fn sources_at(path: &Path, reference: &str) -> Result<SourceMap, GitError> {
    let repo = open(path)?;
    let root = repo
        .workdir()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| repo.path().to_path_buf());
    let absolute = fs_canonical(path);
    let prefix = absolute
        .strip_prefix(fs_canonical(&root))
        .map_err(|_| GitError::OutsideRepo {
            path: path.to_path_buf(),
            root: root.clone(),
        })?
        .to_string_lossy()
        .replace('\\', "/");
    let commit = repo
        .revparse_single(reference)
        .and_then(|o| o.peel_to_commit())
        .map_err(|source| GitError::UnknownRef {
            reference: reference.to_owned(),
            source,
        })?;
    let tree = commit.tree()?;
    let mut files: Vec<(String, String)> = Vec::new();
    tree.walk(TreeWalkMode::PreOrder, |dir, entry| {
        let name = entry.name().unwrap_or("");
        let full = format!("{dir}{name}");
        let inside = prefix.is_empty() || full == prefix || full.starts_with(&format!("{prefix}/"));
        let hidden = full.split('/').any(|part| part.starts_with('.'));
        if entry.kind() == Some(ObjectType::Blob)
            && inside
            && !hidden
            && (name.ends_with(".yaml") || name.ends_with(".yml"))
            && let Ok(blob) = entry.to_object(&repo).and_then(|o| o.peel_to_blob())
            && let Ok(text) = std::str::from_utf8(blob.content())
        {
            files.push((full, text.to_owned()));
        }
        TreeWalkResult::Ok
    })?;
    files.sort();
    let mut sources = SourceMap::new();
    for (path, text) in files {
        sources.add(format!("{reference}:{path}"), text);
    }
    Ok(sources)
}

fn fs_canonical(p: &Path) -> PathBuf {
    fs_err::canonicalize(p).unwrap_or_else(|_| p.to_path_buf())
}

/// The commit a branch points at, after fetching it from `remote` when one is named. Returns
/// the commit id and the ref to read manifests from (`refs/remotes/REMOTE/BRANCH` or
/// `refs/heads/BRANCH`).
///
/// # Errors
/// When the repository, remote or branch cannot be found, or the fetch fails. Remotes reached
/// over the network need git2's transport features; local paths and `file://` URLs always work.
pub fn branch_head(
    path: &Path,
    remote: Option<&str>,
    branch: &str,
) -> Result<(String, String), GitError> {
    let repo = open(path)?;
    let reference = match remote {
        Some(name) => {
            let mut remote = repo.find_remote(name)?;
            remote.fetch(
                &[format!("refs/heads/{branch}:refs/remotes/{name}/{branch}")],
                None,
                None,
            )?;
            format!("refs/remotes/{name}/{branch}")
        }
        None => format!("refs/heads/{branch}"),
    };
    let commit = repo
        .revparse_single(&reference)
        .and_then(|o| o.peel_to_commit())
        .map_err(|source| GitError::UnknownRef {
            reference: reference.clone(),
            source,
        })?;
    Ok((commit.id().to_string(), reference))
}
