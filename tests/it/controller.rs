//! The controller driven in process with injected triggers against the emulator: drift made
//! through the API is reported once with its fields and notified to a local webhook (and its
//! resolution once), `/readyz` follows the API going away and coming back, a followed branch
//! is fetched from a `file://` remote (and a fetch failure is a failed round with its cause),
//! idle connections do not keep a probe out of the endpoints, and the extension points (drift
//! policies with the propose hook, the org gate with controller leases) are consulted.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bt_gitops::apply::SecretValue;
use bt_gitops::controller::notifications::{Notifier, Target};
use bt_gitops::controller::{
    BoxFuture, Controller, DriftPolicy, RoundOutcome, RoundReport, Settings, Trigger, World,
};
use bt_gitops::diag::Diagnostic;
use bt_gitops::diff::SecretDigests;
use bt_gitops::model::{DesiredState, ResourceKey};
use bt_gitops::plan::Plan;
use bt_gitops::reconcile::OrgTarget;
use bt_gitops::source::SourceMap;

use crate::support::runtime;

/// Manifests held in memory (or read from git at a ref), every org at one URL with one key.
struct TestWorld {
    manifests: Mutex<String>,
    repo: Option<std::path::PathBuf>,
    url: Mutex<String>,
    key: String,
}

impl TestWorld {
    fn new(manifests: &str, url: &str, key: &str) -> TestWorld {
        TestWorld {
            manifests: Mutex::new(manifests.to_owned()),
            repo: None,
            url: Mutex::new(url.to_owned()),
            key: key.to_owned(),
        }
    }
}

impl World for TestWorld {
    fn load(&self, git_ref: Option<&str>) -> (SourceMap, Vec<Diagnostic>) {
        if let (Some(repo), Some(reference)) = (&self.repo, git_ref) {
            return (
                bt_gitops::git::sources_at(repo, reference).expect("sources at ref"),
                Vec::new(),
            );
        }
        let mut sources = SourceMap::new();
        sources.add("org.yaml", self.manifests.lock().expect("lock").clone());
        (sources, Vec::new())
    }

    fn targets<'a>(
        &'a self,
        desired: &'a DesiredState,
    ) -> BoxFuture<'a, anyhow::Result<Vec<OrgTarget>>> {
        let url = self.url.lock().expect("lock").clone();
        Box::pin(async move {
            Ok(desired
                .orgs
                .keys()
                .map(|org| OrgTarget {
                    org: org.clone(),
                    base_url: url.clone(),
                    api_key: self.key.clone(),
                })
                .collect())
        })
    }

    fn secret_digests(&self, _desired: &DesiredState) -> SecretDigests {
        SecretDigests::new()
    }

    fn secret_values(
        &self,
        _desired: &DesiredState,
        _plan: &Plan,
    ) -> BTreeMap<ResourceKey, SecretValue> {
        BTreeMap::new()
    }
}

const EMPTY: &str = "org: emulated-org\n";
const TAGGED: &str =
    "org: emulated-org\n---\nproject: watched\ntags:\n  - { name: first, color: \"#30a46c\" }\n";

fn settings(dir: &std::path::Path) -> Settings {
    let mut s = Settings::new(dir);
    s.auto_apply = true;
    s.interval = Duration::from_secs(60);
    s.retry_base = Duration::from_millis(50);
    s.apply.journal_dir = dir.join("journal");
    s
}

type Received = Arc<Mutex<Vec<(String, serde_json::Value)>>>;

