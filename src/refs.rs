//! References to objects bt-gitops does not manage: the functions (online-scoring scorers,
//! preprocessors, function-level env vars), prompts, experiments (grants, `baseline_experiment`)
//! and datasets (grants) that manifests name.
//!
//! Pure: [`wanted`] lists what the desired state names, `api::refs` looks each one up with the
//! API's name filters, and [`unresolved`] says, before anything is applied, which names do not
//! resolve (each one is a refusal of the plan, never a failure after merge). The reader and the
//! executor turn names into ids and back through [`References`].

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use crate::model::{
    AclObjectType, DesiredState, EnvVarScope, FunctionRef, GrantTarget, Kind, OrgName, Presence,
    ProjectName, ResourceKey, Spec,
};

/// The kinds of object a manifest can name without managing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RefKind {
    /// By slug.
    Function,
    /// By slug.
    Prompt,
    /// By name.
    Experiment,
    /// By name.
    Dataset,
}

impl RefKind {
    /// The human name used in messages.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            RefKind::Function => "function",
            RefKind::Prompt => "prompt",
            RefKind::Experiment => "experiment",
            RefKind::Dataset => "dataset",
        }
    }

    /// The kind a grant's object type names, if it is one of these.
    #[must_use]
    pub fn of_acl_object(t: AclObjectType) -> Option<RefKind> {
        match t {
            AclObjectType::Experiment => Some(RefKind::Experiment),
            AclObjectType::Dataset => Some(RefKind::Dataset),
            AclObjectType::Prompt => Some(RefKind::Prompt),
            _ => None,
        }
    }

    /// The ACL object type of this kind, if an ACL can sit on one object of it (R8; functions
    /// have none).
    #[must_use]
    pub fn acl_object(self) -> Option<AclObjectType> {
        match self {
            RefKind::Experiment => Some(AclObjectType::Experiment),
            RefKind::Dataset => Some(AclObjectType::Dataset),
            RefKind::Prompt => Some(AclObjectType::Prompt),
            RefKind::Function => None,
        }
    }
}

/// One named object: its org, project, kind and name (a slug for functions and prompts).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectRef {
    pub org: OrgName,
    pub project: ProjectName,
    pub kind: RefKind,
    pub name: String,
    /// For a function pinned to a version: that version (its `_xact_id`). A pinned reference
    /// is looked up with `version=` besides the unpinned one that gives the function's id.
    pub version: Option<String>,
}

impl fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(v) = &self.version {
            write!(f, "version `{v}` of ")?;
        }
        write!(
            f,
            "{} `{}` in project `{}/{}`",
            self.kind.as_str(),
            self.name,
            self.org,
            self.project
        )
    }
}

/// The referenced objects found live: name to id, and back.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct References {
    ids: BTreeMap<ObjectRef, String>,
    names: BTreeMap<String, ObjectRef>,
}

impl References {
    /// Records a found object.
    pub fn insert(&mut self, r: ObjectRef, id: String) {
        if r.version.is_none() || !self.names.contains_key(&id) {
            self.names.insert(id.clone(), r.clone());
        }
        self.ids.insert(r, id);
    }

    /// Adds every entry of another table (another org's).
    pub fn extend(&mut self, other: References) {
        for (r, id) in other.ids {
            self.insert(r, id);
        }
    }

    /// The id of a named object, if it was found.
    #[must_use]
    pub fn id(&self, r: &ObjectRef) -> Option<&str> {
        self.ids.get(r).map(String::as_str)
    }

    /// The named object with this id, if it is one of those looked up.
    #[must_use]
    pub fn by_id(&self, id: &str) -> Option<&ObjectRef> {
        self.names.get(id)
    }

    /// The found functions, for reading their env vars.
    pub fn functions(&self) -> impl Iterator<Item = (&ObjectRef, &str)> {
        self.ids
            .iter()
            .filter(|(r, _)| r.kind == RefKind::Function && r.version.is_none())
            .map(|(r, id)| (r, id.as_str()))
    }

    /// The found experiments, datasets and prompts, each with its ACL object type: the single
    /// objects whose ACLs the reader reads back as grants (R8).
    pub fn acl_objects(&self) -> impl Iterator<Item = (&ObjectRef, AclObjectType, &str)> {
        self.ids.iter().filter_map(|(r, id)| {
            let object_type = r.kind.acl_object().filter(|_| r.version.is_none())?;
            Some((r, object_type, id.as_str()))
        })
    }

    /// A function reference as the live state shows it: by slug when the id is one of the
    /// looked-up functions, else `id:<uuid>` in `project` (which then differs from any slug).
    #[must_use]
    pub fn function_ref(&self, id: &str, project: &ProjectName) -> FunctionRef {
        match self.by_id(id) {
            Some(r) if r.kind == RefKind::Function => FunctionRef::Project {
                project: r.project.clone(),
                slug: r.name.clone(),
                version: None,
            },
            _ => FunctionRef::Project {
                project: project.clone(),
                slug: format!("id:{id}"),
                version: None,
            },
        }
    }

    /// An experiment by id as the live state shows it: its name, else `id:<uuid>`.
    #[must_use]
    pub fn experiment_name(&self, id: &str) -> String {
        match self.by_id(id) {
            Some(r) if r.kind == RefKind::Experiment => r.name.clone(),
            _ => format!("id:{id}"),
        }
    }
}

/// A reference of one declared object and where it points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Use {
    /// The declared object that names it.
    pub key: ResourceKey,
    /// What it names.
    pub target: ObjectRef,
    /// Where in the object: `scorers`, `settings.baseline_experiment`, `on`...
    pub field: &'static str,
}

