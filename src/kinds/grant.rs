//! The `grant` kind: one ACL (a user, group or service account gets a role or a permission on
//! the org, a project, a group, a role or a project's object), written through
//! `acl/batch_update` rather than a collection of its own. A special kind: plain functions
//! (and the lowering method on `Lowerer`) called from the scaffolds.

use std::collections::HashMap;

use serde_json::{Value, json};

use super::{BodyError, Ids, LiveNames};
use crate::diag::{Code, Diagnostic};
use crate::manifest::raw::RawGrant;
use crate::manifest::spanned::Sp;
use crate::model::lower::{Cx, Lowerer};
use crate::model::*;
use crate::refs::{RefKind, References};
use crate::source::Span;
use crate::wire::{Acl, AclItem};

impl Lowerer<'_> {
    /// Checks one grant (its subject, privilege and target) and inserts it with its references.
    pub(crate) fn lower_grant(&mut self, cx: Cx<'_>, g: &Sp<RawGrant>, check_members: bool) {
        let at = cx.at;
        let span = self.span(at, g);
        let subjects: Vec<(&Sp<String>, &str)> = [
            (&g.user, "user"),
            (&g.group, "group"),
            (&g.service_account, "service_account"),
        ]
        .into_iter()
        .filter_map(|(v, n)| v.as_ref().map(|v| (v, n)))
        .collect();
        if subjects.len() != 1 {
            let mut d = Diagnostic::error(
                Code::AclSubject,
                format!(
                    "a grant needs exactly one of `user`, `group` or `service_account`, found {}",
                    subjects.len()
                ),
            )
            .with_hint(if subjects.is_empty() {
                "say who gets access: add `user: EMAIL`, `group: NAME` or `service_account: NAME`"
            } else {
                "split it into one grant per subject"
            });
            d = match subjects.first() {
                Some((v, _)) => d.with_label(self.span(at, v), "subject"),
                None => d.with_label(span, "grant without a subject"),
            };
            for (v, _) in subjects.iter().skip(1) {
                d = d.with_label(self.span(at, v), "another subject");
            }
            self.diags.push(d);
            return;
        }
        if g.role.is_some() == g.permission.is_some() {
            let mut d = Diagnostic::error(
                Code::AclPrivilege,
                "a grant needs exactly one of `role` or `permission`",
            )
            .with_hint(if g.role.is_some() {
                "a grant gives either a role or a single permission; write two grants for both"
            } else {
                "say what access is given: add `role: NAME` or `permission: read` (or another permission)"
            });
            d = match (&g.role, &g.permission) {
                (Some(r), Some(p)) => d
                    .with_label(self.span(at, r), "a role")
                    .with_label(self.span(at, p), "and a permission"),
                _ => d.with_label(span, "grant without a role or permission"),
            };
            self.diags.push(d);
            return;
        }
        if let (Some(restrict), Some(role)) = (&g.restrict_object_type, &g.role) {
            self.diags.push(
                Diagnostic::error(Code::RestrictWithRole, "`restrict_object_type` cannot be combined with `role`")
                    .with_label(self.span(at, restrict), "restriction")
                    .with_label(self.span(at, role), "role grant")
                    .with_hint("restrict inside the role: `{ permission: create, restrict_object_type: experiment }`"),
            );
            return;
        }
        let (subject_value, subject_kind) = subjects[0];
        let subject = match subject_kind {
            "user" => match self.email(at, subject_value) {
                Some(e) => Subject::User(e),
                None => return,
            },
            "group" => match self.name(at, subject_value) {
                Some(n) => Subject::Group(n),
                None => return,
            },
            _ => match self.name(at, subject_value) {
                Some(n) => Subject::ServiceAccount(n),
                None => return,
            },
        };
        let privilege = match (&g.role, &g.permission) {
            (Some(r), _) => match self.name(at, r) {
                Some(n) => Privilege::Role(n),
                None => return,
            },
            (None, Some(p)) => Privilege::Permission {
                permission: p.value,
                restrict_object_type: g.restrict_object_type.as_ref().map(|r| r.value),
            },
            (None, None) => return,
        };
        let Some((target, target_ref)) = self.grant_target(cx, g) else {
            return;
        };
        let spec = GrantSpec {
            subject: subject.clone(),
            privilege: privilege.clone(),
            target,
        };
        // A grant lives where its object lives: grants on a project (or on one of its objects)
        // are keyed in the project whichever document declares them, as live ACLs are.
        let key = match &spec.target {
            GrantTarget::Project(p) | GrantTarget::Object { project: p, .. } => {
                ResourceKey::in_project(cx.org, p, Kind::Grant, spec.key_name())
            }
            _ => ResourceKey::in_org(cx.org, Kind::Grant, spec.key_name()),
        };
        let Some(key) = self.add(cx, key, Spec::Grant(spec), span, &g.state, None, &[]) else {
            return;
        };
        let subject_span = self.span(at, subject_value);
        match &subject {
            Subject::User(email) if check_members => self.reference_with_hint(
                &key,
                ResourceKey::in_org(cx.org, Kind::Member, email.as_str()),
                subject_span,
                "member",
                "add the email to the org's `members` list",
            ),
            Subject::User(_) => {}
            Subject::Group(name) => {
                self.reference(
                    &key,
                    ResourceKey::in_org(cx.org, Kind::Group, name.as_str()),
                    subject_span,
                    "group",
                );
            }
            Subject::ServiceAccount(name) => self.reference(
                &key,
                ResourceKey::in_org(cx.org, Kind::ServiceAccount, name.as_str()),
                subject_span,
                "service account",
            ),
        }
        if let (Privilege::Role(name), Some(r)) = (&privilege, &g.role) {
            self.reference(
                &key,
                ResourceKey::in_org(cx.org, Kind::Role, name.as_str()),
                self.span(at, r),
                "role",
            );
        }
        if let Some((target_key, span, what)) = target_ref {
            self.reference(&key, target_key, span, what);
        }
    }

    /// The object a grant is on, and the declared object it depends on (if any).
    #[allow(clippy::type_complexity)]
    fn grant_target(
        &mut self,
        cx: Cx<'_>,
        g: &Sp<RawGrant>,
    ) -> Option<(GrantTarget, Option<(ResourceKey, Span, &'static str)>)> {
        let at = cx.at;
        let Some(on) = &g.on else {
            return Some(match cx.project {
                Some(p) => (
                    GrantTarget::Project(p.clone()),
                    Some((ResourceKey::project(cx.org, p), self.span(at, g), "project")),
                ),
                None => (GrantTarget::Org, None),
            });
        };
        let fields: Vec<(&Sp<String>, &str)> = [
            (&on.project, "project"),
            (&on.group, "group"),
            (&on.role, "role"),
            (&on.experiment, "experiment"),
            (&on.dataset, "dataset"),
            (&on.prompt, "prompt"),
        ]
        .into_iter()
        .filter_map(|(v, n)| v.as_ref().map(|v| (v, n)))
        .collect();
        let [(value, field)] = fields[..] else {
            self.diags.push(
                Diagnostic::error(
                    Code::FieldNotAllowed,
                    format!("`on` needs exactly one object, found {}", fields.len()),
                )
                .with_label(self.span(at, on), "grant target")
                .with_hint("write `on: { project: NAME }`, `on: { dataset: NAME }`..."),
            );
            return None;
        };
        let span = self.span(at, value);
        let object = |t: AclObjectType| -> Option<GrantTarget> {
            cx.project.map(|p| GrantTarget::Object {
                project: p.clone(),
                object_type: t,
                name: value.value.clone(),
            })
        };
        let target = match field {
            "project" if cx.project.is_none() => {
                let p = self.project_name(at, value)?;
                let key = ResourceKey::project(cx.org, &p);
                return Some((GrantTarget::Project(p), Some((key, span, "project"))));
            }
            "group" if cx.project.is_none() => {
                let n = self.name(at, value)?;
                let key = ResourceKey::in_org(cx.org, Kind::Group, n.as_str());
                return Some((GrantTarget::Group(n), Some((key, span, "group"))));
            }
            "role" if cx.project.is_none() => {
                let n = self.name(at, value)?;
                let key = ResourceKey::in_org(cx.org, Kind::Role, n.as_str());
                return Some((GrantTarget::Role(n), Some((key, span, "role"))));
            }
            "experiment" => object(AclObjectType::Experiment),
            "dataset" => {
                // Ordered after the dataset when the manifests declare it.
                let t = object(AclObjectType::Dataset);
                if let (Some(t), Some(p)) = (t.clone(), cx.project) {
                    let key = ResourceKey::in_project(cx.org, p, Kind::Dataset, &value.value);
                    return Some((t, Some((key, span, "dataset"))));
                }
                t
            }
            "prompt" => object(AclObjectType::Prompt),
            _ => None,
        };
        if target.is_none() {
            let (msg, hint) = if cx.project.is_some() {
                (
                    format!("`on: {{ {field}: ... }}` is not allowed in a project document"),
                    "a project grant applies to the project itself or to one of its experiments, datasets or prompts; put org-wide grants in the org document",
                )
            } else {
                (
                    format!("`on: {{ {field}: ... }}` needs a project"),
                    "grant on experiments, datasets and prompts from the document of the project that holds them",
                )
            };
            self.not_allowed(at, value, msg, hint);
        }
        target.map(|t| (t, None))
    }
}

