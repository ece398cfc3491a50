//! The example GitHub workflows and the composite action: valid YAML, the right triggers, every
//! bt-gitops command line they run is one the CLI accepts, they fit the example manifests
//! (`manifests/` is `examples/acme`: two orgs with their own key variables and a shared
//! template), their outputs stay outside the work tree, and their comment script, run against
//! the CLI's real output, posts the plan or, when planning fails, the error.

use std::collections::BTreeSet;
use std::path::Path;

use clap::Parser;
use serde_json::Value;

use crate::support::{root, run_in};

fn yaml(path: &str) -> Value {
    let text = fs_err::read_to_string(root().join(path)).expect("readable");
    serde_saphyr::from_str::<Value>(&text)
        .unwrap_or_else(|e| panic!("{path} is not valid YAML: {e}"))
}

/// The steps of every job.
fn steps(workflow: &Value) -> Vec<&Value> {
    workflow["jobs"]
        .as_object()
        .expect("jobs")
        .values()
        .flat_map(|job| job["steps"].as_array().expect("steps"))
        .collect()
}

/// The steps that run the action.
fn action_steps(workflow: &Value) -> Vec<&Value> {
    steps(workflow)
        .into_iter()
        .filter(|s| {
            s["uses"]
                .as_str()
                .is_some_and(|u| u.starts_with("bt-gitops/bt-gitops@"))
        })
        .collect()
}

/// The bt-gitops argument lists of every step that runs the action.
fn command_lines(workflow: &Value) -> Vec<String> {
    action_steps(workflow)
        .iter()
        .map(|s| s["with"]["args"].as_str().expect("args").to_owned())
        .collect()
}

fn assert_cli_accepts(args: &str) {
    let args = args.replace("${{ runner.temp }}", "/tmp/runner");
    assert!(!args.contains("${{"), "unexpanded expression in `{args}`");
    let argv = std::iter::once("bt-gitops").chain(args.split_whitespace());
    if let Err(err) = bt_gitops::cli::Cli::try_parse_from(argv) {
        panic!("`bt-gitops {args}` is rejected by the CLI:\n{err}");
    }
}

