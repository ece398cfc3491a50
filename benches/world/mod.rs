//! The generated "large org" the benchmarks share: `perf.rs`, `plan.rs` and `manifest.rs`
//! include this module (`mod world;`), each using the part it measures.
//!
//! [`manifests`] and [`seed`] describe the same org (50 members, 100 groups, 30 roles, 20 AI
//! secrets, and per project 10 tags, 8 scores, 4 alerts and 10 grants), so a plan of one
//! against the other finds no change; [`object_paths`] lists every seeded object for a
//! one-GET-per-object walk; [`validate_tree`] is the larger manifest-only tree (~50,000
//! objects) that `validate` is timed on.

use std::fmt::Write as _;

use bt_gitops::emulator::SeedDoc;
use bt_gitops::model::OrgName;
use bt_gitops::reconcile::OrgTarget;
use bt_gitops::source::SourceMap;
use serde_json::{Value, json};

/// The API key of the org's owner, `user0@bench.example.com`.
pub const KEY: &str = "sk-bench-large-org-0000000001";
pub const USERS: usize = 50;
pub const GROUPS: usize = 100;
pub const ROLES: usize = 30;
pub const SECRETS: usize = 20;
pub const TAGS: usize = 10;
pub const SCORES: usize = 8;
pub const AUTOMATIONS: usize = 4;
pub const GRANTS_PER_PROJECT: usize = 10;

/// A fixed id: `kind` says what it is (1 user, 2 group, 3 role, 4 project, 5 AI secret, 6 tag,
/// 7 score, 8 automation, 9 ACL), `n` which one.
pub fn uuid(kind: u32, n: usize) -> String {
    format!("b{kind:07x}-0000-4000-8000-{n:012x}")
}

/// The generated org's manifests: 50 members, 100 groups, 30 roles, 20 AI secrets, and per
/// project 10 tags, 8 scores, 4 alerts and 10 grants.
pub fn manifests(projects: usize) -> String {
    let mut yaml = String::from("org: bench\nmembers:\n");
    for u in 0..USERS {
        let _ = writeln!(yaml, "  - user{u}@bench.example.com");
    }
    yaml.push_str("groups:\n  - { name: Owners, members: [user0@bench.example.com] }\n");
    for g in 0..GROUPS {
        let _ = writeln!(
            yaml,
            "  - {{ name: group-{g}, description: Group {g}, members: [user{}@bench.example.com, user{}@bench.example.com] }}",
            g % USERS,
            (g * 7 + 3) % USERS
        );
    }
    yaml.push_str("roles:\n");
    for r in 0..ROLES {
        let _ = writeln!(
            yaml,
            "  - {{ name: role-{r}, permissions: [read, {{ permission: create, restrict_object_type: experiment }}] }}"
        );
    }
    yaml.push_str("ai_secrets:\n");
    for s in 0..SECRETS {
        let _ = writeln!(yaml, "  - {{ name: KEY_{s}, type: openai }}");
    }
    for p in 0..projects {
        let _ = write!(
            yaml,
            "---\nproject: project-{p}\ndescription: Project {p}\ntags:\n"
        );
        for t in 0..TAGS {
            let _ = writeln!(yaml, "  - {{ name: tag-{t}, color: \"#00{t:02}00\" }}");
        }
        yaml.push_str("scores:\n");
        for s in 0..SCORES {
            let _ = writeln!(yaml, "  - {{ name: score-{s}, type: slider }}");
        }
        yaml.push_str("alerts:\n");
        for a in 0..AUTOMATIONS {
            let _ = writeln!(
                yaml,
                "  - {{ name: alert-{a}, filter: \"error IS NOT NULL\", interval: 1h, notify: {{ webhook: \"https://hooks.example.com/{a}\" }} }}"
            );
        }
        yaml.push_str("grants:\n");
        for g in 0..GRANTS_PER_PROJECT {
            let (group, role) = ((p + g) % GROUPS, (p * 3 + g) % ROLES);
            let _ = writeln!(yaml, "  - {{ group: group-{group}, role: role-{role} }}");
        }
    }
    yaml
}

