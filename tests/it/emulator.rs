//! The emulator over real HTTP: every admin endpoint and the semantics of issue 4 (natural keys,
//! POST/PUT/PATCH/DELETE, pagination, filters, required params, validation, auth, cross-org
//! access, secrets). Every response is checked against the official spec (see `emulator_schema`).

use bt_gitops::emulator::{EmuHandle, EmulatorConfig, SeedDoc, spawn};
use serde_json::{Value, json};

use crate::emulator_schema::{Client, schema_checks_enabled};

/// A second org, `other-org`, with its own owner key `sk-other-owner`.
fn two_orgs() -> SeedDoc {
    let mut seed = SeedDoc::default_org();
    let other: SeedDoc = serde_json::from_value(json!({"orgs": [{
        "name": "other-org",
        "users": [{"email": "boss@other.example", "owner": true,
                   "api_keys": [{"name": "k", "key": "sk-other-owner"}]}],
        "objects": [{"kind": "project", "body": {"name": "theirs"}}]
    }]}))
    .expect("seed");
    seed.orgs.extend(other.orgs);
    seed
}

pub(crate) async fn start() -> (EmuHandle, Client) {
    let emu = spawn(
        EmulatorConfig::default()
            .with_deterministic(true)
            .with_seed(two_orgs()),
    )
    .await
    .expect("emulator starts");
    let client = Client::new(emu.url(), emu.api_key());
    (emu, client)
}

fn id(reply: &Value) -> String {
    reply["id"].as_str().expect("an id").to_owned()
}

async fn project(api: &Client, name: &str) -> String {
    let reply = api.post("/v1/project", json!({"name": name})).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    id(&reply.body)
}

#[tokio::test]
async fn hello_needs_no_auth_and_everything_else_does() {
    let (emu, api) = start().await;
    let hello = reqwest::get(format!("{}/v1", emu.url()))
        .await
        .expect("hello");
    assert_eq!(hello.status(), 200);
    assert_eq!(hello.text().await.expect("text"), "Hello, World!");
    assert_eq!(api.with_key("").get("/v1/project").await.status, 401);
    assert_eq!(api.with_key("sk-nope").get("/v1/project").await.status, 401);
    let raw = reqwest::Client::new()
        .get(format!("{}/v1/project", emu.url()))
        .header("authorization", format!("Basic {}", emu.api_key()))
        .send()
        .await
        .expect("send");
    assert_eq!(raw.status(), 401);
    assert_eq!(api.get("/v1/project").await.status, 200);
    // `x-bt-org-name` is accepted and ignored.
    let with_header = reqwest::Client::new()
        .get(format!("{}/v1/project", emu.url()))
        .bearer_auth(emu.api_key())
        .header("x-bt-org-name", "emulated-org")
        .send()
        .await
        .expect("send");
    assert_eq!(with_header.status(), 200);
    println!("schema checks enabled: {}", schema_checks_enabled());
}

#[tokio::test]
async fn organization_list_get_patch_and_other_orgs() {
    let (_emu, api) = start().await;
    let orgs = api.get("/v1/organization").await;
    assert_eq!(orgs.body["objects"].as_array().map(Vec::len), Some(1));
    let org_id = id(&orgs.body["objects"][0]);
    assert_eq!(orgs.body["objects"][0]["name"], "emulated-org");
    assert_eq!(
        api.get(&format!("/v1/organization/{org_id}")).await.status,
        200
    );

    let other = api.with_key("sk-other-owner");
    let other_id = id(&other.get("/v1/organization").await.body["objects"][0]);
    assert_eq!(
        api.get(&format!("/v1/organization/{other_id}"))
            .await
            .status,
        403
    );
    assert_eq!(
        api.get("/v1/organization/00000000-0000-4000-8000-00000000ffff")
            .await
            .status,
        404
    );
    assert_eq!(api.get("/v1/organization/not-a-uuid").await.status, 400);

    let patched = api
        .patch(
            &format!("/v1/organization/{org_id}"),
            json!({"api_url": "https://api.example", "image_rendering_mode": "blocked", "name": null}),
        )
        .await;
    assert_eq!(patched.status, 200, "{}", patched.text);
    assert_eq!(patched.body["name"], "emulated-org", "null is ignored");
    assert_eq!(patched.body["api_url"], "https://api.example");
    let bad = api
        .patch(
            &format!("/v1/organization/{org_id}"),
            json!({"image_rendering_mode": "sometimes"}),
        )
        .await;
    assert_eq!(bad.status, 400);
    assert_eq!(
        api.patch(
            &format!("/v1/organization/{other_id}"),
            json!({"name": "x"})
        )
        .await
        .status,
        403
    );
    assert_eq!(
        api.get("/v1/organization?org_name=other-org").await.status,
        403
    );
}

#[tokio::test]
async fn project_post_returns_existing_patch_replaces_settings_delete_is_final() {
    let (_emu, api) = start().await;
    let first = api
        .post("/v1/project", json!({"name": "web", "description": "one"}))
        .await;
    assert_eq!(first.status, 200);
    assert!(first.body["created"].is_string() && first.body["user_id"].is_string());
    let again = api
        .post("/v1/project", json!({"name": "web", "description": "two"}))
        .await;
    assert_eq!(
        again.body, first.body,
        "POST returns the existing project unmodified"
    );
    let pid = id(&first.body);

    let patched = api
        .patch(
            &format!("/v1/project/{pid}"),
            json!({"settings": {"comparison_key": "input", "disable_realtime_queries": true}}),
        )
        .await;
    assert_eq!(patched.body["settings"]["comparison_key"], "input");
    let replaced = api
        .patch(
            &format!("/v1/project/{pid}"),
            json!({"description": null, "settings": {"spanFieldOrder": [
                {"object_type": "span", "column_id": "input", "position": "a", "layout": "full"}]}}),
        )
        .await;
    assert_eq!(replaced.status, 200, "{}", replaced.text);
    assert_eq!(replaced.body["description"], "one", "null is ignored");
    assert!(
        replaced.body["settings"].get("comparison_key").is_none(),
        "settings are replaced wholesale: {}",
        replaced.body
    );
    assert_eq!(
        replaced.body["settings"]["spanFieldOrder"][0]["layout"],
        "full"
    );

    assert_eq!(
        api.post("/v1/project", json!({"name": ""})).await.status,
        400
    );
    assert_eq!(
        api.post("/v1/project", json!({"name": 7})).await.status,
        400
    );
    assert_eq!(api.post("/v1/project", json!(["web"])).await.status, 400);
    assert_eq!(
        api.post("/v1/project", json!({"name": "x", "org_name": "other-org"}))
            .await
            .status,
        403
    );
    assert_eq!(
        api.put("/v1/project", json!({"name": "web"})).await.status,
        405
    );

    let deleted = api.delete(&format!("/v1/project/{pid}")).await;
    assert_eq!(deleted.status, 200);
    assert_eq!(deleted.body["id"], pid.as_str());
    assert!(deleted.body["deleted_at"].is_string());
    assert_eq!(api.get(&format!("/v1/project/{pid}")).await.status, 404);
    assert_eq!(api.delete(&format!("/v1/project/{pid}")).await.status, 404);
    assert!(!api.ids("/v1/project").await.contains(&pid));
    // The name is free again.
    let reborn = api.post("/v1/project", json!({"name": "web"})).await;
    assert_ne!(id(&reborn.body), pid);
}

