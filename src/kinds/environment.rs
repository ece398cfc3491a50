//! The `environment` kind: a deployment environment of the org (display name, slug,
//! description), on `/environment`. Its key is the slug, which defaults to the name, slugified;
//! the name is sent, compared and imported on its own.

use serde_json::{Value, json};

use super::{BodyError, CreateVerb, Ids, LiveNames, Lowered, OrgChild, OrgHeader};
use crate::diag::{Code, Diagnostic};
use crate::diff::fields::Field;
use crate::manifest::raw::RawEnvironment;
use crate::model::lower::{Cx, Lowerer, slugify};
use crate::model::{EnvironmentSpec, Kind, Name};
use crate::wire::{CreateEnvironment, PatchEnvironment};

/// The `environment` kind.
pub struct Environment;

impl OrgChild for Environment {
    const KIND: Kind = Kind::Environment;
    const CREATE: CreateVerb = CreateVerb::Post;
    const NAMED_BY: &'static [Kind] = &[];
    type Raw = RawEnvironment;
    type Spec = EnvironmentSpec;
    type Item = crate::wire::Environment;
    type Create = CreateEnvironment;
    type Patch = PatchEnvironment;

    fn header(e: &RawEnvironment) -> OrgHeader<'_> {
        OrgHeader {
            name: &e.name,
            state: &e.state,
            previous_names: &[],
            protect: None,
        }
    }

    fn lower(lw: &mut Lowerer<'_>, cx: Cx<'_>, e: &RawEnvironment, name: &Name) -> Option<Lowered<EnvironmentSpec>> {
        let slug = match &e.slug {
            Some(s) => {
                let ok = !s.value.is_empty()
                    && s.value.chars().all(|c| {
                        c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_'
                    });
                if !ok {
                    let span = lw.span(cx.at, s);
                    lw.diags.push(
                        Diagnostic::error(
                            Code::InvalidName,
                            format!("`{}` is not a valid environment slug", s.value),
                        )
                        .with_label(span, "invalid slug")
                        .with_hint("use lowercase letters, digits, `-` and `_`"),
                    );
                    return None;
                }
                s.value.clone()
            }
            None => slugify(name.as_str()),
        };
        Some(Lowered {
            key: slug.clone(),
            spec: EnvironmentSpec {
                name: name.to_string(),
                slug,
                description: e.description.text(),
            },
            refs: Vec::new(),
        })
    }

    fn fields(e: &EnvironmentSpec) -> Vec<Field> {
        vec![
            ("name", Some(json!(e.name))),
            ("description", e.description.as_ref().map(|v| json!(v))),
        ]
    }

    fn create(e: &EnvironmentSpec, org_name: &str, _: &str, _: &dyn Ids) -> Result<CreateEnvironment, BodyError> {
        Ok(CreateEnvironment {
            name: e.name.clone(),
            slug: e.slug.clone(),
            description: e.description.clone(),
            org_name: Some(org_name.to_owned()),
        })
    }

    fn patch(
        e: &EnvironmentSpec,
        live: Option<&EnvironmentSpec>,
        _: Option<String>,
        _: &dyn Ids,
    ) -> Result<PatchEnvironment, BodyError> {
        Ok(PatchEnvironment {
            // Sent only when it changes: the slug is the key, the name is shown.
            name: (live.map(|l| &l.name) != Some(&e.name)).then(|| e.name.clone()),
            description: e.description.clone(),
            ..PatchEnvironment::default()
        })
    }

    fn name(e: &crate::wire::Environment) -> Option<String> {
        // Environments are keyed by their slug.
        e.deleted_at.is_none().then(|| e.slug.clone())
    }

    fn read(e: &crate::wire::Environment, _: &str, _: &LiveNames) -> Option<(String, EnvironmentSpec)> {
        Some((
            e.slug.clone(),
            EnvironmentSpec {
                name: e.name.clone(),
                slug: e.slug.clone(),
                description: e.description.clone(),
            },
        ))
    }

    fn manifest(_: &str, e: &EnvironmentSpec) -> Value {
        json!({ "name": e.name, "slug": e.slug, "description": e.description })
    }
}
