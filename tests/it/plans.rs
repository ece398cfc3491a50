//! Plan scenarios: every folder under `tests/data/plans/` holds manifests (`manifests/`), the
//! live org they are planned against (`live.json`, an emulator seed) and optionally `env.json`
//! (extra environment variables: per-org API keys, secret values). Each scenario is planned by the
//! real binary against an in-process emulator in all three formats, and each rendering is a
//! snapshot under `tests/data/plans/snapshots/`. The JSON must parse and agree with the human
//! summary line. Also: `--detailed-exitcode`, Markdown truncation, and the canary secret that
//! must appear in no output, plan file or log.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use bt_gitops::emulator::{EmuHandle, EmulatorConfig, SeedDoc, spawn};
use serde_json::{Value, json};

use crate::support::{Run, root, run_with_env};

/// What stands for the emulator's `127.0.0.1:PORT` in snapshots.
const EMULATOR_ADDR: &str = "127.0.0.1:EMULATOR";

fn plans_dir() -> PathBuf {
    root().join("tests/data/plans")
}

/// An emulator seeded with a scenario's live state, on its own runtime.
struct Live {
    // Field order matters: the handle must drop before the runtime that serves it.
    emu: EmuHandle,
    _runtime: tokio::runtime::Runtime,
}

impl Live {
    fn start(seed: SeedDoc) -> Live {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("a tokio runtime");
        let emu = runtime
            .block_on(spawn(
                EmulatorConfig::default()
                    .with_seed(seed)
                    .with_deterministic(true),
            ))
            .expect("the emulator starts with the scenario's seed");
        Live {
            emu,
            _runtime: runtime,
        }
    }

    fn url(&self) -> &str {
        self.emu.url()
    }

    fn address(&self) -> String {
        self.url().trim_start_matches("http://").to_owned()
    }
}

/// The first API key of the first org's users: the default `BRAINTRUST_API_KEY`.
fn first_key(seed: &Value) -> String {
    seed["orgs"][0]["users"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|u| u["api_keys"].as_array().into_iter().flatten())
        .find_map(|k| k["key"].as_str())
        .expect("the first org of the seed has a user with a fixed API key")
        .to_owned()
}

/// A scenario folder, ready to plan.
struct Scenario {
    name: String,
    dir: PathBuf,
    live: Live,
    env: Vec<(String, String)>,
}

impl Scenario {
    fn load(name: &str) -> Scenario {
        let dir = plans_dir().join(name);
        let text = fs_err::read_to_string(dir.join("live.json")).expect("live.json");
        let seed_value: Value = serde_json::from_str(&text).expect("live.json is JSON");
        let seed: SeedDoc =
            serde_json::from_value(seed_value.clone()).expect("live.json is a seed document");
        let live = Live::start(seed);
        let mut env: BTreeMap<String, String> = BTreeMap::new();
        env.insert("BRAINTRUST_API_URL".into(), live.url().to_owned());
        env.insert("BRAINTRUST_API_KEY".into(), first_key(&seed_value));
        let extra = dir.join("env.json");
        if extra.exists() {
            let extra: BTreeMap<String, String> =
                serde_json::from_str(&fs_err::read_to_string(&extra).expect("env.json"))
                    .expect("env.json maps names to strings");
            env.extend(extra);
        }
        Scenario {
            name: name.to_owned(),
            dir,
            live,
            env: env.into_iter().collect(),
        }
    }

    fn run(&self, args: &[&str]) -> Run {
        let env: Vec<(&str, &str)> = self
            .env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let mut run = run_with_env(&self.dir, args, &env);
        run.stdout = without_git(&run.stdout.replace(&self.live.address(), EMULATOR_ADDR));
        run.stderr = run.stderr.replace(&self.live.address(), EMULATOR_ADDR);
        run
    }

    /// Plans in one format; the run must succeed without messages, or exit 1 saying only that
    /// apply would refuse the plan (its guard findings are in the rendering).
    fn plan(&self, format: &str) -> String {
        let run = self.run(&["plan", "manifests", "--format", format]);
        let guarded = run
            .stderr
            .starts_with("error: apply would refuse this plan")
            && run.stderr.lines().count() == 1;
        assert!(
            run.code == Some(0) || (run.code == Some(1) && guarded),
            "{}: plan --format {format} failed ({:?})\nstdout:\n{}\nstderr:\n{}",
            self.name,
            run.code,
            run.stdout,
            run.stderr
        );
        assert!(
            run.stderr.is_empty() || guarded,
            "{}: plan --format {format} wrote to stderr:\n{}",
            self.name,
            run.stderr
        );
        run.stdout
    }
}

fn snapshot(name: &str, text: &str) {
    insta::with_settings!({
        snapshot_path => "../data/plans/snapshots",
        prepend_module_to_snapshot => false,
        omit_expression => true,
    }, {
        insta::assert_snapshot!(name, text);
    });
}

/// `(create, update, delete, replace)` as the JSON plan counts them.
fn json_counts(plan: &Value) -> (usize, usize, usize, usize) {
    let changes = plan["changes"].as_array().expect("`changes` is an array");
    let count = |action: &str| changes.iter().filter(|c| c["action"] == action).count();
    (
        count("create"),
        count("update"),
        count("delete"),
        count("replace"),
    )
}

/// The summary line the human plan must end with, for these counts.
fn summary_line((create, update, delete, replace): (usize, usize, usize, usize)) -> String {
    let mut line = format!("Plan: {create} to create, {update} to update, {delete} to delete");
    if replace > 0 {
        line.push_str(&format!(", {replace} to replace"));
    }
    line.push('.');
    line
}

