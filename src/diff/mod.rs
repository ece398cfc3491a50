//! The diff: desired state against live state, object by object and field by field.
//!
//! Only managed fields are compared (fields the manifest sets), after normalisation. Live
//! objects the manifests do not manage are left alone unless they sit in an authoritative
//! collection, or a tombstone (`state: absent`) names them. Renames are found through
//! `previous_names`. Write-only secrets are compared through digests, never values.

pub mod fields;
pub mod normalize;
pub mod policy;
pub mod secrets;

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::live::{LiveObject, LiveState};
use crate::model::*;

/// What happens to one object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DiffKind {
    Create,
    Update,
    Delete,
    /// Delete then create: a field changed that the API cannot change in place.
    Replace,
}

/// A changed field. `None` is "not set".
#[derive(Debug, Clone, PartialEq)]
pub struct FieldChange {
    pub field: String,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

/// Why a live object is deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeleteReason {
    /// The manifest marks it `state: absent`.
    Tombstone,
    /// It is not declared, in a collection the manifests own (`authoritative:`).
    NotDeclared,
    /// It breaks the org's `api_key_policy`, whose `on_violation` is `delete`.
    Policy,
    /// A service token whose service account the manifest marks `state: absent`: removing an
    /// account must not leave its working keys behind (and, where the user list hides service
    /// accounts, K1, a leftover token would make the account read as live again).
    AccountRemoved,
}

/// One object's difference.
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceDiff {
    pub key: ResourceKey,
    pub kind: DiffKind,
    pub fields: Vec<FieldChange>,
    /// The live object's id and fingerprint, when there is one.
    pub live: Option<(String, String)>,
    /// The live name this object had, when the change renames it.
    pub renamed_from: Option<String>,
    pub secret: Option<SecretChange>,
    pub delete_reason: Option<DeleteReason>,
    /// A delete of this object is refused (`protect: true`).
    pub protected: bool,
}

/// What happens to a write-only secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretChange {
    /// Where the value comes from, e.g. `env ACME_OPENAI_KEY`; never the value.
    pub source: String,
    pub status: SecretStatus,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SecretStatus {
    /// The object is new, so is its secret.
    New,
    /// The value in the environment differs from the one bt-gitops last wrote.
    ChangedInGit,
    /// Someone changed the secret outside bt-gitops; the declared value will be written back.
    RotatedOutside,
    /// The live secret was not written by bt-gitops, so it cannot be compared; it will be written.
    Unverified,
    /// The declared source (env var or file) is not available; the secret is left as it is.
    Unavailable,
}

/// The digest of each declared secret's current value, computed by the caller (who can read
/// environment variables and files). `Err` holds why the value could not be read.
pub type SecretDigests = BTreeMap<ResourceKey, Result<String, String>>;

