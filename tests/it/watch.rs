//! The `watch` controller against the emulator: a manifest edit is applied, a change made
//! behind its back is reported as drift (and counted in `/metrics`), and SIGTERM stops it
//! cleanly with the lease released.

use std::io::{Read, Write};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::runtime;

/// Waits for `check` to hold, polling; generous, since CI machines are shared.
fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if check() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("timed out waiting for: {what}");
}

fn http_get(addr: &str, path: &str) -> Option<String> {
    let mut stream = std::net::TcpStream::connect(addr).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut text = String::new();
    stream.read_to_string(&mut text).ok()?;
    Some(text)
}

fn metric(addr: &str, name: &str) -> u64 {
    http_get(addr, "/metrics")
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with(&format!("{name} ")))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

struct Stop(Child);

impl Drop for Stop {
    fn drop(&mut self) {
        let _ = self.0.kill();
    }
}

#[test]
fn watch_applies_edits_reports_drift_and_stops_on_sigterm() {
    let rt = runtime();
    let emu = rt
        .block_on(bt_gitops::emulator::spawn(
            bt_gitops::emulator::EmulatorConfig::default(),
        ))
        .expect("emulator");
    let key = emu.api_key().to_owned();
    let dir = tempfile::tempdir().expect("temp dir");
    let manifest = dir.path().join("org.yaml");
    fs_err::write(&manifest, "org: emulated-org\n---\nproject: watched\ntags:\n  - { name: first, color: \"#30a46c\" }\n").expect("write");
    let metrics = format!("127.0.0.1:{}", free_port());
    let child = Command::new(env!("CARGO_BIN_EXE_bt-gitops"))
        .args([
            "watch",
            ".",
            "--auto-apply",
            "--interval",
            "1",
            "--metrics-addr",
            &metrics,
        ])
        .current_dir(dir.path())
        .env("NO_COLOR", "1")
        .env("BRAINTRUST_API_URL", emu.url())
        .env("BRAINTRUST_API_KEY", &key)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("watch starts");
    let mut child = Stop(child);

    let tags = |rt: &tokio::runtime::Runtime| -> Vec<(String, String)> {
        let client = bt_gitops::api::client::Client::new(
            bt_gitops::api::client::ClientConfig::new(emu.url(), &key),
        )
        .expect("client");
        rt.block_on(client.list_all::<bt_gitops::api::wire::ProjectTag>("/v1/project_tag", &[]))
            .unwrap_or_default()
            .into_iter()
            .map(|t| (t.name, t.id.to_string()))
            .collect()
    };
    eventually("healthz answers", || {
        http_get(&metrics, "/healthz").is_some_and(|r| r.contains("200 OK"))
    });
    eventually("the first tag is applied", || {
        tags(&rt).iter().any(|(n, _)| n == "first")
    });

    // An edit of the manifest is applied.
    let mut text = fs_err::read_to_string(&manifest).expect("read");
    text.push_str("  - { name: second, color: \"#0090ff\" }\n");
    fs_err::write(&manifest, text).expect("write");
    eventually("the edit is applied", || {
        tags(&rt).iter().any(|(n, _)| n == "second")
    });
    let drift_before = metric(&metrics, "bt_gitops_watch_drift_total");

    // A change behind its back is drift: counted, and (with --auto-apply) undone.
    let (_, id) = tags(&rt)
        .into_iter()
        .find(|(n, _)| n == "first")
        .expect("first tag");
    let client = bt_gitops::api::client::Client::new(bt_gitops::api::client::ClientConfig::new(
        emu.url(),
        &key,
    ))
    .expect("client");
    rt.block_on(client.send::<serde_json::Value, serde_json::Value>(
        bt_gitops::api::client::Method::DELETE,
        &format!("/v1/project_tag/{id}"),
        &serde_json::Value::Null,
    ))
    .expect("deleted behind its back");
    eventually("drift is counted", || {
        metric(&metrics, "bt_gitops_watch_drift_total") > drift_before
    });
    eventually("the drift is undone", || {
        tags(&rt).iter().any(|(n, _)| n == "first")
    });
    eventually("rounds are counted", || {
        metric(&metrics, "bt_gitops_watch_rounds_total") >= 3
    });
    eventually("API calls are counted", || {
        metric(&metrics, "bt_gitops_api_requests_total") > 0
    });

    // SIGTERM: a clean exit 0, and no lease left behind.
    let pid = child.0.id().to_string();
    let status = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill runs");
    assert!(status.success());
    let mut exit = None;
    eventually("watch exits", || {
        exit = child.0.try_wait().ok().flatten();
        exit.is_some()
    });
    let mut stderr = String::new();
    if let Some(mut err) = child.0.stderr.take() {
        let _ = err.read_to_string(&mut stderr);
    }
    assert_eq!(exit.and_then(|s| s.code()), Some(0), "{stderr}");
    assert!(
        stderr.contains("\"event\":\"drift\""),
        "drift is a structured event:\n{stderr}"
    );
    assert!(stderr.contains("\"event\":\"stopped\""), "{stderr}");
    let leases: Vec<bt_gitops::api::wire::EnvVar> = rt
        .block_on(async {
            let org: Vec<bt_gitops::api::wire::Organization> = client
                .list_all("/v1/organization", &[])
                .await
                .expect("orgs");
            let q = [
                ("object_type", "organization".to_owned()),
                ("object_id", org[0].id.to_string()),
            ];
            client
                .get::<bt_gitops::api::wire::ListResponse<bt_gitops::api::wire::EnvVar>>(
                    "/v1/env_var",
                    &q,
                )
                .await
                .map(|l| l.objects)
        })
        .expect("env vars");
    assert!(
        leases
            .iter()
            .all(|v| v.name != bt_gitops::apply::lease::LEASE_NAME),
        "the lease was released"
    );
    rt.block_on(emu.shutdown());
}

