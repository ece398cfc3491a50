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
    #[error("cannot fetch branch `{branch}` from `{remote}`")]
    Fetch {
        remote: String,
        branch: String,
        #[source]
        source: git2::Error,
    },
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
    let commit = commit_of(&repo, reference)?;
    let tree = commit.tree()?;
    let mut files: Vec<(String, Result<String, &'static str>)> = Vec::new();
    let odb = repo.odb()?;
    let mut total = 0usize;
    tree.walk(TreeWalkMode::PreOrder, |dir, entry| {
        let name = entry.name().unwrap_or("");
        let full = format!("{dir}{name}");
        let inside = prefix.is_empty() || full == prefix || full.starts_with(&format!("{prefix}/"));
        let hidden = full.split('/').any(|part| part.starts_with('.'));
        if entry.kind() == Some(ObjectType::Blob)
            && inside
            && !hidden
            && (name.ends_with(".yaml") || name.ends_with(".yml"))
        {
            files.push((full, read_blob(&repo, &odb, entry, &mut total)));
        }
        TreeWalkResult::Ok
    })?;
    files.sort();
    let mut sources = SourceMap::new();
    for (path, text) in files {
        let shown = format!("{reference}:{path}");
        match text {
            Ok(text) => {
                sources.add(shown, text);
            }
            Err(why) => {
                sources.add_refused(shown, why);
            }
        }
    }
    Ok(sources)
}

/// The most bytes of one manifest, and of all manifests, read from a commit.
const MAX_BLOB_BYTES: usize = 8 * 1024 * 1024;
const MAX_TREE_BYTES: usize = 64 * 1024 * 1024;

/// A manifest blob's text, or why it is not read: a symbolic link (git stores its target as the
/// blob), too large (its size is read from the object header, before its content), over the
/// tree's budget, or not UTF-8.
fn read_blob(
    repo: &Repository,
    odb: &git2::Odb<'_>,
    entry: &git2::TreeEntry<'_>,
    total: &mut usize,
) -> Result<String, &'static str> {
    if entry.filemode() == 0o120_000 {
        return Err("a symbolic link: links are not followed at a git ref");
    }
    let (size, _) = odb
        .read_header(entry.id())
        .map_err(|_| "an object git cannot read")?;
    if size > MAX_BLOB_BYTES {
        return Err("larger than 8 MiB");
    }
    if *total + size > MAX_TREE_BYTES {
        return Err("past the 64 MiB read from one commit");
    }
    *total += size;
    let blob = entry
        .to_object(repo)
        .and_then(|o| o.peel_to_blob())
        .map_err(|_| "an object git cannot read")?;
    std::str::from_utf8(blob.content())
        .map(str::to_owned)
        .map_err(|_| "not UTF-8 text")
}

/// The commit `reference` names.
fn commit_of<'r>(repo: &'r Repository, reference: &str) -> Result<git2::Commit<'r>, GitError> {
    repo.revparse_single(reference)
        .and_then(|o| o.peel_to_commit())
        .map_err(|source| GitError::UnknownRef {
            reference: reference.to_owned(),
            source,
        })
}

fn fs_canonical(p: &Path) -> PathBuf {
    fs_err::canonicalize(p).unwrap_or_else(|_| p.to_path_buf())
}

