//! The emulator's functions, prompts, experiments and datasets over real HTTP: the list filters
//! first-party `bt` uses, create (POST, and PUT for functions and prompts), get by id, patch
//! (a new `_xact_id` for functions and prompts), delete, and the project cascade. Every response
//! is checked against the official spec by the test client.

use serde_json::{Value, json};

use crate::emulator::start;

fn id(reply: &Value) -> String {
    reply["id"].as_str().expect("an id").to_owned()
}

#[tokio::test]
async fn functions_prompts_experiments_and_datasets_are_served_with_their_filters() {
    let (_emu, api) = start().await;
    let p = api.post("/v1/project", json!({"name": "evals"})).await;
    assert_eq!(p.status, 200, "{}", p.text);
    let pid = id(&p.body);

    // Functions: by slug in a project, versioned by `_xact_id`.
    let judge = api
        .post(
            "/v1/function",
            json!({"project_id": pid, "name": "Session judge", "slug": "session-judge",
                   "function_type": "scorer", "function_data": {"type": "prompt"}}),
        )
        .await;
    assert_eq!(judge.status, 200, "{}", judge.text);
    assert_eq!(judge.body["log_id"], "p");
    let fid = id(&judge.body);
    let v1 = judge.body["_xact_id"]
        .as_str()
        .expect("a version")
        .to_owned();
    let by_slug = api
        .ids(&format!("/v1/function?project_id={pid}&slug=session-judge"))
        .await;
    assert_eq!(by_slug, vec![fid.clone()]);
    assert!(
        api.ids("/v1/function?project_name=evals&slug=other")
            .await
            .is_empty()
    );
    assert_eq!(
        api.ids(&format!(
            "/v1/function?project_name=evals&slug=session-judge&version={v1}"
        ))
        .await,
        vec![fid.clone()]
    );
    let patched = api
        .patch(
            &format!("/v1/function/{fid}"),
            json!({"description": "LLM judge"}),
        )
        .await;
    assert_eq!(patched.status, 200, "{}", patched.text);
    let v2 = patched.body["_xact_id"]
        .as_str()
        .expect("a version")
        .to_owned();
    assert_ne!(v1, v2, "a patch makes a new version");
    // Every version is kept: `version=` answers the function as it was then.
    let old = api
        .get(&format!(
            "/v1/function?project_id={pid}&slug=session-judge&version={v1}"
        ))
        .await;
    assert_eq!(old.body["objects"][0]["id"], fid.as_str(), "{}", old.text);
    assert_eq!(
        old.body["objects"][0]["_xact_id"],
        v1.as_str(),
        "{}",
        old.text
    );
    assert!(
        old.body["objects"][0]
            .get("description")
            .is_none_or(Value::is_null),
        "{}",
        old.text
    );
    assert_eq!(
        api.ids(&format!(
            "/v1/function?project_id={pid}&slug=session-judge&version={v2}"
        ))
        .await,
        vec![fid.clone()]
    );
    assert!(
        api.ids(&format!(
            "/v1/function?project_id={pid}&slug=session-judge&version=1"
        ))
        .await
        .is_empty(),
        "a version the function never had matches nothing"
    );
    assert_eq!(
        api.get(&format!("/v1/function/{fid}")).await.body["description"],
        "LLM judge"
    );
    let missing_data = api
        .post(
            "/v1/function",
            json!({"project_id": pid, "name": "x", "slug": "x"}),
        )
        .await;
    assert_eq!(missing_data.status, 400);

    // Prompts.
    let prompt = api
        .put(
            "/v1/prompt",
            json!({"project_id": pid, "name": "Greeter", "slug": "greeter"}),
        )
        .await;
    assert_eq!(prompt.status, 200, "{}", prompt.text);
    assert_eq!(
        api.ids("/v1/prompt?project_name=evals&slug=greeter").await,
        vec![id(&prompt.body)]
    );

    // Experiments: by name; unnamed ones get a name.
    let exp = api
        .post(
            "/v1/experiment",
            json!({"project_id": pid, "name": "baseline-2026-10"}),
        )
        .await;
    assert_eq!(exp.status, 200, "{}", exp.text);
    assert_eq!(exp.body["public"], false);
    assert_eq!(
        api.ids("/v1/experiment?project_name=evals&experiment_name=baseline-2026-10")
            .await,
        vec![id(&exp.body)]
    );
    let unnamed = api.post("/v1/experiment", json!({"project_id": pid})).await;
    assert!(unnamed.body["name"].as_str().is_some_and(|n| !n.is_empty()));

    // Datasets: by name, never rows.
    let ds = api
        .post(
            "/v1/dataset",
            json!({"project_id": pid, "name": "Golden Questions", "description": "d"}),
        )
        .await;
    assert_eq!(ds.status, 200, "{}", ds.text);
    assert_eq!(ds.body["url_slug"], "golden-questions");
    let did = id(&ds.body);
    assert_eq!(
        api.ids(&format!(
            "/v1/dataset?project_id={pid}&dataset_name=Golden%20Questions"
        ))
        .await,
        vec![did.clone()]
    );
    // A grant on the dataset needs it to exist.
    let acl = api
        .post(
            "/v1/acl",
            json!({"object_type": "dataset", "object_id": did, "group_id": null,
                   "user_id": null, "permission": "read"}),
        )
        .await;
    assert_eq!(
        acl.status, 400,
        "an ACL names a user or a group: {}",
        acl.text
    );
    let nowhere = api
        .post(
            "/v1/acl",
            json!({"object_type": "dataset", "object_id": fid, "permission": "read",
                   "user_id": "00000000-0000-4000-8000-000000000999"}),
        )
        .await;
    assert_eq!(nowhere.status, 400, "no such dataset: {}", nowhere.text);

    // Deleting the project leaves them readable by id (P10, answer B, both profiles).
    assert_eq!(api.delete(&format!("/v1/project/{pid}")).await.status, 200);
    assert_eq!(api.get(&format!("/v1/project/{pid}")).await.status, 404);
    assert_eq!(api.get(&format!("/v1/function/{fid}")).await.status, 200);
    assert_eq!(api.get(&format!("/v1/dataset/{did}")).await.status, 200);
}
