//! Smoke tests of the `watch` binary against the emulator (the controller itself is tested
//! in process in `controller.rs`): it applies the manifests, answers its endpoints, writes only
//! JSON log lines with timestamps on stderr (the emulator's notices too), follows a branch, and
//! SIGTERM stops it cleanly.

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

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// Stops `watch` with SIGTERM and waits for it; it must exit 0 and have written nothing but
/// JSON lines on stderr, which are returned with the raw text.
fn terminate(child: &mut Stop) -> (String, Vec<serde_json::Value>) {
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
    let lines = stderr
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|_| panic!("not a JSON line: {l}")))
        .collect();
    (stderr, lines)
}

struct Stop(Child);

impl Drop for Stop {
    fn drop(&mut self) {
        let _ = self.0.kill();
    }
}

#[test]
fn watch_applies_serves_its_endpoints_logs_json_and_stops_on_sigterm() {
    let rt = runtime();
    let emu = rt
        .block_on(bt_gitops::emulator::spawn(
            bt_gitops::emulator::EmulatorConfig::default(),
        ))
        .expect("emulator");
    let key = emu.api_key().to_owned();
    let dir = tempfile::tempdir().expect("temp dir");
    fs_err::write(dir.path().join("org.yaml"), "org: emulated-org\n---\nproject: watched\ntags:\n  - { name: first, color: \"#30a46c\" }\n").expect("write");
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
        // Diagnostic logs too are JSON lines in watch's stderr.
        .env("BT_GITOPS_LOG", "debug")
        .env("BRAINTRUST_API_URL", emu.url())
        .env("BRAINTRUST_API_KEY", &key)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("watch starts");
    let mut child = Stop(child);
    eventually("healthz answers", || {
        http_get(&metrics, "/healthz").is_some_and(|r| r.contains("200 OK"))
    });
    eventually("readyz answers ready", || {
        http_get(&metrics, "/readyz").is_some_and(|r| r.contains("200 OK"))
    });
    let client = bt_gitops::api::client::Client::new(bt_gitops::api::client::ClientConfig::new(
        emu.url(),
        &key,
    ))
    .expect("client");
    let tags: Vec<bt_gitops::api::wire::ProjectTag> = rt
        .block_on(client.list_all("/v1/project_tag", &[]))
        .expect("tags");
    assert!(
        tags.iter().any(|t| t.name == "first"),
        "applied at start-up"
    );
    let exposition = http_get(&metrics, "/metrics").unwrap_or_default();
    assert!(
        exposition.contains("bt_gitops_org_in_sync{org=\"emulated-org\"} 1"),
        "{exposition}"
    );

    let (stderr, lines) = terminate(&mut child);
    assert!(
        lines
            .iter()
            .all(|l| l["ts"].is_string() && l["level"].is_string()),
        "{stderr}"
    );
    let events: Vec<&str> = lines.iter().filter_map(|l| l["event"].as_str()).collect();
    assert_eq!(events.first(), Some(&"started"), "{stderr}");
    assert_eq!(events.last(), Some(&"stopped"), "{stderr}");
    assert!(
        lines
            .iter()
            .any(|l| l["event"] == "drift" && l["trigger"] == "startup"),
        "what differs at start-up is drift:\n{stderr}"
    );
    rt.block_on(emu.shutdown());
}

/// Under `--emulator`, the emulator's notice of an org it creates is a JSON log line too
/// (event `emulator`): stderr holds nothing but JSON lines, as the README says.
#[test]
fn watch_with_the_emulator_logs_only_json() {
    let dir = tempfile::tempdir().expect("temp dir");
    fs_err::write(dir.path().join("org.yaml"), "org: qa-org\n").expect("write");
    let metrics = format!("127.0.0.1:{}", free_port());
    let child = Command::new(env!("CARGO_BIN_EXE_bt-gitops"))
        .args([
            "watch",
            ".",
            "--emulator",
            "--interval",
            "1",
            "--metrics-addr",
            &metrics,
        ])
        .current_dir(dir.path())
        .env("NO_COLOR", "1")
        .env_remove("BT_GITOPS_EMULATOR_PROFILE")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("watch starts");
    let mut child = Stop(child);
    eventually("readyz answers ready", || {
        http_get(&metrics, "/readyz").is_some_and(|r| r.contains("200 OK"))
    });
    let (stderr, lines) = terminate(&mut child);
    assert!(
        lines.iter().any(|l| l["event"] == "emulator"
            && l["message"]
                .as_str()
                .is_some_and(|m| m.contains("org `qa-org` created"))),
        "{stderr}"
    );
}

/// Following a branch, the poller's first look at the head is not a move: the only
/// `branch moved` round is the one after a new commit (the first poll used to start one of its
/// own, seeing the head for the first time).
#[test]
fn watch_follows_a_branch_without_a_round_for_the_first_poll() {
    let dir = tempfile::tempdir().expect("temp dir");
    let repo = git2::Repository::init(dir.path()).expect("init");
    fs_err::write(dir.path().join("org.yaml"), "org: qa-org\n").expect("write");
    crate::git::commit_all(&repo, "first");
    let branch = repo
        .head()
        .expect("head")
        .shorthand()
        .expect("branch name")
        .to_owned();
    let metrics = format!("127.0.0.1:{}", free_port());
    let child = Command::new(env!("CARGO_BIN_EXE_bt-gitops"))
        .args([
            "watch",
            ".",
            "--emulator",
            "--branch",
            &branch,
            "--poll",
            "1",
            "--interval",
            "600",
            "--metrics-addr",
            &metrics,
        ])
        .current_dir(dir.path())
        .env("NO_COLOR", "1")
        .env_remove("BT_GITOPS_EMULATOR_PROFILE")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("watch starts");
    let mut child = Stop(child);
    eventually("readyz answers ready", || {
        http_get(&metrics, "/readyz").is_some_and(|r| r.contains("200 OK"))
    });
    // Let the poller look at the unmoved head at least once (on a slow machine it may not
    // have yet, and the test then proves less, never something false).
    std::thread::sleep(Duration::from_millis(1500));
    fs_err::write(
        dir.path().join("org.yaml"),
        "org: qa-org\n---\nproject: followed\n",
    )
    .expect("write");
    crate::git::commit_all(&repo, "second");
    eventually("a round that sees the new commit", || {
        http_get(&metrics, "/metrics")
            .is_some_and(|m| m.contains("bt_gitops_org_drifted_objects{org=\"qa-org\"} 1"))
    });
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
    let rounds: Vec<String> = stderr
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|l| l["event"] == "round")
        .map(|l| l["trigger"].as_str().unwrap_or("").to_owned())
        .collect();
    assert_eq!(rounds, ["startup", "branch moved"], "{stderr}");
}
