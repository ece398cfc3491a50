//! Every example manifest tree validates cleanly.

use crate::support::{root, run_in};

#[test]
fn examples_validate() {
    let examples = root().join("examples");
    let mut dirs: Vec<_> = fs_err::read_dir(&examples)
        .expect("examples/ exists")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.is_dir()
                && fs_err::read_dir(p).is_ok_and(|mut d| {
                    d.any(|e| {
                        e.is_ok_and(|e| {
                            e.path().extension().is_some_and(|x| x == "yaml") || e.path().is_dir()
                        })
                    })
                })
        })
        .filter(|p| p.file_name().is_some_and(|n| n != "github"))
        .collect();
    dirs.sort();
    assert!(
        dirs.len() >= 2,
        "expected examples/minimal and examples/acme"
    );
    for dir in dirs {
        let run = run_in(&root(), &["validate", &dir.to_string_lossy()]);
        assert_eq!(
            run.code,
            Some(0),
            "{} does not validate:\n{}",
            dir.display(),
            run.stderr
        );
        assert!(
            run.stderr.is_empty(),
            "{} has warnings:\n{}",
            dir.display(),
            run.stderr
        );
        assert!(run.stdout.starts_with("ok: "), "{}", run.stdout);
    }
}

#[test]
fn acme_covers_every_kind() {
    let run = run_in(&root(), &["validate", "examples/acme"]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    insta::assert_snapshot!(run.stdout, @"ok: 6 files, 2 orgs, 4 projects, 80 objects");
}

/// Copies a directory tree (the example manifests) into `to`.
fn copy_tree(from: &std::path::Path, to: &std::path::Path) {
    fs_err::create_dir_all(to).expect("mkdir");
    for entry in fs_err::read_dir(from)
        .expect("readable")
        .filter_map(Result::ok)
    {
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            fs_err::copy(entry.path(), &target).expect("copy");
        }
    }
}

/// The README's flagship: from a fresh emulator state, `apply --emulator examples/acme` runs
/// every change (the scorer by function slug, the grant on a dataset, the service token), and
/// the next plan is empty.
#[test]
fn acme_converges_under_the_emulator() {
    let dir = tempfile::tempdir().expect("tempdir");
    copy_tree(&root().join("examples/acme"), &dir.path().join("acme"));
    let apply = run_in(
        dir.path(),
        &["apply", "--emulator", "--auto-approve", "acme"],
    );
    assert_eq!(
        apply.code,
        Some(0),
        "stdout:\n{}\nstderr:\n{}",
        apply.stdout,
        apply.stderr
    );
    assert!(
        apply.stdout.contains("0 failed, 0 skipped, 0 refused"),
        "{}",
        apply.stdout
    );
    assert!(
        dir.path().join("acme/.secrets/ci-bot.token").exists(),
        "the service token was created and its key written"
    );
    let plan = run_in(
        dir.path(),
        &["plan", "--emulator", "--detailed-exitcode", "acme"],
    );
    assert_eq!(
        plan.code,
        Some(0),
        "the plan after apply is not empty:\n{}\n{}",
        plan.stdout,
        plan.stderr
    );
}

/// A scorer, grant or baseline naming an object that does not exist is refused in the plan
/// (exit 1, nothing applied), never a failure after merge.
#[test]
fn names_that_do_not_resolve_are_refused_at_plan_time() {
    let dir = tempfile::tempdir().expect("tempdir");
    copy_tree(&root().join("examples/acme"), &dir.path().join("acme"));
    let research = dir.path().join("acme/projects/research.yaml");
    let text = fs_err::read_to_string(&research)
        .expect("read")
        .replace("function: session-judge", "function: missing-judge")
        .replace("dataset: golden-questions", "dataset: missing-set")
        .replace(
            "baseline_experiment: baseline-2026-10",
            "baseline_experiment: missing-exp",
        );
    fs_err::write(&research, text).expect("write");
    let plan = run_in(dir.path(), &["plan", "--emulator", "acme"]);
    assert_eq!(plan.code, Some(1), "{}\n{}", plan.stdout, plan.stderr);
    for name in [
        "function `missing-judge` in project `acme/research`",
        "dataset `missing-set` in project `acme/research`",
        "experiment `missing-exp` in project `acme/research`",
    ] {
        assert!(
            plan.stdout
                .lines()
                .any(|l| l.contains("(`unresolved-reference` guard)") && l.contains(name)),
            "{name} is not refused:\n{}",
            plan.stdout
        );
    }
    let apply = run_in(
        dir.path(),
        &["apply", "--emulator", "--auto-approve", "acme"],
    );
    assert_eq!(apply.code, Some(1), "{}", apply.stdout);
    assert!(
        apply.stdout.contains("0 succeeded") || apply.stderr.contains("nothing was applied"),
        "{}\n{}",
        apply.stdout,
        apply.stderr
    );
}

