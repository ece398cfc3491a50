//! Looks up the objects manifests name without managing them (see [`crate::refs`]): one
//! filtered list call per distinct name, with the filters first-party `bt` uses
//! (`/v1/function?project_name=&slug=`, `/v1/prompt?project_name=&slug=`,
//! `/v1/experiment?project_name=&experiment_name=`, `/v1/dataset?project_name=&dataset_name=`;
//! assumptions R1-R4). A name that lists nothing is left out of the table, and the plan says so.
//! For `import`, which has no manifests, [`everything`] lists every such object of each project.

use std::collections::BTreeSet;

use crate::api::client::Client;
use crate::api::error::ApiError;
use crate::model::{OrgName, ProjectName};
use crate::refs::{ObjectRef, RefKind, References};
use crate::vocab::Collection;
use crate::wire;

/// Looks up every wanted object of one org, concurrently (bounded by the client).
///
/// # Errors
/// The first lookup that failed after retries: a plan cannot say whether a name resolves
/// without it.
pub async fn fetch_references(
    client: &Client,
    org: &OrgName,
    wanted: &BTreeSet<ObjectRef>,
) -> Result<References, ApiError> {
    let mut tasks = tokio::task::JoinSet::new();
    for r in wanted {
        let (client, org, r) = (client.clone(), org.clone(), r.clone());
        tasks.spawn(async move {
            let found = lookup(&client, &org, &r).await;
            (r, found)
        });
    }
    let mut out = References::default();
    let mut failure = None;
    while let Some(joined) = tasks.join_next().await {
        let Ok((r, found)) = joined else { continue };
        match found {
            Ok(Some(id)) => out.insert(r, id),
            Ok(None) => {}
            Err(e) => {
                failure.get_or_insert(e);
            }
        }
    }
    match failure {
        Some(e) => Err(e),
        None => Ok(out),
    }
}

/// Every function, prompt, experiment and dataset of these projects of `org`, for `import`,
/// which has no manifests to say which are named: one list call per project and kind, filtered
/// by `project_name` (R1-R4), so that the reader writes grants on single objects and
/// project-function scorers by name.
///
/// # Errors
/// The first list that failed after retries.
pub async fn everything(
    client: &Client,
    org: &OrgName,
    projects: &[ProjectName],
) -> Result<References, ApiError> {
    let mut tasks = tokio::task::JoinSet::new();
    for project in projects {
        for kind in [
            RefKind::Function,
            RefKind::Prompt,
            RefKind::Experiment,
            RefKind::Dataset,
        ] {
            let (client, org, project) = (client.clone(), org.clone(), project.clone());
            tasks.spawn(async move {
                let query = [
                    ("org_name", org.to_string()),
                    ("project_name", project.to_string()),
                ];
                let listed = client
                    .list_items::<wire::NamedObject>(collection(kind).path(), &query)
                    .await;
                (org, project, kind, listed)
            });
        }
    }
    let mut out = References::default();
    let mut failure = None;
    while let Some(joined) = tasks.join_next().await {
        let Ok((org, project, kind, listed)) = joined else {
            continue;
        };
        match listed {
            Ok(listed) => {
                for o in listed.items {
                    let name = match kind {
                        RefKind::Function | RefKind::Prompt => o.slug.clone(),
                        RefKind::Experiment | RefKind::Dataset => Some(o.name.clone()),
                    };
                    let Some(name) = name else { continue };
                    let r = ObjectRef {
                        org: org.clone(),
                        project: project.clone(),
                        kind,
                        name,
                    };
                    out.insert(r, o.id.to_string());
                }
            }
            Err(e) => {
                failure.get_or_insert(e);
            }
        }
    }
    match failure {
        Some(e) => Err(e),
        None => Ok(out),
    }
}

/// The collection that holds objects of this kind.
fn collection(kind: RefKind) -> Collection {
    match kind {
        RefKind::Function => Collection::Function,
        RefKind::Prompt => Collection::Prompt,
        RefKind::Experiment => Collection::Experiment,
        RefKind::Dataset => Collection::Dataset,
    }
}

/// The id of one named object, if it exists.
async fn lookup(client: &Client, org: &OrgName, r: &ObjectRef) -> Result<Option<String>, ApiError> {
    let (collection, name_param) = match r.kind {
        RefKind::Function => (Collection::Function, "slug"),
        RefKind::Prompt => (Collection::Prompt, "slug"),
        RefKind::Experiment => (Collection::Experiment, "experiment_name"),
        RefKind::Dataset => (Collection::Dataset, "dataset_name"),
    };
    let query = [
        ("org_name", org.to_string()),
        ("project_name", r.project.to_string()),
        (name_param, r.name.clone()),
    ];
    let list: wire::ListResponse<wire::NamedObject> = client.get(collection.path(), &query).await?;
    // The filter is exact; the check guards against a server that ignores it.
    Ok(list
        .objects
        .into_iter()
        .find(|o| match r.kind {
            RefKind::Function | RefKind::Prompt => o.slug.as_deref() == Some(r.name.as_str()),
            RefKind::Experiment | RefKind::Dataset => o.name == r.name,
        })
        .map(|o| o.id.to_string()))
}
