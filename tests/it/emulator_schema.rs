//! Validation of emulator responses against the official Braintrust OpenAPI spec, and the HTTP
//! test client that applies it to every response the emulator tests receive.
//!
//! The spec is read at test time from `../shared/braintrust-openapi/spec.json` (relative to the
//! crate root) and converted from OpenAPI 3.0 to JSON Schema 2020-12 (`nullable: true` becomes a
//! type union or an `anyOf` with `null`; boolean `exclusiveMinimum` becomes numeric). When the file
//! is absent, every test prints once that schema validation was skipped, and runs the rest.

use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use reqwest::Method;
use serde_json::{Value, json};

const SPEC_PATH: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/braintrust-openapi/spec.json"
);

/// The converted spec, or `None` when the file is absent.
fn spec() -> Option<&'static Value> {
    static SPEC: OnceLock<Option<Value>> = OnceLock::new();
    SPEC.get_or_init(|| {
        let Ok(text) = fs_err::read_to_string(SPEC_PATH) else {
            // Straight to the process's stderr, past the test harness's capture, so that a
            // passing run still says that it checked less than it could.
            let _ = writeln!(
                std::io::stderr(),
                "NOTE: response schema validation SKIPPED: the official spec `{SPEC_PATH}` is absent"
            );
            return None;
        };
        let mut spec: Value = serde_json::from_str(&text).expect("the spec is JSON");
        convert(&mut spec);
        Some(spec)
    })
    .as_ref()
}

/// Whether responses are checked against the spec (false when the spec file is absent).
pub fn schema_checks_enabled() -> bool {
    spec().is_some()
}

/// OpenAPI 3.0 schema -> JSON Schema 2020-12, in place.
fn convert(value: &mut Value) {
    match value {
        Value::Array(items) => items.iter_mut().for_each(convert),
        Value::Object(map) => {
            for child in map.values_mut() {
                convert(child);
            }
            if map.get("nullable") == Some(&Value::Bool(true)) {
                map.remove("nullable");
                match map.get("type").cloned() {
                    Some(Value::String(t)) => {
                        map.insert("type".into(), json!([t, "null"]));
                    }
                    _ if ["$ref", "allOf", "anyOf", "oneOf"]
                        .iter()
                        .any(|k| map.contains_key(*k)) =>
                    {
                        let inner = Value::Object(std::mem::take(map));
                        map.insert("anyOf".into(), json!([inner, {"type": "null"}]));
                    }
                    _ => {}
                }
            } else if map.get("nullable") == Some(&Value::Bool(false)) {
                map.remove("nullable");
            }
            for (flag, bound) in [
                ("exclusiveMinimum", "minimum"),
                ("exclusiveMaximum", "maximum"),
            ] {
                match map.get(flag) {
                    Some(Value::Bool(true)) => {
                        let limit = map.remove(bound).unwrap_or(json!(0));
                        map.insert(flag.into(), limit);
                    }
                    Some(Value::Bool(false)) => {
                        map.remove(flag);
                    }
                    _ => {}
                }
            }
        }
        _ => {}
    }
}

/// Escapes a path template as a JSON pointer segment inside a URI fragment.
fn pointer_escape(segment: &str) -> String {
    segment
        .replace('~', "~0")
        .replace('/', "~1")
        .replace('{', "%7B")
        .replace('}', "%7D")
}

/// The spec path template that a concrete path matches (`/v1/project/abc` -> `/v1/project/{project_id}`).
fn template(spec: &Value, path: &str) -> Option<String> {
    let concrete: Vec<&str> = path.split('/').collect();
    let mut best: Option<(usize, String)> = None;
    for candidate in spec["paths"].as_object()?.keys() {
        let parts: Vec<&str> = candidate.split('/').collect();
        if parts.len() != concrete.len() {
            continue;
        }
        let mut literal = 0;
        let matches = parts.iter().zip(&concrete).all(|(t, c)| {
            if t.starts_with('{') {
                true
            } else if t == c {
                literal += 1;
                true
            } else {
                false
            }
        });
        if matches && best.as_ref().is_none_or(|(n, _)| literal > *n) {
            best = Some((literal, candidate.clone()));
        }
    }
    best.map(|(_, t)| t)
}

fn validator(pointer: &str) -> Arc<jsonschema::Validator> {
    static CACHE: OnceLock<Mutex<HashMap<String, Arc<jsonschema::Validator>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(v) = cache.lock().expect("cache lock").get(pointer) {
        return v.clone();
    }
    let mut root = spec().expect("spec present").clone();
    root.as_object_mut()
        .expect("spec object")
        .insert("$ref".into(), Value::String(format!("#{pointer}")));
    let validator = Arc::new(
        jsonschema::options()
            .with_draft(jsonschema::Draft::Draft202012)
            .should_validate_formats(true)
            .build(&root)
            .unwrap_or_else(|e| panic!("cannot compile the spec schema at {pointer}: {e}")),
    );
    cache
        .lock()
        .expect("cache lock")
        .insert(pointer.to_owned(), validator.clone());
    validator
}

