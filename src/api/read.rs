//! Reading live state: one paginated list walk per kind per org (per project only where the
//! API has no org-wide list), run concurrently, turned into model-shaped [`LiveState`].
//!
//! Ids are resolved back to names and emails, soft-deleted objects are dropped, system roles and
//! objects bt-gitops does not manage are skipped, and every failed list is recorded as an
//! incomplete read so that no delete is planned in its scope.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::client::Client;
use super::error::ApiError;
use super::wire;
use crate::kinds::{ChildVariant, ProjectChild};
use crate::live::{LiveApiKey, LiveObject, LiveSecret, LiveState, Principal, ReadScope};
use crate::model::*;
use crate::refs::{RefKind, References};
use crate::vocab::Collection;

/// The org-level env var that holds the apply lease (see `apply::lease`): bt-gitops's own
/// bookkeeping, never read as a managed object.
pub const LEASE_NAME: &str = "BT_GITOPS_APPLY_LEASE";

/// The org-level env var that holds a controller replica's claim on the org (see
/// `controller::shard`): bookkeeping like [`LEASE_NAME`].
pub const CONTROLLER_LEASE_NAME: &str = "BT_GITOPS_CONTROLLER_LEASE";

/// Every lease name above: env vars with these names are never read as managed objects.
pub const LEASE_NAMES: &[&str] = &[LEASE_NAME, CONTROLLER_LEASE_NAME];

/// The metadata key under which bt-gitops records the digest of the secret it wrote.
pub const SECRET_METADATA_KEY: &str = "bt_gitops";

/// Why an org could not be read at all.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("org `{org}` is not visible to this API key (the key sees: {visible})")]
    OrgNotFound { org: String, visible: String },
    #[error(transparent)]
    Api(#[from] ApiError),
}

