//! The `ai_provider` kind: an AI provider key of a project (provider type, settings in
//! `metadata`, a write-only key), which overrides the org's AI secret of the same provider.
//! The API keeps it in the project's env var list, `/v1/env_var` with `object_type: project`,
//! told apart from env vars by `secret_category: ai_provider`; env vars and AI providers of a
//! project share one name space. Whether a write with a provider `secret_type` is filed under
//! that category is unconfirmed (`docs/api-assumptions.md` S12): `apply::ops` creates one with
//! `POST /v1/env_var`, checks the answer's category and deletes again what it made when the
//! server filed it as a plain env var.
//!
//! Plain functions called from the scaffolds (`model::lower`, `diff::fields`, `apply::ops`,
//! `api::read`, `import`, `reconcile`), like `ai_secret` and `env_var`: the scaffold in
//! `apply::ops` adds the metadata (with the digest record) and the value to the bodies built
//! here.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::diag::{Code, Diagnostic};
use crate::diff::fields::Field;
use crate::manifest::clearable::refuse_null;
use crate::manifest::raw::State;
use crate::manifest::spanned::Sp;
use crate::manifest::values::SecretRef;
use crate::model::lower::{Cx, Lowerer};
use crate::model::{Kind, ResourceKey, SecretSource, Spec};
use crate::source::Span;
use crate::wire::{self, CreateEnvVar, EnvVarObjectType, Id, PatchEnvVar};

/// An AI provider key of a project. The key comes from the environment or a file, never from
/// the manifest.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(transform = crate::manifest::raw::tombstone_schema::<RawAiProvider>)]
pub struct RawAiProvider {
    /// The provider's name in the project (shared with the project's env vars).
    pub name: Sp<String>,
    /// Provider: `openai`, `anthropic`, `google`, `mistral`, `bedrock`, `azure`... (the API's
    /// `secret_type`).
    #[serde(rename = "type")]
    #[serde(default, deserialize_with = "refuse_null")]
    #[schemars(with = "Sp<String>")]
    pub provider: Option<Sp<String>>,
    /// `{ env: NAME }` or `{ file: PATH }`.
    pub secret: Option<Sp<SecretRef>>,
    /// Provider-specific settings (endpoints, deployments...). Only the keys given are
    /// compared; other keys of the live provider are kept.
    #[serde(default)]
    pub metadata: BTreeMap<String, Value>,
    /// Refuse to delete this provider. Defaults to true for AI providers.
    pub protect: Option<Sp<bool>>,
    #[serde(default)]
    pub previous_names: Vec<Sp<String>>,
    #[serde(default)]
    pub state: Option<Sp<State>>,
}

impl crate::manifest::raw::TombstoneFields for RawAiProvider {
    const REQUIRED_UNLESS_ABSENT: &'static [&'static str] = &["type"];
    fn first_missing(&self) -> Option<&'static str> {
        crate::manifest::raw::first_unset(&self.state, &[("type", self.provider.is_some())])
    }
}

/// The managed fields of a project AI provider.
#[derive(Debug, Clone, PartialEq)]
pub struct AiProviderSpec {
    /// The API's `secret_type`.
    pub provider: String,
    pub secret: Option<SecretSource>,
    /// The declared settings; only these keys are compared and written.
    pub metadata: BTreeMap<String, Value>,
}

