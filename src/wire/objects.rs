//! Wire types of the objects manifests refer to by name without managing them: functions
//! (scorers, preprocessors), prompts, experiments and datasets. bt-gitops only lists them (with
//! the API's name filters) to turn names into ids; the emulator creates and serves them so tests
//! and the demo can hold such objects. Shapes follow the official spec's `Function`, `Prompt`,
//! `Experiment`, `Dataset` and their `Create*` bodies; fields bt-gitops never reads stay opaque.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{HasId, Id, JsonMap};

/// `Function`: `_xact_id` is its version, `slug` its name within the project.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Function {
    pub id: Id,
    #[serde(rename = "_xact_id")]
    pub xact_id: String,
    pub project_id: Id,
    /// Always `p`.
    pub log_id: String,
    pub org_id: Id,
    pub name: String,
    pub slug: String,
    pub function_data: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_data: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<JsonMap>,
}

/// `CreateFunction` (POST and PUT body).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreateFunction {
    pub project_id: Id,
    pub name: String,
    pub slug: String,
    pub function_data: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_data: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
}

/// `PatchFunction`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PatchFunction {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function_data: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_data: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
}

/// `Prompt`: like a function without `function_data`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Prompt {
    pub id: Id,
    #[serde(rename = "_xact_id")]
    pub xact_id: String,
    pub project_id: Id,
    /// Always `p`.
    pub log_id: String,
    pub org_id: Id,
    pub name: String,
    pub slug: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_data: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<JsonMap>,
}

/// `CreatePrompt` (POST and PUT body).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreatePrompt {
    pub project_id: Id,
    pub name: String,
    pub slug: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_data: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
}

/// `PatchPrompt`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PatchPrompt {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_data: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
}

/// `Experiment`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Experiment {
    pub id: Id,
    pub project_id: Id,
    pub name: String,
    pub public: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<Id>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_exp_id: Option<Id>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dataset_id: Option<Id>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<JsonMap>,
}

/// `CreateExperiment`: only `project_id` is required; the server names an unnamed experiment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreateExperiment {
    pub project_id: Id,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_exp_id: Option<Id>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dataset_id: Option<Id>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<JsonMap>,
}

/// `PatchExperiment`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PatchExperiment {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<JsonMap>,
}

/// `Dataset` (its rows are not part of this object and never read).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Dataset {
    pub id: Id,
    pub project_id: Id,
    pub name: String,
    pub url_slug: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<Id>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<JsonMap>,
}

/// `CreateDataset`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreateDataset {
    pub project_id: Id,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<JsonMap>,
}

/// `PatchDataset`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PatchDataset {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<JsonMap>,
}

/// What a name lookup needs of any of these objects: its id, its project, its name (`slug` for
/// functions and prompts) and, for functions and prompts, its version.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct NamedObject {
    pub id: Id,
    pub project_id: Id,
    pub name: String,
    #[serde(default)]
    pub slug: Option<String>,
    #[serde(default, rename = "_xact_id")]
    pub xact_id: Option<String>,
}

impl HasId for NamedObject {
    fn id(&self) -> &str {
        self.id.as_str()
    }
}

macro_rules! has_id_here {
    ($($t:ident),+) => {$(
        impl HasId for $t {
            fn id(&self) -> &str {
                self.id.as_str()
            }
        }
    )+};
}

has_id_here!(Function, Prompt, Experiment, Dataset);