/// Reads one org. `projects_with_env_vars` names the declared projects whose env vars are read
/// (the env var list has no org-wide form, so it costs one request per project). `refs` holds
/// the functions, prompts, experiments and datasets the manifests name (`api::refs`): ids of
/// those read back as names (scorers, preprocessors, baselines, grants on single objects), and
/// the env vars of each function in it are read too.
///
/// # Errors
/// When the org itself cannot be found or listed. Failures of individual lists do not fail the
/// read: they are recorded in [`LiveState::incomplete`].
pub async fn fetch_org(
    client: &Client,
    org: &OrgName,
    projects_with_env_vars: &[ProjectName],
    refs: &References,
) -> Result<LiveState, FetchError> {
    let org_q = [("org_name", org.to_string())];
    // A valid key asked about an org it does not belong to gets 401/403 (not an empty list):
    // that is an unknown org when the same key can list the orgs it does see.
    let orgs: Vec<wire::Organization> = match client.list_all(Kind::Org.list(), &org_q).await {
        Ok(orgs) => orgs,
        Err(e) if matches!(e.status(), Some(401 | 403)) => {
            match client
                .list_all::<wire::Organization>(Kind::Org.list(), &[])
                .await
            {
                Ok(seen) if !seen.is_empty() => Vec::new(),
                _ => return Err(e.into()),
            }
        }
        Err(e) => return Err(e.into()),
    };
    let Some(organization) = orgs.into_iter().find(|o| o.name == org.as_str()) else {
        let all: Vec<wire::Organization> = client
            .list_all(Kind::Org.list(), &[])
            .await
            .unwrap_or_default();
        let visible = all
            .iter()
            .map(|o| format!("`{}`", o.name))
            .collect::<Vec<_>>()
            .join(", ");
        return Err(FetchError::OrgNotFound {
            org: org.to_string(),
            visible: if visible.is_empty() {
                "no orgs".into()
            } else {
                visible
            },
        });
    };
    let org_id = organization.id.to_string();

    let (
        users,
        groups,
        roles,
        acls,
        projects,
        children,
        scores,
        automations,
        secrets,
        tokens,
        keys,
        environments,
        org_env,
    ) = tokio::join!(
        client.list_all::<wire::User>(Kind::Member.list(), &org_q),
        client.list_all::<wire::Group>(Kind::Group.list(), &org_q),
        client.list_all::<wire::Role>(Kind::Role.list(), &org_q),
        client.list_all_bare::<wire::Acl>(Kind::Grant.list(), &org_q),
        client.list_all::<wire::Project>(Kind::Project.list(), &org_q),
        list_children(client, &org_q),
        client.list_all::<wire::ProjectScore>(Kind::Score.list(), &org_q),
        client.list_all::<wire::ProjectAutomation>(Kind::Alert.list(), &org_q),
        client.list_all::<wire::AiSecret>(Kind::AiSecret.list(), &org_q),
        client.list_all::<wire::ServiceToken>(Kind::ServiceToken.list(), &org_q),
        client.list_all::<wire::ApiKey>(Collection::ApiKey.path(), &org_q),
        client.list_all::<wire::Environment>(Kind::Environment.list(), &org_q),
        env_vars(client, "organization", &org_id),
    );

    let mut b = Builder {
        org: org.clone(),
        state: LiveState::default(),
    };
    b.insert(
        ResourceKey::org(org),
        organization.id.as_str(),
        org_spec(&organization),
        &organization,
        None,
    );

    // Users first: every other kind refers to them by id.
    let mut emails: HashMap<String, Email> = HashMap::new();
    let mut accounts: HashMap<String, Name> = HashMap::new();
    // A list that fails also leaves incomplete the kinds that name its objects: their live
    // objects could not be resolved, so they would read as missing (planned creates) or as
    // changed (members of a group, subjects of a grant).
    if let Some(users) = b.complete(
        users,
        &[
            Kind::Member,
            Kind::ServiceAccount,
            Kind::ServiceToken,
            Kind::Group,
            Kind::Grant,
        ],
    ) {
        for u in users {
            match &u.email {
                Some(email) => {
                    let Ok(email) = Email::new(email) else {
                        continue;
                    };
                    emails.insert(u.id.to_string(), email.clone());
                    b.insert(
                        ResourceKey::in_org(org, Kind::Member, email.as_str()),
                        u.id.as_str(),
                        Spec::Member(email),
                        &u,
                        None,
                    );
                }
                None => {
                    let Some(name) = u.given_name.as_deref().and_then(|n| Name::new(n).ok()) else {
                        continue;
                    };
                    accounts.insert(u.id.to_string(), name.clone());
                    b.insert(
                        ResourceKey::in_org(org, Kind::ServiceAccount, name.as_str()),
                        u.id.as_str(),
                        Spec::ServiceAccount,
                        &u,
                        None,
                    );
                }
            }
        }
    }

    let groups = b
        .complete(groups, &[Kind::Group, Kind::Grant])
        .unwrap_or_default();
    let group_names: HashMap<String, Name> = groups
        .iter()
        .filter(|g| g.deleted_at.is_none())
        .filter_map(|g| Some((g.id.to_string(), Name::new(&g.name).ok()?)))
        .collect();
    for g in groups.iter().filter(|g| g.deleted_at.is_none()) {
        let Some(name) = group_names.get(g.id.as_str()) else {
            continue;
        };
        let ids: Vec<String> = g
            .member_users
            .iter()
            .flatten()
            .map(ToString::to_string)
            .collect();
        let spec = GroupSpec {
            description: g.description.clone(),
            members: ids
                .iter()
                .filter_map(|id| emails.get(id).cloned())
                .collect(),
            service_accounts: ids
                .iter()
                .filter_map(|id| accounts.get(id).cloned())
                .collect(),
            inherits: g
                .member_groups
                .iter()
                .flatten()
                .filter_map(|id| group_names.get(id.as_str()).cloned())
                .collect(),
            builtin: BUILTIN_GROUPS.contains(&name.as_str()),
        };
        b.insert(
            ResourceKey::in_org(org, Kind::Group, name.as_str()),
            g.id.as_str(),
            Spec::Group(spec),
            g,
            None,
        );
    }

    let roles = b
        .complete(roles, &[Kind::Role, Kind::Grant])
        .unwrap_or_default();
    // System roles (no org) are assignable but not ours to manage.
    let role_names: HashMap<String, Name> = roles
        .iter()
        .filter(|r| r.deleted_at.is_none())
        .filter_map(|r| Some((r.id.to_string(), Name::new(&r.name).ok()?)))
        .collect();
    for r in roles
        .iter()
        .filter(|r| r.deleted_at.is_none() && r.org_id.is_some())
    {
        let Some(name) = role_names.get(r.id.as_str()) else {
            continue;
        };
        let spec = RoleSpec {
            description: r.description.clone(),
            permissions: r
                .member_permissions
                .iter()
                .flatten()
                .map(|p| (p.permission, p.restrict_object_type))
                .collect(),
            inherits: r
                .member_roles
                .iter()
                .flatten()
                .filter_map(|id| role_names.get(id.as_str()).cloned())
                .collect(),
        };
        b.insert(
            ResourceKey::in_org(org, Kind::Role, name.as_str()),
            r.id.as_str(),
            Spec::Role(spec),
            r,
            None,
        );
    }

    let projects_read = projects.is_ok();
    // Without the project list no project-scoped object can be placed. Project env vars are
    // read per project (below), so their failure is recorded there.
    let in_projects: Vec<Kind> = Kind::ALL
        .iter()
        .copied()
        .filter(|k| *k == Kind::Project || k.in_project() && *k != Kind::EnvVar)
        .collect();
    let projects = b.complete(projects, &in_projects).unwrap_or_default();
    if !projects_read {
        // Project env vars are read per project, by id.
        for p in projects_with_env_vars {
            b.incomplete(
                Some(p.clone()),
                Kind::EnvVar,
                &ApiError::Transport {
                    method: "GET".into(),
                    url: Kind::Project.list().into(),
                    message: "the project list failed".into(),
                },
            );
        }
    }
    let project_names: HashMap<String, ProjectName> = projects
        .iter()
        .filter(|p| p.deleted_at.is_none())
        .filter_map(|p| Some((p.id.to_string(), ProjectName::new(&p.name).ok()?)))
        .collect();
    for p in projects.iter().filter(|p| p.deleted_at.is_none()) {
        let Some(name) = project_names.get(p.id.as_str()) else {
            continue;
        };
        let spec = ProjectSpec {
            description: p.description.clone(),
            settings: Some(project_settings(p.settings.as_ref(), name, refs)),
        };
        b.insert(
            ResourceKey::project(org, name),
            p.id.as_str(),
            Spec::Project(spec),
            p,
            None,
        );
    }
    let in_project = |project_id: &wire::Id, kind: Kind, name: &str| -> Option<ResourceKey> {
        project_names
            .get(project_id.as_str())
            .map(|p| ResourceKey::in_project(org, p, kind, name))
    };

    if let Some(acls) = b.complete(acls, &[Kind::Grant]) {
        for acl in &acls {
            let Some((key, spec)) = grant(
                org,
                acl,
                &emails,
                &accounts,
                &group_names,
                &role_names,
                &project_names,
                refs,
            ) else {
                continue;
            };
            b.insert(key, acl.id.as_str(), Spec::Grant(spec), acl, None);
        }
    }

    children.read(&mut b, &in_project);

    for s in b
        .complete(scores, &[Kind::Score, Kind::OnlineScoring])
        .unwrap_or_default()
    {
        let Some(project) = project_names.get(s.project_id.as_str()) else {
            continue;
        };
        let Some((kind, spec)) = score(&s, project, refs) else {
            continue;
        };
        let key = ResourceKey::in_project(org, project, kind, &s.name);
        b.insert(key, s.id.as_str(), spec, &s, None);
    }

    for a in b
        .complete(automations, &[Kind::Alert, Kind::Retention, Kind::Export])
        .unwrap_or_default()
    {
        let Some((kind, spec)) = automation(&a) else {
            continue;
        };
        let Some(key) = in_project(&a.project_id, kind, &a.name) else {
            continue;
        };
        b.insert(key, a.id.as_str(), spec, &a, None);
    }

    for s in b.complete(secrets, &[Kind::AiSecret]).unwrap_or_default() {
        let (metadata, recorded) = split_metadata(s.metadata.as_ref());
        let spec = AiSecretSpec {
            provider: s.r#type.clone(),
            secret: None,
            metadata,
        };
        let secret = LiveSecret {
            recorded_digest: recorded.0,
            recorded_at: recorded.1,
            updated_at: s.secret_updated_at.clone(),
        };
        b.insert(
            ResourceKey::in_org(org, Kind::AiSecret, &s.name),
            s.id.as_str(),
            Spec::AiSecret(spec),
            &s,
            Some(secret),
        );
    }

    for t in b
        .complete(tokens, &[Kind::ServiceToken])
        .unwrap_or_default()
    {
        let account = t
            .service_account_id
            .as_ref()
            .and_then(|id| accounts.get(id.as_str()).cloned())
            .or_else(|| {
                t.service_account_name
                    .as_deref()
                    .and_then(|n| Name::new(n).ok())
            });
        let (Some(account), Ok(name)) = (account, Name::new(&t.name)) else {
            continue;
        };
        let key = ResourceKey::in_org(org, Kind::ServiceToken, format!("{account}/{name}"));
        let spec = ServiceTokenSpec {
            account,
            name,
            write_key_to: None,
        };
        b.insert(key, t.id.as_str(), Spec::ServiceToken(spec), &t, None);
    }

    let keys = b.complete(keys, &[]).unwrap_or_default();
    if let Some(email) = keys
        .iter()
        .filter(|k| client.key_matches_preview(&k.preview_name))
        .find_map(|k| k.user_id.as_ref().and_then(|id| emails.get(id.as_str())))
    {
        b.state
            .own_principal
            .insert(org.clone(), Principal::User(email.to_string()));
    }
    for k in keys {
        b.state.api_keys.push(LiveApiKey {
            org: org.clone(),
            id: k.id.to_string(),
            name: k.name.clone(),
            owner_email: k.user_email.clone().or_else(|| {
                k.user_id
                    .as_ref()
                    .and_then(|id| emails.get(id.as_str()).map(ToString::to_string))
            }),
            created: k.created.clone(),
        });
    }

    for e in b
        .complete(environments, &[Kind::Environment])
        .unwrap_or_default()
    {
        if e.deleted_at.is_some() {
            continue;
        }
        let spec = EnvironmentSpec {
            slug: e.slug.clone(),
            description: e.description.clone(),
        };
        b.insert(
            ResourceKey::in_org(org, Kind::Environment, &e.slug),
            e.id.as_str(),
            Spec::Environment(spec),
            &e,
            None,
        );
    }

    match org_env {
        Ok(vars) => {
            for v in vars {
                b.env_var(
                    ResourceKey::in_org(org, Kind::EnvVar, &v.name),
                    EnvVarScope::Org,
                    &v,
                );
            }
        }
        Err(err) => b.incomplete(None, Kind::EnvVar, &err),
    }
    let wanted: BTreeSet<&ProjectName> = projects_with_env_vars.iter().collect();
    let reads: Vec<(ProjectName, String)> = project_names
        .iter()
        .filter(|(_, name)| wanted.contains(name))
        .map(|(id, name)| (name.clone(), id.clone()))
        .collect();
    let mut tasks = tokio::task::JoinSet::new();
    for (i, (_, id)) in reads.iter().enumerate() {
        let (client, id) = (client.clone(), id.clone());
        tasks.spawn(async move { (i, env_vars(&client, "project", &id).await) });
    }
    let mut results: Vec<Option<Result<Vec<wire::EnvVar>, ApiError>>> =
        (0..reads.len()).map(|_| None).collect();
    while let Some(joined) = tasks.join_next().await {
        if let Ok((i, result)) = joined {
            results[i] = Some(result);
        }
    }
    for (r, id) in refs.functions().filter(|(r, _)| &r.org == org) {
        match env_vars(client, "function", id).await {
            Ok(vars) => {
                for v in vars {
                    let key = ResourceKey::in_project(
                        org,
                        &r.project,
                        Kind::EnvVar,
                        format!("function:{}/{}", r.name, v.name),
                    );
                    let scope = EnvVarScope::Function {
                        project: r.project.clone(),
                        slug: r.name.clone(),
                    };
                    b.env_var(key, scope, &v);
                }
            }
            Err(err) => b.incomplete(Some(r.project.clone()), Kind::EnvVar, &err),
        }
    }
    for ((project, _), result) in reads.into_iter().zip(results) {
        let result = result.unwrap_or_else(|| {
            Err(ApiError::Transport {
                method: "GET".into(),
                url: Kind::EnvVar.list().into(),
                message: "the read task stopped".into(),
            })
        });
        match result {
            Ok(vars) => {
                for v in vars {
                    let key = ResourceKey::in_project(org, &project, Kind::EnvVar, &v.name);
                    b.env_var(key, EnvVarScope::Project(project.clone()), &v);
                }
            }
            Err(err) => b.incomplete(Some(project), Kind::EnvVar, &err),
        }
    }
    Ok(b.state)
}