#[tokio::test]
async fn lists_are_newest_first_with_cursors_ids_and_name_filters() {
    let (_emu, api) = start().await;
    let mut created = Vec::new();
    for i in 0..7 {
        created.push(project(&api, &format!("p{i}")).await);
    }
    let newest_first: Vec<String> = created.iter().rev().cloned().collect();
    assert_eq!(api.ids("/v1/project").await, newest_first);

    // Walk forward with starting_after, as the Stainless pager does.
    let mut walked = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            None => "/v1/project?limit=3".to_owned(),
            Some(c) => format!("/v1/project?limit=3&starting_after={c}"),
        };
        let page = api.ids(&path).await;
        if page.is_empty() {
            break;
        }
        assert!(page.len() <= 3);
        cursor = page.last().cloned();
        walked.extend(page);
    }
    assert_eq!(walked, newest_first);

    // And back with ending_before.
    let oldest = newest_first.last().expect("some").clone();
    let page = api
        .ids(&format!("/v1/project?limit=2&ending_before={oldest}"))
        .await;
    assert_eq!(page, newest_first[4..6].to_vec());

    let both = api
        .get(&format!(
            "/v1/project?starting_after={oldest}&ending_before={oldest}"
        ))
        .await;
    assert_eq!(both.status, 400);
    assert_eq!(api.get("/v1/project?limit=-1").await.status, 400);
    assert_eq!(api.get("/v1/project?limit=abc").await.status, 400);
    assert_eq!(api.get("/v1/project?starting_after=nope").await.status, 400);
    assert_eq!(api.get("/v1/project?ids=nope").await.status, 400);
    assert_eq!(api.ids("/v1/project?limit=0").await.len(), 0);

    let two = api
        .ids(&format!(
            "/v1/project?ids={}&ids={}",
            created[1], created[4]
        ))
        .await;
    assert_eq!(two, vec![created[4].clone(), created[1].clone()]);
    assert_eq!(
        api.ids("/v1/project?project_name=p3").await,
        vec![created[3].clone()]
    );
    assert!(api.ids("/v1/project?project_name=nope").await.is_empty());
    let theirs = api.with_key("sk-other-owner").ids("/v1/project").await;
    assert!(
        !api.ids("/v1/project").await.contains(&theirs[0]),
        "the other org's project is not listed"
    );
    assert_eq!(api.ids("/v1/project").await.len(), 7);
}

#[tokio::test]
async fn groups_and_roles_replace_with_put_and_apply_deltas_with_patch() {
    let (_emu, api) = start().await;
    let users = api.get("/v1/user").await.body["objects"].clone();
    let owner = id(&users[0]);
    let group = api
        .post(
            "/v1/group",
            json!({"name": "devs", "member_users": [owner, owner], "description": "d"}),
        )
        .await;
    assert_eq!(group.status, 200, "{}", group.text);
    assert_eq!(group.body["member_users"], json!([owner]));
    let gid = id(&group.body);
    let inner = id(&api.post("/v1/group", json!({"name": "inner"})).await.body);

    let put = api
        .put(
            "/v1/group",
            json!({"name": "devs", "member_groups": [inner]}),
        )
        .await;
    assert_eq!(id(&put.body), gid, "PUT keeps the id");
    assert_eq!(put.body["member_users"], json!([]));
    assert_eq!(put.body["member_groups"], json!([inner]));
    assert!(
        put.body.get("description").is_none(),
        "PUT replaces all fields"
    );

    let patched = api
        .patch(
            &format!("/v1/group/{gid}"),
            json!({"add_member_users": [owner], "remove_member_groups": [inner], "name": null}),
        )
        .await;
    assert_eq!(patched.body["member_users"], json!([owner]));
    assert_eq!(patched.body["member_groups"], json!([]));
    assert_eq!(patched.body["name"], "devs");
    let stranger = "00000000-0000-4000-8000-00000000abcd";
    assert_eq!(
        api.patch(
            &format!("/v1/group/{gid}"),
            json!({"add_member_users": [stranger]})
        )
        .await
        .status,
        400
    );
    assert_eq!(
        api.ids("/v1/group?group_name=devs").await,
        vec![gid.clone()]
    );
    assert_eq!(api.ids("/v1/group").await.len(), 5, "3 built-in + 2");

    let role = api
        .post(
            "/v1/role",
            json!({"name": "reader", "member_permissions": [
                {"permission": "read"},
                {"permission": "update", "restrict_object_type": "project"}]}),
        )
        .await;
    assert_eq!(role.status, 200, "{}", role.text);
    let rid = id(&role.body);
    let patched = api
        .patch(
            &format!("/v1/role/{rid}"),
            json!({"add_member_permissions": [{"permission": "delete"}],
                   "remove_member_permissions": [{"permission": "read"}]}),
        )
        .await;
    assert_eq!(
        patched.body["member_permissions"],
        json!([{"permission": "update", "restrict_object_type": "project"}, {"permission": "delete"}])
    );
    assert_eq!(
        api.post(
            "/v1/role",
            json!({"name": "bad", "member_permissions": [{"permission": "fly"}]})
        )
        .await
        .status,
        400
    );
    let put = api.put("/v1/role", json!({"name": "reader"})).await;
    assert_eq!(id(&put.body), rid);
    assert_eq!(put.body["member_permissions"], json!([]));
    assert_eq!(api.delete(&format!("/v1/role/{rid}")).await.status, 200);
    assert_eq!(api.get(&format!("/v1/role/{rid}")).await.status, 404);
}

