//! The emulator's test controls and lifecycle over real HTTP: fault rules (status, 429 with
//! `Retry-After`, dropped connections; every Nth, seeded fraction, path pattern), latency, the
//! request log, the `/_emulator/` endpoints, seeding, and persistence across a restart.

use std::time::{Duration, Instant};

use bt_gitops::emulator::{EmulatorConfig, FaultAction, FaultRule, SeedDoc, spawn};
use serde_json::{Value, json};

use crate::emulator::start;
use crate::emulator_schema::Client;

#[tokio::test]
async fn every_nth_post_fails_with_500_and_the_log_counts_writes() {
    let (emu, api) = start().await;
    emu.clear_requests();
    emu.add_fault(
        FaultRule::new(FaultAction::Status { status: 500 })
            .with_method("POST")
            .with_path("/v1/project")
            .every_nth(3),
    );
    let mut statuses = Vec::new();
    for i in 0..6 {
        statuses.push(
            api.post("/v1/project", json!({"name": format!("p{i}")}))
                .await
                .status,
        );
        api.get("/v1/project").await;
    }
    assert_eq!(statuses, [200, 200, 500, 200, 200, 500]);
    assert_eq!(
        api.get("/v1/project").await.body["objects"]
            .as_array()
            .map(Vec::len),
        Some(4)
    );
    let log = emu.requests();
    assert_eq!(log.len(), 13);
    assert_eq!(emu.write_count(), 6);
    let failed: Vec<_> = log.iter().filter(|r| r.status == 500).collect();
    assert_eq!(failed.len(), 2);
    assert_eq!(failed[0].fault.as_deref(), Some("status"));
    assert_eq!(failed[0].method, "POST");
    assert_eq!(failed[0].path, "/v1/project");
    emu.clear_faults();
    assert_eq!(
        api.post("/v1/project", json!({"name": "p2"})).await.status,
        200
    );
}

#[tokio::test]
async fn rate_limits_carry_retry_after_and_stop_after_times() {
    let (emu, api) = start().await;
    emu.add_fault(
        FaultRule::new(FaultAction::RateLimit {
            retry_after_secs: 2,
        })
        .times(2),
    );
    let first = api.get("/v1/project").await;
    assert_eq!(first.status, 429);
    assert_eq!(first.retry_after.as_deref(), Some("2"));
    assert_eq!(api.get("/v1/project").await.status, 429);
    assert_eq!(api.get("/v1/project").await.status, 200);
}

#[tokio::test]
async fn dropped_connections_are_transport_errors() {
    let (emu, api) = start().await;
    emu.add_fault(
        FaultRule::new(FaultAction::Drop)
            .with_path("/v1/group*")
            .times(1),
    );
    let result = async {
        let response = api
            .http
            .get(format!("{}/v1/group", emu.url()))
            .bearer_auth(emu.api_key())
            .send()
            .await?;
        response.text().await
    }
    .await;
    assert!(
        result.is_err(),
        "a dropped connection is an error: {result:?}"
    );
    assert_eq!(api.get("/v1/group").await.status, 200);
    let log = emu.requests();
    assert_eq!(log[0].status, 0);
    assert_eq!(log[0].fault.as_deref(), Some("drop"));
}

#[tokio::test]
async fn fractions_are_reproducible_with_a_seed() {
    let mut runs = Vec::new();
    for _ in 0..2 {
        let (emu, api) = start().await;
        emu.add_fault(FaultRule::new(FaultAction::Status { status: 503 }).with_fraction(0.25, 7));
        let mut statuses = Vec::new();
        for _ in 0..40 {
            statuses.push(api.get("/v1/organization").await.status);
        }
        runs.push(statuses);
    }
    assert_eq!(runs[0], runs[1]);
    let failures = runs[0].iter().filter(|s| **s == 503).count();
    assert!((3..=20).contains(&failures), "{failures} of 40");
}

