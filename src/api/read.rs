//! Reading live state: one paginated list walk per kind per org (per project only where the
//! API has no org-wide list), run concurrently, turned into model-shaped [`LiveState`].
//!
//! Ids are resolved back to names and emails, soft-deleted objects are dropped, system roles are
//! skipped, and every failed list is recorded as an incomplete read so that no delete is planned
//! in its scope. List items are decoded one by one: an item outside the model (one our wire
//! types cannot decode, an automation kind or an env var category bt-gitops does not manage, a
//! second object under a name already read) is kept as an unknown object in its org or
//! project, never dropped and never fatal to its neighbours.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::client::{Client, Listed, PAGE_SIZE, RawItem};
use super::error::ApiError;
use super::wire;
use crate::kinds::{
    ChildVariant, LiveNames, OrgChild, OrgVariant, ProjectChild, ai_provider, ai_secret,
    service_account, service_token,
};
use crate::live::{
    AccountListing, LiveApiKey, LiveObject, LiveSecret, LiveState, Principal, ReadScope,
    UnknownObject,
};
use crate::model::*;
use crate::refs::References;
use crate::vocab::Collection;
use crate::wire::HasId;

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

/// Reads one org. `projects_with_env_vars` names the declared projects whose env vars and views
/// are read (neither list has an org-wide form, so each costs one request per project). `refs` holds
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
    fetch_org_then(
        client,
        org,
        std::future::ready((projects_with_env_vars.to_vec(), Ok(refs.clone()))),
    )
    .await
}

