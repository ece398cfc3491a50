//! Git integration over a temporary repository: manifests at a ref without a checkout, `--base`
//! change marking, and the commit recorded in plans and in the apply journal.

use std::path::Path;

use serde_json::Value;

use crate::support::run_in;

/// Commits every file of the work tree and returns the commit id.
pub(crate) fn commit_all(repo: &git2::Repository, message: &str) -> String {
    let mut index = repo.index().expect("index");
    index
        .add_all(["*"].iter(), git2::IndexAddOption::DEFAULT, None)
        .expect("add");
    index.write().expect("write index");
    let tree = repo
        .find_tree(index.write_tree().expect("tree"))
        .expect("find tree");
    let sig = git2::Signature::now("Ada Reviewer", "ada@acme.com").expect("signature");
    let parents: Vec<git2::Commit<'_>> = repo
        .head()
        .ok()
        .and_then(|h| h.peel_to_commit().ok())
        .into_iter()
        .collect();
    let parents: Vec<&git2::Commit<'_>> = parents.iter().collect();
    repo.commit(Some("HEAD"), &sig, &sig, message, &tree, &parents)
        .expect("commit")
        .to_string()
}

fn write(dir: &Path, path: &str, text: &str) {
    let path = dir.join(path);
    fs_err::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    fs_err::write(path, text).expect("write");
}

const ORG: &str = "org: acme\n";
const PROJECT: &str = "project: chatbot-prod\ntags:\n  - { name: golden, color: \"#30a46c\" }\n";

#[test]
fn manifests_at_a_ref_and_changes_since_a_base() {
    let dir = tempfile::tempdir().expect("temp dir");
    let repo = git2::Repository::init(dir.path()).expect("init");
    write(dir.path(), ".gitignore", ".bt-gitops/\n");
    write(dir.path(), "manifests/org.yaml", ORG);
    write(dir.path(), "manifests/chatbot.yaml", PROJECT);
    let base = commit_all(&repo, "first");
    write(
        dir.path(),
        "manifests/chatbot.yaml",
        &format!("{PROJECT}  - {{ name: added-in-branch }}\n"),
    );
    let head = commit_all(&repo, "add a tag");

    // The work tree is broken, but the committed manifests validate.
    write(dir.path(), "manifests/chatbot.yaml", "project: [");
    let broken = run_in(dir.path(), &["validate", "manifests"]);
    assert_eq!(broken.code, Some(1), "{}", broken.stderr);
    let at_head = run_in(dir.path(), &["validate", "--git-ref", "HEAD", "manifests"]);
    assert_eq!(at_head.code, Some(0), "{}", at_head.stderr);
    let unknown = run_in(
        dir.path(),
        &["validate", "--git-ref", "no-such-branch", "manifests"],
    );
    assert_eq!(unknown.code, Some(1));
    assert!(
        unknown.stderr.contains("no-such-branch"),
        "{}",
        unknown.stderr
    );

    // A plan at HEAD, marking what changed since the base commit.
    let run = run_in(
        dir.path(),
        &[
            "plan",
            "--emulator",
            "--git-ref",
            "HEAD",
            "--base",
            &base,
            "--format",
            "json",
            "manifests",
        ],
    );
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let plan: Value = serde_json::from_str(&run.stdout).expect("json");
    assert_eq!(plan["commit"], Value::String(head.clone()));
    assert_eq!(plan["author"], "Ada Reviewer <ada@acme.com>");
    assert_eq!(plan["base"], Value::String(base.clone()));
    let changes = plan["changes"].as_array().expect("changes");
    let touched: Vec<&str> = changes
        .iter()
        .filter(|c| c["touched"] == true)
        .filter_map(|c| c["address"].as_str())
        .collect();
    assert_eq!(touched, ["project:acme/chatbot-prod/tag:added-in-branch"]);
    let human = run_in(
        dir.path(),
        &[
            "plan",
            "--emulator",
            "--git-ref",
            "HEAD",
            "--base",
            &base,
            "manifests",
        ],
    );
    assert!(
        human.stdout.contains("tag:added-in-branch [changed here]"),
        "{}",
        human.stdout
    );
    let markdown = run_in(
        dir.path(),
        &[
            "plan",
            "--emulator",
            "--git-ref",
            "HEAD",
            "--base",
            &base,
            "--format",
            "markdown",
            "manifests",
        ],
    );
    assert!(
        markdown.stdout.contains("[changed here]"),
        "{}",
        markdown.stdout
    );
}

#[test]
fn plans_say_when_the_work_tree_is_dirty_and_the_journal_records_the_commit() {
    let dir = tempfile::tempdir().expect("temp dir");
    let repo = git2::Repository::init(dir.path()).expect("init");
    write(dir.path(), ".gitignore", ".bt-gitops/\n");
    write(dir.path(), "manifests/org.yaml", ORG);
    write(dir.path(), "manifests/chatbot.yaml", PROJECT);
    let head = commit_all(&repo, "first");

    let clean = run_in(
        dir.path(),
        &["plan", "--emulator", "--format", "json", "manifests"],
    );
    let plan: Value = serde_json::from_str(&clean.stdout).expect("json");
    assert_eq!(plan["commit"], Value::String(head.clone()));
    assert!(
        plan.get("dirty").is_none(),
        "a clean tree is not dirty: {plan}"
    );

    write(
        dir.path(),
        "manifests/chatbot.yaml",
        &format!("{PROJECT}  - {{ name: uncommitted }}\n"),
    );
    let dirty = run_in(dir.path(), &["plan", "--emulator", "manifests"]);
    assert!(
        dirty
            .stdout
            .contains("uncommitted changes in the work tree"),
        "{}",
        dirty.stdout
    );

    let apply = run_in(
        dir.path(),
        &["apply", "--emulator", "--auto-approve", "manifests"],
    );
    assert_eq!(apply.code, Some(0), "{}\n{}", apply.stdout, apply.stderr);
    let journal_dir = dir.path().join(".bt-gitops/journal");
    let entry = fs_err::read_dir(&journal_dir)
        .expect("journal")
        .filter_map(Result::ok)
        .next()
        .expect("one journal");
    let text = fs_err::read_to_string(entry.path()).expect("journal text");
    let start: Value =
        serde_json::from_str(text.lines().next().expect("start line")).expect("json line");
    assert_eq!(start["event"], "start");
    assert_eq!(start["commit"], Value::String(head));
}

/// At a git ref, a committed link (to `/proc/self/environ`, say) is refused, never followed
/// nor read as text, and the diagnostic has a location.
#[test]
fn a_committed_symbolic_link_is_refused_at_a_ref() {
    let dir = tempfile::tempdir().expect("temp dir");
    let repo = git2::Repository::init(dir.path()).expect("init");
    write(dir.path(), "manifests/org.yaml", ORG);
    #[cfg(unix)]
    std::os::unix::fs::symlink("/proc/self/environ", dir.path().join("manifests/zz.yaml"))
        .expect("symlink");
    commit_all(&repo, "a link");
    let run = run_in(dir.path(), &["validate", "--git-ref", "HEAD", "manifests"]);
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert!(
        run.stderr.contains("error[E0007]")
            && run.stderr.contains(",-[HEAD:manifests/zz.yaml:1:1]"),
        "{}",
        run.stderr
    );
}