/// The env vars of one object. This list has no cursor parameters, so it is one request.
async fn env_vars(
    client: &Client,
    object_type: &str,
    object_id: &str,
) -> Result<Vec<wire::EnvVar>, ApiError> {
    let q = [
        ("object_type", object_type.to_owned()),
        ("object_id", object_id.to_owned()),
    ];
    let list: wire::ListResponse<wire::EnvVar> = client.get(Kind::EnvVar.list(), &q).await?;
    Ok(list.objects)
}

struct Builder {
    org: OrgName,
    state: LiveState,
}

/// The list responses of the [`ProjectChild`] kinds, nested `(first, (second, (... ())))`, each
/// turned into live objects by [`ChildLists::read`].
trait ChildLists {
    fn read(
        self,
        b: &mut Builder,
        in_project: &impl Fn(&wire::Id, Kind, &str) -> Option<ResourceKey>,
    );
}

impl ChildLists for () {
    fn read(self, _: &mut Builder, _: &impl Fn(&wire::Id, Kind, &str) -> Option<ResourceKey>) {}
}

impl<K: ChildVariant, Rest: ChildLists> ChildLists
    for (
        Result<Vec<K::Item>, ApiError>,
        Rest,
        std::marker::PhantomData<K>,
    )
{
    fn read(
        self,
        b: &mut Builder,
        in_project: &impl Fn(&wire::Id, Kind, &str) -> Option<ResourceKey>,
    ) {
        b.children::<K>(self.0, in_project);
        self.1.read(b, in_project);
    }
}

