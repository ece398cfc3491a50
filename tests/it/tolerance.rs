//! Reading the real API with tolerance (issue 11): lists hold objects outside our model, seeded
//! raw into the emulator from `tests/data/tolerance/seed.json` (a topic-digest
//! automation, an AI provider key in the env var list, project settings with a key we do not
//! model), or added raw through `POST /_emulator/objects` (a `windowed` Loop automation). Each test runs the real binary against that org and checks what
//! the plan says and what the emulator holds afterwards.

use bt_gitops::emulator::{Collection, EmuHandle, FaultAction, FaultRule, Profile};
use serde_json::Value;
use tokio::runtime::Runtime;

use crate::support::{Run, root, run_data_manifest, run_with_env, start_seeded};

const KEY: &str = "sk-tolerance-acme-000000000001";

/// The emulator seeded with the tolerance org, on its own runtime, in the default (real-API)
/// profile.
fn start() -> (Runtime, EmuHandle) {
    start_in(Profile::default())
}

/// Like [`start`], in the given emulator profile.
fn start_in(profile: Profile) -> (Runtime, EmuHandle) {
    start_seeded("tolerance", profile)
}

/// Runs the binary on one manifest of `tests/data/tolerance/`, copied into a fresh directory.
fn run(emu: &EmuHandle, args: &[&str], manifest: &str) -> Run {
    let env = [("TOLERANCE_VALUE", "tolerance-value")];
    run_data_manifest(emu, KEY, &env, args, "tolerance", manifest)
}

/// The live objects of a collection, as the emulator stores them.
fn stored(emu: &EmuHandle, collection: Collection) -> Vec<Value> {
    emu.snapshot()
        .records
        .get(&collection)
        .into_iter()
        .flatten()
        .filter(|r| !r.deleted)
        .map(|r| Value::Object(r.object.clone()))
        .collect()
}

fn named<'a>(objects: &'a [Value], name: &str) -> Option<&'a Value> {
    objects.iter().find(|o| o["name"] == name)
}

