//! Property tests: no input, however broken, makes the front half of the pipeline panic.
//!
//! Two generators: arbitrary bytes (mostly invalid YAML), and random YAML trees built from the
//! manifest vocabulary (every property name of the JSON Schema, so new kinds are covered), which
//! get past the parser and exercise lowering and the graph.

use bt_gitops::diag::{self, Style};
use bt_gitops::pipeline;
use bt_gitops::source::SourceMap;
use proptest::prelude::*;

/// Parses, lowers, builds the graph and renders every diagnostic.
fn check(text: &str) {
    let mut sources = SourceMap::new();
    sources.add("fuzz.yaml", text);
    let analysis = pipeline::analyze(&sources);
    let secrets = diag::secret_spans(&analysis.diagnostics);
    for d in &analysis.diagnostics {
        let _ = diag::render(d, &sources, Style::Plain, &secrets);
        let _ = d.short(&sources);
    }
    let _ = analysis.graph.topo_order();
}

const KEYS: &[&str] = &[
    "org",
    "project",
    "project_template",
    "template",
    "name",
    "members",
    "groups",
    "roles",
    "grants",
    "group",
    "role",
    "user",
    "permission",
    "permissions",
    "restrict_object_type",
    "inherits",
    "on",
    "tags",
    "color",
    "scores",
    "type",
    "categories",
    "value",
    "weights",
    "online_scoring",
    "sampling_rate",
    "scorers",
    "global",
    "function",
    "scope",
    "alerts",
    "interval",
    "notify",
    "webhook",
    "slack",
    "retention",
    "days",
    "object_type",
    "exports",
    "path",
    "credentials",
    "ai_secrets",
    "secret",
    "env",
    "env_vars",
    "state",
    "previous_names",
    "settings",
    "protect",
];

const SCALARS: &[&str] = &[
    "acme",
    "p",
    "x",
    "slider",
    "weighted",
    "categorical",
    "read",
    "Owners",
    "a@b.com",
    "1h",
    "0.5",
    "2",
    "-1",
    "absent",
    "true",
    "\"#fff\"",
    "https://h.example.com",
    "s3://b/p",
    "~",
    "''",
    "experiment",
    "project_logs",
];

/// [`KEYS`] and every property name of the manifest schema, so that a kind added to the manifest
/// language is fuzzed without being listed here.
fn keys() -> Vec<String> {
    fn collect(v: &serde_json::Value, out: &mut std::collections::BTreeSet<String>) {
        match v {
            serde_json::Value::Object(map) => {
                if let Some(serde_json::Value::Object(props)) = map.get("properties") {
                    out.extend(props.keys().cloned());
                }
                map.values().for_each(|v| collect(v, out));
            }
            serde_json::Value::Array(items) => items.iter().for_each(|v| collect(v, out)),
            _ => {}
        }
    }
    let mut out: std::collections::BTreeSet<String> =
        KEYS.iter().map(|k| (*k).to_owned()).collect();
    collect(&bt_gitops::manifest::schema::manifest_schema(), &mut out);
    out.into_iter().collect()
}

fn yaml_value() -> impl Strategy<Value = String> {
    let leaf = prop::sample::select(SCALARS).prop_map(str::to_owned);
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4)
                .prop_map(|items| format!("[{}]", items.join(", "))),
            prop::collection::vec((prop::sample::select(keys()), inner), 0..5).prop_map(|pairs| {
                let body: Vec<String> = pairs
                    .into_iter()
                    .map(|(k, v)| format!("{k}: {v}"))
                    .collect();
                format!("{{{}}}", body.join(", "))
            }),
        ]
    })
}

fn yaml_document() -> impl Strategy<Value = String> {
    (
        prop::sample::select(&["org", "project", "project_template", "name"][..]),
        prop::sample::select(SCALARS),
        prop::collection::vec((prop::sample::select(keys()), yaml_value()), 0..8),
    )
        .prop_map(|(head, name, fields)| {
            let mut doc = format!("{head}: {name}\n");
            for (k, v) in fields {
                doc.push_str(&format!("{k}: {v}\n"));
            }
            doc
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        check(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn arbitrary_yaml_never_panics(docs in prop::collection::vec(yaml_document(), 1..4)) {
        check(&docs.join("---\n"));
    }
}

#[test]
fn pathological_inputs_do_not_panic() {
    for text in [
        "",
        "---",
        "...",
        "--- ---",
        "\u{feff}org: a",
        "org: [",
        "org: &a [*a]",
        "? org\n: a",
        "org: !!binary aGk=",
        "org: a\n---\n%YAML 1.2\n---\nproject: p",
        "project: p\nscores: [{name: s, type: weighted, weights: {s: 1}}]",
        &"- ".repeat(2000),
        &format!("org: {}", "[".repeat(500)),
    ] {
        check(text);
    }
}
