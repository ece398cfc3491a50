//! Benchmark: the figures of issue 17 (plans at the round-trip floor), printed, never asserted.
//!
//! Run with `cargo bench --bench perf` (`-- --quick` for one run per case). For 200 and 1,600
//! projects at 0 and 25 ms of emulator latency it prints the no-change plan's wall time and CPU
//! (user + system of the process that plans), the round-trip floor (sequential stages x latency),
//! the requests made and the peak resident memory; then `validate`'s CPU per 10,000 objects and
//! its peak memory for a ~50,000-object tree; then an apply from an empty org against the write
//! floor (writes / concurrency x latency).
//!
//! Every measured case runs in a child process (this binary with `child ...` arguments), so that
//! its CPU and peak memory are its own: the emulator lives in the parent. The child reads them
//! from `/proc/self` (Linux; elsewhere it prints zeros). Several runs per case; the median is
//! shown with the spread (min-max), since the machine may be shared.

use std::collections::BTreeMap;
use std::process::Command;
use std::time::{Duration, Instant};

use bt_gitops::api::client::{Client, ClientConfig};
use bt_gitops::apply::{self, ApplyInput};
use bt_gitops::diff::SecretDigests;
use bt_gitops::emulator::{EmulatorConfig, spawn};
use bt_gitops::pipeline;
use bt_gitops::reconcile::{self, PlanInput};
use bt_gitops::source::SourceMap;
use serde_json::{Value, json};

#[allow(dead_code)] // each benchmark uses a part of the shared generator
mod world;
use world::{manifests, owner_seed, seed, target, validate_tree};

const CONCURRENCY: usize = 16;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("child") {
        child(&args[1..]);
        return;
    }
    let quick = args.iter().any(|a| a == "--quick");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    println!("load: {}", load());
    runtime.block_on(parent(quick));
    println!("load: {}", load());
}

fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unavailable".into())
}

/// What one child run measured.
#[derive(Debug, Clone, Copy, Default)]
struct Run {
    wall: f64,
    cpu: f64,
    rss_mib: f64,
    objects: f64,
    /// A second figure a case reports (plan: the front half's wall time; apply: changes).
    extra: f64,
}