/// Lists every [`ProjectChild`] kind of the org concurrently.
async fn list_children(client: &Client, org_q: &[(&str, String)]) -> impl ChildLists {
    macro_rules! list {
        ([$client:expr, $q:expr]) => { async {} };
        ([$client:expr, $q:expr] $module:ident::$kind:ident($field:ident) $(, $rest_module:ident::$rest:ident($rest_field:ident))*) => {
            async {
                use crate::kinds::$module::$kind;
                let (first, rest) = tokio::join!(
                    $client.list_all::<<$kind as ProjectChild>::Item>($kind::KIND.list(), $q),
                    list!([$client, $q] $($rest_module::$rest($rest_field)),*),
                );
                (first, rest, std::marker::PhantomData::<$kind>)
            }
        };
    }
    crate::kinds::project_children!(list!(client, org_q)).await
}

impl Builder {
    /// The live objects of one [`ProjectChild`] kind, from its list response; soft-deleted items
    /// and items of unknown projects are skipped.
    fn children<K: ChildVariant>(
        &mut self,
        result: Result<Vec<K::Item>, ApiError>,
        in_project: &impl Fn(&wire::Id, Kind, &str) -> Option<ResourceKey>,
    ) {
        for item in self.complete(result, &[K::KIND]).unwrap_or_default() {
            let head = K::item(&item);
            if head.deleted {
                continue;
            }
            let Some(key) = in_project(head.project_id, K::KIND, head.name) else {
                continue;
            };
            let spec = K::wrap(K::read(&item));
            self.insert(key, head.id.as_str(), spec, &item, None);
        }
    }