/// Compares desired and live state.
#[must_use]
pub fn diff(
    desired: &DesiredState,
    live: &LiveState,
    secrets: &SecretDigests,
) -> Vec<ResourceDiff> {
    let renamed = follow_renames(desired, live);
    let live = renamed.as_ref().unwrap_or(live);
    let mut out = Vec::new();
    let mut claimed: BTreeSet<&ResourceKey> = BTreeSet::new();
    let retyped = retyped(desired, live);
    for (key, resource) in &desired.resources {
        let (live_key, live_obj) = match find_live(key, resource, live) {
            Some((k, o)) => (Some(k), Some(o)),
            None => (None, None),
        };
        if let Some(k) = live_key {
            claimed.insert(k);
        }
        if let Some((old, obj)) = retyped.get(key) {
            // The live object of another kind holds the name. When the manifests own it (a
            // tombstone or an authoritative collection), replace it: a create would overwrite
            // it in place and its later delete would remove both. Otherwise leave both alone
            // ([`name_conflicts`] says why in the plan): creating would destroy an object the
            // manifests do not manage.
            claimed.insert(old);
            if !owned(desired, old) {
                continue;
            }
            let mut d = create(key, resource, secrets);
            d.kind = DiffKind::Replace;
            d.live = Some((obj.id.clone(), obj.fingerprint.clone()));
            d.fields.insert(
                0,
                FieldChange {
                    field: "kind".into(),
                    before: Some(Value::String(old.kind.as_str().into())),
                    after: Some(Value::String(key.kind.as_str().into())),
                },
            );
            out.push(d);
            continue;
        }
        match (resource.presence, live_obj) {
            (Presence::Absent, Some(_)) if retyped.values().any(|(old, _)| *old == key) => {}
            (Presence::Present, None) if retyped.contains_key(key) => {}
            (Presence::Absent, Some(obj)) => out.push(ResourceDiff {
                key: key.clone(),
                kind: DiffKind::Delete,
                fields: Vec::new(),
                live: Some((obj.id.clone(), obj.fingerprint.clone())),
                renamed_from: None,
                secret: None,
                delete_reason: Some(DeleteReason::Tombstone),
                protected: resource.protect,
            }),
            (Presence::Absent, None) => {}
            (Presence::Present, None) => out.push(create(key, resource, secrets)),
            (Presence::Present, Some(obj)) => {
                let renamed_from = live_key.filter(|k| *k != key).map(|k| k.name.clone());
                if let Some(d) = update(key, resource, obj, renamed_from, secrets) {
                    out.push(d);
                }
            }
        }
    }
    for (key, obj) in &live.objects {
        if claimed.contains(key) || desired.resources.contains_key(key) {
            continue;
        }
        let reason = if is_authoritative(desired, key) {
            DeleteReason::NotDeclared
        } else if account_removed(desired, key) {
            DeleteReason::AccountRemoved
        } else {
            continue;
        };
        out.push(ResourceDiff {
            key: key.clone(),
            kind: DiffKind::Delete,
            fields: Vec::new(),
            live: Some((obj.id.clone(), obj.fingerprint.clone())),
            renamed_from: None,
            secret: None,
            delete_reason: Some(reason),
            protected: key.kind.protected_by_default(),
        });
    }
    out
}

/// Whether `key` is a service token of an account the manifests mark `state: absent`.
fn account_removed(desired: &DesiredState, key: &ResourceKey) -> bool {
    if key.kind != Kind::ServiceToken {
        return false;
    }
    let Some((account, _)) = key.name.split_once('/') else {
        return false;
    };
    desired
        .resources
        .get(&ResourceKey::in_org(
            &key.org,
            Kind::ServiceAccount,
            account,
        ))
        .is_some_and(|r| r.presence == Presence::Absent)
}

/// Whether the manifests own a live object: a tombstone names it, or it sits in an
/// authoritative collection.
fn owned(desired: &DesiredState, key: &ResourceKey) -> bool {
    desired
        .resources
        .get(key)
        .is_some_and(|r| r.presence == Presence::Absent)
        || is_authoritative(desired, key)
}

/// Declared objects that are not created because a live object of another kind, which the
/// manifests do not manage, holds their name in the same API collection; one plan note each.
#[must_use]
pub fn name_conflicts(desired: &DesiredState, live: &LiveState) -> Vec<String> {
    let renamed = follow_renames(desired, live);
    let live = renamed.as_ref().unwrap_or(live);
    retyped(desired, live)
        .into_iter()
        .filter(|(_, (old, _))| !owned(desired, old))
        .map(|(key, (old, _))| {
            format!(
                "`{key}` is not created: its name is taken by `{old}`, which the manifests do not manage (delete it, declare it `state: absent`, or make its collection authoritative)"
            )
        })
        .collect()
}

