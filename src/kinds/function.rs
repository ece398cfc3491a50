//! Function references, shared by online-scoring rules (their scorers) and project settings
//! (the default preprocessor): how the manifest, the API, the plan and `import` spell them.

use serde_json::{Value, json};

use crate::diag::{Code, Diagnostic};
use crate::manifest::DocOrigin;
use crate::manifest::raw;
use crate::manifest::spanned::Sp;
use crate::model::lower::Lowerer;
use crate::model::{FunctionRef, ProjectName};
use crate::refs::{RefKind, References};
use crate::wire;

use super::{BodyError, Ids};

/// Checks a manifest function reference; a `function` without `project` is in `project`.
pub(crate) fn lower(
    lw: &mut Lowerer<'_>,
    at: DocOrigin,
    project: &ProjectName,
    f: &Sp<raw::RawFunctionRef>,
) -> Option<FunctionRef> {
    match (&f.global, &f.function) {
        (Some(global), None) => {
            if let Some(p) = &f.project {
                lw.not_allowed(
                    at,
                    p,
                    "`project` only applies to `function` references".into(),
                    "built-in functions belong to no project",
                );
                return None;
            }
            Some(FunctionRef::Global {
                name: global.value.clone(),
                function_type: f.function_type.as_ref().map(|t| t.value),
            })
        }
        (None, Some(slug)) => {
            if let Some(t) = &f.function_type {
                lw.not_allowed(
                    at,
                    t,
                    "`function_type` only applies to `global` references".into(),
                    "a project function already has a type",
                );
                return None;
            }
            let project = match &f.project {
                Some(p) => lw.project_name(at, p)?,
                None => project.clone(),
            };
            Some(FunctionRef::Project {
                project,
                slug: slug.value.clone(),
            })
        }
        _ => {
            lw.diags.push(
                Diagnostic::error(Code::FieldNotAllowed, "a function reference needs exactly one of `global` or `function`")
                    .with_label(lw.span(at, f), "function reference")
                    .with_hint("write `{ global: Factuality }` for a built-in or `{ function: my-scorer }` for a project function"),
            );
            None
        }
    }
}

/// A function reference as the plan shows it (`global:Factuality`, `function:proj/slug`).
#[must_use]
pub fn label(f: &FunctionRef) -> String {
    match f {
        FunctionRef::Global {
            name,
            function_type: None,
        } => format!("global:{name}"),
        FunctionRef::Global {
            name,
            function_type: Some(t),
        } => format!("global:{name} ({})", t.as_str()),
        FunctionRef::Project { project, slug } => format!("function:{project}/{slug}"),
    }
}

/// A function reference as the API takes it: project functions by the id their slug was
/// resolved to when planning.
///
/// # Errors
/// When a project function's slug did not resolve.
pub fn body(f: &FunctionRef, ids: &dyn Ids) -> Result<wire::SavedFunctionId, BodyError> {
    match f {
        FunctionRef::Global {
            name,
            function_type,
        } => Ok(wire::SavedFunctionId::Global(wire::GlobalFunction {
            name: name.clone(),
            function_type: *function_type,
        })),
        FunctionRef::Project { project, slug } => {
            let id = ids.named(project, RefKind::Function, slug)?;
            Ok(wire::SavedFunctionId::Function(wire::FunctionById {
                id: id.to_string(),
                version: None,
            }))
        }
    }
}

/// A function reference as read: built-ins by name, project functions by slug when they are
/// among the functions the manifests name (`refs`), else as `id:<uuid>` in `project`.
#[must_use]
pub fn read(f: &wire::SavedFunctionId, project: &ProjectName, refs: &References) -> FunctionRef {
    match f {
        wire::SavedFunctionId::Global(g) => FunctionRef::Global {
            name: g.name.clone(),
            function_type: g.function_type,
        },
        wire::SavedFunctionId::Function(f) => refs.function_ref(&f.id, project),
    }
}

/// A function reference as `import` writes it, in project `here`: a project function by slug
/// (with its project when it is another one); `None` for a project function known only by id
/// (not among the functions read, which manifests cannot express).
#[must_use]
pub fn manifest(f: &FunctionRef, here: Option<&ProjectName>) -> Option<Value> {
    match f {
        FunctionRef::Global {
            name,
            function_type: None,
        } => Some(json!({ "global": name })),
        FunctionRef::Global {
            name,
            function_type: Some(t),
        } => Some(json!({ "global": name, "function_type": t.as_str() })),
        FunctionRef::Project { slug, .. } if slug.starts_with("id:") => None,
        FunctionRef::Project { project, slug } if Some(project) == here => {
            Some(json!({ "function": slug }))
        }
        FunctionRef::Project { project, slug } => {
            Some(json!({ "function": slug, "project": project.as_str() }))
        }
    }
}