#[tokio::test]
async fn acls_validate_exclusivity_and_are_idempotent() {
    let (_emu, api) = start().await;
    let pid = project(&api, "p").await;
    let owner = id(&api.get("/v1/user").await.body["objects"][0]);
    let groups = api.get("/v1/group?group_name=Engineers").await;
    let engineers = id(&groups.body["objects"][0]);
    let role = id(&api.post("/v1/role", json!({"name": "r"})).await.body);

    let item = json!({"object_type": "project", "object_id": pid, "group_id": engineers, "permission": "read"});
    let acl = api.post("/v1/acl", item.clone()).await;
    assert_eq!(acl.status, 200, "{}", acl.text);
    assert_eq!(acl.body["_object_org_id"].as_str().map(str::len), Some(36));
    assert_eq!(api.post("/v1/acl", item.clone()).await.body, acl.body);

    for bad in [
        json!({"object_type": "project", "object_id": pid, "permission": "read"}),
        json!({"object_type": "project", "object_id": pid, "user_id": owner, "group_id": engineers, "permission": "read"}),
        json!({"object_type": "project", "object_id": pid, "user_id": owner}),
        json!({"object_type": "project", "object_id": pid, "user_id": owner, "permission": "read", "role_id": role}),
        json!({"object_type": "project", "object_id": pid, "user_id": owner, "role_id": role, "restrict_object_type": "dataset"}),
        json!({"object_type": "planet", "object_id": pid, "user_id": owner, "permission": "read"}),
        json!({"object_type": "project", "object_id": "00000000-0000-4000-8000-00000000abcd", "user_id": owner, "permission": "read"}),
    ] {
        let reply = api.post("/v1/acl", bad.clone()).await;
        assert_eq!(reply.status, 400, "{bad} -> {}", reply.text);
    }

    assert_eq!(
        api.get("/v1/acl").await.status,
        400,
        "object_type and object_id are required"
    );
    assert_eq!(api.get("/v1/acl?object_type=project").await.status, 400);
    let listed = api
        .ids(&format!("/v1/acl?object_type=project&object_id={pid}"))
        .await;
    assert_eq!(listed, vec![id(&acl.body)]);
    assert!(
        api.ids(&format!(
            "/v1/acl?object_type=project&object_id={pid}&permission=update"
        ))
        .await
        .is_empty()
    );

    let batch = json!({
        "add_acls": [item.clone(), {"object_type": "project", "object_id": pid, "user_id": owner, "role_id": role}],
        "remove_acls": [{"object_type": "project", "object_id": pid, "user_id": owner, "permission": "delete"}],
    });
    let first = api.post("/v1/acl/batch_update", batch.clone()).await;
    assert_eq!(first.status, 200, "{}", first.text);
    assert_eq!(first.body["added_acls"].as_array().map(Vec::len), Some(1));
    assert_eq!(first.body["removed_acls"], json!([]));
    let second = api.post("/v1/acl/batch_update", batch).await;
    assert_eq!(
        second.body,
        json!({"added_acls": [], "removed_acls": []}),
        "idempotent"
    );

    let org = api.get("/v1/acl/list_org").await;
    assert!(
        org.body.is_array(),
        "list_org is a bare array: {}",
        org.body
    );
    assert_eq!(org.body.as_array().map(Vec::len), Some(2));
    assert_eq!(
        api.get(&format!("/v1/acl/list_org?role_id={role}"))
            .await
            .body
            .as_array()
            .map(Vec::len),
        Some(1)
    );

    let removed = api.delete_with("/v1/acl", item.clone()).await;
    assert_eq!(removed.body["id"], acl.body["id"]);
    assert_eq!(api.delete_with("/v1/acl", item).await.status, 404);
    let role_acl = id(&first.body["added_acls"][0]);
    assert_eq!(api.delete(&format!("/v1/acl/{role_acl}")).await.status, 200);
    assert_eq!(api.get(&format!("/v1/acl/{role_acl}")).await.status, 404);
    assert_eq!(api.get("/v1/acl/list_org").await.body, json!([]));
}

#[tokio::test]
async fn project_tags_and_scores() {
    let (_emu, api) = start().await;
    let pid = project(&api, "p").await;
    let other = project(&api, "q").await;
    let tag = api
        .post(
            "/v1/project_tag",
            json!({"project_id": pid, "name": "prod", "color": "red"}),
        )
        .await;
    assert_eq!(tag.status, 200, "{}", tag.text);
    assert!(tag.body["position"].is_string() && tag.body["user_id"].is_string());
    let tid = id(&tag.body);
    let put = api
        .put(
            "/v1/project_tag",
            json!({"project_id": pid, "name": "prod", "description": "d"}),
        )
        .await;
    assert_eq!(id(&put.body), tid);
    assert!(put.body.get("color").is_none());
    assert_eq!(put.body["position"], tag.body["position"]);
    api.post(
        "/v1/project_tag",
        json!({"project_id": other, "name": "prod"}),
    )
    .await;
    assert_eq!(
        api.ids(&format!("/v1/project_tag?project_id={pid}")).await,
        vec![tid.clone()]
    );
    assert_eq!(
        api.ids("/v1/project_tag?project_name=p&project_tag_name=prod")
            .await,
        vec![tid.clone()]
    );
    assert_eq!(api.ids("/v1/project_tag").await.len(), 2);
    assert_eq!(
        api.post(
            "/v1/project_tag",
            json!({"project_id": "00000000-0000-4000-8000-00000000abcd", "name": "x"})
        )
        .await
        .status,
        400
    );

    let score = api
        .post(
            "/v1/project_score",
            json!({"project_id": pid, "name": "quality", "score_type": "categorical",
                   "categories": [{"name": "good", "value": 1}, {"name": "bad", "value": 0}],
                   "config": {"multi_select": true, "destination": "expected"}}),
        )
        .await;
    assert_eq!(score.status, 200, "{}", score.text);
    let sid = id(&score.body);
    let unchanged = api
        .post(
            "/v1/project_score",
            json!({"project_id": pid, "name": "quality", "score_type": "slider"}),
        )
        .await;
    assert_eq!(unchanged.body, score.body, "POST ignores the new config");
    let patched = api
        .patch(
            &format!("/v1/project_score/{sid}"),
            json!({"config": {"multi_select": false}}),
        )
        .await;
    assert_eq!(
        patched.body["config"],
        json!({"multi_select": false, "destination": "expected"}),
        "config is deep-merged"
    );
    let online = api
        .post(
            "/v1/project_score",
            json!({"project_id": pid, "name": "online", "score_type": "online",
                   "config": {"online": {"sampling_rate": 0.5,
                       "scorers": [{"type": "global", "name": "Factuality"}, {"type": "function", "id": "f1"}],
                       "scope": {"type": "group", "group_by": "session", "placement": "first", "max_traces": 10}}}}),
        )
        .await;
    assert_eq!(online.status, 200, "{}", online.text);
    for bad in [
        json!({"project_id": pid, "name": "b", "score_type": "categorical", "categories": [{"name": "x", "value": 1.5}]}),
        json!({"project_id": pid, "name": "b", "score_type": "online", "config": {"online": {"sampling_rate": 2, "scorers": []}}}),
        json!({"project_id": pid, "name": "b", "score_type": "online", "config": {"online": {"sampling_rate": 1, "scorers": [],
               "scope": {"type": "group", "group_by": "s", "placement": "first", "max_traces": 65}}}}),
        json!({"project_id": pid, "name": "b", "score_type": "stars"}),
        json!({"project_id": pid, "score_type": "slider"}),
    ] {
        assert_eq!(
            api.post("/v1/project_score", bad.clone()).await.status,
            400,
            "{bad}"
        );
    }
    assert_eq!(
        api.ids("/v1/project_score?score_type=online").await,
        vec![id(&online.body)]
    );
    assert_eq!(
        api.ids("/v1/project_score?score_type=online&score_type=categorical")
            .await
            .len(),
        2
    );
    assert_eq!(
        api.get("/v1/project_score?score_type=stars").await.status,
        400
    );

    // Deleting the project leaves its tags and scores readable by id (P10, answer B, both
    // profiles; the cascade of answer A is the real-API case `p10-project-delete-cascades`).
    api.delete(&format!("/v1/project/{pid}")).await;
    assert_eq!(api.get(&format!("/v1/project/{pid}")).await.status, 404);
    assert_eq!(api.get(&format!("/v1/project_tag/{tid}")).await.status, 200);
    assert_eq!(
        api.get(&format!("/v1/project_score/{sid}")).await.status,
        200
    );
}

