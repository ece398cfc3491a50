//! `bt-gitops import` round trip: import a rich live org, then `plan` reports no changes.

use crate::support::{run_with_env, runtime};

const KEY: &str = "sk-import-test-000000000000001";

fn rich_seed() -> bt_gitops::emulator::SeedDoc {
    let id = |n: u32| format!("c0000000-0000-4000-8000-{n:012x}");
    let mut doc = serde_json::json!({ "orgs": [{
        "name": "acme", "id": id(1),
        "users": [
            { "email": "alice@acme.com", "id": id(10), "owner": true, "api_keys": [{ "name": "import", "key": KEY }] },
            { "email": "bob@acme.com", "id": id(11) }
        ],
        "service_accounts": [{ "name": "ci-bot", "id": id(20), "tokens": [{ "name": "github" }] }],
        "objects": [
            { "kind": "group", "id": id(30), "body": { "name": "ml", "description": "Model builders", "member_users": [id(11), id(20)] } },
            { "kind": "group", "id": id(31), "body": { "name": "leads", "member_users": [id(10)], "member_groups": [id(30)] } },
            { "kind": "role", "id": id(40), "body": { "name": "editor", "member_permissions": [{ "permission": "read" }, { "permission": "create", "restrict_object_type": "experiment" }] } },
            { "kind": "role", "id": id(41), "body": { "name": "admin", "member_permissions": [{ "permission": "delete" }], "member_roles": [id(40)] } },
            { "kind": "project", "id": id(50), "body": { "name": "chat bot", "description": "Production: chat" } },
            { "kind": "project_tag", "body": { "project_name": "chat bot", "name": "yes", "color": "#aabbcc", "description": "needs: quoting" } },
            { "kind": "project_score", "body": { "project_name": "chat bot", "name": "helpful", "score_type": "slider" } },
            { "kind": "project_score", "body": { "project_name": "chat bot", "name": "notes", "score_type": "free-form" } },
            { "kind": "project_score", "body": { "project_name": "chat bot", "name": "tone", "score_type": "categorical",
                "categories": [{ "name": "good", "value": 1 }, { "name": "bad", "value": 0 }], "config": { "multi_select": true } } },
            { "kind": "project_score", "body": { "project_name": "chat bot", "name": "overall", "score_type": "weighted", "categories": { "helpful": 0.5, "tone": 0.5 } } },
            { "kind": "project_score", "body": { "project_name": "chat bot", "name": "worst", "score_type": "minimum", "categories": ["helpful", "tone"] } },
            { "kind": "project_score", "body": { "project_name": "chat bot", "name": "best", "score_type": "maximum", "categories": ["helpful", "tone"] } },
            { "kind": "project_score", "body": { "project_name": "chat bot", "name": "facts", "score_type": "online",
                "config": { "online": { "sampling_rate": 0.25, "scorers": [{ "type": "global", "name": "Factuality" }],
                                        "btql_filter": "a = 'b'\nAND c = 1", "scope": { "type": "trace", "idle_seconds": 30 } } } } },
            { "kind": "span_iframe", "body": { "project_name": "chat bot", "name": "viewer", "url": "https://tools.acme.com/v", "post_message": true } },
            { "kind": "project_automation", "body": { "project_name": "chat bot", "name": "errors",
                "config": { "event_type": "logs", "btql_filter": "error IS NOT NULL", "interval_seconds": 3600, "action": { "type": "webhook", "url": "https://hooks.acme.com/x" } } } },
            { "kind": "project_automation", "body": { "project_name": "chat bot", "name": "keep-90",
                "config": { "event_type": "retention", "object_type": "project_logs", "retention_days": 90 } } },
            { "kind": "project_automation", "body": { "project_name": "chat bot", "name": "to-s3",
                "config": { "event_type": "btql_export", "export_definition": { "type": "log_traces" }, "export_path": "s3://b/p",
                            "format": "parquet", "interval_seconds": 86400,
                            "credentials": { "type": "aws_iam", "role_arn": "arn:aws:iam::1:role/x", "external_id": "ext-1" } } } },
            { "kind": "project_automation", "body": { "project_name": "chat bot", "name": "to-gcs",
                "config": { "event_type": "btql_export", "export_definition": { "type": "btql_query", "btql_query": "select: *" }, "export_path": "gs://b/p",
                            "format": "jsonl", "interval_seconds": 600, "status": "paused",
                            "credentials": { "type": "gcp_service_account", "service_account_email": "x@y.iam.gserviceaccount.com" } } } },
            { "kind": "ai_secret", "body": { "name": "OPENAI_API_KEY", "type": "openai", "secret": "sk-live-value", "metadata": { "region": "eu" } } },
            { "kind": "env_var", "body": { "object_type": "organization", "object_id": id(1), "name": "ORG_TOKEN", "value": "v1" } },
            { "kind": "env_var", "body": { "object_type": "project", "object_id": id(50), "name": "PROJECT_TOKEN", "value": "v2" } },
            { "kind": "environment", "body": { "name": "staging", "slug": "staging", "description": "Pre-release" } },
            { "kind": "acl", "body": { "object_type": "organization", "object_id": id(1), "group_id": id(30), "role_id": id(40) } },
            { "kind": "acl", "body": { "object_type": "project", "object_id": id(50), "user_id": id(11), "permission": "update" } },
            { "kind": "acl", "body": { "object_type": "project", "object_id": id(50), "user_id": id(20), "permission": "read", "restrict_object_type": "experiment" } },
            { "kind": "acl", "body": { "object_type": "group", "object_id": id(30), "group_id": id(31), "permission": "update" } }
        ]
    }] });
    // Environment alerts (one json! call cannot hold them all: macro recursion limit): one on a
    // live environment, one with an empty filter, which import leaves out.
    if let Some(objects) = doc["orgs"][0]["objects"].as_array_mut() {
        objects.push(serde_json::json!({ "kind": "project_automation", "body": { "project_name": "chat bot", "name": "staging-moves",
            "config": { "event_type": "environment_update", "environment_filter": ["staging"], "action": { "type": "slack", "workspace_id": "T1", "channel": "C2" } } } }));
        objects.push(serde_json::json!({ "kind": "project_automation", "body": { "project_name": "chat bot", "name": "no-env",
            "config": { "event_type": "environment_update", "environment_filter": [], "action": { "type": "webhook", "url": "https://hooks.acme.com/e" } } } }));
        // A project AI provider: an entry of the project's env var list filed as a provider.
        objects.push(serde_json::json!({ "kind": "env_var", "body": { "object_type": "project", "object_id": id(50),
            "name": "ANTHROPIC_API_KEY", "secret_type": "anthropic", "value": "sk-ant-live-value", "metadata": { "api_base": "https://proxy.acme.com" } } }));
    }
    serde_json::from_value(doc).expect("valid seed")
}

