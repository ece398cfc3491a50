//! `bt-gitops apply` end to end: the real binary against its `--emulator`, in a scratch
//! directory, plus the apply lease taken through the API.

use std::time::Duration;

use bt_gitops::api::client::{Client, ClientConfig};
use bt_gitops::apply::lease::{self, LeaseError};
use bt_gitops::emulator::{EmulatorConfig, SeedDoc, spawn};

use crate::support::{root, run_in};

/// A scratch directory holding a copy of the convergence fixture.
fn scratch() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let target = dir.path().join("manifests");
    fs_err::create_dir_all(&target).expect("mkdir");
    for entry in fs_err::read_dir(root().join("tests/data/apply/converge"))
        .expect("fixture")
        .filter_map(Result::ok)
    {
        fs_err::copy(entry.path(), target.join(entry.file_name())).expect("copy");
    }
    dir
}

#[test]
fn apply_refuses_without_a_terminal_or_approval() {
    let dir = scratch();
    let run = run_in(dir.path(), &["apply", "--emulator", "manifests"]);
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert!(run.stderr.contains("--auto-approve"), "{}", run.stderr);
    // Nothing was applied: the plan still shows every change.
    let again = run_in(
        dir.path(),
        &["plan", "--emulator", "--detailed-exitcode", "manifests"],
    );
    assert_eq!(again.code, Some(2), "{}", again.stderr);
}

#[test]
fn apply_converges_and_journals() {
    let dir = scratch();
    let run = run_in(
        dir.path(),
        &["apply", "--emulator", "--auto-approve", "manifests"],
    );
    assert_eq!(
        run.code,
        Some(0),
        "stdout:\n{}\nstderr:\n{}",
        run.stdout,
        run.stderr
    );
    assert!(run.stdout.contains("0 failed, 0 skipped"), "{}", run.stdout);
    let plan = run_in(
        dir.path(),
        &["plan", "--emulator", "--detailed-exitcode", "manifests"],
    );
    assert_eq!(
        plan.code,
        Some(0),
        "the plan after apply is not empty:\n{}",
        plan.stdout
    );
    let journals: Vec<_> = fs_err::read_dir(dir.path().join(".bt-gitops/journal"))
        .expect("journal dir")
        .collect();
    assert_eq!(journals.len(), 1);
    let again = run_in(
        dir.path(),
        &[
            "apply",
            "--emulator",
            "--auto-approve",
            "--format",
            "json",
            "manifests",
        ],
    );
    assert_eq!(again.code, Some(0), "{}", again.stderr);
    assert!(again.stdout.contains("No changes"), "{}", again.stdout);
}

