//! Saved views belong to users (J12): bt-gitops manages a project's views that carry no
//! `user_id` or were made by the API key's own user, and leaves everyone else's alone, even in
//! an authoritative `views` collection. An update keeps the keys of `view_data` and `options`
//! that the manifest leaves out (J14). The org is seeded from `tests/data/views/seed.json`
//! (three raw views of project `chatbot`: a shared one, Bob's, and one of the key's user) and
//! the real binary runs against it. A failed view list holds back its project's deletes, and
//! several live views of one name (J13) are all left alone.

use bt_gitops::emulator::{Collection, EmuHandle, FaultAction, FaultRule, Profile};
use serde_json::{Value, json};
use tokio::runtime::Runtime;

use crate::support::{Run, root, run_data_manifest, start_seeded};

/// Alice's key: the views she made are the tool's own.
const KEY: &str = "sk-views-acme-0000000000000001";

fn start() -> (Runtime, EmuHandle) {
    start_seeded("views", Profile::default())
}

/// Runs the binary on one manifest of `tests/data/views/`, copied into a fresh directory.
fn run(emu: &EmuHandle, args: &[&str], manifest: &str) -> Run {
    run_data_manifest(emu, KEY, &[], args, "views", manifest)
}

fn views(emu: &EmuHandle) -> Vec<Value> {
    emu.snapshot()
        .records
        .get(&Collection::View)
        .into_iter()
        .flatten()
        .filter(|r| !r.deleted)
        .map(|r| Value::Object(r.object.clone()))
        .collect()
}

fn named<'a>(objects: &'a [Value], name: &str) -> Option<&'a Value> {
    objects.iter().find(|o| o["name"] == name)
}

/// With `views` authoritative: the shared view is updated, the key's own stale view deleted,
/// Bob's view shown as unmanaged and left as it was; the app's keys survive the update, and
/// the next plan is empty.
#[test]
fn another_users_views_are_left_alone() {
    let (runtime, emu) = start();
    let plan = run(&emu, &["plan"], "views-authoritative.yaml");
    assert_eq!(plan.code, Some(0), "{}\n{}", plan.stdout, plan.stderr);
    for expected in [
        "~ project:acme/chatbot/view:team-errors",
        "- project:acme/chatbot/view:stale",
        "unmanaged: view `bobs-view` in acme/chatbot",
    ] {
        assert!(
            plan.stdout.contains(expected),
            "{expected}:\n{}",
            plan.stdout
        );
    }
    assert!(!plan.stdout.contains("view:bobs-view"), "{}", plan.stdout);

    let apply = run(
        &emu,
        &["apply", "--auto-approve"],
        "views-authoritative.yaml",
    );
    assert_eq!(apply.code, Some(0), "{}\n{}", apply.stdout, apply.stderr);
    let live = views(&emu);
    assert!(named(&live, "stale").is_none(), "stale was not deleted");
    let bobs = named(&live, "bobs-view").expect("Bob's view is still there");
    assert_eq!(bobs["options"], json!({ "rowHeight": "tall" }), "{bobs}");
    let team = named(&live, "team-errors").expect("the shared view");
    assert_eq!(
        team["options"],
        json!({
            "columnOrder": ["input", "output"],
            "columnSizing": { "input": 240 },
            "panelLayout": "wide",
            "rowHeight": "compact",
        }),
        "{team}"
    );
    assert_eq!(
        team["view_data"],
        json!({ "search": { "filter": ["error IS NOT NULL"] } }),
        "{team}"
    );

    let again = run(
        &emu,
        &["plan", "--detailed-exitcode"],
        "views-authoritative.yaml",
    );
    assert_eq!(again.code, Some(0), "{}\n{}", again.stdout, again.stderr);
    runtime.block_on(emu.shutdown());
}

/// A view declared under the name of another user's view is refused by the plan and by apply
/// (`name-taken`), and that view is not written over.
#[test]
fn a_declared_view_never_takes_another_users_name() {
    let (runtime, emu) = start();
    let plan = run(&emu, &["plan"], "view-named-like-bobs.yaml");
    assert_eq!(plan.code, Some(1), "{}\n{}", plan.stdout, plan.stderr);
    assert!(
        plan.stdout.contains("`name-taken` guard") && plan.stdout.contains("view:bobs-view"),
        "{}",
        plan.stdout
    );
    let apply = run(
        &emu,
        &["apply", "--auto-approve"],
        "view-named-like-bobs.yaml",
    );
    assert_eq!(apply.code, Some(1), "{}\n{}", apply.stdout, apply.stderr);
    let live = views(&emu);
    let bobs = named(&live, "bobs-view").expect("Bob's view is still there");
    assert_eq!(bobs["options"], json!({ "rowHeight": "tall" }), "{bobs}");
    runtime.block_on(emu.shutdown());
}

/// When a project's view list fails, its views are an incomplete scope: the plan says so and
/// exits 1, and apply deletes nothing there, authoritative `views` or not.
#[test]
fn a_failed_view_list_blocks_deletes_in_its_project() {
    let (runtime, emu) = start();
    emu.set_faults(vec![
        FaultRule::new(FaultAction::Status { status: 503 })
            .with_method("GET")
            .with_path("/v1/view"),
    ]);
    let plan = run(
        &emu,
        &["plan", "--detailed-exitcode"],
        "views-authoritative.yaml",
    );
    assert_eq!(plan.code, Some(1), "{}\n{}", plan.stdout, plan.stderr);
    assert!(plan.stderr.contains("incomplete"), "{}", plan.stderr);
    assert!(
        !plan.stdout.contains("- project:acme/chatbot/view:stale"),
        "{}",
        plan.stdout
    );
    let apply = run(
        &emu,
        &["apply", "--auto-approve"],
        "views-authoritative.yaml",
    );
    assert_ne!(apply.code, Some(0), "{}\n{}", apply.stdout, apply.stderr);
    assert!(
        named(&views(&emu), "stale").is_some(),
        "a view was deleted although its project's list failed"
    );
    runtime.block_on(emu.shutdown());
}

/// Two live views of one name (a logs view and an experiments view, should the API key views by
/// type too: J13) are both left alone: neither is changed into the declared one, neither is
/// deleted although `views` is authoritative, and the declared view is refused (`name-taken`).
#[test]
fn views_sharing_a_name_are_left_alone() {
    let (runtime, emu) = start();
    let body = fs_err::read_to_string(root().join("tests/data/views/second-team-errors.json"))
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
    let plan = run(&emu, &["plan"], "views-authoritative.yaml");
    assert_eq!(plan.code, Some(1), "{}\n{}", plan.stdout, plan.stderr);
    assert!(
        plan.stdout.contains("`name-taken` guard") && plan.stdout.contains("view:team-errors"),
        "{}",
        plan.stdout
    );
    let apply = run(
        &emu,
        &["apply", "--auto-approve"],
        "views-authoritative.yaml",
    );
    assert_eq!(apply.code, Some(1), "{}\n{}", apply.stdout, apply.stderr);
    let live = views(&emu);
    let types: Vec<&Value> = live
        .iter()
        .filter(|v| v["name"] == "team-errors")
        .map(|v| &v["view_type"])
        .collect();
    assert_eq!(types, [&json!("logs"), &json!("experiments")], "{live:?}");
    assert!(
        live.iter()
            .filter(|v| v["name"] == "team-errors")
            .all(|v| v["options"]["rowHeight"] != "compact"),
        "{live:?}"
    );
    runtime.block_on(emu.shutdown());
}
