//! Requests that follow first-party clients, checked against the emulator's real-API profile
//! (issue 11, "write with care"). Each case in `tests/data/real_api/` is one bullet of the
//! issue's "Why": a seed, the key bt-gitops runs with, fault rules, manifests, changes made
//! outside bt-gitops (requests sent before a step), the commands run through the real binary
//! (with their exit codes and output), and what the request log and the
//! live lists must show afterwards. A case names the profile, the preview style and single
//! profile switches (`rules:`) when it runs under the other answer of an unconfirmed assumption
//! (`docs/api-assumptions.md`; the cases named after an entry id, `j7-...`, run bt-gitops under
//! each answer of that entry), how the user list shows service accounts (K1) and the org's plan
//! (G3).

use std::collections::BTreeMap;
use std::time::Duration;

use bt_gitops::api::client::{Client, ClientConfig, Method};
use bt_gitops::api::error::ApiError;
use bt_gitops::emulator::{
    EmuHandle, EmulatorConfig, FaultRule, Overrides, PreviewStyle, Profile, ProfileName, SeedDoc,
    spawn,
};
use serde::Deserialize;
use serde_json::Value;

use crate::support::{root, run_bounded_with_env, runtime};

/// One case file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    /// The bullet of issue 11's "Why" this case covers.
    #[allow(dead_code)]
    why: String,
    /// `real` (default) or `lenient`.
    #[serde(default)]
    profile: Option<String>,
    /// `ellipsis`, `ascii` or `hidden`: overrides the profile's key previews.
    #[serde(default)]
    previews: Option<String>,
    /// `hidden`, `without_email`, `with_email` or `with_email_unmarked`: how the user list
    /// shows service accounts (K1).
    #[serde(default)]
    service_accounts: Option<String>,
    /// `starter`: the org has only the Owners group and group and role creates are refused (G3).
    #[serde(default)]
    plan: Option<String>,
    /// Single switches of the profile flipped for this case (`emulator::Overrides`): the answer
    /// of an unconfirmed assumption that the case's profile does not pick (a page cap, an
    /// enveloped ACL list, a PATCH that replaces maps...).
    #[serde(default)]
    rules: Overrides,
    seed: Value,
    /// The key bt-gitops runs with (`BRAINTRUST_API_KEY`).
    key: String,
    #[serde(default)]
    faults: Vec<FaultRule>,
    steps: Vec<Step>,
    /// Checks of the request log after the last step.
    #[serde(default)]
    requests: Vec<RequestCheck>,
    /// Checks of the live lists after the last step.
    #[serde(default)]
    live: Vec<LiveCheck>,
}

/// One command, after writing `files` into the working directory and sending the `before`
/// requests.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Step {
    #[serde(default)]
    files: BTreeMap<String, String>,
    /// Requests sent to the emulator with the case's key before the command: a change made
    /// outside bt-gitops (a token rotated with `PUT /v1/service_token`, K12). Each must succeed.
    #[serde(default)]
    before: Vec<Call>,
    args: Vec<String>,
    exit: i32,
    #[serde(default)]
    output_contains: Vec<String>,
    #[serde(default)]
    output_lacks: Vec<String>,
    /// Files of the working directory after the step (written by `import`), each with texts
    /// it must hold and must not hold.
    #[serde(default)]
    written: BTreeMap<String, FileCheck>,
}

/// One API request: method, path and JSON body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Call {
    method: String,
    path: String,
    body: Value,
}

/// Texts a file must and must not hold.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileCheck {
    #[serde(default)]
    contains: Vec<String>,
    #[serde(default)]
    lacks: Vec<String>,
}

/// How many logged requests match `method` and the `*` pattern `path`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RequestCheck {
    method: String,
    path: String,
    /// Exactly this many.
    #[serde(default)]
    count: Option<usize>,
    /// At least this many.
    #[serde(default)]
    min: Option<usize>,
    /// Exactly this many of them carried a request body.
    #[serde(default)]
    with_body: Option<usize>,
}

/// How many objects of a list have `field` equal to `equals`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LiveCheck {
    list: String,
    /// A top-level field, or a JSON pointer (`/config/export_path`); a value that is not a
    /// string is compared as its JSON text.
    field: String,
    equals: String,
    count: usize,
    /// Count only objects without `deleted_at` (for lists that show soft-deleted ones).
    #[serde(default)]
    not_deleted: bool,
}

/// The longest a command may run: a guard against a client that loops (the paging case),
/// not a performance assertion.
const HANG_GUARD: Duration = Duration::from_secs(120);

