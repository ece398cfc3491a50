//! Load bench for the emulator: 16 concurrent clients send 20,000 mixed requests (creates, PUTs,
//! PATCHes, gets and paginated lists) to an in-process emulator on 127.0.0.1, then the bench
//! checks that no write was lost (every successful create is found afterwards) and prints the
//! throughput and latency percentiles.
//!
//! Bounded and self-stopping: a fixed number of requests, a 10 s timeout per request and a
//! 5-minute deadline for the whole run. Exits non-zero when a write was lost or a request failed.
//! Run with `cargo bench --bench emulator_load`.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bt_gitops::emulator::{EmulatorConfig, spawn};
use serde_json::{Value, json};

const CLIENTS: usize = 16;
const TOTAL: usize = 20_000;
const DEADLINE: Duration = Duration::from_secs(300);

/// What one client saw.
#[derive(Default)]
struct Outcome {
    latencies_us: Vec<u64>,
    errors: Vec<String>,
    tags_created: Vec<String>,
    projects_created: Vec<String>,
}

struct Api {
    http: reqwest::Client,
    url: String,
    key: String,
}

impl Api {
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, String> {
        let mut request = self
            .http
            .request(method.clone(), format!("{}{path}", self.url))
            .bearer_auth(&self.key);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request
            .send()
            .await
            .map_err(|e| format!("{method} {path}: {e}"))?;
        let status = response.status();
        let body: Value = response
            .json()
            .await
            .map_err(|e| format!("{method} {path}: {e}"))?;
        if status.is_success() {
            Ok(body)
        } else {
            Err(format!("{method} {path}: {status} {body}"))
        }
    }
}

async fn client(api: Arc<Api>, index: usize, project_id: String, requests: usize) -> Outcome {
    use reqwest::Method;
    let mut outcome = Outcome::default();
    let project = format!("/v1/project/{project_id}");
    let tags = format!("/v1/project_tag?project_id={project_id}&limit=50");
    for j in 0..requests {
        let (method, path, body) = match j % 10 {
            0..=2 => (
                Method::POST,
                "/v1/project_tag".to_owned(),
                Some(
                    json!({"project_id": project_id, "name": format!("t{index}-{j}"), "color": "red"}),
                ),
            ),
            3 => (
                Method::PUT,
                "/v1/project_tag".to_owned(),
                Some(
                    json!({"project_id": project_id, "name": format!("t{index}-{}", j - 3), "color": "blue"}),
                ),
            ),
            4 => (
                Method::PATCH,
                project.clone(),
                Some(json!({"description": format!("rev {j}")})),
            ),
            5 | 6 => (Method::GET, tags.clone(), None),
            7 => (Method::GET, project.clone(), None),
            8 => (Method::GET, "/v1/group".to_owned(), None),
            _ => (
                Method::POST,
                "/v1/project".to_owned(),
                Some(json!({"name": format!("load-{index}-{j}")})),
            ),
        };
        let started = Instant::now();
        let result = api.call(method.clone(), &path, body).await;
        outcome
            .latencies_us
            .push(started.elapsed().as_micros() as u64);
        match result {
            Ok(value) => {
                let id = value["id"].as_str().unwrap_or_default().to_owned();
                match (j % 10, method) {
                    (0..=2, Method::POST) => outcome.tags_created.push(id),
                    (9, Method::POST) => outcome.projects_created.push(id),
                    _ => {}
                }
            }
            Err(e) => outcome.errors.push(e),
        }
    }
    outcome
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)] as f64 / 1000.0
}