#[tokio::test]
async fn control_endpoints_set_faults_latency_and_read_the_log() {
    let (emu, api) = start().await;
    let http = reqwest::Client::new();
    let control = |path: &str| format!("{}/_emulator/{path}", emu.url());
    let set = http
        .put(control("faults"))
        .json(&json!([{"action": {"type": "status", "status": 500}, "method": "PATCH"}]))
        .send()
        .await
        .expect("send");
    assert_eq!(set.status(), 204);
    let rules: Value = http
        .get(control("faults"))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(rules[0]["action"]["status"], 500);
    let org = api.get("/v1/organization").await.body["objects"][0]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    assert_eq!(
        api.patch(&format!("/v1/organization/{org}"), json!({}))
            .await
            .status,
        500
    );
    let bad = http
        .post(control("faults"))
        .json(&json!({"action": "explode"}))
        .send()
        .await
        .expect("send");
    assert_eq!(bad.status(), 400);
    http.delete(control("faults")).send().await.expect("send");
    assert_eq!(
        api.patch(&format!("/v1/organization/{org}"), json!({}))
            .await
            .status,
        200
    );

    http.post(control("latency"))
        .json(&json!({"ms": 120}))
        .send()
        .await
        .expect("send");
    let started = Instant::now();
    api.get("/v1/organization").await;
    assert!(started.elapsed() >= Duration::from_millis(120));
    let latency: Value = http
        .get(control("latency"))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(latency, json!({"ms": 120}));
    emu.set_latency(Duration::ZERO);

    let log: Value = http
        .get(control("requests"))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    let entries = log.as_array().expect("array");
    assert!(
        entries
            .iter()
            .all(|e| !e["path"].as_str().unwrap_or("").starts_with("/_emulator"))
    );
    assert!(
        entries
            .iter()
            .any(|e| e["method"] == "PATCH" && e["status"] == 500)
    );
    assert!(
        entries
            .iter()
            .any(|e| e["duration_ms"].as_f64().unwrap_or(0.0) >= 120.0)
    );
    http.delete(control("requests")).send().await.expect("send");
    assert!(emu.requests().is_empty());

    let state: Value = http
        .get(control("state"))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(state["format_version"], 1);
    assert!(state["records"]["project"].is_array());
}

#[tokio::test]
async fn state_persists_across_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("nested").join("emulator.json");
    let config = EmulatorConfig::default().with_state_file(&path);
    let emu = spawn(config.clone()).await.expect("starts");
    let key = emu.api_key().to_owned();
    assert!(path.exists(), "the seeded state is written at once");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs_err::metadata(&path).expect("state").permissions().mode();
        assert_eq!(
            mode & 0o777,
            0o600,
            "the state file holds every key and secret"
        );
    }
    let api = Client::new(emu.url(), &key);
    let project = api
        .post("/v1/project", json!({"name": "kept", "description": "d"}))
        .await;
    let pid = project.body["id"].as_str().expect("id").to_owned();
    api.post(
        "/v1/ai_secret",
        json!({"name": "S", "secret": "top-secret-value"}),
    )
    .await;
    // A function with two versions: the first must still be found by `version=` after the
    // restart (a scorer pinned to it would otherwise stop resolving).
    let judge = api
        .post(
            "/v1/function",
            json!({"project_id": pid, "name": "Judge", "slug": "judge",
                   "function_type": "scorer", "function_data": {"type": "prompt"}}),
        )
        .await;
    let fid = judge.body["id"].as_str().expect("id").to_owned();
    let v1 = judge.body["_xact_id"].as_str().expect("version").to_owned();
    api.patch(&format!("/v1/function/{fid}"), json!({"description": "v2"}))
        .await;
    let doomed = api.post("/v1/project", json!({"name": "gone"})).await;
    api.delete(&format!(
        "/v1/project/{}",
        doomed.body["id"].as_str().expect("id")
    ))
    .await;
    emu.shutdown().await;
    let leftovers: Vec<_> = fs_err::read_dir(path.parent().expect("parent"))
        .expect("dir")
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        leftovers,
        ["emulator.json"],
        "no temporary file is left behind"
    );

    let emu = spawn(config).await.expect("restarts");
    assert_eq!(emu.api_key(), key, "the same key works after a restart");
    let api = Client::new(emu.url(), &key);
    let again = api.get(&format!("/v1/project/{pid}")).await;
    assert_eq!(again.body, project.body);
    assert_eq!(api.ids("/v1/project").await, vec![pid.clone()]);
    let secret = api.get("/v1/ai_secret").await;
    assert_eq!(secret.body["objects"][0]["preview_secret"], "to…alue");
    let old = api
        .get(&format!(
            "/v1/function?project_id={pid}&slug=judge&version={v1}"
        ))
        .await;
    assert_eq!(
        old.body["objects"][0]["_xact_id"],
        v1.as_str(),
        "{}",
        old.text
    );
    let newer = api.post("/v1/project", json!({"name": "after"})).await;
    assert_eq!(
        api.ids("/v1/project").await[0],
        newer.body["id"].as_str().expect("id")
    );
    emu.shutdown().await;

    fs_err::write(&path, "{not json").expect("write");
    let broken = spawn(EmulatorConfig::default().with_state_file(&path)).await;
    assert!(
        broken.is_err(),
        "a corrupt state file is an error, not a silent reset"
    );
}