/// A grant as an ACL item of `acl/batch_update`, its objects given by id.
///
/// # Errors
/// When an object it names has no id, or the grant is on an object named by name.
pub fn acl_item(g: &GrantSpec, org: &OrgName, ids: &dyn Ids) -> Result<AclItem, BodyError> {
    let (object_type, object_id) = match &g.target {
        GrantTarget::Org => (AclObjectType::Organization, ids.id(&ResourceKey::org(org))?),
        GrantTarget::Project(p) => (
            AclObjectType::Project,
            ids.id(&ResourceKey::project(org, p))?,
        ),
        GrantTarget::Group(n) => (
            AclObjectType::Group,
            ids.org_object(Kind::Group, n.as_str())?,
        ),
        GrantTarget::Role(n) => (AclObjectType::Role, ids.org_object(Kind::Role, n.as_str())?),
        GrantTarget::Object {
            project,
            object_type,
            name,
        } => {
            let kind = RefKind::of_acl_object(*object_type).ok_or_else(|| {
                BodyError::Unresolved(format!(
                    "grants on a {} by name are not supported",
                    object_type.as_str()
                ))
            })?;
            (*object_type, ids.named(project, kind, name)?)
        }
    };
    let mut item = AclItem {
        object_type,
        object_id,
        user_id: None,
        group_id: None,
        permission: None,
        restrict_object_type: None,
        role_id: None,
    };
    match &g.subject {
        Subject::User(e) => item.user_id = Some(ids.org_object(Kind::Member, e.as_str())?),
        Subject::ServiceAccount(n) => {
            item.user_id = Some(ids.org_object(Kind::ServiceAccount, n.as_str())?);
        }
        Subject::Group(n) => item.group_id = Some(ids.org_object(Kind::Group, n.as_str())?),
    }
    match &g.privilege {
        Privilege::Role(n) => item.role_id = Some(ids.org_object(Kind::Role, n.as_str())?),
        Privilege::Permission {
            permission,
            restrict_object_type,
        } => {
            item.permission = Some(*permission);
            item.restrict_object_type = *restrict_object_type;
        }
    }
    Ok(item)
}