    /// The objects of a list that completed; a failed list marks its kinds incomplete.
    fn complete<T>(&mut self, result: Result<Vec<T>, ApiError>, kinds: &[Kind]) -> Option<Vec<T>> {
        match result {
            Ok(v) => Some(v),
            Err(err) => {
                for kind in kinds {
                    self.incomplete(None, *kind, &err);
                }
                None
            }
        }
    }

    fn incomplete(&mut self, project: Option<ProjectName>, kind: Kind, err: &ApiError) {
        tracing::warn!(org = %self.org, kind = %kind, error = %err, "list failed; deletes in this scope are blocked");
        self.state.incomplete.insert(ReadScope {
            org: self.org.clone(),
            project,
            kind,
        });
    }

    fn insert<W: Serialize>(
        &mut self,
        key: ResourceKey,
        id: &str,
        spec: Spec,
        wire: &W,
        secret: Option<LiveSecret>,
    ) {
        let object = LiveObject {
            id: id.to_owned(),
            spec,
            fingerprint: fingerprint(wire),
            secret,
        };
        self.state.objects.insert(key, object);
    }

    fn env_var(&mut self, key: ResourceKey, scope: EnvVarScope, v: &wire::EnvVar) {
        // The leases are bt-gitops's own bookkeeping, never managed objects.
        if LEASE_NAMES.contains(&v.name.as_str()) {
            return;
        }
        let Ok(name) = Name::new(&v.name) else { return };
        let (_, recorded) = split_metadata(v.metadata.as_ref());
        let secret = LiveSecret {
            recorded_digest: recorded.0,
            recorded_at: recorded.1,
            updated_at: v.secret_updated_at.clone(),
        };
        let spec = Spec::EnvVar(EnvVarSpec {
            name,
            scope,
            value: None,
        });
        self.insert(key, v.id.as_str(), spec, v, Some(secret));
    }
}

