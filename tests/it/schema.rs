//! The committed JSON Schema matches what `bt-gitops schema` prints.

use crate::support::{root, run_in};

#[test]
fn committed_schema_is_current() {
    let run = run_in(&root(), &["schema"]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let path = root().join("schemas/manifest.schema.json");
    let committed = fs_err::read_to_string(&path).unwrap_or_default();
    if std::env::var_os("UPDATE_SCHEMA").is_some() {
        fs_err::write(&path, &run.stdout).expect("schema written");
        return;
    }
    assert!(
        committed == run.stdout,
        "schemas/manifest.schema.json is stale; regenerate it with:\n\n    cargo run -- schema > schemas/manifest.schema.json\n"
    );
}

#[test]
fn schema_describes_both_document_kinds() {
    let schema: serde_json::Value =
        serde_json::from_str(&bt_gitops::manifest::schema::manifest_schema_json())
            .expect("valid JSON");
    let defs = &schema["$defs"];
    assert_eq!(defs["RawOrg"]["required"], serde_json::json!(["org"]));
    assert_eq!(
        defs["RawOrg"]["additionalProperties"],
        serde_json::json!(false)
    );
    assert!(defs["RawProject"]["properties"]["online_scoring"].is_object());
    assert!(defs["RawTag"]["properties"]["color"]["description"].is_string());
}
