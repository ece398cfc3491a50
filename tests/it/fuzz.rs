//! Property tests: no input, however broken, makes the front half of the pipeline panic.
//!
//! Two generators: arbitrary bytes (mostly invalid YAML), and random YAML trees built from the
//! manifest vocabulary (every property name of the JSON Schema, so new kinds are covered), which
//! get past the parser and exercise lowering and the graph. Every
//! diagnostic must carry a location. A third target feeds the renderer arbitrary text, spans
//! and positions (far past column 65,535 included).
//!
//! CI runs 256 cases per target; set `PROPTEST_CASES` to run more (e.g. `PROPTEST_CASES=20000
//! cargo test --release --test it fuzz`).

use bt_gitops::diag::{self, Style};
use bt_gitops::pipeline;
use bt_gitops::source::{SourceMap, Span};
use proptest::prelude::*;

/// Parses, lowers, builds the graph and renders every diagnostic.
fn check(text: &str) {
    let mut sources = SourceMap::new();
    sources.add("fuzz.yaml", text);
    let analysis = pipeline::analyze(&sources);
    let secrets = diag::secret_spans(&analysis.diagnostics);
    for d in &analysis.diagnostics {
        assert!(
            d.primary_span().is_some(),
            "diagnostic without a location: {d:?}\ninput: {text:?}"
        );
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

/// Cases per property: 256, or `PROPTEST_CASES`.
fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(256)
}

/// Renders a diagnostic with labels at arbitrary (possibly out-of-range) positions of `text`, in
/// both styles: it must return text starting with the header, never panic.
fn render_at(text: &str, spans: &[(usize, usize)]) {
    let mut sources = SourceMap::new();
    let file = sources.add("fuzz.yaml", text);
    let mut d = diag::Diagnostic::error(diag::Code::YamlSyntax, "fuzz");
    for (start, len) in spans {
        d = d.with_label(Span::new(file, *start, *len), "here");
    }
    let redactions: Vec<Span> = spans.iter().map(|(s, l)| Span::new(file, *s, *l)).collect();
    for style in [Style::Plain, Style::Fancy] {
        let shown = diag::render(&d, &sources, style, &redactions[..1]);
        assert!(shown.starts_with("error[E0001]: fuzz"), "{shown}");
    }
}

/// Text with some very long lines (up to 80,000 characters, multi-byte ones included).
fn long_lines() -> impl Strategy<Value = String> {
    prop::collection::vec(
        (
            prop::sample::select(&["a", "é", "\t", "🦀", " ", "x: "][..]),
            0usize..80_000,
        ),
        1..4,
    )
    .prop_map(|lines| {
        lines
            .into_iter()
            .map(|(unit, n)| unit.repeat(n / unit.len().max(1)))
            .collect::<Vec<_>>()
            .join("\n")
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn renderer_never_panics_at_any_position(
        text in long_lines(),
        spans in prop::collection::vec((0usize..400_000, 0usize..100_000), 1..4),
    ) {
        render_at(&text, &spans);
    }

    #[test]
    fn renderer_never_panics_on_arbitrary_text(
        bytes in prop::collection::vec(any::<u8>(), 0..512),
        spans in prop::collection::vec((0usize..600, 0usize..600), 1..4),
    ) {
        render_at(&String::from_utf8_lossy(&bytes), &spans);
    }

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
