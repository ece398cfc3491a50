//! Benchmark: `plan` of the "large org" (mission.md section 7) against the emulator with 25 ms of
//! latency per request.
//!
//! Run with `cargo bench --bench plan`. Seeds 200 projects x (10 tags + 8 scores + 4
//! automations), 100 groups, 30 roles, 2,000 ACLs and 20 AI secrets, writes matching manifests,
//! and reports: the plan's wall time (it must find no changes), the requests it made, the
//! round-trip floor computed from the emulator's request log, and the time a one-GET-per-object
//! walk at parallelism 10 takes on the same emulator. Targets: within 3x of the floor, and at
//! least 20x faster than the per-object walk.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bt_gitops::api::client::{Client, ClientConfig};
use bt_gitops::apply::{self, ApplyInput};
use bt_gitops::diff::SecretDigests;
use bt_gitops::emulator::{EmulatorConfig, SeedDoc, spawn};
use bt_gitops::model::OrgName;
use bt_gitops::pipeline;
use bt_gitops::reconcile::{self, OrgTarget, PlanInput};
use bt_gitops::source::SourceMap;
use serde_json::json;

const PROJECTS: usize = 200;
const TAGS: usize = 10;
const SCORES: usize = 8;
const AUTOMATIONS: usize = 4;
const GROUPS: usize = 100;
const ROLES: usize = 30;
const ACLS: usize = 2_000;
const SECRETS: usize = 20;
const LATENCY: Duration = Duration::from_millis(25);
const CONCURRENCY: usize = 16;
const KEY: &str = "sk-bench-large-org-0000000001";

fn uuid(kind: u32, n: usize) -> String {
    format!("b{kind:07x}-0000-4000-8000-{n:012x}")
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(run());
}

async fn run() {
    let (seed, manifests, objects) = large_org();
    let emu = spawn(
        EmulatorConfig::default()
            .with_seed(seed)
            .with_deterministic(true),
    )
    .await
    .expect("emulator starts");
    let mut sources = SourceMap::new();
    sources.add("org.yaml", manifests);
    let analysis = pipeline::analyze(&sources);
    assert!(
        !analysis.has_errors(),
        "generated manifests must be valid: {:?}",
        analysis.diagnostics.first()
    );
    emu.set_latency(LATENCY);
    emu.clear_requests();

    let target = OrgTarget {
        org: OrgName::new("bench").expect("valid"),
        base_url: emu.url().to_owned(),
        api_key: KEY.to_owned(),
    };
    let started = Instant::now();
    let outcome = reconcile::plan(PlanInput {
        desired: &analysis.state,
        graph: &analysis.graph,
        targets: vec![target],
        secrets: SecretDigests::new(),
        concurrency: CONCURRENCY,
    })
    .await
    .expect("plan succeeds");
    let wall = started.elapsed();
    let log = emu.requests();
    if !outcome.plan.is_empty() {
        let first: Vec<&str> = outcome
            .plan
            .changes
            .iter()
            .take(5)
            .map(|c| c.address.as_str())
            .collect();
        panic!(
            "the large org should plan no changes, got {} (first: {first:?})",
            outcome.plan.changes.len()
        );
    }

    // The floor: requests that must run one after another (the org lookup, then the longest
    // paginated walk, then the per-project reads that need the project list) and the total at
    // the client's concurrency, whichever is longer.
    let mut pages: BTreeMap<&str, usize> = BTreeMap::new();
    for r in &log {
        *pages.entry(r.path.as_str()).or_default() += 1;
    }
    let longest_walk = pages
        .iter()
        .filter(|(p, _)| **p != "/v1/organization" && **p != "/v1/env_var")
        .map(|(_, n)| *n)
        .max()
        .unwrap_or(0);
    let stages = 1 + longest_walk + usize::from(pages.contains_key("/v1/env_var"));
    let by_concurrency = log.len().div_ceil(CONCURRENCY);
    let floor = LATENCY * u32::try_from(stages.max(by_concurrency)).unwrap_or(u32::MAX);

    // The naive walk: one GET per object, 10 at a time.
    emu.clear_requests();
    let naive = naive_walk(emu.url(), &objects).await;

    println!(
        "large org: {} objects in the manifests, {} live objects read",
        analysis.state.len(),
        outcome.live.objects.len()
    );
    println!(
        "emulator latency {} ms, client concurrency {CONCURRENCY}",
        LATENCY.as_millis()
    );
    println!(
        "plan (no changes)   {:>8.0} ms, {} requests",
        wall.as_secs_f64() * 1e3,
        log.len()
    );
    println!(
        "round-trip floor    {:>8.0} ms ({} sequential stages, {} requests / {CONCURRENCY})",
        floor.as_secs_f64() * 1e3,
        stages,
        log.len()
    );
    println!(
        "plan / floor        {:>8.2}x (target <= 3x)",
        wall.as_secs_f64() / floor.as_secs_f64()
    );
    println!(
        "per-object GETs     {:>8.0} ms, {} requests at parallelism 10",
        naive.as_secs_f64() * 1e3,
        objects.len()
    );
    println!(
        "speed-up            {:>8.1}x (target >= 20x)",
        naive.as_secs_f64() / wall.as_secs_f64()
    );
    emu.shutdown().await;

    apply_from_empty(&analysis).await;
}