/// Declared objects with no live object of their own kind whose name is held by a live object
/// of another kind in the same API collection (which no manifest declares present): the
/// desired key, with the live key and object it replaces.
fn retyped<'a>(
    desired: &DesiredState,
    live: &'a LiveState,
) -> BTreeMap<ResourceKey, (&'a ResourceKey, &'a LiveObject)> {
    let mut out = BTreeMap::new();
    for (key, resource) in &desired.resources {
        if resource.presence != Presence::Present || find_live(key, resource, live).is_some() {
            continue;
        }
        for kind in key.kind.shares_names_with() {
            if !retypes(key.kind, *kind) {
                continue;
            }
            let other = ResourceKey {
                kind: *kind,
                ..key.clone()
            };
            let declared = desired
                .resources
                .get(&other)
                .is_some_and(|r| r.presence == Presence::Present);
            if let (false, Some((k, o))) = (declared, live.objects.get_key_value(&other)) {
                out.insert(key.clone(), (k, o));
                break;
            }
        }
    }
    out
}

/// Whether a declared object of `kind` takes over (or is held back by) a live object of
/// `other`, a kind sharing its names. A project's env vars and AI providers never do: the
/// `name-taken` guard refuses the plan instead (S12), so that neither replaces the other.
fn retypes(kind: Kind, other: Kind) -> bool {
    !matches!(
        (kind, other),
        (Kind::EnvVar, Kind::AiProvider) | (Kind::AiProvider, Kind::EnvVar)
    )
}

/// Renames found through `previous_names`: `(org, old name) -> new name`, per kind.
#[derive(Default)]
struct Renames {
    projects: BTreeMap<(OrgName, ProjectName), ProjectName>,
    groups: BTreeMap<(OrgName, String), Name>,
    roles: BTreeMap<(OrgName, String), Name>,
}

impl Renames {
    fn find(desired: &DesiredState, live: &LiveState) -> Renames {
        let mut out = Renames::default();
        for kind in [Kind::Project, Kind::Group, Kind::Role] {
            for r in desired.of_kind(kind) {
                if live.objects.contains_key(&r.key) {
                    continue;
                }
                let Some(old) = r.previous_names.iter().find(|prev| {
                    live.objects.contains_key(&ResourceKey {
                        name: (*prev).clone(),
                        ..r.key.clone()
                    })
                }) else {
                    continue;
                };
                let org = r.key.org.clone();
                match kind {
                    Kind::Project => {
                        if let (Ok(old), Ok(new)) =
                            (ProjectName::new(old), ProjectName::new(&r.key.name))
                        {
                            out.projects.insert((org, old), new);
                        }
                    }
                    Kind::Group => {
                        if let Ok(new) = Name::new(&r.key.name) {
                            out.groups.insert((org, old.clone()), new);
                        }
                    }
                    _ => {
                        if let Ok(new) = Name::new(&r.key.name) {
                            out.roles.insert((org, old.clone()), new);
                        }
                    }
                }
            }
        }
        out
    }

    fn is_empty(&self) -> bool {
        self.projects.is_empty() && self.groups.is_empty() && self.roles.is_empty()
    }

    fn project(&self, org: &OrgName, name: &ProjectName) -> Option<&ProjectName> {
        self.projects.get(&(org.clone(), name.clone()))
    }

    fn group(&self, org: &OrgName, name: &mut Name) {
        if let Some(new) = self.groups.get(&(org.clone(), name.to_string())) {
            *name = new.clone();
        }
    }

    fn role(&self, org: &OrgName, name: &mut Name) {
        if let Some(new) = self.roles.get(&(org.clone(), name.to_string())) {
            *name = new.clone();
        }
    }