#[test]
fn a_saved_plan_runs_only_its_changes() {
    let dir = scratch();
    let plan = run_in(
        dir.path(),
        &[
            "plan",
            "--emulator",
            "--out",
            "plan.json",
            "--format",
            "json",
            "manifests",
        ],
    );
    assert_eq!(plan.code, Some(0), "{}", plan.stderr);
    // The manifests change after review: the new tag is not in the reviewed plan.
    let prod = dir.path().join("manifests/chatbot-prod.yaml");
    let mut text = fs_err::read_to_string(&prod).expect("read");
    text.push_str("tags:\n  - { name: added-after-review }\n");
    fs_err::write(&prod, text).expect("write");
    let run = run_in(
        dir.path(),
        &["apply", "--emulator", "--plan", "plan.json", "manifests"],
    );
    assert_eq!(
        run.code,
        Some(0),
        "stdout:\n{}\nstderr:\n{}",
        run.stdout,
        run.stderr
    );
    assert!(!run.stdout.contains("added-after-review"), "{}", run.stdout);
    let after = run_in(
        dir.path(),
        &["plan", "--emulator", "--format", "json", "manifests"],
    );
    let value: serde_json::Value = serde_json::from_str(&after.stdout).expect("json plan");
    let addresses: Vec<&str> = value["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .filter_map(|c| c["address"].as_str())
        .collect();
    assert!(
        addresses
            .iter()
            .any(|a| a.ends_with("tag:added-after-review")),
        "{addresses:?}"
    );
}

#[test]
fn the_lease_admits_one_apply_and_names_the_holder() {
    let runtime = crate::support::runtime();
    runtime.block_on(async {
        let emu = crate::support::acme_emulator(false).await;
        let client = Client::new(ClientConfig::new(
            emu.url(),
            "sk-emulator-acme-0000000000000001",
        ))
        .expect("client");
        let first = lease::acquire(&client, "acme", "first apply", Duration::from_secs(60))
            .await
            .expect("first takes it");
        match lease::acquire(&client, "acme", "second apply", Duration::from_secs(60)).await {
            Err(LeaseError::Held { holder, .. }) => assert_eq!(holder, "first apply"),
            other => panic!("the second apply must be refused, got {other:?}"),
        }
        first.release().await.expect("released");
        let second = lease::acquire(&client, "acme", "second apply", Duration::from_secs(60))
            .await
            .expect("free again");
        second.release().await.expect("released");
        // An expired lease is taken over.
        let stale = lease::acquire(&client, "acme", "crashed apply", Duration::from_secs(0))
            .await
            .expect("taken");
        std::mem::forget(stale);
        tokio::time::sleep(Duration::from_millis(1100)).await;
        let taken = lease::acquire(&client, "acme", "new apply", Duration::from_secs(60))
            .await
            .expect("expired lease taken over");
        taken.release().await.expect("released");
        emu.shutdown().await;
    });
}

/// Rate limiting narrows the client: each 429 takes one request out of its concurrency, and a run
/// of successes gives them back one at a time.
#[test]
fn rate_limits_slow_the_client_down() {
    use bt_gitops::emulator::{FaultAction, FaultRule};
    let runtime = crate::support::runtime();
    runtime.block_on(async {
        let emu = crate::support::acme_emulator(false).await;
        let client = Client::new(
            ClientConfig::new(emu.url(), "sk-emulator-acme-0000000000000001").with_concurrency(8),
        )
        .expect("client");
        emu.set_faults(vec![
            FaultRule::new(FaultAction::RateLimit {
                retry_after_secs: 0,
            })
            .times(3),
        ]);
        let projects: Vec<bt_gitops::api::wire::Project> = client
            .list_all("/v1/project", &[])
            .await
            .expect("retried through");
        assert_eq!(projects.len(), 2);
        assert_eq!(client.current_concurrency(), 5);
        for _ in 0..60 {
            let _: Vec<bt_gitops::api::wire::Project> =
                client.list_all("/v1/project", &[]).await.expect("list");
        }
        assert_eq!(client.current_concurrency(), 8);
        emu.shutdown().await;
    });
}

/// Two applies of the same org at once, through the real binary against one emulator: exactly
/// one proceeds, the other is refused naming the holder, and nothing is applied twice.
#[test]
fn concurrent_applies_admit_exactly_one() {
    use crate::support::run_with_env;
    let runtime = crate::support::runtime();
    let emu = runtime.block_on(crate::support::acme_emulator(false));
    // Slow requests keep the first apply inside its lease while the second one starts.
    emu.set_latency(Duration::from_millis(100));
    let dir = tempfile::tempdir().expect("temp dir");
    let tags: String = (0..15)
        .map(|i| format!("  - {{ name: concurrent-{i} }}\n"))
        .collect();
    fs_err::write(
        dir.path().join("org.yaml"),
        format!("org: acme\n---\nproject: research\ntags:\n{tags}"),
    )
    .expect("write manifest");
    let url = emu.url().to_owned();
    let env = [
        ("BRAINTRUST_API_URL", url.as_str()),
        ("BRAINTRUST_API_KEY", "sk-emulator-acme-0000000000000001"),
    ];
    let (a, b) = std::thread::scope(|s| {
        let first = s.spawn(|| {
            run_with_env(
                dir.path(),
                &["apply", "--auto-approve", "--concurrency", "2", "org.yaml"],
                &env,
            )
        });
        std::thread::sleep(Duration::from_millis(800));
        let second =
            s.spawn(|| run_with_env(dir.path(), &["apply", "--auto-approve", "org.yaml"], &env));
        (
            first.join().expect("first run"),
            second.join().expect("second run"),
        )
    });
    let runs = [&a, &b];
    let winners = runs.iter().filter(|r| r.code == Some(0)).count();
    assert_eq!(
        winners, 1,
        "first: {:?} {}\nsecond: {:?} {}",
        a.code, a.stderr, b.code, b.stderr
    );
    let loser = runs
        .iter()
        .find(|r| r.code != Some(0))
        .expect("one refused");
    assert!(
        loser.stderr.contains("holds the lease") && loser.stderr.contains("bt-gitops apply by"),
        "{}",
        loser.stderr
    );
    let tag_writes = emu
        .requests()
        .iter()
        .filter(|r| r.is_write() && r.path == "/v1/project_tag" && r.status == 200)
        .count();
    assert_eq!(tag_writes, 15, "each tag is created exactly once");
    runtime.block_on(emu.shutdown());
}

/// A new service token's key goes to its `write_key_to` file, readable by its owner only (an
/// existing file's mode corrected), and nowhere else.
#[test]
fn service_token_keys_go_only_to_their_file() {
    use crate::support::run_with_env;
    let runtime = crate::support::runtime();
    let seed: SeedDoc = serde_json::from_value(serde_json::json!({ "orgs": [{
        "name": "acme",
        "users": [{ "email": "alice@acme.com", "owner": true }],
        "service_accounts": [{ "name": "deployer", "owner": true, "tokens": [{ "name": "bootstrap", "key": "bt-st-bootstrap-0000000000000001" }] }]
    }] }))
    .expect("seed");
    let emu = runtime
        .block_on(spawn(EmulatorConfig::default().with_seed(seed)))
        .expect("emulator");
    let dir = tempfile::tempdir().expect("temp dir");
    fs_err::write(
        dir.path().join("org.yaml"),
        "org: acme\nservice_accounts:\n  - name: deployer\n  - name: ci-bot\n    tokens: [{ name: github, write_key_to: .secrets/ci-bot.token }]\n",
    )
    .expect("write manifest");
    let url = emu.url().to_owned();
    let env = [
        ("BRAINTRUST_API_URL", url.as_str()),
        ("BRAINTRUST_API_KEY", "bt-st-bootstrap-0000000000000001"),
    ];
    // A key file left world-readable by something else ends with mode 0600.
    let path = dir.path().join(".secrets/ci-bot.token");
    fs_err::create_dir_all(dir.path().join(".secrets")).expect("mkdir");
    fs_err::write(&path, "stale").expect("write stale key");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs_err::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    }
    let run = run_with_env(dir.path(), &["apply", "--auto-approve", "org.yaml"], &env);
    assert_eq!(
        run.code,
        Some(0),
        "stdout:\n{}\nstderr:\n{}",
        run.stdout,
        run.stderr
    );
    let key = fs_err::read_to_string(&path).expect("key file written");
    assert!(key.starts_with("bt-st-"), "{key}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs_err::metadata(&path)
            .expect("metadata")
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600);
    }
    assert!(
        !run.stdout.contains(&key) && !run.stderr.contains(&key),
        "the key was printed"
    );
    let journal_dir = dir.path().join(".bt-gitops/journal");
    for entry in fs_err::read_dir(journal_dir)
        .expect("journal")
        .filter_map(Result::ok)
    {
        let text = fs_err::read_to_string(entry.path()).expect("journal text");
        assert!(!text.contains(&key), "the key is in the journal");
    }
    runtime.block_on(emu.shutdown());
}

