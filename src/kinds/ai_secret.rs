//! The `ai_secret` kind: an AI provider credential of the org (provider type, metadata and a
//! write-only secret), on `/v1/ai_secret`. A special kind because of its secret: the scaffold
//! in `apply::ops` adds the metadata (with the digest record) and the value to the bodies built
//! here; these plain functions (and the lowering method on `Lowerer`) are called from the
//! scaffolds.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::diff::fields::Field;
use crate::manifest::raw::RawAiSecret;
use crate::manifest::spanned::Sp;
use crate::model::lower::{Cx, Lowerer};
use crate::model::{AiSecretSpec, Kind, ResourceKey, Spec};
use crate::wire::{CreateAiSecret, PatchAiSecret};

impl Lowerer<'_> {
    /// Checks one AI secret (its secret is a reference, never a literal) and inserts it.
    pub(crate) fn lower_ai_secret(&mut self, cx: Cx<'_>, s: &Sp<RawAiSecret>) {
        let at = cx.at;
        let Some(name) = self.name(at, &s.name) else {
            return;
        };
        let secret = self.secret(at, &s.secret, &format!("the secret of AI secret `{name}`"));
        let spec = AiSecretSpec {
            provider: s.provider.as_ref().map(|p| p.value.clone()),
            secret,
            metadata: s.metadata.clone(),
        };
        let protect = s.protect.as_ref().map(|p| p.value);
        let key = ResourceKey::in_org(cx.org, Kind::AiSecret, name.as_str());
        let span = self.span(at, &s.name);
        self.add(
            cx,
            key,
            Spec::AiSecret(spec),
            span,
            &s.state,
            protect,
            &s.previous_names,
        );
    }
}

/// The managed fields, in display order (see `diff::fields`); the secret is compared through
/// digests instead.
#[must_use]
pub fn fields(s: &AiSecretSpec) -> Vec<Field> {
    vec![
        ("type", s.provider.as_ref().map(|v| json!(v))),
        (
            "metadata",
            (!s.metadata.is_empty()).then(|| json!(s.metadata)),
        ),
    ]
}

/// The create body without metadata and secret, which the scaffold adds.
#[must_use]
pub fn create(s: &AiSecretSpec, name: &str, org_name: &str) -> CreateAiSecret {
    CreateAiSecret {
        name: name.to_owned(),
        r#type: s.provider.clone(),
        org_name: Some(org_name.to_owned()),
        metadata: None,
        secret: None,
    }
}

/// The patch body without metadata and secret; `rename` is the new name when renamed.
#[must_use]
pub fn patch(s: &AiSecretSpec, rename: Option<String>) -> PatchAiSecret {
    PatchAiSecret {
        name: rename,
        r#type: s.provider.clone(),
        ..PatchAiSecret::default()
    }
}

/// The spec of a listed AI secret, from its type and its metadata without bt-gitops's record.
#[must_use]
pub fn read(provider: Option<String>, metadata: BTreeMap<String, Value>) -> AiSecretSpec {
    AiSecretSpec {
        provider,
        secret: None,
        metadata,
    }
}

/// The manifest entry `import` writes: the secret is a stub naming the environment variable
/// `env` (empty values are dropped by the caller).
#[must_use]
pub fn manifest(name: &str, a: &AiSecretSpec, env: &str) -> Value {
    json!({ "name": name, "type": a.provider, "secret": { "env": env }, "metadata": a.metadata })
}