/// A short, stable digest of an object as the API returned it.
#[must_use]
pub fn fingerprint<W: Serialize>(wire: &W) -> String {
    let bytes = serde_json::to_vec(wire).unwrap_or_default();
    let digest = Sha256::digest(&bytes);
    digest.iter().take(12).map(|b| format!("{b:02x}")).collect()
}

/// Metadata without bt-gitops's own key, and the `(digest, written_at)` recorded under it.
fn split_metadata(
    metadata: Option<&wire::JsonMap>,
) -> (
    BTreeMap<String, serde_json::Value>,
    (Option<String>, Option<String>),
) {
    let mut out = BTreeMap::new();
    let mut recorded = (None, None);
    for (k, v) in metadata.into_iter().flatten() {
        if k == SECRET_METADATA_KEY {
            recorded = (
                v.get("digest").and_then(|d| d.as_str()).map(str::to_owned),
                v.get("written_at")
                    .and_then(|d| d.as_str())
                    .map(str::to_owned),
            );
        } else {
            out.insert(k.clone(), v.clone());
        }
    }
    (out, recorded)
}

fn org_spec(o: &wire::Organization) -> Spec {
    Spec::Org(OrgSettings {
        api_url: o.api_url.clone(),
        proxy_url: o.proxy_url.clone(),
        realtime_url: o.realtime_url.clone(),
        is_universal_api: o.is_universal_api,
        is_dataplane_private: o.is_dataplane_private,
        image_rendering_mode: o.image_rendering_mode,
    })
}