/// An ACL as a grant, keyed where the desired state keys it: grants on a project (or on one of
/// its objects) live in the project, the rest in the org. `None` for ACLs that name unknown
/// objects or objects bt-gitops does not read yet.
#[must_use]
pub fn read(
    org: &OrgName,
    acl: &Acl,
    emails: &HashMap<String, Email>,
    accounts: &HashMap<String, Name>,
    names: &LiveNames,
    projects: &HashMap<String, ProjectName>,
    refs: &References,
) -> Option<(ResourceKey, GrantSpec)> {
    let named = |kind: Kind, id: &str| names.get(kind, id).and_then(|n| Name::new(n).ok());
    let subject = match (&acl.user_id, &acl.group_id) {
        (Some(u), None) => match emails.get(u.as_str()) {
            Some(e) => Subject::User(e.clone()),
            None => Subject::ServiceAccount(accounts.get(u.as_str())?.clone()),
        },
        (None, Some(g)) => Subject::Group(named(Kind::Group, g.as_str())?),
        _ => return None,
    };
    let privilege = match (&acl.role_id, &acl.permission) {
        (Some(r), None) => Privilege::Role(named(Kind::Role, r.as_str())?),
        (None, Some(p)) => Privilege::Permission {
            permission: *p,
            restrict_object_type: acl.restrict_object_type,
        },
        _ => return None,
    };
    let object_type: AclObjectType = acl.object_type;
    let object = acl.object_id.as_str();
    let target = match object_type {
        AclObjectType::Organization => GrantTarget::Org,
        AclObjectType::Project => GrantTarget::Project(projects.get(object)?.clone()),
        AclObjectType::Group => GrantTarget::Group(named(Kind::Group, object)?),
        AclObjectType::Role => GrantTarget::Role(named(Kind::Role, object)?),
        // Grants on experiments, datasets and prompts are read when the manifests name the
        // object (others cannot be named back, so they are left alone).
        other => {
            let r = refs.by_id(object)?;
            if RefKind::of_acl_object(other) != Some(r.kind) {
                return None;
            }
            GrantTarget::Object {
                project: r.project.clone(),
                object_type: other,
                name: r.name.clone(),
            }
        }
    };
    let spec = GrantSpec {
        subject,
        privilege,
        target,
    };
    let key = match &spec.target {
        GrantTarget::Project(p) | GrantTarget::Object { project: p, .. } => {
            ResourceKey::in_project(org, p, Kind::Grant, spec.key_name())
        }
        _ => ResourceKey::in_org(org, Kind::Grant, spec.key_name()),
    };
    Some((key, spec))
}