/// Asserts that a response body matches the spec's 200 schema of `method path`, or that an error
/// body is `{"error": "..."}`.
#[track_caller]
pub fn check_response(method: &Method, path: &str, status: u16, body: &Value) {
    if status != 200 {
        assert!(
            body.get("error").and_then(Value::as_str).is_some(),
            "{method} {path}: error {status} without an `error` message: {body}"
        );
        return;
    }
    let Some(spec) = spec() else {
        return;
    };
    let template =
        template(spec, path).unwrap_or_else(|| panic!("{method} {path}: no such path in the spec"));
    let op = method.as_str().to_ascii_lowercase();
    let content = &spec["paths"][&template][&op]["responses"]["200"]["content"];
    assert!(
        !content.is_null(),
        "{method} {template}: the spec has no 200 response"
    );
    if content.get("application/json").is_none() {
        return;
    }
    let pointer = format!(
        "/paths/{}/{op}/responses/200/content/application~1json/schema",
        pointer_escape(&template)
    );
    let validator = validator(&pointer);
    let errors: Vec<String> = validator
        .iter_errors(body)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{method} {path}: the response does not match the spec ({template}):\n{}\nbody: {body}",
        errors.join("\n")
    );
}

/// A test client for one credential; every JSON response it receives is checked with [`check_response`].
#[derive(Clone)]
pub struct Client {
    pub http: reqwest::Client,
    pub url: String,
    pub key: String,
}

/// A response: status, `Retry-After` if any, and the JSON body (`Value::Null` for an empty body).
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
    pub text: String,
    pub retry_after: Option<String>,
}

impl Client {
    pub fn new(url: &str, key: &str) -> Client {
        Client {
            http: reqwest::Client::builder()
                .no_proxy()
                .build()
                .expect("client"),
            url: url.to_owned(),
            key: key.to_owned(),
        }
    }

    /// The same emulator with another credential.
    pub fn with_key(&self, key: &str) -> Client {
        Client {
            key: key.to_owned(),
            ..self.clone()
        }
    }

    /// Sends a request and checks the response against the spec.
    pub async fn send(&self, method: Method, path_and_query: &str, body: Option<Value>) -> Reply {
        let mut request = self
            .http
            .request(method.clone(), format!("{}{path_and_query}", self.url))
            .bearer_auth(&self.key);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("the emulator answers");
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let text = response.text().await.expect("a body");
        let body: Value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|e| {
                panic!("{method} {path_and_query}: body is not JSON ({e}): {text}")
            })
        };
        let path = path_and_query.split('?').next().unwrap_or("");
        check_response(&method, path, status, &body);
        Reply {
            status,
            body,
            text,
            retry_after,
        }
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.send(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Reply {
        self.send(Method::POST, path, Some(body)).await
    }

    pub async fn put(&self, path: &str, body: Value) -> Reply {
        self.send(Method::PUT, path, Some(body)).await
    }

    pub async fn patch(&self, path: &str, body: Value) -> Reply {
        self.send(Method::PATCH, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> Reply {
        self.send(Method::DELETE, path, None).await
    }

    pub async fn delete_with(&self, path: &str, body: Value) -> Reply {
        self.send(Method::DELETE, path, Some(body)).await
    }

    /// GET a list and return the ids of its objects, in order.
    pub async fn ids(&self, path: &str) -> Vec<String> {
        let reply = self.get(path).await;
        assert_eq!(reply.status, 200, "GET {path}: {}", reply.text);
        reply.body["objects"]
            .as_array()
            .expect("objects")
            .iter()
            .map(|o| o["id"].as_str().expect("id").to_owned())
            .collect()
    }
}

#[test]
fn conversion_turns_nullable_into_unions() {
    let mut schema = json!({
        "type": "object",
        "properties": {
            "a": {"type": "string", "nullable": true},
            "b": {"$ref": "#/x", "nullable": true},
            "c": {"type": "integer", "minimum": 0, "exclusiveMinimum": true},
        }
    });
    convert(&mut schema);
    assert_eq!(schema["properties"]["a"]["type"], json!(["string", "null"]));
    assert_eq!(
        schema["properties"]["b"],
        json!({"anyOf": [{"$ref": "#/x"}, {"type": "null"}]})
    );
    assert_eq!(
        schema["properties"]["c"],
        json!({"type": "integer", "exclusiveMinimum": 0})
    );
}