#[tokio::test]
async fn seeds_create_orgs_principals_and_objects() {
    let seed: SeedDoc = serde_json::from_value(json!({"orgs": [{
        "name": "acme", "api_url": "https://api.acme.example",
        "users": [
            {"email": "ada@acme.example", "given_name": "Ada", "owner": true,
             "api_keys": [{"name": "ci", "key": "sk-acme-ada"}]},
            {"email": "bob@acme.example", "groups": ["Viewers"]}
        ],
        "service_accounts": [{"name": "deployer", "owner": true, "tokens": [{"name": "t", "key": "bt-st-acme"}]}],
        "objects": [
            {"kind": "project", "id": "11111111-1111-4111-8111-111111111111", "body": {"name": "web"}},
            {"kind": "project_tag", "body": {"project_name": "web", "name": "prod"}},
            {"kind": "role", "body": {"name": "reader", "member_permissions": [{"permission": "read"}]}}
        ]
    }]}))
    .expect("seed document");
    let emu = spawn(EmulatorConfig::default().with_seed(seed))
        .await
        .expect("starts");
    assert_eq!(emu.api_key(), "sk-acme-ada");
    assert_eq!(emu.service_token(), Some("bt-st-acme"));
    assert_eq!(emu.seeded_keys().len(), 2);
    let api = Client::new(emu.url(), "sk-acme-ada");
    assert_eq!(
        api.get("/v1/organization").await.body["objects"][0]["api_url"],
        "https://api.acme.example"
    );
    assert_eq!(
        api.ids("/v1/project").await,
        vec!["11111111-1111-4111-8111-111111111111"]
    );
    assert_eq!(api.ids("/v1/project_tag?project_name=web").await.len(), 1);
    assert_eq!(
        api.ids("/v1/user").await.len(),
        3,
        "two users and a service account"
    );
    let viewers = api.get("/v1/group?group_name=Viewers").await;
    assert_eq!(
        viewers.body["objects"][0]["member_users"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
    let owners = api.get("/v1/group?group_name=Owners").await;
    assert_eq!(
        owners.body["objects"][0]["member_users"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );

    let bad: SeedDoc = serde_json::from_value(json!({"orgs": [{"name": "x",
        "users": [{"email": "a@x.example", "groups": ["Nope"]}]}]}))
    .expect("seed document");
    assert!(
        spawn(EmulatorConfig::default().with_seed(bad))
            .await
            .is_err()
    );
}

#[test]
fn the_subcommand_arguments_parse() {
    use bt_gitops::cli::emulator::EmulatorArgs;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: EmulatorArgs,
    }
    let cli = Cli::try_parse_from([
        "emulator",
        "--port",
        "8080",
        "--seed",
        "seed.json",
        "--state",
        ".bt-gitops/emulator.json",
        "--latency-ms",
        "25",
        "--deterministic",
        "--faults",
        "faults.json",
    ])
    .expect("valid arguments");
    assert_eq!(cli.args.port, 8080);
    assert_eq!(cli.args.latency_ms, 25);
    assert!(cli.args.deterministic);
    assert_eq!(
        cli.args.state.as_deref(),
        Some(std::path::Path::new(".bt-gitops/emulator.json"))
    );
    let defaults = Cli::try_parse_from(["emulator"]).expect("no arguments");
    assert_eq!(defaults.args.port, 0, "any free port by default");
    assert!(Cli::try_parse_from(["emulator", "--port", "x"]).is_err());
}

#[tokio::test]
async fn delays_trip_client_timeouts_and_reset_restores_the_seed() {
    let (emu, api) = start().await;
    emu.add_fault(FaultRule::new(FaultAction::Delay { ms: 400 }).times(1));
    let slow = api
        .http
        .get(format!("{}/v1/project", emu.url()))
        .bearer_auth(emu.api_key())
        .timeout(Duration::from_millis(100))
        .send()
        .await;
    assert!(slow.is_err_and(|e| e.is_timeout()));
    assert_eq!(api.get("/v1/project").await.status, 200);
    // The delayed request is logged too, once the server notices the client left (or answers).
    let deadline = Instant::now() + Duration::from_secs(2);
    while !emu
        .requests()
        .iter()
        .any(|r| r.fault.as_deref() == Some("delay"))
    {
        assert!(Instant::now() < deadline, "the delayed request is logged");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let seeded = api.ids("/v1/project").await;
    api.post("/v1/project", json!({"name": "temporary"})).await;
    let reset = reqwest::Client::new()
        .post(format!("{}/_emulator/reset", emu.url()))
        .send()
        .await
        .expect("send");
    assert_eq!(reset.status(), 204);
    assert_eq!(api.ids("/v1/project").await, seeded);
    api.post("/v1/project", json!({"name": "again"})).await;
    emu.reset().expect("reset");
    assert_eq!(api.ids("/v1/project").await, seeded);
}

/// The status of a raw HTTP/1.1 request to the emulator, with the given `Host` and headers.
async fn raw_status(addr: std::net::SocketAddr, request_line: &str, headers: &str) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let request =
        format!("{request_line}\r\n{headers}Content-Length: 0\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer).await;
    answer
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// The control plane reads every key and resets the state: a web page must not reach it, by DNS
/// rebinding (a foreign Host) or by a cross-origin request (a foreign Origin, simple POSTs too).
#[tokio::test]
async fn control_endpoints_answer_only_loopback_hosts_without_foreign_origins() {
    let (emu, _api) = start().await;
    let addr = emu.addr();
    let port = addr.port();
    for (host, origin, expected) in [
        (format!("127.0.0.1:{port}"), None, 200),
        (format!("localhost:{port}"), None, 200),
        (
            "[::1]".to_owned(),
            Some(format!("http://localhost:{port}")),
            200,
        ),
        (format!("evil.example:{port}"), None, 403),
        (
            format!("127.0.0.1:{port}"),
            Some("http://evil.example".to_owned()),
            403,
        ),
        (format!("127.0.0.1:{port}"), Some("null".to_owned()), 403),
    ] {
        let mut headers = format!("Host: {host}\r\n");
        if let Some(origin) = &origin {
            headers.push_str(&format!("Origin: {origin}\r\n"));
        }
        let state = raw_status(addr, "GET /_emulator/state HTTP/1.1", &headers).await;
        assert_eq!(
            state, expected,
            "GET state with Host {host:?}, Origin {origin:?}"
        );
        let reset = raw_status(
            addr,
            "POST /_emulator/reset HTTP/1.1",
            &format!("{headers}Content-Type: text/plain\r\n"),
        )
        .await;
        let reset = if reset == 204 { 200 } else { reset };
        assert_eq!(
            reset, expected,
            "POST reset with Host {host:?}, Origin {origin:?} (204 counted as 200)"
        );
    }
    emu.shutdown().await;
}