#[test]
fn import_then_plan_shows_no_changes() {
    let runtime = runtime();
    let emu = runtime
        .block_on(bt_gitops::emulator::spawn(
            bt_gitops::emulator::EmulatorConfig::default().with_seed(rich_seed()),
        ))
        .expect("emulator");
    let dir = tempfile::tempdir().expect("temp dir");
    let url = emu.url().to_owned();
    let env = [
        ("BRAINTRUST_API_URL", url.as_str()),
        ("BRAINTRUST_API_KEY", KEY),
    ];
    let run = run_with_env(
        dir.path(),
        &["import", "--org", "acme", "--out", "acme"],
        &env,
    );
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let org = fs_err::read_to_string(dir.path().join("acme/org.yaml")).expect("org.yaml");
    assert!(
        org.contains("ACME_OPENAI_API_KEY"),
        "secrets become env stubs:\n{org}"
    );
    assert!(!org.contains("sk-live-value"));
    assert!(dir.path().join("acme/projects/chat_bot.yaml").exists());
    let project =
        fs_err::read_to_string(dir.path().join("acme/projects/chat_bot.yaml")).expect("project");
    assert!(
        project.contains("PROJECT_TOKEN"),
        "project-level env vars are imported:\n{project}"
    );
    assert!(
        project.contains("ai_providers:")
            && project.contains("ANTHROPIC_API_KEY")
            && project.contains("ACME_CHAT_BOT_ANTHROPIC_API_KEY")
            && !project.contains("sk-ant-live-value"),
        "project AI providers are imported with an env stub:\n{project}"
    );
    assert!(
        project.contains("environment_alerts:") && project.contains("environments: [staging]"),
        "environment alerts are imported with their slugs:\n{project}"
    );
    assert!(
        !project.contains("no-env")
            && org.contains("environment_alert:no-env: its environment filter is an empty list"),
        "an empty environment filter is left out, and the header says so:\n{org}\n{project}"
    );
    let validate = run_with_env(dir.path(), &["validate", "acme"], &env);
    assert_eq!(validate.code, Some(0), "{}\n{org}", validate.stderr);
    let plan = run_with_env(dir.path(), &["plan", "--detailed-exitcode", "acme"], &env);
    assert_eq!(
        plan.code,
        Some(0),
        "the plan after import has changes:\n{}\n{}",
        plan.stdout,
        plan.stderr
    );
    // Importing again over the same directory is refused.
    let again = run_with_env(
        dir.path(),
        &["import", "--org", "acme", "--out", "acme"],
        &env,
    );
    assert_eq!(again.code, Some(1));
    assert!(again.stderr.contains("--force"), "{}", again.stderr);
    runtime.block_on(emu.shutdown());
}