/// The commit a branch points at, after fetching it from `remote` when one is given. Returns
/// the commit id and the ref to read manifests from.
///
/// `remote` is a remote configured in the repository (`origin`), a local path to another
/// repository, a `file://` URL or an `https://` URL. Over HTTPS, a token in `token` (read from
/// [`BT_GITOPS_GIT_TOKEN`](crate::env::BT_GITOPS_GIT_TOKEN) by the caller) is sent as the
/// password, as GitHub and GitLab accept it. A URL or path is fetched into
/// `refs/bt-gitops/BRANCH`, a named remote into `refs/remotes/REMOTE/BRANCH`; without a remote,
/// `refs/heads/BRANCH` is read.
///
/// # Errors
/// When the repository, remote or branch cannot be found, or the fetch fails.
pub fn branch_head(
    path: &Path,
    remote: Option<&str>,
    branch: &str,
    token: Option<&str>,
) -> Result<(String, String), GitError> {
    let repo = open(path)?;
    let reference = match remote {
        Some(name) => {
            let fetch_error = |source| GitError::Fetch {
                remote: crate::redact::scrub(name).into_owned(),
                branch: branch.to_owned(),
                source,
            };
            let (mut remote, reference) = match repo.find_remote(name) {
                Ok(r) => (r, format!("refs/remotes/{name}/{branch}")),
                Err(_) if is_location(name) => (
                    repo.remote_anonymous(&location_url(name))
                        .map_err(fetch_error)?,
                    format!("refs/bt-gitops/{branch}"),
                ),
                Err(e) => return Err(fetch_error(e)),
            };
            let mut callbacks = git2::RemoteCallbacks::new();
            if let Some(token) = token {
                let token = token.to_owned();
                callbacks.credentials(move |_url, user, _allowed| {
                    git2::Cred::userpass_plaintext(user.unwrap_or("x-access-token"), &token)
                });
            }
            let mut options = git2::FetchOptions::new();
            options.remote_callbacks(callbacks);
            remote
                .fetch(
                    &[format!("+refs/heads/{branch}:{reference}")],
                    Some(&mut options),
                    None,
                )
                .map_err(fetch_error)?;
            reference
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

/// Whether a `--remote` value is a URL or a path rather than the name of a configured remote.
fn is_location(remote: &str) -> bool {
    remote.contains("://")
        || remote.contains('/')
        || remote.contains('\\')
        || remote.starts_with('.')
}

/// A path made absolute (libgit2 resolves relative paths against the repository, not the
/// current directory); URLs are kept as they are.
fn location_url(remote: &str) -> String {
    if remote.contains("://") {
        remote.to_owned()
    } else {
        fs_canonical(Path::new(remote))
            .to_string_lossy()
            .into_owned()
    }
}

/// Commits `files` (repository-relative path, new text) on top of the commit `base` names, as
/// branch `branch` (created, or moved to the new commit when it exists), without touching the
/// work tree, the index or `HEAD`. Returns the new commit's id. The committer is the
/// repository's configured user, else `bt-gitops`.
///
/// # Errors
/// When the repository or `base` cannot be found, a path is not a relative path inside the
/// repository, or git cannot write the objects.
pub fn commit_files(
    path: &Path,
    base: &str,
    branch: &str,
    files: &[(String, String)],
    message: &str,
) -> Result<String, GitError> {
    let repo = open(path)?;
    let parent = commit_of(&repo, base)?;
    let mut update = git2::build::TreeUpdateBuilder::new();
    for (file, text) in files {
        let inside = !file.is_empty()
            && !file.starts_with('/')
            && file.split('/').all(|part| !matches!(part, "" | "." | ".."));
        if !inside {
            return Err(GitError::OutsideRepo {
                path: PathBuf::from(file),
                root: repo.path().to_path_buf(),
            });
        }
        let blob = repo.blob(text.as_bytes())?;
        update.upsert(file.as_str(), blob, git2::FileMode::Blob);
    }
    let tree_id = update.create_updated(&repo, &parent.tree()?)?;
    let tree = repo.find_tree(tree_id)?;
    let signature = repo
        .signature()
        .or_else(|_| git2::Signature::now("bt-gitops", "bt-gitops@localhost"))?;
    let commit = repo.commit(None, &signature, &signature, message, &tree, &[&parent])?;
    repo.reference(
        &format!("refs/heads/{branch}"),
        commit,
        true,
        "bt-gitops: drift proposal",
    )?;
    Ok(commit.to_string())
}

/// Pushes local branch `branch` to the same branch of `remote` (a configured remote's name, a
/// path, or a URL), replacing what is there: the proposal branch belongs to bt-gitops. `token`
/// authenticates HTTPS remotes (as GitHub's `x-access-token` user).
///
/// # Errors
/// When the remote cannot be reached, refuses the push, or the branch does not exist.
pub fn push_branch(
    path: &Path,
    remote: &str,
    branch: &str,
    token: Option<&str>,
) -> Result<(), GitError> {
    let repo = open(path)?;
    let mut remote = match repo.find_remote(remote) {
        Ok(found) => found,
        Err(_) => repo.remote_anonymous(remote)?,
    };
    let refused = std::cell::RefCell::new(None::<String>);
    let mut callbacks = git2::RemoteCallbacks::new();
    if let Some(token) = token {
        callbacks
            .credentials(move |_, _, _| git2::Cred::userpass_plaintext("x-access-token", token));
    }
    callbacks.push_update_reference(|name, status| {
        if let Some(why) = status {
            *refused.borrow_mut() = Some(format!("{name}: {why}"));
        }
        Ok(())
    });
    let mut options = git2::PushOptions::new();
    options.remote_callbacks(callbacks);
    remote.push(
        &[format!("+refs/heads/{branch}:refs/heads/{branch}")],
        Some(&mut options),
    )?;
    drop(options);
    if let Some(why) = refused.into_inner() {
        return Err(GitError::Git(git2::Error::from_str(&format!(
            "the remote refused the push of {why}"
        ))));
    }
    Ok(())
}
