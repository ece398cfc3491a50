//! The `span_iframe` kind: a project's span iframe viewer (URL, description, `postMessage`), on
//! `/v1/span_iframe`.

use serde_json::{Value, json};

use super::{CreateVerb, ItemHeader, ProjectChild};
use crate::diff::fields::Field;
use crate::manifest::raw::RawSpanIframe;
use crate::model::lower::{Cx, Lowerer};
use crate::model::{Kind, SpanIframeSpec};
use crate::wire::{CreateSpanIFrame, Id, PatchSpanIFrame, SpanIFrame};

/// The `span_iframe` kind.
pub struct SpanIframe;

impl ProjectChild for SpanIframe {
    const KIND: Kind = Kind::SpanIframe;
    const CREATE: CreateVerb = CreateVerb::Put;
    type Raw = RawSpanIframe;
    type Spec = SpanIframeSpec;
    type Item = SpanIFrame;
    type Create = CreateSpanIFrame;
    type Patch = PatchSpanIFrame;

    fn lower(lw: &mut Lowerer<'_>, cx: Cx<'_>, i: &RawSpanIframe) -> Option<SpanIframeSpec> {
        if super::tombstone_only(&i.state, [i.url.is_none()]) {
            // Only the name identifies the iframe; a tombstone's spec is never used.
            return Some(SpanIframeSpec {
                url: String::new(),
                description: None,
                post_message: None,
            });
        }
        let url = lw.required(lw.span(cx.at, &i.name), &i.url, "url")?;
        let url = lw.url(cx.at, url, "a span iframe URL", &["https"])?;
        Some(SpanIframeSpec {
            url,
            description: i.description.text(),
            post_message: i.post_message.as_ref().map(|v| v.value),
        })
    }

    fn fields(i: &SpanIframeSpec) -> Vec<Field> {
        vec![
            ("url", Some(json!(i.url))),
            ("description", i.description.as_ref().map(|v| json!(v))),
            ("post_message", i.post_message.map(|v| json!(v))),
        ]
    }

    fn create(i: &SpanIframeSpec, project_id: Id, name: &str) -> CreateSpanIFrame {
        CreateSpanIFrame {
            project_id,
            name: name.to_owned(),
            url: i.url.clone(),
            description: i.description.clone(),
            post_message: i.post_message,
        }
    }

    fn patch(i: &SpanIframeSpec, rename: Option<String>) -> PatchSpanIFrame {
        PatchSpanIFrame {
            name: rename,
            url: Some(i.url.clone()),
            description: i.description.clone(),
            post_message: i.post_message,
        }
    }

    fn item(i: &SpanIFrame) -> ItemHeader<'_> {
        ItemHeader {
            id: &i.id,
            project_id: &i.project_id,
            name: &i.name,
            deleted: i.deleted_at.is_some(),
        }
    }

    fn read(i: &SpanIFrame) -> SpanIframeSpec {
        SpanIframeSpec {
            url: i.url.clone(),
            description: i.description.clone(),
            post_message: i.post_message,
        }
    }

    fn manifest(name: &str, i: &SpanIframeSpec) -> Value {
        json!({ "name": name, "url": i.url, "description": i.description, "post_message": i.post_message })
    }
}