async fn run() -> Result<bool, String> {
    let emu = spawn(EmulatorConfig::default())
        .await
        .map_err(|e| e.to_string())?;
    let api = Arc::new(Api {
        http: reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(10))
            .pool_max_idle_per_host(CLIENTS)
            .build()
            .map_err(|e| e.to_string())?,
        url: emu.url().to_owned(),
        key: emu.api_key().to_owned(),
    });
    let mut projects = Vec::new();
    for i in 0..CLIENTS {
        let created = api
            .call(
                reqwest::Method::POST,
                "/v1/project",
                Some(json!({"name": format!("bench-{i}")})),
            )
            .await?;
        projects.push(created["id"].as_str().unwrap_or_default().to_owned());
    }
    emu.clear_requests();

    let started = Instant::now();
    let per_client = TOTAL / CLIENTS;
    let tasks: Vec<_> = projects
        .iter()
        .enumerate()
        .map(|(i, p)| tokio::spawn(client(api.clone(), i, p.clone(), per_client)))
        .collect();
    let mut outcomes = Vec::new();
    for task in tasks {
        outcomes.push(task.await.map_err(|e| e.to_string())?);
    }
    let elapsed = started.elapsed();

    let mut latencies: Vec<u64> = outcomes
        .iter()
        .flat_map(|o| o.latencies_us.clone())
        .collect();
    latencies.sort_unstable();
    let errors: Vec<&String> = outcomes.iter().flat_map(|o| &o.errors).collect();
    let logged = emu.requests();

    // No lost writes: every tag and project whose create succeeded is there afterwards.
    let mut lost = 0usize;
    let mut tag_total = 0usize;
    for (i, project) in projects.iter().enumerate() {
        let listed = api
            .call(
                reqwest::Method::GET,
                &format!("/v1/project_tag?project_id={project}"),
                None,
            )
            .await?;
        let found: std::collections::HashSet<&str> = listed["objects"]
            .as_array()
            .map(|a| a.iter().filter_map(|o| o["id"].as_str()).collect())
            .unwrap_or_default();
        tag_total += found.len();
        lost += outcomes[i]
            .tags_created
            .iter()
            .filter(|id| !found.contains(id.as_str()))
            .count();
    }
    let all_projects = api.call(reqwest::Method::GET, "/v1/project", None).await?;
    let project_ids: std::collections::HashSet<&str> = all_projects["objects"]
        .as_array()
        .map(|a| a.iter().filter_map(|o| o["id"].as_str()).collect())
        .unwrap_or_default();
    let projects_created: usize = outcomes.iter().map(|o| o.projects_created.len()).sum();
    lost += outcomes
        .iter()
        .flat_map(|o| &o.projects_created)
        .filter(|id| !project_ids.contains(id.as_str()))
        .count();
    let tags_created: usize = outcomes.iter().map(|o| o.tags_created.len()).sum();

    println!(
        "emulator load: {CLIENTS} clients, {} requests on loopback",
        latencies.len()
    );
    println!(
        "  elapsed {:.2} s, throughput {:.0} requests/s",
        elapsed.as_secs_f64(),
        latencies.len() as f64 / elapsed.as_secs_f64()
    );
    println!(
        "  latency ms: p50 {:.2}  p90 {:.2}  p99 {:.2}  max {:.2}",
        percentile(&latencies, 50.0),
        percentile(&latencies, 90.0),
        percentile(&latencies, 99.0),
        percentile(&latencies, 100.0)
    );
    println!(
        "  writes: {tags_created} tags and {projects_created} projects created; {tag_total} tags and {} projects found; lost writes: {lost}",
        project_ids.len()
    );
    println!(
        "  request log: {} entries, {} writes; failed requests: {}",
        logged.len(),
        logged.iter().filter(|r| r.is_write()).count(),
        errors.len()
    );
    for e in errors.iter().take(5) {
        println!("  error: {e}");
    }
    emu.shutdown().await;
    Ok(lost == 0 && errors.is_empty() && tag_total == tags_created)
}

fn main() -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("emulator load: cannot start a runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(async { tokio::time::timeout(DEADLINE, run()).await }) {
        Ok(Ok(true)) => ExitCode::SUCCESS,
        Ok(Ok(false)) => {
            eprintln!("emulator load: FAILED (lost writes or failed requests)");
            ExitCode::FAILURE
        }
        Ok(Err(e)) => {
            eprintln!("emulator load: {e}");
            ExitCode::FAILURE
        }
        Err(_) => {
            eprintln!("emulator load: gave up after {DEADLINE:?}");
            ExitCode::FAILURE
        }
    }
}
