//! Reviewed plans bind and every outcome is told: `apply --plan` runs the reviewed values or
//! refuses them (stale-plan guard, in the report and the journal, exit 1), usage errors and
//! incomplete plans exit 1, `show` renders a saved plan, and a bounded loop of `kill -9` and
//! SIGTERM at varying points of an apply never blocks the next apply past the lease TTL nor
//! loses a journal entry for a tag that reached the emulator. All through the real binary
//! against the emulator on loopback.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use bt_gitops::api::client::{Client, ClientConfig};
use bt_gitops::emulator::EmuHandle;
use serde_json::Value;
use tokio::runtime::Runtime;

use crate::support::{Run, run_with_env};

const KEY: &str = "sk-emulator-acme-0000000000000001";

/// A manifest for org `acme` with the project `research` and these tags (`name`,
/// `name:#color`, or `name:absent` for a tombstone).
fn tags_manifest(tags: &[&str]) -> String {
    let lines: String = tags
        .iter()
        .map(|t| match t.split_once(':') {
            Some((name, "absent")) => format!("  - {{ name: {name}, state: absent }}\n"),
            Some((name, color)) => format!("  - {{ name: {name}, color: \"{color}\" }}\n"),
            None => format!("  - {{ name: {t} }}\n"),
        })
        .collect();
    format!("org: acme\n---\nproject: research\ntags:\n{lines}")
}

fn run(emu: &EmuHandle, cwd: &Path, args: &[&str]) -> Run {
    run_with_env(
        cwd,
        args,
        &[
            ("BRAINTRUST_API_URL", emu.url()),
            ("BRAINTRUST_API_KEY", KEY),
        ],
    )
}

fn write_manifest(dir: &Path, tags: &[&str]) {
    fs_err::write(dir.join("org.yaml"), tags_manifest(tags)).expect("write manifest");
}

/// The tags of project `research` on the emulator, by name, with their colors.
fn live_tags(runtime: &Runtime, emu: &EmuHandle) -> Vec<(String, Option<String>)> {
    runtime.block_on(async {
        let client = Client::new(ClientConfig::new(emu.url(), KEY)).expect("client");
        let tags: Vec<bt_gitops::api::wire::ProjectTag> = client
            .list_all("/v1/project_tag", &[])
            .await
            .expect("list tags");
        tags.into_iter().map(|t| (t.name, t.color)).collect()
    })
}

fn color_of(runtime: &Runtime, emu: &EmuHandle, name: &str) -> Option<String> {
    live_tags(runtime, emu)
        .into_iter()
        .find(|(n, _)| n == name)
        .and_then(|(_, c)| c)
}

/// Every line of every journal under `cwd`, parsed, with the journals' paths.
fn journal_lines(cwd: &Path) -> Vec<(std::path::PathBuf, Value)> {
    let dir = cwd.join(".bt-gitops/journal");
    let Ok(entries) = fs_err::read_dir(&dir) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for entry in entries.filter_map(Result::ok) {
        let text = fs_err::read_to_string(entry.path()).expect("journal text");
        for line in text.lines() {
            out.push((
                entry.path(),
                serde_json::from_str(line).expect("a journal line is JSON"),
            ));
        }
    }
    out
}

/// A runtime, the emulator seeded with the live `acme` org running on it, and a scratch
/// directory.
fn setup() -> (Runtime, EmuHandle, tempfile::TempDir) {
    let runtime = crate::support::runtime();
    let emu = runtime.block_on(crate::support::acme_emulator(false));
    let dir = tempfile::tempdir().expect("temp dir");
    (runtime, emu, dir)
}