/// Applies the large org to an org that holds only its owner, and compares the wall time with
/// `writes / concurrency x latency`.
async fn apply_from_empty(analysis: &pipeline::Analysis) {
    let seed = json!({ "orgs": [{ "name": "bench", "users": [{ "email": "user0@bench.example.com", "id": uuid(1, 0), "owner": true,
        "api_keys": [{ "name": "bench", "key": KEY }] }] }] });
    let seed: SeedDoc = serde_json::from_value(seed).expect("valid seed");
    let emu = spawn(
        EmulatorConfig::default()
            .with_seed(seed)
            .with_deterministic(true),
    )
    .await
    .expect("emulator starts");
    emu.set_latency(LATENCY);
    let target = OrgTarget {
        org: OrgName::new("bench").expect("valid"),
        base_url: emu.url().to_owned(),
        api_key: KEY.to_owned(),
    };
    let outcome = reconcile::plan(PlanInput {
        desired: &analysis.state,
        graph: &analysis.graph,
        targets: vec![target.clone()],
        secrets: SecretDigests::new(),
        concurrency: CONCURRENCY,
    })
    .await
    .expect("plan succeeds");
    emu.clear_requests();
    let client = Client::new(
        ClientConfig::new(&target.base_url, &target.api_key).with_concurrency(CONCURRENCY),
    )
    .expect("client");
    let started = Instant::now();
    let report = apply::execute(ApplyInput {
        plan: &outcome.plan,
        desired: &analysis.state,
        live: &outcome.live,
        clients: [(target.org.clone(), client)].into_iter().collect(),
        secrets: BTreeMap::new(),
        concurrency: CONCURRENCY,
        root: std::env::temp_dir(),
        observer: None,
    })
    .await;
    let wall = started.elapsed();
    let writes = emu.write_count();
    assert!(
        report.failed.is_empty() && report.skipped.is_empty(),
        "apply failed: {:?}",
        report.failed.first()
    );
    let ideal = LATENCY * u32::try_from(writes.div_ceil(CONCURRENCY)).unwrap_or(u32::MAX);
    println!(
        "apply from empty    {:>8.0} ms, {} changes, {writes} writes",
        wall.as_secs_f64() * 1e3,
        outcome.plan.changes.len()
    );
    println!("writes/conc x lat   {:>8.0} ms", ideal.as_secs_f64() * 1e3);
    println!(
        "apply / ideal       {:>8.2}x (target <= 1.5x)",
        wall.as_secs_f64() / ideal.as_secs_f64()
    );
    emu.shutdown().await;
}

/// GETs every object by id with 10 requests in flight.
async fn naive_walk(url: &str, objects: &[(String, String)]) -> Duration {
    let http = reqwest::Client::new();
    let limit = Arc::new(tokio::sync::Semaphore::new(10));
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for (path, id) in objects {
        let (http, limit, target) = (http.clone(), limit.clone(), format!("{url}{path}/{id}"));
        tasks.spawn(async move {
            let _permit = limit.acquire().await.expect("semaphore open");
            let resp = http
                .get(&target)
                .bearer_auth(KEY)
                .send()
                .await
                .expect("GET succeeds");
            assert!(resp.status().is_success(), "{target}: {}", resp.status());
        });
    }
    while tasks.join_next().await.is_some() {}
    started.elapsed()
}

