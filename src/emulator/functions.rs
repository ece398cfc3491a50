//! The objects manifests refer to by name without managing them: functions, prompts,
//! experiments and datasets. Each is a plain project child here (list with the API's filters,
//! POST, GET, PATCH, DELETE; PUT for functions and prompts), so tests and the demo seed can hold
//! the scorers, experiments and datasets that online scoring, grants and project settings name.
//!
//! List filters: `project_id` / `project_name` (all four), `slug`, `function_name` / `prompt_name`
//! and `version` (functions and prompts), `experiment_name`, `dataset_name`. Natural keys:
//! project + `slug` for functions and prompts, project + `name` for experiments and datasets.
//! Every write of a function or prompt makes a new version (`_xact_id`); the store keeps each
//! one, and `version=` answers the object as it was at that version (`Store::version_of`).

use axum::Router;
use serde_json::Value;

use super::AppState;
use super::auth::Caller;
use super::error::ErrorResponse;
use super::query::Params;
use super::resource::{
    Constraints, Draft, Endpoint, Patched, Server, fields, merge, no_cascade, non_empty, normalize,
    parse, project,
};
use super::store::{Collection, Record, Store};
use crate::api::wire;

const SERVER: &[Server] = &[Server::Id, Server::Created];

/// `function`: scorers, tools, preprocessors... `_xact_id` is its version.
pub static FUNCTION: Endpoint = Endpoint {
    kind: Collection::Function,
    put: true,
    name_param: "function_name",
    project_scoped: true,
    server: SERVER,
    create: function_create,
    patch: function_patch,
    normalize: normalize::<wire::Function>,
    filters: versioned_filters,
    on_delete: no_cascade,
};

/// `prompt`.
pub static PROMPT: Endpoint = Endpoint {
    kind: Collection::Prompt,
    put: true,
    name_param: "prompt_name",
    project_scoped: true,
    server: SERVER,
    create: prompt_create,
    patch: prompt_patch,
    normalize: normalize::<wire::Prompt>,
    filters: versioned_filters,
    on_delete: no_cascade,
};

/// `experiment`: the server names an unnamed one.
pub static EXPERIMENT: Endpoint = Endpoint {
    kind: Collection::Experiment,
    put: false,
    name_param: "experiment_name",
    project_scoped: true,
    server: &[Server::Id, Server::Created, Server::UserId],
    create: experiment_create,
    patch: experiment_patch,
    normalize: normalize::<wire::Experiment>,
    filters: super::resource::no_filters,
    on_delete: no_cascade,
};

/// `dataset`: its metadata only; rows are not served.
pub static DATASET: Endpoint = Endpoint {
    kind: Collection::Dataset,
    put: false,
    name_param: "dataset_name",
    project_scoped: true,
    server: &[Server::Id, Server::Created, Server::UserId],
    create: dataset_create,
    patch: dataset_patch,
    normalize: normalize::<wire::Dataset>,
    filters: super::resource::no_filters,
    on_delete: no_cascade,
};

/// The routes of the four collections.
pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .merge(super::routes::standard(&FUNCTION))
        .merge(super::routes::standard(&PROMPT))
        .merge(super::routes::standard(&EXPERIMENT))
        .merge(super::routes::standard(&DATASET))
}

/// The `slug` filter of functions and prompts (`version` is answered by `resource::list`).
fn versioned_filters(params: &Params) -> Result<Constraints, ErrorResponse> {
    let mut out = Constraints::new();
    if let Some(slug) = params.one("slug")? {
        out.push(("slug", vec![slug.to_owned()]));
    }
    // `version` is answered by `resource::list` from the versions the store keeps.
    Ok(out)
}

/// A new transaction id: above every one the store has handed out and above `previous`.
fn next_xact(store: &Store, previous: Option<&str>) -> Value {
    let base = 1_000_000_000_000_000_u64 + store.clock.counter;
    let after = previous
        .and_then(|p| p.parse::<u64>().ok())
        .map_or(0, |p| p + 1);
    Value::String(base.max(after).to_string())
}

fn draft(org_id: String, fields: wire::JsonMap) -> Draft {
    Draft {
        org_id,
        fields,
        secret: None,
    }
}

fn versioned(
    store: &Store,
    caller: &Caller,
    mut object: wire::JsonMap,
    previous: Option<&str>,
) -> wire::JsonMap {
    object.insert("_xact_id".into(), next_xact(store, previous));
    object.insert("log_id".into(), Value::String("p".into()));
    object.insert("org_id".into(), Value::String(caller.org_id.clone()));
    object
}