/// An emulator where tag `PREFIX-color` is `#111111`, and a directory holding `plan.json`,
/// reviewed, which changes it to `#222222` and creates `PREFIX-new`.
fn reviewed_plan(prefix: &str) -> (Runtime, EmuHandle, tempfile::TempDir) {
    let (runtime, emu, dir) = setup();
    let (color, new) = (format!("{prefix}-color"), format!("{prefix}-new"));
    write_manifest(dir.path(), &[&format!("{color}:#111111")]);
    let base = run(&emu, dir.path(), &["apply", "--auto-approve", "org.yaml"]);
    assert_eq!(base.code, Some(0), "{}", base.stderr);
    write_manifest(dir.path(), &[&format!("{color}:#222222"), &new]);
    let plan = run(
        &emu,
        dir.path(),
        &["plan", "org.yaml", "--out", "plan.json"],
    );
    assert_eq!(plan.code, Some(0), "{}", plan.stderr);
    (runtime, emu, dir)
}

/// `apply --plan plan.json --format json` from `cwd`.
fn apply_saved(emu: &EmuHandle, cwd: &Path) -> Run {
    run(
        emu,
        cwd,
        &["apply", "--plan", "plan.json", "--format", "json"],
    )
}

/// A plan saved, then the manifests edited (a reviewed update changed, a reviewed create
/// removed, a tag added): `apply --plan` runs the reviewed values, reads no manifest, and does
/// not run what was not reviewed.
#[test]
fn a_saved_plan_runs_the_reviewed_values() {
    let (runtime, emu, dir) = reviewed_plan("rv");
    // A later commit: another color, the reviewed create gone, a tag nobody reviewed.
    write_manifest(dir.path(), &["rv-color:#ff0000", "rv-unreviewed"]);
    // `show` renders the saved plan in every format.
    for format in ["human", "json", "markdown"] {
        let shown = run(&emu, dir.path(), &["show", "plan.json", "--format", format]);
        assert_eq!(shown.code, Some(0), "{}", shown.stderr);
        assert!(
            shown.stdout.contains("rv-new"),
            "{format}: {}",
            shown.stdout
        );
    }
    let applied = apply_saved(&emu, dir.path());
    assert_eq!(
        applied.code,
        Some(0),
        "stdout:\n{}\nstderr:\n{}",
        applied.stdout,
        applied.stderr
    );
    assert_eq!(
        color_of(&runtime, &emu, "rv-color").as_deref(),
        Some("#222222")
    );
    let names: BTreeSet<String> = live_tags(&runtime, &emu)
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert!(
        names.contains("rv-new"),
        "the reviewed create ran: {names:?}"
    );
    assert!(!names.contains("rv-unreviewed"), "{names:?}");
    runtime.block_on(emu.shutdown());
}

/// The live object moved after review: that change is refused by the `stale-plan` guard, the
/// rest runs, the exit code is 1, and the refusal is in the JSON report and the journal.
#[test]
fn a_partial_refusal_exits_1_and_is_reported_and_journaled() {
    let (runtime, emu, dir) = reviewed_plan("pr");
    // Someone else changes the tag before the reviewed plan is applied.
    write_manifest(dir.path(), &["pr-color:#333333", "pr-new"]);
    let other = run(&emu, dir.path(), &["apply", "--auto-approve", "org.yaml"]);
    assert_eq!(other.code, Some(0), "{}", other.stderr);
    // Only the create remains to do from the reviewed plan; make it fresh again.
    runtime.block_on(async {
        let client = Client::new(ClientConfig::new(emu.url(), KEY)).expect("client");
        let tags: Vec<bt_gitops::api::wire::ProjectTag> =
            client.list_all("/v1/project_tag", &[]).await.expect("list");
        let id = tags
            .iter()
            .find(|t| t.name == "pr-new")
            .map(|t| t.id.to_string())
            .expect("pr-new exists");
        client
            .delete::<Value>(&format!("/v1/project_tag/{id}"))
            .await
            .expect("delete");
    });
    let applied = apply_saved(&emu, dir.path());
    assert_eq!(
        applied.code,
        Some(1),
        "{}\n{}",
        applied.stdout,
        applied.stderr
    );
    let report: Value = serde_json::from_str(&applied.stdout).expect("JSON report");
    let refused = report["refused"].as_array().expect("refused list");
    assert_eq!(refused.len(), 1, "{report:#}");
    assert_eq!(refused[0]["guard"], "stale-plan");
    assert!(
        refused[0]["address"]
            .as_str()
            .is_some_and(|a| a.ends_with("tag:pr-color")),
        "{report:#}"
    );
    assert!(
        report["succeeded"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|s| s["address"]
                .as_str()
                .is_some_and(|a| a.ends_with("tag:pr-new"))),
        "{report:#}"
    );
    assert_eq!(
        color_of(&runtime, &emu, "pr-color").as_deref(),
        Some("#333333")
    );
    let journal = Path::new(report["journal"].as_str().expect("journal path"));
    let lines: Vec<Value> = journal_lines(dir.path())
        .into_iter()
        .filter(|(p, _)| p.ends_with(journal.file_name().expect("file name")))
        .map(|(_, v)| v)
        .collect();
    assert!(
        lines
            .iter()
            .any(|l| l["event"] == "refused" && l["guard"] == "stale-plan"),
        "{lines:#?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l["event"] == "end" && l["refused"] == 1)
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs_err::metadata(dir.path().join(journal))
            .expect("journal metadata")
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600, "journals are readable by their owner only");
    }
    runtime.block_on(emu.shutdown());
}