/// Like [`fetch_org`], with the projects whose env vars are read and the looked-up named objects
/// given by a future that is awaited alongside the org-wide lists: a caller can start reading
/// before it knows them (while the manifests are still being parsed, see
/// `reconcile::analyze_and_plan`).
///
/// # Errors
/// As [`fetch_org`].
pub async fn fetch_org_then(
    client: &Client,
    org: &OrgName,
    later: impl std::future::Future<Output = (Vec<ProjectName>, Result<References, ApiError>)>,
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
        org_children,
        acls,
        projects,
        children,
        scores,
        automations,
        secrets,
        tokens,
        keys,
        org_env,
        (projects_with_env_vars, refs),
    ) = tokio::join!(
        client.list_items::<wire::User>(Kind::Member.list(), &org_q),
        list_org_children(client, &org_q),
        client.list_items_bare::<wire::Acl>(Kind::Grant.list(), &org_q),
        client.list_items::<wire::Project>(Kind::Project.list(), &org_q),
        list_children(client, &org_q),
        client.list_items::<wire::ProjectScore>(Kind::Score.list(), &org_q),
        client.list_items::<wire::ProjectAutomation>(Kind::Alert.list(), &org_q),
        client.list_items::<wire::AiSecret>(Kind::AiSecret.list(), &org_q),
        client.list_items::<wire::ServiceToken>(Kind::ServiceToken.list(), &org_q),
        client.list_items::<wire::ApiKey>(Collection::ApiKey.path(), &org_q),
        env_vars(client, "organization", &org_id),
        later,
    );
    let projects_with_env_vars = projects_with_env_vars.as_slice();
    // Without the named objects, ids could not be named back: the read fails as a whole.
    let refs = &refs?;
    // ACLs on single objects may be missing from `list_org` (R8): each named object it showed
    // none of is read by object.
    let (acls, object_acl_failures) = with_object_acls(client, org, acls, refs).await;

    let mut b = Builder {
        org: org.clone(),
        state: LiveState::default(),
        unplaced: Vec::new(),
    };
    for (project, err) in object_acl_failures {
        b.incomplete(Some(project), Kind::Grant, &err);
    }
    b.insert(
        ResourceKey::org(org),
        organization.id.as_str(),
        Spec::Org(crate::kinds::org::read(&organization)),
        &organization,
        None,
        None,
    );

    // The token list first: it names service accounts whatever the user list shows (K1).
    let tokens = b.complete(tokens, Collection::ServiceToken, &[Kind::ServiceToken]);
    let tokens_read = tokens.is_some();
    let tokens = tokens.unwrap_or_default();
    let token_accounts = service_account::TokenAccounts::new(tokens.iter().map(|(t, _)| t));

    // Users next: every other kind refers to them by id.
    let mut emails: HashMap<String, Email> = HashMap::new();
    let mut accounts: HashMap<String, Name> = HashMap::new();
    let mut users_read = false;
    let mut listed_accounts = false;
    let mut user_ids: BTreeSet<String> = BTreeSet::new();
    // A list that fails also leaves incomplete the kinds that name its objects: their live
    // objects could not be resolved, so they would read as missing (planned creates) or as
    // changed (members of a group, subjects of a grant).
    if let Some(users) = b.complete(
        users,
        Collection::User,
        &[
            Kind::Member,
            Kind::ServiceAccount,
            Kind::ServiceToken,
            Kind::Group,
            Kind::Grant,
        ],
    ) {
        users_read = true;
        for (u, raw) in users {
            user_ids.insert(u.id.to_string());
            match service_account::classify(&u, &raw, &token_accounts) {
                service_account::ListedUser::Member(email) => {
                    emails.insert(u.id.to_string(), email.clone());
                    b.insert(
                        ResourceKey::in_org(org, Kind::Member, email.as_str()),
                        u.id.as_str(),
                        Spec::Member(email),
                        &u,
                        None,
                        Some(raw),
                    );
                }
                service_account::ListedUser::ServiceAccount(name) => {
                    listed_accounts = true;
                    accounts.insert(u.id.to_string(), name.clone());
                    b.insert(
                        ResourceKey::in_org(org, Kind::ServiceAccount, name.as_str()),
                        u.id.as_str(),
                        Spec::ServiceAccount,
                        &u,
                        None,
                        Some(raw),
                    );
                }
                service_account::ListedUser::Unreadable => {}
            }
        }
    }
    // Accounts that tokens name but the user list does not show: where the user list shows
    // service accounts, these were deleted and left their tokens behind (kept as unmanaged
    // tokens below); where it shows none, they may be hidden from it (K1's documented answer)
    // or deleted, and nothing read tells which, so they are read as accounts (grants and
    // groups naming them resolve, and no second one is created) and marked as seen only
    // through their tokens.
    let mut hidden: Vec<String> = Vec::new();
    if users_read {
        for (id, name) in token_accounts.iter() {
            if user_ids.contains(id) {
                continue;
            }
            hidden.push(format!(
                "service tokens name the account `{}` ({id}), which the user list does not show",
                name.unwrap_or("?")
            ));
            if listed_accounts {
                continue;
            }
            let Some(name) = name.and_then(|n| Name::new(n).ok()) else {
                continue;
            };
            let key = ResourceKey::in_org(org, Kind::ServiceAccount, name.as_str());
            if b.state.objects.contains_key(&key) {
                continue;
            }
            accounts.insert(id.to_owned(), name.clone());
            let shown = serde_json::json!({ "id": id, "service_account_name": name.as_str() });
            b.insert(key.clone(), id, Spec::ServiceAccount, &shown, None, None);
            b.state.accounts_seen_only_through_tokens.insert(key);
        }
    }

    // Then the plain org-level kinds, each list's names first (they name each other by id).
    let mut names = LiveNames::default();
    for (id, email) in &emails {
        names.insert(Kind::Member, id, email.to_string());
    }
    for (id, name) in &accounts {
        names.insert(Kind::ServiceAccount, id, name.to_string());
    }
    org_children.read(&mut b, &mut names);

    let projects_read = projects.is_ok();
    // Without the project list no project-scoped object can be placed. Project env vars (and AI providers) are
    // read per project (below), so their failure is recorded there.
    let in_projects: Vec<Kind> = Kind::ALL
        .iter()
        .copied()
        .filter(|k| {
            *k == Kind::Project || k.in_project() && !matches!(*k, Kind::EnvVar | Kind::AiProvider)
        })
        .collect();
    let projects = b
        .complete(projects, Collection::Project, &in_projects)
        .unwrap_or_default();
    if !projects_read {
        // Project env vars are read per project, by id.
        for p in projects_with_env_vars {
            b.project_env_vars_failed(
                p,
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
        .filter(|(p, _)| p.deleted_at.is_none())
        .filter_map(|(p, _)| Some((p.id.to_string(), ProjectName::new(&p.name).ok()?)))
        .chain(b.unknown_projects())
        .collect();
    for (p, raw) in projects.into_iter().filter(|(p, _)| p.deleted_at.is_none()) {
        let Some(name) = project_names.get(p.id.as_str()) else {
            continue;
        };
        let spec = crate::kinds::project::read(&p, name, refs);
        b.insert(
            ResourceKey::project(org, name),
            p.id.as_str(),
            Spec::Project(spec),
            &p,
            None,
            Some(raw),
        );
    }
    let in_project = |project_id: &wire::Id, kind: Kind, name: &str| -> Option<ResourceKey> {
        project_names
            .get(project_id.as_str())
            .map(|p| ResourceKey::in_project(org, p, kind, name))
    };

    if let Some(acls) = b.complete(acls, Collection::Acl, &[Kind::Grant]) {
        for (acl, raw) in acls {
            if let Some(user) = acl.user_id.as_ref().map(wire::Id::as_str)
                && users_read
                && !user_ids.contains(user)
                && !accounts.contains_key(user)
            {
                hidden.push(format!(
                    "a grant names the user {user}, which the user list does not show"
                ));
            }
            let Some((key, spec)) = crate::kinds::grant::read(
                org,
                &acl,
                &emails,
                &accounts,
                &names,
                &project_names,
                refs,
            ) else {
                continue;
            };
            b.insert(
                key,
                acl.id.as_str(),
                Spec::Grant(spec),
                &acl,
                None,
                Some(raw),
            );
        }
    }

    if users_read {
        for (key, o) in &b.state.objects {
            if key.kind != Kind::Group {
                continue;
            }
            let members = o.raw.as_ref().and_then(|r| r["member_users"].as_array());
            for id in members
                .into_iter()
                .flatten()
                .filter_map(serde_json::Value::as_str)
            {
                if !user_ids.contains(id) && !accounts.contains_key(id) {
                    hidden.push(format!(
                        "group `{}` holds the user {id}, which the user list does not show",
                        key.name
                    ));
                }
            }
        }
        let listing = if listed_accounts {
            AccountListing::Listed
        } else if let Some(first) = hidden.first() {
            AccountListing::Hidden(first.clone())
        } else {
            AccountListing::Unknown
        };
        b.state.account_listing.insert(org.clone(), listing);
    }

    children.read(&mut b, &in_project);

    for (s, raw) in b
        .complete(
            scores,
            Collection::ProjectScore,
            &[Kind::Score, Kind::OnlineScoring],
        )
        .unwrap_or_default()
    {
        let Some(project) = project_names.get(s.project_id.as_str()) else {
            continue;
        };
        let Some((kind, spec)) = crate::kinds::project_score::read(&s, project, refs) else {
            // An online score without its online configuration, or a minimum or maximum score
            // whose categories have another shape: outside the model.
            b.unmodelled(
                Collection::ProjectScore,
                raw,
                crate::kinds::project_score::unmanaged_reason(&s),
            );
            continue;
        };
        let key = ResourceKey::in_project(org, project, kind, &s.name);
        b.insert(key, s.id.as_str(), spec, &s, None, Some(raw));
    }

    for (a, raw) in b
        .complete(
            automations,
            Collection::ProjectAutomation,
            &[
                Kind::Alert,
                Kind::Retention,
                Kind::Export,
                Kind::EnvironmentAlert,
            ],
        )
        .unwrap_or_default()
    {
        let Some((kind, spec)) = crate::kinds::automation::read(&a) else {
            // Not managed, but it holds its name in the project's automations.
            let reason = crate::kinds::automation::unmanaged_reason(&raw);
            b.unmodelled(Collection::ProjectAutomation, raw, reason);
            continue;
        };
        let Some(key) = in_project(&a.project_id, kind, &a.name) else {
            continue;
        };
        b.insert(key, a.id.as_str(), spec, &a, None, Some(raw));
    }

    for (s, raw) in b
        .complete(secrets, Collection::AiSecret, &[Kind::AiSecret])
        .unwrap_or_default()
    {
        let (metadata, recorded) = split_metadata(s.metadata.as_ref());
        let spec = ai_secret::read(s.r#type.clone(), metadata);
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
            Some(raw),
        );
    }

    for (t, raw) in &tokens {
        let Some((name, spec)) = service_token::read(t, &accounts) else {
            // Its account is not in the org (deleted, its tokens left behind): never read as a
            // token of a declared account, never deleted, shown as unmanaged.
            // It holds no name: a new account of the same name may declare a token of the same
            // name (token names need not be unique, K10).
            b.state.unknown.push(UnknownObject {
                org: org.clone(),
                project: None,
                collection: Collection::ServiceToken,
                id: Some(t.id.to_string()),
                name: None,
                reason: format!(
                    "token `{}` of service account `{}`, which is not in the org (deleted, its tokens left behind)",
                    t.name,
                    t.service_account_name.as_deref().unwrap_or("?"),
                ),
                raw: raw.clone(),
            });
            continue;
        };
        let key = ResourceKey::in_org(org, Kind::ServiceToken, name);
        b.insert(
            key,
            t.id.as_str(),
            Spec::ServiceToken(spec),
            t,
            None,
            Some(raw.clone()),
        );
    }
    let tokens: Vec<wire::ServiceToken> = tokens.into_iter().map(|(t, _)| t).collect();

    let keys = b.complete(keys, Collection::ApiKey, &[]);
    let keys_read = keys.is_some();
    let keys: Vec<wire::ApiKey> = keys
        .unwrap_or_default()
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    if let Some(me) = own_principal(client, &keys, &tokens, &emails, &accounts) {
        b.state.own_principal.insert(org.clone(), me);
    }
    if let Some(id) = own_credential(client, &keys, &tokens) {
        b.state.own_credential.insert(org.clone(), id);
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

    b.place_unknown(&project_names);

    match org_env {
        Ok(vars) => b.env_vars(None, vars),
        // Held back in the whole org, project env vars and AI providers (the same list,
        // read per project) included, as a failed list is everywhere else.
        Err(err) => {
            for kind in [Kind::EnvVar, Kind::AiProvider] {
                b.incomplete(None, kind, &err);
            }
        }
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
    // Views are read per project too (their list requires the project as its locator).
    let mut view_tasks = tokio::task::JoinSet::new();
    for (i, (_, id)) in reads.iter().enumerate() {
        let (client, id) = (client.clone(), id.clone());
        view_tasks.spawn(async move { (i, views(&client, &id).await) });
    }
    let mut results: Vec<Option<Result<Listed<wire::EnvVar>, ApiError>>> =
        (0..reads.len()).map(|_| None).collect();
    while let Some(joined) = tasks.join_next().await {
        if let Ok((i, result)) = joined {
            results[i] = Some(result);
        }
    }
    let mut view_results: Vec<Option<Result<Listed<wire::View>, ApiError>>> =
        (0..reads.len()).map(|_| None).collect();
    while let Some(joined) = view_tasks.join_next().await {
        if let Ok((i, result)) = joined {
            view_results[i] = Some(result);
        }
    }
    let own_user = own_user_id(b.state.own_principal.get(org), &emails, &accounts);
    // Which views are the key's own is told by their `user_id` against the key's user (J12),
    // whom the user, API-key and service-token lists name. When one of those failed and the
    // key's user is not known, a view the key made reads like another user's: views are held
    // back rather than planned around names that only seem taken.
    let maker_unknown = own_user.is_none() && !(users_read && keys_read && tokens_read);
    if maker_unknown {
        b.incomplete_because(
            Kind::View,
            "the maker of a view cannot be told: the key's own user is unknown because the user, API-key or service-token list failed",
        );
    }
    for ((project, _), result) in reads.iter().zip(view_results) {
        let result = result.unwrap_or_else(|| {
            Err(ApiError::Transport {
                method: "GET".into(),
                url: Kind::View.list().into(),
                message: "the read task stopped".into(),
            })
        });
        match result {
            Ok(listed) => b.views(project, listed, own_user.as_deref(), maker_unknown),
            Err(err) => b.incomplete(Some(project.clone()), Kind::View, &err),
        }
    }
    for (r, id) in refs.functions().filter(|(r, _)| &r.org == org) {
        match env_vars(client, "function", id).await {
            Ok(vars) => {
                for RawItem { raw, error } in vars.unknown {
                    b.unknown(
                        Some(r.project.clone()),
                        Collection::EnvVar,
                        raw,
                        format!("outside the model: {error}"),
                    );
                }
                for (v, raw) in vars.items.into_iter().zip(vars.raw) {
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
                    b.env_var(key, scope, &v, raw);
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
            Ok(vars) => b.env_vars(Some(project), vars),
            Err(err) => b.project_env_vars_failed(&project, &err),
        }
    }
    b.state.references = refs.clone();
    Ok(b.state)
}

/// The names of an org's live projects (`import` reads every project's env vars).
///
/// # Errors
/// When the project list fails.
pub async fn project_names(client: &Client, org: &OrgName) -> Result<Vec<ProjectName>, ApiError> {
    let projects: Vec<wire::Project> = client
        .list_all(Kind::Project.list(), &[("org_name", org.to_string())])
        .await?;
    Ok(projects
        .iter()
        .filter(|p| p.deleted_at.is_none())
        .filter_map(|p| ProjectName::new(&p.name).ok())
        .collect())
}

/// The env vars of one object. This list has no cursor parameters, so it is one request; it
/// asks for [`PAGE_SIZE`] explicitly, since a default cap on the server would otherwise cut it
/// (P7), and an answer that fills the page cannot be followed up, so it fails the read (the
/// plan is then incomplete) rather than reading the rest as missing.
async fn env_vars(
    client: &Client,
    object_type: &str,
    object_id: &str,
) -> Result<Listed<wire::EnvVar>, ApiError> {
    let q = [
        ("object_type", object_type.to_owned()),
        ("object_id", object_id.to_owned()),
        ("limit", PAGE_SIZE.to_string()),
    ];
    let listed: Listed<wire::EnvVar> = client.get_items(Kind::EnvVar.list(), &q).await?;
    if listed.items.len() + listed.unknown.len() >= PAGE_SIZE {
        return Err(ApiError::Decode {
            method: "GET".into(),
            url: format!(
                "{}?object_type={object_type}&object_id={object_id}",
                Kind::EnvVar.list()
            ),
            message: format!(
                "the env var list of this {object_type} holds {PAGE_SIZE} or more entries, more than one request can read (the list has no cursor)"
            ),
        });
    }
    Ok(listed)
}

/// The ACLs `list_org` answered, completed with those of each experiment, dataset and prompt in
/// `refs` (the objects the manifests name, or for `import` every one of the org's projects)
/// that `list_org` showed no ACL of, each read with `GET /v1/acl?object_type=&object_id=`,
/// concurrently. Whether `list_org` lists ACLs on single objects is unconfirmed (R8): under
/// either answer every ACL of those objects is read, an object it did show is not read again,
/// and an ACL seen both ways is kept once (by id). Each failed object read is returned with its
/// object's project, where grants are then incomplete; when `list_org` itself failed, grants
/// are incomplete in the whole org and nothing is read by object.
async fn with_object_acls(
    client: &Client,
    org: &OrgName,
    acls: Result<Listed<wire::Acl>, ApiError>,
    refs: &References,
) -> (
    Result<Listed<wire::Acl>, ApiError>,
    Vec<(ProjectName, ApiError)>,
) {
    let mut listed = match acls {
        Ok(listed) => listed,
        Err(err) => return (Err(err), Vec::new()),
    };
    let field = |raw: &serde_json::Value, name: &str| raw[name].as_str().map(str::to_owned);
    let listed_fields = |l: &Listed<wire::Acl>, name: &str| -> BTreeSet<String> {
        l.raw
            .iter()
            .chain(l.unknown.iter().map(|u| &u.raw))
            .filter_map(|raw| field(raw, name))
            .collect()
    };
    let shown = listed_fields(&listed, "object_id");
    let reads: Vec<(ProjectName, &'static str, String)> = refs
        .acl_objects()
        .filter(|(r, _, id)| r.org == *org && !shown.contains(*id))
        .map(|(r, object_type, id)| (r.project.clone(), object_type.as_str(), id.to_owned()))
        .collect();
    if reads.is_empty() {
        return (Ok(listed), Vec::new());
    }
    let mut tasks = tokio::task::JoinSet::new();
    for (i, (_, object_type, id)) in reads.iter().enumerate() {
        let (client, object_type, id) = (client.clone(), *object_type, id.clone());
        tasks.spawn(async move {
            let q = [("object_type", object_type.to_owned()), ("object_id", id)];
            (
                i,
                client
                    .list_items::<wire::Acl>(Collection::Acl.path(), &q)
                    .await,
            )
        });
    }
    let mut results: Vec<Option<Result<Listed<wire::Acl>, ApiError>>> =
        (0..reads.len()).map(|_| None).collect();
    while let Some(joined) = tasks.join_next().await {
        if let Ok((i, result)) = joined {
            results[i] = Some(result);
        }
    }
    let mut seen = listed_fields(&listed, "id");
    let mut failures = Vec::new();
    // In the order of `refs`, so that the live state does not depend on which answer came first.
    for ((project, _, _), result) in reads.into_iter().zip(results) {
        let result = result.unwrap_or_else(|| {
            Err(ApiError::Transport {
                method: "GET".into(),
                url: Collection::Acl.path().into(),
                message: "the read task stopped".into(),
            })
        });
        match result {
            Ok(more) => {
                for (item, raw) in more.items.into_iter().zip(more.raw) {
                    if field(&raw, "id").is_none_or(|id| seen.insert(id)) {
                        listed.items.push(item);
                        listed.raw.push(raw);
                    }
                }
                for unknown in more.unknown {
                    if field(&unknown.raw, "id").is_none_or(|id| seen.insert(id)) {
                        listed.unknown.push(unknown);
                    }
                }
            }
            Err(err) => failures.push((project, err)),
        }
    }
    (Ok(listed), failures)
}

/// The views of one project: the list requires the project as its locator.
async fn views(client: &Client, project_id: &str) -> Result<Listed<wire::View>, ApiError> {
    let q = [
        ("object_type", "project".to_owned()),
        ("object_id", project_id.to_owned()),
    ];
    client.list_items(Kind::View.list(), &q).await
}

/// The user or service account id behind the API key, when the reader could tell who it is.
fn own_user_id(
    me: Option<&Principal>,
    emails: &HashMap<String, Email>,
    accounts: &HashMap<String, Name>,
) -> Option<String> {
    match me? {
        Principal::User(email) => emails
            .iter()
            .find(|(_, e)| e.as_str() == email)
            .map(|(id, _)| id.clone()),
        Principal::ServiceAccount(name) => accounts
            .iter()
            .find(|(_, n)| n.as_str() == name)
            .map(|(id, _)| id.clone()),
    }
}

struct Builder {
    org: OrgName,
    state: LiveState,
    /// Items outside the model whose project is not known yet: `(collection, item, reason)`.
    unplaced: Vec<(Collection, serde_json::Value, String)>,
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
        Result<Listed<K::Item>, ApiError>,
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

/// Lists every kind of a kind list (`project_children!` or `org_children!`, called with
/// `list_kinds!(Trait, client, query)`) concurrently, each item type from `Trait::Item`: the
/// responses nest as `(first, rest, PhantomData<Kind>)`, for [`ChildLists`] and [`OrgLists`].
macro_rules! list_kinds {
    ([$trait:ident, $client:expr, $q:expr]) => { async {} };
    ([$trait:ident, $client:expr, $q:expr] $module:ident::$kind:ident($field:ident) $(, $rest_module:ident::$rest:ident($rest_field:ident))*) => {
        async {
            use crate::kinds::$module::$kind;
            let (first, rest) = tokio::join!(
                $client.list_items::<<$kind as $trait>::Item>(<$kind as $trait>::KIND.list(), $q),
                list_kinds!([$trait, $client, $q] $($rest_module::$rest($rest_field)),*),
            );
            (first, rest, std::marker::PhantomData::<$kind>)
        }
    };
}

/// Lists every [`ProjectChild`] kind of the org concurrently.
async fn list_children(client: &Client, org_q: &[(&str, String)]) -> impl ChildLists {
    crate::kinds::project_children!(list_kinds!(ProjectChild, client, org_q)).await
}

/// The list responses of the [`OrgChild`] kinds, nested like [`ChildLists`], each turned into
/// live objects by [`OrgLists::read`] in the order of [`crate::kinds::org_children!`].
trait OrgLists {
    fn read(self, b: &mut Builder, names: &mut LiveNames);
}

impl OrgLists for () {
    fn read(self, _: &mut Builder, _: &mut LiveNames) {}
}

impl<K: OrgVariant, Rest: OrgLists> OrgLists
    for (
        Result<Listed<K::Item>, ApiError>,
        Rest,
        std::marker::PhantomData<K>,
    )
{
    fn read(self, b: &mut Builder, names: &mut LiveNames) {
        b.org_children::<K>(self.0, names);
        self.1.read(b, names);
    }
}

/// Lists every [`OrgChild`] kind of the org concurrently.
async fn list_org_children(client: &Client, org_q: &[(&str, String)]) -> impl OrgLists {
    crate::kinds::org_children!(list_kinds!(OrgChild, client, org_q)).await
}

impl Builder {
    /// The live objects of one [`OrgChild`] kind, from its list response: the names of its
    /// items are recorded first (items name others of their kind), then each managed item
    /// is read. A failed list leaves the kinds that name its objects incomplete too.
    fn org_children<K: OrgVariant>(
        &mut self,
        result: Result<Listed<K::Item>, ApiError>,
        names: &mut LiveNames,
    ) {
        let kinds: Vec<Kind> = std::iter::once(K::KIND)
            .chain(K::NAMED_BY.iter().copied())
            .collect();
        let items = self
            .complete(result, K::KIND.list_collection(), &kinds)
            .unwrap_or_default();
        let named: Vec<(&K::Item, &serde_json::Value, String)> = items
            .iter()
            .filter_map(|(item, raw)| Some((item, raw, K::name(item)?)))
            .collect();
        for (item, _, name) in &named {
            names.insert(K::KIND, item.id(), name.clone());
        }
        for (item, raw, name) in named {
            let Some((key_name, spec)) = K::read(item, &name, names) else {
                continue;
            };
            let key = ResourceKey::in_org(&self.org, K::KIND, key_name);
            self.insert(key, item.id(), K::wrap(spec), item, None, Some(raw.clone()));
        }
    }

    /// The live objects of one [`ProjectChild`] kind, from its list response; soft-deleted items
    /// and items of unknown projects are skipped.
    fn children<K: ChildVariant>(
        &mut self,
        result: Result<Listed<K::Item>, ApiError>,
        in_project: &impl Fn(&wire::Id, Kind, &str) -> Option<ResourceKey>,
    ) {
        let collection = K::KIND.list_collection();
        for (item, raw) in self
            .complete(result, collection, &[K::KIND])
            .unwrap_or_default()
        {
            let head = K::item(&item);
            if head.deleted {
                continue;
            }
            let Some(key) = in_project(head.project_id, K::KIND, head.name) else {
                continue;
            };
            let spec = K::wrap(K::read(&item));
            let id = head.id.to_string();
            self.insert(key, &id, spec, &item, None, Some(raw));
        }
    }

    /// The objects of a list that completed, each with its JSON as listed; a failed list marks
    /// its kinds incomplete. Items outside the wire type are kept as unknown objects of
    /// `collection`, placed once the projects are known ([`Builder::place_unknown`]).
    fn complete<T>(
        &mut self,
        result: Result<Listed<T>, ApiError>,
        collection: Collection,
        kinds: &[Kind],
    ) -> Option<Vec<(T, serde_json::Value)>> {
        match result {
            Ok(listed) => {
                for RawItem { raw, error } in listed.unknown {
                    self.unplaced
                        .push((collection, raw, format!("outside the model: {error}")));
                }
                Some(listed.items.into_iter().zip(listed.raw).collect())
            }
            Err(err) => {
                for kind in kinds {
                    self.incomplete(None, *kind, &err);
                }
                None
            }
        }
    }

    /// Marks `kind` incomplete in the whole org for a reason other than a failed list; the
    /// plan shows the reason.
    fn incomplete_because(&mut self, kind: Kind, why: &str) {
        tracing::warn!(org = %self.org, kind = %kind, %why, "held back in the whole org");
        let scope = ReadScope {
            org: self.org.clone(),
            project: None,
            kind,
        };
        self.state
            .incomplete_reasons
            .entry(scope.clone())
            .or_default()
            .push(why.to_owned());
        self.state.incomplete.insert(scope);
    }

    /// A project's env var list could not be read: its env vars and AI providers (kept in the
    /// same list) are incomplete.
    fn project_env_vars_failed(&mut self, project: &ProjectName, err: &ApiError) {
        for kind in [Kind::EnvVar, Kind::AiProvider] {
            self.incomplete(Some(project.clone()), kind, err);
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

    /// Adds a live object. A second object under a key already taken (two service tokens of
    /// one account with the same name) cannot be told apart from the first: it is kept as an
    /// unknown object instead of hiding the first one.
    fn insert<W: Serialize>(
        &mut self,
        key: ResourceKey,
        id: &str,
        spec: Spec,
        wire: &W,
        secret: Option<LiveSecret>,
        raw: Option<serde_json::Value>,
    ) {
        if self.state.objects.contains_key(&key) {
            let collection = key.kind.list_collection();
            self.state.unknown.push(UnknownObject {
                org: key.org.clone(),
                project: key.project.clone(),
                collection,
                id: Some(id.to_owned()),
                name: Some(key.name.clone()),
                reason: format!(
                    "a second {} named `{}`: bt-gitops manages one object per name",
                    key.kind.human(),
                    key.name
                ),
                raw: raw.unwrap_or_else(|| serde_json::to_value(wire).unwrap_or_default()),
            });
            return;
        }
        let object = LiveObject {
            id: id.to_owned(),
            spec,
            fingerprint: fingerprint(wire),
            secret,
            raw,
        };
        self.state.objects.insert(key, object);
    }

    /// The views of `project`: soft-deleted ones are dropped, another user's views kept as
    /// unknown objects (see `kinds::view`), the others read with the item as listed (its maps
    /// whole, and its fingerprint over all of it). Several live views under one name (of
    /// different types, if the API allows it: J13) are all kept as unknown objects, so that
    /// none is changed into another. `maker_unknown`: the key's own user could not be read, so
    /// a view with a `user_id` may be the key's own or another user's (views are then held
    /// back by the caller).
    fn views(
        &mut self,
        project: &ProjectName,
        listed: Listed<wire::View>,
        own_user: Option<&str>,
        maker_unknown: bool,
    ) {
        for RawItem { raw, error } in listed.unknown {
            if raw["deleted_at"].is_null() {
                let reason = format!("outside the model: {error}");
                self.unknown(Some(project.clone()), Collection::View, raw, reason);
            }
        }
        let mut seen: HashMap<&str, usize> = HashMap::new();
        for v in listed.items.iter().filter(|v| v.deleted_at.is_none()) {
            *seen.entry(v.name.as_str()).or_default() += 1;
        }
        let shared: BTreeSet<String> = seen
            .into_iter()
            .filter(|(_, n)| *n > 1)
            .map(|(name, _)| name.to_owned())
            .collect();
        for (v, raw) in listed.items.into_iter().zip(listed.raw) {
            if v.deleted_at.is_some() {
                continue;
            }
            if shared.contains(&v.name) {
                let reason = format!(
                    "one of several views named `{}`: bt-gitops manages one view per name",
                    v.name
                );
                self.unknown(Some(project.clone()), Collection::View, raw, reason);
                continue;
            }
            if !crate::kinds::view::managed(&v, own_user) {
                let reason = if maker_unknown {
                    "a view whose maker cannot be told while the user list is unread".to_owned()
                } else {
                    crate::kinds::view::OTHER_USER.to_owned()
                };
                self.unknown(Some(project.clone()), Collection::View, raw, reason);
                continue;
            }
            let key = ResourceKey::in_project(&self.org, project, Kind::View, &v.name);
            let spec = Spec::View(crate::kinds::view::read(&v, &raw));
            self.insert(key, v.id.as_str(), spec, &raw.clone(), None, Some(raw));
        }
    }

    /// A decoded item the model does not manage (its shape or a value is outside it), kept as
    /// an unknown object of `collection`.
    fn unmodelled(&mut self, collection: Collection, raw: serde_json::Value, reason: String) {
        self.unplaced.push((collection, raw, reason));
    }

    /// The ids and names of projects that did not decode: their children are still read.
    fn unknown_projects(&self) -> Vec<(String, ProjectName)> {
        self.unplaced
            .iter()
            .filter(|(c, raw, _)| *c == Collection::Project && raw["deleted_at"].is_null())
            .filter_map(|(_, raw, _)| {
                Some((
                    raw["id"].as_str()?.to_owned(),
                    ProjectName::new(raw["name"].as_str()?).ok()?,
                ))
            })
            .collect()
    }

    /// Turns the items kept so far into unknown objects, in their projects. Soft-deleted ones
    /// and those of projects not listed are dropped like their decoded neighbours. An item of a
    /// project collection without a `project_id` is placed by another field that names its
    /// project (`project_name`, or `object_type: project` with `object_id`); one whose project
    /// cannot be told at all could hold a name anywhere: its kinds are marked incomplete in the
    /// whole org, and the plan names the item.
    fn place_unknown(&mut self, projects: &HashMap<String, ProjectName>) {
        for (collection, raw, reason) in std::mem::take(&mut self.unplaced) {
            if !raw["deleted_at"].is_null() {
                continue;
            }
            let project = if in_project_collection(collection) {
                match project_of(&raw, projects) {
                    Placed::In(p) => Some(p),
                    Placed::Gone => continue,
                    Placed::Unknown => {
                        let text = |f: &str| raw[f].as_str().map(|v| format!("{f} `{v}`"));
                        let which: Vec<String> =
                            ["name", "id"].iter().filter_map(|f| text(f)).collect();
                        let which = if which.is_empty() {
                            "an item with neither name nor id".to_owned()
                        } else {
                            format!("the item with {}", which.join(" and "))
                        };
                        let why = format!(
                            "{which} of `{}` names no project (no `project_id`, `project_name` or project `object_id`; {reason}), so it could hold a name in any project",
                            collection.org_list()
                        );
                        for kind in Kind::ALL
                            .iter()
                            .filter(|k| k.list_collection() == collection)
                        {
                            self.incomplete_because(*kind, &why);
                        }
                        continue;
                    }
                }
            } else {
                None
            };
            self.unknown(project, collection, raw, reason);
        }
    }

    fn unknown(
        &mut self,
        project: Option<ProjectName>,
        collection: Collection,
        raw: serde_json::Value,
        reason: String,
    ) {
        let text = |field: &str| raw[field].as_str().map(str::to_owned);
        let name = match collection {
            Collection::Environment => text("slug"),
            Collection::User => text("email")
                .map(|e| e.to_lowercase())
                .or_else(|| text("given_name")),
            Collection::ServiceToken => text("name").map(|n| match text("service_account_name") {
                Some(account) => format!("{account}/{n}"),
                None => n,
            }),
            Collection::Acl => None,
            _ => text("name"),
        };
        tracing::warn!(org = %self.org, collection = %collection.api_name(), name = ?name, %reason, "object outside the model; kept as unmanaged");
        self.state.unknown.push(UnknownObject {
            org: self.org.clone(),
            project,
            collection,
            id: text("id"),
            name,
            reason,
            raw,
        });
    }

    /// The env vars of the org (`project` `None`) or of one project. Only entries of the
    /// `env_var` category (or without one) are env vars; a project's entries of the
    /// `ai_provider` category are its AI providers (S12); other provider keys stored in the same
    /// list (sandbox providers, the org's AI providers) are kept as unknown objects, and so is
    /// every entry that does not decode.
    fn env_vars(&mut self, project: Option<ProjectName>, vars: Listed<wire::EnvVar>) {
        for RawItem { raw, error } in vars.unknown {
            self.unknown(
                project.clone(),
                Collection::EnvVar,
                raw,
                format!("outside the model: {error}"),
            );
        }
        for (v, raw) in vars.items.into_iter().zip(vars.raw) {
            if let Some(p) = project.as_ref().filter(|_| ai_provider::is_ai_provider(&v)) {
                let (metadata, recorded) = split_metadata(v.metadata.as_ref());
                let secret = LiveSecret {
                    recorded_digest: recorded.0,
                    recorded_at: recorded.1,
                    updated_at: v.secret_updated_at.clone(),
                };
                let key = ResourceKey::in_project(&self.org, p, Kind::AiProvider, &v.name);
                let spec = Spec::AiProvider(ai_provider::read(&v, metadata));
                self.insert(key, v.id.as_str(), spec, &v, Some(secret), Some(raw));
                continue;
            }
            if let Some(reason) = crate::kinds::env_var::not_an_env_var(&v) {
                self.unknown(project.clone(), Collection::EnvVar, raw, reason);
                continue;
            }
            let (key, scope) = match &project {
                Some(p) => (
                    ResourceKey::in_project(&self.org, p, Kind::EnvVar, &v.name),
                    EnvVarScope::Project(p.clone()),
                ),
                None => (
                    ResourceKey::in_org(&self.org, Kind::EnvVar, &v.name),
                    EnvVarScope::Org,
                ),
            };
            self.env_var(key, scope, &v, raw);
        }
    }

    fn env_var(
        &mut self,
        key: ResourceKey,
        scope: EnvVarScope,
        v: &wire::EnvVar,
        raw: serde_json::Value,
    ) {
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
        self.insert(key, v.id.as_str(), spec, v, Some(secret), Some(raw));
    }
}

/// Where an item outside the model lives, by the fields that can name its project.
enum Placed {
    In(ProjectName),
    /// It names a project that is not listed (deleted): dropped like its decoded neighbours.
    Gone,
    /// Nothing names its project.
    Unknown,
}

/// The project of an item outside the model: its `project_id`, else its `project_name`, else
/// `object_id` when `object_type` is `project` (the form of views and ACL-like items).
fn project_of(raw: &serde_json::Value, projects: &HashMap<String, ProjectName>) -> Placed {
    let by_id = |id: &str| match projects.get(id) {
        Some(p) => Placed::In(p.clone()),
        None => Placed::Gone,
    };
    if let Some(id) = raw["project_id"].as_str() {
        return by_id(id);
    }
    if let Some(name) = raw["project_name"].as_str() {
        return match projects.values().find(|p| p.as_str() == name) {
            Some(p) => Placed::In(p.clone()),
            None => Placed::Gone,
        };
    }
    if raw["object_type"].as_str() == Some("project")
        && let Some(id) = raw["object_id"].as_str()
    {
        return by_id(id);
    }
    Placed::Unknown
}

/// Collections whose items carry a `project_id` and hold their names inside their project.
fn in_project_collection(collection: Collection) -> bool {
    matches!(
        collection,
        Collection::ProjectTag
            | Collection::ProjectScore
            | Collection::ProjectAutomation
            | Collection::SpanIframe
            | Collection::McpServer
            | Collection::View
    )
}

/// A short, stable digest of an object as the API returned it.
#[must_use]
pub fn fingerprint<W: Serialize>(wire: &W) -> String {
    // Serialized straight into the hash: no intermediate buffer per object.
    let mut hasher = Sha256::new();
    if serde_json::to_writer(&mut hasher, wire).is_err() {
        hasher = Sha256::new();
    }
    let digest = hasher.finalize();
    let mut out = String::with_capacity(24);
    for b in digest.iter().take(12) {
        let _ = write!(out, "{b:02x}");
    }
    out
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

/// Whose key this client uses (assumption K8), found without relying on one preview format
/// (`Client::key_matches_preview` reads any preview of the form head, hidden middle, tail:
/// `sk…ijkl`, `sk-ab...ijkl`, `sk-***ijkl`): the user of a listed API key whose preview
/// matches; else the account of a listed service token whose preview matches (service tokens
/// are not API keys); else, for a user key, the one user every listed API key belongs to, since
/// the API lists only the caller's own keys (K7).
/// The id of the one listed API key or service token whose preview matches this client's key;
/// `None` when none or several match (K8: a preview shows a few characters only).
fn own_credential(
    client: &Client,
    keys: &[wire::ApiKey],
    tokens: &[wire::ServiceToken],
) -> Option<String> {
    let mut matching = keys
        .iter()
        .filter(|k| client.key_matches_preview(&k.preview_name))
        .map(|k| k.id.to_string())
        .chain(
            tokens
                .iter()
                .filter(|t| client.key_matches_preview(&t.preview_name))
                .map(|t| t.id.to_string()),
        );
    let first = matching.next()?;
    matching.next().is_none().then_some(first)
}

fn own_principal(
    client: &Client,
    keys: &[wire::ApiKey],
    tokens: &[wire::ServiceToken],
    emails: &HashMap<String, Email>,
    accounts: &HashMap<String, Name>,
) -> Option<Principal> {
    let email_of = |k: &wire::ApiKey| k.user_id.as_ref().and_then(|id| emails.get(id.as_str()));
    if let Some(email) = keys
        .iter()
        .filter(|k| client.key_matches_preview(&k.preview_name))
        .find_map(email_of)
    {
        return Some(Principal::User(email.to_string()));
    }
    if let Some(name) = tokens
        .iter()
        .filter(|t| client.key_matches_preview(&t.preview_name))
        .find_map(|t| {
            t.service_account_id
                .as_ref()
                .and_then(|id| accounts.get(id.as_str()).map(ToString::to_string))
                .or_else(|| t.service_account_name.clone())
        })
    {
        return Some(Principal::ServiceAccount(name));
    }
    if client.uses_service_token() {
        return None;
    }
    let mut owners = keys
        .iter()
        .map(|k| k.user_id.as_ref().map(wire::Id::as_str));
    let first = owners.next()??;
    if owners.all(|o| o == Some(first)) {
        return emails.get(first).map(|e| Principal::User(e.to_string()));
    }
    None
}