/// The version of the live object a PUT would replace, if any.
fn current_xact(store: &Store, kind: Collection, project_id: &str, slug: &str) -> Option<String> {
    store
        .table(kind)
        .live()
        .find(|r| r.str_field("project_id") == project_id && r.str_field("slug") == slug)
        .map(|r| r.str_field("_xact_id").to_owned())
}

fn function_create(store: &Store, caller: &Caller, body: &Value) -> Result<Draft, ErrorResponse> {
    let req: wire::CreateFunction = parse(body)?;
    non_empty("name", &req.name)?;
    non_empty("slug", &req.slug)?;
    let p = project(store, caller, &req.project_id)?;
    let previous = current_xact(
        store,
        Collection::Function,
        req.project_id.as_str(),
        &req.slug,
    );
    let object = versioned(store, caller, fields(&req, &[]), previous.as_deref());
    Ok(draft(p.org_id, object))
}

fn prompt_create(store: &Store, caller: &Caller, body: &Value) -> Result<Draft, ErrorResponse> {
    let req: wire::CreatePrompt = parse(body)?;
    non_empty("name", &req.name)?;
    non_empty("slug", &req.slug)?;
    let p = project(store, caller, &req.project_id)?;
    let previous = current_xact(
        store,
        Collection::Prompt,
        req.project_id.as_str(),
        &req.slug,
    );
    let object = versioned(store, caller, fields(&req, &[]), previous.as_deref());
    Ok(draft(p.org_id, object))
}

fn patched_version<P: serde::de::DeserializeOwned + serde::Serialize>(
    store: &Store,
    caller: &Caller,
    record: &Record,
    body: &Value,
) -> Result<Patched, ErrorResponse> {
    let req: P = parse(body)?;
    let mut object = record.object.clone();
    merge(&mut object, &fields(&req, &[]));
    let object = versioned(store, caller, object, Some(record.str_field("_xact_id")));
    Ok(Patched {
        object,
        secret: None,
    })
}

fn function_patch(
    store: &Store,
    caller: &Caller,
    record: &Record,
    body: &Value,
) -> Result<Patched, ErrorResponse> {
    patched_version::<wire::PatchFunction>(store, caller, record, body)
}

fn prompt_patch(
    store: &Store,
    caller: &Caller,
    record: &Record,
    body: &Value,
) -> Result<Patched, ErrorResponse> {
    patched_version::<wire::PatchPrompt>(store, caller, record, body)
}

fn experiment_create(store: &Store, caller: &Caller, body: &Value) -> Result<Draft, ErrorResponse> {
    let req: wire::CreateExperiment = parse(body)?;
    let p = project(store, caller, &req.project_id)?;
    let mut object = fields(&req, &[]);
    match &req.name {
        Some(name) => non_empty("name", name)?,
        None => {
            let n = store.table(Collection::Experiment).len() + 1;
            object.insert("name".into(), Value::String(format!("experiment-{n}")));
        }
    }
    object.entry("public").or_insert(Value::Bool(false));
    Ok(draft(p.org_id, object))
}

fn experiment_patch(
    _: &Store,
    _: &Caller,
    record: &Record,
    body: &Value,
) -> Result<Patched, ErrorResponse> {
    let req: wire::PatchExperiment = parse(body)?;
    if let Some(name) = &req.name {
        non_empty("name", name)?;
    }
    let mut object = record.object.clone();
    merge(&mut object, &fields(&req, &[]));
    Ok(Patched {
        object,
        secret: None,
    })
}

/// The URL form of a dataset name.
fn url_slug(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect()
}

fn dataset_create(store: &Store, caller: &Caller, body: &Value) -> Result<Draft, ErrorResponse> {
    let req: wire::CreateDataset = parse(body)?;
    non_empty("name", &req.name)?;
    let p = project(store, caller, &req.project_id)?;
    let mut object = fields(&req, &[]);
    object.insert("url_slug".into(), Value::String(url_slug(&req.name)));
    Ok(draft(p.org_id, object))
}

fn dataset_patch(
    _: &Store,
    _: &Caller,
    record: &Record,
    body: &Value,
) -> Result<Patched, ErrorResponse> {
    let req: wire::PatchDataset = parse(body)?;
    let mut object = record.object.clone();
    merge(&mut object, &fields(&req, &[]));
    if let Some(name) = &req.name {
        non_empty("name", name)?;
        object.insert("url_slug".into(), Value::String(url_slug(name)));
    }
    Ok(Patched {
        object,
        secret: None,
    })
}