/// The seed, the matching manifests, and `(path, id)` of every object for the naive walk.
fn large_org() -> (SeedDoc, String, Vec<(String, String)>) {
    let mut objects = Vec::new();
    let mut ids = Vec::new();
    let mut yaml = String::from("org: bench\nmembers:\n");
    let users: Vec<serde_json::Value> = (0..50)
        .map(|u| {
            ids.push(("/v1/user".to_owned(), uuid(1, u)));
            let _ = writeln!(yaml, "  - user{u}@bench.example.com");
            let mut user =
                json!({ "email": format!("user{u}@bench.example.com"), "id": uuid(1, u) });
            if u == 0 {
                user["owner"] = json!(true);
                user["api_keys"] = json!([{ "name": "bench", "key": KEY }]);
            }
            user
        })
        .collect();
    yaml.push_str("groups:\n  - { name: Owners, members: [user0@bench.example.com] }\n");
    for g in 0..GROUPS {
        let members = [g % 50, (g * 7 + 3) % 50];
        let _ = writeln!(
            yaml,
            "  - {{ name: group-{g}, description: Group {g}, members: [user{}@bench.example.com, user{}@bench.example.com] }}",
            members[0], members[1]
        );
        let member_ids: Vec<String> = members.iter().map(|m| uuid(1, *m)).collect();
        objects.push(json!({ "kind": "group", "id": uuid(2, g), "body": { "name": format!("group-{g}"), "description": format!("Group {g}"), "member_users": member_ids } }));
        ids.push(("/v1/group".to_owned(), uuid(2, g)));
    }
    yaml.push_str("roles:\n");
    for r in 0..ROLES {
        let _ = writeln!(
            yaml,
            "  - {{ name: role-{r}, permissions: [read, {{ permission: create, restrict_object_type: experiment }}] }}"
        );
        objects.push(json!({ "kind": "role", "id": uuid(3, r), "body": { "name": format!("role-{r}"),
            "member_permissions": [{ "permission": "read" }, { "permission": "create", "restrict_object_type": "experiment" }] } }));
        ids.push(("/v1/role".to_owned(), uuid(3, r)));
    }
    yaml.push_str("ai_secrets:\n");
    for s in 0..SECRETS {
        let _ = writeln!(yaml, "  - {{ name: KEY_{s}, type: openai }}");
        objects.push(json!({ "kind": "ai_secret", "id": uuid(5, s), "body": { "name": format!("KEY_{s}"), "type": "openai", "secret": format!("value-{s}") } }));
        ids.push(("/v1/ai_secret".to_owned(), uuid(5, s)));
    }
    for p in 0..PROJECTS {
        let name = format!("project-{p}");
        let _ = write!(
            yaml,
            "---\nproject: {name}\ndescription: Project {p}\ntags:\n"
        );
        objects.push(json!({ "kind": "project", "id": uuid(4, p), "body": { "name": name, "description": format!("Project {p}") } }));
        ids.push(("/v1/project".to_owned(), uuid(4, p)));
        for t in 0..TAGS {
            let _ = writeln!(yaml, "  - {{ name: tag-{t}, color: \"#00{t:02}00\" }}");
            let id = uuid(6, p * TAGS + t);
            ids.push(("/v1/project_tag".to_owned(), id.clone()));
            objects.push(json!({ "kind": "project_tag", "id": id, "body": { "project_name": name, "name": format!("tag-{t}"), "color": format!("#00{t:02}00") } }));
        }
        yaml.push_str("scores:\n");
        for s in 0..SCORES {
            let _ = writeln!(yaml, "  - {{ name: score-{s}, type: slider }}");
            let id = uuid(7, p * SCORES + s);
            ids.push(("/v1/project_score".to_owned(), id.clone()));
            objects.push(json!({ "kind": "project_score", "id": id, "body": { "project_name": name, "name": format!("score-{s}"), "score_type": "slider" } }));
        }
        yaml.push_str("alerts:\n");
        for a in 0..AUTOMATIONS {
            let _ = writeln!(
                yaml,
                "  - {{ name: alert-{a}, filter: \"error IS NOT NULL\", interval: 1h, notify: {{ webhook: \"https://hooks.example.com/{a}\" }} }}"
            );
            let id = uuid(8, p * AUTOMATIONS + a);
            ids.push(("/v1/project_automation".to_owned(), id.clone()));
            objects.push(json!({ "kind": "project_automation", "id": id, "body": { "project_name": name, "name": format!("alert-{a}"),
                "config": { "event_type": "logs", "btql_filter": "error IS NOT NULL", "interval_seconds": 3600, "action": { "type": "webhook", "url": format!("https://hooks.example.com/{a}") } } } }));
        }
        yaml.push_str("grants:\n");
        for g in 0..ACLS / PROJECTS {
            let (group, role) = ((p + g) % GROUPS, (p * 3 + g) % ROLES);
            let _ = writeln!(yaml, "  - {{ group: group-{group}, role: role-{role} }}");
            let id = uuid(9, p * (ACLS / PROJECTS) + g);
            ids.push(("/v1/acl".to_owned(), id.clone()));
            objects.push(json!({ "kind": "acl", "id": id, "body": { "object_type": "project", "object_id": uuid(4, p), "group_id": uuid(2, group), "role_id": uuid(3, role) } }));
        }
    }
    let seed = json!({ "orgs": [{ "name": "bench", "users": users, "objects": objects }] });
    let seed: SeedDoc = serde_json::from_value(seed).expect("valid seed");
    (seed, yaml, ids)
}