/// A grant on a dataset the same manifests declare: the dataset is created first, the grant
/// names its new id, and the next plan is empty (no live lookup is needed before the create).
#[test]
fn a_grant_on_a_dataset_declared_alongside_converges() {
    converges_under_the_emulator(
        "org: acme\n---\nproject: research\norg: acme\ndatasets:\n  - { name: fresh-set, description: New }\ngrants:\n  - { user: carol@acme.com, permission: read, on: { dataset: fresh-set } }\n",
    );
}

/// Writes `manifest` as the only manifest file, checks that `validate` accepts it, that
/// `apply --emulator` exits 0 from a fresh state, and that the next plan is empty.
fn converges_under_the_emulator(manifest: &str) {
    let dir = tempfile::tempdir().expect("tempdir");
    fs_err::create_dir_all(dir.path().join("m")).expect("mkdir");
    fs_err::write(dir.path().join("m/p.yaml"), manifest).expect("manifest");
    let validate = run_in(dir.path(), &["validate", "m"]);
    assert_eq!(validate.code, Some(0), "{}", validate.stderr);
    let apply = run_in(dir.path(), &["apply", "--emulator", "--auto-approve", "m"]);
    assert_eq!(apply.code, Some(0), "{}\n{}", apply.stdout, apply.stderr);
    let plan = run_in(
        dir.path(),
        &["plan", "--emulator", "--detailed-exitcode", "m"],
    );
    assert_eq!(plan.code, Some(0), "{}\n{}", plan.stdout, plan.stderr);
}

/// An aggregate score may combine the output of a scorer the project's online rules run
/// (`Factuality`), not only declared project scores: such a manifest (as `import` writes it)
/// validates, applies and converges; a name that is neither stays an error (diagnostic 0214).
#[test]
fn aggregate_scores_may_combine_scorer_outputs() {
    converges_under_the_emulator(
        "org: acme\n---\nproject: research\norg: acme\nscores:\n  - { name: helpfulness, type: slider }\n  - { name: blended, type: weighted, weights: { helpfulness: 0.5, Factuality: 0.5 } }\nonline_scoring:\n  - { name: facts, sampling_rate: 0.1, scorers: [{ global: Factuality }] }\n",
    );
}

/// `api_key_policy` reports, in the plan, each listed API key that breaks it (here: a key owned
/// by someone outside `allowed_users`), and says what `on_violation` does with it. Under both
/// answers of K7: the real API lists only the caller's own keys, so zed's key is not seen and
/// the plan says other users' keys cannot be checked; a list of every key (the lenient
/// profile) shows the violation.
#[test]
fn api_key_policy_violations_are_reported_in_the_plan() {
    let dir = tempfile::tempdir().expect("tempdir");
    fs_err::create_dir_all(dir.path().join("m")).expect("mkdir");
    fs_err::write(
        dir.path().join("m/org.yaml"),
        "org: acme\napi_key_policy:\n  allowed_users: [alice@acme.com]\n  on_violation: report\n",
    )
    .expect("manifest");
    for profile in ["real", "lenient"] {
        let plan = crate::support::run_with_env(
            dir.path(),
            &["plan", "--emulator", "m"],
            &[("BT_GITOPS_EMULATOR_PROFILE", profile)],
        );
        assert_eq!(plan.code, Some(0), "{}\n{}", plan.stdout, plan.stderr);
        let out = format!("{}{}", plan.stdout, plan.stderr);
        assert!(
            out.contains("other users' personal API keys cannot be listed through the API"),
            "{profile}: the plan does not say what it cannot see:\n{out}"
        );
        let zed = out.lines().find(|l| l.contains("`zed-laptop`"));
        if profile == "real" {
            assert!(
                zed.is_none(),
                "zed's key is listed to another caller:\n{out}"
            );
        } else {
            let line = zed.unwrap_or_else(|| panic!("no violation reported:\n{out}"));
            assert!(
                line.contains("zed@acme.com") && line.contains("reported only"),
                "{line}"
            );
        }
        assert!(
            !out.contains("`bt-gitops-emulator` belongs"),
            "alice's key is allowed:\n{out}"
        );
    }
}