/// Every variable the example manifests read: each org's `api_key_env` and each `{ env: NAME }`.
fn variables_of_the_example() -> BTreeSet<String> {
    fn walk(value: &Value, out: &mut BTreeSet<String>) {
        match value {
            Value::Object(map) => {
                for (k, v) in map {
                    if let (true, Some(name)) = (k == "api_key_env" || k == "env", v.as_str()) {
                        out.insert(name.to_owned());
                    }
                    walk(v, out);
                }
            }
            Value::Array(items) => items.iter().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    fn files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
        for entry in fs_err::read_dir(dir).expect("dir").filter_map(Result::ok) {
            let path = entry.path();
            if path.is_dir() {
                files(&path, out);
            } else if path.extension().is_some_and(|e| e == "yaml") {
                out.push(path);
            }
        }
    }
    let mut paths = Vec::new();
    files(&root().join("examples/acme"), &mut paths);
    let mut out = BTreeSet::new();
    for path in paths {
        let text = fs_err::read_to_string(&path).expect("readable");
        for doc in text.split("\n---") {
            let value: Value = serde_saphyr::from_str(doc).expect("yaml");
            walk(&value, &mut out);
        }
    }
    out
}

fn assert_env_fits_the_example(workflow: &Value, name: &str) {
    let needed = variables_of_the_example();
    assert!(
        needed.contains("BRAINTRUST_API_KEY_ACME_LABS"),
        "{needed:?}"
    );
    for job in workflow["jobs"].as_object().expect("jobs").values() {
        let env = job["env"].as_object().expect("the job sets env");
        for var in &needed {
            assert_eq!(
                env.get(var).and_then(Value::as_str),
                Some(format!("${{{{ secrets.{var} }}}}").as_str()),
                "{name} does not pass `{var}`, which examples/acme reads"
            );
        }
    }
}

/// Outputs go under the runner's temp directory, so the plan's work tree stays clean.
fn assert_outputs_outside_the_work_tree(workflow: &Value) {
    for step in action_steps(workflow) {
        let args = step["with"]["args"]
            .as_str()
            .expect("args")
            .replace("${{ runner.temp }}", "$RUNNER_TEMP");
        let words: Vec<&str> = args.split_whitespace().collect();
        for pair in words.windows(2) {
            if matches!(pair[0], "--out" | "--plan") {
                assert!(pair[1].starts_with("$RUNNER_TEMP/"), "{args}");
            }
        }
        if let Some(out) = step["with"]["output-file"].as_str() {
            assert!(out.starts_with("${{ runner.temp }}/"), "{out}");
        }
    }
}

#[test]
fn plan_workflow_plans_the_whole_tree_with_every_key_and_keeps_outputs_outside() {
    let wf = yaml("examples/github/plan.yml");
    assert!(
        wf["on"]["pull_request"].is_object(),
        "plan runs on pull requests"
    );
    let lines = command_lines(&wf);
    assert!(
        lines
            .iter()
            .any(|l| l == "validate manifests --format short"),
        "{lines:?}"
    );
    let plan = lines
        .iter()
        .find(|l| l.starts_with("plan manifests "))
        .expect("a plan step over the whole tree (orgs share templates)");
    for flag in [
        "--format markdown",
        "--out ${{ runner.temp }}/plan.json",
        "--detailed-exitcode",
    ] {
        assert!(plan.contains(flag), "plan step lacks `{flag}`: {plan}");
    }
    lines.iter().for_each(|l| assert_cli_accepts(l));
    assert_env_fits_the_example(&wf, "plan.yml");
    assert_outputs_outside_the_work_tree(&wf);
    let upload = steps(&wf)
        .into_iter()
        .find(|s| {
            s["uses"]
                .as_str()
                .is_some_and(|u| u.starts_with("actions/upload-artifact@"))
        })
        .expect("the plan is uploaded");
    assert_eq!(upload["with"]["name"], "bt-gitops-plan");
    let text = fs_err::read_to_string(root().join("examples/github/plan.yml")).expect("readable");
    assert!(
        text.contains("startswith(\"### bt-gitops plan\")") && text.contains("issues/comments/"),
        "the sticky comment is found by the renderer's heading"
    );
}

/// The `run` script of the step named `name`.
fn step_script(workflow: &Value, name: &str) -> String {
    steps(workflow)
        .into_iter()
        .find(|s| s["name"] == name)
        .and_then(|s| s["run"].as_str())
        .unwrap_or_else(|| panic!("no step `{name}`"))
        .to_owned()
}

/// Runs the plan workflow's "Comment body" script as the runner would; returns the comment.
fn comment_body(temp: &Path, validate: &str, plan: &str, err_file: &Path) -> String {
    let summary = temp.join("summary.md");
    fs_err::write(&summary, "").expect("a fresh job summary");
    let script = step_script(&yaml("examples/github/plan.yml"), "Comment body");
    let out = std::process::Command::new("bash")
        .args(["-e", "-c", &script])
        .env("RUNNER_TEMP", temp)
        .env("GITHUB_STEP_SUMMARY", &summary)
        .env("GITHUB_SHA", "0123abc")
        .env("VALIDATE", validate)
        .env("VALIDATE_ERR", err_file)
        .env("PLAN", plan)
        .env("PLAN_ERR", err_file)
        .output()
        .expect("bash runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let body = fs_err::read_to_string(temp.join("comment.md")).expect("a comment body");
    assert_eq!(
        fs_err::read_to_string(summary).expect("summary"),
        body,
        "the job summary shows the comment"
    );
    body
}

#[test]
fn the_comment_is_the_plan_or_else_the_error_under_the_same_heading() {
    let dir = tempfile::tempdir().expect("tempdir");
    let work = dir.path().join("work");
    fs_err::create_dir_all(work.join("manifests")).expect("dirs");
    fs_err::write(work.join("manifests/org.yaml"), "org: acme\n").expect("manifest");
    let planned = run_in(
        &work,
        &["plan", "--emulator", "manifests", "--format", "markdown"],
    );
    assert_eq!(planned.code, Some(0), "{}", planned.stderr);
    fs_err::write(dir.path().join("plan.md"), &planned.stdout).expect("plan.md");
    let err_file = dir.path().join("err");
    fs_err::write(&err_file, "").expect("err");
    let body = comment_body(dir.path(), "0", "2", &err_file);
    assert_eq!(body, planned.stdout, "a good plan is posted as rendered");

    fs_err::write(work.join("manifests/org.yaml"), "org: acme\nmembrs: []\n").expect("broken");
    let failed = run_in(&work, &["validate", "manifests", "--format", "short"]);
    assert_eq!(failed.code, Some(1));
    fs_err::write(&err_file, &failed.stderr).expect("stderr");
    let body = comment_body(dir.path(), "1", "", &err_file);
    assert!(
        body.starts_with("### bt-gitops plan\n"),
        "replaces the old comment: {body}"
    );
    assert!(
        body.contains("The plan failed") && body.contains("E0101"),
        "{body}"
    );
}

#[test]
fn the_sticky_comment_marker_is_what_the_renderer_writes() {
    let plan = bt_gitops::plan::build(
        Vec::new(),
        &bt_gitops::graph::DepGraph::default(),
        Vec::new(),
        Vec::new(),
    );
    let md = bt_gitops::render::markdown::render(
        &plan,
        bt_gitops::render::markdown::GITHUB_COMMENT_LIMIT,
    );
    assert!(md.starts_with("### bt-gitops plan"), "{md}");
}

#[test]
fn apply_workflow_applies_the_reviewed_plan_on_merge_one_run_at_a_time() {
    let wf = yaml("examples/github/apply.yml");
    let branches = &wf["on"]["push"]["branches"];
    assert!(
        branches
            .as_array()
            .is_some_and(|b| b.iter().any(|b| b == "main")),
        "apply runs on pushes to main"
    );
    assert_eq!(
        wf["concurrency"]["cancel-in-progress"],
        Value::Bool(false),
        "an apply is never cancelled half-way"
    );
    assert!(wf["concurrency"]["group"].is_string());
    let lines = command_lines(&wf);
    let apply = lines
        .iter()
        .find(|l| l.starts_with("apply manifests "))
        .expect("an apply step over the whole tree");
    for flag in [
        "--auto-approve",
        "--plan ${{ runner.temp }}/reviewed/plan.json",
    ] {
        assert!(apply.contains(flag), "apply step lacks `{flag}`: {apply}");
    }
    lines.iter().for_each(|l| assert_cli_accepts(l));
    assert_env_fits_the_example(&wf, "apply.yml");
    assert_outputs_outside_the_work_tree(&wf);
    let fetch = step_script(&wf, "Fetch the reviewed plan");
    assert!(
        fetch.contains("--workflow plan.yml")
            && fetch.contains("--name bt-gitops-plan")
            && fetch.contains("$RUNNER_TEMP/reviewed"),
        "the plan artifact of the pull request is what gets applied: {fetch}"
    );
    assert_eq!(wf["permissions"]["actions"], "read");
    let text = fs_err::read_to_string(root().join("examples/github/apply.yml")).expect("readable");
    assert!(
        text.contains(".bt-gitops/journal/"),
        "the journal is uploaded"
    );
}

#[test]
fn the_action_installs_then_runs_the_binary() {
    let action = yaml("action.yml");
    assert_eq!(action["runs"]["using"], "composite");
    assert!(action["inputs"]["args"]["required"] == Value::Bool(true));
    for output in ["exit-code", "output-file", "error-file"] {
        assert!(action["outputs"][output].is_object(), "{output}");
    }
    let steps = action["runs"]["steps"].as_array().expect("steps");
    assert!(steps.iter().any(|s| {
        s["run"]
            .as_str()
            .is_some_and(|r| r.contains("bin/bt-gitops") && r.contains("exit-code="))
    }));
}