fn project_settings(
    s: Option<&wire::ProjectSettings>,
    project: &ProjectName,
    refs: &References,
) -> ProjectSettings {
    let Some(s) = s else {
        return ProjectSettings::default();
    };
    ProjectSettings {
        comparison_key: s.comparison_key.clone(),
        baseline_experiment: s
            .baseline_experiment_id
            .as_ref()
            .map(|id| refs.experiment_name(id.as_str())),
        span_field_order: s.span_field_order.as_ref().map(|f| {
            f.iter()
                .map(|f| SpanField {
                    object_type: f.object_type.clone(),
                    column_id: f.column_id.clone(),
                    position: f.position.clone(),
                    layout: f.layout,
                })
                .collect()
        }),
        remote_eval_sources: s.remote_eval_sources.as_ref().map(|r| {
            r.iter()
                .map(|r| RemoteEvalSource {
                    url: r.url.clone(),
                    name: r.name.clone(),
                    description: r.description.clone(),
                })
                .collect()
        }),
        disable_realtime_queries: s.disable_realtime_queries,
        default_preprocessor: s
            .default_preprocessor
            .as_ref()
            .map(|f| function_ref(f, project, refs)),
    }
}

/// A function reference as read: built-ins by name, project functions by slug when they are
/// among the functions the manifests name, else as `id:<uuid>` in their project.
fn function_ref(
    f: &wire::SavedFunctionId,
    project: &ProjectName,
    refs: &References,
) -> FunctionRef {
    match f {
        wire::SavedFunctionId::Global(g) => FunctionRef::Global {
            name: g.name.clone(),
            function_type: g.function_type,
        },
        wire::SavedFunctionId::Function(f) => refs.function_ref(f.id.as_str(), project),
    }
}

fn score(s: &wire::ProjectScore, project: &ProjectName, refs: &References) -> Option<(Kind, Spec)> {
    let config = s.config.as_ref();
    let object_types = config
        .and_then(|c| c.object_types.as_ref())
        .map(|t| t.iter().copied().collect());
    let kind = match (&s.score_type, &s.categories) {
        (wire::ProjectScoreType::Online, _) => {
            let online = config.and_then(|c| c.online.as_ref())?;
            let spec = OnlineScoringSpec {
                description: s.description.clone(),
                sampling_rate: online.sampling_rate,
                scorers: online
                    .scorers
                    .iter()
                    .map(|f| function_ref(f, project, refs))
                    .collect(),
                filter: online.btql_filter.clone(),
                scope: match &online.scope {
                    None | Some(wire::Scope::Span) => Scope::Span,
                    Some(wire::Scope::Trace(t)) => Scope::Trace {
                        idle_seconds: t.idle_seconds,
                    },
                    Some(wire::Scope::Group(g)) => Scope::Group {
                        group_by: g.group_by.clone(),
                        placement: g.placement,
                        interval_seconds: g.interval_seconds,
                        max_traces: g.max_traces,
                        idle_seconds: g.idle_seconds,
                    },
                },
                apply_to_root_span: online.apply_to_root_span,
                apply_to_span_names: online.apply_to_span_names.clone(),
                skip_logging: online.skip_logging,
            };
            return Some((Kind::OnlineScoring, Spec::OnlineScoring(spec)));
        }
        (wire::ProjectScoreType::Slider, _) => ScoreKind::Slider,
        (wire::ProjectScoreType::FreeForm, _) => ScoreKind::FreeForm,
        (
            wire::ProjectScoreType::Categorical,
            Some(wire::ProjectScoreCategories::Categorical(c)),
        ) => ScoreKind::Categorical {
            categories: c.iter().map(|c| (c.name.clone(), c.value)).collect(),
            multi_select: config.and_then(|c| c.multi_select),
        },
        (wire::ProjectScoreType::Categorical, _) => ScoreKind::Categorical {
            categories: Vec::new(),
            multi_select: None,
        },
        (wire::ProjectScoreType::Weighted, Some(wire::ProjectScoreCategories::Weighted(w))) => {
            ScoreKind::Weighted(w.iter().map(|(k, v)| (k.clone(), *v)).collect())
        }
        (wire::ProjectScoreType::Weighted, _) => ScoreKind::Weighted(BTreeMap::new()),
        (wire::ProjectScoreType::Minimum, c) => ScoreKind::Minimum(names(c.as_ref())),
        (wire::ProjectScoreType::Maximum, c) => ScoreKind::Maximum(names(c.as_ref())),
    };
    Some((
        Kind::Score,
        Spec::Score(ScoreSpec {
            description: s.description.clone(),
            kind,
            object_types,
        }),
    ))
}