/// The manifest entry `import` writes for a grant, in the document of `project` (`None`: the
/// org document); a grant on that project itself needs no `on`.
#[must_use]
pub fn manifest(g: &GrantSpec, project: Option<&str>) -> Value {
    let mut v = serde_json::Map::new();
    match &g.subject {
        Subject::User(e) => v.insert("user".into(), json!(e.as_str())),
        Subject::Group(n) => v.insert("group".into(), json!(n.as_str())),
        Subject::ServiceAccount(n) => v.insert("service_account".into(), json!(n.as_str())),
    };
    match &g.privilege {
        Privilege::Role(n) => {
            v.insert("role".into(), json!(n.as_str()));
        }
        Privilege::Permission {
            permission,
            restrict_object_type,
        } => {
            v.insert("permission".into(), json!(permission.as_str()));
            if let Some(t) = restrict_object_type {
                v.insert("restrict_object_type".into(), json!(t.as_str()));
            }
        }
    }
    match (&g.target, project) {
        (GrantTarget::Project(p), Some(here)) if p.as_str() == here => {}
        (GrantTarget::Project(p), _) => {
            v.insert("on".into(), json!({ "project": p.as_str() }));
        }
        (GrantTarget::Group(n), _) => {
            v.insert("on".into(), json!({ "group": n.as_str() }));
        }
        (GrantTarget::Role(n), _) => {
            v.insert("on".into(), json!({ "role": n.as_str() }));
        }
        (
            GrantTarget::Object {
                object_type, name, ..
            },
            _,
        ) => {
            v.insert("on".into(), json!({ object_type.as_str(): name }));
        }
        (GrantTarget::Org, _) => {}
    }
    Value::Object(v)
}