/// A webhook receiver on loopback that keeps every JSON body it is sent, with its path; its
/// base URL is returned (post to `BASE/NAME/secret-token`).
async fn webhook() -> (String, Received) {
    let got: Received = Arc::new(Mutex::new(Vec::new()));
    let sink = got.clone();
    let app = axum::Router::new().route(
        "/{name}/secret-token",
        axum::routing::post(
            move |axum::extract::Path(name): axum::extract::Path<String>,
                  axum::Json(body): axum::Json<serde_json::Value>| {
                let sink = sink.clone();
                async move {
                    sink.lock().expect("lock").push((name, body));
                    "ok"
                }
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, got)
}

async fn emulator() -> bt_gitops::emulator::EmuHandle {
    bt_gitops::emulator::spawn(bt_gitops::emulator::EmulatorConfig::default())
        .await
        .expect("emulator")
}

fn outcome_name(r: &RoundReport) -> String {
    match &r.outcome {
        RoundOutcome::Converged => "converged".into(),
        RoundOutcome::Drift { objects } => format!("drift({})", objects.len()),
        RoundOutcome::Applied { changes, .. } => format!("applied({changes})"),
        RoundOutcome::Failed { cause, .. } => format!("failed: {cause}"),
    }
}

#[test]
fn drift_is_reported_once_with_its_fields_and_notified() {
    let rt = runtime();
    let dir = tempfile::tempdir().expect("temp dir");
    rt.block_on(async {
        let emu = emulator().await;
        let key = emu.api_key().to_owned();
        let (hook, received) = webhook().await;
        let world = Arc::new(TestWorld::new(EMPTY, emu.url(), &key));
        let mut controller = Controller::new(settings(dir.path()), world.clone()).with_notifier(
            Notifier::new(vec![
                Target::Webhook(format!("{hook}/hook/secret-token")),
                Target::Slack(format!("{hook}/slack/secret-token")),
            ]),
        );

        let r = controller.round(Trigger::Startup).await;
        assert_eq!(outcome_name(&r), "converged");
        // The manifests change: their changes are applied, and are not drift.
        *world.manifests.lock().expect("lock") = TAGGED.to_owned();
        let r = controller.round(Trigger::Files).await;
        assert_eq!(outcome_name(&r), "applied(2)");
        assert!(r.new_drift.is_empty(), "{:?}", r.new_drift);
        assert_eq!(
            outcome_name(&controller.round(Trigger::Timer).await),
            "converged"
        );

        // Someone recolours the tag in the UI: drift, reported once, with the field.
        let client = bt_gitops::api::client::Client::new(
            bt_gitops::api::client::ClientConfig::new(emu.url(), &key),
        )
        .expect("client");
        let tags: Vec<bt_gitops::api::wire::ProjectTag> =
            client.list_all("/v1/project_tag", &[]).await.expect("tags");
        let id = tags[0].id.to_string();
        let recolour = |color: &'static str| {
            let (client, id) = (client.clone(), id.clone());
            async move {
                client
                    .send::<serde_json::Value, serde_json::Value>(
                        bt_gitops::api::client::Method::PATCH,
                        &format!("/v1/project_tag/{id}"),
                        &serde_json::json!({ "color": color }),
                    )
                    .await
                    .expect("patched behind its back");
            }
        };
        recolour("#ff0000").await;
        let mut drift_rounds = Vec::new();
        for _ in 0..2 {
            drift_rounds.push(controller.round(Trigger::Timer).await);
        }
        let reported: Vec<_> = drift_rounds.iter().flat_map(|r| &r.new_drift).collect();
        assert_eq!(reported.len(), 1, "reported once: {reported:?}");
        assert_eq!(outcome_name(&drift_rounds[1]), "drift(1)");
        let drifted = serde_json::to_value(reported[0]).expect("json");
        insta::assert_json_snapshot!("controller_drifted_object", drifted);
        let line = drift_rounds[0]
            .log_lines()
            .into_iter()
            .find(|l| l["event"] == "drift")
            .expect("a drift log line");
        assert!(
            line["ts"].as_str().is_some_and(|t| t.ends_with('Z')),
            "{line}"
        );
        assert_eq!(line["trigger"], "timer");

        // Put back by hand: resolved, once.
        recolour("#30a46c").await;
        let r = controller.round(Trigger::Timer).await;
        assert_eq!(outcome_name(&r), "converged");
        assert_eq!(r.resolved.len(), 1);
        assert!(controller.round(Trigger::Timer).await.resolved.is_empty());

        let received = received.lock().expect("lock").clone();
        let bodies: Vec<&serde_json::Value> = received
            .iter()
            .filter(|(name, _)| name == "hook")
            .map(|(_, b)| b)
            .collect();
        let events: Vec<&str> = bodies
            .iter()
            .map(|b| b["event"].as_str().unwrap_or(""))
            .collect();
        assert_eq!(events, ["drift", "drift_resolved"], "{bodies:?}");
        assert_eq!(bodies[0]["objects"][0], drifted);
        let slack: Vec<&str> = received
            .iter()
            .filter(|(name, _)| name == "slack")
            .filter_map(|(_, b)| b["text"].as_str())
            .collect();
        insta::assert_snapshot!("controller_slack_messages", slack.join("---\n"));
        let logged = serde_json::to_string(&drift_rounds[0].log_lines()).expect("json");
        assert!(
            !logged.contains("secret-token"),
            "the webhook URL is a secret"
        );
        emu.shutdown().await;
    });
}

#[test]
fn readyz_follows_the_api_going_away_and_coming_back() {
    let rt = runtime();
    let dir = tempfile::tempdir().expect("temp dir");
    rt.block_on(async {
        let emu = emulator().await;
        let world = Arc::new(TestWorld::new(TAGGED, emu.url(), emu.api_key()));
        let mut s = settings(dir.path());
        s.policies.default = DriftPolicy::Revert;
        let controller = Controller::new(s, world.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        tokio::spawn(bt_gitops::controller::serve::serve(
            listener,
            controller.status(),
        ));
        let http = reqwest::Client::new();
        let get = |path: &'static str| {
            let (http, url) = (http.clone(), format!("{base}{path}"));
            async move {
                let resp = http.get(url).send().await.expect("endpoint answers");
                (
                    resp.status().as_u16(),
                    resp.text().await.unwrap_or_default(),
                )
            }
        };
        assert_eq!(get("/healthz").await.0, 200);
        assert_eq!(get("/readyz").await.0, 503, "no round has succeeded yet");

        let (triggers, rx) = tokio::sync::mpsc::channel(4);
        let (reports, mut done) = tokio::sync::mpsc::unbounded_channel::<String>();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let running = tokio::spawn(controller.run(
            rx,
            async {
                let _ = stopped.await;
            },
            move |r| {
                let _ = reports.send(outcome_name(r));
            },
        ));
        triggers.send(Trigger::Startup).await.expect("send");
        assert_eq!(done.recv().await.as_deref(), Some("applied(2)"));
        assert_eq!(get("/readyz").await.0, 200);
        let (_, metrics) = get("/metrics").await;
        assert!(
            metrics.contains("bt_gitops_org_in_sync{org=\"emulated-org\"} 1"),
            "{metrics}"
        );
        assert!(metrics.contains("bt_gitops_api_requests_total{org=\"emulated-org\"}"));

        // The API goes away: the next round fails and /readyz says so.
        let closed = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
            format!("http://{}", l.local_addr().expect("addr"))
        };
        *world.url.lock().expect("lock") = closed;
        triggers.send(Trigger::Manual).await.expect("send");
        let failed = done.recv().await.unwrap_or_default();
        assert!(failed.starts_with("failed: "), "{failed}");
        assert!(
            failed.contains("cannot read org `emulated-org`"),
            "{failed}"
        );
        assert_eq!(get("/readyz").await.0, 503);

        // It comes back: a retry succeeds without a trigger, and /readyz recovers.
        *world.url.lock().expect("lock") = emu.url().to_owned();
        let mut next = done.recv().await.unwrap_or_default();
        while next.starts_with("failed: ") {
            next = done.recv().await.unwrap_or_default();
        }
        assert_eq!(next, "converged");
        assert_eq!(get("/readyz").await.0, 200);
        let _ = stop.send(());
        assert!(running.await.expect("joins") >= 3);
        emu.shutdown().await;
    });
}

