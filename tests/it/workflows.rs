//! The example GitHub workflows and the composite action: valid YAML, the right triggers, and
//! every bt-gitops command line they run is one the CLI accepts.

use clap::Parser;
use serde_json::Value;

use crate::support::root;

fn yaml(path: &str) -> Value {
    let text = fs_err::read_to_string(root().join(path)).expect("readable");
    serde_saphyr::from_str::<Value>(&text)
        .unwrap_or_else(|e| panic!("{path} is not valid YAML: {e}"))
}

/// The bt-gitops argument lists of every step that runs the action.
fn command_lines(workflow: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for job in workflow["jobs"].as_object().expect("jobs").values() {
        for step in job["steps"].as_array().expect("steps") {
            if step["uses"]
                .as_str()
                .is_some_and(|u| u.starts_with("bt-gitops/bt-gitops@"))
            {
                out.push(step["with"]["args"].as_str().expect("args").to_owned());
            }
        }
    }
    out
}

fn assert_cli_accepts(args: &str) {
    let args = args.replace("${{ matrix.org }}", "acme");
    assert!(!args.contains("${{"), "unexpanded expression in `{args}`");
    let argv = std::iter::once("bt-gitops").chain(args.split_whitespace());
    if let Err(err) = bt_gitops::cli::Cli::try_parse_from(argv) {
        panic!("`bt-gitops {args}` is rejected by the CLI:\n{err}");
    }
}

#[test]
fn plan_workflow_runs_on_pull_requests_and_posts_the_markdown_plan() {
    let wf = yaml("examples/github/plan.yml");
    assert!(
        wf["on"]["pull_request"].is_object(),
        "plan runs on pull requests"
    );
    let lines = command_lines(&wf);
    assert!(
        lines.iter().any(|l| l.starts_with("validate ")),
        "{lines:?}"
    );
    let plan = lines
        .iter()
        .find(|l| l.starts_with("plan "))
        .expect("a plan step");
    for flag in [
        "--format markdown",
        "--out plan.json",
        "--detailed-exitcode",
    ] {
        assert!(plan.contains(flag), "plan step lacks `{flag}`: {plan}");
    }
    lines.iter().for_each(|l| assert_cli_accepts(l));
    let text = fs_err::read_to_string(root().join("examples/github/plan.yml")).expect("readable");
    assert!(
        text.contains("GITHUB_STEP_SUMMARY")
            && text.contains("upload-artifact")
            && text.contains("issues/comments/")
    );
    assert!(
        text.contains("startswith(\"### bt-gitops plan\")"),
        "the sticky comment is found by the renderer's heading"
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
fn apply_workflow_runs_on_merge_one_org_at_a_time() {
    let wf = yaml("examples/github/apply.yml");
    let branches = &wf["on"]["push"]["branches"];
    assert!(
        branches
            .as_array()
            .is_some_and(|b| b.iter().any(|b| b == "main")),
        "apply runs on pushes to main"
    );
    let job = &wf["jobs"]["apply"];
    assert!(
        job["concurrency"]["group"]
            .as_str()
            .is_some_and(|g| g.contains("matrix.org")),
        "one concurrency group per org"
    );
    assert_eq!(
        job["concurrency"]["cancel-in-progress"],
        Value::Bool(false),
        "an apply is never cancelled half-way"
    );
    let lines = command_lines(&wf);
    let apply = lines
        .iter()
        .find(|l| l.starts_with("apply "))
        .expect("an apply step");
    assert!(apply.contains("--auto-approve"), "{apply}");
    lines.iter().for_each(|l| assert_cli_accepts(l));
    let text = fs_err::read_to_string(root().join("examples/github/apply.yml")).expect("readable");
    assert!(
        text.contains(".bt-gitops/journal/"),
        "the journal is uploaded"
    );
}

#[test]
fn the_action_installs_and_runs_the_binary() {
    let action = yaml("action.yml");
    assert_eq!(action["runs"]["using"], "composite");
    assert!(action["inputs"]["args"]["required"] == Value::Bool(true));
    let steps = action["runs"]["steps"].as_array().expect("steps");
    assert!(steps.iter().any(|s| {
        s["run"]
            .as_str()
            .is_some_and(|r| r.contains("cargo install --locked --path"))
    }));
    assert!(steps.iter().any(|s| {
        s["run"]
            .as_str()
            .is_some_and(|r| r.contains("bin/bt-gitops") && r.contains("exit-code="))
    }));
}
