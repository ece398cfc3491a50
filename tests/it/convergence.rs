//! Convergence properties of plan + apply against the emulator, and a fault suite.
//!
//! The property tests generate a desired state (manifest text) and an initial live state (an
//! emulator seed) from one byte string, so that proptest's shrinking (fewer bytes, smaller
//! bytes) shrinks the world: a zero byte always means "leave it out" or "the first choice".
//! Every case seeds a fresh deterministic emulator, plans, applies, re-plans and applies again,
//! and checks:
//! - (a) after apply, the plan is empty (save the protected deletes apply refused);
//! - (b) a second apply makes no write request;
//! - (c) nothing outside the managed set is deleted: every object that disappeared from the
//!   emulator was a planned delete or replace (or went with a deleted parent), and every planned
//!   delete (or replace across kinds) is a tombstone or sits in an authoritative collection of a
//!   declared scope;
//! - (d) a protected object is never deleted: the report lists it as refused;
//! - (e) order: a change comes after the creates it references, deletes after all writes, a
//!   project's children before the project.
//!
//! Some cases first plan and apply with one list failing: nothing is planned in what it reads,
//! and what is planned applies. The apply's concurrency varies from 1 to 8.
//!
//! The kinds come from the registry: most are written out by hand below ([`HAND_WRITTEN`], with
//! the references between them), every other kind of `Kind::ALL` is drawn from its data file
//! `tests/data/convergence/<kind>.yaml` (declared entries, tombstones, live bodies), and
//! `the_generator_covers_every_kind` fails, naming the kind, when a kind has neither or is never
//! declared, live only, changed or tombstoned in a few fixed worlds.
//!
//! Generated manifests avoid what apply does not support yet: function scorers by slug, grants
//! on experiments/datasets/prompts, function-level env vars, and project settings in the seed.
//! Service tokens are created with the tool's user key, which the emulator is told to allow
//! (see [`emulator_config`]).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use bt_gitops::api::client::{Client, ClientConfig};
use bt_gitops::api::retry::RetryPolicy;
use bt_gitops::apply::{self, ApplyInput, ApplyReport, SecretValue};
use bt_gitops::diff::{self, SecretDigests, secrets};
use bt_gitops::emulator::{
    EmuHandle, EmulatorConfig, FaultAction, FaultRule, Profile, SeedDoc, spawn,
};
use bt_gitops::model::{Kind, OrgName, Presence, ResourceKey};
use bt_gitops::pipeline::{self, Analysis};
use bt_gitops::plan::{Action, Plan};
use bt_gitops::reconcile::{self, OrgTarget, PlanInput, PlanOutcome};
use bt_gitops::source::SourceMap;
use proptest::prelude::*;
use serde_json::{Value, json};

const ORG: &str = "acme";
const ORG_ID: &str = "a0000000-0000-4000-8000-000000000001";
const KEY: &str = "sk-emulator-acme-0000000000000001";

// ---------------------------------------------------------------------------------------------
// The byte source
// ---------------------------------------------------------------------------------------------

/// Choices drawn from a byte string; past its end every byte is 0 ("leave it out").
struct Src<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Src<'_> {
    fn byte(&mut self) -> u8 {
        let b = self.bytes.get(self.pos).copied().unwrap_or(0);
        self.pos += 1;
        b
    }

    /// One of `n` choices; 0 is the first.
    fn pick(&mut self, n: usize) -> usize {
        usize::from(self.byte()) % n.max(1)
    }

    /// True about `pct` % of the time; never for a zero byte.
    fn chance(&mut self, pct: u32) -> bool {
        let b = self.byte();
        b != 0 && u32::from(b) * 100 / 256 < pct
    }

    fn subset<T: Clone>(&mut self, items: &[T], pct: u32) -> Vec<T> {
        items.iter().filter(|_| self.chance(pct)).cloned().collect()
    }

    fn one<'s>(&mut self, items: &[&'s str]) -> &'s str {
        items[self.pick(items.len())]
    }
}

// ---------------------------------------------------------------------------------------------
// The generated world
// ---------------------------------------------------------------------------------------------

/// Users the seed can hold: `(email, id)`. Alice is always there: her key is the tool's.
const USERS: [(&str, &str); 6] = [
    ("alice@acme.com", "a0000000-0000-4000-8000-000000000101"),
    ("bob@acme.com", "a0000000-0000-4000-8000-000000000102"),
    ("carol@acme.com", "a0000000-0000-4000-8000-000000000103"),
    ("dave@acme.com", "a0000000-0000-4000-8000-000000000104"),
    ("erin@acme.com", "a0000000-0000-4000-8000-000000000105"),
    ("zed@acme.com", "a0000000-0000-4000-8000-000000000106"),
];
const NEW_MEMBERS: [&str; 1] = ["frank@acme.com"];
const GROUPS: [&str; 3] = ["ml", "reviewers", "platform"];
const LIVE_GROUPS: [&str; 5] = ["ml", "reviewers", "platform", "old-ml", "legacy"];
const ROLES: [&str; 3] = ["editor", "reviewer", "admin"];
const LIVE_ROLES: [&str; 5] = ["editor", "reviewer", "admin", "old-editor", "auditor"];
const PROJECTS: [&str; 3] = ["chatbot", "research", "sandbox"];
const LIVE_PROJECTS: [&str; 5] = ["chatbot", "research", "sandbox", "old-chatbot", "legacy"];
const PERMISSIONS: [&str; 6] = [
    "read",
    "update",
    "create",
    "delete",
    "read_acls",
    "update_acls",
];
const COLORS: [&str; 3] = ["#e5484d", "#30a46c", "#8e4ec6"];

fn project_id(i: usize) -> String {
    format!("a0000000-0000-4000-8000-00000000050{}", i + 1)
}

fn group_id(i: usize) -> String {
    format!("a0000000-0000-4000-8000-00000000030{}", i + 1)
}

fn role_id(i: usize) -> String {
    format!("a0000000-0000-4000-8000-00000000040{}", i + 1)
}