    /// The names a live grant or membership would have after the renames. The renamed objects
    /// themselves keep their old keys (the diff finds them through `previous_names`).
    fn apply(&self, key: &ResourceKey, obj: &LiveObject) -> (ResourceKey, LiveObject) {
        let org = &key.org;
        let mut key = key.clone();
        let mut obj = obj.clone();
        if let Some(new) = key.project.as_ref().and_then(|p| self.project(org, p)) {
            key.project = Some(new.clone());
        }
        match &mut obj.spec {
            Spec::OrgChild(OrgChildSpec::Group(g)) => {
                g.inherits = std::mem::take(&mut g.inherits)
                    .into_iter()
                    .map(|mut n| {
                        self.group(org, &mut n);
                        n
                    })
                    .collect();
            }
            Spec::OrgChild(OrgChildSpec::Role(r)) => {
                r.inherits = std::mem::take(&mut r.inherits)
                    .into_iter()
                    .map(|mut n| {
                        self.role(org, &mut n);
                        n
                    })
                    .collect();
            }
            // A grant's natural key names its subject, role and target: rename them there too.
            Spec::Grant(grant) => {
                if let Subject::Group(g) = &mut grant.subject {
                    self.group(org, g);
                }
                if let Privilege::Role(r) = &mut grant.privilege {
                    self.role(org, r);
                }
                match &mut grant.target {
                    GrantTarget::Project(p) | GrantTarget::Object { project: p, .. } => {
                        if let Some(new) = self.project(org, p) {
                            *p = new.clone();
                        }
                    }
                    GrantTarget::Group(g) => self.group(org, g),
                    GrantTarget::Role(r) => self.role(org, r),
                    GrantTarget::Org => {}
                }
                key.name = grant.key_name();
            }
            _ => {}
        }
        (key, obj)
    }
}

/// Live state as it reads once the renames the manifests declare are followed: the children of
/// a renamed project are filed under its new name, and grants and inheritance that name a
/// renamed project, group or role use the new name. So a rename keeps everything attached to
/// the object instead of deleting and recreating it. Returns `None` when nothing is renamed.
fn follow_renames(desired: &DesiredState, live: &LiveState) -> Option<LiveState> {
    let renames = Renames::find(desired, live);
    if renames.is_empty() {
        return None;
    }
    let mut out = live.clone();
    out.objects = live
        .objects
        .iter()
        .map(|(key, obj)| renames.apply(key, obj))
        .collect();
    Some(out)
}

/// The live object for a desired one: same key, or one of its previous names.
fn find_live<'a>(
    key: &ResourceKey,
    resource: &Resource,
    live: &'a LiveState,
) -> Option<(&'a ResourceKey, &'a LiveObject)> {
    if let Some((k, o)) = live.objects.get_key_value(key) {
        return Some((k, o));
    }
    resource.previous_names.iter().find_map(|prev| {
        let old = ResourceKey {
            name: prev.clone(),
            ..key.clone()
        };
        live.objects.get_key_value(&old)
    })
}

fn create(key: &ResourceKey, resource: &Resource, secrets: &SecretDigests) -> ResourceDiff {
    let fields = fields::fields(&resource.spec)
        .into_iter()
        .filter_map(|(name, value)| {
            value.map(|v| FieldChange {
                field: name.to_owned(),
                before: None,
                after: Some(v),
            })
        })
        .filter(|f| !f.after.as_ref().is_some_and(is_empty_collection))
        // A field cleared with `null` has nothing to clear on a new object.
        .filter(|f| f.after.as_ref().and_then(Value::as_str) != Some(""))
        .collect();
    let secret = secret_source(&resource.spec).map(|source| SecretChange {
        status: match secrets.get(key) {
            Some(Err(_)) => SecretStatus::Unavailable,
            _ => SecretStatus::New,
        },
        source,
    });
    ResourceDiff {
        key: key.clone(),
        kind: DiffKind::Create,
        fields,
        live: None,
        renamed_from: None,
        secret,
        delete_reason: None,
        protected: resource.protect,
    }
}

