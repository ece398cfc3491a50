//! Benchmark: parse + lower + graph of a generated 50,000-object manifest tree.
//!
//! Run with `cargo bench --bench manifest`. Prints wall times per stage and the process's peak
//! resident memory; the targets (mission.md section 7) are under 1 s and under 300 MB.

use std::fmt::Write as _;
use std::time::Instant;

use bt_gitops::graph::DepGraph;
use bt_gitops::source::SourceMap;
use bt_gitops::{manifest, model};

const PROJECTS: usize = 480;
const MEMBERS: usize = 2_000;
const GROUPS: usize = 150;
const ROLES: usize = 40;

fn main() {
    let sources = generate();
    let bytes: usize = sources.iter().map(|(_, f)| f.text.len()).sum();
    let rss_before = peak_rss_mib();

    let mut best = f64::MAX;
    let mut objects = 0;
    let mut timings = (0.0, 0.0, 0.0);
    for _ in 0..3 {
        let t0 = Instant::now();
        let (docs, parse_diags) = manifest::parse(&sources);
        let t1 = Instant::now();
        let (state, lower_diags) = model::lower(&docs, &sources);
        let t2 = Instant::now();
        let (graph, graph_diags) = DepGraph::build(&state);
        let order = graph.topo_order();
        let t3 = Instant::now();
        assert!(
            parse_diags.is_empty()
                && lower_diags.iter().all(|d| !d.is_error())
                && graph_diags.is_empty(),
            "generated tree must be valid"
        );
        assert_eq!(order.len(), state.len());
        objects = state.len();
        let total = (t3 - t0).as_secs_f64();
        if total < best {
            best = total;
            timings = (
                (t1 - t0).as_secs_f64(),
                (t2 - t1).as_secs_f64(),
                (t3 - t2).as_secs_f64(),
            );
        }
    }
    let rss_after = peak_rss_mib();
    println!(
        "manifest tree: {} files, {:.1} MiB of YAML, {objects} objects",
        sources.len(),
        bytes as f64 / 1_048_576.0
    );
    println!("parse  {:>8.1} ms", timings.0 * 1e3);
    println!("lower  {:>8.1} ms", timings.1 * 1e3);
    println!(
        "graph  {:>8.1} ms (build + topological order)",
        timings.2 * 1e3
    );
    println!(
        "total  {:>8.1} ms (best of 3; target < 1000 ms)",
        best * 1e3
    );
    match (rss_before, rss_after) {
        (Some(b), Some(a)) => println!(
            "peak RSS {a:.0} MiB (after generating the text: {b:.0} MiB; target < 300 MiB)"
        ),
        _ => println!("peak RSS: unavailable on this platform"),
    }
}

/// One org file and one file per project.
fn generate() -> SourceMap {
    let mut sources = SourceMap::new();
    let mut org = String::from("org: bench\nauthoritative: [groups, roles, grants]\nmembers:\n");
    for m in 0..MEMBERS {
        let _ = writeln!(org, "  - user{m}@bench.example.com");
    }
    org.push_str("groups:\n");
    for g in 0..GROUPS {
        let _ = writeln!(
            org,
            "  - {{ name: group-{g}, members: [user{}@bench.example.com, user{}@bench.example.com], inherits: [{}] }}",
            g * 7 % MEMBERS,
            g * 13 % MEMBERS,
            if g == 0 {
                "Viewers".to_owned()
            } else {
                format!("group-{}", g - 1)
            }
        );
    }
    org.push_str("roles:\n");
    for r in 0..ROLES {
        let _ = writeln!(
            org,
            "  - {{ name: role-{r}, permissions: [read, update, {{ permission: create, restrict_object_type: experiment }}] }}"
        );
    }
    org.push_str("ai_secrets:\n");
    for s in 0..20 {
        let _ = writeln!(
            org,
            "  - {{ name: KEY_{s}, type: openai, secret: {{ env: BENCH_KEY_{s} }} }}"
        );
    }
    sources.add("org.yaml", org);

    for p in 0..PROJECTS {
        let mut doc = format!(
            "project: project-{p}\norg: bench\ndescription: Generated project {p}\nsettings: {{ comparison_key: input }}\ntags:\n"
        );
        for t in 0..30 {
            let _ = writeln!(doc, "  - {{ name: tag-{t}, color: \"#a{:05x}\" }}", t);
        }
        doc.push_str("scores:\n");
        for s in 0..30 {
            let _ = writeln!(doc, "  - {{ name: score-{s}, type: slider }}");
        }
        doc.push_str("  - { name: tone, type: categorical, categories: [{ name: good, value: 1 }, { name: bad, value: 0 }] }\n");
        doc.push_str(
            "  - { name: overall, type: weighted, weights: { score-0: 0.5, tone: 0.5 } }\n",
        );
        doc.push_str("online_scoring:\n");
        for o in 0..10 {
            let _ = writeln!(
                doc,
                "  - {{ name: online-{o}, sampling_rate: 0.1, scorers: [{{ global: Factuality }}], filter: \"metadata.n = {o}\" }}"
            );
        }
        doc.push_str("alerts:\n");
        for a in 0..10 {
            let _ = writeln!(
                doc,
                "  - {{ name: alert-{a}, filter: \"error IS NOT NULL\", interval: 1h, notify: {{ webhook: \"https://hooks.example.com/{a}\" }} }}"
            );
        }
        doc.push_str("retention:\n  - { object_type: project_logs, days: 90 }\ngrants:\n");
        for g in 0..20 {
            let _ = writeln!(
                doc,
                "  - {{ group: group-{}, role: role-{} }}",
                (p + g) % GROUPS,
                g % ROLES
            );
        }
        sources.add(format!("projects/project-{p}.yaml"), doc);
    }
    sources
}

/// The process's peak resident set size, from /proc (Linux only).
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}