/// Checks one manifest entry (type required unless a tombstone, the key a reference, its name
/// not taken by an env var of the project) and adds it to the desired state.
pub(crate) fn lower(lw: &mut Lowerer<'_>, cx: Cx<'_>, p: &Sp<RawAiProvider>) {
    let at = cx.at;
    let Some(name) = lw.name(at, &p.name) else {
        return;
    };
    let span = lw.span(at, &p.name);
    let provider = if super::tombstone_only(&p.state, [p.provider.is_none()]) {
        // Only the name identifies it; a tombstone's spec is never compared or sent.
        String::new()
    } else {
        match lw.required(span, &p.provider, "type") {
            Some(t) => t.value.clone(),
            None => return,
        }
    };
    let secret = lw.secret(at, &p.secret, &format!("the key of AI provider `{name}`"));
    let Some(key) = Lowerer::project_key(cx, Kind::AiProvider, name.as_str()) else {
        return;
    };
    if name_taken(lw, cx, &key, span) {
        return;
    }
    let spec = AiProviderSpec {
        provider,
        secret,
        metadata: p.metadata.clone(),
    };
    let protect = p.protect.as_ref().map(|v| v.value);
    if let Some(key) = lw.add(
        cx,
        key,
        Spec::AiProvider(spec),
        span,
        &p.state,
        protect,
        &p.previous_names,
    ) {
        lw.depend_on_project(cx, &key, span);
    }
}

/// Whether the project already declares an object of a kind sharing `key`'s name space (a
/// project's env vars and AI providers, S8, S12) under its name: reported as error E0201 (a
/// template's entry is left out silently, as the project's own entries replace a template's),
/// and the object is not added.
pub(crate) fn name_taken(lw: &mut Lowerer<'_>, cx: Cx<'_>, key: &ResourceKey, span: Span) -> bool {
    for other in key.kind.shares_names_with() {
        let other_key = ResourceKey {
            kind: *other,
            ..key.clone()
        };
        let Some(existing) = lw.state.resources.get(&other_key) else {
            continue;
        };
        if !cx.from_template {
            lw.diags.push(
                Diagnostic::error(
                    Code::DuplicateObject,
                    format!(
                        "`{}` is declared both as an {} and as an {} of project `{}`",
                        key.name,
                        key.kind.human(),
                        other.human(),
                        cx.project.map(|p| p.as_str()).unwrap_or_default()
                    ),
                )
                .with_label(span, format!("{} declared here", key.kind.human()))
                .with_label(existing.span, format!("{} with the same name", other.human()))
                .with_hint(
                    "a project's env vars and AI providers share one name space: rename one of them; to turn one into the other, delete it in one apply and declare the other in the next",
                ),
            );
        }
        return true;
    }
    false
}

/// The managed fields, in display order (see `diff::fields`): the metadata is compared key by
/// key, only the keys declared; the key itself is compared through digests instead.
#[must_use]
pub fn fields(s: &AiProviderSpec) -> Vec<Field> {
    vec![
        ("type", (!s.provider.is_empty()).then(|| json!(s.provider))),
        (
            "metadata",
            (!s.metadata.is_empty()).then(|| json!(s.metadata)),
        ),
    ]
}

/// The create body (`POST /v1/env_var`) without metadata and key, which the scaffold adds.
#[must_use]
pub fn create(s: &AiProviderSpec, name: &str, project_id: Id) -> CreateEnvVar {
    CreateEnvVar {
        object_type: EnvVarObjectType::Project,
        object_id: project_id,
        name: name.to_owned(),
        value: None,
        metadata: None,
        secret_type: Some(s.provider.clone()),
    }
}

/// The patch body without metadata and key (the API requires the name on every patch: the new
/// one when renamed).
#[must_use]
pub fn patch(s: &AiProviderSpec, name: &str) -> PatchEnvVar {
    PatchEnvVar {
        name: name.to_owned(),
        value: None,
        metadata: None,
        secret_type: (!s.provider.is_empty()).then(|| s.provider.clone()),
    }
}

/// The metadata an update sends (before the scaffold adds the digest record): the live map
/// without bt-gitops's record, with the declared keys set. Keys the manifest does not declare
/// are sent back as they are, so the result is the same whether the PATCH deep-merges the map
/// or replaces it (S12).
#[must_use]
pub fn metadata_to_send(
    declared: &BTreeMap<String, Value>,
    live: Option<&Value>,
    record_key: &str,
) -> BTreeMap<String, Value> {
    let mut out: BTreeMap<String, Value> = live
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter(|(k, _)| k.as_str() != record_key)
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
        .unwrap_or_default();
    out.extend(declared.iter().map(|(k, v)| (k.clone(), v.clone())));
    out
}