/// bt-gitops finds who its key belongs to, so the lockout guard can protect it.
#[test]
fn the_live_read_knows_its_own_principal() {
    use bt_gitops::live::Principal;
    let runtime = crate::support::runtime();
    runtime.block_on(async {
        let emu = crate::support::acme_emulator(false).await;
        let client = Client::new(ClientConfig::new(
            emu.url(),
            "sk-emulator-acme-0000000000000001",
        ))
        .expect("client");
        let org = bt_gitops::model::OrgName::new("acme").expect("name");
        let live = bt_gitops::api::read::fetch_org(&client, &org, &[], &Default::default())
            .await
            .expect("read");
        assert_eq!(
            live.own_principal.get(&org),
            Some(&Principal::User("alice@acme.com".into()))
        );
        emu.shutdown().await;
    });
}

/// `api_key_policy` with `on_violation: delete` (the `api-key-policy-delete` plan scenario):
/// apply deletes the violating service tokens through the normal path, journals each delete,
/// and the next plan has nothing left to do (the token bt-gitops runs with, and the declared
/// one, are kept and only reported).
#[test]
fn api_key_policy_deletes_are_applied_and_journaled() {
    use crate::support::run_with_env;
    let scenario = root().join("tests/data/plans/api-key-policy-delete");
    let seed: SeedDoc = serde_json::from_str(
        &fs_err::read_to_string(scenario.join("live.json")).expect("live.json"),
    )
    .expect("seed");
    let runtime = crate::support::runtime();
    let emu = runtime
        .block_on(spawn(EmulatorConfig::default().with_seed(seed)))
        .expect("emulator");
    let dir = tempfile::tempdir().expect("temp dir");
    fs_err::copy(
        scenario.join("manifests/org.yaml"),
        dir.path().join("org.yaml"),
    )
    .expect("copy manifest");
    let url = emu.url().to_owned();
    let env = [
        ("BRAINTRUST_API_URL", url.as_str()),
        ("BRAINTRUST_API_KEY", "bt-st-plan-acme-0000000000000009"),
    ];
    let run = run_with_env(dir.path(), &["apply", "--auto-approve", "org.yaml"], &env);
    assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("0 failed, 0 skipped"), "{}", run.stdout);
    let journal: String = fs_err::read_dir(dir.path().join(".bt-gitops/journal"))
        .expect("journal")
        .filter_map(Result::ok)
        .map(|e| fs_err::read_to_string(e.path()).expect("journal text"))
        .collect();
    for address in [
        "service_token:acme/ci-bot/stale",
        "service_token:acme/rogue/leaked",
    ] {
        assert!(
            journal.contains(address),
            "{address} not journaled:\n{journal}"
        );
    }
    assert!(!journal.contains("bt-gitops/deploy"), "{journal}");
    let plan = run_with_env(
        dir.path(),
        &["plan", "--detailed-exitcode", "org.yaml"],
        &env,
    );
    assert_eq!(plan.code, Some(0), "{}\n{}", plan.stdout, plan.stderr);
    assert!(
        plan.stdout.contains("`bt-gitops/deploy`") && !plan.stdout.contains("rogue/leaked"),
        "{}",
        plan.stdout
    );
    runtime.block_on(emu.shutdown());
}

