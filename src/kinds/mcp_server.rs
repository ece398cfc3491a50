//! The `mcp_server` kind: a project's MCP server (URL and description), on `/v1/mcp_server`.

use crate::manifest::clearable::{Clearable, required_not_null};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{CreateVerb, ItemHeader, ProjectChild};
use crate::diff::fields::Field;
use crate::manifest::raw::State;
use crate::manifest::spanned::Sp;
use crate::model::Kind;
use crate::model::lower::{Cx, Lowerer};
use crate::wire::{CreateMcpServer, Id, McpServer as Item, PatchMcpServer};

/// An MCP server a project's prompts and agents can call.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(transform = crate::manifest::raw::tombstone_schema::<RawMcpServer>)]
pub struct RawMcpServer {
    pub name: Sp<String>,
    /// The server's URL (`https://`); a tombstone needs only the name.
    #[serde(default, deserialize_with = "required_not_null")]
    #[schemars(with = "Sp<String>")]
    pub url: Option<Sp<String>>,
    /// `null` clears it; left out, the live value is left alone.
    #[serde(default)]
    pub description: Clearable<String>,
    #[serde(default)]
    pub previous_names: Vec<Sp<String>>,
    #[serde(default)]
    pub state: Option<Sp<State>>,
}

/// The managed fields of an MCP server.
#[derive(Debug, Clone, PartialEq)]
pub struct McpServerSpec {
    pub url: String,
    pub description: Option<String>,
}

/// The `mcp_server` kind.
pub struct McpServer;

impl ProjectChild for McpServer {
    const KIND: Kind = Kind::McpServer;
    const CREATE: CreateVerb = CreateVerb::Put;
    type Raw = RawMcpServer;
    type Spec = McpServerSpec;
    type Item = Item;
    type Create = CreateMcpServer;
    type Patch = PatchMcpServer;

    fn lower(lw: &mut Lowerer<'_>, cx: Cx<'_>, m: &RawMcpServer) -> Option<McpServerSpec> {
        if super::tombstone_only(&m.state, [m.url.is_none()]) {
            // Only the name identifies the server; a tombstone's spec is never compared or sent.
            return Some(McpServerSpec {
                url: String::new(),
                description: None,
            });
        }
        let url = lw.required(lw.span(cx.at, &m.name), &m.url, "url")?;
        let url = lw.url(cx.at, url, "an MCP server URL", &["https"])?;
        Some(McpServerSpec {
            url,
            description: m.description.text(),
        })
    }

    fn fields(m: &McpServerSpec) -> Vec<Field> {
        vec![
            ("url", Some(json!(m.url))),
            ("description", m.description.as_ref().map(|v| json!(v))),
        ]
    }

    fn create(m: &McpServerSpec, project_id: Id, name: &str) -> CreateMcpServer {
        CreateMcpServer {
            project_id,
            name: name.to_owned(),
            description: m.description.clone(),
            url: m.url.clone(),
        }
    }

    fn patch(m: &McpServerSpec, rename: Option<String>) -> PatchMcpServer {
        PatchMcpServer {
            name: rename,
            url: Some(m.url.clone()),
            description: m.description.clone(),
        }
    }

    fn item(m: &Item) -> ItemHeader<'_> {
        ItemHeader {
            id: &m.id,
            project_id: &m.project_id,
            name: &m.name,
            deleted: m.deleted_at.is_some(),
        }
    }

    fn read(m: &Item) -> McpServerSpec {
        McpServerSpec {
            url: m.url.clone(),
            description: m.description.clone(),
        }
    }

    fn manifest(name: &str, m: &McpServerSpec) -> Value {
        json!({ "name": name, "url": m.url, "description": m.description })
    }
}
