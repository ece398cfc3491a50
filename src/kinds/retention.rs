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
    let object = r.object_type.value.as_str();
    let name = match &r.name {
        Some(n) => lw.name(at, n),
        None => Name::new(&format!("retention-{object}")).ok(),
    };
    let Some(name) = name else { return };
    let Some(days) = lw.range(at, &r.days, 0.0, f64::INFINITY, "`days`") else {
        return;
    };
    if days == 0.0 {
        lw.diags.push(
            Diagnostic::warning(
                Code::Suspicious,
                format!("`days: 0` deletes all {object} data as soon as it is written"),
            )
            .with_label(lw.span(at, &r.days), "zero days")
            .with_hint("retention permanently deletes data; check this is intended"),
        );
    }
    let spec = Spec::Retention(RetentionSpec {
        object_type: r.object_type.value,
        days,
    });
    let span = r
        .name
        .as_ref()
        .map_or_else(|| lw.span(at, &r.object_type), |n| lw.span(at, n));
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