/// Records one use: project, kind, name, pinned version, field.
type Push<'a> = dyn FnMut(&ProjectName, RefKind, &str, Option<&String>, &'static str) + 'a;

/// Every reference of the present objects of one org, in key order.
#[must_use]
pub fn uses(desired: &DesiredState, org: &OrgName) -> Vec<Use> {
    let mut out = Vec::new();
    for r in desired
        .resources
        .values()
        .filter(|r| r.key.org == *org && r.presence == Presence::Present)
    {
        let mut push = |project: &ProjectName,
                        kind: RefKind,
                        name: &str,
                        version: Option<&String>,
                        field: &'static str| {
            out.push(Use {
                key: r.key.clone(),
                target: ObjectRef {
                    org: org.clone(),
                    project: project.clone(),
                    kind,
                    name: name.to_owned(),
                    version: version.cloned(),
                },
                field,
            });
        };
        // A pinned function is looked up twice: unpinned for its id, and at its version.
        let function = |f: &FunctionRef, field: &'static str, push: &mut Push<'_>| {
            if let FunctionRef::Project {
                project,
                slug,
                version,
            } = f
                && !slug.starts_with("id:")
            {
                push(project, RefKind::Function, slug, None, field);
                if version.is_some() {
                    push(project, RefKind::Function, slug, version.as_ref(), field);
                }
            }
        };
        match &r.spec {
            Spec::OnlineScoring(o) => {
                for s in &o.scorers {
                    function(s, "scorers", &mut push);
                }
            }
            Spec::Project(p) => {
                let Ok(project) = ProjectName::new(&r.key.name) else {
                    continue;
                };
                if let Some(s) = &p.settings {
                    if let Some(b) = &s.baseline_experiment {
                        push(
                            &project,
                            RefKind::Experiment,
                            b,
                            None,
                            "settings.baseline_experiment",
                        );
                    }
                    if let Some(f) = &s.default_preprocessor {
                        function(f, "settings.default_preprocessor", &mut push);
                    }
                }
            }
            Spec::Grant(g) => {
                if let GrantTarget::Object {
                    project,
                    object_type,
                    name,
                } = &g.target
                    && let Some(kind) = RefKind::of_acl_object(*object_type)
                {
                    push(project, kind, name, None, "on");
                }
            }
            Spec::EnvVar(e) => {
                if let EnvVarScope::Function { project, slug } = &e.scope {
                    push(project, RefKind::Function, slug, None, "function");
                }
            }
            _ => {}
        }
    }
    out
}

/// The distinct objects the present objects of one org name.
#[must_use]
pub fn wanted(desired: &DesiredState, org: &OrgName) -> BTreeSet<ObjectRef> {
    uses(desired, org).into_iter().map(|u| u.target).collect()
}

/// Whether the manifests declare the object (datasets can be managed): it is created before
/// what names it, so it needs no live match.
fn declared(desired: &DesiredState, r: &ObjectRef) -> bool {
    let kind = match r.kind {
        RefKind::Dataset => Kind::Dataset,
        RefKind::Function | RefKind::Prompt | RefKind::Experiment => return false,
    };
    desired
        .resources
        .get(&ResourceKey::in_project(&r.org, &r.project, kind, &r.name))
        .is_some_and(|d| d.presence == Presence::Present)
}

/// One message per reference that did not resolve (and is not declared), naming the object
/// that makes it.
#[must_use]
pub fn unresolved(desired: &DesiredState, found: &References) -> Vec<String> {
    let mut out = Vec::new();
    for org in desired.orgs.keys() {
        for u in uses(desired, org) {
            let function_missing = u.target.version.is_some()
                && found
                    .id(&ObjectRef {
                        version: None,
                        ..u.target.clone()
                    })
                    .is_none();
            if found.id(&u.target).is_none() && !declared(desired, &u.target) && !function_missing {
                out.push(format!(
                    "`{}` names {} in `{}`, which does not exist; create it first, or fix the name",
                    u.key, u.target, u.field
                ));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(kind: RefKind, name: &str, version: Option<&str>) -> ObjectRef {
        ObjectRef {
            org: OrgName::new("acme").expect("org"),
            project: ProjectName::new("web").expect("project"),
            kind,
            name: name.to_owned(),
            version: version.map(str::to_owned),
        }
    }

    #[test]
    fn acl_objects_are_the_experiments_datasets_and_prompts() {
        let mut refs = References::default();
        refs.insert(object(RefKind::Experiment, "exp-1", None), "e".into());
        refs.insert(object(RefKind::Dataset, "golden", None), "d".into());
        refs.insert(object(RefKind::Prompt, "greeter", None), "p".into());
        refs.insert(object(RefKind::Function, "judge", None), "f".into());
        refs.insert(object(RefKind::Function, "judge", Some("7")), "f".into());
        let found: Vec<(AclObjectType, &str)> = refs
            .acl_objects()
            .map(|(_, object_type, id)| (object_type, id))
            .collect();
        assert_eq!(
            found,
            [
                (AclObjectType::Prompt, "p"),
                (AclObjectType::Experiment, "e"),
                (AclObjectType::Dataset, "d"),
            ]
        );
        for kind in [RefKind::Experiment, RefKind::Dataset, RefKind::Prompt] {
            let object_type = kind.acl_object().expect("an ACL object type");
            assert_eq!(RefKind::of_acl_object(object_type), Some(kind));
        }
        assert_eq!(RefKind::Function.acl_object(), None);
    }
}