fn run_child(args: &[String]) -> Run {
    let exe = std::env::current_exe().expect("own path");
    let out = Command::new(exe)
        .arg("child")
        .args(args)
        .output()
        .expect("child runs");
    assert!(
        out.status.success(),
        "child {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = String::from_utf8_lossy(&out.stdout);
    let v: Value = serde_json::from_str(line.trim()).expect("child prints one JSON line");
    let f = |k: &str| v[k].as_f64().unwrap_or(0.0);
    Run {
        wall: f("wall"),
        cpu: f("cpu"),
        rss_mib: f("rss_mib"),
        objects: f("objects"),
        extra: f("extra"),
    }
}

/// Median and spread of one field over runs.
fn stat(runs: &[Run], field: impl Fn(&Run) -> f64) -> (f64, f64, f64) {
    let mut v: Vec<f64> = runs.iter().map(field).collect();
    v.sort_by(f64::total_cmp);
    (v[v.len() / 2], v[0], v[v.len() - 1])
}

fn ms((med, lo, hi): (f64, f64, f64)) -> String {
    format!("{:>6.0} ms ({:.0}-{:.0})", med * 1e3, lo * 1e3, hi * 1e3)
}

async fn parent(quick: bool) {
    println!(
        "client concurrency {CONCURRENCY}; median of runs (min-max); CPU = user+sys of the planning process"
    );
    for projects in [200usize, 1_600] {
        let emu = spawn(
            EmulatorConfig::default()
                .with_seed(seed(projects))
                .with_deterministic(true),
        )
        .await
        .expect("emulator starts");
        for latency_ms in [0u64, 25] {
            let latency = Duration::from_millis(latency_ms);
            emu.set_latency(latency);
            let n = match (quick, projects) {
                (true, _) => 1,
                (false, 200) => 5,
                (false, _) => 3,
            };
            let mut runs = Vec::new();
            let mut log = Vec::new();
            for _ in 0..n {
                emu.clear_requests();
                runs.push(run_child(&[
                    "plan".into(),
                    emu.url().to_owned(),
                    projects.to_string(),
                ]));
                log = emu.requests();
            }
            let (stages, floor) = floor(&log, latency);
            let wall = stat(&runs, |r| r.wall);
            println!(
                "plan {projects:>5} projects ({:.0} objects) at {latency_ms:>2} ms: wall {}, CPU {} (front half wall {}), {} requests, floor {:.0} ms ({stages} stages), wall/floor {}, peak RSS {:.0} MiB",
                runs[0].objects,
                ms(wall),
                ms(stat(&runs, |r| r.cpu)),
                ms(stat(&runs, |r| r.extra)),
                log.len(),
                floor.as_secs_f64() * 1e3,
                if floor.is_zero() {
                    "-".to_owned()
                } else {
                    format!("{:.2}x", wall.0 / floor.as_secs_f64())
                },
                stat(&runs, |r| r.rss_mib).0,
            );
        }
        emu.shutdown().await;
    }

    let runs: Vec<Run> = (0..if quick { 1 } else { 3 })
        .map(|_| run_child(&["validate".into()]))
        .collect();
    let cpu = stat(&runs, |r| r.cpu);
    let per = |c: f64| c / runs[0].objects * 10_000.0;
    println!(
        "validate {:.0} objects: wall {}, CPU {}, {:.3} CPU s per 10,000 objects ({:.3}-{:.3}), peak RSS {:.0} MiB",
        runs[0].objects,
        ms(stat(&runs, |r| r.wall)),
        ms(cpu),
        per(cpu.0),
        per(cpu.1),
        per(cpu.2),
        stat(&runs, |r| r.rss_mib).0
    );

    let latency = Duration::from_millis(25);
    let mut runs = Vec::new();
    let mut writes = 0;
    for _ in 0..if quick { 1 } else { 3 } {
        let emu = spawn(
            EmulatorConfig::default()
                .with_seed(owner_seed())
                .with_deterministic(true),
        )
        .await
        .expect("emulator starts");
        emu.set_latency(latency);
        runs.push(run_child(&[
            "apply".into(),
            emu.url().to_owned(),
            "200".into(),
        ]));
        writes = emu.write_count();
        emu.shutdown().await;
    }
    let floor = latency * u32::try_from(writes.div_ceil(CONCURRENCY)).unwrap_or(u32::MAX);
    let wall = stat(&runs, |r| r.wall);
    println!(
        "apply from empty, 200 projects at 25 ms: {:.0} changes, {writes} writes, wall {}, write floor {:.0} ms (writes / {CONCURRENCY} x latency), wall/floor {:.2}x",
        runs[0].extra,
        ms(wall),
        floor.as_secs_f64() * 1e3,
        wall.0 / floor.as_secs_f64()
    );
}

/// The round-trip floor of a plan from its request log: the org lookup, then the longest
/// paginated walk, then the per-project env var reads that need the project list; or the
/// requests at the client's concurrency, whichever is longer.
fn floor(log: &[bt_gitops::emulator::LoggedRequest], latency: Duration) -> (usize, Duration) {
    let mut pages: BTreeMap<&str, usize> = BTreeMap::new();
    for r in log {
        *pages.entry(r.path.as_str()).or_default() += 1;
    }
    let longest_walk = pages
        .iter()
        .filter(|(p, _)| **p != "/v1/organization" && **p != "/v1/env_var")
        .map(|(_, n)| *n)
        .max()
        .unwrap_or(0);
    let stages = 1 + longest_walk + usize::from(pages.contains_key("/v1/env_var"));
    let stages = stages.max(log.len().div_ceil(CONCURRENCY));
    (stages, latency * u32::try_from(stages).unwrap_or(u32::MAX))
}

/// CPU seconds (user + system) of this process so far, from `/proc/self/stat` (in clock ticks of
/// 1/100 s, Linux's fixed `USER_HZ`).
fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let tick = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok());
    (tick(11).unwrap_or(0.0) + tick(12).unwrap_or(0.0)) / 100.0
}