fn cases() -> Vec<(String, Case)> {
    let dir = root().join("tests/data/real_api");
    let mut out: Vec<(String, Case)> = fs_err::read_dir(&dir)
        .expect("tests/data/real_api")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .map(|p| {
            let text = fs_err::read_to_string(&p).expect("case text");
            let case: Case =
                serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            let name = p
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            (name, case)
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn profile_of(case: &Case) -> Profile {
    let name: ProfileName = case
        .profile
        .as_deref()
        .unwrap_or("real")
        .parse()
        .expect("a profile name");
    let mut profile = name.profile().with_overrides(&case.rules);
    if let Some(listing) = &case.service_accounts {
        profile =
            profile.with_service_accounts(listing.parse().expect("a service-account listing"));
    }
    match case.plan.as_deref() {
        None | Some("enterprise") => {}
        Some("starter") => profile = profile.with_starter_plan(true),
        Some(other) => panic!("unknown plan `{other}`"),
    }
    match case.previews.as_deref() {
        None => profile,
        Some("ellipsis") => profile.with_previews(PreviewStyle::Ellipsis),
        Some("ascii") => profile.with_previews(PreviewStyle::AsciiDots),
        Some("hidden") => profile.with_previews(PreviewStyle::Hidden),
        Some(other) => panic!("unknown preview style `{other}`"),
    }
}

async fn start(case: &Case) -> EmuHandle {
    let seed: SeedDoc = serde_json::from_value(case.seed.clone()).expect("a valid seed");
    spawn(
        EmulatorConfig::default()
            .with_seed(seed)
            .with_profile(profile_of(case))
            .with_faults(case.faults.clone()),
    )
    .await
    .expect("emulator starts")
}

/// Runs one case; every failed expectation is returned.
fn run_case(case: &Case) -> Vec<String> {
    let runtime = runtime();
    let emu = runtime.block_on(start(case));
    let dir = tempfile::tempdir().expect("tempdir");
    let mut failures = Vec::new();
    let client = Client::new(ClientConfig::new(emu.url(), &case.key)).expect("client");
    for (i, step) in case.steps.iter().enumerate() {
        for (path, text) in &step.files {
            let path = dir.path().join(path);
            if let Some(parent) = path.parent() {
                fs_err::create_dir_all(parent).expect("mkdir");
            }
            fs_err::write(&path, text).expect("write manifest");
        }
        for call in &step.before {
            let method: Method = call.method.parse().expect("an HTTP method");
            let sent: Result<Value, ApiError> =
                runtime.block_on(client.send(method, &call.path, &call.body));
            if let Err(e) = sent {
                failures.push(format!(
                    "step {}: {} {} failed: {e}",
                    i + 1,
                    call.method,
                    call.path
                ));
            }
        }
        let args: Vec<&str> = step.args.iter().map(String::as_str).collect();
        let run = run_bounded_with_env(
            dir.path(),
            &args,
            &[
                ("BRAINTRUST_API_URL", emu.url()),
                ("BRAINTRUST_API_KEY", &case.key),
            ],
            HANG_GUARD,
        );
        let output = format!("{}{}", run.stdout, run.stderr);
        let step_name = format!("step {} ({})", i + 1, step.args.join(" "));
        if run.code != Some(step.exit) {
            failures.push(format!(
                "{step_name}: exit {:?}, expected {}\n{output}",
                run.code, step.exit
            ));
        }
        for text in &step.output_contains {
            if !output.contains(text) {
                failures.push(format!("{step_name}: output lacks `{text}`\n{output}"));
            }
        }
        for text in &step.output_lacks {
            if output.contains(text) {
                failures.push(format!("{step_name}: output has `{text}`\n{output}"));
            }
        }
        for (path, check) in &step.written {
            let text = fs_err::read_to_string(dir.path().join(path)).unwrap_or_default();
            for want in &check.contains {
                if !text.contains(want) {
                    failures.push(format!("{step_name}: `{path}` lacks `{want}`\n{text}"));
                }
            }
            for unwanted in &check.lacks {
                if text.contains(unwanted) {
                    failures.push(format!("{step_name}: `{path}` has `{unwanted}`\n{text}"));
                }
            }
        }
    }
    let log = emu.requests();
    for check in &case.requests {
        let matching: Vec<_> = log
            .iter()
            .filter(|r| {
                r.method == check.method && bt_gitops::emulator::faults::glob(&check.path, &r.path)
            })
            .collect();
        let shown = || {
            matching
                .iter()
                .map(|r| format!("{} {} -> {}", r.method, r.path, r.status))
                .collect::<Vec<_>>()
                .join(", ")
        };
        if check.count.is_some_and(|n| n != matching.len()) {
            failures.push(format!(
                "{} {}: {} requests, expected {:?}: {}",
                check.method,
                check.path,
                matching.len(),
                check.count,
                shown()
            ));
        }
        if check.min.is_some_and(|n| matching.len() < n) {
            failures.push(format!(
                "{} {}: {} requests, expected at least {:?}",
                check.method,
                check.path,
                matching.len(),
                check.min
            ));
        }
        let bodies = matching.iter().filter(|r| r.body.is_some()).count();
        if check.with_body.is_some_and(|n| n != bodies) {
            failures.push(format!(
                "{} {}: {bodies} requests carried a body, expected {:?}: {}",
                check.method,
                check.path,
                check.with_body,
                shown()
            ));
        }
    }
    for check in &case.live {
        // Walked like bt-gitops walks lists, so that a page cap does not hide objects.
        let (path, query) = check.list.split_once('?').unwrap_or((&check.list, ""));
        let query: Vec<(&str, String)> = query
            .split('&')
            .filter_map(|pair| pair.split_once('='))
            .map(|(k, v)| (k, v.to_owned()))
            .collect();
        let list: Result<Vec<Value>, ApiError> = runtime
            .block_on(client.list_items::<Value>(path, &query))
            .map(|listed| listed.items);
        let objects = list.unwrap_or_default();
        let n = objects
            .iter()
            .filter(|o| {
                let value = if check.field.starts_with('/') {
                    o.pointer(&check.field)
                } else {
                    o.get(&check.field)
                };
                value.is_some_and(|v| match v {
                    Value::String(s) => *s == check.equals,
                    other => {
                        serde_json::to_string(other).ok().as_deref() == Some(check.equals.as_str())
                    }
                })
            })
            .filter(|o| !check.not_deleted || o.get("deleted_at").is_none_or(Value::is_null))
            .count();
        if n != check.count {
            failures.push(format!(
                "live {} with {} = {}: {n}, expected {}",
                check.list, check.field, check.equals, check.count
            ));
        }
    }
    runtime.block_on(emu.shutdown());
    failures
}

/// Every case of `tests/data/real_api/` holds under the real-API profile (or the profile it
/// names).
#[test]
fn requests_follow_first_party_clients() {
    let cases = cases();
    assert!(cases.len() >= 10, "the cases are missing");
    let mut failures = Vec::new();
    for (name, case) in &cases {
        for failure in run_case(case) {
            failures.push(format!("{name}: {failure}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// A list that hands back the same cursor twice is an error that names the list, never a loop.
/// `/environment` under the real profile ignores `limit` and `starting_after`. The client knows
/// that the spec declares no paging there and reads it in one call; handed the same list under
/// a path it does not recognise (the query written into the path), it pages, sees its last id
/// come back, and stops with an error.
#[test]
fn a_repeated_cursor_is_an_error_naming_the_list() {
    let (_, case) = cases()
        .into_iter()
        .find(|(name, _)| name == "environments-without-paging")
        .expect("the paging case");
    let runtime = runtime();
    runtime.block_on(async {
        let emu = start(&case).await;
        let client = Client::new(ClientConfig::new(emu.url(), &case.key)).expect("client");
        let walk =
            client.list_all::<bt_gitops::api::wire::Environment>("/environment?org_name=acme", &[]);
        let result = tokio::time::timeout(HANG_GUARD, walk)
            .await
            .expect("the walk ends");
        match result {
            Err(e @ ApiError::RepeatedCursor { .. }) => {
                let text = e.to_string();
                assert!(text.contains("/environment"), "{text}");
            }
            other => panic!("expected a repeated-cursor error, got {other:?}"),
        }
        emu.clear_requests();
        let all: Vec<bt_gitops::api::wire::Environment> = client
            .list_all("/environment", &[])
            .await
            .expect("one call reads everything");
        assert_eq!(all.len(), 50);
        assert_eq!(emu.requests().len(), 1, "one request");
        emu.shutdown().await;
    });
}

/// `--emulator` runs pick their profile from `BT_GITOPS_EMULATOR_PROFILE`: `lenient` is taken,
/// a name that is no profile is refused with the names that are.
#[test]
fn emulator_runs_take_their_profile_from_the_environment() {
    let dir = tempfile::tempdir().expect("tempdir");
    fs_err::write(dir.path().join("org.yaml"), "org: acme\n").expect("write");
    let lenient = crate::support::run_with_env(
        dir.path(),
        &["plan", "--emulator", "org.yaml"],
        &[("BT_GITOPS_EMULATOR_PROFILE", "lenient")],
    );
    assert_eq!(
        lenient.code,
        Some(0),
        "{}{}",
        lenient.stdout,
        lenient.stderr
    );
    let unknown = crate::support::run_with_env(
        dir.path(),
        &["plan", "--emulator", "org.yaml"],
        &[("BT_GITOPS_EMULATOR_PROFILE", "strict")],
    );
    assert_eq!(
        unknown.code,
        Some(1),
        "{}{}",
        unknown.stdout,
        unknown.stderr
    );
    assert!(
        unknown
            .stderr
            .contains("unknown emulator profile `strict` (expected one of: real, lenient)"),
        "{}",
        unknown.stderr
    );
}

/// S11: two applies never hold an org's lease at once, whether two `POST /v1/env_var` of the
/// lease's name create one env var between them (answer A) or one each (answer B, the
/// emulator's `env_var_post_duplicates`). A lease held by another apply stops a second one, two
/// takes that race leave exactly one holder, and the loser leaves nothing behind; an apply run
/// while the lease is held exits 1 and writes nothing.
#[test]
fn two_applies_never_hold_the_lease_at_once() {
    use bt_gitops::apply::lease::{self, LeaseError};
    let key = "sk-realapi-acme-0000000000000001";
    let seed: SeedDoc = serde_json::from_value(serde_json::json!({
        "orgs": [{
            "name": "acme",
            "users": [{ "email": "alice@acme.com", "owner": true,
                        "api_keys": [{ "name": "tool", "key": key }] }],
        }]
    }))
    .expect("a valid seed");
    let ttl = Duration::from_secs(600);
    for duplicates in [false, true] {
        let answer = if duplicates { "B" } else { "A" };
        let runtime = runtime();
        let profile = Profile::real().with_overrides(&Overrides {
            env_var_post_duplicates: Some(duplicates),
            ..Overrides::default()
        });
        let emu = runtime.block_on(async {
            spawn(
                EmulatorConfig::default()
                    .with_seed(seed.clone())
                    .with_profile(profile),
            )
            .await
            .expect("emulator starts")
        });
        let client = Client::new(ClientConfig::new(emu.url(), key)).expect("client");
        let leases = || {
            runtime
                .block_on(client.list_items::<Value>(
                    "/v1/env_var",
                    &[("env_var_name", lease::LEASE_NAME.to_owned())],
                ))
                .map(|l| l.items.len())
                .unwrap_or(usize::MAX)
        };

        // One after the other: the second is told who holds it.
        let first = runtime
            .block_on(lease::acquire(&client, "acme", "first", ttl))
            .unwrap_or_else(|e| panic!("{answer}: the first take: {e}"));
        match runtime.block_on(lease::acquire(&client, "acme", "second", ttl)) {
            Err(LeaseError::Held { holder, .. }) => assert_eq!(holder, "first", "{answer}"),
            other => panic!("{answer}: expected the lease held by `first`, got {other:?}"),
        }
        assert_eq!(leases(), 1, "{answer}: the loser leaves nothing behind");

        // An apply while it is held: refused, nothing written.
        let dir = tempfile::tempdir().expect("tempdir");
        fs_err::write(
            dir.path().join("org.yaml"),
            "org: acme\n---\nproject: research\n",
        )
        .expect("write");
        emu.clear_requests();
        let run = run_bounded_with_env(
            dir.path(),
            &["apply", "--auto-approve", "org.yaml"],
            &[
                ("BRAINTRUST_API_URL", emu.url()),
                ("BRAINTRUST_API_KEY", key),
            ],
            HANG_GUARD,
        );
        assert_eq!(run.code, Some(1), "{answer}: {}{}", run.stdout, run.stderr);
        assert!(
            run.stderr
                .contains("another apply holds the lease of org `acme`: first"),
            "{answer}: {}",
            run.stderr
        );
        let writes: Vec<String> = emu
            .requests()
            .iter()
            .filter(|r| {
                r.method != "GET" && r.path != "/v1/env_var" && !r.path.starts_with("/v1/env_var/")
            })
            .map(|r| format!("{} {}", r.method, r.path))
            .collect();
        assert!(writes.is_empty(), "{answer}: {writes:?}");
        assert_eq!(
            leases(),
            1,
            "{answer}: the refused apply leaves nothing behind"
        );
        runtime
            .block_on(first.release())
            .unwrap_or_else(|e| panic!("{answer}: release: {e}"));
        assert_eq!(leases(), 0, "{answer}");

        // Two takes at once: exactly one holds it.
        let (x, y) = runtime.block_on(async {
            tokio::join!(
                lease::acquire(&client, "acme", "x", ttl),
                lease::acquire(&client, "acme", "y", ttl)
            )
        });
        let held: Vec<_> = [x, y].into_iter().filter_map(Result::ok).collect();
        assert_eq!(
            held.len(),
            1,
            "{answer}: exactly one of two racing takes holds the lease"
        );
        assert_eq!(leases(), 1, "{answer}");
        for lease in held {
            runtime.block_on(lease.release()).expect("release");
        }
        assert_eq!(leases(), 0, "{answer}");
        runtime.block_on(emu.shutdown());
    }
}
