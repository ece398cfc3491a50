//! The JSON Schema of a manifest document, generated from the [`raw`](super::raw) types.
//!
//! `schemas/manifest.schema.json` is this output; a test fails when the committed file is stale.

use schemars::generate::SchemaSettings;

use super::raw::{RawOrg, RawProject};

/// The schema as pretty-printed JSON, with a trailing newline.
#[must_use]
pub fn manifest_schema_json() -> String {
    let mut json = serde_json::to_string_pretty(&manifest_schema()).unwrap_or_default();
    json.push('\n');
    json
}

/// The schema of one manifest document: an org document or a project (template) document.
#[must_use]
pub fn manifest_schema() -> serde_json::Value {
    let mut generator = SchemaSettings::draft2020_12().into_generator();
    let org = generator.subschema_for::<RawOrg>();
    let project = generator.subschema_for::<RawProject>();
    let mut defs = serde_json::Map::new();
    for (name, schema) in generator.take_definitions(true) {
        defs.insert(name, schema);
    }
    // A project document is told apart by `project` or `project_template`.
    if let Some(serde_json::Value::Object(project_def)) = defs.get_mut("RawProject") {
        project_def.insert(
            "anyOf".into(),
            serde_json::json!([{ "required": ["project"] }, { "required": ["project_template"] }]),
        );
    }
    serde_json::json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://bt-gitops.dev/schemas/manifest.schema.json",
        "title": "bt-gitops manifest document",
        "description": "One YAML document of a bt-gitops manifest tree: an org (`org:`), a project (`project:`) or a project template (`project_template:`).",
        "anyOf": [org, project],
        "$defs": defs,
    })
}
