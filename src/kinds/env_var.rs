//! The `env_var` kind: an environment variable with a write-only value, at the org or in a
//! project (function-level ones are declared but not written yet), on `/v1/env_var`. A special
//! kind because of its value and its two scopes: the scaffold in `apply::ops` adds the metadata
//! (with the digest record) and the value to the bodies built here; these plain functions (and
//! the lowering method on `Lowerer`) are called from the scaffolds.

use serde_json::{Value, json};

use super::{BodyError, Ids};
use crate::manifest::raw::RawEnvVar;
use crate::manifest::spanned::Sp;
use crate::model::lower::{Cx, Lowerer};
use crate::model::{EnvVarScope, EnvVarSpec, Kind, OrgName, ResourceKey, Spec};
use crate::wire::{CreateEnvVar, EnvVarObjectType, Id, PatchEnvVar};

impl Lowerer<'_> {
    /// Checks one env var of an org or project document (its value is a reference, never a
    /// literal; `function` only in a project) and inserts it; a project's env var depends on
    /// its project.
    pub(crate) fn lower_env_var(&mut self, cx: Cx<'_>, e: &Sp<RawEnvVar>) {
        let at = cx.at;
        let Some(name) = self.name(at, &e.name) else {
            return;
        };
        let value = self.secret(
            at,
            &e.value.value,
            &format!("the value of env var `{name}`"),
        );
        let (scope, key_name) = match (cx.project, &e.function) {
            (None, None) => (EnvVarScope::Org, name.to_string()),
            (None, Some(f)) => {
                self.not_allowed(
                    at,
                    f,
                    "`function` is only allowed on env vars in a project document".into(),
                    "move this env var into the document of the project that holds the function",
                );
                return;
            }
            (Some(p), None) => (EnvVarScope::Project(p.clone()), name.to_string()),
            (Some(p), Some(f)) => (
                EnvVarScope::Function {
                    project: p.clone(),
                    slug: f.value.clone(),
                },
                format!("function:{}/{name}", f.value),
            ),
        };
        let project_level = matches!(scope, EnvVarScope::Project(_));
        let spec = Spec::EnvVar(EnvVarSpec { name, scope, value });
        let key = match cx.project {
            Some(p) => ResourceKey::in_project(cx.org, p, Kind::EnvVar, key_name),
            None => ResourceKey::in_org(cx.org, Kind::EnvVar, key_name),
        };
        let span = self.span(at, &e.name);
        // A project's env vars share their names with its AI providers (S12).
        if project_level && super::ai_provider::name_taken(self, cx, &key, span) {
            return;
        }
        if let Some(key) = self.add(cx, key, spec, span, &e.state, None, &[]) {
            self.depend_on_project(cx, &key, span);
        }
    }
}

/// The object an env var belongs to, by id.
///
/// # Errors
/// When that object has no id, or a function-level env var's function was not found when
/// planning.
pub fn object(
    scope: &EnvVarScope,
    org: &OrgName,
    ids: &dyn Ids,
) -> Result<(EnvVarObjectType, Id), BodyError> {
    match scope {
        EnvVarScope::Org => Ok((
            EnvVarObjectType::Organization,
            ids.id(&ResourceKey::org(org))?,
        )),
        EnvVarScope::Project(p) => Ok((
            EnvVarObjectType::Project,
            ids.id(&ResourceKey::project(org, p))?,
        )),
        EnvVarScope::Function { project, slug } => Ok((
            EnvVarObjectType::Function,
            ids.named(project, crate::refs::RefKind::Function, slug)?,
        )),
    }
}

/// The create body without metadata and value, which the scaffold adds.
#[must_use]
pub fn create(e: &EnvVarSpec, object_type: EnvVarObjectType, object_id: Id) -> CreateEnvVar {
    CreateEnvVar {
        object_type,
        object_id,
        name: e.name.as_str().to_owned(),
        value: None,
        metadata: None,
        secret_type: None,
    }
}

/// The patch body without metadata and value (the API requires the name on every patch).
#[must_use]
pub fn patch(e: &EnvVarSpec) -> PatchEnvVar {
    PatchEnvVar {
        name: e.name.as_str().to_owned(),
        value: None,
        metadata: None,
        secret_type: None,
    }
}

/// The manifest entry `import` writes: the value is a stub naming the environment variable
/// `env`.
#[must_use]
pub fn manifest(name: &str, env: &str) -> Value {
    json!({ "name": name, "value": { "env": env } })
}

/// Why an entry of an env var list is not an env var, or `None` when it is one. AI and sandbox
/// provider keys are stored in the same list, told apart by `secret_category` (S8): never
/// managed as env vars. The reader takes a project's AI providers as the `ai_provider` kind
/// first (S12); every other provider key is read as an object outside the model.
#[must_use]
pub fn not_an_env_var(v: &crate::wire::EnvVar) -> Option<String> {
    use crate::wire::SecretCategory;
    let category = match v.secret_category? {
        SecretCategory::EnvVar => return None,
        SecretCategory::AiProvider => "ai_provider",
        SecretCategory::SandboxProvider => "sandbox_provider",
    };
    Some(format!(
        "`secret_category: {category}` is a provider key, not an env var"
    ))
}