/// Plans a scenario three ways, checks the renderings agree, and snapshots them. Returns the
/// JSON plan.
fn check_scenario(name: &str) -> Value {
    let scenario = Scenario::load(name);
    let human = scenario.plan("human");
    let json_text = scenario.plan("json");
    let markdown = scenario.plan("markdown");

    let plan: Value = serde_json::from_str(&json_text).expect("the JSON plan parses");
    assert_eq!(plan["format_version"], json!(2), "{name}: format_version");
    let counts = json_counts(&plan);
    let last = human.lines().last().unwrap_or_default();
    assert_eq!(
        last,
        summary_line(counts),
        "{name}: the human summary disagrees with the JSON plan"
    );
    let (create, update, delete, replace) = counts;
    if create + update + delete + replace == 0 {
        assert!(human.contains("No changes."), "{name}: {human}");
        assert!(markdown.contains("**No changes.**"), "{name}: {markdown}");
    } else {
        assert!(
            markdown.contains(&format!("**{}**", &last[..last.len()])),
            "{name}: the Markdown summary disagrees with the JSON plan:\n{markdown}"
        );
    }
    assert!(markdown.len() <= 65_536, "{name}: Markdown too long");
    // Every change appears in every rendering.
    for change in plan["changes"].as_array().into_iter().flatten() {
        let address = change["address"].as_str().expect("an address");
        assert!(human.contains(address), "{name}: {address} not in human");
        assert!(
            markdown.contains(address),
            "{name}: {address} not in Markdown"
        );
    }
    check_order(name, &plan);

    snapshot(&format!("{name}.human"), &human);
    snapshot(&format!("{name}.json"), &json_text);
    snapshot(&format!("{name}.md"), &markdown);
    // A plan makes no writes.
    assert_eq!(scenario.live.emu.write_count(), 0, "{name}: plan wrote");
    plan
}

/// Order invariants that hold for every plan: creates and updates before deletes, and every
/// change after the changes it depends on.
fn check_order(name: &str, plan: &Value) {
    let changes = plan["changes"].as_array().expect("changes");
    let position: BTreeMap<&str, usize> = changes
        .iter()
        .enumerate()
        .map(|(i, c)| (c["address"].as_str().unwrap_or_default(), i))
        .collect();
    let first_delete = changes
        .iter()
        .position(|c| c["action"] == "delete")
        .unwrap_or(changes.len());
    assert!(
        changes[first_delete..]
            .iter()
            .all(|c| c["action"] == "delete"),
        "{name}: a create or update comes after a delete"
    );
    for (i, c) in changes.iter().enumerate() {
        for dep in c["depends_on"].as_array().into_iter().flatten() {
            let dep = dep.as_str().unwrap_or_default();
            let at = position.get(dep).copied();
            assert!(
                at.is_some_and(|at| at < i),
                "{name}: {} comes before {dep}, which it depends on",
                c["address"]
            );
        }
    }
}