/// Usage errors exit 1 (2 means "changes present"), and a plan whose list read failed is
/// incomplete: exit 1, also with `--detailed-exitcode`.
#[test]
fn usage_errors_and_incomplete_plans_exit_1() {
    use bt_gitops::emulator::{FaultAction, FaultRule};
    let (runtime, emu, dir) = setup();
    write_manifest(dir.path(), &["inc-a"]);
    let typo = run(
        &emu,
        dir.path(),
        &["plan", "--detailed-exitcod", "org.yaml"],
    );
    assert_eq!(typo.code, Some(1), "{}", typo.stderr);
    emu.set_faults(vec![
        FaultRule::new(FaultAction::Status { status: 403 })
            .with_method("GET")
            .with_path("/v1/group"),
    ]);
    let plan = run(
        &emu,
        dir.path(),
        &[
            "plan",
            "--detailed-exitcode",
            "--format",
            "json",
            "org.yaml",
        ],
    );
    assert_eq!(plan.code, Some(1), "{}\n{}", plan.stdout, plan.stderr);
    let value: Value = serde_json::from_str(&plan.stdout).expect("JSON plan");
    assert!(
        value["incomplete"].as_array().is_some_and(|a| a
            .iter()
            .any(|s| s.as_str().is_some_and(|s| s.contains("group")))),
        "{value:#}"
    );
    runtime.block_on(emu.shutdown());
}