/// One automation the wire types cannot decode (`event_type: windowed`) no longer fails the
/// whole automation list: the declared alert beside it is read and its change planned, and the
/// Loop automation is shown as unmanaged. (Before: the list failed, every alert, retention
/// rule and export of the org was held back, and the plan exited 1 as incomplete.)
#[test]
fn an_undecodable_item_does_not_fail_its_list() {
    let (runtime, emu) = start();
    let body = fs_err::read_to_string(root().join("tests/data/tolerance/windowed-automation.json"))
        .expect("data file");
    let added = runtime.block_on(async {
        reqwest::Client::new()
            .post(format!("{}/_emulator/objects", emu.url()))
            .body(body)
            .send()
            .await
            .expect("the control endpoint answers")
    });
    assert_eq!(added.status(), 200);
    let plan = run(&emu, &["plan", "--detailed-exitcode"], "alert-update.yaml");
    assert_eq!(plan.code, Some(2), "{}\n{}", plan.stdout, plan.stderr);
    assert!(
        plan.stdout.contains("~ project:acme/chatbot/alert:errors"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout
            .contains("unmanaged: project_automation `nightly-loop` in acme/chatbot"),
        "{}",
        plan.stdout
    );
    assert!(!plan.stdout.contains("incomplete"), "{}", plan.stdout);
    runtime.block_on(emu.shutdown());
}

/// Automations the reader does not manage still hold their names: an alert declared under the
/// name of a live topic-digest automation (`env-watch`) is refused by the plan and by apply, and the
/// live automation is left as it was. (Before: the alert was planned as a create, and its PUT
/// replaced the live automation in place.)
#[test]
fn skipped_automations_hold_their_names() {
    let (runtime, emu) = start();
    let plan = run(&emu, &["plan"], "alert-named-like-env-watch.yaml");
    assert_eq!(plan.code, Some(1), "{}\n{}", plan.stdout, plan.stderr);
    assert!(
        plan.stdout.contains("`name-taken` guard") && plan.stdout.contains("alert:env-watch"),
        "{}",
        plan.stdout
    );
    let apply = run(
        &emu,
        &["apply", "--auto-approve"],
        "alert-named-like-env-watch.yaml",
    );
    assert_eq!(apply.code, Some(1), "{}\n{}", apply.stdout, apply.stderr);
    let automations = stored(&emu, Collection::ProjectAutomation);
    let live = named(&automations, "env-watch").expect("env-watch is still there");
    assert_eq!(live["config"]["event_type"], "topic_digest", "{live}");
    runtime.block_on(emu.shutdown());
}

/// Environment alerts share the automation name space both ways: one declared under the name
/// of an unmanaged automation (the topic digest `env-watch`) is refused by the `name-taken`
/// guard, and an alert declared under the name of a live environment alert that no manifest
/// declares is held back (the plan is incomplete), so neither PUT replaces the live object.
#[test]
fn environment_alerts_share_the_automation_names() {
    let (runtime, emu) = start();
    let refused = run(
        &emu,
        &["plan"],
        "environment-alert-named-like-env-watch.yaml",
    );
    assert_eq!(
        refused.code,
        Some(1),
        "{}\n{}",
        refused.stdout,
        refused.stderr
    );
    assert!(
        refused.stdout.contains("`name-taken` guard")
            && refused
                .stdout
                .contains("project:acme/chatbot/environment_alert:env-watch"),
        "{}",
        refused.stdout
    );
    let body = fs_err::read_to_string(
        root().join("tests/data/tolerance/environment-update-automation.json"),
    )
    .expect("data file");
    let added = runtime.block_on(async {
        reqwest::Client::new()
            .post(format!("{}/_emulator/objects", emu.url()))
            .body(body)
            .send()
            .await
            .expect("the control endpoint answers")
    });
    assert_eq!(added.status(), 200);
    let held = run(&emu, &["plan"], "alert-named-like-deploy-watch.yaml");
    assert_eq!(held.code, Some(1), "{}\n{}", held.stdout, held.stderr);
    let all = format!("{}{}", held.stdout, held.stderr);
    assert!(
        all.contains("`project:acme/chatbot/alert:deploy-watch` is not created")
            && all.contains("project:acme/chatbot/environment_alert:deploy-watch"),
        "{all}"
    );
    let apply = run(
        &emu,
        &["apply", "--auto-approve"],
        "alert-named-like-deploy-watch.yaml",
    );
    assert_eq!(apply.code, Some(1), "{}\n{}", apply.stdout, apply.stderr);
    let automations = stored(&emu, Collection::ProjectAutomation);
    for name in ["env-watch", "deploy-watch"] {
        let live = named(&automations, name).expect("the live automation is still there");
        assert_ne!(live["config"]["event_type"], "logs", "{live}");
    }
    runtime.block_on(emu.shutdown());
}

/// A settings update sends the live settings back with only the modelled keys changed: a key
/// bt-gitops does not know survives the apply. (Before: the settings object was rebuilt from
/// the modelled keys, and the PATCH, which replaces `settings` whole, erased the others.)
#[test]
fn project_settings_keep_unknown_keys() {
    let (runtime, emu) = start();
    let apply = run(&emu, &["apply", "--auto-approve"], "settings.yaml");
    assert_eq!(apply.code, Some(0), "{}\n{}", apply.stdout, apply.stderr);
    let projects = stored(&emu, Collection::Project);
    let settings = &named(&projects, "chatbot").expect("the project")["settings"];
    assert_eq!(
        settings["comparison_key"], "metadata.session_id",
        "{settings}"
    );
    assert_eq!(
        settings["future_setting"],
        serde_json::json!({"mode": "strict"}),
        "{settings}"
    );
    let again = run(&emu, &["plan", "--detailed-exitcode"], "settings.yaml");
    assert_eq!(again.code, Some(0), "{}\n{}", again.stdout, again.stderr);
    runtime.block_on(emu.shutdown());
}

/// Only `env_var`-category entries of the env var list are env vars: an authoritative
/// `env_vars` deletes the undeclared env var but not the AI provider key stored beside it, and
/// declaring an env var under the provider key's name is refused. (Before: the provider key
/// read as an env var and was deleted.)
#[test]
fn provider_keys_in_the_env_var_list_are_not_env_vars() {
    let (runtime, emu) = start();
    let refused = run(&emu, &["plan"], "env-var-named-like-provider.yaml");
    assert_eq!(
        refused.code,
        Some(1),
        "{}\n{}",
        refused.stdout,
        refused.stderr
    );
    assert!(
        refused.stdout.contains("`name-taken` guard"),
        "{}",
        refused.stdout
    );
    let apply = run(
        &emu,
        &["apply", "--auto-approve"],
        "env-vars-authoritative.yaml",
    );
    assert_eq!(apply.code, Some(0), "{}\n{}", apply.stdout, apply.stderr);
    let vars = stored(&emu, Collection::EnvVar);
    assert!(named(&vars, "UI_VAR").is_none(), "UI_VAR was not deleted");
    assert!(
        named(&vars, "OPENAI_API_KEY").is_some(),
        "the AI provider key was deleted"
    );
    runtime.block_on(emu.shutdown());
}

/// In a project's env var list, entries of the `ai_provider` category are the project's AI
/// providers (S12), managed as `ai_provider` objects: left alone unless declared, owned by
/// `authoritative: [ai_providers]` (never by `[env_vars]`). Sandbox provider keys stay objects
/// outside the model. (Before: project AI providers were unknown objects too, S8.)
#[test]
fn project_ai_providers_are_read_as_ai_providers() {
    let (runtime, emu) = start();
    let declared = run(
        &emu,
        &["plan", "--detailed-exitcode"],
        "project-ai-provider-declared.yaml",
    );
    assert_eq!(
        declared.code,
        Some(0),
        "{}\n{}",
        declared.stdout,
        declared.stderr
    );
    let owned = run(&emu, &["plan"], "project-ai-providers-authoritative.yaml");
    assert!(
        owned
            .stdout
            .contains("- project:acme/chatbot/ai_provider:ANTHROPIC_API_KEY")
            && !owned.stdout.contains("env_var:PROJECT_UI_VAR")
            && !owned.stdout.contains("E2B_API_KEY\n"),
        "{}\n{}",
        owned.stdout,
        owned.stderr
    );
    assert!(
        owned
            .stdout
            .contains("unmanaged: env_var `E2B_API_KEY` in acme/chatbot"),
        "{}",
        owned.stdout
    );
    let apply = run(
        &emu,
        &["apply", "--auto-approve"],
        "project-env-vars-authoritative.yaml",
    );
    assert_eq!(apply.code, Some(0), "{}\n{}", apply.stdout, apply.stderr);
    let vars = stored(&emu, Collection::EnvVar);
    assert!(
        named(&vars, "PROJECT_UI_VAR").is_none(),
        "PROJECT_UI_VAR was not deleted"
    );
    for kept in ["ANTHROPIC_API_KEY", "E2B_API_KEY"] {
        assert!(named(&vars, kept).is_some(), "{kept} was deleted");
    }
    runtime.block_on(emu.shutdown());
}

/// A plan that held a scope back is incomplete in every rendering and exit code: never
/// "No changes", never exit 0 with `--detailed-exitcode`.
#[test]
fn an_incomplete_plan_never_says_no_changes() {
    let (runtime, emu) = start();
    let clean = run(
        &emu,
        &["plan", "--detailed-exitcode"],
        "alert-unchanged.yaml",
    );
    assert_eq!(clean.code, Some(0), "{}\n{}", clean.stdout, clean.stderr);
    emu.set_faults(vec![
        FaultRule::new(FaultAction::Status { status: 503 })
            .with_method("GET")
            .with_path("/v1/project_tag"),
    ]);
    for format in ["human", "markdown", "json"] {
        let plan = run(
            &emu,
            &["plan", "--detailed-exitcode", "--format", format],
            "alert-unchanged.yaml",
        );
        assert_eq!(
            plan.code,
            Some(1),
            "{format}: {}\n{}",
            plan.stdout,
            plan.stderr
        );
        assert!(
            !plan.stdout.contains("No changes"),
            "{format}: {}",
            plan.stdout
        );
        assert!(
            plan.stderr.contains("incomplete"),
            "{format}: {}",
            plan.stderr
        );
    }
    let human = run(&emu, &["plan"], "alert-unchanged.yaml");
    assert!(human.stdout.contains("Incomplete plan"), "{}", human.stdout);
    runtime.block_on(emu.shutdown());
}

/// An automation update sends `config` whole, so it sends back what the live config holds
/// outside our model (here webhook headers) next to the changed interval.
#[test]
fn automation_updates_keep_unmodelled_config() {
    let (runtime, emu) = start();
    let apply = run(&emu, &["apply", "--auto-approve"], "alert-config.yaml");
    assert_eq!(apply.code, Some(0), "{}\n{}", apply.stdout, apply.stderr);
    let patch = emu
        .requests()
        .into_iter()
        .find(|r| r.method == "PATCH" && r.path.starts_with("/v1/project_automation/"))
        .and_then(|r| r.body)
        .expect("the alert was patched");
    assert_eq!(patch["config"]["interval_seconds"], 1800, "{patch}");
    assert_eq!(
        patch["config"]["action"]["headers"],
        serde_json::json!({"X-Team": "ml"}),
        "{patch}"
    );
    runtime.block_on(emu.shutdown());
}

/// The live config of the `paging` alert, as the emulator stores it.
fn paging_config(emu: &EmuHandle) -> Value {
    stored(emu, Collection::ProjectAutomation)
        .into_iter()
        .find(|a| a["name"] == "paging")
        .map(|a| a["config"].clone())
        .expect("the paging alert is stored")
}

/// A4 under both answers. The real profile deep-merges a config PATCH (the spec's rule for
/// object fields): webhook headers outside our model stay, both after bt-gitops's own update
/// (which sends them back) and after a PATCH that leaves them out. The lenient profile keeps
/// only what the wire types model. Either way bt-gitops's update lands and the next plan is
/// empty, since the headers are not managed.
#[test]
fn automation_config_patches_keep_or_drop_unmodelled_keys_by_profile() {
    for (profile, kept) in [(Profile::real(), true), (Profile::lenient(), false)] {
        let (runtime, emu) = start_in(profile);
        let apply = run(&emu, &["apply", "--auto-approve"], "alert-config.yaml");
        assert_eq!(apply.code, Some(0), "{}\n{}", apply.stdout, apply.stderr);
        let config = paging_config(&emu);
        assert_eq!(
            config["interval_seconds"].as_f64(),
            Some(1800.0),
            "{config}"
        );
        let headers = serde_json::json!({"X-Team": "ml"});
        assert_eq!(
            config["action"]["headers"] == headers,
            kept,
            "{:?}: {config}",
            profile.name
        );
        // A PATCH that leaves the headers out, as a client that does not keep them would send.
        let client = bt_gitops::api::client::Client::new(
            bt_gitops::api::client::ClientConfig::new(emu.url(), KEY),
        )
        .expect("client");
        let id = stored(&emu, Collection::ProjectAutomation)
            .into_iter()
            .find(|a| a["name"] == "paging")
            .and_then(|a| a["id"].as_str().map(str::to_owned))
            .expect("id");
        let body = serde_json::json!({ "config": {
            "event_type": "logs", "btql_filter": "metrics.duration > 30", "interval_seconds": 1800,
            "action": { "type": "webhook", "url": "https://hooks.acme.com/paging" }
        }});
        runtime
            .block_on(client.send::<Value, Value>(
                bt_gitops::api::client::Method::PATCH,
                &format!("/v1/project_automation/{id}"),
                &body,
            ))
            .expect("the PATCH is accepted");
        let config = paging_config(&emu);
        assert_eq!(
            config["action"]["headers"] == headers,
            kept,
            "{:?}: {config}",
            profile.name
        );
        let plan = run(&emu, &["plan", "--detailed-exitcode"], "alert-config.yaml");
        assert_eq!(plan.code, Some(0), "{}\n{}", plan.stdout, plan.stderr);
        runtime.block_on(emu.shutdown());
    }
}

/// `import` writes the org without the objects outside the model, says which it left out, and
/// the imported manifests plan clean: nothing unmanaged is deleted or written.
#[test]
fn import_leaves_unmanaged_objects_out_and_plans_clean() {
    let (runtime, emu) = start();
    let dir = tempfile::tempdir().expect("temp dir");
    let env = [
        ("BRAINTRUST_API_URL", emu.url()),
        ("BRAINTRUST_API_KEY", KEY),
    ];
    let import = run_with_env(
        dir.path(),
        &["import", "--org", "acme", "--out", "acme"],
        &env,
    );
    assert_eq!(import.code, Some(0), "{}", import.stderr);
    assert!(
        import
            .stderr
            .contains("not imported: project_automation `env-watch` in acme/chatbot"),
        "{}",
        import.stderr
    );
    assert!(
        import
            .stderr
            .contains("not imported: env_var `OPENAI_API_KEY` in acme"),
        "{}",
        import.stderr
    );
    let plan = run_with_env(dir.path(), &["plan", "--detailed-exitcode", "acme"], &env);
    assert_eq!(plan.code, Some(0), "{}\n{}", plan.stdout, plan.stderr);
    runtime.block_on(emu.shutdown());
}

/// The raw objects, the settings kept whole and the refusals hold in the lenient profile too.
#[test]
fn the_lenient_profile_reads_and_refuses_the_same() {
    let (runtime, emu) = start_in(Profile::lenient());
    let refused = run(&emu, &["plan"], "alert-named-like-env-watch.yaml");
    assert_eq!(
        refused.code,
        Some(1),
        "{}\n{}",
        refused.stdout,
        refused.stderr
    );
    assert!(
        refused.stdout.contains("`name-taken` guard"),
        "{}",
        refused.stdout
    );
    let apply = run(&emu, &["apply", "--auto-approve"], "settings.yaml");
    assert_eq!(apply.code, Some(0), "{}\n{}", apply.stdout, apply.stderr);
    let projects = stored(&emu, Collection::Project);
    let settings = &named(&projects, "chatbot").expect("the project")["settings"];
    assert_eq!(
        settings["future_setting"],
        serde_json::json!({"mode": "strict"}),
        "{settings}"
    );
    let apply = run(
        &emu,
        &["apply", "--auto-approve"],
        "env-vars-authoritative.yaml",
    );
    assert_eq!(apply.code, Some(0), "{}\n{}", apply.stdout, apply.stderr);
    assert!(named(&stored(&emu, Collection::EnvVar), "OPENAI_API_KEY").is_some());
    runtime.block_on(emu.shutdown());
}