/// The changes of a plan as `(action, address)`, in order.
fn actions(plan: &Value) -> Vec<(String, String)> {
    plan["changes"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| {
            (
                c["action"].as_str().unwrap_or_default().to_owned(),
                c["address"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

fn position(plan: &Value, address: &str) -> usize {
    actions(plan)
        .iter()
        .position(|(_, a)| a == address)
        .unwrap_or_else(|| panic!("{address} is not in the plan"))
}

fn has(plan: &Value, action: &str, address: &str) -> bool {
    actions(plan)
        .iter()
        .any(|(a, addr)| a == action && addr == address)
}

macro_rules! scenarios {
    ($($test:ident => $name:literal,)*) => {
        $(
            #[test]
            fn $test() {
                let plan = check_scenario($name);
                expectations::$test(&plan);
            }
        )*

        /// Every folder has a test, and every test a folder.
        #[test]
        fn every_scenario_folder_is_tested() {
            let known: Vec<&str> = vec![$($name),*];
            let mut folders: Vec<String> = fs_err::read_dir(plans_dir())
                .expect("tests/data/plans exists")
                .filter_map(Result::ok)
                .filter(|e| e.path().is_dir())
                .filter_map(|e| e.file_name().to_str().map(str::to_owned))
                .filter(|n| n != "snapshots")
                .collect();
            folders.sort();
            let mut tested: Vec<String> = known.iter().map(|s| (*s).to_owned()).collect();
            tested.sort();
            assert_eq!(folders, tested);
            // And no snapshot is left over from a scenario that is gone.
            for entry in fs_err::read_dir(plans_dir().join("snapshots")).expect("snapshots") {
                let name = entry.expect("an entry").file_name().to_string_lossy().into_owned();
                let scenario = name.split('.').next().unwrap_or_default();
                assert!(
                    known.contains(&scenario) || scenario == "markdown-truncation",
                    "snapshot `{name}` belongs to no scenario"
                );
                assert!(name.ends_with(".snap"), "`{name}`: review and rename or delete it");
            }
        }
    };
}

scenarios! {
    no_change => "no-change",
    create_from_empty => "create-from-empty",
    update_fields => "update-fields",
    delete_authoritative => "delete-authoritative",
    tombstone_delete => "tombstone-delete",
    tombstone_identity_only => "tombstone-identity-only",
    removed_member_lockout => "removed-member-lockout",
    unmanaged_left_alone => "unmanaged-left-alone",
    unknown_objects => "unknown-objects",
    rename_project_with_children => "rename-project-with-children",
    rename_tag => "rename-tag",
    reference_created_in_same_plan => "reference-created-in-same-plan",
    delete_reverse_order => "delete-reverse-order",
    group_membership_delta => "group-membership-delta",
    role_permissions => "role-permissions",
    secrets => "secrets",
    every_score_type => "every-score-type",
    online_scoring => "online-scoring",
    automations => "automations",
    multiline_filter_diff => "multiline-filter-diff",
    protected_project_delete => "protected-project-delete",
    org_settings => "org-settings",
    multi_org => "multi-org",
    environment_alerts => "environment-alerts",
    api_key_policy_delete => "api-key-policy-delete",
    scorer_version_pin => "scorer-version-pin",
    clear_optional_fields => "clear-optional-fields",
}

/// Per-scenario assertions on top of the snapshots: the facts a reviewer checked, so that a
/// careless snapshot update cannot hide a wrong plan.
mod expectations {
    use serde_json::Value;

    use super::{actions, has, position};

    fn all(plan: &Value, action: &str) -> bool {
        actions(plan).iter().all(|(a, _)| a == action)
    }

    fn change<'a>(plan: &'a Value, address: &str) -> &'a Value {
        plan["changes"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|c| c["address"] == address)
            .unwrap_or_else(|| panic!("{address} is not in the plan"))
    }

    fn risks(plan: &Value, address: &str) -> Vec<String> {
        change(plan, address)["risks"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|r| r.as_str().map(str::to_owned))
            .collect()
    }

    /// The policy deletes the violating service tokens it may (reason and risk shown) and
    /// keeps the declared one and the one bt-gitops runs with, saying why in the notes.
    pub fn api_key_policy_delete(plan: &Value) {
        let deletes = [
            "service_token:acme/ci-bot/stale",
            "service_token:acme/rogue/leaked",
        ];
        assert_eq!(
            actions(plan),
            deletes
                .iter()
                .map(|a| ("delete".to_owned(), (*a).to_owned()))
                .collect::<Vec<_>>()
        );
        for address in deletes {
            assert_eq!(
                change(plan, address)["reason"],
                "breaks the org's api_key_policy (on_violation: delete)"
            );
            assert_eq!(risks(plan, address), ["access_reducing"]);
        }
        let notes = plan["notes"].to_string();
        assert!(
            notes.contains("`bt-gitops/deploy` was created on 2001-01-01"),
            "{notes}"
        );
        assert!(notes.contains("bt-gitops runs with this token"), "{notes}");
        assert!(
            notes.contains("`ci-bot/declared-stale`") && notes.contains("the manifests declare it"),
            "{notes}"
        );
        assert!(
            notes.contains("personal API keys cannot be listed"),
            "{notes}"
        );
        assert!(!notes.contains("zed-laptop"), "{notes}");
        assert!(
            plan["guards"].as_array().is_none_or(Vec::is_empty),
            "{}",
            plan["guards"]
        );
    }

    /// A pin is compared like any field (adding or removing one is an update of `scorers`), a
    /// new rule is created with it, and a version the function never had is refused at plan
    /// time.
    pub fn scorer_version_pin(plan: &Value) {
        let rule = |n: &str| format!("project:acme/chatbot/online_scoring:{n}");
        assert!(
            has(plan, "update", &rule("now-pinned")),
            "{:?}",
            actions(plan)
        );
        assert!(
            has(plan, "update", &rule("now-unpinned")),
            "{:?}",
            actions(plan)
        );
        assert!(
            has(plan, "create", &rule("new-pinned")),
            "{:?}",
            actions(plan)
        );
        assert!(!actions(plan).iter().any(|(_, a)| *a == rule("pinned-same")));
        let scorers = &change(plan, &rule("now-pinned"))["fields"][0];
        assert_eq!(scorers["field"], "scorers");
        assert_eq!(
            scorers["before"],
            serde_json::json!(["function:chatbot/judge"])
        );
        assert_eq!(
            scorers["after"],
            serde_json::json!(["function:chatbot/judge@1000000000000000042"])
        );
        let guards = plan["guards"].to_string();
        assert!(
            guards.contains("unresolved-reference")
                && guards.contains("version `999` of function `judge`"),
            "{guards}"
        );
        assert!(!guards.contains("1000000000000000042"), "{guards}");
    }

    pub fn no_change(plan: &Value) {
        assert!(actions(plan).is_empty(), "{:?}", actions(plan));
        assert!(plan["notes"].as_array().is_some_and(Vec::is_empty));
    }

    pub fn create_from_empty(plan: &Value) {
        assert_eq!(actions(plan).len(), 16);
        assert!(all(plan, "create"));
        let p = |a: &str| position(plan, a);
        assert!(p("member:acme/bob@acme.com") < p("group:acme/ml-engineers"));
        assert!(p("service_account:acme/ci-bot") < p("service_token:acme/ci-bot/github-actions"));
        assert!(p("project:acme/chatbot") < p("project:acme/chatbot/tag:regression"));
        assert!(
            p("group:acme/ml-engineers") < p("grant:acme/group:ml-engineers -> role:editor on org")
        );
        assert!(p("role:acme/editor") < p("grant:acme/group:ml-engineers -> role:editor on org"));
    }

    pub fn update_fields(plan: &Value) {
        assert_eq!(actions(plan).len(), 9);
        assert!(all(plan, "update"));
        // Unchanged objects (the `golden` tag) are not in the plan.
        assert!(!actions(plan).iter().any(|(_, a)| a.ends_with("tag:golden")));
        let tag = change(plan, "project:acme/chatbot/tag:regression");
        assert_eq!(tag["fields"][0]["before"], "#ff0000");
        assert_eq!(tag["fields"][0]["after"], "#e5484d");
    }

    /// Fields written `null` change to empty where the live object has a value, and are no
    /// change where it has none or an empty one; a key left out stays unmanaged.
    pub fn clear_optional_fields(plan: &Value) {
        let cleared = [
            ("group:acme/ml-engineers", "description"),
            ("project:acme/chatbot", "description"),
            ("project:acme/chatbot/score:helpfulness", "description"),
            ("project:acme/chatbot/online_scoring:factuality", "filter"),
        ];
        for (address, field) in cleared {
            let fields = &change(plan, address)["fields"];
            assert_eq!(
                fields.as_array().map(Vec::len),
                Some(1),
                "{address}: {fields}"
            );
            assert_eq!(fields[0]["field"], field, "{address}");
            assert_eq!(fields[0]["after"], "", "{address}");
        }
        let alert = &change(plan, "project:acme/chatbot/alert:error-spike")["fields"][0];
        assert_eq!(alert["field"], "notify");
        assert_eq!(
            alert["before"]["slack"]["message_template"],
            "{{count}} errors"
        );
        assert_eq!(alert["after"]["slack"]["message_template"], "");
        assert_eq!(actions(plan).len(), 5, "{:?}", actions(plan));
        assert!(all(plan, "update"));
        for unchanged in ["tag:golden", "tag:blank", "online_scoring:unfiltered"] {
            assert!(!actions(plan).iter().any(|(_, a)| a.ends_with(unchanged)));
        }
    }

    pub fn delete_authoritative(plan: &Value) {
        assert_eq!(actions(plan).len(), 13);
        assert!(all(plan, "delete"));
        let deleted: Vec<String> = actions(plan).into_iter().map(|(_, a)| a).collect();
        for kept in [
            "member:acme/alice@acme.com",
            "group:acme/Owners",
            "group:acme/ml-engineers",
        ] {
            assert!(!deleted.iter().any(|a| a == kept), "{kept} deleted");
        }
        let p = |a: &str| position(plan, a);
        assert!(
            p("grant:acme/group:contractors-2025 -> permission:read on org")
                < p("group:acme/contractors-2025")
        );
        assert!(p("service_token:acme/ci-bot/old-laptop") < p("service_account:acme/legacy-etl"));
        assert!(p("group:acme/contractors-2025") < p("member:acme/zed@acme.com"));
        assert_eq!(
            risks(plan, "service_account:acme/legacy-etl"),
            ["access_reducing"]
        );
        assert!(
            change(plan, "member:acme/zed@acme.com")["reason"]
                .as_str()
                .is_some_and(|r| r.contains("authoritative"))
        );
    }

    pub fn tombstone_delete(plan: &Value) {
        assert_eq!(actions(plan).len(), 13);
        assert!(all(plan, "delete"));
        assert!(
            !actions(plan)
                .iter()
                .any(|(_, a)| a.contains("never-existed"))
        );
        assert!(!actions(plan).iter().any(|(_, a)| a.contains("tag:keep")));
        let p = |a: &str| position(plan, a);
        assert!(
            p("grant:acme/group:contractors-2025 -> role:auditor on org") < p("role:acme/auditor")
        );
        assert!(p("role:acme/auditor") < p("group:acme/contractors-2025"));
        assert!(p("project:acme/chatbot/tag:needs-triage") < p("project:acme/scratch"));
        assert_eq!(
            change(plan, "project:acme/scratch")["protected"],
            Value::Null
        );
        assert_eq!(risks(plan, "project:acme/scratch"), ["data_destroying"]);
    }

    /// Tombstones with only their identifying fields plan deletes; `removed_members` removes one
    /// member and leaves the unlisted one alone.
    pub fn tombstone_identity_only(plan: &Value) {
        let mut got = actions(plan);
        got.sort();
        let want = [
            "member:acme/zed@acme.com",
            "project:acme/chatbot/alert:error-spike",
            "project:acme/chatbot/export:old-export",
            "project:acme/chatbot/online_scoring:old-judge",
            "project:acme/chatbot/retention:keep-datasets",
            "project:acme/chatbot/retention:retention-project_logs",
            "project:acme/chatbot/score:old-rubric",
            "project:acme/chatbot/span_iframe:legacy-view",
        ];
        let mut want: Vec<(String, String)> = want
            .iter()
            .map(|a| ("delete".to_owned(), (*a).to_owned()))
            .collect();
        want.sort();
        assert_eq!(got, want);
    }

    /// Removing the only owner (the key's own user) through `removed_members` is planned and
    /// refused by the lockout guard, as a member delete from an authoritative list is.
    pub fn removed_member_lockout(plan: &Value) {
        assert_eq!(
            actions(plan),
            [("delete".to_owned(), "member:acme/alice@acme.com".to_owned())]
        );
        let guards = plan["guards"]
            .as_array()
            .expect("the lockout guard refuses");
        assert!(guards.iter().any(|g| g["guard"] == "lockout"), "{guards:?}");
    }

    pub fn unmanaged_left_alone(plan: &Value) {
        assert_eq!(
            actions(plan),
            [(
                "update".to_owned(),
                "project:acme/chatbot/tag:regression".to_owned()
            )]
        );
    }

    /// Objects outside the model do not fail their lists: the neighbours are planned, nothing
    /// of theirs is deleted (env vars are authoritative), they are listed as unmanaged, and the
    /// alert declared under the Loop automation's name is refused, not written.
    pub fn unknown_objects(plan: &Value) {
        assert!(plan.get("incomplete").is_none(), "{plan}");
        assert!(has(plan, "create", "project:acme/chatbot/tag:release"));
        assert!(has(plan, "create", "env_var:acme/APP_MODE"));
        assert!(has(plan, "delete", "env_var:acme/UI_VAR"));
        assert!(
            !actions(plan)
                .iter()
                .any(|(_, a)| a.contains("OPENAI_API_KEY")),
            "the AI provider key is not an env var: {plan}"
        );
        let names: Vec<&str> = plan["unmanaged"]
            .as_array()
            .expect("unmanaged objects are listed")
            .iter()
            .filter_map(|u| u["name"].as_str())
            .collect();
        for name in [
            "nightly-loop",
            "env-watch",
            "toxicity",
            "session-quality",
            "OPENAI_API_KEY",
        ] {
            assert!(names.contains(&name), "{name} not unmanaged: {names:?}");
        }
        let guards = plan["guards"].as_array().expect("a guard refuses the plan");
        assert!(
            guards.iter().any(|g| g["guard"] == "name-taken"
                && g["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("alert:nightly-loop"))),
            "{guards:?}"
        );
        assert!(
            guards.iter().any(|g| g["guard"] == "name-taken"
                && g["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("score:toxicity"))),
            "{guards:?}"
        );
    }

    pub fn rename_project_with_children(plan: &Value) {
        let project = change(plan, "project:acme/chatbot-prod");
        assert_eq!(project["action"], "update");
        assert_eq!(project["renamed_from"], "chatbot");
        assert_eq!(project["id"], "a0000000-0000-4000-8000-000000000501");
        // The children, the grant on the project and its env var follow it: nothing is
        // deleted or recreated.
        assert!(!actions(plan).iter().any(|(a, _)| a == "delete"));
        assert_eq!(
            actions(plan)
                .into_iter()
                .filter(|(a, _)| a == "create")
                .map(|(_, addr)| addr)
                .collect::<Vec<_>>(),
            ["project:acme/chatbot-prod/tag:hallucination"]
        );
        assert!(position(plan, "project:acme/chatbot-prod") == 0);
    }

    pub fn rename_tag(plan: &Value) {
        // Four renames; the grants and inheritance naming the renamed group and role follow
        // them (no grant deleted and recreated, no `inherits` change).
        assert_eq!(actions(plan).len(), 4);
        assert_eq!(
            change(plan, "role:acme/annotator")["renamed_from"],
            "labeler"
        );
        assert!(all(plan, "update"));
        let tag = change(plan, "project:acme/chatbot/tag:regression");
        assert_eq!(tag["renamed_from"], "regresion");
        assert_eq!(tag["fields"][0]["field"], "name");
        assert_eq!(
            change(plan, "group:acme/ml-engineers")["renamed_from"],
            "ml-eng"
        );
        assert_eq!(
            change(plan, "project:acme/chatbot/score:helpfulness")["renamed_from"],
            "helpful"
        );
    }

    pub fn reference_created_in_same_plan(plan: &Value) {
        assert!(all(plan, "create"));
        let grant = change(
            plan,
            "project:acme/chatbot/grant:group:leads -> role:lead on project:chatbot",
        );
        assert_eq!(
            grant["depends_on"],
            serde_json::json!(["group:acme/leads", "role:acme/lead"])
        );
        let on_new = change(
            plan,
            "project:acme/labeling/grant:group:reviewers -> role:reviewer on project:labeling",
        );
        assert_eq!(
            on_new["depends_on"],
            serde_json::json!([
                "group:acme/reviewers",
                "role:acme/reviewer",
                "project:acme/labeling"
            ])
        );
        let p = |a: &str| position(plan, a);
        assert!(p("group:acme/reviewers") < p("group:acme/leads"));
        assert!(p("role:acme/reviewer") < p("role:acme/lead"));
        assert!(
            p("project:acme/labeling/score:accuracy") < p("project:acme/labeling/score:overall")
        );
        // The existing project is not in the plan.
        assert!(!has(plan, "create", "project:acme/chatbot"));
    }

    pub fn delete_reverse_order(plan: &Value) {
        assert_eq!(actions(plan).len(), 13);
        assert!(all(plan, "delete"));
        let p = |a: &str| position(plan, a);
        let grant = "project:acme/old-project/grant:group:derived -> role:derived-role on project:old-project";
        assert!(p(grant) < p("project:acme/old-project"));
        assert!(p(grant) < p("role:acme/derived-role"));
        assert!(p("project:acme/old-project/score:min") < p("project:acme/old-project/score:a"));
        assert!(p("project:acme/old-project/score:a") < p("project:acme/old-project"));
        assert!(p("role:acme/derived-role") < p("role:acme/base-role"));
        assert!(p("group:acme/derived") < p("group:acme/base"));
        assert!(
            p("grant:acme/user:zed@acme.com -> permission:update on group:base")
                < p("group:acme/base")
        );
        assert!(p("service_token:acme/etl/t1") < p("service_account:acme/etl"));
    }

    pub fn group_membership_delta(plan: &Value) {
        assert_eq!(
            risks(plan, "group:acme/Owners"),
            ["access_reducing", "lockout"]
        );
        assert!(risks(plan, "group:acme/Engineers").is_empty());
        assert!(risks(plan, "group:acme/platform").is_empty());
        assert_eq!(risks(plan, "group:acme/everyone"), ["access_reducing"]);
        let ml = change(plan, "group:acme/ml-engineers");
        assert_eq!(
            ml["depends_on"],
            serde_json::json!(["member:acme/dave@acme.com"])
        );
        assert!(
            position(plan, "member:acme/dave@acme.com") < position(plan, "group:acme/ml-engineers")
        );
        assert!(position(plan, "group:acme/ml-engineers") < position(plan, "group:acme/platform"));
    }

    pub fn role_permissions(plan: &Value) {
        assert_eq!(actions(plan).len(), 4);
        assert!(all(plan, "update"));
        assert!(risks(plan, "role:acme/viewer").is_empty());
        for role in [
            "role:acme/editor",
            "role:acme/admin",
            "role:acme/experimenter",
        ] {
            assert_eq!(risks(plan, role), ["access_reducing"], "{role}");
        }
        assert!(position(plan, "role:acme/viewer") < position(plan, "role:acme/admin"));
    }

    pub fn secrets(plan: &Value) {
        let status = |a: &str| change(plan, a)["secret"]["status"].clone();
        assert_eq!(status("ai_secret:acme/NEW_KEY"), "new");
        assert_eq!(status("ai_secret:acme/FILE_KEY"), "new");
        assert_eq!(status("ai_secret:acme/NEW_UNAVAILABLE_KEY"), "unavailable");
        assert_eq!(status("ai_secret:acme/UNVERIFIED_KEY"), "unverified");
        assert_eq!(status("ai_secret:acme/UNAVAILABLE_RETYPED"), "unavailable");
        assert_eq!(status("ai_secret:acme/CHANGED_KEY"), "changed_in_git");
        assert_eq!(status("ai_secret:acme/ROTATED_KEY"), "rotated_outside");
        assert_eq!(status("env_var:acme/NEW_VAR"), "new");
        assert_eq!(status("env_var:acme/UNAVAILABLE_VAR"), "unavailable");
        assert_eq!(status("env_var:acme/UNVERIFIED_VAR"), "unverified");
        assert_eq!(
            status("project:acme/chatbot/env_var:CHANGED_VAR"),
            "changed_in_git"
        );
        assert_eq!(
            status("project:acme/chatbot/env_var:NEW_PROJECT_VAR"),
            "new"
        );
        // Unchanged digests and unavailable values without other changes are not changes, but
        // an unavailable value is named in the notes.
        for quiet in ["SAME_KEY", "SAME_VAR", "ai_secret:acme/UNAVAILABLE_KEY"] {
            assert!(
                !actions(plan).iter().any(|(_, a)| a.ends_with(quiet)),
                "{quiet}"
            );
        }
        assert!(plan["notes"].as_array().into_iter().flatten().any(|n| {
            n.as_str()
                .is_some_and(|n| n.contains("ai_secret:acme/UNAVAILABLE_KEY"))
        }));
        assert_eq!(risks(plan, "ai_secret:acme/NEW_KEY"), Vec::<String>::new());
        assert_eq!(
            risks(plan, "ai_secret:acme/ROTATED_KEY"),
            ["secret_rotation"]
        );
    }

    pub fn every_score_type(plan: &Value) {
        assert!(has(plan, "create", "project:acme/evals/score:notes"));
        assert!(has(plan, "create", "project:acme/evals/score:best-case"));
        for updated in ["helpfulness", "tone", "overall", "worst-case", "style"] {
            assert!(
                has(
                    plan,
                    "update",
                    &format!("project:acme/evals/score:{updated}")
                ),
                "{updated}"
            );
        }
    }

    pub fn online_scoring(plan: &Value) {
        assert!(has(
            plan,
            "create",
            "project:acme/chatbot/online_scoring:spans"
        ));
        assert!(has(
            plan,
            "update",
            "project:acme/chatbot/online_scoring:factuality"
        ));
        assert!(has(
            plan,
            "update",
            "project:acme/chatbot/online_scoring:sessions"
        ));
        assert!(
            !actions(plan)
                .iter()
                .any(|(_, a)| a.ends_with("online_scoring:same"))
        );
    }

    pub fn environment_alerts(plan: &Value) {
        let production = "environment:acme/production";
        let watch = "project:acme/chatbot/environment_alert:deploy-watch";
        assert!(has(plan, "create", production));
        assert!(has(plan, "update", watch));
        assert!(position(plan, production) < position(plan, watch));
        // Same webhook, more environments: no new destination.
        assert!(risks(plan, watch).is_empty());
        assert!(has(
            plan,
            "create",
            "project:acme/chatbot/environment_alert:qa-watch"
        ));
        assert!(
            !actions(plan).iter().any(|(_, a)| a.contains("any-change")),
            "an alert on every environment matches a live one without a filter: {plan}"
        );
        let empty = change(plan, "project:acme/chatbot/environment_alert:empty-filter");
        assert_eq!(empty["action"], "update");
        assert_eq!(empty["fields"][0]["before"], serde_json::json!([]));
        assert_eq!(empty["fields"][0]["after"], "all");
        let guards = plan["guards"].as_array().expect("a guard refuses the plan");
        assert_eq!(guards.len(), 1, "{guards:?}");
        assert_eq!(guards[0]["guard"], "unresolved-reference");
        let message = guards[0]["message"].as_str().unwrap_or_default();
        assert!(
            message.contains("qa-watch")
                && message.contains("`prodution`")
                && message.contains("did you mean `production`?"),
            "{message}"
        );
    }

    pub fn automations(plan: &Value) {
        let replace = change(plan, "project:acme/chatbot/export:nightly");
        assert_eq!(replace["action"], "replace");
        assert!(replace["id"].is_string());
        assert_eq!(
            risks(plan, "project:acme/chatbot/export:nightly"),
            ["exfiltration"]
        );
        assert_eq!(
            risks(
                plan,
                "project:acme/chatbot/retention:retention-project_logs"
            ),
            ["data_destroying"]
        );
        assert!(risks(plan, "project:acme/chatbot/retention:retention-experiment").is_empty());
        assert_eq!(
            risks(plan, "project:acme/chatbot/alert:latency-page"),
            ["exfiltration"]
        );
        assert!(risks(plan, "project:acme/chatbot/export:hourly").is_empty());
        // Only the fields that differ are listed; the external id the manifest leaves to the
        // API is not one of them.
        let fields: Vec<&str> = change(plan, "project:acme/chatbot/export:hourly")["fields"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|f| f["field"].as_str())
            .collect();
        assert_eq!(fields, ["interval_seconds", "status"]);
    }

    pub fn multiline_filter_diff(plan: &Value) {
        assert_eq!(actions(plan).len(), 3);
        assert!(all(plan, "update"));
    }

    pub fn protected_project_delete(plan: &Value) {
        assert!(all(plan, "delete"));
        assert_eq!(change(plan, "project:acme/legacy")["protected"], true);
        assert_eq!(change(plan, "project:acme/made-in-ui")["protected"], true);
        assert_eq!(change(plan, "ai_secret:acme/UI_KEY")["protected"], true);
        assert_eq!(
            change(plan, "project:acme/scratch")["protected"],
            Value::Null
        );
        assert!(
            !actions(plan)
                .iter()
                .any(|(_, a)| a == "project:acme/chatbot")
        );
    }

    pub fn org_settings(plan: &Value) {
        let org = change(plan, "org:acme");
        assert_eq!(org["action"], "update");
        let fields: Vec<&str> = org["fields"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|f| f["field"].as_str())
            .collect();
        assert_eq!(
            fields,
            [
                "proxy_url",
                "is_universal_api",
                "is_dataplane_private",
                "image_rendering_mode"
            ]
        );
    }

    pub fn multi_org(plan: &Value) {
        let orgs: Vec<&str> = plan["orgs"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|o| o["name"].as_str())
            .collect();
        assert_eq!(orgs, ["acme", "acme-labs"]);
        assert!(has(plan, "create", "project:acme/chatbot/tag:wip"));
        assert!(has(plan, "update", "project:acme-labs/sandbox/tag:wip"));
        assert!(has(plan, "create", "project:acme-labs/chatbot"));
        assert!(has(plan, "delete", "project:acme/chatbot/tag:old"));
    }
}

#[test]
fn detailed_exitcode_is_0_without_changes_and_2_with_changes() {
    let same = Scenario::load("no-change");
    let run = same.run(&["plan", "manifests", "--detailed-exitcode"]);
    assert_eq!(run.code, Some(0), "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("No changes."), "{}", run.stdout);

    let changes = Scenario::load("update-fields");
    let run = changes.run(&["plan", "manifests", "--detailed-exitcode"]);
    assert_eq!(run.code, Some(2), "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("9 to update"), "{}", run.stdout);
    // Without the flag, changes are still a success.
    let run = changes.run(&["plan", "manifests", "--format", "json"]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
}

/// A seed with one org, `acme`, whose owner has the fixed key `key`.
fn bare_seed(key: &str, objects: Value) -> SeedDoc {
    serde_json::from_value(json!({"orgs": [{
        "name": "acme",
        "id": "a0000000-0000-4000-8000-000000000001",
        "users": [{"email": "alice@acme.com", "owner": true,
                   "api_keys": [{"name": "ci", "key": key}]}],
        "objects": objects,
    }]}))
    .expect("a seed document")
}

fn write(dir: &Path, name: &str, text: &str) {
    let path = dir.join(name);
    if let Some(parent) = path.parent() {
        fs_err::create_dir_all(parent).expect("a directory");
    }
    fs_err::write(path, text).expect("a written file");
}

#[test]
fn markdown_truncates_under_the_comment_limit_and_says_so() {
    const TAGS: usize = 1_500;
    let dir = tempfile::tempdir().expect("a temp dir");
    let mut yaml = String::from("org: acme\n---\nproject: big\norg: acme\ntags:\n");
    for i in 0..TAGS {
        yaml.push_str(&format!(
            "  - {{ name: tag-{i:04}, color: \"#30a46c\", description: \"Tag number {i} of a plan too long for one pull-request comment\" }}\n"
        ));
    }
    write(dir.path(), "manifests/big.yaml", &yaml);
    let key = "sk-plan-acme-0000000000000001";
    let live = Live::start(bare_seed(key, json!([])));
    let env = [
        ("BRAINTRUST_API_URL", live.url()),
        ("BRAINTRUST_API_KEY", key),
    ];

    let run = run_with_env(dir.path(), &["plan", "manifests", "--format", "json"], &env);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let plan: Value = serde_json::from_str(&run.stdout).expect("JSON");
    let total = TAGS + 1;
    assert_eq!(json_counts(&plan), (total, 0, 0, 0));

    let run = run_with_env(
        dir.path(),
        &["plan", "manifests", "--format", "markdown"],
        &env,
    );
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let markdown = run.stdout.replace(&live.address(), EMULATOR_ADDR);
    assert!(
        markdown.chars().count() <= 65_536 && markdown.len() <= 65_536,
        "{} characters",
        markdown.len()
    );
    // The whole plan would not fit: the summary comes first, then as many changes as fit,
    // then an explicit line saying how many are left out and where to find them.
    let human = run_with_env(dir.path(), &["plan", "manifests"], &env);
    assert!(
        human.stdout.len() > 2 * 65_536,
        "the plan is not big enough"
    );
    assert!(markdown.starts_with("### bt-gitops plan\n"), "{markdown}");
    assert!(markdown.contains(&format!(
        "**Plan: {total} to create, 0 to update, 0 to delete.**"
    )));
    let shown = markdown
        .lines()
        .filter(|l| l.starts_with("+ + project:acme/big/tag:"))
        .count();
    assert!(shown > 100 && shown < TAGS, "{shown} tags shown");
    let truncated = format!(
        "_Truncated: details of {} of {total} changes are not shown here; see the plan artifact (`plan.json`) for the full plan._",
        total - shown - 1
    );
    assert!(
        markdown.trim_end().ends_with(&truncated),
        "expected `{truncated}` at the end of:\n{}",
        &markdown[markdown.len().saturating_sub(600)..]
    );
    // Every code block and collapsible section that is opened is closed.
    assert_eq!(markdown.matches("```").count() % 2, 0);
    assert_eq!(
        markdown.matches("<details>").count(),
        markdown.matches("</details>").count()
    );
    let head: String = markdown.lines().take(14).collect::<Vec<_>>().join("\n");
    let tail: String = markdown
        .lines()
        .rev()
        .take(6)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect::<Vec<_>>()
        .join("\n");
    snapshot(
        "markdown-truncation.md",
        &format!("{head}\n[...]\n{tail}\n"),
    );
}

/// The canary: a secret value that must never leave the process.
const CANARY: &str = "CANARY-7f3c9e1d-secret";

fn assert_no_canary(what: &str, text: &str) {
    assert!(
        !text.contains(CANARY) && !text.contains("7f3c9e1d"),
        "the canary secret appears in {what}:\n{text}"
    );
}

#[test]
fn a_canary_secret_appears_in_no_output_file_or_log() {
    let dir = tempfile::tempdir().expect("a temp dir");
    write(
        dir.path(),
        "manifests/org.yaml",
        "org: acme\n\
         ai_secrets:\n\
         \x20 - { name: OPENAI_API_KEY, type: openai, secret: { env: CANARY_AI } }\n\
         \x20 - { name: EXISTING_KEY, type: openai, secret: { env: CANARY_AI } }\n\
         \x20 - { name: FILE_KEY, type: anthropic, secret: { file: secrets/canary.txt } }\n\
         env_vars:\n\
         \x20 - { name: WEBHOOK_URL, value: { env: CANARY_ENV } }\n\
         ---\n\
         project: chatbot\n\
         org: acme\n\
         env_vars:\n\
         \x20 - { name: RETRIEVAL_TOKEN, value: { file: secrets/canary.txt } }\n\
         \x20 - { name: EXISTING_VAR, value: { env: CANARY_ENV } }\n",
    );
    write(
        dir.path(),
        "manifests/secrets/canary.txt",
        &format!("{CANARY}\n"),
    );
    let key = "sk-plan-acme-0000000000000001";
    let live = Live::start(bare_seed(
        key,
        json!([
            {"kind": "ai_secret", "body": {"name": "EXISTING_KEY", "type": "openai", "secret": "sk-old"}},
            {"kind": "project", "id": "a0000000-0000-4000-8000-000000000501", "body": {"name": "chatbot"}},
            {"kind": "env_var", "body": {"object_type": "project", "object_id": "a0000000-0000-4000-8000-000000000501",
                                         "name": "EXISTING_VAR", "value": "old"}},
        ]),
    ));
    let env = [
        ("BRAINTRUST_API_URL", live.url()),
        ("BRAINTRUST_API_KEY", key),
        ("CANARY_AI", CANARY),
        ("CANARY_ENV", CANARY),
        ("BT_GITOPS_LOG", "trace"),
    ];
    for format in ["human", "json", "markdown"] {
        let run = run_with_env(
            dir.path(),
            &[
                "plan",
                "manifests",
                "--format",
                format,
                "--out",
                "plan.json",
            ],
            &env,
        );
        assert_eq!(run.code, Some(0), "{}", run.stderr);
        assert_no_canary(&format!("plan --format {format} stdout"), &run.stdout);
        assert_no_canary(&format!("plan --format {format} stderr"), &run.stderr);
        assert!(run.stdout.contains("OPENAI_API_KEY"), "{}", run.stdout);
        assert!(run.stdout.contains("RETRIEVAL_TOKEN"), "{}", run.stdout);
        let saved = fs_err::read_to_string(dir.path().join("plan.json")).expect("plan.json");
        assert_no_canary("the saved plan", &saved);
        let plan: Value = serde_json::from_str(&saved).expect("the saved plan is JSON");
        assert_eq!(json_counts(&plan), (4, 2, 0, 0), "{saved}");
    }
    // The emulator saw no write, so the value did not even travel.
    assert_eq!(live.emu.write_count(), 0);

    // A secret written literally is rejected without being echoed.
    write(
        dir.path(),
        "literal/org.yaml",
        &format!(
            "org: acme\nai_secrets:\n  - {{ name: OPENAI_API_KEY, type: openai, secret: {CANARY} }}\nenv_vars:\n  - name: WEBHOOK_URL\n    value: \"{CANARY}\"\n"
        ),
    );
    for format in [&[][..], &["--format", "short"][..]] {
        let mut args = vec!["validate", "literal"];
        args.extend_from_slice(format);
        let run = run_with_env(dir.path(), &args, &env);
        assert_eq!(run.code, Some(1), "{}{}", run.stdout, run.stderr);
        assert!(
            (run.stdout.clone() + &run.stderr).contains("written literally"),
            "{}{}",
            run.stdout,
            run.stderr
        );
        assert_no_canary("validate stdout", &run.stdout);
        assert_no_canary("validate stderr", &run.stderr);
    }
    let run = run_with_env(dir.path(), &["plan", "literal"], &env);
    assert_eq!(run.code, Some(1));
    assert_no_canary("plan of a literal secret", &(run.stdout + &run.stderr));

    // The error path: a rejected key, with every log on.
    let wrong_key = "sk-rejected-0123456789abcdef";
    let mut failing = env.to_vec();
    failing[1] = ("BRAINTRUST_API_KEY", wrong_key);
    let run = run_with_env(
        dir.path(),
        &["plan", "manifests", "--out", "failed.json"],
        &failing,
    );
    assert_eq!(run.code, Some(1), "{}{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("error:"), "{}", run.stderr);
    assert_no_canary("the failing plan's stdout", &run.stdout);
    assert_no_canary("the failing plan's stderr", &run.stderr);
    assert!(
        !run.stderr.contains(wrong_key),
        "the rejected key is printed in full:\n{}",
        run.stderr
    );
    assert!(!dir.path().join("failed.json").exists());
}

/// The scenarios live inside this repository, so plans carry the commit the test runs at; drop
/// it (and the author and dirty flag) so snapshots do not change with every commit. The git
/// stamp itself is tested in `git.rs`.
fn without_git(output: &str) -> String {
    if let Ok(mut plan) = serde_json::from_str::<Value>(output) {
        if let Some(map) = plan.as_object_mut() {
            for key in ["commit", "author", "dirty"] {
                map.remove(key);
            }
        }
        let mut text = serde_json::to_string_pretty(&plan).unwrap_or_default();
        text.push('\n');
        return text;
    }
    let kept: Vec<&str> = output
        .split_inclusive('\n')
        .filter(|l| !l.starts_with("manifests at commit ") && !l.starts_with("Manifests at `"))
        .collect();
    let mut text = kept.concat();
    // The Markdown commit line is followed by a blank line of its own.
    if output.contains("\nManifests at `") {
        text = text.replacen("\n\n\n", "\n\n", 1);
    }
    text
}
