//! The `tag` kind: a project's tag (name, colour, description), on `/v1/project_tag`.

use serde_json::{Value, json};

use super::{CreateVerb, ItemHeader, ProjectChild};
use crate::diag::{Code, Diagnostic};
use crate::diff::fields::Field;
use crate::manifest::raw::RawTag;
use crate::model::lower::{Cx, Lowerer, is_hex_color};
use crate::model::{Kind, TagSpec};
use crate::wire::{CreateProjectTag, Id, PatchProjectTag, ProjectTag};

/// The `tag` kind.
pub struct Tag;

impl ProjectChild for Tag {
    const KIND: Kind = Kind::Tag;
    const CREATE: CreateVerb = CreateVerb::Put;
    type Raw = RawTag;
    type Spec = TagSpec;
    type Item = ProjectTag;
    type Create = CreateProjectTag;
    type Patch = PatchProjectTag;

    fn lower(lw: &mut Lowerer<'_>, cx: Cx<'_>, t: &RawTag) -> Option<TagSpec> {
        let color = t.color.as_ref().and_then(|c| {
            if is_hex_color(&c.value) {
                Some(c.value.to_lowercase())
            } else {
                let span = lw.span(cx.at, c);
                lw.diags.push(
                    Diagnostic::error(Code::InvalidColor, format!("`{}` is not a colour", c.value))
                        .with_label(span, "expected `#rgb` or `#rrggbb`")
                        .with_hint("write a hex colour in quotes, like `\"#e5484d\"`"),
                );
                None
            }
        });
        Some(TagSpec {
            color,
            description: t.description.text(),
        })
    }

    fn fields(t: &TagSpec) -> Vec<Field> {
        vec![
            ("color", t.color.as_ref().map(|v| json!(v))),
            ("description", t.description.as_ref().map(|v| json!(v))),
        ]
    }

    fn create(t: &TagSpec, project_id: Id, name: &str) -> CreateProjectTag {
        CreateProjectTag {
            project_id,
            name: name.to_owned(),
            color: t.color.clone(),
            description: t.description.clone(),
        }
    }

    fn patch(t: &TagSpec, rename: Option<String>) -> PatchProjectTag {
        PatchProjectTag {
            name: rename,
            color: t.color.clone(),
            description: t.description.clone(),
        }
    }

    fn item(t: &ProjectTag) -> ItemHeader<'_> {
        ItemHeader {
            id: &t.id,
            project_id: &t.project_id,
            name: &t.name,
            deleted: false,
        }
    }

    fn read(t: &ProjectTag) -> TagSpec {
        TagSpec {
            color: t.color.as_ref().map(|c| c.to_lowercase()),
            description: t.description.clone(),
        }
    }

    fn manifest(name: &str, t: &TagSpec) -> Value {
        json!({ "name": name, "color": t.color, "description": t.description })
    }
}
