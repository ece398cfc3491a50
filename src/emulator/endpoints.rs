//! Per-collection [`Endpoint`]s for the collections that follow the common CRUD pattern: what
//! each validates on create and patch, which fields the server assigns, and which list filters it
//! takes.
//!
//! Natural keys (in `store::natural_key`): org + `name` for project, group, role and ai_secret;
//! org + `slug` for environment; project + `name` for project_tag, project_score,
//! project_automation, span_iframe and mcp_server; `(object_type, object_id, view_type, name)` for
//! view; `(object_type, object_id, name)` for env_var.

use serde_json::Value;

use super::auth::Caller;
use super::error::ErrorResponse;
use super::profile::ExportPathPatch;
use super::query::Params;
use super::resource::{
    Constraints, Draft, Endpoint, Patched, Server, fields, in_range, merge, no_cascade, no_filters,
    non_empty, normalize, object_org, parse, project,
};
use super::store::{Collection, Record, Store};
use crate::api::wire::{self, Id};

const ORG_SERVER: &[Server] = &[Server::Id, Server::OrgId, Server::Created, Server::UserId];
const PROJECT_SERVER: &[Server] = &[Server::Id, Server::Created, Server::UserId];

fn draft(org_id: String, fields: wire::JsonMap) -> Draft {
    Draft {
        org_id,
        fields,
        secret: None,
    }
}

fn patched(object: wire::JsonMap) -> Patched {
    Patched {
        object,
        secret: None,
    }
}

/// Applies a typed patch as a plain deep merge, leaving out the keys the kind handles itself.
/// The create body of an object that lives in a project, named by `project_id`.
trait ProjectChild: serde::de::DeserializeOwned + serde::Serialize {
    fn project_id(&self) -> &Id;
}

macro_rules! project_child {
    ($($t:ident),+) => {$(
        impl ProjectChild for wire::$t {
            fn project_id(&self) -> &Id {
                &self.project_id
            }
        }
    )+};
}

project_child!(CreateProjectTag, CreateSpanIFrame, CreateMcpServer);

/// Creates an object of a project whose body needs no check beyond its types.
fn child_create<C: ProjectChild>(
    store: &Store,
    caller: &Caller,
    body: &Value,
) -> Result<Draft, ErrorResponse> {
    let req: C = parse(body)?;
    let project = project(store, caller, req.project_id())?;
    Ok(draft(project.org_id, fields(&req, &[])))
}

/// Merges a patch whose body needs no check beyond its types.
fn plain_patch<P: serde::de::DeserializeOwned + serde::Serialize>(
    _: &Store,
    _: &Caller,
    record: &Record,
    body: &Value,
) -> Result<Patched, ErrorResponse> {
    let req: P = parse(body)?;
    Ok(patched(merged(record, &req, &[])))
}

fn merged<T: serde::Serialize>(record: &Record, patch: &T, skip: &[&str]) -> wire::JsonMap {
    let mut object = record.object.clone();
    merge(&mut object, &fields(patch, skip));
    object
}

// ---------------------------------------------------------------------------------------------
// project
// ---------------------------------------------------------------------------------------------

/// `project`: no PUT; PATCH replaces `settings` wholesale.
pub static PROJECT: Endpoint = Endpoint {
    kind: Collection::Project,
    put: false,
    name_param: "project_name",
    project_scoped: false,
    server: ORG_SERVER,
    create: project_create,
    patch: project_patch,
    normalize: project_normalize,
    filters: no_filters,
    on_delete: project_cascade,
};

/// Like the other kinds' normalisation, except that `settings` is kept as sent: the API stores
/// the settings object whole, keys newer than our wire types included.
fn project_normalize(object: wire::JsonMap) -> Result<wire::JsonMap, ErrorResponse> {
    let settings = object.get("settings").cloned();
    let mut out = normalize::<wire::Project>(object)?;
    if let Some(settings @ Value::Object(_)) = settings {
        out.insert("settings".into(), settings);
    }
    Ok(out)
}

fn project_create(_: &Store, caller: &Caller, body: &Value) -> Result<Draft, ErrorResponse> {
    let req: wire::CreateProject = parse(body)?;
    caller.check_org_name(req.org_name.as_deref())?;
    non_empty("name", &req.name)?;
    Ok(draft(caller.org_id.clone(), fields(&req, &["org_name"])))
}

fn project_patch(
    _: &Store,
    _: &Caller,
    record: &Record,
    body: &Value,
) -> Result<Patched, ErrorResponse> {
    let req: wire::PatchProject = parse(body)?;
    if let Some(name) = &req.name {
        non_empty("name", name)?;
    }
    let mut object = merged(record, &req, &["settings"]);
    // The settings object is replaced whole, as sent (spec `PatchProject.settings`), keys our
    // wire types do not know included: their types were checked by the parse above.
    if req.settings.is_some()
        && let Some(settings @ Value::Object(_)) = body.get("settings")
    {
        object.insert("settings".into(), strip_null_values(settings));
    }
    Ok(patched(object))
}