/// Peak resident memory of this process in MiB (`VmHWM`).
fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            let line = s.lines().find(|l| l.starts_with("VmHWM:"))?.to_owned();
            line.split_whitespace().nth(1)?.parse::<f64>().ok()
        })
        .map_or(0.0, |kib| kib / 1024.0)
}

fn child(args: &[String]) {
    let out = match args.first().map(String::as_str) {
        Some("plan") => child_plan(&args[1], args[2].parse().expect("projects")),
        Some("validate") => child_validate(),
        Some("apply") => child_apply(&args[1], args[2].parse().expect("projects")),
        other => panic!("unknown child case {other:?}"),
    };
    println!("{out}");
}

/// A no-change plan from manifest texts in memory to the plan: the front half (on the blocking
/// pool, documents parsed on every CPU) overlapped with the reads, as `bt-gitops plan` does.
fn child_plan(url: &str, projects: usize) -> Value {
    let mut sources = SourceMap::new();
    sources.add("org.yaml", manifests(projects));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let threads = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let (cpu0, started) = (cpu_seconds(), Instant::now());
    let front = std::sync::Arc::new(std::sync::Mutex::new(0.0));
    let front_in = front.clone();
    let (analysis, outcome) = runtime.block_on(reconcile::analyze_and_plan(
        vec![target(url)],
        CONCURRENCY,
        move || {
            let t = Instant::now();
            let analysis = pipeline::analyze_with(&sources, threads);
            *front_in.lock().expect("not poisoned") = t.elapsed().as_secs_f64();
            analysis
        },
        |_| SecretDigests::new(),
    ));
    let wall = started.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu0;
    assert!(!analysis.has_errors(), "generated manifests must be valid");
    let outcome = outcome
        .expect("valid manifests are planned")
        .expect("plan succeeds");
    assert!(
        outcome.plan.is_empty(),
        "the generated org should plan no changes, got {} (first: {:?})",
        outcome.plan.changes.len(),
        outcome.plan.changes.first().map(|c| &c.address)
    );
    let front = *front.lock().expect("not poisoned");
    json!({ "wall": wall, "cpu": cpu, "rss_mib": peak_rss_mib(), "objects": analysis.state.len(), "extra": front })
}

/// `validate` of a ~50,000-object tree: parse, lower and graph.
fn child_validate() -> Value {
    let sources = validate_tree();
    let threads = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let (cpu0, started) = (cpu_seconds(), Instant::now());
    let analysis = pipeline::analyze_with(&sources, threads);
    let wall = started.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu0;
    assert!(!analysis.has_errors(), "generated tree must be valid");
    json!({ "wall": wall, "cpu": cpu, "rss_mib": peak_rss_mib(), "objects": analysis.state.len() })
}

/// Plans the generated org against an empty one, then times the apply alone.
fn child_apply(url: &str, projects: usize) -> Value {
    let mut sources = SourceMap::new();
    sources.add("org.yaml", manifests(projects));
    let analysis = pipeline::analyze(&sources);
    assert!(!analysis.has_errors(), "generated manifests must be valid");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(async {
        let target = target(url);
        let outcome = reconcile::plan(PlanInput {
            desired: &analysis.state,
            graph: &analysis.graph,
            targets: vec![target.clone()],
            secrets: SecretDigests::new(),
            concurrency: CONCURRENCY,
        })
        .await
        .expect("plan succeeds");
        // Only the apply's requests count: empty the emulator's log first.
        let http = reqwest::Client::new();
        let cleared = http
            .delete(format!("{url}/_emulator/requests"))
            .send()
            .await
            .expect("control plane answers");
        assert!(cleared.status().is_success(), "{}", cleared.status());
        let client = Client::new(
            ClientConfig::new(&target.base_url, &target.api_key).with_concurrency(CONCURRENCY),
        )
        .expect("client");
        let (cpu0, started) = (cpu_seconds(), Instant::now());
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
        let wall = started.elapsed().as_secs_f64();
        assert!(
            report.failed.is_empty() && report.skipped.is_empty(),
            "apply failed: {:?}",
            report.failed.first()
        );
        json!({ "wall": wall, "cpu": cpu_seconds() - cpu0, "rss_mib": peak_rss_mib(),
            "objects": analysis.state.len(), "extra": outcome.plan.changes.len() })
    })
}
