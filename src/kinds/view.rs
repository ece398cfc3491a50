//! The `view` kind: a saved view of a project's pages (logs, experiments, datasets...), on
//! `/v1/view` with the project as its locator (`object_type: project`, `object_id`), which the
//! list, every patch and the delete (as its request body) must carry.
//!
//! A view is named within its project; its `type` (the API's `view_type`) is a managed field.
//! Should a project hold several live views of one name (J13), the reader leaves them all
//! alone.
//! Its definition (`data`, the API's `view_data`) and display `options` are opaque maps: each is
//! checked against the spec's shape when lowering (`wire::ViewData`, `wire::ViewOptions`), sent
//! as written (keys newer than our wire types included), read back from the list item as
//! listed, and compared key by key, only the keys the manifest gives. An update sends back
//! every key of the live map the manifest leaves out, so nothing the app set is lost whether
//! the API deep-merges a PATCH (as the spec says) or replaces the map.
//!
//! Views belong to users: only views without a `user_id`, or made by the API key's own user,
//! are managed. Another user's view is kept as an unknown object (never changed or deleted,
//! its name held), see `docs/api-assumptions.md` J12.

use crate::manifest::clearable::{refuse_null, required_not_null};
use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::diag::{Code, Diagnostic};
use crate::diff::fields::Field;
use crate::manifest::DocOrigin;
use crate::manifest::raw::State;
use crate::manifest::spanned::Sp;
use crate::model::lower::{Cx, Lowerer};
use crate::model::{Kind, Spec};
use crate::vocab::ViewType;
use crate::wire::{self, AclObjectType, CreateView, DeleteView, Id, JsonMap, PatchView};

/// A saved view of a project, shared with the project's members.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(transform = crate::manifest::raw::tombstone_schema::<RawView>)]
pub struct RawView {
    pub name: Sp<String>,
    /// The page the view belongs to (`logs`, `experiments`, `datasets`...).
    #[serde(rename = "type", default, deserialize_with = "required_not_null")]
    #[schemars(with = "Sp<ViewType>")]
    pub view_type: Option<Sp<ViewType>>,
    /// The view definition (the API's `view_data`: `search` filters, tags, matches and sorts,
    /// `custom_charts`), as the app stores it. Only the keys given are compared.
    #[serde(default, deserialize_with = "refuse_null")]
    #[schemars(with = "Sp<BTreeMap<String, Value>>")]
    pub data: Option<Sp<BTreeMap<String, Value>>>,
    /// Display options (column visibility, order and sizes, grouping, row height, layout...,
    /// or a monitor view's `viewType` and `options`). Only the keys given are compared.
    #[serde(default, deserialize_with = "refuse_null")]
    #[schemars(with = "Sp<BTreeMap<String, Value>>")]
    pub options: Option<Sp<BTreeMap<String, Value>>>,
    #[serde(default)]
    pub previous_names: Vec<Sp<String>>,
    #[serde(default)]
    pub state: Option<Sp<State>>,
}

/// The managed fields of a view.
#[derive(Debug, Clone, PartialEq)]
pub struct ViewSpec {
    pub view_type: ViewType,
    /// `view_data` as written; `None`: not managed.
    pub data: Option<JsonMap>,
    /// `options` as written; `None`: not managed.
    pub options: Option<JsonMap>,
}

/// Checks one manifest entry and adds it to the desired state.
pub(crate) fn lower(lw: &mut Lowerer<'_>, cx: Cx<'_>, v: &Sp<RawView>) {
    let at = cx.at;
    let Some(name) = lw.name(at, &v.name) else {
        return;
    };
    let span = lw.span(at, &v.name);
    let spec = if super::tombstone_only(&v.state, [v.view_type.is_none()]) {
        // Only the name identifies the view; a tombstone's spec is never compared or sent.
        ViewSpec {
            view_type: ViewType::Logs,
            data: None,
            options: None,
        }
    } else {
        let view_type = lw.required(span, &v.view_type, "type").map(|t| t.value);
        let data = shaped::<wire::ViewData>(lw, at, v.data.as_ref(), "data", "ViewData");
        let options =
            shaped::<wire::ViewOptions>(lw, at, v.options.as_ref(), "options", "ViewOptions");
        let (Some(view_type), Ok(data), Ok(options)) = (view_type, data, options) else {
            return;
        };
        ViewSpec {
            view_type,
            data,
            options,
        }
    };
    let Some(key) = Lowerer::project_key(cx, Kind::View, name.as_str()) else {
        return;
    };
    if let Some(key) = lw.add(
        cx,
        key,
        Spec::View(spec),
        span,
        &v.state,
        None,
        &v.previous_names,
    ) {
        lw.depend_on_project(cx, &key, span);
    }
}

/// The map as written, once it is known to fit the spec's shape `T` (named `schema`): a value of
/// a known key with the wrong type is an error here rather than a 400 after merge. Unknown keys
/// are kept.
fn shaped<T: DeserializeOwned>(
    lw: &mut Lowerer<'_>,
    at: DocOrigin,
    map: Option<&Sp<BTreeMap<String, Value>>>,
    field: &str,
    schema: &str,
) -> Result<Option<JsonMap>, ()> {
    let Some(map) = map else {
        return Ok(None);
    };
    let object: JsonMap = map
        .value
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    match serde_json::from_value::<T>(Value::Object(object.clone())) {
        Ok(_) => Ok(Some(object)),
        Err(e) => {
            lw.diags.push(
                Diagnostic::error(
                    Code::WrongType,
                    format!("`{field}` does not fit the API's `{schema}`: {e}"),
                )
                .with_label(lw.span(at, map), format!("this view's `{field}`"))
                .with_hint(
                    "keys are the API's own (camelCase in `options`); the Braintrust API \
                     reference gives their types under `View`; keys it does not list are kept \
                     as written",
                ),
            );
            Err(())
        }
    }
}