/// A settings object as stored: keys sent as `null` are left out, like an absent key.
fn strip_null_values(settings: &Value) -> Value {
    match settings {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Deleting a project deletes what lives in it and the ACLs, views and env vars attached to it,
/// when the profile says so (P10); otherwise they stay, under a project that is gone.
fn project_cascade(store: &mut Store, project: &Record) {
    if !store.profile.project_delete_cascades {
        return;
    }
    let id = project.id().to_owned();
    for kind in [
        Collection::ProjectTag,
        Collection::ProjectScore,
        Collection::ProjectAutomation,
        Collection::SpanIframe,
        Collection::McpServer,
        Collection::Function,
        Collection::Prompt,
        Collection::Experiment,
        Collection::Dataset,
    ] {
        delete_where(store, kind, |r| r.str_field("project_id") == id);
    }
    for kind in [Collection::Acl, Collection::View, Collection::EnvVar] {
        delete_where(store, kind, |r| {
            r.str_field("object_id") == id
                && matches!(r.str_field("object_type"), "project" | "project_log")
        });
    }
}

/// Deletes every live record of a kind that matches.
pub fn delete_where(store: &mut Store, kind: Collection, matches: impl Fn(&Record) -> bool) {
    let ids: Vec<String> = store
        .table(kind)
        .live()
        .filter(|r| matches(r))
        .map(|r| r.id().to_owned())
        .collect();
    for id in ids {
        store.delete(kind, &id);
    }
}

// ---------------------------------------------------------------------------------------------
// group and role
// ---------------------------------------------------------------------------------------------

/// `group`: PUT sets the full membership, PATCH applies add/remove lists.
pub static GROUP: Endpoint = Endpoint {
    kind: Collection::Group,
    put: true,
    name_param: "group_name",
    project_scoped: false,
    server: ORG_SERVER,
    create: group_create,
    patch: group_patch,
    normalize: normalize::<wire::Group>,
    filters: no_filters,
    on_delete: principal_cascade,
};

fn check_users(store: &Store, caller: &Caller, ids: &[Id]) -> Result<(), ErrorResponse> {
    for id in ids {
        if !store.is_member(&caller.org_id, id.as_str()) {
            return Err(ErrorResponse::bad_request(format!(
                "user `{id}` is not a member of the organization"
            )));
        }
    }
    Ok(())
}

fn check_in_org(
    store: &Store,
    caller: &Caller,
    kind: Collection,
    ids: &[Id],
) -> Result<(), ErrorResponse> {
    for id in ids {
        match store.get(kind, id.as_str()) {
            Some(r) if r.org_id == caller.org_id => {}
            _ => {
                return Err(ErrorResponse::bad_request(format!(
                    "{} `{id}` does not exist",
                    kind.api_name()
                )));
            }
        }
    }
    Ok(())
}

fn id_list(ids: &[Id]) -> Value {
    let mut seen = Vec::<&str>::new();
    for id in ids {
        if !seen.contains(&id.as_str()) {
            seen.push(id.as_str());
        }
    }
    Value::Array(seen.into_iter().map(|s| Value::String(s.into())).collect())
}

/// Applies add/remove deltas to an id list field of an object.
fn apply_delta(object: &mut wire::JsonMap, field: &str, add: Option<&[Id]>, remove: Option<&[Id]>) {
    let mut current: Vec<Id> = object
        .get(field)
        .and_then(|v| serde_json::from_value(v.clone()).ok())
        .unwrap_or_default();
    current.extend(add.unwrap_or_default().iter().cloned());
    current.retain(|id| !remove.unwrap_or_default().contains(id));
    object.insert(field.into(), id_list(&current));
}

fn group_create(store: &Store, caller: &Caller, body: &Value) -> Result<Draft, ErrorResponse> {
    let req: wire::CreateGroup = parse(body)?;
    caller.check_org_name(req.org_name.as_deref())?;
    non_empty("name", &req.name)?;
    let users = req.member_users.clone().unwrap_or_default();
    let groups = req.member_groups.clone().unwrap_or_default();
    check_users(store, caller, &users)?;
    check_in_org(store, caller, Collection::Group, &groups)?;
    let mut object = fields(&req, &["org_name"]);
    object.insert("member_users".into(), id_list(&users));
    object.insert("member_groups".into(), id_list(&groups));
    Ok(draft(caller.org_id.clone(), object))
}

fn group_patch(
    store: &Store,
    caller: &Caller,
    record: &Record,
    body: &Value,
) -> Result<Patched, ErrorResponse> {
    let req: wire::PatchGroup = parse(body)?;
    if let Some(name) = &req.name {
        non_empty("name", name)?;
    }
    check_users(
        store,
        caller,
        req.add_member_users.as_deref().unwrap_or_default(),
    )?;
    let add_groups = req.add_member_groups.as_deref().unwrap_or_default();
    check_in_org(store, caller, Collection::Group, add_groups)?;
    if add_groups.iter().any(|g| g.as_str() == record.id()) {
        return Err(ErrorResponse::bad_request(
            "a group cannot inherit from itself",
        ));
    }
    let mut object = merged(record, &req, &DELTAS);
    apply_delta(
        &mut object,
        "member_users",
        req.add_member_users.as_deref(),
        req.remove_member_users.as_deref(),
    );
    apply_delta(
        &mut object,
        "member_groups",
        req.add_member_groups.as_deref(),
        req.remove_member_groups.as_deref(),
    );
    Ok(patched(object))
}

const DELTAS: [&str; 8] = [
    "add_member_users",
    "remove_member_users",
    "add_member_groups",
    "remove_member_groups",
    "add_member_permissions",
    "remove_member_permissions",
    "add_member_roles",
    "remove_member_roles",
];

/// Deleting a group or role removes the ACLs that grant through it and its inheritance edges.
fn principal_cascade(store: &mut Store, record: &Record) {
    let id = record.id().to_owned();
    delete_where(store, Collection::Acl, |acl| {
        acl.str_field("group_id") == id || acl.str_field("role_id") == id
    });
}

/// `role`: PUT sets the full permissions, PATCH applies add/remove lists.
pub static ROLE: Endpoint = Endpoint {
    kind: Collection::Role,
    put: true,
    name_param: "role_name",
    project_scoped: false,
    server: ORG_SERVER,
    create: role_create,
    patch: role_patch,
    normalize: normalize::<wire::Role>,
    filters: no_filters,
    on_delete: principal_cascade,
};

fn permission_list(perms: &[wire::MemberPermission]) -> Value {
    let mut seen = Vec::<&wire::MemberPermission>::new();
    for p in perms {
        if !seen.contains(&p) {
            seen.push(p);
        }
    }
    serde_json::to_value(seen).unwrap_or(Value::Array(Vec::new()))
}

fn role_create(store: &Store, caller: &Caller, body: &Value) -> Result<Draft, ErrorResponse> {
    let req: wire::CreateRole = parse(body)?;
    caller.check_org_name(req.org_name.as_deref())?;
    non_empty("name", &req.name)?;
    let roles = req.member_roles.clone().unwrap_or_default();
    check_in_org(store, caller, Collection::Role, &roles)?;
    let mut object = fields(&req, &["org_name"]);
    object.insert(
        "member_permissions".into(),
        permission_list(req.member_permissions.as_deref().unwrap_or_default()),
    );
    object.insert("member_roles".into(), id_list(&roles));
    Ok(draft(caller.org_id.clone(), object))
}

fn role_patch(
    store: &Store,
    caller: &Caller,
    record: &Record,
    body: &Value,
) -> Result<Patched, ErrorResponse> {
    let req: wire::PatchRole = parse(body)?;
    if let Some(name) = &req.name {
        non_empty("name", name)?;
    }
    let add_roles = req.add_member_roles.as_deref().unwrap_or_default();
    check_in_org(store, caller, Collection::Role, add_roles)?;
    if add_roles.iter().any(|r| r.as_str() == record.id()) {
        return Err(ErrorResponse::bad_request(
            "a role cannot inherit from itself",
        ));
    }
    let mut object = merged(record, &req, &DELTAS);
    let mut perms: Vec<wire::MemberPermission> = object
        .get("member_permissions")
        .and_then(|v| serde_json::from_value(v.clone()).ok())
        .unwrap_or_default();
    perms.extend(req.add_member_permissions.clone().unwrap_or_default());
    let remove = req.remove_member_permissions.clone().unwrap_or_default();
    perms.retain(|p| !remove.contains(p));
    object.insert("member_permissions".into(), permission_list(&perms));
    apply_delta(
        &mut object,
        "member_roles",
        req.add_member_roles.as_deref(),
        req.remove_member_roles.as_deref(),
    );
    Ok(patched(object))
}

// ---------------------------------------------------------------------------------------------
// project-scoped kinds
// ---------------------------------------------------------------------------------------------

/// `project_tag`.
pub static PROJECT_TAG: Endpoint = Endpoint {
    kind: Collection::ProjectTag,
    put: true,
    name_param: "project_tag_name",
    project_scoped: true,
    server: &[
        Server::Id,
        Server::Created,
        Server::UserId,
        Server::Position,
    ],
    create: child_create::<wire::CreateProjectTag>,
    patch: plain_patch::<wire::PatchProjectTag>,
    normalize: normalize::<wire::ProjectTag>,
    filters: no_filters,
    on_delete: no_cascade,
};

/// `project_score`: human-review scores and online-scoring rules.
pub static PROJECT_SCORE: Endpoint = Endpoint {
    kind: Collection::ProjectScore,
    put: true,
    name_param: "project_score_name",
    project_scoped: true,
    server: &[
        Server::Id,
        Server::Created,
        Server::UserId,
        Server::Position,
    ],
    create: score_create,
    patch: score_patch,
    normalize: normalize::<wire::ProjectScore>,
    filters: score_filters,
    on_delete: no_cascade,
};

fn check_categories(
    categories: Option<&wire::ProjectScoreCategories>,
) -> Result<(), ErrorResponse> {
    if let Some(wire::ProjectScoreCategories::Categorical(items)) = categories {
        for item in items {
            in_range("categories[].value", item.value, 0.0, 1.0)?;
        }
    }
    Ok(())
}

fn check_scope(scope: Option<&wire::Scope>) -> Result<(), ErrorResponse> {
    if let Some(wire::Scope::Group(group)) = scope {
        if let Some(seconds) = group.interval_seconds {
            in_range("scope.interval_seconds", seconds, 1.0, f64::MAX)?;
        }
        if let Some(max) = group.max_traces {
            in_range("scope.max_traces", max as f64, 1.0, 64.0)?;
        }
    }
    Ok(())
}

fn check_score_config(config: Option<&wire::ProjectScoreConfig>) -> Result<(), ErrorResponse> {
    if let Some(online) = config.and_then(|c| c.online.as_ref()) {
        in_range(
            "config.online.sampling_rate",
            online.sampling_rate,
            0.0,
            1.0,
        )?;
        check_scope(online.scope.as_ref())?;
    }
    Ok(())
}

fn score_create(store: &Store, caller: &Caller, body: &Value) -> Result<Draft, ErrorResponse> {
    let req: wire::CreateProjectScore = parse(body)?;
    check_categories(req.categories.as_ref())?;
    check_score_config(req.config.as_ref())?;
    check_maximum(store, &enum_text(&req.score_type), req.categories.as_ref())?;
    let project = project(store, caller, &req.project_id)?;
    Ok(draft(project.org_id, fields(&req, &[])))
}

fn score_patch(
    store: &Store,
    _: &Caller,
    record: &Record,
    body: &Value,
) -> Result<Patched, ErrorResponse> {
    let req: wire::PatchProjectScore = parse(body)?;
    check_categories(req.categories.as_ref())?;
    check_score_config(req.config.as_ref())?;
    let score_type = req
        .score_type
        .as_ref()
        .map(enum_text)
        .unwrap_or_else(|| record.str_field("score_type").to_owned());
    check_maximum(store, &score_type, req.categories.as_ref())?;
    // Lists replace; a weighted score's map, and the config, deep-merge when the profile says
    // a PATCH merges object fields (J7), and replace otherwise.
    let mut object = merged(record, &req, &["categories", "config"]);
    let merges = store.profile.patch_merges_objects;
    if let Some(categories) = &req.categories {
        let new = serde_json::to_value(categories).unwrap_or(Value::Null);
        set_object_field(&mut object, "categories", new, merges);
    }
    if let Some(config) = &req.config {
        set_object_field(
            &mut object,
            "config",
            Value::Object(fields(config, &[])),
            merges,
        );
    }
    Ok(patched(object))
}

/// Sets `field` of a stored object from a PATCH: deep-merged into the stored value when `merges`
/// and both are objects, replaced whole otherwise.
fn set_object_field(object: &mut wire::JsonMap, field: &str, new: Value, merges: bool) {
    match (object.get_mut(field), new) {
        (Some(Value::Object(current)), Value::Object(new)) if merges => merge(current, &new),
        (_, new) => {
            object.insert(field.into(), strip_null_values(&new));
        }
    }
}

/// Refuses a `maximum` score whose categories are a list of score names when the profile
/// says that shape is documented for `minimum` only (J10).
fn check_maximum(
    store: &Store,
    score_type: &str,
    categories: Option<&wire::ProjectScoreCategories>,
) -> Result<(), ErrorResponse> {
    if !store.profile.maximum_score_names
        && score_type == "maximum"
        && matches!(categories, Some(wire::ProjectScoreCategories::Minimum(_)))
    {
        return Err(ErrorResponse::bad_request(
            "`categories` of a maximum score cannot be a list of score names",
        ));
    }
    Ok(())
}

fn score_filters(params: &Params) -> Result<Constraints, ErrorResponse> {
    let types = params.enum_values::<wire::ProjectScoreType>("score_type")?;
    Ok(if types.is_empty() {
        Vec::new()
    } else {
        vec![("score_type", types)]
    })
}

/// `project_automation`: every `event_type` variant.
pub static PROJECT_AUTOMATION: Endpoint = Endpoint {
    kind: Collection::ProjectAutomation,
    put: true,
    name_param: "project_automation_name",
    project_scoped: true,
    server: PROJECT_SERVER,
    create: automation_create,
    patch: automation_patch,
    normalize: automation_normalize,
    filters: no_filters,
    on_delete: no_cascade,
};

const MAX_INTERVAL: f64 = 2_592_000.0;

fn check_automation(config: &wire::AutomationConfig) -> Result<(), ErrorResponse> {
    use wire::AutomationConfig as C;
    match config {
        C::Logs(logs) => in_range(
            "config.interval_seconds",
            logs.interval_seconds,
            1.0,
            MAX_INTERVAL,
        ),
        C::BtqlExport(export) => {
            in_range(
                "config.interval_seconds",
                export.interval_seconds,
                1.0,
                MAX_INTERVAL,
            )?;
            check_scope(export.scope.as_ref())
        }
        C::AsyncQuery(query) => match query.batch_size {
            Some(size) => in_range("config.batch_size", size as f64, 1.0, 100_000.0),
            None => Ok(()),
        },
        C::Retention(retention) => in_range(
            "config.retention_days",
            retention.retention_days,
            0.0,
            f64::MAX,
        ),
        C::EnvironmentUpdate(_) => Ok(()),
        C::Topic(topic) => {
            in_range("config.sampling_rate", topic.sampling_rate, 0.0, 1.0)?;
            if let Some(seconds) = topic.rerun_seconds {
                in_range("config.rerun_seconds", seconds, 600.0, f64::MAX)?;
            }
            if let Some(seconds) = topic.relabel_overlap_seconds {
                in_range("config.relabel_overlap_seconds", seconds, 60.0, f64::MAX)?;
            }
            check_scope(topic.scope.as_ref())
        }
        C::TopicDigest(digest) => {
            in_range(
                "config.scheduled_time_minutes_utc",
                digest.scheduled_time_minutes_utc as f64,
                0.0,
                1439.0,
            )?;
            if let Some(window) = digest.window_seconds {
                in_range("config.window_seconds", window as f64, 3600.0, MAX_INTERVAL)?;
            }
            if digest
                .topic_map_function_ids
                .as_ref()
                .is_some_and(|ids| ids.len() > 10)
            {
                return Err(ErrorResponse::bad_request(
                    "`config.topic_map_function_ids` may hold at most 10 ids",
                ));
            }
            Ok(())
        }
    }
}

fn automation_create(store: &Store, caller: &Caller, body: &Value) -> Result<Draft, ErrorResponse> {
    let req: wire::CreateProjectAutomation = parse(body)?;
    check_automation(&req.config)?;
    let project = project(store, caller, &req.project_id)?;
    let mut fields = fields(&req, &[]);
    if store.profile.export_external_id_generated
        && let Some(Value::Object(credentials)) = fields
            .get_mut("config")
            .and_then(|c| c.get_mut("credentials"))
        && credentials.contains_key("external_id")
    {
        // The server makes up the automation's part of the external id itself (A5).
        let generated = format!("bt-generated-{}", req.name);
        credentials.insert("external_id".into(), Value::String(generated));
    }
    Ok(draft(project.org_id, fields))
}

fn automation_patch(
    store: &Store,
    _: &Caller,
    record: &Record,
    body: &Value,
) -> Result<Patched, ErrorResponse> {
    let req: wire::PatchProjectAutomation = parse(body)?;
    let mut object = merged(record, &req, &["config"]);
    if let Some(config) = &req.config {
        check_automation(config)?;
        // A config of the same event type merges when the profile says PATCH merges object
        // fields (A4); another event type, or a replacing profile, replaces it.
        let same_type = object
            .get("config")
            .and_then(|c| c.get("event_type"))
            .zip(body.get("config").and_then(|c| c.get("event_type")))
            .is_some_and(|(a, b)| a == b);
        // The real profile keeps the body's config as sent, keys outside our model included
        // (A4); the lenient one only what the wire type holds.
        let keep = store.profile.patch_keeps_unmodelled_config;
        let mut new = match body.get("config") {
            Some(Value::Object(raw)) if keep => raw.clone(),
            _ => fields(config, &[]),
        };
        if same_type {
            export_rules(store, &object["config"], &mut new)?;
        }
        set_object_field(
            &mut object,
            "config",
            Value::Object(new),
            same_type && store.profile.patch_merges_objects,
        );
        if !keep && let Some(current) = object.get("config").cloned() {
            // The first guess: the stored config is what the wire type models, nothing more.
            let typed: wire::AutomationConfig = parse(&current)?;
            object.insert("config".into(), Value::Object(fields(&typed, &[])));
        }
    }
    Ok(patched(object))
}

/// Like the other kinds' normalisation, except that `config` keeps the keys outside our wire
/// types that the stored object holds (webhook headers, newer options): a PATCH merges into
/// the stored config rather than rebuilding it from our model.
fn automation_normalize(object: wire::JsonMap) -> Result<wire::JsonMap, ErrorResponse> {
    let config = object.get("config").cloned();
    let mut out = normalize::<wire::ProjectAutomation>(object)?;
    if let (Some(Value::Object(stored)), Some(Value::Object(modelled))) =
        (config, out.get_mut("config"))
    {
        keep_unmodelled(modelled, &stored);
    }
    Ok(out)
}

/// Puts back into `modelled` every key of `stored` it lacks, at any depth.
fn keep_unmodelled(modelled: &mut wire::JsonMap, stored: &wire::JsonMap) {
    for (key, value) in stored {
        match (modelled.get_mut(key), value) {
            (None, v) if !v.is_null() => {
                modelled.insert(key.clone(), v.clone());
            }
            (Some(Value::Object(inner)), Value::Object(v)) => keep_unmodelled(inner, v),
            _ => {}
        }
    }
}

/// What the profile says a PATCH of an export config may change: its path (A7) and, when the
/// server generates it, its external id (A5), which then keep their stored values.
fn export_rules(
    store: &Store,
    current: &Value,
    new: &mut wire::JsonMap,
) -> Result<(), ErrorResponse> {
    if current["event_type"] != "btql_export" {
        return Ok(());
    }
    if let (Some(Value::String(old)), Some(Value::String(path))) =
        (current.get("export_path"), new.get("export_path"))
        && old != path
    {
        match store.profile.export_path_patch {
            ExportPathPatch::Changes => {}
            ExportPathPatch::Refused => {
                return Err(ErrorResponse::bad_request(
                    "the export path cannot be changed after the export is created",
                ));
            }
            ExportPathPatch::Ignored => {
                new.insert("export_path".into(), Value::String(old.clone()));
            }
        }
    }
    if store.profile.export_external_id_generated
        && let Some(old) = current.pointer("/credentials/external_id")
        && let Some(Value::Object(credentials)) = new.get_mut("credentials")
        && credentials.contains_key("external_id")
    {
        credentials.insert("external_id".into(), old.clone());
    }
    Ok(())
}

/// `span_iframe`.
pub static SPAN_IFRAME: Endpoint = Endpoint {
    kind: Collection::SpanIframe,
    put: true,
    name_param: "span_iframe_name",
    project_scoped: true,
    server: PROJECT_SERVER,
    create: child_create::<wire::CreateSpanIFrame>,
    patch: plain_patch::<wire::PatchSpanIFrame>,
    normalize: normalize::<wire::SpanIFrame>,
    filters: no_filters,
    on_delete: no_cascade,
};

/// `mcp_server`.
pub static MCP_SERVER: Endpoint = Endpoint {
    kind: Collection::McpServer,
    put: true,
    name_param: "mcp_server_name",
    project_scoped: true,
    server: PROJECT_SERVER,
    create: child_create::<wire::CreateMcpServer>,
    patch: plain_patch::<wire::PatchMcpServer>,
    normalize: normalize::<wire::McpServer>,
    filters: no_filters,
    on_delete: no_cascade,
};

// ---------------------------------------------------------------------------------------------
// view
// ---------------------------------------------------------------------------------------------

/// `view`: located by `object_type` + `object_id`, which every read requires.
pub static VIEW: Endpoint = Endpoint {
    kind: Collection::View,
    put: true,
    name_param: "view_name",
    project_scoped: false,
    server: &[Server::Id, Server::Created, Server::UserId],
    create: view_create,
    patch: view_patch,
    normalize: view_normalize,
    filters: view_filters,
    on_delete: no_cascade,
};

fn enum_text<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

fn check_timestamp(field: &str, text: &str) -> Result<(), ErrorResponse> {
    let b = text.as_bytes();
    let shaped = b.len() >= 20
        && b[4] == b'-'
        && b[7] == b'-'
        && matches!(b[10], b'T' | b't' | b' ')
        && b[13] == b':'
        && b[16] == b':'
        && [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18]
            .iter()
            .all(|i| b[*i].is_ascii_digit());
    if shaped {
        Ok(())
    } else {
        Err(ErrorResponse::bad_request(format!(
            "`{field}` must be an ISO-8601 date-time, got `{text}`"
        )))
    }
}

fn view_create(store: &Store, caller: &Caller, body: &Value) -> Result<Draft, ErrorResponse> {
    let req: wire::CreateView = parse(body)?;
    if let Some(deleted_at) = &req.deleted_at {
        check_timestamp("deleted_at", deleted_at)?;
    }
    let org_id = object_org(
        store,
        caller,
        &enum_text(&req.object_type),
        req.object_id.as_str(),
    )?;
    let mut object = fields(&req, &["deleted_at"]);
    keep_view_maps(&mut object, body, false);
    Ok(draft(org_id, object))
}

/// The maps of a view that are stored as sent (`view_data`, `options`): the app keeps keys
/// newer than the spec's shapes, whose known keys the typed parse has already checked.
const VIEW_MAPS: [&str; 2] = ["view_data", "options"];

/// Puts the view maps of `body` into `object` as sent: replacing (a create) or deep-merged
/// into the stored ones (a patch, as the spec's PATCH describes object fields).
fn keep_view_maps(object: &mut wire::JsonMap, body: &Value, deep_merge: bool) {
    for key in VIEW_MAPS {
        let Some(Value::Object(sent)) = body.get(key) else {
            continue;
        };
        match object.get_mut(key) {
            Some(Value::Object(stored)) if deep_merge => merge(stored, sent),
            _ => {
                let mut fresh = wire::JsonMap::new();
                merge(&mut fresh, sent);
                object.insert(key.to_owned(), Value::Object(fresh));
            }
        }
    }
}

/// Like the other kinds' normalisation, except that the view maps are kept as stored.
fn view_normalize(object: wire::JsonMap) -> Result<wire::JsonMap, ErrorResponse> {
    let maps: Vec<(&str, Value)> = VIEW_MAPS
        .iter()
        .filter_map(|k| Some((*k, object.get(*k)?.clone())))
        .collect();
    let mut out = normalize::<wire::View>(object)?;
    for (key, map) in maps {
        if map.is_object() {
            out.insert(key.to_owned(), map);
        }
    }
    Ok(out)
}

/// Checks the locator that reads, patches and deletes of a view must carry: the object it names
/// must be accessible to the caller. The view itself is found by id: the API documents the
/// locator as required, not how a locator that names another object is treated, so the emulator
/// does not second-guess it.
///
/// # Errors
/// 400 when a stored kind has no such object, 403 when another org owns it.
pub fn check_view_locator(
    store: &Store,
    caller: &Caller,
    object_type: &str,
    object_id: &str,
) -> Result<(), ErrorResponse> {
    object_org(store, caller, object_type, object_id).map(|_| ())
}

fn view_patch(
    store: &Store,
    caller: &Caller,
    record: &Record,
    body: &Value,
) -> Result<Patched, ErrorResponse> {
    let req: wire::PatchView = parse(body)?;
    check_view_locator(
        store,
        caller,
        &enum_text(&req.object_type),
        req.object_id.as_str(),
    )?;
    let mut object = merged(record, &req, &["object_type", "object_id"]);
    keep_view_maps(&mut object, body, true);
    Ok(patched(object))
}

fn view_filters(params: &Params) -> Result<Constraints, ErrorResponse> {
    let object_type = params
        .enum_value::<wire::AclObjectType>("object_type")?
        .ok_or_else(|| ErrorResponse::bad_request("query parameter `object_type` is required"))?;
    let object_id = params
        .uuid("object_id")?
        .ok_or_else(|| ErrorResponse::bad_request("query parameter `object_id` is required"))?;
    let mut constraints = vec![
        ("object_type", vec![object_type]),
        ("object_id", vec![object_id]),
    ];
    if let Some(view_type) = params.enum_value::<wire::ViewType>("view_type")? {
        constraints.push(("view_type", vec![view_type]));
    }
    Ok(constraints)
}

// ---------------------------------------------------------------------------------------------
// ai_secret, env_var, environment
// ---------------------------------------------------------------------------------------------

/// `ai_secret`: the secret is write-only; a PUT without `secret` keeps it.
pub static AI_SECRET: Endpoint = Endpoint {
    kind: Collection::AiSecret,
    put: true,
    name_param: "ai_secret_name",
    project_scoped: false,
    server: &[
        Server::Id,
        Server::OrgId,
        Server::Created,
        Server::UpdatedAt,
        Server::Secret,
    ],
    create: ai_secret_create,
    patch: ai_secret_patch,
    normalize: normalize::<wire::AiSecret>,
    filters: ai_secret_filters,
    on_delete: no_cascade,
};

fn ai_secret_create(_: &Store, caller: &Caller, body: &Value) -> Result<Draft, ErrorResponse> {
    let req: wire::CreateAiSecret = parse(body)?;
    caller.check_org_name(req.org_name.as_deref())?;
    Ok(Draft {
        org_id: caller.org_id.clone(),
        fields: fields(&req, &["org_name", "secret"]),
        secret: req.secret,
    })
}

fn ai_secret_patch(
    store: &Store,
    _: &Caller,
    record: &Record,
    body: &Value,
) -> Result<Patched, ErrorResponse> {
    let req: wire::PatchAiSecret = parse(body)?;
    Ok(Patched {
        object: with_metadata(store, record, &req, body)?,
        secret: req.secret,
    })
}

fn ai_secret_filters(params: &Params) -> Result<Constraints, ErrorResponse> {
    let types: Vec<String> = params
        .all("ai_secret_type")
        .into_iter()
        .map(str::to_owned)
        .collect();
    Ok(if types.is_empty() {
        Vec::new()
    } else {
        vec![("type", types)]
    })
}

/// `env_var`: attached to an org, project or function; the value is write-only.
pub static ENV_VAR: Endpoint = Endpoint {
    kind: Collection::EnvVar,
    put: true,
    name_param: "env_var_name",
    project_scoped: false,
    server: &[
        Server::Id,
        Server::Created,
        Server::Secret,
        Server::SecretCategory,
    ],
    create: env_var_create,
    patch: env_var_patch,
    normalize: normalize::<wire::EnvVar>,
    filters: env_var_filters,
    on_delete: no_cascade,
};

fn env_var_create(store: &Store, caller: &Caller, body: &Value) -> Result<Draft, ErrorResponse> {
    let req: wire::CreateEnvVar = parse(body)?;
    let org_id = object_org(
        store,
        caller,
        &enum_text(&req.object_type),
        req.object_id.as_str(),
    )?;
    let mut fields = fields(&req, &["value"]);
    if let Some(category) = category_of_type(store, req.secret_type.as_deref()) {
        fields.insert("secret_category".into(), Value::String(category.into()));
    }
    Ok(Draft {
        org_id,
        fields,
        secret: req.value,
    })
}

/// AI providers whose `secret_type` files an env var as a provider key when the profile's
/// `env_var_type_sets_category` is on (S12).
const AI_PROVIDER_TYPES: &[&str] = &[
    "openai",
    "anthropic",
    "google",
    "mistral",
    "together",
    "groq",
    "fireworks",
    "perplexity",
    "xai",
    "replicate",
    "bedrock",
    "vertex",
    "azure",
    "databricks",
    "cerebras",
    "baseten",
    "ollama",
];

/// The category a written `secret_type` files an env var under, when the profile says a type
/// sets it (S12); `None`: the category is left as it is (`env_var` for a new entry).
fn category_of_type(store: &Store, secret_type: Option<&str>) -> Option<&'static str> {
    let known = secret_type.is_some_and(|t| AI_PROVIDER_TYPES.contains(&t));
    (store.profile.env_var_type_sets_category && known).then_some("ai_provider")
}

fn env_var_patch(
    store: &Store,
    _: &Caller,
    record: &Record,
    body: &Value,
) -> Result<Patched, ErrorResponse> {
    let req: wire::PatchEnvVar = parse(body)?;
    let mut object = with_metadata(store, record, &req, body)?;
    if store.profile.env_var_metadata_moves_secret_time
        && req.value.is_none()
        && body.get("metadata").is_some_and(Value::is_object)
    {
        // Stamped with the time of the PATCH by `resource::patch` (S10).
        object.insert("secret_updated_at".into(), Value::Null);
    }
    if let Some(category) = category_of_type(store, req.secret_type.as_deref()) {
        object.insert("secret_category".into(), Value::String(category.into()));
    }
    Ok(Patched {
        object,
        secret: req.value,
    })
}

/// A patched object holding a secret: its fields merged as usual but for the secret itself
/// (`secret`, `value`), and `metadata` deep-merged or replaced as the profile says (S4).
fn with_metadata<P: serde::Serialize>(
    store: &Store,
    record: &Record,
    req: &P,
    body: &Value,
) -> Result<wire::JsonMap, ErrorResponse> {
    let mut object = merged(record, req, &["secret", "value", "metadata"]);
    if let Some(metadata @ Value::Object(_)) = body.get("metadata") {
        set_object_field(
            &mut object,
            "metadata",
            metadata.clone(),
            store.profile.patch_merges_objects,
        );
    }
    Ok(object)
}

fn env_var_filters(params: &Params) -> Result<Constraints, ErrorResponse> {
    let mut constraints = Vec::new();
    if let Some(object_type) = params.enum_value::<wire::EnvVarObjectType>("object_type")? {
        constraints.push(("object_type", vec![object_type]));
    }
    if let Some(object_id) = params.uuid("object_id")? {
        constraints.push(("object_id", vec![object_id]));
    }
    Ok(constraints)
}

/// `environment` (under `/environment`, no `/v1`, no PUT); the natural key is the slug.
pub static ENVIRONMENT: Endpoint = Endpoint {
    kind: Collection::Environment,
    put: false,
    name_param: "name",
    project_scoped: false,
    server: &[Server::Id, Server::OrgId, Server::Created],
    create: environment_create,
    patch: environment_patch,
    normalize: normalize::<wire::Environment>,
    filters: no_filters,
    on_delete: no_cascade,
};

fn environment_create(_: &Store, caller: &Caller, body: &Value) -> Result<Draft, ErrorResponse> {
    let req: wire::CreateEnvironment = parse(body)?;
    caller.check_org_name(req.org_name.as_deref())?;
    Ok(draft(caller.org_id.clone(), fields(&req, &["org_name"])))
}

fn environment_patch(
    _: &Store,
    _: &Caller,
    record: &Record,
    body: &Value,
) -> Result<Patched, ErrorResponse> {
    let req: wire::PatchEnvironment = parse(body)?;
    Ok(patched(merged(record, &req, &[])))
}