#[test]
fn a_branch_is_fetched_from_a_file_url_and_a_fetch_failure_is_a_failed_round() {
    let rt = runtime();
    let upstream = tempfile::tempdir().expect("temp dir");
    let local = tempfile::tempdir().expect("temp dir");
    let repo = git2::Repository::init(upstream.path()).expect("init");
    fs_err::write(upstream.path().join("org.yaml"), TAGGED).expect("write");
    let mut index = repo.index().expect("index");
    index
        .add_path(std::path::Path::new("org.yaml"))
        .expect("add");
    let tree = repo
        .find_tree(index.write_tree().expect("tree"))
        .expect("tree");
    let sig = git2::Signature::now("Ada", "ada@acme.com").expect("sig");
    repo.commit(Some("refs/heads/main"), &sig, &sig, "v1", &tree, &[])
        .expect("commit");
    git2::Repository::init(local.path()).expect("init");
    rt.block_on(async {
        let emu = emulator().await;
        let mut world = TestWorld::new(EMPTY, emu.url(), emu.api_key());
        world.repo = Some(local.path().to_path_buf());
        let mut s = settings(local.path());
        s.branch = Some("main".into());
        s.remote = Some(format!("file://{}", upstream.path().display()));
        s.policies.default = DriftPolicy::Revert;
        let mut controller = Controller::new(s.clone(), Arc::new(world));
        let r = controller.round(Trigger::Startup).await;
        assert_eq!(outcome_name(&r), "applied(2)", "the committed manifests");

        s.remote = Some(local.path().join("nowhere").display().to_string());
        let world = TestWorld::new(EMPTY, emu.url(), emu.api_key());
        let mut controller = Controller::new(s, Arc::new(world));
        let r = controller.round(Trigger::Startup).await;
        let failed = outcome_name(&r);
        assert!(
            failed.starts_with("failed: ") && failed.contains("nowhere"),
            "{failed}"
        );
        emu.shutdown().await;
    });
}

