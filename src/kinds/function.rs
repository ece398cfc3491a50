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
            if let Some(v) = &f.version {
                lw.not_allowed(
                    at,
                    v,
                    "`version` only applies to `function` references".into(),
                    "built-in functions have no versions to pin",
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
            let version = match &f.version {
                Some(v) if v.value.trim().is_empty() || v.value.trim() != v.value => {
                    lw.not_allowed(
                        at,
                        v,
                        "a function `version` cannot be empty or padded with spaces".into(),
                        "write the function version to pin (its `_xact_id` or short version id)",
                    );
                    return None;
                }
                Some(v) => Some(v.value.clone()),
                None => None,
            };
            Some(FunctionRef::Project {
                project,
                slug: slug.value.clone(),
                version,
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
        FunctionRef::Project {
            project,
            slug,
            version: None,
        } => format!("function:{project}/{slug}"),
        FunctionRef::Project {
            project,
            slug,
            version: Some(v),
        } => format!("function:{project}/{slug}@{v}"),
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
        FunctionRef::Project {
            project,
            slug,
            version,
        } => {
            let id = ids.named(project, RefKind::Function, slug)?;
            Ok(wire::SavedFunctionId::Function(wire::FunctionById {
                id: id.to_string(),
                version: version.clone(),
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
        wire::SavedFunctionId::Function(f) => {
            let mut read = refs.function_ref(&f.id, project);
            if let FunctionRef::Project { version, .. } = &mut read {
                version.clone_from(&f.version);
            }
            read
        }
    }
}

/// A function reference as `import` writes it, in project `here`: a project function by slug
/// (with its project when it is another one), a pinned version included; `None` for a project
/// function known only by id (not among the functions read, which manifests cannot express).
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
        FunctionRef::Project {
            project,
            slug,
            version,
        } => {
            let mut out = json!({ "function": slug });
            if Some(project) != here {
                out["project"] = json!(project.as_str());
            }
            if let Some(v) = version {
                out["version"] = json!(v);
            }
            Some(out)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::refs::ObjectRef;

    /// A pinned scorer reads back with its version, is shown with it, and `import` writes it.
    #[test]
    fn a_pinned_version_reads_shows_and_imports() {
        let project = ProjectName::new("chatbot").expect("name");
        let mut refs = References::default();
        refs.insert(
            ObjectRef {
                org: crate::model::OrgName::new("acme").expect("org"),
                project: project.clone(),
                kind: RefKind::Function,
                name: "judge".into(),
                version: None,
            },
            "f1".into(),
        );
        let live = wire::SavedFunctionId::Function(wire::FunctionById {
            id: "f1".into(),
            version: Some("42".into()),
        });
        let read = read(&live, &project, &refs);
        assert_eq!(
            read,
            FunctionRef::Project {
                project: project.clone(),
                slug: "judge".into(),
                version: Some("42".into()),
            }
        );
        assert_eq!(label(&read), "function:chatbot/judge@42");
        assert_eq!(
            manifest(&read, None),
            Some(json!({ "function": "judge", "project": "chatbot", "version": "42" }))
        );
        let unpinned = FunctionRef::Project {
            project,
            slug: "judge".into(),
            version: None,
        };
        assert_ne!(label(&unpinned), label(&read));
    }
}