#[tokio::test]
async fn project_automations_of_every_event_type() {
    let (_emu, api) = start().await;
    let pid = project(&api, "p").await;
    let owner = id(&api.get("/v1/user").await.body["objects"][0]);
    let configs = [
        json!({"event_type": "logs", "btql_filter": "error IS NOT NULL", "interval_seconds": 3600,
               "action": {"type": "webhook", "url": "https://hooks.example/x"}}),
        json!({"event_type": "btql_export", "export_definition": {"type": "log_traces"},
               "export_path": "s3://bucket/prefix", "format": "parquet", "interval_seconds": 86400,
               "credentials": {"type": "aws_iam", "role_arn": "arn:aws:iam::1:role/x", "external_id": "e"},
               "status": "active", "scope": {"type": "trace", "idle_seconds": 30}}),
        json!({"event_type": "async_query", "created_by_user_id": owner, "object_type": "project_logs",
               "object_id": pid, "query": "select 1", "format": "jsonl", "batch_size": 100}),
        json!({"event_type": "retention", "object_type": "project_logs", "retention_days": 30}),
        json!({"event_type": "environment_update", "environment_filter": ["prod"],
               "action": {"type": "slack", "workspace_id": "W1", "channel": "#ops"}}),
        json!({"event_type": "topic", "sampling_rate": 0.1, "facet_functions": [{"type": "global", "name": "f"}],
               "topic_map_functions": [{"function": {"type": "function", "id": "tm"}}],
               "data_scope": {"type": "project_logs"}, "rerun_seconds": 600, "backfill_time_range": "7d"}),
        json!({"event_type": "topic_digest", "scheduled_time_minutes_utc": 540, "window_seconds": 86400,
               "action": {"type": "slack", "workspace_id": "W1", "channel": "#topics"}}),
    ];
    let mut ids = Vec::new();
    for (i, config) in configs.iter().enumerate() {
        let reply = api
            .post(
                "/v1/project_automation",
                json!({"project_id": pid, "name": format!("a{i}"), "config": config}),
            )
            .await;
        assert_eq!(reply.status, 200, "{config}: {}", reply.text);
        assert_eq!(reply.body["config"]["event_type"], config["event_type"]);
        ids.push(id(&reply.body));
    }
    for bad in [
        json!({"event_type": "logs", "btql_filter": "x", "interval_seconds": 0, "action": {"type": "webhook", "url": "u"}}),
        json!({"event_type": "logs", "btql_filter": "x", "interval_seconds": 2592001, "action": {"type": "webhook", "url": "u"}}),
        json!({"event_type": "sms"}),
        json!({"event_type": "retention", "object_type": "project_logs", "retention_days": -1}),
        json!({"event_type": "topic_digest", "scheduled_time_minutes_utc": 1440,
               "action": {"type": "slack", "workspace_id": "W", "channel": "c"}}),
        json!({"event_type": "topic", "sampling_rate": 1.5, "facet_functions": [], "topic_map_functions": []}),
    ] {
        let reply = api
            .post(
                "/v1/project_automation",
                json!({"project_id": pid, "name": "bad", "config": bad}),
            )
            .await;
        assert_eq!(reply.status, 400, "{bad}: {}", reply.text);
    }
    let patched = api
        .patch(
            &format!("/v1/project_automation/{}", ids[0]),
            json!({"config": {"event_type": "logs", "btql_filter": "x", "interval_seconds": 60,
                   "action": {"type": "webhook", "url": "https://hooks.example/y"}}}),
        )
        .await;
    assert_eq!(patched.body["config"]["interval_seconds"], json!(60.0));
    let put = api
        .put(
            "/v1/project_automation",
            json!({"project_id": pid, "name": "a3", "config": configs[3]}),
        )
        .await;
    assert_eq!(id(&put.body), ids[3]);
    assert_eq!(api.ids("/v1/project_automation").await.len(), 7);
    assert_eq!(
        api.ids("/v1/project_automation?project_automation_name=a1")
            .await,
        vec![ids[1].clone()]
    );
    assert_eq!(
        api.ids(&format!("/v1/project_automation?project_id={pid}"))
            .await
            .len(),
        7
    );
}

