//! The `retention` kind: a project automation that deletes data of one object type after a
//! number of days (`event_type: retention` on `/v1/project_automation`). Shared with alerts and
//! exports: see `automation`.

use serde_json::{Value, json};

use crate::diag::{Code, Diagnostic};
use crate::diff::fields::Field;
use crate::manifest::raw;
use crate::manifest::spanned::Sp;
use crate::model::lower::{Cx, Lowerer};
use crate::model::{Kind, Name, RetentionSpec, Spec};
use crate::wire::{self, AutomationConfigBody};

/// Fields the API cannot change in place: a change means delete and create.
pub const IMMUTABLE: &[&str] = &["object_type"];

/// Checks one manifest entry (named `retention-<object type>` when it has no name) and adds it
/// to the desired state.
pub(crate) fn lower(lw: &mut Lowerer<'_>, cx: Cx<'_>, r: &Sp<raw::RawRetention>) {
    let at = cx.at;
    let anchor = r
        .name
        .as_ref()
        .map_or_else(|| lw.span(at, r), |n| lw.span(at, n));
    if let (Some(n), true) = (
        &r.name,
        super::tombstone_only(&r.state, [r.object_type.is_none(), r.days.is_none()]),
    ) {
        // A named tombstone is identified by its name; its spec is never used.
        let Some(name) = lw.name(at, n) else { return };
        let spec = Spec::Retention(RetentionSpec {
            object_type: r
                .object_type
                .as_ref()
                .map_or(crate::vocab::RetentionObjectType::ProjectLogs, |t| t.value),
            days: 0.0,
        });
        super::automation::add(lw, cx, Kind::Retention, &name, spec, anchor, &r.state, &[]);
        return;
    }
    let Some(object_type) = lw.required(anchor, &r.object_type, "object_type") else {
        return;
    };
    let object = object_type.value.as_str();
    let name = match &r.name {
        Some(n) => lw.name(at, n),
        None => Name::new(&format!("retention-{object}")).ok(),
    };
    let Some(name) = name else { return };
    if super::tombstone_only(&r.state, [r.days.is_none()]) {
        // An unnamed tombstone is identified by its object type; its spec is never used.
        let spec = Spec::Retention(RetentionSpec {
            object_type: object_type.value,
            days: 0.0,
        });
        let span = lw.span(at, object_type);
        super::automation::add(lw, cx, Kind::Retention, &name, spec, span, &r.state, &[]);
        return;
    }
    let Some(days_field) = lw.required(anchor, &r.days, "days") else {
        return;
    };
    let Some(days) = lw.range(at, days_field, 0.0, f64::INFINITY, "`days`") else {
        return;
    };
    if days == 0.0 {
        lw.diags.push(
            Diagnostic::warning(
                Code::Suspicious,
                format!("`days: 0` deletes all {object} data as soon as it is written"),
            )
            .with_label(lw.span(at, days_field), "zero days")
            .with_hint("retention permanently deletes data; check this is intended"),
        );
    }
    let spec = Spec::Retention(RetentionSpec {
        object_type: object_type.value,
        days,
    });
    let span = r
        .name
        .as_ref()
        .map_or_else(|| lw.span(at, object_type), |n| lw.span(at, n));
    super::automation::add(lw, cx, Kind::Retention, &name, spec, span, &r.state, &[]);
}

/// The managed fields, in display order (see `diff::fields`).
#[must_use]
pub fn fields(r: &RetentionSpec) -> Vec<Field> {
    vec![
        ("object_type", Some(json!(r.object_type.as_str()))),
        ("days", Some(json!(r.days))),
    ]
}

/// The automation config the API takes.
#[must_use]
pub fn config(r: &RetentionSpec) -> AutomationConfigBody {
    AutomationConfigBody::Retention(wire::RetentionAutomation {
        object_type: r.object_type,
        retention_days: r.days,
    })
}

/// The spec of a `retention` automation as listed.
#[must_use]
pub fn read(r: &wire::RetentionAutomation) -> RetentionSpec {
    RetentionSpec {
        object_type: r.object_type,
        days: r.retention_days,
    }
}

/// The manifest entry `import` writes.
#[must_use]
pub fn manifest(name: &str, r: &RetentionSpec) -> Value {
    json!({ "name": name, "object_type": r.object_type.as_str(), "days": r.days })
}
