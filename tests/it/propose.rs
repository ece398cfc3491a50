//! Drift to pull request: tags changed and deleted through the emulator's API are written back
//! into the manifests of a temporary git repository, committed on a branch, pushed, and offered
//! as one pull request to a local fake of the GitHub endpoints used; the branch's manifests make
//! the next plan empty, and everything outside the drifted items is kept byte for byte.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use axum::extract::{Path as UrlPath, Query, State};
use axum::http::HeaderMap;
use axum::routing::{get, patch};
use axum::{Json, Router};
use bt_gitops::api::client::{Client, ClientConfig, Method};
use bt_gitops::api::github::Proposed;
use bt_gitops::controller::propose::{ProposeConfig, open_or_update};
use bt_gitops::diff::{self, SecretDigests};
use bt_gitops::emulator::{EmuHandle, EmulatorConfig, SeedDoc};
use bt_gitops::model::ResourceKey;
use bt_gitops::pipeline::{self, Analysis};
use bt_gitops::reconcile::{self, PlanInput, PlanOutcome};
use serde_json::{Value, json};

pub(crate) const KEY: &str = "sk-emulator-acme-0000000000000001";
pub(crate) const TOKEN: &str = "ghp_test0000000000000000000000000000";

const ORG: &str = "# The org, owned by the platform team.\norg: acme\n";
const PROJECT: &str = "\
# Review tags: keep this list short.
project: demo
org: acme
tags:
  # Used by the nightly review.
  - { name: golden, color: \"#30a46c\" }
  - name: flaky   # tests that flap
    color: \"#e5484d\"
    description: Unstable cases
  - { name: stale, color: \"#888888\" }  # to retire
";

/// The fake GitHub: open pull requests by number, and every request's method and path.
#[derive(Default)]
pub(crate) struct FakeGitHub {
    pulls: BTreeMap<u64, Value>,
    pub(crate) calls: Vec<String>,
}

pub(crate) type Shared = Arc<Mutex<FakeGitHub>>;

fn authorized(headers: &HeaderMap) -> bool {
    headers.get("authorization").and_then(|v| v.to_str().ok()) == Some(&format!("Bearer {TOKEN}"))
}

async fn list_pulls(
    State(gh): State<Shared>,
    headers: HeaderMap,
    UrlPath((owner, repo)): UrlPath<(String, String)>,
    Query(q): Query<BTreeMap<String, String>>,
) -> Json<Value> {
    let mut gh = gh.lock().expect("lock");
    gh.calls.push(format!(
        "GET /repos/{owner}/{repo}/pulls?head={}",
        q["head"]
    ));
    assert!(authorized(&headers));
    let head = q["head"].split_once(':').map(|(_, b)| b.to_owned());
    let open: Vec<Value> = gh
        .pulls
        .values()
        .filter(|p| Some(p["head"].as_str().unwrap_or_default().to_owned()) == head)
        .cloned()
        .collect();
    Json(Value::Array(open))
}

async fn create_pull(
    State(gh): State<Shared>,
    headers: HeaderMap,
    UrlPath((owner, repo)): UrlPath<(String, String)>,
    Json(body): Json<Value>,
) -> Json<Value> {
    let mut gh = gh.lock().expect("lock");
    gh.calls.push(format!("POST /repos/{owner}/{repo}/pulls"));
    assert!(authorized(&headers));
    let number = gh.pulls.len() as u64 + 1;
    let mut pull = body;
    pull["number"] = json!(number);
    pull["html_url"] = json!(format!(
        "https://github.example/{owner}/{repo}/pull/{number}"
    ));
    gh.pulls.insert(number, pull.clone());
    Json(pull)
}

async fn update_pull(
    State(gh): State<Shared>,
    headers: HeaderMap,
    UrlPath((owner, repo, number)): UrlPath<(String, String, u64)>,
    Json(body): Json<Value>,
) -> Json<Value> {
    let mut gh = gh.lock().expect("lock");
    gh.calls
        .push(format!("PATCH /repos/{owner}/{repo}/pulls/{number}"));
    assert!(authorized(&headers));
    let pull = gh.pulls.get_mut(&number).expect("known pull request");
    for field in ["title", "body"] {
        pull[field] = body[field].clone();
    }
    Json(pull.clone())
}

pub(crate) async fn fake_github() -> (String, Shared) {
    let state = Shared::default();
    let app = Router::new()
        .route(
            "/repos/{owner}/{repo}/pulls",
            get(list_pulls).post(create_pull),
        )
        .route("/repos/{owner}/{repo}/pulls/{number}", patch(update_pull))
        .with_state(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, state)
}

/// Proposals from `work`'s `main` to `origin`, on the fake GitHub at `github_url`.
pub(crate) fn config(work: &Path, origin: &Path, github_url: String) -> ProposeConfig {
    ProposeConfig {
        repo: work.to_path_buf(),
        base_ref: "refs/heads/main".into(),
        base_branch: "main".into(),
        branch: "bt-gitops/drift".into(),
        remote: origin.to_string_lossy().into_owned(),
        github_repo: "acme/braintrust-config".into(),
        github_url,
        token: TOKEN.into(),
    }
}

pub(crate) fn seed() -> SeedDoc {
    serde_json::from_value(json!({ "orgs": [{
        "name": "acme",
        "users": [{ "email": "alice@acme.com", "owner": true,
                    "api_keys": [{ "name": "gitops", "key": KEY }] }],
    }]}))
    .expect("seed")
}

/// A repository with the manifests committed on `main`, and a bare `origin` to push to.
pub(crate) fn repository(dir: &Path) -> git2::Repository {
    git2::Repository::init_bare(dir.join("origin.git")).expect("origin");
    let repo = git2::Repository::init(dir.join("work")).expect("init");
    for (path, text) in [
        ("manifests/org.yaml", ORG),
        ("manifests/projects/demo.yaml", PROJECT),
    ] {
        let path = dir.join("work").join(path);
        fs_err::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        fs_err::write(path, text).expect("write");
    }
    {
        let mut index = repo.index().expect("index");
        index
            .add_all(["*"].iter(), git2::IndexAddOption::DEFAULT, None)
            .expect("add");
        let tree = repo
            .find_tree(index.write_tree().expect("tree"))
            .expect("tree");
        let sig = git2::Signature::now("Ada", "ada@acme.com").expect("signature");
        repo.commit(Some("refs/heads/main"), &sig, &sig, "manifests", &tree, &[])
            .expect("commit");
    }
    repo
}

async fn plan(analysis: &Analysis, emu: &EmuHandle) -> PlanOutcome {
    reconcile::plan(PlanInput {
        desired: &analysis.state,
        graph: &analysis.graph,
        targets: vec![crate::support::acme_target(emu, KEY)],
        secrets: SecretDigests::default(),
        concurrency: 4,
    })
    .await
    .expect("plan")
}

fn analyze_at(repo: &Path, reference: &str) -> (bt_gitops::source::SourceMap, Analysis) {
    let sources = bt_gitops::git::sources_at(repo, reference).expect("sources at ref");
    let analysis = pipeline::analyze(&sources);
    assert!(!analysis.has_errors(), "{:?}", analysis.diagnostics);
    (sources, analysis)
}

/// A change made outside the manifests: a tag's colour.
pub(crate) async fn recolor(client: &Client, id: &str, color: &str) {
    let _: Value = client
        .send(
            Method::PATCH,
            &format!("/v1/project_tag/{id}"),
            &json!({ "color": color }),
        )
        .await
        .expect("patch");
}

/// Objects whose live state differs from the manifests.
fn drifted(analysis: &Analysis, outcome: &PlanOutcome) -> Vec<ResourceKey> {
    diff::diff(&analysis.state, &outcome.live, &SecretDigests::default())
        .into_iter()
        .map(|d| d.key)
        .collect()
}

#[test]
fn drift_becomes_one_pull_request_whose_branch_plans_empty() {
    let runtime = crate::support::runtime();
    runtime.block_on(async {
        let dir = tempfile::tempdir().expect("tempdir");
        let _repo = repository(dir.path());
        let work = dir.path().join("work");
        let origin = dir.path().join("origin.git");
        let emu = bt_gitops::emulator::spawn(EmulatorConfig::default().with_seed(seed()))
            .await
            .expect("emulator");
        let client = Client::new(ClientConfig::new(emu.url(), KEY)).expect("client");

        // The manifests as applied: the project and its three tags.
        let project: Value = client
            .send(Method::POST, "/v1/project", &json!({ "name": "demo" }))
            .await
            .expect("project");
        let mut tags = BTreeMap::new();
        for (name, color, description) in [
            ("golden", "#30a46c", None),
            ("flaky", "#e5484d", Some("Unstable cases")),
            ("stale", "#888888", None),
        ] {
            let tag: Value = client
                .send(
                    Method::POST,
                    "/v1/project_tag",
                    &json!({ "project_id": project["id"], "name": name, "color": color, "description": description }),
                )
                .await
                .expect("tag");
            tags.insert(name, tag["id"].as_str().expect("id").to_owned());
        }
        let (sources, analysis) = analyze_at(&work, "refs/heads/main");
        assert!(plan(&analysis, &emu).await.plan.changes.is_empty(), "in sync");

        // Drift made in the UI: a colour changed, a tag deleted.
        recolor(&client, &tags["flaky"], "#ffb224").await;
        let _: Value = client
            .delete(&format!("/v1/project_tag/{}", tags["stale"]))
            .await
            .expect("delete");
        let outcome = plan(&analysis, &emu).await;
        let keys = drifted(&analysis, &outcome);
        assert_eq!(keys.len(), 2, "{keys:?}");

        let (github_url, github) = fake_github().await;
        let config = config(&work, &origin, github_url);
        let first = open_or_update(&config, &sources, &analysis.state, &outcome.live, &keys)
            .await
            .expect("proposed");
        assert!(first.skipped.is_empty(), "{:?}", first.skipped);
        let Some(Proposed::Opened(pull)) = &first.pull_request else {
            panic!("a pull request is opened: {first:?}");
        };
        assert_eq!(pull.number, 1);

        // The pushed branch: only the drifted items changed, and the next plan is empty.
        let (_, proposed) = analyze_at(&origin, "refs/heads/bt-gitops/drift");
        assert!(
            plan(&proposed, &emu).await.plan.changes.is_empty(),
            "the proposal makes the plan empty"
        );
        let text = bt_gitops::git::sources_at(&origin, "refs/heads/bt-gitops/drift")
            .expect("sources")
            .iter()
            .map(|(_, f)| (f.path.clone(), f.text.clone()))
            .collect::<BTreeMap<_, _>>();
        assert_eq!(text["refs/heads/bt-gitops/drift:manifests/org.yaml"], ORG);
        assert_eq!(
            text["refs/heads/bt-gitops/drift:manifests/projects/demo.yaml"],
            PROJECT
                .replace(
                    "  - name: flaky   # tests that flap\n    color: \"#e5484d\"\n    description: Unstable cases\n",
                    "  - { name: flaky, color: \"#ffb224\", description: \"Unstable cases\" }\n",
                )
                .replace("  - { name: stale, color: \"#888888\" }  # to retire\n", "")
        );
        // The work tree and HEAD of the clone are untouched.
        assert_eq!(
            fs_err::read_to_string(work.join("manifests/projects/demo.yaml")).expect("read"),
            PROJECT
        );

        // More drift later: the same branch is replaced and the same pull request updated.
        recolor(&client, &tags["golden"], "#0090ff").await;
        let outcome = plan(&analysis, &emu).await;
        let keys = drifted(&analysis, &outcome);
        assert_eq!(keys.len(), 3, "{keys:?}");
        let second = open_or_update(&config, &sources, &analysis.state, &outcome.live, &keys)
            .await
            .expect("proposed again");
        let Some(Proposed::Updated(pull)) = &second.pull_request else {
            panic!("the pull request is updated: {second:?}");
        };
        assert_eq!(pull.number, 1);
        let (_, proposed) = analyze_at(&origin, "refs/heads/bt-gitops/drift");
        assert!(plan(&proposed, &emu).await.plan.changes.is_empty());

        {
            let github = github.lock().expect("lock");
            assert_eq!(
                github.calls,
                [
                    "GET /repos/acme/braintrust-config/pulls?head=acme:bt-gitops/drift",
                    "POST /repos/acme/braintrust-config/pulls",
                    "GET /repos/acme/braintrust-config/pulls?head=acme:bt-gitops/drift",
                    "PATCH /repos/acme/braintrust-config/pulls/1",
                ]
            );
            let pull = &github.pulls[&1];
            assert_eq!((&pull["head"], &pull["base"]), (&json!("bt-gitops/drift"), &json!("main")));
            let body = pull["body"].as_str().expect("body");
            for tag in ["golden", "flaky", "stale"] {
                assert!(body.contains(&format!("tag:{tag}")), "{body}");
            }
        }
        emu.shutdown().await;
    });
}