fn update(
    key: &ResourceKey,
    resource: &Resource,
    obj: &LiveObject,
    renamed_from: Option<String>,
    secrets: &SecretDigests,
) -> Option<ResourceDiff> {
    let live_fields: BTreeMap<&str, Option<Value>> =
        fields::fields(&obj.spec).into_iter().collect();
    let mut changes = Vec::new();
    if let Some(old) = &renamed_from {
        changes.push(FieldChange {
            field: "name".into(),
            before: Some(Value::String(old.clone())),
            after: Some(Value::String(key.name.clone())),
        });
    }
    for (name, desired) in fields::fields(&resource.spec) {
        let Some(desired) = desired else { continue };
        let live = live_fields.get(name).and_then(Option::as_ref);
        if !normalize::equivalent(&desired, live) {
            changes.push(FieldChange {
                field: name.to_owned(),
                before: live.cloned(),
                after: Some(desired),
            });
        }
    }
    let secret = secret_source(&resource.spec).and_then(|source| {
        let status = secret_status(secrets.get(key), obj)?;
        Some(SecretChange { source, status })
    });
    if changes.is_empty()
        && secret
            .as_ref()
            .is_none_or(|s| s.status == SecretStatus::Unavailable)
    {
        return None;
    }
    let replace = changes
        .iter()
        .any(|c| fields::is_immutable(key.kind, &c.field));
    Some(ResourceDiff {
        key: key.clone(),
        kind: if replace {
            DiffKind::Replace
        } else {
            DiffKind::Update
        },
        fields: changes,
        live: Some((obj.id.clone(), obj.fingerprint.clone())),
        renamed_from,
        secret,
        delete_reason: None,
        protected: resource.protect,
    })
}

/// How a declared secret compares with the live one; `None` when nothing needs writing.
fn secret_status(
    digest: Option<&Result<String, String>>,
    obj: &LiveObject,
) -> Option<SecretStatus> {
    let digest = match digest {
        Some(Ok(d)) => d,
        Some(Err(_)) => return Some(SecretStatus::Unavailable),
        None => return None,
    };
    let Some(live) = &obj.secret else {
        return Some(SecretStatus::Unverified);
    };
    let Some(recorded) = &live.recorded_digest else {
        return Some(SecretStatus::Unverified);
    };
    let rotated = match (&live.updated_at, &live.recorded_at) {
        (Some(updated), Some(recorded_at)) => updated.as_str() > recorded_at.as_str(),
        _ => false,
    };
    if rotated {
        Some(SecretStatus::RotatedOutside)
    } else if recorded != digest {
        Some(SecretStatus::ChangedInGit)
    } else {
        None
    }
}

/// Where a spec's secret comes from, for display.
#[must_use]
pub fn secret_source(spec: &Spec) -> Option<String> {
    let source = spec.secret()?;
    Some(match source {
        SecretSource::Env(name) => format!("env {name}"),
        SecretSource::File(path) => format!("file {path}"),
    })
}

fn is_empty_collection(v: &Value) -> bool {
    v.as_array().is_some_and(Vec::is_empty) || v.as_object().is_some_and(serde_json::Map::is_empty)
}

/// Whether a live object that no manifest declares should be deleted: it lives in a
/// collection that a declared, present scope claims with `authoritative:`. Built-in groups and
/// the org itself are never deleted.
#[must_use]
pub fn is_authoritative(desired: &DesiredState, key: &ResourceKey) -> bool {
    let Some(org) = desired.orgs.get(&key.org) else {
        return false;
    };
    if key.kind == Kind::Org
        || key.kind == Kind::Group && BUILTIN_GROUPS.contains(&key.name.as_str())
    {
        return false;
    }
    match &key.project {
        None => key
            .kind
            .org_collection()
            .is_some_and(|c| org.authoritative.contains(&c)),
        Some(project) => {
            let declared = desired
                .resources
                .get(&ResourceKey::project(&key.org, project))
                .is_some_and(|r| r.presence == Presence::Present);
            declared
                && key.kind.project_collection().is_some_and(|collection| {
                    org.project_authoritative
                        .get(project)
                        .is_some_and(|c| c.contains(&collection))
                })
        }
    }
}