/// More idle connections than the endpoints keep open neither spin `accept` nor keep a probe
/// out: the oldest are closed to admit new ones.
#[test]
fn idle_connections_do_not_keep_health_probes_out() {
    let rt = runtime();
    rt.block_on(async {
        let status = Arc::new(bt_gitops::controller::Status::new(Duration::from_secs(60)));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(bt_gitops::controller::serve::serve(listener, status));
        let mut idle = Vec::new();
        for _ in 0..200 {
            idle.push(tokio::net::TcpStream::connect(addr).await.expect("connect"));
        }
        let resp = reqwest::get(format!("http://{addr}/healthz"))
            .await
            .expect("a probe answers among idle connections");
        assert_eq!(resp.status().as_u16(), 200);
        drop(idle);
    });
}

/// The extension points: a kind set to `propose` reaches the propose hook with its drifted
/// objects, a kind set to `revert` is applied over, and of two replicas gated by controller
/// leases only one reconciles the org.
#[test]
fn drift_policies_and_the_org_gate_are_consulted() {
    struct Recorder(Mutex<Vec<String>>);
    impl bt_gitops::controller::ProposeHook for Recorder {
        fn propose<'a>(
            &'a self,
            request: bt_gitops::controller::ProposeRequest<'a>,
        ) -> BoxFuture<'a, anyhow::Result<()>> {
            let addresses = request.drift.iter().map(|d| d.address.clone());
            self.0.lock().expect("lock").extend(addresses);
            Box::pin(async { Ok(()) })
        }
    }
    let rt = runtime();
    let dir = tempfile::tempdir().expect("temp dir");
    rt.block_on(async {
        let emu = emulator().await;
        let world = Arc::new(TestWorld::new(TAGGED, emu.url(), emu.api_key()));
        // Nothing exists yet: a project and a tag differ. Projects are proposed, tags reverted.
        let mut s = settings(dir.path());
        s.policies
            .kinds
            .insert("project".into(), DriftPolicy::Propose);
        s.policies.kinds.insert("tag".into(), DriftPolicy::Revert);
        let hook = Arc::new(Recorder(Mutex::new(Vec::new())));
        let mut controller = Controller::new(s.clone(), world.clone()).with_propose(hook.clone());
        let r = controller.round(Trigger::Startup).await;
        assert_eq!(
            hook.0.lock().expect("lock").clone(),
            ["project:emulated-org/watched"]
        );
        // The tag's create depends on the project, which is proposed, not applied: the revert
        // fails and says why, and the drift is still reported.
        let failed = outcome_name(&r);
        assert!(failed.contains("has no id"), "{failed}");
        assert_eq!(r.new_drift.len(), 2);
        // Two replicas sharing the org through controller leases: one reconciles it.
        let replica = |name: &str| {
            let shard = bt_gitops::controller::shard::Shard::new(name, Duration::from_secs(60));
            Arc::new(bt_gitops::controller::ShardGate::new(shard))
        };
        let mut a = Controller::new(s.clone(), world.clone()).with_gate(replica("replica-a"));
        let mut b = Controller::new(s, world).with_gate(replica("replica-b"));
        assert!(a.round(Trigger::Startup).await.skipped_orgs.is_empty());
        let r = b.round(Trigger::Startup).await;
        assert_eq!(outcome_name(&r), "converged", "nothing left to read");
        assert_eq!(r.skipped_orgs, ["emulated-org"]);
        emu.shutdown().await;
    });
}

