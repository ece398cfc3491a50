//! The `dataset` kind: a project's dataset as an object (name, description, metadata), on
//! `/v1/dataset`. Its rows are data, not configuration: bt-gitops never reads or writes them, and
//! deleting a dataset (a tombstone, or an undeclared one in an authoritative collection) is
//! marked data-destroying in the plan. A dataset need not be declared to be named by a grant:
//! an undeclared one is looked up at plan time (`crate::refs`).

use crate::manifest::clearable::Clearable;
use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{CreateVerb, ItemHeader, ProjectChild};
use crate::diff::fields::Field;
use crate::manifest::raw::State;
use crate::manifest::spanned::Sp;
use crate::model::Kind;
use crate::model::lower::{Cx, Lowerer};
use crate::wire::{CreateDataset, Dataset as Item, Id, JsonMap, PatchDataset};

/// A dataset of a project: the object, never its rows.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawDataset {
    pub name: Sp<String>,
    /// `null` clears it; left out, the live value is left alone.
    #[serde(default)]
    pub description: Clearable<String>,
    /// Free-form metadata; only the keys given are compared.
    #[serde(default)]
    pub metadata: BTreeMap<String, Value>,
    #[serde(default)]
    pub previous_names: Vec<Sp<String>>,
    #[serde(default)]
    pub state: Option<Sp<State>>,
}

/// The managed fields of a dataset.
#[derive(Debug, Clone, PartialEq)]
pub struct DatasetSpec {
    pub description: Option<String>,
    pub metadata: BTreeMap<String, Value>,
}

/// The `dataset` kind.
pub struct Dataset;

fn metadata(m: &BTreeMap<String, Value>) -> Option<JsonMap> {
    (!m.is_empty()).then(|| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
}

impl ProjectChild for Dataset {
    const KIND: Kind = Kind::Dataset;
    const CREATE: CreateVerb = CreateVerb::Post;
    type Raw = RawDataset;
    type Spec = DatasetSpec;
    type Item = Item;
    type Create = CreateDataset;
    type Patch = PatchDataset;

    fn lower(_: &mut Lowerer<'_>, _: Cx<'_>, d: &RawDataset) -> Option<DatasetSpec> {
        Some(DatasetSpec {
            description: d.description.text(),
            metadata: d.metadata.clone(),
        })
    }

    fn fields(d: &DatasetSpec) -> Vec<Field> {
        vec![
            ("description", d.description.as_ref().map(|v| json!(v))),
            ("metadata", metadata(&d.metadata).map(Value::Object)),
        ]
    }

    fn create(d: &DatasetSpec, project_id: Id, name: &str) -> CreateDataset {
        CreateDataset {
            project_id,
            name: name.to_owned(),
            description: d.description.clone(),
            tags: None,
            metadata: metadata(&d.metadata),
        }
    }

    fn patch(d: &DatasetSpec, rename: Option<String>) -> PatchDataset {
        PatchDataset {
            name: rename,
            description: d.description.clone(),
            metadata: metadata(&d.metadata),
        }
    }

    fn item(d: &Item) -> ItemHeader<'_> {
        ItemHeader {
            id: &d.id,
            project_id: &d.project_id,
            name: &d.name,
            deleted: d.deleted_at.is_some(),
        }
    }

    fn read(d: &Item) -> DatasetSpec {
        DatasetSpec {
            description: d.description.clone(),
            metadata: d
                .metadata
                .iter()
                .flatten()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        }
    }

    fn manifest(name: &str, d: &DatasetSpec) -> Value {
        json!({ "name": name, "description": d.description, "metadata": metadata(&d.metadata) })
    }
}