/// Following a branch: a new commit on it starts a round that applies the manifests of that
/// commit, whatever the work tree holds.
#[test]
fn watch_follows_a_branch() {
    let rt = runtime();
    let emu = rt
        .block_on(bt_gitops::emulator::spawn(
            bt_gitops::emulator::EmulatorConfig::default(),
        ))
        .expect("emulator");
    let key = emu.api_key().to_owned();
    let dir = tempfile::tempdir().expect("temp dir");
    let repo = git2::Repository::init(dir.path()).expect("init");
    let commit = |text: &str, message: &str| {
        fs_err::write(dir.path().join("org.yaml"), text).expect("write");
        let mut index = repo.index().expect("index");
        index
            .add_path(std::path::Path::new("org.yaml"))
            .expect("add");
        index.write().expect("write index");
        let tree = repo
            .find_tree(index.write_tree().expect("tree"))
            .expect("tree");
        let sig = git2::Signature::now("Ada", "ada@acme.com").expect("sig");
        let parent = repo.head().ok().and_then(|h| h.peel_to_commit().ok());
        let parents: Vec<&git2::Commit<'_>> = parent.iter().collect();
        repo.commit(Some("HEAD"), &sig, &sig, message, &tree, &parents)
            .expect("commit");
    };
    commit(
        "org: emulated-org\n---\nproject: followed\ntags:\n  - { name: v1 }\n",
        "v1",
    );
    let branch = repo
        .head()
        .expect("head")
        .shorthand()
        .unwrap_or("master")
        .to_owned();
    // The work tree holds something else: only committed manifests count.
    fs_err::write(
        dir.path().join("org.yaml"),
        "org: emulated-org\n---\nproject: followed\ntags:\n  - { name: uncommitted }\n",
    )
    .expect("write");
    let metrics = format!("127.0.0.1:{}", free_port());
    let child = Command::new(env!("CARGO_BIN_EXE_bt-gitops"))
        .args([
            "watch",
            ".",
            "--branch",
            &branch,
            "--poll",
            "1",
            "--interval",
            "60",
            "--auto-apply",
            "--metrics-addr",
            &metrics,
        ])
        .current_dir(dir.path())
        .env("BRAINTRUST_API_URL", emu.url())
        .env("BRAINTRUST_API_KEY", &key)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("watch starts");
    let _child = Stop(child);
    let client = bt_gitops::api::client::Client::new(bt_gitops::api::client::ClientConfig::new(
        emu.url(),
        &key,
    ))
    .expect("client");
    let names = || -> Vec<String> {
        rt.block_on(client.list_all::<bt_gitops::api::wire::ProjectTag>("/v1/project_tag", &[]))
            .unwrap_or_default()
            .into_iter()
            .map(|t| t.name)
            .collect()
    };
    eventually("the committed manifests are applied", || {
        names().contains(&"v1".to_owned())
    });
    assert!(!names().contains(&"uncommitted".to_owned()));
    commit(
        "org: emulated-org\n---\nproject: followed\ntags:\n  - { name: v1 }\n  - { name: v2 }\n",
        "v2",
    );
    eventually("the new commit is applied", || {
        names().contains(&"v2".to_owned())
    });
    rt.block_on(emu.shutdown());
}

/// A round that fails on the manifests says which errors, at `file:line:col`, not just how many.
#[test]
fn a_failed_round_names_its_real_cause() {
    let dir = tempfile::tempdir().expect("temp dir");
    fs_err::write(
        dir.path().join("org.yaml"),
        "org: acme\ngroups:\n  - { name: a, colour: red }\n",
    )
    .expect("write");
    let metrics = format!("127.0.0.1:{}", free_port());
    let run = crate::support::run_bounded(
        dir.path(),
        &["watch", "org.yaml", "--metrics-addr", &metrics],
        Duration::from_secs(4),
    );
    let failed = run
        .stderr
        .lines()
        .find(|l| l.contains("\"round_failed\""))
        .unwrap_or_else(|| panic!("no round_failed event:\n{}", run.stderr));
    assert!(
        failed.contains("org.yaml:3:16: error[E0101]: unknown field `colour`"),
        "{failed}"
    );
}

/// Idle connections to the metrics port, more than the process has file descriptors (the limit
/// is lowered to 128 for the test), neither make it spin on `accept` nor keep a health probe
/// out: it keeps at most 64 open and closes the oldest to admit new ones.
#[test]
fn idle_connections_do_not_keep_health_probes_out() {
    let dir = tempfile::tempdir().expect("temp dir");
    fs_err::write(dir.path().join("org.yaml"), "org: acme\n").expect("write");
    let metrics = format!("127.0.0.1:{}", free_port());
    let child = Command::new("sh")
        .args(["-c", "ulimit -n 128 && exec \"$0\" \"$@\""])
        .arg(env!("CARGO_BIN_EXE_bt-gitops"))
        .args(["watch", "org.yaml", "--metrics-addr", &metrics])
        .current_dir(dir.path())
        .env_remove("BRAINTRUST_API_KEY")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("watch starts");
    let _stop = Stop(child);
    eventually("the metrics server answers", || {
        http_get(&metrics, "/healthz").is_some_and(|r| r.contains("200 OK"))
    });
    let idle: Vec<std::net::TcpStream> = (0..300)
        .filter_map(|_| std::net::TcpStream::connect(&metrics).ok())
        .collect();
    assert!(
        idle.len() > 64,
        "only {} idle connections opened",
        idle.len()
    );
    eventually("a health probe answers among idle connections", || {
        http_get(&metrics, "/healthz").is_some_and(|r| r.contains("200 OK"))
    });
    drop(idle);
}