/// The emulator seed that matches [`manifests`] exactly.
pub fn seed(projects: usize) -> SeedDoc {
    let mut objects = Vec::new();
    let users: Vec<Value> = (0..USERS)
        .map(|u| {
            let mut user =
                json!({ "email": format!("user{u}@bench.example.com"), "id": uuid(1, u) });
            if u == 0 {
                user["owner"] = json!(true);
                user["api_keys"] = json!([{ "name": "bench", "key": KEY }]);
            }
            user
        })
        .collect();
    for g in 0..GROUPS {
        let members = [uuid(1, g % USERS), uuid(1, (g * 7 + 3) % USERS)];
        objects.push(json!({ "kind": "group", "id": uuid(2, g), "body": { "name": format!("group-{g}"), "description": format!("Group {g}"), "member_users": members } }));
    }
    for r in 0..ROLES {
        objects.push(json!({ "kind": "role", "id": uuid(3, r), "body": { "name": format!("role-{r}"),
            "member_permissions": [{ "permission": "read" }, { "permission": "create", "restrict_object_type": "experiment" }] } }));
    }
    for s in 0..SECRETS {
        objects.push(json!({ "kind": "ai_secret", "id": uuid(5, s), "body": { "name": format!("KEY_{s}"), "type": "openai", "secret": format!("value-{s}") } }));
    }
    for p in 0..projects {
        let name = format!("project-{p}");
        objects.push(json!({ "kind": "project", "id": uuid(4, p), "body": { "name": name, "description": format!("Project {p}") } }));
        for t in 0..TAGS {
            objects.push(json!({ "kind": "project_tag", "id": uuid(6, p * TAGS + t), "body": { "project_name": name, "name": format!("tag-{t}"), "color": format!("#00{t:02}00") } }));
        }
        for s in 0..SCORES {
            objects.push(json!({ "kind": "project_score", "id": uuid(7, p * SCORES + s), "body": { "project_name": name, "name": format!("score-{s}"), "score_type": "slider" } }));
        }
        for a in 0..AUTOMATIONS {
            objects.push(json!({ "kind": "project_automation", "id": uuid(8, p * AUTOMATIONS + a), "body": { "project_name": name, "name": format!("alert-{a}"),
                "config": { "event_type": "logs", "btql_filter": "error IS NOT NULL", "interval_seconds": 3600, "action": { "type": "webhook", "url": format!("https://hooks.example.com/{a}") } } } }));
        }
        for g in 0..GRANTS_PER_PROJECT {
            let (group, role) = ((p + g) % GROUPS, (p * 3 + g) % ROLES);
            objects.push(json!({ "kind": "acl", "id": uuid(9, p * GRANTS_PER_PROJECT + g), "body": { "object_type": "project", "object_id": uuid(4, p), "group_id": uuid(2, group), "role_id": uuid(3, role) } }));
        }
    }
    let seed = json!({ "orgs": [{ "name": "bench", "users": users, "objects": objects }] });
    serde_json::from_value(seed).expect("valid seed")
}

/// The org `bench` on the emulator at `url`, with the owner's key.
pub fn target(url: &str) -> OrgTarget {
    OrgTarget {
        org: OrgName::new("bench").expect("valid"),
        base_url: url.to_owned(),
        api_key: KEY.to_owned(),
    }
}

/// An org that holds only its owner: where an apply from empty starts.
pub fn owner_seed() -> SeedDoc {
    let seed = json!({ "orgs": [{ "name": "bench", "users": [{ "email": "user0@bench.example.com", "id": uuid(1, 0), "owner": true,
        "api_keys": [{ "name": "bench", "key": KEY }] }] }] });
    serde_json::from_value(seed).expect("valid seed")
}

/// `(list path, id)` of every object [`seed`] makes, for a one-GET-per-object walk.
pub fn object_paths(projects: usize) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut add = |path: &str, kind: u32, range: std::ops::Range<usize>| {
        out.extend(range.map(|n| (path.to_owned(), uuid(kind, n))));
    };
    add("/v1/user", 1, 0..USERS);
    add("/v1/group", 2, 0..GROUPS);
    add("/v1/role", 3, 0..ROLES);
    add("/v1/ai_secret", 5, 0..SECRETS);
    for p in 0..projects {
        add("/v1/project", 4, p..p + 1);
        add("/v1/project_tag", 6, p * TAGS..(p + 1) * TAGS);
        add("/v1/project_score", 7, p * SCORES..(p + 1) * SCORES);
        add(
            "/v1/project_automation",
            8,
            p * AUTOMATIONS..(p + 1) * AUTOMATIONS,
        );
        add(
            "/v1/acl",
            9,
            p * GRANTS_PER_PROJECT..(p + 1) * GRANTS_PER_PROJECT,
        );
    }
    out
}

/// A ~50,000-object tree in 481 files (the shape of `benches/manifest.rs`): 2,000 members,
/// 150 groups, 40 roles, and 480 projects with 30 tags, 32 scores, 10 online rules, 10 alerts,
/// a retention policy and 20 grants each.
pub fn validate_tree() -> SourceMap {
    const PROJECTS: usize = 480;
    const MEMBERS: usize = 2_000;
    const GROUPS: usize = 150;
    const ROLES: usize = 40;
    let mut sources = SourceMap::new();
    let mut org = String::from("org: bench\nauthoritative: [groups, roles, grants]\nmembers:\n");
    for m in 0..MEMBERS {
        let _ = writeln!(org, "  - user{m}@bench.example.com");
    }
    org.push_str("groups:\n");
    for g in 0..GROUPS {
        let inherits = if g == 0 {
            "Viewers".to_owned()
        } else {
            format!("group-{}", g - 1)
        };
        let _ = writeln!(
            org,
            "  - {{ name: group-{g}, members: [user{}@bench.example.com, user{}@bench.example.com], inherits: [{inherits}] }}",
            g * 7 % MEMBERS,
            g * 13 % MEMBERS,
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
            let _ = writeln!(doc, "  - {{ name: tag-{t}, color: \"#a{t:05x}\" }}");
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