/// A desired state as manifest text and an initial live state as a seed.
#[derive(Debug)]
struct World {
    manifests: String,
    seed: Value,
    /// Changes the apply runs at once.
    concurrency: usize,
    /// A list that fails (403) during a first, partial plan and apply, with the kinds it reads.
    failing_list: Option<(&'static str, Vec<Kind>)>,
}

/// The lists of the live read and the kinds each one reads, from the kind registry; the org
/// list is left out (without it there is no read at all).
fn lists() -> Vec<(&'static str, Vec<Kind>)> {
    let mut out: Vec<(&'static str, Vec<Kind>)> = Vec::new();
    for &kind in Kind::ALL.iter().filter(|k| **k != Kind::Org) {
        match out.iter_mut().find(|(list, _)| *list == kind.list()) {
            Some((_, kinds)) => kinds.push(kind),
            None => out.push((kind.list(), vec![kind])),
        }
    }
    out
}

fn world(bytes: &[u8]) -> World {
    let mut s = Src { bytes, pos: 0 };
    // The kinds drawn from data (and what was added to the hand-written generator later) draw
    // from the far end of the bytes, so that they do not shift what the rest draws.
    let reversed: Vec<u8> = bytes.iter().rev().copied().collect();
    let mut x = Src {
        bytes: &reversed,
        pos: 0,
    };
    let seed = live_seed(&mut s, &mut x);
    let manifests = desired(&mut s, &mut x);
    let concurrency = [4, 1, 2, 8][s.pick(4)];
    let lists = lists();
    let failing_list = s.chance(30).then(|| lists[s.pick(lists.len())].clone());
    World {
        manifests,
        seed,
        concurrency,
        failing_list,
    }
}

/// The initial live state: users, groups, roles, ACLs, secrets, env vars, environments and
/// projects with children, overlapping the desired names at random.
fn live_seed(s: &mut Src<'_>, x: &mut Src<'_>) -> Value {
    let mut users = vec![
        json!({ "email": USERS[0].0, "id": USERS[0].1, "owner": true,
        "api_keys": [{ "name": "bt-gitops", "key": KEY }] }),
    ];
    let mut user_ids = vec![USERS[0].1];
    for (email, id) in &USERS[1..] {
        if s.chance(60) {
            users.push(json!({ "email": email, "id": id }));
            user_ids.push(id);
        }
    }
    let mut objects = Vec::new();
    let mut groups = Vec::new();
    for (i, name) in LIVE_GROUPS.iter().enumerate() {
        if !s.chance(45) {
            continue;
        }
        let members: Vec<&str> = user_ids.iter().copied().filter(|_| s.chance(30)).collect();
        let mut body = json!({ "name": name, "member_users": members });
        let parents: Vec<&String> = groups.iter().filter(|_| s.chance(25)).collect();
        if !parents.is_empty() {
            body["member_groups"] = json!(parents);
        }
        if s.chance(40) {
            body["description"] = json!(format!("live {name}"));
        }
        objects.push(json!({ "kind": "group", "id": group_id(i), "body": body }));
        groups.push(group_id(i));
    }
    let mut roles = Vec::new();
    for (i, name) in LIVE_ROLES.iter().enumerate() {
        if !s.chance(45) {
            continue;
        }
        let perms: Vec<Value> = s
            .subset(&PERMISSIONS, 30)
            .into_iter()
            .map(|p| json!({ "permission": p }))
            .collect();
        let mut body = json!({ "name": name, "member_permissions": perms });
        let parents: Vec<&String> = roles.iter().filter(|_| s.chance(25)).collect();
        if !parents.is_empty() {
            body["member_roles"] = json!(parents);
        }
        if s.chance(30) {
            body["description"] = json!(format!("live {name}"));
        }
        objects.push(json!({ "kind": "role", "id": role_id(i), "body": body }));
        roles.push(role_id(i));
    }
    // Org-level ACLs between live groups and roles.
    let mut acls = BTreeSet::new();
    for _ in 0..s.pick(4) {
        if groups.is_empty() {
            break;
        }
        let group = groups[s.pick(groups.len())].clone();
        let privilege = if !roles.is_empty() && s.chance(50) {
            ("role_id", roles[s.pick(roles.len())].clone())
        } else {
            (
                "permission",
                PERMISSIONS[s.pick(PERMISSIONS.len())].to_owned(),
            )
        };
        acls.insert((group, privilege));
    }
    for (group, (field, value)) in acls {
        objects.push(
            json!({ "kind": "acl", "body": { "object_type": "organization", "object_id": ORG_ID,
            "group_id": group, field: value } }),
        );
    }
    if s.chance(40) {
        let user = user_ids[s.pick(user_ids.len())];
        let (object_type, object_id) = match s.pick(3) {
            1 if !groups.is_empty() => ("group", groups[s.pick(groups.len())].clone()),
            2 if !roles.is_empty() => ("role", roles[s.pick(roles.len())].clone()),
            _ => ("organization", ORG_ID.to_owned()),
        };
        objects.push(
            json!({ "kind": "acl", "body": { "object_type": object_type, "object_id": object_id,
            "user_id": user, "permission": PERMISSIONS[s.pick(PERMISSIONS.len())] } }),
        );
    }
    for (name, provider) in [
        ("OPENAI_KEY", "openai"),
        ("ANTHROPIC_KEY", "anthropic"),
        ("OLD_KEY", "openai"),
    ] {
        if s.chance(40) {
            let provider = if s.chance(20) { "mistral" } else { provider };
            let mut body =
                json!({ "name": name, "type": provider, "secret": format!("value-of-{name}") });
            if let Some(m) = recorded(s, name) {
                body["metadata"] = m;
            }
            objects.push(json!({ "kind": "ai_secret", "body": body }));
        }
    }
    for name in ["SLACK_URL", "TOKEN", "OLD_VAR"] {
        if s.chance(40) {
            let mut body = json!({ "object_type": "organization", "object_id": ORG_ID, "name": name,
                "value": format!("value-of-{name}") });
            if let Some(m) = recorded(s, name) {
                body["metadata"] = m;
            }
            objects.push(json!({ "kind": "env_var", "body": body }));
        }
    }
    for name in ["production", "staging", "qa"] {
        if s.chance(40) {
            let mut body = json!({ "name": name, "slug": name });
            if s.chance(40) {
                body["description"] = json!("live");
            }
            objects.push(json!({ "kind": "environment", "body": body }));
        }
    }
    data_seed(x, Scope::Org, None, &mut objects);
    for (i, project) in LIVE_PROJECTS.iter().enumerate() {
        if !s.chance(50) {
            continue;
        }
        let mut body = json!({ "name": project });
        if s.chance(40) {
            body["description"] = json!("live project");
        }
        objects.push(json!({ "kind": "project", "id": project_id(i), "body": body }));
        live_project_children(s, x, project, &project_id(i), &groups, &mut objects);
    }
    let mut accounts = Vec::new();
    for (i, name) in ["ci-bot", "old-bot"].iter().enumerate() {
        if s.chance(35) {
            let mut account = json!({ "name": name, "id": format!("a0000000-0000-4000-8000-00000000020{}", i + 1) });
            let tokens: Vec<Value> = x
                .subset(&["deploy", "old-token"], 40)
                .into_iter()
                .map(|t| json!({ "name": t }))
                .collect();
            if !tokens.is_empty() {
                account["tokens"] = json!(tokens);
            }
            accounts.push(account);
        }
    }
    json!({ "orgs": [{ "name": ORG, "id": ORG_ID, "users": users, "service_accounts": accounts, "objects": objects }] })
}

/// The metadata bt-gitops would have recorded after writing a secret, sometimes: the digest of
/// the value the tests declare (or of another), written after the emulator's clock (unchanged
/// since) or before it (rotated outside bt-gitops since).
fn recorded(s: &mut Src<'_>, name: &str) -> Option<Value> {
    if !s.chance(50) {
        return None;
    }
    let value = if s.chance(70) {
        format!("value-of-{name}")
    } else {
        "an older value".to_owned()
    };
    let digest = secrets::digest(&secrets::default_key(ORG), value.as_bytes());
    let written_at = if s.chance(70) {
        "2030-01-01T00:00:00Z"
    } else {
        "2025-01-01T00:00:00Z"
    };
    Some(json!({ "bt_gitops": { "digest": digest, "written_at": written_at } }))
}

fn live_project_children(
    s: &mut Src<'_>,
    x: &mut Src<'_>,
    project: &str,
    id: &str,
    groups: &[String],
    objects: &mut Vec<Value>,
) {
    let child = |kind: &str, mut body: Value| {
        body["project_name"] = json!(project);
        json!({ "kind": kind, "body": body })
    };
    for tag in ["regression", "golden", "gold", "old-tag"] {
        if s.chance(40) {
            let mut body = json!({ "name": tag });
            if s.chance(50) {
                body["color"] = json!(COLORS[s.pick(COLORS.len())].to_uppercase());
            }
            objects.push(child("project_tag", body));
        }
    }
    // Score names shared with online scoring rules on purpose: one API collection holds both.
    for name in [
        "helpfulness",
        "tone",
        "overall",
        "worst",
        "factuality",
        "old-score",
    ] {
        if !s.chance(35) {
            continue;
        }
        let body = match s.pick(5) {
            0 => json!({ "name": name, "score_type": "slider" }),
            1 => json!({ "name": name, "score_type": "free-form", "description": "live" }),
            2 => json!({ "name": name, "score_type": "categorical",
                "categories": [{ "name": "good", "value": 1 }, { "name": "bad", "value": 0 }] }),
            3 => json!({ "name": name, "score_type": "online", "config": { "online": {
                "sampling_rate": 0.2, "scorers": [{ "type": "global", "name": "Factuality" }] } } }),
            _ => json!({ "name": name, "score_type": "minimum", "categories": ["helpfulness"] }),
        };
        objects.push(child("project_score", body));
    }
    if s.chance(30) {
        objects.push(child(
            "span_iframe",
            json!({ "name": "view", "url": "https://old.acme.com/view" }),
        ));
    }
    // Automation names shared between alerts and exports on purpose.
    for name in ["errors", "nightly", "old-alert"] {
        if !s.chance(35) {
            continue;
        }
        let config = if s.chance(50) {
            json!({ "event_type": "logs", "btql_filter": "error IS NOT NULL", "interval_seconds": 600,
                "action": { "type": "slack", "workspace_id": "T0123ACME", "channel": "#alerts" } })
        } else {
            json!({ "event_type": "btql_export", "export_definition": { "type": "log_spans" },
                "export_path": "s3://acme/old", "format": "jsonl", "interval_seconds": 3600,
                "credentials": { "type": "aws_iam", "role_arn": "arn:aws:iam::1:role/x", "external_id": "e" } })
        };
        objects.push(child(
            "project_automation",
            json!({ "name": name, "config": config }),
        ));
    }
    for object_type in ["project_logs", "experiment"] {
        if s.chance(30) {
            objects.push(child("project_automation", json!({ "name": format!("retention-{object_type}"),
                "config": { "event_type": "retention", "object_type": object_type, "retention_days": 90 } })));
        }
    }
    if !groups.is_empty() && s.chance(40) {
        let group = &groups[s.pick(groups.len())];
        objects.push(
            json!({ "kind": "acl", "body": { "object_type": "project", "object_id": id,
            "group_id": group, "permission": PERMISSIONS[s.pick(PERMISSIONS.len())] } }),
        );
    }
    for name in ["API_URL", "OLD_PVAR"] {
        if s.chance(30) {
            objects.push(json!({ "kind": "env_var", "body": { "object_type": "project", "object_id": id, "name": name, "value": "v" } }));
        }
    }
    // Drawn from the far end of the bytes (see `project_doc`).
    if x.chance(30) {
        objects.push(child(
            "project_automation",
            json!({ "name": "pager", "config": {
            "event_type": "logs", "btql_filter": "error IS NOT NULL", "interval_seconds": 3600,
            "action": { "type": "webhook", "url": "https://hooks.acme.com/old" } } }),
        ));
    }
    if x.chance(30) {
        objects.push(child("project_automation", json!({ "name": "weekly", "config": {
            "event_type": "btql_export", "export_definition": { "type": "log_traces" },
            "export_path": "s3://acme/weekly", "format": "jsonl", "interval_seconds": 86400,
            "credentials": { "type": "aws_iam", "role_arn": "arn:aws:iam::1:role/x", "external_id": "e" } } })));
    }
    if x.chance(30) {
        objects.push(child(
            "span_iframe",
            json!({ "name": "docs", "url": "https://old.acme.com/docs" }),
        ));
    }
    data_seed(x, Scope::Project, Some((project, id)), objects);
}

/// The manifests: one org document and one document per declared project, as JSON (which is
/// YAML), one document per `---`.
fn desired(s: &mut Src<'_>, x: &mut Src<'_>) -> String {
    let mut org = json!({ "org": ORG });
    let authoritative = s.subset(
        &[
            "members",
            "groups",
            "roles",
            "grants",
            "ai_secrets",
            "env_vars",
            "environments",
            "projects",
            "service_accounts",
        ],
        30,
    );
    if !authoritative.is_empty() {
        org["authoritative"] = json!(authoritative);
    }
    if s.chance(20) {
        org["settings"] =
            json!({ "image_rendering_mode": s.one(&["auto", "click_to_load", "blocked"]) });
    }
    let mut members = vec![USERS[0].0];
    members.extend(s.subset(&[USERS[1].0, USERS[2].0, USERS[3].0, USERS[4].0], 50));
    members.extend(s.subset(&NEW_MEMBERS, 30));
    org["members"] = json!(members);
    let accounts: Vec<&str> = s.subset(&["ci-bot", "etl-bot"], 40);
    if !accounts.is_empty() {
        org["service_accounts"] = json!(
            accounts
                .iter()
                .map(|a| json!({ "name": a }))
                .collect::<Vec<_>>()
        );
    }

    // Projects first: grants may name them.
    let mut projects: Vec<&str> = s.subset(&PROJECTS, 50);
    if projects.is_empty() {
        projects.push(PROJECTS[0]);
    }

    let mut groups: Vec<&str> = Vec::new();
    let mut group_docs = Vec::new();
    for name in GROUPS {
        if !s.chance(50) {
            continue;
        }
        let mut g = json!({ "name": name });
        if s.chance(50) {
            g["description"] = json!(format!("desired {name}"));
        } else if name.len() % 2 == 0 {
            // Cleared (`null`); decided without a draw, so the worlds stay as they were.
            g["description"] = Value::Null;
        }
        let m: Vec<&str> = members.iter().copied().filter(|_| s.chance(35)).collect();
        if !m.is_empty() {
            g["members"] = json!(m);
        }
        let a: Vec<&str> = accounts.iter().copied().filter(|_| s.chance(35)).collect();
        if !a.is_empty() {
            g["service_accounts"] = json!(a);
        }
        let mut inherits: Vec<&str> = groups.iter().copied().filter(|_| s.chance(30)).collect();
        if s.chance(20) {
            inherits.push("Viewers");
        }
        if !inherits.is_empty() {
            g["inherits"] = json!(inherits);
        }
        if name == "ml" && s.chance(40) {
            g["previous_names"] = json!(["old-ml"]);
        }
        groups.push(name);
        group_docs.push(g);
    }
    if s.chance(20) {
        let mut owners: Vec<&str> = vec![USERS[0].0];
        owners.extend(members[1..].iter().copied().filter(|_| s.chance(30)));
        group_docs.push(json!({ "name": "Owners", "members": owners }));
    }
    if !groups.contains(&"legacy") && s.chance(25) {
        group_docs.push(json!({ "name": "legacy", "state": "absent" }));
    }
    if !group_docs.is_empty() {
        org["groups"] = json!(group_docs);
    }

    let mut roles: Vec<&str> = Vec::new();
    let mut role_docs = Vec::new();
    for name in ROLES {
        if !s.chance(50) {
            continue;
        }
        let mut r = json!({ "name": name });
        if s.chance(40) {
            r["description"] = json!(format!("desired {name}"));
        }
        let mut perms: Vec<Value> = s
            .subset(&PERMISSIONS, 35)
            .into_iter()
            .map(Value::from)
            .collect();
        if s.chance(30) {
            perms.push(json!({ "permission": "create", "restrict_object_type": s.one(&["experiment", "dataset", "prompt"]) }));
        }
        r["permissions"] = json!(perms);
        let inherits: Vec<&str> = roles.iter().copied().filter(|_| s.chance(30)).collect();
        if !inherits.is_empty() {
            r["inherits"] = json!(inherits);
        }
        if name == "editor" && s.chance(40) {
            r["previous_names"] = json!(["old-editor"]);
        }
        roles.push(name);
        role_docs.push(r);
    }
    if s.chance(25) {
        role_docs.push(json!({ "name": "auditor", "state": "absent" }));
    }
    if !role_docs.is_empty() {
        org["roles"] = json!(role_docs);
    }

    let mut grants = BTreeMap::new();
    let mut on_projects = BTreeSet::new();
    for _ in 0..s.pick(4) {
        let (subject_key, subject) = grant_subject(s, &members, &groups, &accounts);
        let privilege = grant_privilege(s, &roles);
        let mut g = json!({ subject_key: subject });
        for (k, v) in privilege {
            g[k] = v;
        }
        match s.pick(4) {
            1 => {
                let project = projects[s.pick(projects.len())];
                on_projects.insert((project, g.to_string()));
                g["on"] = json!({ "project": project });
            }
            2 if !groups.is_empty() => g["on"] = json!({ "group": groups[s.pick(groups.len())] }),
            3 if !roles.is_empty() => g["on"] = json!({ "role": roles[s.pick(roles.len())] }),
            _ => {}
        }
        grants.insert(g.to_string(), g);
    }
    if !grants.is_empty() {
        org["grants"] = json!(grants.into_values().collect::<Vec<_>>());
    }

    let mut secrets = Vec::new();
    for (name, provider) in [("OPENAI_KEY", "openai"), ("ANTHROPIC_KEY", "anthropic")] {
        if s.chance(50) {
            let mut a = json!({ "name": name, "type": provider });
            if s.chance(80) {
                a["secret"] = json!({ "env": format!("ENV_{name}") });
            }
            secrets.push(a);
        }
    }
    if s.chance(30) {
        let mut a = json!({ "name": "OLD_KEY", "state": "absent" });
        match s.pick(3) {
            1 => a["protect"] = json!(false),
            2 => a["protect"] = json!(true),
            _ => {}
        }
        secrets.push(a);
    }
    if !secrets.is_empty() {
        org["ai_secrets"] = json!(secrets);
    }
    let mut vars = Vec::new();
    for name in ["SLACK_URL", "TOKEN"] {
        if s.chance(50) {
            vars.push(json!({ "name": name, "value": { "env": format!("ENV_{name}") } }));
        }
    }
    if s.chance(30) {
        vars.push(json!({ "name": "OLD_VAR", "state": "absent" }));
    }
    if !vars.is_empty() {
        org["env_vars"] = json!(vars);
    }
    let mut envs = Vec::new();
    for name in ["production", "staging"] {
        if s.chance(50) {
            let mut e = json!({ "name": name, "slug": name });
            if s.chance(50) {
                e["description"] = json!(format!("desired {name}"));
            }
            envs.push(e);
        }
    }
    if s.chance(30) {
        envs.push(json!({ "name": "qa", "slug": "qa", "state": "absent" }));
    }
    if !envs.is_empty() {
        org["environments"] = json!(envs);
    }

    // Drawn from the far end of the bytes (added after the rest; see `world`): service tokens,
    // and tombstones of a service account, a token and a grant.
    if let Some(list) = org
        .get_mut("service_accounts")
        .and_then(Value::as_array_mut)
    {
        for account in list {
            let mut tokens: Vec<Value> = x
                .subset(&["deploy"], 40)
                .into_iter()
                .map(|t| json!({ "name": t }))
                .collect();
            if account["name"] == "ci-bot" && x.chance(30) {
                tokens.push(json!({ "name": "old-token", "state": "absent" }));
            }
            if !tokens.is_empty() {
                account["tokens"] = json!(tokens);
            }
        }
    }
    if x.chance(25) {
        push_entry(
            &mut org,
            "service_accounts",
            json!({ "name": "old-bot", "state": "absent" }),
        );
    }
    if x.chance(25) {
        push_entry(
            &mut org,
            "grants",
            json!({ "group": "Viewers", "permission": "update_acls", "state": "absent" }),
        );
    }
    data_entries(x, Scope::Org, &mut org);
    let mut docs = vec![org];
    for project in &projects {
        docs.push(project_doc(
            s,
            project,
            &members,
            &groups,
            &roles,
            &accounts,
            &on_projects,
        ));
        project_extras(x, docs.last_mut().expect("just pushed"));
    }
    if s.chance(30) {
        let mut p = json!({ "project": "legacy", "org": ORG, "state": "absent" });
        match s.pick(3) {
            1 => p["protect"] = json!(false),
            2 => p["protect"] = json!(true),
            _ => {}
        }
        docs.push(p);
    }
    docs.iter()
        .map(|d| serde_json::to_string_pretty(d).expect("json"))
        .collect::<Vec<_>>()
        .join("\n---\n")
}

fn grant_subject<'a>(
    s: &mut Src<'_>,
    members: &[&'a str],
    groups: &[&'a str],
    accounts: &[&'a str],
) -> (&'static str, &'a str) {
    match s.pick(4) {
        1 => ("user", members[s.pick(members.len())]),
        2 if !groups.is_empty() => ("group", groups[s.pick(groups.len())]),
        3 if !accounts.is_empty() => ("service_account", accounts[s.pick(accounts.len())]),
        _ => ("group", "Engineers"),
    }
}

fn grant_privilege(s: &mut Src<'_>, roles: &[&str]) -> Vec<(&'static str, Value)> {
    if !roles.is_empty() && s.chance(50) {
        return vec![("role", json!(roles[s.pick(roles.len())]))];
    }
    let mut out = vec![("permission", json!(PERMISSIONS[s.pick(PERMISSIONS.len())]))];
    if s.chance(25) {
        out.push((
            "restrict_object_type",
            json!(s.one(&["experiment", "dataset"])),
        ));
    }
    out
}

fn project_doc(
    s: &mut Src<'_>,
    project: &str,
    members: &[&str],
    groups: &[&str],
    roles: &[&str],
    accounts: &[&str],
    org_grants: &BTreeSet<(&str, String)>,
) -> Value {
    let mut p = json!({ "project": project, "org": ORG });
    if s.chance(50) {
        p["description"] = json!(format!("desired {project}"));
    } else if project.len() % 2 == 1 {
        // Cleared (`null`); decided without a draw, so the worlds stay as they were.
        p["description"] = Value::Null;
    }
    if project == "chatbot" && s.chance(40) {
        p["previous_names"] = json!(["old-chatbot"]);
    }
    if s.chance(30) {
        p["protect"] = json!(false);
    }
    let authoritative = s.subset(
        &[
            "tags",
            "scores",
            "online_scoring",
            "span_iframes",
            "alerts",
            "retention",
            "exports",
            "grants",
            "env_vars",
        ],
        30,
    );
    if !authoritative.is_empty() {
        p["authoritative"] = json!(authoritative);
    }
    if s.chance(25) {
        p["settings"] =
            json!({ "comparison_key": "input", "disable_realtime_queries": s.chance(50) });
        if s.chance(40) {
            p["settings"]["remote_eval_sources"] =
                json!([{ "url": "https://evals.acme.com", "name": "remote" }]);
        }
        if s.chance(40) {
            p["settings"]["span_field_order"] = json!([{ "object_type": "span", "column_id": "input",
                "position": "0", "layout": s.one(&["full", "two_column"]) }]);
        }
        if s.chance(30) {
            p["settings"]["default_preprocessor"] = json!({ "global": "thread" });
        }
    }

    let mut tags = Vec::new();
    for tag in ["regression", "golden", "triage"] {
        if !s.chance(50) {
            continue;
        }
        let mut t = json!({ "name": tag });
        if s.chance(60) {
            t["color"] = json!(COLORS[s.pick(COLORS.len())]);
        }
        if s.chance(30) {
            t["description"] = json!(format!("desired {tag}"));
        }
        if tag == "golden" && s.chance(40) {
            t["previous_names"] = json!(["gold"]);
        }
        tags.push(t);
    }
    if s.chance(25) {
        tags.push(json!({ "name": "old-tag", "state": "absent" }));
    }
    if !tags.is_empty() {
        p["tags"] = json!(tags);
    }

    let mut scores = Vec::new();
    let mut base = Vec::new();
    if s.chance(60) {
        let mut sc = json!({ "name": "helpfulness", "type": "slider" });
        if s.chance(30) {
            sc["object_types"] = json!(["experiment", "project_logs"]);
        }
        scores.push(sc);
        base.push("helpfulness");
    }
    if s.chance(50) {
        let mut sc = json!({ "name": "tone", "type": "categorical", "categories": [
            { "name": "good", "value": 1 }, { "name": "bad", "value": 0 }] });
        if s.chance(40) {
            sc["categories"] = json!([{ "name": "friendly", "value": 1 }, { "name": "neutral", "value": 0.5 }, { "name": "rude", "value": 0 }]);
        }
        if s.chance(30) {
            sc["multi_select"] = json!(s.chance(50));
        }
        scores.push(sc);
        base.push("tone");
    }
    if s.chance(40) {
        scores.push(json!({ "name": "notes", "type": "free-form", "description": "anything" }));
    }
    if !base.is_empty() {
        if s.chance(40) {
            let weights: BTreeMap<&str, f64> = base
                .iter()
                .map(|b| (*b, if s.chance(50) { 0.5 } else { 0.25 }))
                .collect();
            scores.push(json!({ "name": "overall", "type": "weighted", "weights": weights }));
        }
        if s.chance(40) {
            scores.push(json!({ "name": "worst", "type": "minimum", "scores": base }));
        }
        if s.chance(30) {
            scores.push(json!({ "name": "best", "type": "maximum", "scores": base }));
        }
    }
    if s.chance(20) {
        scores.push(json!({ "name": "old-score", "type": "slider", "state": "absent" }));
    }
    if !scores.is_empty() {
        p["scores"] = json!(scores);
    }

    let mut rules = Vec::new();
    for name in ["factuality", "sessions"] {
        if !s.chance(45) {
            continue;
        }
        let scorers = match s.pick(3) {
            0 => json!([{ "global": "Factuality" }]),
            1 => json!([{ "global": "Factuality" }, { "global": "ClosedQA" }]),
            _ => json!([{ "global": "Summary", "function_type": "scorer" }]),
        };
        let mut r = json!({ "name": name, "sampling_rate": ([0.05, 0.1, 0.5, 1.0])[s.pick(4)], "scorers": scorers });
        if s.chance(40) {
            r["filter"] = json!("metadata.env = 'prod'");
        }
        match s.pick(3) {
            0 => {
                if s.chance(30) {
                    r["apply_to_root_span"] = json!(true);
                }
                if s.chance(30) {
                    r["apply_to_span_names"] = json!(["llm-call"]);
                }
            }
            1 => r["scope"] = json!({ "type": "trace", "idle_seconds": 60 }),
            _ => {
                r["scope"] = json!({ "type": "group", "group_by": "metadata.session_id",
                    "placement": s.one(&["first", "each"]), "max_traces": 20 })
            }
        }
        if s.chance(20) {
            r["skip_logging"] = json!(true);
        }
        rules.push(r);
    }
    if !rules.is_empty() {
        p["online_scoring"] = json!(rules);
    }

    if s.chance(30) {
        let mut i = json!({ "name": "view", "url": "https://tools.acme.com/view" });
        if s.chance(50) {
            i["post_message"] = json!(true);
        }
        p["span_iframes"] = json!([i]);
    }

    let mut alerts = Vec::new();
    if s.chance(40) {
        let notify = if s.chance(50) {
            json!({ "webhook": "https://hooks.acme.com/x" })
        } else {
            json!({ "slack": { "workspace_id": "T0123ACME", "channel": "#alerts" } })
        };
        alerts.push(json!({ "name": "errors", "filter": "error IS NOT NULL",
            "interval": s.one(&["10m", "1h"]), "notify": notify }));
    }
    if s.chance(20) {
        alerts.push(
            json!({ "name": "old-alert", "filter": "error IS NOT NULL", "interval": "10m",
            "notify": { "webhook": "https://hooks.acme.com/x" }, "state": "absent" }),
        );
    }
    if !alerts.is_empty() {
        p["alerts"] = json!(alerts);
    }

    let mut retention = Vec::new();
    for object_type in ["project_logs", "experiment", "dataset"] {
        if s.chance(30) {
            retention
                .push(json!({ "object_type": object_type, "days": ([30, 90, 365])[s.pick(3)] }));
        }
    }
    if !retention.is_empty() {
        p["retention"] = json!(retention);
    }

    if s.chance(35) {
        let mut e = json!({ "name": "nightly", "path": s.one(&["s3://acme/old", "s3://acme/new"]),
            "format": s.one(&["jsonl", "parquet"]), "interval": s.one(&["1h", "1d"]) });
        match s.pick(3) {
            0 => e["data"] = json!("log_spans"),
            1 => e["data"] = json!("log_traces"),
            _ => {
                e["data"] = json!("btql_query");
                e["query"] = json!("select: * | from: project_logs('x')");
            }
        }
        e["credentials"] = if s.chance(30) {
            e["path"] = json!("gs://acme/exports");
            json!({ "gcp_service_account": "exporter@acme.iam.gserviceaccount.com" })
        } else if s.chance(50) {
            json!({ "aws_role_arn": "arn:aws:iam::1:role/x", "external_id": "e" })
        } else {
            json!({ "aws_role_arn": "arn:aws:iam::1:role/x" })
        };
        if s.chance(30) {
            e["status"] = json!(s.one(&["active", "paused"]));
        }
        p["exports"] = json!([e]);
    }

    let mut grants = BTreeMap::new();
    for _ in 0..s.pick(3) {
        let (subject_key, subject) = grant_subject(s, members, groups, accounts);
        let mut g = json!({ subject_key: subject });
        for (k, v) in grant_privilege(s, roles) {
            g[k] = v;
        }
        if !org_grants.contains(&(project, g.to_string())) {
            grants.insert(g.to_string(), g);
        }
    }
    if !grants.is_empty() {
        p["grants"] = json!(grants.into_values().collect::<Vec<_>>());
    }

    let mut vars = Vec::new();
    if s.chance(40) {
        vars.push(json!({ "name": "API_URL", "value": { "env": "ENV_API_URL" } }));
    }
    if s.chance(20) {
        vars.push(json!({ "name": "OLD_PVAR", "state": "absent" }));
    }
    if !vars.is_empty() {
        p["env_vars"] = json!(vars);
    }
    p
}

/// What is drawn from the far end of the bytes for a project document `p` (added after the
/// rest; see `world`): objects that live ones differ from (`live_project_children`),
/// tombstones, and the data-drawn kinds.
fn project_extras(x: &mut Src<'_>, p: &mut Value) {
    if x.chance(40) {
        let url = x.one(&["https://hooks.acme.com/old", "https://hooks.acme.com/new"]);
        push_entry(
            p,
            "alerts",
            json!({ "name": "pager", "filter": "error IS NOT NULL", "interval": "1h",
                "notify": { "webhook": url } }),
        );
    }
    if x.chance(40) {
        let path = x.one(&["s3://acme/weekly", "s3://acme/weekly-2"]);
        push_entry(
            p,
            "exports",
            json!({ "name": "weekly", "data": "log_traces", "path": path, "format": "jsonl",
                "interval": "1d", "credentials": { "aws_role_arn": "arn:aws:iam::1:role/x" } }),
        );
    }
    if x.chance(70) {
        let url = x.one(&["https://old.acme.com/docs", "https://tools.acme.com/docs"]);
        push_entry(p, "span_iframes", json!({ "name": "docs", "url": url }));
    }
    for (key, name) in [
        ("exports", "old-export"),
        ("span_iframes", "old-view"),
        ("online_scoring", "old-rule"),
    ] {
        if x.chance(25) {
            push_entry(p, key, json!({ "name": name, "state": "absent" }));
        }
    }
    if x.chance(30)
        && let Some(object_type) = ["dataset", "experiment", "project_logs"]
            .into_iter()
            .find(|t| {
                !p["retention"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|r| r["object_type"] == *t)
            })
    {
        push_entry(
            p,
            "retention",
            json!({ "object_type": object_type, "state": "absent" }),
        );
    }
    data_entries(x, Scope::Project, p);
}

/// Adds `entry` to the list `key` of a manifest document.
fn push_entry(doc: &mut Value, key: &str, entry: Value) {
    match doc[key].as_array_mut() {
        Some(list) => list.push(entry),
        None => doc[key] = json!([entry]),
    }
}

// ---------------------------------------------------------------------------------------------
// Kinds drawn from data
// ---------------------------------------------------------------------------------------------

/// The kinds the generator above writes out by hand, with the references between them (grants
/// name groups, roles, service accounts and projects; composite scores name scores...). Every
/// other kind of [`Kind::ALL`] is drawn from its data file, `tests/data/convergence/<kind>.yaml`
/// (see [`KindData`]); a kind with neither fails `the_generator_covers_every_kind`.
const HAND_WRITTEN: &[Kind] = &[
    Kind::Org,
    Kind::Member,
    Kind::ServiceAccount,
    Kind::ServiceToken,
    Kind::Group,
    Kind::Role,
    Kind::Environment,
    Kind::AiSecret,
    Kind::Project,
    Kind::EnvVar,
    Kind::Tag,
    Kind::Score,
    Kind::OnlineScoring,
    Kind::SpanIframe,
    Kind::Alert,
    Kind::Retention,
    Kind::Export,
    Kind::Grant,
];

/// Where a data-drawn kind's manifest entries go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
enum Scope {
    /// The org document.
    Org,
    /// Every declared project's document (and live objects in every live project).
    Project,
}

/// One kind's convergence data: `tests/data/convergence/<kind>.yaml` (`mcp_server.yaml` says
/// what each key means).
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct KindData {
    scope: Scope,
    /// The manifest list the entries go in; also the collection `authoritative:` names.
    key: String,
    /// Entries the manifests may declare.
    declared: Vec<Value>,
    /// Entries the manifests may tombstone (`state: absent` is added).
    #[serde(default)]
    tombstones: Vec<Value>,
    /// The emulator collection the live objects are seeded in.
    seed_kind: String,
    /// Bodies of live objects: changed versions of declared ones, and live-only ones. In a
    /// project, the strings `$project_name` and `$project_id` stand for the live project's.
    live: Vec<Value>,
}

/// The data-drawn kinds, and what is wrong with the data (reported by
/// `the_generator_covers_every_kind`; worlds are drawn from what loaded).
struct Data {
    kinds: Vec<(Kind, KindData)>,
    problems: Vec<String>,
}

static DATA: std::sync::LazyLock<Data> = std::sync::LazyLock::new(load_data);

fn load_data() -> Data {
    let dir = crate::support::root().join("tests/data/convergence");
    let mut kinds = Vec::new();
    let mut problems = Vec::new();
    for &kind in Kind::ALL {
        let path = format!("tests/data/convergence/{kind}.yaml");
        let text = fs_err::read_to_string(dir.join(format!("{kind}.yaml"))).ok();
        let hand = HAND_WRITTEN.contains(&kind);
        let text = match (text, hand) {
            (Some(_), true) => {
                problems.push(format!(
                    "{kind}: both written by hand and drawn from {}; keep one",
                    path
                ));
                continue;
            }
            (None, true) => continue,
            (None, false) => {
                problems.push(format!(
                    "{kind}: the property suite cannot generate this kind: add {} (declared \
                     entries, tombstones, live bodies; see tests/data/convergence/mcp_server.yaml \
                     and ARCHITECTURE.md, \"Adding a kind\")",
                    path
                ));
                continue;
            }
            (Some(text), false) => text,
        };
        match serde_saphyr::from_str::<KindData>(&text) {
            Ok(data) => {
                if let Err(e) = check_data(kind, &data) {
                    problems.push(format!("{kind}: {}: {e}", path));
                } else {
                    kinds.push((kind, data));
                }
            }
            Err(e) => problems.push(format!("{kind}: {}: {e}", path)),
        }
    }
    for entry in fs_err::read_dir(&dir).into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name
            .strip_suffix(".yaml")
            .is_none_or(|stem| Kind::parse(stem).is_none())
        {
            problems.push(format!("tests/data/convergence/{name} names no kind"));
        }
    }
    Data { kinds, problems }
}

/// The data fits the registry (`key` is the collection `authoritative:` names for the kind),
/// has something to declare and something live, and tombstones no declared name.
fn check_data(kind: Kind, data: &KindData) -> Result<(), String> {
    let collection_matches = match data.scope {
        Scope::Org => {
            serde_json::from_value::<bt_gitops::manifest::raw::OrgCollection>(json!(data.key))
                .is_ok_and(|c| kind.org_collection() == Some(c))
        }
        Scope::Project => {
            serde_json::from_value::<bt_gitops::manifest::raw::ProjectCollection>(json!(data.key))
                .is_ok_and(|c| kind.project_collection() == Some(c))
        }
    };
    if !collection_matches {
        return Err(format!(
            "`key: {}` is not the kind's {:?} collection in the registry",
            data.key, data.scope
        ));
    }
    if data.declared.is_empty() || data.live.is_empty() {
        return Err("`declared` and `live` need an entry each".into());
    }
    let declared: Vec<&Value> = data.declared.iter().map(|e| &e["name"]).collect();
    if let Some(e) = data
        .tombstones
        .iter()
        .find(|e| declared.contains(&&e["name"]))
    {
        return Err(format!("{} is both declared and tombstoned", e["name"]));
    }
    Ok(())
}

/// Live objects of the data-drawn kinds of `scope`, each about 40 % of the time; `project` is
/// the live project they go in (its name and id).
fn data_seed(
    x: &mut Src<'_>,
    scope: Scope,
    project: Option<(&str, &str)>,
    objects: &mut Vec<Value>,
) {
    for (_, data) in DATA.kinds.iter().filter(|(_, d)| d.scope == scope) {
        for body in &data.live {
            if x.chance(40) {
                let mut body = body.clone();
                if let Some((name, id)) = project {
                    fill(&mut body, &[("$project_name", name), ("$project_id", id)]);
                }
                objects.push(json!({ "kind": data.seed_kind, "body": body }));
            }
        }
    }
}

/// Replaces every string of `value` that is a placeholder of `with` by its value.
fn fill(value: &mut Value, with: &[(&str, &str)]) {
    match value {
        Value::String(s) => {
            if let Some((_, v)) = with.iter().find(|(p, _)| p == s) {
                *s = (*v).to_owned();
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| fill(v, with)),
        Value::Object(map) => map.values_mut().for_each(|v| fill(v, with)),
        _ => {}
    }
}

/// The manifest entries of the data-drawn kinds of `scope` in `doc`: declared ones about half
/// the time, tombstones about a third; the collection is authoritative about a third of the
/// time.
fn data_entries(x: &mut Src<'_>, scope: Scope, doc: &mut Value) {
    for (_, data) in DATA.kinds.iter().filter(|(_, d)| d.scope == scope) {
        let mut entries = x.subset(&data.declared, 50);
        for mut tombstone in x.subset(&data.tombstones, 30) {
            tombstone["state"] = json!("absent");
            entries.push(tombstone);
        }
        if !entries.is_empty() {
            doc[&data.key] = json!(entries);
        }
        if x.chance(30) {
            push_entry(doc, "authoritative", json!(data.key));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Running plan and apply
// ---------------------------------------------------------------------------------------------

fn analyze(text: &str) -> Analysis {
    let mut sources = SourceMap::new();
    sources.add("generated.yaml", text);
    pipeline::analyze(&sources)
}

fn target(emu: &EmuHandle) -> OrgTarget {
    crate::support::acme_target(emu, KEY)
}

async fn plan(
    analysis: &Analysis,
    emu: &EmuHandle,
    values: &BTreeMap<ResourceKey, SecretValue>,
) -> PlanOutcome {
    let digests: SecretDigests = values
        .iter()
        .map(|(k, v)| (k.clone(), Ok(v.digest.clone())))
        .collect();
    reconcile::plan(PlanInput {
        desired: &analysis.state,
        graph: &analysis.graph,
        targets: vec![target(emu)],
        secrets: digests,
        concurrency: 4,
    })
    .await
    .expect("plan succeeds")
}

/// The plan of [`reconcile::analyze_and_plan`]: the reads start while the manifests are
/// analysed (documents parsed on 3 threads).
async fn overlapped_plan(
    text: &str,
    emu: &EmuHandle,
    values: &BTreeMap<ResourceKey, SecretValue>,
) -> Plan {
    let digests: SecretDigests = values
        .iter()
        .map(|(k, v)| (k.clone(), Ok(v.digest.clone())))
        .collect();
    let text = text.to_owned();
    let (_, outcome) = reconcile::analyze_and_plan(
        vec![target(emu)],
        4,
        move || {
            let mut sources = SourceMap::new();
            sources.add("generated.yaml", text);
            pipeline::analyze_with(&sources, 3)
        },
        move |_| digests,
    )
    .await;
    outcome
        .expect("valid manifests are planned")
        .expect("plan succeeds")
        .plan
}

async fn execute(
    analysis: &Analysis,
    emu: &EmuHandle,
    outcome: &PlanOutcome,
    values: &BTreeMap<ResourceKey, SecretValue>,
    retry: Option<RetryPolicy>,
    concurrency: usize,
) -> ApplyReport {
    let t = target(emu);
    let mut config = ClientConfig::new(&t.base_url, &t.api_key);
    if let Some(retry) = retry {
        config = config.with_retry(retry);
    }
    let clients = [(t.org.clone(), Client::new(config).expect("client"))]
        .into_iter()
        .collect();
    apply::execute(ApplyInput {
        plan: &outcome.plan,
        desired: &analysis.state,
        live: &outcome.live,
        clients,
        secrets: values.clone(),
        concurrency,
        root: std::env::temp_dir(),
        observer: None,
    })
    .await
}

/// The emulator of a generated world: deterministic, and letting the tool's key (a user's)
/// create service tokens, which the real API allows only to an org owner's service token (K3):
/// the suite is about converging, and the apply guard that refuses such plans up front is the
/// CLI's (`apply::guard`, tested in `src/apply/tests.rs`).
fn emulator_config(seed: SeedDoc) -> EmulatorConfig {
    EmulatorConfig::default()
        .with_seed(seed)
        .with_deterministic(true)
        .with_profile(Profile::real().with_user_keys_creating_service_tokens(true))
}

fn addresses(plan: &Plan) -> Vec<String> {
    plan.changes
        .iter()
        .map(|c| format!("{} {}", c.action.symbol(), c.address))
        .collect()
}

fn key_of(c: &bt_gitops::plan::Change) -> ResourceKey {
    ResourceKey {
        org: OrgName::new(&c.org).expect("org"),
        project: c
            .project
            .as_ref()
            .map(|p| bt_gitops::model::ProjectName::new(p).expect("project")),
        kind: Kind::parse(&c.kind).expect("kind"),
        name: c.name.clone(),
    }
}

/// Whether a delete of this object must be refused.
fn expected_protected(analysis: &Analysis, key: &ResourceKey) -> bool {
    match analysis.state.resources.get(key) {
        Some(r) => r.protect,
        None => key.kind.protected_by_default(),
    }
}

/// (e): writes after the creates they depend on; deletes after every write; a child of a
/// project created in the same plan depends on it.
fn check_order(analysis: &Analysis, plan: &Plan) -> Result<(), String> {
    let mut seen = BTreeSet::new();
    let mut in_deletes = false;
    let creates: BTreeSet<&str> = plan
        .changes
        .iter()
        .filter(|c| c.action == Action::Create)
        .map(|c| c.address.as_str())
        .collect();
    for c in &plan.changes {
        if c.action == Action::Delete {
            in_deletes = true;
        } else {
            if in_deletes {
                return Err(format!("{} comes after a delete", c.address));
            }
            for d in &c.depends_on {
                if !seen.contains(d.as_str()) {
                    return Err(format!(
                        "{} comes before {d}, which it depends on",
                        c.address
                    ));
                }
            }
            if c.action == Action::Create
                && let Some(parent) = key_of(c).parent_project()
                && creates.contains(parent.to_string().as_str())
                && !c.depends_on.contains(&parent.to_string())
            {
                return Err(format!("{} does not depend on its new project", c.address));
            }
            // Every reference the manifests make to an object this plan creates is a dependency.
            if let Some(r) = analysis.state.resources.get(&key_of(c)) {
                for dep in &r.depends_on {
                    let target = dep.target.to_string();
                    if creates.contains(target.as_str()) && !c.depends_on.contains(&target) {
                        return Err(format!(
                            "{} references {target}, created in the same plan, without depending on it",
                            c.address
                        ));
                    }
                }
            }
        }
        seen.insert(c.address.as_str());
    }
    // Deletes go dependants first: a project's children before the project.
    let position: BTreeMap<&str, usize> = plan
        .changes
        .iter()
        .enumerate()
        .filter(|(_, c)| c.action == Action::Delete)
        .map(|(i, c)| (c.address.as_str(), i))
        .collect();
    for (i, c) in plan.changes.iter().enumerate() {
        if c.action == Action::Delete
            && let Some(parent) = key_of(c).parent_project()
            && let Some(p) = position.get(parent.to_string().as_str())
            && *p < i
        {
            return Err(format!("{} is deleted after its project", c.address));
        }
    }
    Ok(())
}

/// (c), planning half: every planned delete is a tombstone, a token of a tombstoned service
/// account, or in an authoritative collection of a declared scope; (d), planning half:
/// protection as the manifests say.
fn check_deletes_planned(analysis: &Analysis, plan: &Plan) -> Result<(), String> {
    let owned = |key: &ResourceKey| {
        analysis
            .state
            .resources
            .get(key)
            .is_some_and(|r| r.presence == Presence::Absent)
            || diff::is_authoritative(&analysis.state, key)
            // The tokens of a removed service account go with it.
            || key.kind == Kind::ServiceToken
                && key.name.split_once('/').is_some_and(|(account, _)| {
                    analysis
                        .state
                        .resources
                        .get(&ResourceKey::in_org(&key.org, Kind::ServiceAccount, account))
                        .is_some_and(|r| r.presence == Presence::Absent)
                })
    };
    for c in &plan.changes {
        let key = key_of(c);
        // A replace across kinds (one API collection) deletes the live object of the other kind.
        if c.action == Action::Replace
            && let Some(kind) = c
                .fields
                .iter()
                .find(|f| f.field == "kind")
                .and_then(|f| f.before.as_ref()?.as_str())
        {
            let old = ResourceKey {
                kind: Kind::parse(kind).expect("kind"),
                ..key.clone()
            };
            if !owned(&old) {
                return Err(format!("{} replaces the unmanaged {old}", c.address));
            }
        }
        if c.action != Action::Delete {
            continue;
        }
        if !owned(&key) {
            return Err(format!("{} is deleted but not managed", c.address));
        }
        if c.protected != expected_protected(analysis, &key) {
            return Err(format!(
                "{}: protected is {}, expected the opposite",
                c.address, c.protected
            ));
        }
    }
    Ok(())
}

/// Live ids in the emulator (deleted records excluded), and org memberships as `member:<id>`.
fn live_ids(emu: &EmuHandle) -> BTreeMap<String, (bt_gitops::emulator::Collection, Value)> {
    let snapshot = emu.snapshot();
    let mut out = BTreeMap::new();
    for (kind, records) in &snapshot.records {
        for r in records.iter().filter(|r| !r.deleted) {
            if matches!(
                kind,
                bt_gitops::emulator::Collection::User
                    | bt_gitops::emulator::Collection::Organization
                    | bt_gitops::emulator::Collection::ApiKey
            ) {
                continue;
            }
            out.insert(r.id().to_owned(), (*kind, Value::Object(r.object.clone())));
        }
    }
    for (org, user) in &snapshot.members {
        out.insert(
            format!("member:{user}"),
            (bt_gitops::emulator::Collection::User, json!({ "org": org })),
        );
    }
    out
}

/// (c), execution half: every object that disappeared was a planned delete or replace, or
/// went with a deleted parent (a project's children, the ACLs of a group or role).
fn check_disappeared(
    before: &BTreeMap<String, (bt_gitops::emulator::Collection, Value)>,
    after: &BTreeMap<String, (bt_gitops::emulator::Collection, Value)>,
    plan: &Plan,
) -> Result<(), String> {
    let planned: BTreeSet<String> = plan
        .changes
        .iter()
        .filter(|c| matches!(c.action, Action::Delete | Action::Replace))
        .filter_map(|c| {
            let id = c.id.clone()?;
            Some(if c.kind == "member" || c.kind == "service_account" {
                format!("member:{id}")
            } else {
                id
            })
        })
        .collect();
    let gone: BTreeSet<&String> = before
        .keys()
        .filter(|id| !after.contains_key(*id))
        .collect();
    for id in &gone {
        if planned.contains(*id) {
            continue;
        }
        let (_, object) = &before[*id];
        let parent_gone = ["project_id", "object_id", "group_id", "role_id"]
            .iter()
            .filter_map(|f| object.get(*f).and_then(Value::as_str))
            .any(|p| planned.contains(p));
        if !parent_gone {
            return Err(format!(
                "{id} disappeared without a planned delete: {object}"
            ));
        }
    }
    Ok(())
}

/// A plan and apply while one list fails: nothing is planned in the kinds that list reads, what
/// is planned applies (save refused protected deletes), the report accounts for every change,
/// and nothing unplanned is deleted.
async fn partial_apply(
    analysis: &Analysis,
    emu: &EmuHandle,
    values: &BTreeMap<ResourceKey, SecretValue>,
    concurrency: usize,
    path: &str,
    kinds: &[Kind],
) -> Result<(), String> {
    emu.set_faults(vec![
        FaultRule::new(FaultAction::Status { status: 403 })
            .with_method("GET")
            .with_path(path),
    ]);
    // Views are listed per live project: a project the plan creates has none to read, so its
    // views are planned whatever the view list answers.
    let live_projects: BTreeSet<String> = emu
        .snapshot()
        .records
        .get(&bt_gitops::emulator::Collection::Project)
        .into_iter()
        .flatten()
        .filter(|r| !r.deleted)
        .filter_map(|r| {
            r.object
                .get("name")
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .collect();
    let partial = plan(analysis, emu, values).await;
    emu.clear_faults();
    if let Some(c) = partial.plan.changes.iter().find(|c| {
        let key = key_of(c);
        kinds.contains(&key.kind)
            && !(key.kind == Kind::View
                && key
                    .project
                    .as_ref()
                    .is_some_and(|p| !live_projects.contains(p.as_str())))
    }) {
        return Err(format!("{} is planned although {path} failed", c.address));
    }
    check_order(analysis, &partial.plan)?;
    check_deletes_planned(analysis, &partial.plan)?;
    let before = live_ids(emu);
    let report = execute(analysis, emu, &partial, values, None, concurrency).await;
    if report.total() != partial.plan.changes.len() {
        return Err(format!(
            "partial apply: report total {} != plan {}",
            report.total(),
            partial.plan.changes.len()
        ));
    }
    // What was planned could be resolved: only protected deletes fail (refused).
    if let Some((address, error)) = report.failed.iter().find(|(a, e)| {
        !e.contains("refused")
            || !partial
                .plan
                .changes
                .iter()
                .any(|c| c.protected && c.address == *a)
    }) {
        return Err(format!("with {path} failing, {address} failed: {error}"));
    }
    check_disappeared(&before, &live_ids(emu), &partial.plan)
        .map_err(|e| format!("with {path} failing: {e}"))
}

/// One whole case: plan, apply, re-plan, apply again; every property checked.
async fn converge(world: &World) -> Result<(), String> {
    let analysis = analyze(&world.manifests);
    if analysis.has_errors() {
        return Err(format!(
            "the generator made invalid manifests: {:#?}",
            analysis.diagnostics
        ));
    }
    let seed: SeedDoc = serde_json::from_value(world.seed.clone()).map_err(|e| e.to_string())?;
    let emu = spawn(emulator_config(seed))
        .await
        .map_err(|e| format!("the generator made an invalid seed: {e}"))?;
    let values = crate::support::secret_values(&analysis);

    if let Some((path, kinds)) = &world.failing_list {
        partial_apply(&analysis, &emu, &values, world.concurrency, path, kinds).await?;
    }

    let first = plan(&analysis, &emu, &values).await;
    // Reads started before the analysis (as `plan` overlaps them) make the same plan.
    let overlapped = overlapped_plan(&world.manifests, &emu, &values).await;
    if overlapped != first.plan {
        return Err(format!(
            "the overlapped plan differs: {:#?}\nfrom: {:#?}",
            addresses(&overlapped),
            addresses(&first.plan)
        ));
    }
    check_order(&analysis, &first.plan)?;
    check_deletes_planned(&analysis, &first.plan)?;
    let before = live_ids(&emu);
    let report = execute(&analysis, &emu, &first, &values, None, world.concurrency).await;
    let after = live_ids(&emu);
    if report.total() != first.plan.changes.len() {
        return Err(format!(
            "report total {} != plan {}",
            report.total(),
            first.plan.changes.len()
        ));
    }
    if !report.skipped.is_empty() {
        return Err(format!("skipped: {:#?}", report.skipped));
    }
    let protected: BTreeSet<&str> = first
        .plan
        .changes
        .iter()
        .filter(|c| c.protected)
        .map(|c| c.address.as_str())
        .collect();
    for (address, error) in &report.failed {
        if !protected.contains(address.as_str()) || !error.contains("refused") {
            return Err(format!(
                "{address} failed: {error}\nplan: {:#?}",
                addresses(&first.plan)
            ));
        }
    }
    // (d): no protected delete ran, and the protected objects are all still there.
    for a in &report.succeeded {
        if protected.contains(a.address.as_str()) {
            return Err(format!("protected {} was deleted", a.address));
        }
    }
    for c in first.plan.changes.iter().filter(|c| c.protected) {
        if let Some(id) = &c.id
            && !after.contains_key(id)
        {
            return Err(format!("protected {} is gone", c.address));
        }
    }
    check_disappeared(&before, &after, &first.plan)?;

    // (a): only the refused deletes are left.
    let second = plan(&analysis, &emu, &values).await;
    let left: Vec<String> = second
        .plan
        .changes
        .iter()
        .filter(|c| !(c.action == Action::Delete && protected.contains(c.address.as_str())))
        .map(|c| format!("{} {} {:?}", c.action.symbol(), c.address, c.fields))
        .collect();
    if !left.is_empty() {
        return Err(format!(
            "not converged after one apply: {left:#?}\nfirst plan: {:#?}",
            addresses(&first.plan)
        ));
    }
    // (b): the second apply writes nothing.
    emu.clear_requests();
    let again = execute(&analysis, &emu, &second, &values, None, world.concurrency).await;
    if emu.write_count() != 0 {
        let writes: Vec<String> = emu
            .requests()
            .iter()
            .filter(|r| r.is_write())
            .map(|r| format!("{} {}", r.method, r.path))
            .collect();
        return Err(format!("the second apply wrote: {writes:?}"));
    }
    if !again.succeeded.is_empty() {
        return Err(format!(
            "the second apply did something: {:?}",
            again.succeeded
        ));
    }
    emu.shutdown().await;
    Ok(())
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 64,
        failure_persistence: None,
        max_shrink_iters: 200,
        .. ProptestConfig::default()
    })]

    /// Properties (a) to (e) over generated desired and live states.
    #[test]
    fn apply_converges_and_deletes_only_what_is_managed(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        let world = world(&bytes);
        let result = runtime().block_on(converge(&world));
        prop_assert!(result.is_ok(), "{}\nmanifests:\n{}\nseed:\n{}", result.unwrap_err(), world.manifests, world.seed);
    }
}

/// What a generated world does with objects of a kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Aspect {
    /// The manifests declare one.
    Declared,
    /// One is live and the manifests do not mention it.
    LiveOnly,
    /// One is live and declared otherwise: the plan updates or replaces it.
    Changed,
    /// The manifests tombstone one (`state: absent`).
    Tombstoned,
}

impl Aspect {
    const ALL: [Aspect; 4] = [
        Aspect::Declared,
        Aspect::LiveOnly,
        Aspect::Changed,
        Aspect::Tombstoned,
    ];
}

/// What a kind cannot be, and why: every other (kind, aspect) must occur in the generated
/// worlds. A new kind gets no entry here unless it truly cannot be changed or tombstoned.
const CANNOT: &[(Kind, Aspect, &str)] = &[
    (Kind::Org, Aspect::LiveOnly, "the org is always declared"),
    (Kind::Org, Aspect::Tombstoned, "an org has no `state`"),
    (
        Kind::Member,
        Aspect::Changed,
        "a member has no managed fields",
    ),
    (
        Kind::Member,
        Aspect::Tombstoned,
        "`members` is a list of emails",
    ),
    (Kind::ServiceAccount, Aspect::Changed, "no managed fields"),
    (Kind::ServiceToken, Aspect::Changed, "no managed fields"),
    (Kind::Grant, Aspect::Changed, "a grant is all identity"),
];

/// Worlds the coverage test draws.
const COVERAGE_WORLDS: u64 = 24;

/// The generator covers the registry: every kind of [`Kind::ALL`] is written by hand or drawn
/// from its data file, and across a few fixed worlds each is declared, live only, changed and
/// tombstoned (save what [`CANNOT`] lists). A kind added to the registry without generator
/// support fails here, by name.
#[test]
fn the_generator_covers_every_kind() {
    let mut problems = DATA.problems.clone();
    let mut seen: BTreeSet<(Kind, Aspect)> = BTreeSet::new();
    let rt = runtime();
    for n in 1..=COVERAGE_WORLDS {
        let world = fixed_world(1000 + n);
        let analysis = analyze(&world.manifests);
        if analysis.has_errors() {
            problems.push(format!(
                "world {n}: the generator made invalid manifests: {:#?}\n{}",
                analysis.diagnostics, world.manifests
            ));
            continue;
        }
        for r in analysis.state.resources.values() {
            let aspect = match r.presence {
                Presence::Absent => Aspect::Tombstoned,
                _ => Aspect::Declared,
            };
            seen.insert((r.key.kind, aspect));
        }
        let outcome = rt.block_on(async {
            let seed: SeedDoc = serde_json::from_value(world.seed.clone()).expect("valid seed");
            let emu = spawn(emulator_config(seed)).await.expect("emulator");
            let values = crate::support::secret_values(&analysis);
            let outcome = plan(&analysis, &emu, &values).await;
            emu.shutdown().await;
            outcome
        });
        for key in outcome.live.objects.keys() {
            if !analysis.state.resources.contains_key(key) {
                seen.insert((key.kind, Aspect::LiveOnly));
            }
        }
        for c in &outcome.plan.changes {
            if matches!(c.action, Action::Update | Action::Replace) {
                seen.insert((key_of(c).kind, Aspect::Changed));
            }
        }
    }
    for &kind in Kind::ALL {
        for aspect in Aspect::ALL {
            let exempt = CANNOT.iter().any(|(k, a, _)| *k == kind && *a == aspect);
            if !exempt && !seen.contains(&(kind, aspect)) {
                let source = if HAND_WRITTEN.contains(&kind) {
                    "the hand-written generator in tests/it/convergence.rs".to_owned()
                } else {
                    format!("tests/data/convergence/{kind}.yaml")
                };
                problems.push(format!(
                    "{kind}: never {aspect:?} in {COVERAGE_WORLDS} generated worlds: see {source}"
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

// ---------------------------------------------------------------------------------------------
// The fault suite
// ---------------------------------------------------------------------------------------------

/// A fixed world: bytes from a seeded splitmix64, so the suite is the same on every run.
fn fixed_world(seed: u64) -> World {
    let mut state = seed;
    let bytes: Vec<u8> = (0..600)
        .map(|_| {
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            (z ^ (z >> 31)) as u8
        })
        .collect();
    world(&bytes)
}

/// About 10 % of all requests fail: 500s, 429s with `Retry-After` 0 or 1, dropped connections.
fn ten_percent_faults(seed: u64) -> Vec<FaultRule> {
    vec![
        FaultRule::new(FaultAction::Status { status: 500 }).with_fraction(0.04, seed),
        FaultRule::new(FaultAction::RateLimit {
            retry_after_secs: 0,
        })
        .with_fraction(0.025, seed + 1),
        FaultRule::new(FaultAction::RateLimit {
            retry_after_secs: 1,
        })
        .with_fraction(0.005, seed + 2),
        FaultRule::new(FaultAction::Drop).with_fraction(0.03, seed + 3),
    ]
}

/// Plans through faults (the same plan as without), applies under faults, checks the report's accounting and that nothing unplanned was
/// deleted, then re-runs with the faults off until the plan is empty. Returns how many changes
/// failed or were skipped under faults.
async fn apply_under_faults(world: &World, seed: u64, retry: RetryPolicy) -> Result<usize, String> {
    let analysis = analyze(&world.manifests);
    if analysis.has_errors() {
        return Err(format!("invalid manifests: {:#?}", analysis.diagnostics));
    }
    let seed_doc: SeedDoc =
        serde_json::from_value(world.seed.clone()).map_err(|e| e.to_string())?;
    let emu = spawn(emulator_config(seed_doc))
        .await
        .map_err(|e| e.to_string())?;
    let values = crate::support::secret_values(&analysis);
    let clean = plan(&analysis, &emu, &values).await;
    // The plan is read through the same faults (its reads retry), and comes out the same.
    emu.clear_requests();
    emu.set_faults(ten_percent_faults(seed + 100));
    let first = plan(&analysis, &emu, &values).await;
    emu.clear_faults();
    if addresses(&first.plan) != addresses(&clean.plan) || !first.live.incomplete.is_empty() {
        return Err(format!(
            "the plan read through faults differs: {:#?}\n{:#?}",
            addresses(&first.plan),
            first.live.incomplete
        ));
    }
    check_deletes_planned(&analysis, &first.plan)?;
    if first.plan.changes.len() < 10 {
        return Err(format!(
            "world {seed} is too small to test: {:?}",
            addresses(&first.plan)
        ));
    }
    let before = live_ids(&emu);
    emu.clear_requests();
    emu.set_faults(ten_percent_faults(seed));
    let report = execute(
        &analysis,
        &emu,
        &first,
        &values,
        Some(retry),
        world.concurrency,
    )
    .await;
    let injected = emu.requests().iter().filter(|r| r.fault.is_some()).count();
    emu.clear_faults();
    if injected == 0 {
        return Err("no fault fired; the test proves nothing".into());
    }
    let after = live_ids(&emu);

    // Every change is accounted for exactly once.
    if report.total() != first.plan.changes.len() {
        return Err(format!(
            "report total {} != plan {}",
            report.total(),
            first.plan.changes.len()
        ));
    }
    let mut reported: Vec<&str> = report
        .succeeded
        .iter()
        .map(|a| a.address.as_str())
        .chain(report.failed.iter().map(|(a, _)| a.as_str()))
        .chain(report.skipped.iter().map(|(a, _)| a.as_str()))
        .collect();
    reported.sort_unstable();
    let mut planned: Vec<&str> = first
        .plan
        .changes
        .iter()
        .map(|c| c.address.as_str())
        .collect();
    planned.sort_unstable();
    if reported != planned {
        return Err(format!("reported {reported:?}\nplanned {planned:?}"));
    }
    // A skipped change names a change that failed.
    let failed: BTreeSet<&str> = report.failed.iter().map(|(a, _)| a.as_str()).collect();
    for (address, because) in &report.skipped {
        if !failed.contains(because.as_str()) {
            return Err(format!(
                "{address} was skipped because of {because}, which did not fail"
            ));
        }
    }
    for c in first.plan.changes.iter().filter(|c| c.protected) {
        if report.succeeded.iter().any(|a| a.address == c.address) {
            return Err(format!("protected {} was deleted", c.address));
        }
    }
    check_disappeared(&before, &after, &first.plan)?;

    // Faults off: re-runs converge (one more apply; a second only if the first re-run itself
    // had work that depended on what failed).
    let protected: BTreeSet<&str> = first
        .plan
        .changes
        .iter()
        .filter(|c| c.protected)
        .map(|c| c.address.as_str())
        .collect();
    let mut rounds = 0;
    loop {
        let next = plan(&analysis, &emu, &values).await;
        check_deletes_planned(&analysis, &next.plan)?;
        let open: Vec<String> = next
            .plan
            .changes
            .iter()
            .filter(|c| !(c.action == Action::Delete && protected.contains(c.address.as_str())))
            .map(|c| format!("{} {}", c.action.symbol(), c.address))
            .collect();
        if open.is_empty() {
            break;
        }
        rounds += 1;
        if rounds > 1 {
            return Err(format!("no convergence after the re-run: {open:#?}"));
        }
        let before = live_ids(&emu);
        let again = execute(&analysis, &emu, &next, &values, None, world.concurrency).await;
        check_disappeared(&before, &live_ids(&emu), &next.plan)?;
        if again
            .failed
            .iter()
            .any(|(a, _)| !protected.contains(a.as_str()))
        {
            return Err(format!("the re-run failed: {:#?}", again.failed));
        }
    }
    emu.shutdown().await;
    Ok(report.failed.len() + report.skipped.len())
}

/// With retries (the client's policy, shorter delays), 10 % of failing requests change
/// nothing: every change is accounted for, nothing unplanned is deleted, a re-run converges.
#[test]
fn apply_through_ten_percent_faults_with_retries() {
    let rt = runtime();
    let retry = RetryPolicy {
        base: Duration::from_millis(20),
        ..RetryPolicy::default()
    };
    for seed in 1..=4 {
        let world = fixed_world(seed);
        if let Err(e) = rt.block_on(apply_under_faults(&world, seed, retry)) {
            panic!(
                "world {seed}: {e}\nmanifests:\n{}\nseed:\n{}",
                world.manifests, world.seed
            );
        }
    }
}

/// Without retries, faults turn into failed changes and skipped dependants: the report still
/// accounts for every change, a skipped change names its failed upstream, nothing unplanned is
/// deleted, and a re-run with the faults off converges.
#[test]
fn apply_through_ten_percent_faults_without_retries() {
    let rt = runtime();
    let retry = RetryPolicy {
        attempts: 1,
        ..RetryPolicy::default()
    };
    let mut broken = 0;
    for seed in 11..=16 {
        let world = fixed_world(seed);
        match rt.block_on(apply_under_faults(&world, seed, retry)) {
            Ok(n) => broken += n,
            Err(e) => panic!(
                "world {seed}: {e}\nmanifests:\n{}\nseed:\n{}",
                world.manifests, world.seed
            ),
        }
    }
    assert!(broken > 0, "no change failed: the suite tests nothing");
}

/// A list that fails while re-planning (after a first apply) holds back the deletes of its scope
/// in the second apply; unrelated deletes go ahead, and once the list reads again the delete is
/// planned and applied.
#[test]
fn failed_list_on_replan_holds_back_deletes_before_second_apply() {
    let manifests = r#"
org: acme
authoritative: [groups]
members: [alice@acme.com]
groups:
  - { name: ml, members: [alice@acme.com] }
---
project: chatbot
org: acme
authoritative: [tags]
tags:
  - { name: regression }
"#;
    let seed = json!({ "orgs": [{ "name": ORG, "id": ORG_ID,
        "users": [{ "email": USERS[0].0, "id": USERS[0].1, "owner": true, "api_keys": [{ "name": "bt-gitops", "key": KEY }] }],
        "objects": [
            { "kind": "group", "body": { "name": "legacy" } },
            { "kind": "project", "body": { "name": "chatbot" } }
        ] }] });
    runtime().block_on(async {
        let analysis = analyze(manifests);
        assert!(!analysis.has_errors(), "{:#?}", analysis.diagnostics);
        let emu = spawn(
            EmulatorConfig::default()
                .with_seed(serde_json::from_value(seed).expect("seed"))
                .with_deterministic(true),
        )
        .await
        .expect("emulator");
        let values = crate::support::secret_values(&analysis);
        let first = plan(&analysis, &emu, &values).await;
        assert!(
            addresses(&first.plan).contains(&"- group:acme/legacy".to_owned()),
            "{:#?}",
            addresses(&first.plan)
        );
        let report = execute(&analysis, &emu, &first, &values, None, 4).await;
        assert!(report.failed.is_empty(), "{:#?}", report.failed);
        assert!(plan(&analysis, &emu, &values).await.plan.is_empty());

        // Someone adds a group and a tag in the UI; then the group list fails while re-planning.
        let client = Client::new(ClientConfig::new(emu.url(), KEY)).expect("client");
        let _: Value = client
            .send(
                bt_gitops::api::client::Method::POST,
                "/v1/group",
                &json!({ "name": "intruder", "org_name": ORG }),
            )
            .await
            .expect("group created");
        let chatbot = first
            .live
            .objects
            .iter()
            .find(|(k, _)| k.kind == Kind::Project && k.name == "chatbot")
            .map(|(_, o)| o.id.clone())
            .expect("chatbot is live");
        let _: Value = client
            .send(
                bt_gitops::api::client::Method::POST,
                "/v1/project_tag",
                &json!({ "name": "stray", "project_id": chatbot }),
            )
            .await
            .expect("tag created");
        emu.set_faults(vec![
            FaultRule::new(FaultAction::Status { status: 503 })
                .with_method("GET")
                .with_path("/v1/group*"),
        ]);
        let second = plan(&analysis, &emu, &values).await;
        assert_eq!(
            addresses(&second.plan),
            vec!["- project:acme/chatbot/tag:stray".to_owned()],
            "only the unrelated delete is planned"
        );
        assert!(
            second
                .plan
                .incomplete
                .iter()
                .any(|n| n.contains("group") && n.contains("held back")),
            "{:?}",
            second.plan.incomplete
        );
        emu.clear_requests();
        let report = execute(&analysis, &emu, &second, &values, None, 4).await;
        assert!(report.failed.is_empty(), "{:#?}", report.failed);
        let group_deletes = emu
            .requests()
            .iter()
            .filter(|r| r.method == "DELETE" && r.path.starts_with("/v1/group"))
            .count();
        assert_eq!(
            group_deletes, 0,
            "a group was deleted while its list failed"
        );
        assert!(
            emu.snapshot().records[&bt_gitops::emulator::Collection::Group]
                .iter()
                .any(|r| !r.deleted && r.str_field("name") == "intruder"),
            "the unseen group is still there"
        );

        // The list reads again: the delete is planned, applied, and the plan is empty.
        emu.clear_faults();
        let third = plan(&analysis, &emu, &values).await;
        assert_eq!(
            addresses(&third.plan),
            vec!["- group:acme/intruder".to_owned()]
        );
        let report = execute(&analysis, &emu, &third, &values, None, 4).await;
        assert!(report.failed.is_empty(), "{:#?}", report.failed);
        assert!(plan(&analysis, &emu, &values).await.plan.is_empty());
        emu.shutdown().await;
    });
}

/// Two bugs the properties found, pinned: (1) a declared export whose name a live alert holds
/// (one API collection, names unique across kinds) was created over the alert in place, then
/// the alert's delete removed it: now one replace when the manifests own the alert, and no
/// create at all (with a plan note) when they do not, since it would destroy the unmanaged
/// object; (2) updating an export whose manifest leaves the AWS external id to Braintrust sent
/// a config without it, which the API rejects: the live one is kept.
#[test]
fn kind_change_in_one_collection_and_export_update_keep_converging() {
    let manifests = r#"
org: acme
members: [alice@acme.com]
---
project: chatbot
org: acme
authoritative: [alerts, scores, online_scoring]
exports:
  - name: nightly
    data: log_spans
    path: s3://acme/old
    format: jsonl
    interval: 1d
    credentials: { aws_role_arn: "arn:aws:iam::1:role/x" }
  - name: hourly
    data: log_spans
    path: s3://acme/hourly
    format: jsonl
    interval: 2h
    credentials: { aws_role_arn: "arn:aws:iam::1:role/x" }
  - name: archive
    data: log_traces
    path: s3://acme/archive
    format: jsonl
    interval: 1d
    credentials: { aws_role_arn: "arn:aws:iam::1:role/x" }
online_scoring:
  - { name: factuality, sampling_rate: 0.5, scorers: [{ global: Factuality }] }
"#;
    let export = |name: &str, path: &str| {
        json!({ "kind": "project_automation", "body": { "project_name": "chatbot", "name": name, "config": {
            "event_type": "btql_export", "export_definition": { "type": "log_spans" }, "export_path": path,
            "format": "jsonl", "interval_seconds": 3600,
            "credentials": { "type": "aws_iam", "role_arn": "arn:aws:iam::1:role/x", "external_id": "kept" } } } })
    };
    let seed = json!({ "orgs": [{ "name": ORG, "id": ORG_ID,
        "users": [{ "email": USERS[0].0, "id": USERS[0].1, "owner": true, "api_keys": [{ "name": "bt-gitops", "key": KEY }] }],
        "objects": [
            { "kind": "project", "body": { "name": "chatbot" } },
            { "kind": "project_automation", "body": { "project_name": "chatbot", "name": "nightly", "config": {
                "event_type": "logs", "btql_filter": "error IS NOT NULL", "interval_seconds": 600,
                "action": { "type": "webhook", "url": "https://hooks.acme.com/x" } } } },
            export("hourly", "s3://acme/hourly"),
            { "kind": "project_automation", "body": { "project_name": "chatbot", "name": "archive", "config": {
                "event_type": "retention", "object_type": "project_logs", "retention_days": 30 } } },
            { "kind": "project_score", "body": { "project_name": "chatbot", "name": "factuality", "score_type": "slider" } }
        ] }] });
    runtime().block_on(async {
        let analysis = analyze(manifests);
        assert!(!analysis.has_errors(), "{:#?}", analysis.diagnostics);
        let emu = spawn(
            EmulatorConfig::default()
                .with_seed(serde_json::from_value(seed).expect("seed"))
                .with_deterministic(true),
        )
        .await
        .expect("emulator");
        let values = crate::support::secret_values(&analysis);
        let first = plan(&analysis, &emu, &values).await;
        let mut changes = addresses(&first.plan);
        changes.sort();
        assert_eq!(
            changes,
            vec![
                "-/+ project:acme/chatbot/export:nightly",
                "-/+ project:acme/chatbot/online_scoring:factuality",
                "~ project:acme/chatbot/export:hourly",
            ]
        );
        // The unmanaged retention rule holding `archive` is left alone, and the plan says so:
        // holding back the declared export makes the plan incomplete.
        assert!(
            first
                .plan
                .incomplete
                .iter()
                .any(|n| n.contains("export:archive")
                    && n.contains("retention:archive")
                    && n.contains("not created")),
            "{:?}",
            first.plan.incomplete
        );
        let report = execute(&analysis, &emu, &first, &values, None, 4).await;
        assert!(report.failed.is_empty(), "{:#?}", report.failed);
        let second = plan(&analysis, &emu, &values).await;
        assert!(second.plan.is_empty(), "{:#?}", addresses(&second.plan));
        assert!(
            second
                .plan
                .incomplete
                .iter()
                .any(|n| n.contains("export:archive")),
            "the held-back export keeps the plan incomplete: {:?}",
            second.plan.incomplete
        );
        let archive = emu.snapshot().records[&bt_gitops::emulator::Collection::ProjectAutomation]
            .iter()
            .find(|r| !r.deleted && r.str_field("name") == "archive")
            .map(|r| r.object["config"]["event_type"].clone());
        assert_eq!(archive, Some(json!("retention")));
        let hourly = emu.snapshot().records[&bt_gitops::emulator::Collection::ProjectAutomation]
            .iter()
            .find(|r| !r.deleted && r.str_field("name") == "hourly")
            .map(|r| r.object["config"]["credentials"]["external_id"].clone());
        assert_eq!(hourly, Some(json!("kept")));
        emu.shutdown().await;
    });
}