/// A new export is registered with the scheduler (A6) as a journaled step of its own, with the
/// key bt-gitops runs with (the emulator records which credential), and that key is in no
/// journal line.
#[test]
fn exports_are_registered_with_the_key_bt_gitops_runs_with() {
    use crate::support::run_with_env;
    const KEY: &str = "bt-st-export-0000000000000001";
    let runtime = crate::support::runtime();
    let seed: SeedDoc = serde_json::from_value(serde_json::json!({ "orgs": [{
        "name": "acme",
        "users": [{ "email": "alice@acme.com", "owner": true }],
        "service_accounts": [{ "name": "gitops", "owner": true, "tokens": [{ "name": "tool", "key": KEY }] }]
    }] }))
    .expect("seed");
    let emu = runtime
        .block_on(spawn(EmulatorConfig::default().with_seed(seed)))
        .expect("emulator");
    let dir = tempfile::tempdir().expect("temp dir");
    fs_err::write(
        dir.path().join("chatbot.yaml"),
        "org: acme\n---\nproject: chatbot\norg: acme\nexports:\n  - { name: nightly, data: log_traces, path: gs://acme-exports/nightly, credentials: { gcp_service_account: exporter@acme.iam.gserviceaccount.com }, format: jsonl, interval: 1d }\n",
    )
    .expect("manifest");
    let url = emu.url().to_owned();
    let env = [
        ("BRAINTRUST_API_URL", url.as_str()),
        ("BRAINTRUST_API_KEY", KEY),
    ];
    let run = run_with_env(
        dir.path(),
        &["apply", "--auto-approve", "chatbot.yaml"],
        &env,
    );
    assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
    let (registered, token_id) = {
        let store = emu.state().store();
        let token_id = store
            .credential(KEY)
            .map(|(_, r)| r.id().to_owned())
            .expect("the key is a credential");
        (store.cron.clone(), token_id)
    };
    assert_eq!(registered.len(), 1, "{registered:?}");
    assert_eq!(registered.values().next(), Some(&token_id));
    let journal: String = fs_err::read_dir(dir.path().join(".bt-gitops/journal"))
        .expect("journal")
        .filter_map(Result::ok)
        .map(|e| fs_err::read_to_string(e.path()).expect("journal text"))
        .collect();
    let events: Vec<String> = journal
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["address"] == "project:acme/chatbot/export:nightly")
        .map(|v| {
            format!(
                "{} {}",
                v["event"].as_str().unwrap_or_default(),
                v["step"].as_str().unwrap_or_default()
            )
        })
        .collect();
    assert_eq!(
        events,
        [
            "intent ",
            "step_intent register_export",
            "step_succeeded register_export",
            "succeeded "
        ],
        "{journal}"
    );
    assert!(!journal.contains(KEY), "the key is in the journal");
    runtime.block_on(emu.shutdown());
}