/// Whether an entry of a project's env var list is an AI provider (`secret_category:
/// ai_provider`).
#[must_use]
pub fn is_ai_provider(v: &wire::EnvVar) -> bool {
    v.object_type == EnvVarObjectType::Project
        && v.secret_category == Some(wire::SecretCategory::AiProvider)
}

/// The spec of a listed project AI provider, from its type and its metadata without
/// bt-gitops's record.
#[must_use]
pub fn read(v: &wire::EnvVar, metadata: BTreeMap<String, Value>) -> AiProviderSpec {
    AiProviderSpec {
        provider: v.secret_type.clone().unwrap_or_default(),
        secret: None,
        metadata,
    }
}

/// What an answer to the create says about the S12 question: `None` when the server filed the
/// entry as an AI provider, else why not (the category it answered).
#[must_use]
pub fn not_filed_as_provider(answer: &Value) -> Option<String> {
    match answer.get("secret_category").and_then(Value::as_str) {
        Some("ai_provider") => None,
        Some(other) => Some(format!("`secret_category: {other}`")),
        None => Some("no `secret_category`".to_owned()),
    }
}

/// Whether the answer's metadata holds the digest record `digest` (the one this very write put
/// there): the entry is then the one the write made, not an existing entry returned unmodified.
#[must_use]
pub fn holds_record(answer: &Value, record_key: &str, digest: Option<&str>) -> bool {
    let Some(digest) = digest else {
        return false;
    };
    answer
        .pointer(&format!("/metadata/{record_key}/digest"))
        .and_then(Value::as_str)
        == Some(digest)
}

/// The plan note on every AI provider create: S12 is unconfirmed, and what apply does when the
/// server files the entry as a plain env var.
#[must_use]
pub fn create_note(address: &str) -> String {
    format!(
        "`{address}`: whether the API files an env var written with a provider `secret_type` as an AI provider is unconfirmed (docs/api-assumptions.md S12); if the server files it as a plain env var, apply deletes the entry it just made and fails this change"
    )
}

/// The manifest entry `import` writes: the key is a stub naming the environment variable `env`
/// (empty values are dropped by the caller).
#[must_use]
pub fn manifest(name: &str, p: &AiProviderSpec, env: &str) -> Value {
    json!({ "name": name, "type": p.provider, "secret": { "env": env }, "metadata": p.metadata })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_update_sends_the_live_keys_it_does_not_declare_but_not_the_record() {
        let declared: BTreeMap<String, Value> = [("api_base".to_owned(), json!("https://new"))]
            .into_iter()
            .collect();
        let live = json!({ "api_base": "https://old", "ui_setting": "kept", "bt_gitops": { "digest": "d" } });
        let sent = metadata_to_send(&declared, Some(&live), "bt_gitops");
        assert_eq!(
            json!(sent),
            json!({ "api_base": "https://new", "ui_setting": "kept" })
        );
        assert_eq!(
            json!(metadata_to_send(&declared, None, "bt_gitops")),
            json!(declared)
        );
    }

    #[test]
    fn the_answer_tells_the_category_and_whose_entry_it_is() {
        let ours = json!({ "secret_category": "env_var", "metadata": { "bt_gitops": { "digest": "abc" } } });
        assert_eq!(
            not_filed_as_provider(&ours).as_deref(),
            Some("`secret_category: env_var`")
        );
        assert!(not_filed_as_provider(&json!({ "secret_category": "ai_provider" })).is_none());
        assert!(not_filed_as_provider(&json!({})).is_some());
        assert!(holds_record(&ours, "bt_gitops", Some("abc")));
        assert!(!holds_record(&ours, "bt_gitops", Some("other")));
        assert!(!holds_record(&ours, "bt_gitops", None));
    }
}