#[tokio::test]
async fn span_iframes_mcp_servers_and_views() {
    let (_emu, api) = start().await;
    let pid = project(&api, "p").await;
    let iframe = api
        .post("/v1/span_iframe", json!({"project_id": pid, "name": "viewer", "url": "https://x.example", "post_message": true}))
        .await;
    assert_eq!(iframe.status, 200, "{}", iframe.text);
    let patched = api
        .patch(
            &format!("/v1/span_iframe/{}", id(&iframe.body)),
            json!({"url": "https://y.example"}),
        )
        .await;
    assert_eq!(patched.body["post_message"], true);
    assert_eq!(
        api.post(
            "/v1/span_iframe",
            json!({"project_id": pid, "name": "nourl"})
        )
        .await
        .status,
        400
    );
    assert_eq!(
        api.ids("/v1/span_iframe?span_iframe_name=viewer")
            .await
            .len(),
        1
    );

    let mcp = api
        .post(
            "/v1/mcp_server",
            json!({"project_id": pid, "name": "tools", "url": "https://mcp.example"}),
        )
        .await;
    assert_eq!(mcp.status, 200, "{}", mcp.text);
    let mid = id(&mcp.body);
    assert!(api.delete(&format!("/v1/mcp_server/{mid}")).await.body["deleted_at"].is_string());
    assert_eq!(api.get(&format!("/v1/mcp_server/{mid}")).await.status, 404);

    let locator = format!("object_type=project&object_id={pid}");
    let view = api
        .post(
            "/v1/view",
            json!({"object_type": "project", "object_id": pid, "view_type": "logs", "name": "errors",
                   "view_data": {"search": {"filter": ["error IS NOT NULL"]}},
                   "options": {"columnOrder": ["input"], "rowHeight": "tall"}}),
        )
        .await;
    assert_eq!(view.status, 200, "{}", view.text);
    let vid = id(&view.body);
    let monitor = api
        .post(
            "/v1/view",
            json!({"object_type": "project", "object_id": pid, "view_type": "monitor", "name": "m",
                   "options": {"viewType": "monitor", "options": {"spanType": "range", "rangeValue": "7d"}}}),
        )
        .await;
    assert_eq!(monitor.status, 200, "{}", monitor.text);
    assert_eq!(monitor.body["options"]["viewType"], "monitor");
    assert_eq!(
        api.post(
            "/v1/view",
            json!({"object_type": "project", "object_id": pid, "name": "n", "view_type": null})
        )
        .await
        .status,
        400,
        "the spec lists null among view types but does not make the field nullable"
    );
    assert_eq!(
        api.post(
            "/v1/view",
            json!({"object_type": "project", "object_id": pid, "name": "no view_type"})
        )
        .await
        .status,
        400,
        "view_type is required"
    );
    assert_eq!(api.get("/v1/view").await.status, 400);
    assert_eq!(api.get(&format!("/v1/view/{vid}")).await.status, 400);
    assert_eq!(
        api.get(&format!("/v1/view?{locator}")).await.body["objects"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );
    assert_eq!(
        api.ids(&format!("/v1/view?{locator}&view_type=logs")).await,
        vec![vid.clone()]
    );
    assert_eq!(
        api.get(&format!("/v1/view/{vid}?{locator}")).await.status,
        200
    );
    let elsewhere = format!(
        "object_type=project&object_id={}",
        "00000000-0000-4000-8000-00000000abcd"
    );
    assert_eq!(
        api.get(&format!("/v1/view/{vid}?{elsewhere}")).await.status,
        400,
        "the locator must name an existing object"
    );
    let renamed = api
        .patch(
            &format!("/v1/view/{vid}"),
            json!({"object_type": "project", "object_id": pid, "name": "errs"}),
        )
        .await;
    assert_eq!(renamed.body["name"], "errs");
    assert_eq!(renamed.body["options"]["rowHeight"], "tall");
    assert_eq!(
        api.patch(&format!("/v1/view/{vid}"), json!({"name": "x"}))
            .await
            .status,
        400
    );
    assert_eq!(
        api.delete(&format!("/v1/view/{vid}")).await.status,
        400,
        "the locator body is required"
    );
    let deleted = api
        .delete_with(
            &format!("/v1/view/{vid}"),
            json!({"object_type": "project", "object_id": pid}),
        )
        .await;
    assert_eq!(deleted.status, 200);
    assert_eq!(
        api.get(&format!("/v1/view/{vid}?{locator}")).await.status,
        404
    );
}

#[tokio::test]
async fn secrets_are_write_only() {
    let (_emu, api) = start().await;
    let secret = "sk-live-0123456789abcdef";
    let created = api
        .post("/v1/ai_secret", json!({"name": "OPENAI_API_KEY", "type": "openai", "secret": secret, "metadata": {"a": 1}}))
        .await;
    assert_eq!(created.status, 200, "{}", created.text);
    assert!(!created.text.contains(secret));
    assert_eq!(created.body["preview_secret"], "sk…cdef");
    assert!(created.body["secret_updated_at"].is_string());
    let sid = id(&created.body);
    let put = api
        .put(
            "/v1/ai_secret",
            json!({"name": "OPENAI_API_KEY", "type": "openai"}),
        )
        .await;
    assert_eq!(id(&put.body), sid);
    assert_eq!(
        put.body["preview_secret"], "sk…cdef",
        "a PUT without secret keeps it"
    );
    let rotated = api
        .patch(
            &format!("/v1/ai_secret/{sid}"),
            json!({"secret": "new-secret-value-9999"}),
        )
        .await;
    assert_eq!(rotated.body["preview_secret"], "ne…9999");
    for path in ["/v1/ai_secret".to_owned(), format!("/v1/ai_secret/{sid}")] {
        let reply = api.get(&path).await;
        assert!(!reply.text.contains("new-secret-value-9999") && !reply.text.contains(secret));
    }
    assert_eq!(
        api.ids("/v1/ai_secret?ai_secret_type=openai").await,
        vec![sid.clone()]
    );
    assert!(
        api.ids("/v1/ai_secret?ai_secret_type=anthropic")
            .await
            .is_empty()
    );
    let deleted = api
        .delete_with("/v1/ai_secret", json!({"name": "OPENAI_API_KEY"}))
        .await;
    assert_eq!(id(&deleted.body), sid);
    assert_eq!(
        api.delete_with("/v1/ai_secret", json!({"name": "OPENAI_API_KEY"}))
            .await
            .status,
        404
    );

    let pid = project(&api, "p").await;
    let env = api
        .post("/v1/env_var", json!({"object_type": "project", "object_id": pid, "name": "TOKEN", "value": "hunter2-secret"}))
        .await;
    assert_eq!(env.status, 200, "{}", env.text);
    assert!(!env.text.contains("hunter2-secret"));
    assert_eq!(env.body["secret_category"], "env_var");
    let eid = id(&env.body);
    assert_eq!(
        api.patch(&format!("/v1/env_var/{eid}"), json!({"value": "x"}))
            .await
            .status,
        400,
        "name is required"
    );
    let patched = api
        .patch(
            &format!("/v1/env_var/{eid}"),
            json!({"name": "TOKEN", "value": "rotated-value-1234"}),
        )
        .await;
    assert_eq!(patched.body["preview_secret"], "ro…1234");
    assert_eq!(
        api.ids(&format!("/v1/env_var?object_type=project&object_id={pid}"))
            .await,
        vec![eid.clone()]
    );
    assert!(api.ids("/v1/env_var?object_type=function").await.is_empty());
    assert_eq!(api.get("/v1/env_var?object_type=planet").await.status, 400);
}

#[tokio::test]
async fn environments_live_without_v1() {
    let (_emu, api) = start().await;
    let created = api
        .post(
            "/environment",
            json!({"name": "Production", "slug": "prod"}),
        )
        .await;
    assert_eq!(created.status, 200, "{}", created.text);
    let eid = id(&created.body);
    let again = api
        .post("/environment", json!({"name": "Other", "slug": "prod"}))
        .await;
    assert_eq!(again.body, created.body, "the slug is the natural key");
    assert_eq!(
        api.ids("/environment?name=Production").await,
        vec![eid.clone()]
    );
    let patched = api
        .patch(
            &format!("/environment/{eid}"),
            json!({"description": "live"}),
        )
        .await;
    assert_eq!(patched.body["description"], "live");
    assert_eq!(api.delete(&format!("/environment/{eid}")).await.status, 200);
    assert!(api.ids("/environment").await.is_empty());
}

#[tokio::test]
async fn members_users_service_accounts_and_tokens() {
    let (emu, api) = start().await;
    let invited = api
        .patch(
            "/v1/organization/members",
            json!({"invite_users": {"emails": ["ada@example.com", "bob@example.com"], "group_names": ["Engineers"]}}),
        )
        .await;
    assert_eq!(invited.status, 200, "{}", invited.text);
    assert_eq!(invited.body["status"], "success");
    // The spec fills `added_users` only for service accounts created with a token.
    assert_eq!(invited.body["added_users"], Value::Null);
    let ada = api.ids("/v1/user?email=ada@example.com").await.remove(0);
    let engineers = api.get("/v1/group?group_name=Engineers").await;
    assert_eq!(
        engineers.body["objects"][0]["member_users"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );
    assert_eq!(
        api.ids("/v1/user?email=ada@example.com").await,
        vec![ada.clone()]
    );
    assert_eq!(
        api.ids("/v1/user?email=ada@example.com&email=bob@example.com")
            .await
            .len(),
        2
    );
    assert_eq!(api.ids("/v1/user?given_name=Emulator").await.len(), 1);
    assert_eq!(api.get(&format!("/v1/user/{ada}")).await.status, 200);
    let again = api
        .patch(
            "/v1/organization/members",
            json!({"invite_users": {"emails": ["ada@example.com"]}}),
        )
        .await;
    assert_eq!(again.status, 200, "already a member: {}", again.text);
    let removed = api
        .patch(
            "/v1/organization/members",
            json!({"remove_users": {"emails": ["ada@example.com"]}}),
        )
        .await;
    assert_eq!(removed.status, 200);
    assert_eq!(api.get(&format!("/v1/user/{ada}")).await.status, 403);
    assert!(api.ids("/v1/user?email=ada@example.com").await.is_empty());
    assert_eq!(
        api.patch(
            "/v1/organization/members",
            json!({"invite_users": {"group_names": ["Nope"], "emails": ["c@example.com"]}})
        )
        .await
        .status,
        400
    );

    // Service accounts: a token needs an org-owner service token as the caller.
    let with_token =
        json!({"invite_users": {"service_accounts": [{"name": "deployer", "token_name": "ci"}]}});
    assert_eq!(
        api.patch("/v1/organization/members", with_token.clone())
            .await
            .status,
        403
    );
    let bot = api.with_key(emu.service_token().expect("a seeded service token"));
    let created = bot.patch("/v1/organization/members", with_token).await;
    assert_eq!(created.status, 200, "{}", created.text);
    let added = &created.body["added_users"][0];
    let fresh_key = added["api_key"]
        .as_str()
        .expect("the one-time key")
        .to_owned();
    assert!(fresh_key.starts_with("bt-st-"));
    assert_eq!(added["token_name"], "ci");
    assert_eq!(
        api.with_key(&fresh_key).get("/v1/project").await.status,
        200
    );
    let account = id(added);

    // Service tokens.
    let body = json!({"name": "second", "service_account_id": account});
    assert_eq!(
        api.post("/v1/service_token", body.clone()).await.status,
        403,
        "user keys are rejected"
    );
    let token = bot.post("/v1/service_token", body.clone()).await;
    assert_eq!(token.status, 200, "{}", token.text);
    let key = token.body["key"].as_str().expect("key").to_owned();
    let duplicate = bot.post("/v1/service_token", body.clone()).await;
    assert_ne!(
        id(&duplicate.body),
        id(&token.body),
        "names need not be unique"
    );
    let listed = api.get("/v1/service_token?service_token_name=second").await;
    assert_eq!(listed.body["objects"].as_array().map(Vec::len), Some(2));
    assert!(!listed.text.contains(&key), "the raw key is shown once");
    assert_eq!(
        bot.post(
            "/v1/service_token",
            json!({"name": "x", "service_account_id": ada})
        )
        .await
        .status,
        400,
        "not a service account"
    );
    let tid = id(&token.body);
    assert_eq!(api.with_key(&key).get("/v1/organization").await.status, 200);
    assert_eq!(
        api.delete_with("/v1/service_token", json!({"id": tid}))
            .await
            .status,
        200
    );
    assert_eq!(api.with_key(&key).get("/v1/organization").await.status, 401);
    assert_eq!(
        api.get(&format!("/v1/service_token/{tid}")).await.status,
        404
    );

    // API keys: list, get, delete.
    let keys = api.get("/v1/api_key").await;
    assert_eq!(keys.body["objects"].as_array().map(Vec::len), Some(1));
    assert!(!keys.text.contains(emu.api_key()));
    let kid = id(&keys.body["objects"][0]);
    assert_eq!(
        keys.body["objects"][0]["user_email"],
        "owner@emulated-org.example.com"
    );
    assert_eq!(api.get(&format!("/v1/api_key/{kid}")).await.status, 200);
    assert_eq!(
        api.post("/v1/api_key", json!({"name": "x"})).await.status,
        405
    );
    assert_eq!(bot.delete(&format!("/v1/api_key/{kid}")).await.status, 200);
    assert_eq!(
        api.get("/v1/project").await.status,
        401,
        "a deleted key no longer works"
    );
}

#[tokio::test]
async fn other_orgs_are_invisible_or_forbidden() {
    let (_emu, api) = start().await;
    let other = api.with_key("sk-other-owner");
    let theirs = other.ids("/v1/project").await;
    assert_eq!(theirs.len(), 1);
    let mine = project(&api, "mine").await;
    assert!(!api.ids("/v1/project").await.contains(&theirs[0]));
    assert_eq!(
        api.get(&format!("/v1/project/{}", theirs[0])).await.status,
        403
    );
    assert_eq!(
        api.patch(&format!("/v1/project/{}", theirs[0]), json!({"name": "x"}))
            .await
            .status,
        403
    );
    assert_eq!(
        api.delete(&format!("/v1/project/{}", theirs[0]))
            .await
            .status,
        403
    );
    assert_eq!(other.get(&format!("/v1/project/{mine}")).await.status, 403);
    assert_eq!(
        api.post(
            "/v1/project_tag",
            json!({"project_id": theirs[0], "name": "t"})
        )
        .await
        .status,
        403
    );
    let their_user = id(&other.get("/v1/user").await.body["objects"][0]);
    assert_eq!(api.get(&format!("/v1/user/{their_user}")).await.status, 403);
    // Same names in two orgs are different objects.
    let same = other.post("/v1/project", json!({"name": "mine"})).await;
    assert_ne!(id(&same.body), mine);
}

#[tokio::test]
async fn unknown_paths_and_preflight() {
    let (emu, api) = start().await;
    assert_eq!(api.get("/v1/nothing").await.status, 404);
    let http = reqwest::Client::new();
    let preflight = http
        .request(
            reqwest::Method::OPTIONS,
            format!("{}/v1/project", emu.url()),
        )
        .send()
        .await
        .expect("send");
    assert_eq!(preflight.status(), 200);
    assert!(
        preflight
            .headers()
            .contains_key("access-control-allow-methods")
    );
    let bad = http
        .request(
            reqwest::Method::OPTIONS,
            format!("{}/v1/project/nope", emu.url()),
        )
        .send()
        .await
        .expect("send");
    assert_eq!(bad.status(), 400);
}

#[tokio::test]
async fn deterministic_mode_gives_stable_objects() {
    let (_emu, api) = start().await;
    let pid = project(&api, "snap").await;
    let tag = api
        .post(
            "/v1/project_tag",
            json!({"project_id": pid, "name": "t", "color": "blue"}),
        )
        .await;
    let groups = api.get("/v1/group").await;
    insta::assert_json_snapshot!(
        "emulator_deterministic_objects",
        json!({
            "project": api.get(&format!("/v1/project/{pid}")).await.body,
            "tag": tag.body,
            "groups": groups.body,
        })
    );
}

/// One kind for [`every_crud_endpoint_round_trips`].
struct Case {
    collection: &'static str,
    create: Value,
    patch: Value,
    /// A field the patch sets, and its expected value.
    patched: (&'static str, Value),
    put: bool,
    /// Views need `object_type` + `object_id` on reads (query) and deletes (body).
    locator: Option<Value>,
}

#[tokio::test]
async fn every_crud_endpoint_round_trips() {
    let (_emu, api) = start().await;
    let pid = project(&api, "p").await;
    let locator = json!({"object_type": "project", "object_id": pid});
    let cases = [
        Case {
            collection: "/v1/group",
            create: json!({"name": "g"}),
            patch: json!({"description": "d"}),
            patched: ("description", json!("d")),
            put: true,
            locator: None,
        },
        Case {
            collection: "/v1/role",
            create: json!({"name": "r"}),
            patch: json!({"name": "r2"}),
            patched: ("name", json!("r2")),
            put: true,
            locator: None,
        },
        Case {
            collection: "/v1/project_tag",
            create: json!({"project_id": pid, "name": "t"}),
            patch: json!({"color": "green"}),
            patched: ("color", json!("green")),
            put: true,
            locator: None,
        },
        Case {
            collection: "/v1/project_score",
            create: json!({"project_id": pid, "name": "s", "score_type": "slider"}),
            patch: json!({"score_type": "free-form"}),
            patched: ("score_type", json!("free-form")),
            put: true,
            locator: None,
        },
        Case {
            collection: "/v1/project_automation",
            create: json!({"project_id": pid, "name": "a", "config": {
                "event_type": "retention", "object_type": "dataset", "retention_days": 7}}),
            patch: json!({"description": "keep a week"}),
            patched: ("description", json!("keep a week")),
            put: true,
            locator: None,
        },
        Case {
            collection: "/v1/span_iframe",
            create: json!({"project_id": pid, "name": "i", "url": "https://i.example"}),
            patch: json!({"post_message": true}),
            patched: ("post_message", json!(true)),
            put: true,
            locator: None,
        },
        Case {
            collection: "/v1/mcp_server",
            create: json!({"project_id": pid, "name": "m", "url": "https://m.example"}),
            patch: json!({"url": "https://n.example"}),
            patched: ("url", json!("https://n.example")),
            put: true,
            locator: None,
        },
        Case {
            collection: "/v1/ai_secret",
            create: json!({"name": "K", "secret": "abcdefgh1234"}),
            patch: json!({"type": "anthropic"}),
            patched: ("type", json!("anthropic")),
            put: true,
            locator: None,
        },
        Case {
            collection: "/v1/env_var",
            create: json!({"object_type": "project", "object_id": pid, "name": "E", "value": "v-123456"}),
            patch: json!({"name": "E2"}),
            patched: ("name", json!("E2")),
            put: true,
            locator: None,
        },
        Case {
            collection: "/environment",
            create: json!({"name": "Staging", "slug": "staging"}),
            patch: json!({"name": "Stage"}),
            patched: ("name", json!("Stage")),
            put: false,
            locator: None,
        },
        Case {
            collection: "/v1/view",
            create: json!({"object_type": "project", "object_id": pid, "view_type": "experiments", "name": "v"}),
            patch: json!({"object_type": "project", "object_id": pid, "view_data": {"custom_charts": {"a": 1}}}),
            patched: ("view_data", json!({"custom_charts": {"a": 1}})),
            put: true,
            locator: Some(locator.clone()),
        },
    ];
    for case in cases {
        let collection = case.collection;
        let query = match &case.locator {
            Some(_) => format!("?object_type=project&object_id={pid}"),
            None => String::new(),
        };
        let created = api.post(collection, case.create.clone()).await;
        assert_eq!(created.status, 200, "POST {collection}: {}", created.text);
        let oid = id(&created.body);
        let item = format!("{collection}/{oid}");
        let read = api.get(&format!("{item}{query}")).await;
        assert_eq!(read.body, created.body, "GET {item}");
        if case.put {
            let put = api.put(collection, case.create.clone()).await;
            assert_eq!(put.status, 200, "PUT {collection}: {}", put.text);
            assert_eq!(id(&put.body), oid, "PUT {collection} keeps the id");
        } else {
            assert_eq!(api.put(collection, case.create.clone()).await.status, 405);
        }
        let patched = api.patch(&item, case.patch.clone()).await;
        assert_eq!(patched.status, 200, "PATCH {item}: {}", patched.text);
        assert_eq!(patched.body[case.patched.0], case.patched.1, "PATCH {item}");
        assert!(
            api.ids(&format!("{collection}{query}"))
                .await
                .contains(&oid)
        );
        let deleted = match &case.locator {
            Some(locator) => api.delete_with(&item, locator.clone()).await,
            None => api.delete(&item).await,
        };
        assert_eq!(deleted.status, 200, "DELETE {item}: {}", deleted.text);
        assert_eq!(
            api.get(&format!("{item}{query}")).await.status,
            404,
            "GET {item} after DELETE"
        );
        assert_eq!(api.patch(&item, case.patch.clone()).await.status, 404);
        assert!(
            !api.ids(&format!("{collection}{query}"))
                .await
                .contains(&oid)
        );
    }
}

#[tokio::test]
async fn acls_and_service_tokens_read_and_delete_by_id() {
    let (emu, api) = start().await;
    let pid = project(&api, "p").await;
    let owner = id(&api.get("/v1/user").await.body["objects"][0]);
    let acl = api
        .post(
            "/v1/acl",
            json!({"object_type": "project", "object_id": pid, "user_id": owner, "permission": "read"}),
        )
        .await;
    let aid = id(&acl.body);
    assert_eq!(api.get(&format!("/v1/acl/{aid}")).await.body, acl.body);

    let bot = api.with_key(emu.service_token().expect("a seeded service token"));
    let tokens = api.get("/v1/service_token").await;
    let account = tokens.body["objects"][0]["service_account_id"]
        .as_str()
        .expect("the seeded token's account")
        .to_owned();
    let own = id(&tokens.body["objects"][0]);
    assert_eq!(
        bot.delete(&format!("/v1/service_token/{own}")).await.status,
        400,
        "a client cannot delete the credential it is using"
    );
    let token = bot
        .put(
            "/v1/service_token",
            json!({"name": "rotating", "service_account_id": account}),
        )
        .await;
    assert_eq!(token.status, 200, "{}", token.text);
    let rotated = bot
        .put(
            "/v1/service_token",
            json!({"name": "rotating", "service_account_id": account}),
        )
        .await;
    assert_eq!(
        id(&rotated.body),
        id(&token.body),
        "PUT replaces the token with the same name"
    );
    assert_ne!(rotated.body["key"], token.body["key"]);
    let old_key = token.body["key"].as_str().expect("key");
    assert_eq!(api.with_key(old_key).get("/v1/project").await.status, 401);
    let tid = id(&token.body);
    assert_eq!(
        api.get(&format!("/v1/service_token/{tid}")).await.status,
        200
    );
    assert_eq!(
        api.delete(&format!("/v1/service_token/{tid}")).await.status,
        200
    );
    assert_eq!(
        api.get(&format!("/v1/service_token/{tid}")).await.status,
        404
    );
}

/// The two profiles differ exactly where the real API is unsure (`emulator::profile`): a DELETE
/// body, `added_users` for invites, paging where the spec declares none, key previews. The
/// python client's ACL path (`/v1/acl/batch-update`) is served in both.
#[tokio::test]
async fn profiles_differ_only_where_the_api_is_unsure() {
    use bt_gitops::emulator::Profile;
    for profile in [Profile::real(), Profile::lenient()] {
        let real = profile == Profile::real();
        let emu = spawn(
            EmulatorConfig::default()
                .with_deterministic(true)
                .with_seed(two_orgs())
                .with_profile(profile),
        )
        .await
        .expect("emulator starts");
        let api = Client::new(emu.url(), emu.api_key());

        // A DELETE by id with the JSON body `null`, then without a body.
        let pid = project(&api, "doomed").await;
        let path = format!("/v1/project/{pid}");
        let with_null = api.delete_with(&path, Value::Null).await;
        assert_eq!(
            with_null.status,
            if real { 400 } else { 200 },
            "{}",
            with_null.text
        );
        if real {
            assert_eq!(api.delete(&path).await.status, 200);
        }

        // `added_users` for an invited member.
        let invited = api
            .patch(
                "/v1/organization/members",
                json!({"invite_users": {"emails": ["newcomer@example.com"]}}),
            )
            .await;
        assert_eq!(invited.status, 200, "{}", invited.text);
        assert_eq!(
            invited.body["added_users"].as_array().map(Vec::len),
            if real { None } else { Some(1) }
        );

        // `/environment` and paging parameters.
        for slug in ["a", "b", "c"] {
            let made = api
                .post("/environment", json!({"name": slug, "slug": slug}))
                .await;
            assert_eq!(made.status, 200, "{}", made.text);
        }
        let first = api.ids("/environment?limit=1").await;
        assert_eq!(first.len(), if real { 3 } else { 1 });
        let after = api
            .ids(&format!("/environment?starting_after={}", first[0]))
            .await;
        assert_eq!(after.len(), if real { 3 } else { 2 });

        // Key previews.
        let keys = api.get("/v1/api_key").await;
        let preview = keys.body["objects"][0]["preview_name"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert!(
            preview.contains(if real { "..." } else { "…" }),
            "{preview}"
        );

        // The python client's spelling of the ACL batch path.
        let gid = api.get("/v1/group?group_name=Viewers").await.body["objects"][0]["id"]
            .as_str()
            .expect("Viewers")
            .to_owned();
        let pid = project(&api, "kept").await;
        // Not a path of the spec, so sent without the schema checks of `api`.
        let batch = reqwest::Client::new()
            .post(format!("{}/v1/acl/batch-update", emu.url()))
            .bearer_auth(emu.api_key())
            .json(&json!({"add_acls": [{"object_type": "project", "object_id": pid, "group_id": gid, "permission": "read"}]}))
            .send()
            .await
            .expect("the emulator answers");
        assert_eq!(batch.status(), 200);
        let batch: Value = batch.json().await.expect("json");
        assert_eq!(batch["added_acls"].as_array().map(Vec::len), Some(1));
        // A body of whitespace alone is not JSON (every field of a batch being optional, `{}`
        // would pass); no body at all is the empty batch.
        for (body, status) in [("\t", 400), ("", 200)] {
            let answer = reqwest::Client::new()
                .post(format!("{}/v1/acl/batch_update", emu.url()))
                .bearer_auth(emu.api_key())
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .expect("the emulator answers");
            assert_eq!(answer.status(), status, "body {body:?}");
        }
        emu.shutdown().await;
    }
}

/// How a field is cleared (J15): a PATCH cannot set null, so a `null` member leaves the stored
/// value, and an empty string is stored as sent; a PUT replaces the object without the fields
/// it leaves out.
#[tokio::test]
async fn a_patch_of_the_empty_string_clears_text_and_null_leaves_it() {
    let (_emu, api) = start().await;
    let pid = project(&api, "clearing").await;
    let described = api
        .patch(
            &format!("/v1/project/{pid}"),
            json!({"description": "the project"}),
        )
        .await;
    assert_eq!(described.body["description"], "the project");
    let kept = api
        .patch(&format!("/v1/project/{pid}"), json!({"description": null}))
        .await;
    assert_eq!(kept.status, 200, "{}", kept.text);
    assert_eq!(kept.body["description"], "the project", "null is ignored");
    let cleared = api
        .patch(&format!("/v1/project/{pid}"), json!({"description": ""}))
        .await;
    assert_eq!(cleared.status, 200, "{}", cleared.text);
    assert_eq!(cleared.body["description"], "");

    let score = api
        .put(
            "/v1/project_score",
            json!({"project_id": pid, "name": "rule", "score_type": "online", "description": "d",
                   "config": {"online": {"sampling_rate": 0.5, "btql_filter": "a = 1",
                                         "scorers": [{"type": "global", "name": "Factuality"}]}}}),
        )
        .await;
    assert_eq!(score.status, 200, "{}", score.text);
    let sid = id(&score.body);
    let patched = api
        .patch(
            &format!("/v1/project_score/{sid}"),
            json!({"description": ""}),
        )
        .await;
    assert_eq!(patched.body["description"], "");
    assert_eq!(patched.body["config"]["online"]["btql_filter"], "a = 1");
    let replaced = api
        .put(
            "/v1/project_score",
            json!({"project_id": pid, "name": "rule", "score_type": "online",
                   "config": {"online": {"sampling_rate": 0.5,
                                         "scorers": [{"type": "global", "name": "Factuality"}]}}}),
        )
        .await;
    assert_eq!(id(&replaced.body), sid);
    assert!(
        replaced.body["config"]["online"]
            .get("btql_filter")
            .is_none(),
        "a PUT replaces the config: {}",
        replaced.body
    );
}