fn names(c: Option<&wire::ProjectScoreCategories>) -> BTreeSet<String> {
    match c {
        Some(wire::ProjectScoreCategories::Minimum(n)) => n.iter().cloned().collect(),
        _ => BTreeSet::new(),
    }
}

fn automation(a: &wire::ProjectAutomation) -> Option<(Kind, Spec)> {
    let seconds = |s: f64| {
        if s.is_finite() && s >= 0.0 {
            s.round() as u64
        } else {
            0
        }
    };
    match &a.config {
        wire::AutomationConfig::Logs(l) => Some((
            Kind::Alert,
            Spec::Alert(AlertSpec {
                description: a.description.clone(),
                filter: l.btql_filter.clone(),
                interval_seconds: seconds(l.interval_seconds),
                notify: match &l.action {
                    wire::AutomationAction::Webhook(w) => Notify::Webhook { url: w.url.clone() },
                    wire::AutomationAction::Slack(s) => Notify::Slack {
                        workspace_id: s.workspace_id.clone(),
                        channel: s.channel.clone(),
                        message_template: s.message_template.clone(),
                    },
                },
            }),
        )),
        wire::AutomationConfig::Retention(r) => Some((
            Kind::Retention,
            Spec::Retention(RetentionSpec {
                object_type: r.object_type,
                days: r.retention_days,
            }),
        )),
        wire::AutomationConfig::BtqlExport(e) => Some((
            Kind::Export,
            Spec::Export(ExportSpec {
                description: a.description.clone(),
                data: match &e.export_definition {
                    wire::ExportDefinition::LogTraces => ExportData::LogTraces,
                    wire::ExportDefinition::LogSpans => ExportData::LogSpans,
                    wire::ExportDefinition::BtqlQuery(q) => ExportData::Query(q.btql_query.clone()),
                },
                path: e.export_path.clone(),
                format: e.format,
                interval_seconds: seconds(e.interval_seconds),
                credentials: match &e.credentials {
                    wire::ExportCredentials::AwsIam(c) => ExportCredentials::Aws {
                        role_arn: c.role_arn.clone(),
                        external_id: Some(c.external_id.clone()),
                    },
                    wire::ExportCredentials::GcpServiceAccount(c) => ExportCredentials::Gcp {
                        service_account: c.service_account_email.clone(),
                    },
                },
                status: e.status,
                batch_size: e.batch_size.map(|b| b.round() as i64),
            }),
        )),
        _ => None,
    }
}

/// An ACL as a grant, keyed where the desired state keys it: grants on a project (or on one of
/// its objects) live in the project, the rest in the org.
#[allow(clippy::too_many_arguments)]
fn grant(
    org: &OrgName,
    acl: &wire::Acl,
    emails: &HashMap<String, Email>,
    accounts: &HashMap<String, Name>,
    groups: &HashMap<String, Name>,
    roles: &HashMap<String, Name>,
    projects: &HashMap<String, ProjectName>,
    refs: &References,
) -> Option<(ResourceKey, GrantSpec)> {
    let subject = match (&acl.user_id, &acl.group_id) {
        (Some(u), None) => match emails.get(u.as_str()) {
            Some(e) => Subject::User(e.clone()),
            None => Subject::ServiceAccount(accounts.get(u.as_str())?.clone()),
        },
        (None, Some(g)) => Subject::Group(groups.get(g.as_str())?.clone()),
        _ => return None,
    };
    let privilege = match (&acl.role_id, &acl.permission) {
        (Some(r), None) => Privilege::Role(roles.get(r.as_str())?.clone()),
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
        AclObjectType::Group => GrantTarget::Group(groups.get(object)?.clone()),
        AclObjectType::Role => GrantTarget::Role(roles.get(object)?.clone()),
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