/// Kills at varying points of an apply, alternately `kill -9` and SIGTERM or SIGHUP (bounded:
/// four rounds). After SIGTERM or SIGHUP the next apply runs at once (the lease was released); after
/// `kill -9` it runs once the lease TTL (2 s here) has passed. Every tag the emulator holds
/// has an intent line in the killed apply's journal.
#[cfg(unix)]
#[test]
fn killed_applies_never_block_past_the_ttl_nor_lose_journal_entries() {
    const TTL: u64 = 2;
    let runtime = crate::support::runtime();
    let emu = runtime.block_on(crate::support::acme_emulator(false));
    emu.set_latency(Duration::from_millis(40));
    let dir = tempfile::tempdir().expect("temp dir");
    let ttl = TTL.to_string();
    for round in 0..4u64 {
        let names: Vec<String> = (0..10).map(|i| format!("kill{round}-{i}")).collect();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let cwd = dir.path().join(format!("round-{round}"));
        fs_err::create_dir_all(&cwd).expect("mkdir");
        write_manifest(&cwd, &refs);
        emu.clear_requests();
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_bt-gitops"))
            .args([
                "apply",
                "--auto-approve",
                "--concurrency",
                "2",
                "--lease-ttl",
                &ttl,
                "org.yaml",
            ])
            .current_dir(&cwd)
            .env("NO_COLOR", "1")
            .env("BRAINTRUST_API_URL", emu.url())
            .env("BRAINTRUST_API_KEY", KEY)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("apply starts");
        // Different points of the apply: during the reads, right after the lease is taken,
        // and after some of the tag writes reached the server (more may be in flight).
        let (what, count) = match round {
            0 => ("POST /v1/env_var", 1),
            1 => ("PUT /v1/project_tag", 3),
            2 => ("PUT /v1/project_tag", 6),
            _ => ("GET ", 1),
        };
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while std::time::Instant::now() < deadline {
            let seen = emu
                .requests()
                .iter()
                .filter(|r| format!("{} {}", r.method, r.path).starts_with(what))
                .count();
            if seen >= count {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let term = round % 2 == 1;
        if term {
            // SIGTERM (what CI cancellation and Kubernetes send), then SIGHUP (a closed terminal).
            let signal = if round == 1 { "-TERM" } else { "-HUP" };
            let sent = std::process::Command::new("kill")
                .args([signal, &child.id().to_string()])
                .status()
                .expect("kill runs");
            assert!(sent.success());
        } else {
            child.kill().expect("kill -9");
        }
        let status = child.wait().expect("the apply ends");
        if term {
            assert!(
                matches!(status.code(), Some(130) | Some(0)),
                "SIGTERM and SIGHUP end an apply with 130 (or 0 when it had finished): {status:?}"
            );
        }
        // Every tag of this round on the server was journaled before it was written.
        let intents: BTreeSet<String> = journal_lines(&cwd)
            .into_iter()
            .filter(|(_, l)| l["event"] == "intent")
            .filter_map(|(_, l)| l["address"].as_str().map(str::to_owned))
            .collect();
        // The request log agrees: no more tag writes reached the emulator than were journaled.
        let written = emu
            .requests()
            .iter()
            .filter(|r| r.method == "PUT" && r.path == "/v1/project_tag")
            .count();
        assert!(
            written <= intents.len(),
            "round {round}: {written} tag writes reached the server, {} intents journaled",
            intents.len()
        );
        for (name, _) in live_tags(&runtime, &emu) {
            if names.contains(&name) {
                let address = format!("project:acme/research/tag:{name}");
                assert!(
                    intents.contains(&address),
                    "round {round}: `{name}` reached the server but has no journal intent: {intents:?}"
                );
            }
        }
        if !term && round == 0 {
            // The killed holder's lease is still there: the next apply is refused, naming the
            // holder and the expiry as a local clock time.
            let blocked = run(&emu, &cwd, &["apply", "--auto-approve", "org.yaml"]);
            assert_eq!(blocked.code, Some(1), "{}", blocked.stderr);
            assert!(
                blocked.stderr.contains("holds the lease")
                    && blocked.stderr.contains("bt-gitops apply by")
                    && !blocked.stderr.contains("unix time"),
                "{}",
                blocked.stderr
            );
        }
        if !term {
            std::thread::sleep(Duration::from_secs(TTL + 1));
        }
        let next = run(
            &emu,
            &cwd,
            &["apply", "--auto-approve", "--lease-ttl", &ttl, "org.yaml"],
        );
        assert_eq!(
            next.code,
            Some(0),
            "round {round} ({}): the next apply was blocked:\n{}",
            if term { "SIGTERM/SIGHUP" } else { "kill -9" },
            next.stderr
        );
    }
    runtime.block_on(emu.shutdown());
}

/// A service token whose key cannot be written is revoked again and the apply fails loudly, so
/// the next plan creates it again instead of losing the key for good.
#[test]
fn a_token_whose_key_cannot_be_written_is_revoked() {
    use bt_gitops::emulator::{EmulatorConfig, SeedDoc, spawn};
    const TOKEN: &str = "bt-st-bootstrap-0000000000000001";
    let runtime = crate::support::runtime();
    let seed: SeedDoc = serde_json::from_value(serde_json::json!({ "orgs": [{
        "name": "acme",
        "users": [{ "email": "alice@acme.com", "owner": true }],
        "service_accounts": [{ "name": "deployer", "owner": true, "tokens": [{ "name": "bootstrap", "key": TOKEN }] }]
    }] }))
    .expect("seed");
    let emu = runtime
        .block_on(spawn(EmulatorConfig::default().with_seed(seed)))
        .expect("emulator");
    let dir = tempfile::tempdir().expect("temp dir");
    // `blocker` is a file, so no key can be written under it.
    fs_err::write(dir.path().join("blocker"), "").expect("write");
    fs_err::write(
        dir.path().join("org.yaml"),
        "org: acme\nservice_accounts:\n  - name: deployer\n  - name: ci-bot\n    tokens: [{ name: github, write_key_to: blocker/ci-bot.token }]\n",
    )
    .expect("write manifest");
    let env = [
        ("BRAINTRUST_API_URL", emu.url()),
        ("BRAINTRUST_API_KEY", TOKEN),
    ];
    let run = run_with_env(dir.path(), &["apply", "--auto-approve", "org.yaml"], &env);
    assert_eq!(run.code, Some(1), "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("could not be written") && run.stdout.contains("revoked again"),
        "{}",
        run.stdout
    );
    let tokens: Vec<bt_gitops::api::wire::ServiceToken> = runtime.block_on(async {
        let client = Client::new(ClientConfig::new(emu.url(), TOKEN)).expect("client");
        client
            .list_all("/v1/service_token", &[])
            .await
            .expect("list tokens")
    });
    assert!(
        !tokens.iter().any(|t| t.name == "github"),
        "the token without a key was not revoked"
    );
    let plan = run_with_env(
        dir.path(),
        &["plan", "--detailed-exitcode", "org.yaml"],
        &env,
    );
    assert_eq!(plan.code, Some(2), "{}\n{}", plan.stdout, plan.stderr);
    assert!(plan.stdout.contains("service_token:acme/ci-bot/github"));
    runtime.block_on(emu.shutdown());
}

/// `unlock` names the holder of a lease left by a killed apply, refuses without a terminal or
/// `--force`, and breaks it with `--force`.
#[test]
fn unlock_names_the_holder_and_breaks_the_lease() {
    use bt_gitops::apply::lease;
    let (runtime, emu, dir) = setup();
    let held = runtime.block_on(async {
        let client = Client::new(ClientConfig::new(emu.url(), KEY)).expect("client");
        lease::acquire(&client, "acme", "a crashed apply", Duration::from_secs(600))
            .await
            .expect("lease taken")
    });
    std::mem::forget(held);
    let asked = run(&emu, dir.path(), &["unlock", "--org", "acme"]);
    assert_eq!(asked.code, Some(1), "{}", asked.stderr);
    assert!(
        asked.stderr.contains("a crashed apply") && asked.stderr.contains("--force"),
        "{}",
        asked.stderr
    );
    let forced = run(&emu, dir.path(), &["unlock", "--org", "acme", "--force"]);
    assert_eq!(forced.code, Some(0), "{}", forced.stderr);
    assert!(
        forced.stdout.contains("broke the apply lease"),
        "{}",
        forced.stdout
    );
    write_manifest(dir.path(), &["after-unlock"]);
    let next = run(&emu, dir.path(), &["apply", "--auto-approve", "org.yaml"]);
    assert_eq!(next.code, Some(0), "{}", next.stderr);
    runtime.block_on(emu.shutdown());
}

/// Under `--emulator` two applies at once share the lease through the state file: the changes
/// are applied once, and the second apply is refused naming the first or finds nothing to do.
#[test]
fn concurrent_emulator_applies_apply_once() {
    let dir = tempfile::tempdir().expect("temp dir");
    let tags: Vec<String> = (0..12).map(|i| format!("emu-{i}")).collect();
    let refs: Vec<&str> = tags.iter().map(String::as_str).collect();
    write_manifest(dir.path(), &refs);
    let args = [
        "apply",
        "--emulator",
        "--auto-approve",
        "--format",
        "json",
        "org.yaml",
    ];
    let (a, b) = std::thread::scope(|s| {
        let first = s.spawn(|| crate::support::run_in(dir.path(), &args));
        let second = s.spawn(|| crate::support::run_in(dir.path(), &args));
        (
            first.join().expect("first run"),
            second.join().expect("second run"),
        )
    });
    let created = |r: &Run| -> usize {
        serde_json::from_str::<Value>(&r.stdout)
            .ok()
            .and_then(|v| v["succeeded"].as_array().map(Vec::len))
            .unwrap_or(0)
    };
    assert_eq!(
        created(&a) + created(&b),
        12,
        "first: {:?} {}\n{}\nsecond: {:?} {}\n{}",
        a.code,
        a.stdout,
        a.stderr,
        b.code,
        b.stdout,
        b.stderr
    );
    let other = if created(&a) == 12 { &b } else { &a };
    assert!(
        other.stderr.contains("holds the lease") || other.stdout.contains("No changes"),
        "{}\n{}",
        other.stdout,
        other.stderr
    );
}

/// Ctrl-C at the confirmation prompt ends the apply with 130 and releases the lease at once. The
/// prompt needs a terminal: `script` (util-linux) runs the apply on a pseudo-terminal, and the
/// Ctrl-C byte written to it becomes SIGINT.
#[cfg(unix)]
#[test]
fn ctrl_c_at_the_prompt_releases_the_lease() {
    use std::io::{Read, Write};
    use std::process::{Command, Stdio};
    let (runtime, emu, dir) = setup();
    write_manifest(dir.path(), &["prompted"]);
    let command = format!("{} apply org.yaml", env!("CARGO_BIN_EXE_bt-gitops"));
    let mut child = Command::new("script")
        .args(["-q", "-e", "-c", &command, "/dev/null"])
        .current_dir(dir.path())
        .env("NO_COLOR", "1")
        .env("BRAINTRUST_API_URL", emu.url())
        .env("BRAINTRUST_API_KEY", KEY)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("script runs");
    let mut stdout = child.stdout.take().expect("stdout");
    let screen = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let reader = {
        let screen = screen.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = stdout.read(&mut buf) {
                if n == 0 {
                    break;
                }
                if let Ok(mut s) = screen.lock() {
                    s.push_str(&String::from_utf8_lossy(&buf[..n]));
                }
            }
        })
    };
    let prompted = || {
        screen
            .lock()
            .is_ok_and(|s| s.contains("Only `yes` is accepted"))
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !prompted() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        prompted(),
        "no prompt: {}",
        screen.lock().map(|s| s.clone()).unwrap_or_default()
    );
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(b"\x03").expect("Ctrl-C typed");
    stdin.flush().expect("flush");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("the apply ignored Ctrl-C at the prompt");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    drop(stdin);
    let _ = reader.join();
    assert_eq!(
        status.code(),
        Some(130),
        "{}",
        screen.lock().map(|s| s.clone()).unwrap_or_default()
    );
    // The lease is free at once: the next apply runs.
    let next = run(&emu, dir.path(), &["apply", "--auto-approve", "org.yaml"]);
    assert_eq!(next.code, Some(0), "{}", next.stderr);
    runtime.block_on(emu.shutdown());
}