/// The managed fields, in display order (see `diff::fields`).
#[must_use]
pub fn fields(v: &ViewSpec) -> Vec<Field> {
    vec![
        ("type", Some(json!(v.view_type.as_str()))),
        ("data", v.data.clone().map(Value::Object)),
        ("options", v.options.clone().map(Value::Object)),
    ]
}

/// The create body (`POST /v1/view`: create, or return the project's view of that name
/// unmodified): the project as the locator, the maps as written. No `user_id` is sent.
#[must_use]
pub fn create(v: &ViewSpec, project_id: Id, name: &str) -> Value {
    let body = CreateView {
        object_type: AclObjectType::Project,
        object_id: project_id,
        view_type: v.view_type,
        name: name.to_owned(),
        view_data: None,
        options: None,
        user_id: None,
        deleted_at: None,
    };
    with_maps(super::body(&body), v, None)
}

/// The patch body (`PATCH /v1/view/{id}`): the live view's locator, the type, the new name when
/// renamed, and each managed map with the live map's other keys (`live` is the view as listed).
#[must_use]
pub fn patch(v: &ViewSpec, locator: DeleteView, rename: Option<String>, live: &Value) -> Value {
    let body = PatchView {
        object_type: locator.object_type,
        object_id: locator.object_id,
        view_type: Some(v.view_type),
        name: rename,
        view_data: None,
        options: None,
        user_id: None,
    };
    with_maps(super::body(&body), v, Some(live))
}

/// The locator of a listed view (`{object_type, object_id}`): what its patch carries and the
/// body of its delete (`DELETE /v1/view/{id}`).
#[must_use]
pub fn locator(live: &Value) -> Option<DeleteView> {
    let view: wire::View = serde_json::from_value(live.clone()).ok()?;
    Some(DeleteView {
        object_type: view.object_type,
        object_id: view.object_id,
    })
}

/// Adds the managed maps to a body, each completed with the keys of the live map it leaves out.
fn with_maps(mut body: Value, v: &ViewSpec, live: Option<&Value>) -> Value {
    let Value::Object(out) = &mut body else {
        return body;
    };
    for (key, map) in [("view_data", &v.data), ("options", &v.options)] {
        let Some(map) = map else {
            continue;
        };
        let mut sent = Value::Object(map.clone());
        if let Some(live) = live.and_then(|l| l.get(key)) {
            keep_live_keys(&mut sent, live);
        }
        out.insert(key.to_owned(), sent);
    }
    body
}

/// Copies into `sent` every member of `live` it lacks, recursing into objects both have; lists
/// and scalars the manifest gives replace the live ones.
fn keep_live_keys(sent: &mut Value, live: &Value) {
    let (Value::Object(sent), Value::Object(live)) = (sent, live) else {
        return;
    };
    for (k, l) in live {
        if l.is_null() {
            continue;
        }
        match sent.get_mut(k) {
            Some(s) => keep_live_keys(s, l),
            None => {
                sent.insert(k.clone(), l.clone());
            }
        }
    }
}

/// Whether bt-gitops may manage a listed view: one without a `user_id`, or made by the key's
/// own user (`own_user`, the id of the user or service account behind the API key, when known).
#[must_use]
pub fn managed(view: &wire::View, own_user: Option<&str>) -> bool {
    view.user_id
        .as_ref()
        .is_none_or(|u| own_user == Some(u.as_str()))
}

/// The reason an unmanaged view is kept as an unknown object.
pub const OTHER_USER: &str = "a view of another user (left alone)";

/// The spec of a listed view; `raw` is the item as listed, whose maps are read whole.
#[must_use]
pub fn read(view: &wire::View, raw: &Value) -> ViewSpec {
    let map = |key: &str| raw.get(key).and_then(Value::as_object).cloned();
    ViewSpec {
        view_type: view.view_type,
        data: map("view_data"),
        options: map("options"),
    }
}

/// The manifest entry `import` writes.
#[must_use]
pub fn manifest(name: &str, v: &ViewSpec) -> Value {
    super::drop_nulls(json!({
        "name": name,
        "type": v.view_type.as_str(),
        "data": v.data,
        "options": v.options,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_update_keeps_the_live_keys_the_manifest_leaves_out() {
        let mut sent = json!({ "columnVisibility": { "input": false }, "rowHeight": "tall" });
        let live = json!({
            "columnVisibility": { "input": true, "output": true },
            "rowHeight": "compact",
            "layout": "split",
            "grouping": null,
        });
        keep_live_keys(&mut sent, &live);
        assert_eq!(
            sent,
            json!({
                "columnVisibility": { "input": false, "output": true },
                "rowHeight": "tall",
                "layout": "split",
            })
        );
    }

    #[test]
    fn only_shared_views_and_the_keys_own_are_managed() {
        let view = |user: Option<&str>| -> wire::View {
            serde_json::from_value(json!({
                "id": "0b2d3a4e-5f60-4a1b-8c2d-3e4f5a6b7c8d",
                "object_type": "project",
                "object_id": "1b2d3a4e-5f60-4a1b-8c2d-3e4f5a6b7c8d",
                "view_type": "logs",
                "name": "errors",
                "user_id": user,
            }))
            .expect("a view")
        };
        let me = "2b2d3a4e-5f60-4a1b-8c2d-3e4f5a6b7c8d";
        let other = "3b2d3a4e-5f60-4a1b-8c2d-3e4f5a6b7c8d";
        assert!(managed(&view(None), None));
        assert!(managed(&view(Some(me)), Some(me)));
        assert!(!managed(&view(Some(other)), Some(me)));
        assert!(!managed(&view(Some(other)), None));
    }
}