/// With the pull-request hook, drift of a `propose` kind becomes one pull request whose branch
/// is pushed: the controller wired to `controller::propose` (the fake GitHub of `propose.rs`).
#[test]
fn drift_is_proposed_as_a_pull_request_through_the_hook() {
    use crate::propose::{KEY, config, fake_github, recolor, repository, seed};
    let rt = runtime();
    let dir = tempfile::tempdir().expect("temp dir");
    let _repo = repository(dir.path());
    let (work, origin) = (dir.path().join("work"), dir.path().join("origin.git"));
    rt.block_on(async {
        let emu = bt_gitops::emulator::spawn(
            bt_gitops::emulator::EmulatorConfig::default().with_seed(seed()),
        )
        .await
        .expect("emulator");
        let mut world = TestWorld::new(EMPTY, emu.url(), KEY);
        world.repo = Some(work.clone());
        let world = Arc::new(world);
        let mut s = settings(dir.path());
        s.root = work.join("manifests");
        s.branch = Some("main".into());
        // A first controller applies the manifests.
        s.policies.default = DriftPolicy::Revert;
        let r = Controller::new(s.clone(), world.clone())
            .round(Trigger::Startup)
            .await;
        assert!(
            outcome_name(&r).starts_with("applied"),
            "{}",
            outcome_name(&r)
        );

        // The UI recolours a tag; a controller that proposes drift opens a pull request.
        let client = bt_gitops::api::client::Client::new(
            bt_gitops::api::client::ClientConfig::new(emu.url(), KEY),
        )
        .expect("client");
        let tags: Vec<bt_gitops::api::wire::ProjectTag> =
            client.list_all("/v1/project_tag", &[]).await.expect("tags");
        let flaky = tags.iter().find(|t| t.name == "flaky").expect("flaky");
        recolor(&client, &flaky.id.to_string(), "#ffb224").await;
        let (github_url, github) = fake_github().await;
        s.policies.default = DriftPolicy::Propose;
        let hook = bt_gitops::controller::PullRequests(config(&work, &origin, github_url));
        let mut proposing = Controller::new(s, world).with_propose(Arc::new(hook));
        let r = proposing.round(Trigger::Timer).await;
        assert_eq!(outcome_name(&r), "drift(1)");
        assert!(r.warnings.is_empty(), "{:?}", r.warnings);
        let calls = github.lock().expect("lock").calls.clone();
        assert!(
            calls.contains(&"POST /repos/acme/braintrust-config/pulls".to_owned()),
            "{calls:?}"
        );
        let pushed = git2::Repository::open(&origin).expect("origin");
        assert!(pushed.find_reference("refs/heads/bt-gitops/drift").is_ok());
        emu.shutdown().await;
    });
}