/// The mass-delete guard is found at plan time and shown with its override in every rendering
/// (the plan exits 1); applying the saved plan needs the override, and with it runs.
#[test]
fn plan_shows_the_guards_apply_will_run_with_their_override() {
    let (runtime, emu, dir) = setup();
    let names: Vec<String> = (0..6).map(|i| format!("md-{i}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    write_manifest(dir.path(), &refs);
    let base = run(&emu, dir.path(), &["apply", "--auto-approve", "org.yaml"]);
    assert_eq!(base.code, Some(0), "{}", base.stderr);
    let gone: Vec<String> = names.iter().map(|n| format!("{n}:absent")).collect();
    let refs: Vec<&str> = gone.iter().map(String::as_str).collect();
    write_manifest(dir.path(), &refs);
    let flag = "--allow-mass-delete";
    for format in ["human", "markdown", "json"] {
        let plan = run(
            &emu,
            dir.path(),
            &["plan", "org.yaml", "--format", format, "--out", "plan.json"],
        );
        assert_eq!(plan.code, Some(1), "{format}: {}", plan.stderr);
        assert!(
            plan.stderr.contains("apply would refuse"),
            "{}",
            plan.stderr
        );
        assert!(
            plan.stdout.contains("mass-delete") && plan.stdout.contains(flag),
            "{format}: {}",
            plan.stdout
        );
    }
    let saved: Value =
        serde_json::from_str(&fs_err::read_to_string(dir.path().join("plan.json")).expect("plan"))
            .expect("JSON plan");
    assert_eq!(saved["guards"][0]["guard"], "mass-delete");
    assert_eq!(saved["guards"][0]["override"], flag);
    let refused = run(&emu, dir.path(), &["apply", "--plan", "plan.json"]);
    assert_eq!(refused.code, Some(1), "{}", refused.stderr);
    assert!(
        refused.stderr.contains("`mass-delete` guard"),
        "{}",
        refused.stderr
    );
    let allowed = run(&emu, dir.path(), &["apply", "--plan", "plan.json", flag]);
    assert_eq!(
        allowed.code,
        Some(0),
        "{}\n{}",
        allowed.stdout,
        allowed.stderr
    );
    let left: Vec<String> = live_tags(&runtime, &emu)
        .into_iter()
        .map(|(n, _)| n)
        .filter(|n| n.starts_with("md-"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
    runtime.block_on(emu.shutdown());
}

/// A secret whose value changed between review and apply is not written: the change is refused
/// by the `stale-plan` guard. The plan file holds the reference and a digest, never the value.
#[test]
fn a_secret_changed_since_review_is_refused() {
    let (runtime, emu, dir) = setup();
    fs_err::write(
        dir.path().join("org.yaml"),
        "org: acme\nenv_vars:\n  - { name: REVIEWED_SECRET, value: { env: REVIEWED_SECRET_VALUE } }\n",
    )
    .expect("write manifest");
    let with_value = |value: &str, args: &[&str]| {
        run_with_env(
            dir.path(),
            args,
            &[
                ("BRAINTRUST_API_URL", emu.url()),
                ("BRAINTRUST_API_KEY", KEY),
                ("REVIEWED_SECRET_VALUE", value),
            ],
        )
    };
    let plan = with_value(
        "reviewed-value-0001",
        &["plan", "org.yaml", "--out", "plan.json"],
    );
    assert_eq!(plan.code, Some(0), "{}", plan.stderr);
    let text = fs_err::read_to_string(dir.path().join("plan.json")).expect("plan file");
    assert!(
        !text.contains("reviewed-value-0001"),
        "the secret is in the plan file"
    );
    assert!(text.contains("REVIEWED_SECRET_VALUE") && text.contains("\"digest\""));
    let other = with_value(
        "another-value-0002",
        &["apply", "--plan", "plan.json", "--format", "json"],
    );
    assert_eq!(other.code, Some(1), "{}\n{}", other.stdout, other.stderr);
    let report: Value = serde_json::from_str(&other.stdout).expect("JSON report");
    assert_eq!(report["refused"][0]["guard"], "stale-plan", "{report:#}");
    assert!(
        report["refused"][0]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("secret")),
        "{report:#}"
    );
    let same = with_value("reviewed-value-0001", &["apply", "--plan", "plan.json"]);
    assert_eq!(same.code, Some(0), "{}\n{}", same.stdout, same.stderr);
    runtime.block_on(emu.shutdown());
}
