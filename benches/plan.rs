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
use std::sync::Arc;
use std::time::{Duration, Instant};

use bt_gitops::api::client::{Client, ClientConfig};
use bt_gitops::apply::{self, ApplyInput};
use bt_gitops::diff::SecretDigests;
use bt_gitops::emulator::{EmulatorConfig, spawn};
use bt_gitops::pipeline;
use bt_gitops::reconcile::{self, PlanInput};
use bt_gitops::source::SourceMap;

#[allow(dead_code)] // each benchmark uses a part of the shared generator
mod world;
use world::{KEY, manifests, object_paths, owner_seed, seed, target};

const PROJECTS: usize = 200;
const LATENCY: Duration = Duration::from_millis(25);
const CONCURRENCY: usize = 16;

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(run());
}

async fn run() {
    let objects = object_paths(PROJECTS);
    let emu = spawn(
        EmulatorConfig::default()
            .with_seed(seed(PROJECTS))
            .with_deterministic(true),
    )
    .await
    .expect("emulator starts");
    let mut sources = SourceMap::new();
    sources.add("org.yaml", manifests(PROJECTS));
    let analysis = pipeline::analyze(&sources);
    assert!(
        !analysis.has_errors(),
        "generated manifests must be valid: {:?}",
        analysis.diagnostics.first()
    );
    emu.set_latency(LATENCY);
    emu.clear_requests();

    let target = target(emu.url());
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
    let emu = spawn(
        EmulatorConfig::default()
            .with_seed(owner_seed())
            .with_deterministic(true),
    )
    .await
    .expect("emulator starts");
    emu.set_latency(LATENCY);
    let target = target(emu.url());
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
