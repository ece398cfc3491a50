//! The `export` kind: a project automation that periodically writes logs to S3 or GCS
//! (`event_type: btql_export` on `/v1/project_automation`). Shared with alerts and retention:
//! see `automation`.

use serde_json::{Value, json};

use crate::diag::{Code, Diagnostic};
use crate::diff::fields::Field;
use crate::manifest::raw;
use crate::manifest::spanned::Sp;
use crate::model::lower::{Cx, Lowerer};
use crate::model::{
    AutomationStatus, Email, ExportCredentials, ExportData, ExportSpec, Kind, Spec,
};
use crate::wire::{self, AutomationConfigBody, BtqlExportAutomationBody};

/// Fields the API cannot change in place: a change means delete and create.
pub const IMMUTABLE: &[&str] = &["path"];

/// Checks one manifest entry (data, path and credentials agree) and adds it to the desired
/// state.
pub(crate) fn lower(lw: &mut Lowerer<'_>, cx: Cx<'_>, e: &Sp<raw::RawExport>) {
    let at = cx.at;
    let Some(name) = lw.name(at, &e.name) else {
        return;
    };
    let anchor = lw.span(at, &e.name);
    let missing = [
        e.data.is_none(),
        e.path.is_none(),
        e.format.is_none(),
        e.interval.is_none(),
        e.credentials.is_none(),
    ];
    if super::tombstone_only(&e.state, missing) {
        // Only the name identifies the export; a tombstone's spec is never used.
        let spec = Spec::Export(ExportSpec {
            description: None,
            data: ExportData::LogTraces,
            path: String::new(),
            format: crate::vocab::ExportFormat::Jsonl,
            interval_seconds: 0,
            credentials: ExportCredentials::Gcp {
                service_account: String::new(),
            },
            status: None,
            batch_size: None,
        });
        super::automation::add(
            lw,
            cx,
            Kind::Export,
            &name,
            spec,
            anchor,
            &e.state,
            &e.previous_names,
        );
        return;
    }
    let data_field = lw.required(anchor, &e.data, "data");
    let path_field = lw.required(anchor, &e.path, "path");
    let format = lw.required(anchor, &e.format, "format");
    let interval_field = lw.required(anchor, &e.interval, "interval");
    let c = lw.required(anchor, &e.credentials, "credentials");
    let (Some(data_field), Some(path_field), Some(format), Some(interval_field), Some(c)) =
        (data_field, path_field, format, interval_field, c)
    else {
        return;
    };
    let interval = lw.interval(at, interval_field, "`interval`");
    let path = lw.url(at, path_field, "an export path", &["s3", "gs"]);
    let data = match (data_field.value, &e.query) {
        (raw::ExportData::BtqlQuery, Some(q)) => Some(ExportData::Query(q.value.clone())),
        (raw::ExportData::BtqlQuery, None) => {
            lw.diags.push(
                Diagnostic::error(Code::MissingField, "`data: btql_query` needs `query`")
                    .with_label(lw.span(at, data_field), "query export")
                    .with_hint("add `query: \"select: * from: project_logs('...')\"`"),
            );
            None
        }
        (_, Some(q)) => {
            lw.not_allowed(
                at,
                q,
                "`query` only applies to `data: btql_query`".into(),
                "remove `query`, or set `data: btql_query`",
            );
            None
        }
        (raw::ExportData::LogTraces, None) => Some(ExportData::LogTraces),
        (raw::ExportData::LogSpans, None) => Some(ExportData::LogSpans),
    };
    let credentials = match (&c.aws_role_arn, &c.gcp_service_account) {
        (Some(arn), None) => {
            if arn.value.starts_with("arn:") {
                Some(ExportCredentials::Aws {
                    role_arn: arn.value.clone(),
                    external_id: c.external_id.as_ref().map(|x| x.value.clone()),
                })
            } else {
                lw.diags.push(
                    Diagnostic::error(
                        Code::InvalidName,
                        format!("`{}` is not an AWS role ARN", arn.value),
                    )
                    .with_label(
                        lw.span(at, arn),
                        "expected `arn:aws:iam::ACCOUNT:role/NAME`",
                    )
                    .with_hint(
                        "copy the role's ARN from the IAM console; it starts with `arn:aws:iam::`",
                    ),
                );
                None
            }
        }
        (None, Some(sa)) => {
            if let Some(x) = &c.external_id {
                lw.not_allowed(
                    at,
                    x,
                    "`external_id` only applies to AWS credentials".into(),
                    "remove `external_id`",
                );
                None
            } else {
                Email::new(&sa.value)
                    .map_err(|err| {
                        lw.diags.push(
                            Diagnostic::error(Code::InvalidEmail, err.0)
                                .with_label(lw.span(at, sa), "expected a service account email"),
                        );
                    })
                    .ok()
                    .map(|_| ExportCredentials::Gcp {
                        service_account: sa.value.clone(),
                    })
            }
        }
        _ => {
            lw.diags.push(
                Diagnostic::error(
                    Code::FieldNotAllowed,
                    "`credentials` needs exactly one of `aws_role_arn` or `gcp_service_account`",
                )
                .with_label(lw.span(at, c), "credentials"),
            );
            None
        }
    };
    if let (Some(path), Some(creds)) = (&path, &credentials) {
        let mismatch = match creds {
            ExportCredentials::Aws { .. } => !path.starts_with("s3://"),
            ExportCredentials::Gcp { .. } => !path.starts_with("gs://"),
        };
        if mismatch {
            lw.diags.push(
                Diagnostic::error(
                    Code::InvalidUrl,
                    "the export path does not match the credentials",
                )
                .with_label(lw.span(at, path_field), "path")
                .with_label(lw.span(at, c), "credentials")
                .with_hint("AWS credentials write to `s3://`, GCP credentials to `gs://`"),
            );
            return;
        }
    }
    let batch_size = e
        .batch_size
        .as_ref()
        .and_then(|b| lw.int_range(at, b, 1, 100_000, "`batch_size`"));
    if e.batch_size.is_some() && batch_size.is_none() {
        return;
    }
    let (Some(interval_seconds), Some(path), Some(data), Some(credentials)) =
        (interval, path, data, credentials)
    else {
        return;
    };
    let spec = Spec::Export(ExportSpec {
        description: e.description.text(),
        data,
        path,
        format: format.value,
        interval_seconds,
        credentials,
        status: e.status.as_ref().map(|s| s.value),
        batch_size,
    });
    super::automation::add(
        lw,
        cx,
        Kind::Export,
        &name,
        spec,
        lw.span(at, &e.name),
        &e.state,
        &e.previous_names,
    );
}

/// The managed fields, in display order (see `diff::fields`).
#[must_use]
pub fn fields(e: &ExportSpec) -> Vec<Field> {
    vec![
        ("description", e.description.as_ref().map(|v| json!(v))),
        ("data", Some(data_field(&e.data))),
        ("path", Some(json!(e.path))),
        ("format", Some(json!(e.format.as_str()))),
        ("interval_seconds", Some(json!(e.interval_seconds))),
        ("credentials", Some(credentials_field(&e.credentials))),
        ("status", e.status.map(|s| json!(s.as_str()))),
        ("batch_size", e.batch_size.map(|v| json!(v))),
    ]
}

fn data_field(d: &ExportData) -> Value {
    match d {
        ExportData::LogTraces => json!("log_traces"),
        ExportData::LogSpans => json!("log_spans"),
        ExportData::Query(q) => json!({ "btql_query": q }),
    }
}

fn credentials_field(c: &ExportCredentials) -> Value {
    match c {
        ExportCredentials::Aws {
            role_arn,
            external_id,
        } => json!({ "aws_role_arn": role_arn, "external_id": external_id }),
        ExportCredentials::Gcp { service_account } => {
            json!({ "gcp_service_account": service_account })
        }
    }
}

/// The automation config the API takes. The API requires an AWS external id (Braintrust's UI
/// generates one): when the manifest leaves it out, `fresh_external_id()` supplies it.
#[must_use]
pub fn config(e: &ExportSpec, fresh_external_id: impl FnOnce() -> String) -> AutomationConfigBody {
    let export_definition = match &e.data {
        ExportData::LogTraces => wire::ExportDefinition::LogTraces,
        ExportData::LogSpans => wire::ExportDefinition::LogSpans,
        ExportData::Query(q) => wire::ExportDefinition::BtqlQuery(wire::BtqlQueryExport {
            btql_query: q.clone(),
        }),
    };
    let credentials = match &e.credentials {
        ExportCredentials::Aws {
            role_arn,
            external_id,
        } => wire::ExportCredentials::AwsIam(wire::AwsIamCredentials {
            role_arn: role_arn.clone(),
            external_id: external_id.clone().unwrap_or_else(fresh_external_id),
        }),
        ExportCredentials::Gcp { service_account } => {
            wire::ExportCredentials::GcpServiceAccount(wire::GcpCredentials {
                service_account_email: service_account.clone(),
            })
        }
    };
    AutomationConfigBody::BtqlExport(BtqlExportAutomationBody {
        export_definition,
        export_path: e.path.clone(),
        format: e.format,
        interval_seconds: e.interval_seconds,
        credentials,
        status: e.status,
        batch_size: e.batch_size,
    })
}

/// The spec of a `btql_export` automation as listed.
#[must_use]
pub fn read(description: Option<&String>, e: &wire::BtqlExportAutomation) -> ExportSpec {
    ExportSpec {
        description: description.cloned(),
        data: match &e.export_definition {
            wire::ExportDefinition::LogTraces => ExportData::LogTraces,
            wire::ExportDefinition::LogSpans => ExportData::LogSpans,
            wire::ExportDefinition::BtqlQuery(q) => ExportData::Query(q.btql_query.clone()),
        },
        path: e.export_path.clone(),
        format: e.format,
        interval_seconds: super::automation::seconds(e.interval_seconds),
        credentials: match &e.credentials {
            wire::ExportCredentials::AwsIam(c) => ExportCredentials::Aws {
                role_arn: c.role_arn.clone(),
                external_id: Some(c.external_id.clone()),
            },
            wire::ExportCredentials::GcpServiceAccount(c) => ExportCredentials::Gcp {
                service_account: c.service_account_email.clone(),
            },
        },
        status: e.status,
        batch_size: e.batch_size.map(|b| b.round() as i64),
    }
}

/// When `spec` is an AWS export that declares its external id and the API's answer to its
/// create or update carries another one: the server then makes the id up itself (A5), and the
/// plan would show the same update forever. The message says so and what to do.
#[must_use]
pub fn external_id_not_taken(spec: &Spec, answer: &Value) -> Option<String> {
    let Spec::Export(ExportSpec {
        credentials:
            ExportCredentials::Aws {
                external_id: Some(declared),
                ..
            },
        ..
    }) = spec
    else {
        return None;
    };
    let live = answer
        .pointer("/config/credentials/external_id")
        .and_then(Value::as_str)?;
    (live != declared).then(|| {
        format!(
            "the API answered with the external id `{live}` instead of the declared `{declared}`: it makes the automation's part of the external id up itself (docs/api-assumptions.md A5); remove `external_id` from the manifest and let the role's trust policy accept the id the API shows (the docs suggest the pattern `bt:<org id>:*`)"
        )
    })
}

/// The manifest entry `import` writes.
#[must_use]
pub fn manifest(name: &str, e: &ExportSpec) -> Value {
    let (data, query) = match &e.data {
        ExportData::LogTraces => ("log_traces", None),
        ExportData::LogSpans => ("log_spans", None),
        ExportData::Query(q) => ("btql_query", Some(q)),
    };
    let credentials = match &e.credentials {
        ExportCredentials::Aws {
            role_arn,
            external_id,
        } => super::drop_nulls(json!({ "aws_role_arn": role_arn, "external_id": external_id })),
        ExportCredentials::Gcp { service_account } => {
            json!({ "gcp_service_account": service_account })
        }
    };
    super::drop_nulls(json!({
        "name": name, "description": e.description, "data": data, "query": query, "path": e.path,
        "format": e.format.as_str(),
        "interval": e.interval_seconds, "credentials": credentials,
        "status": e.status.map(AutomationStatus::as_str), "batch_size": e.batch_size,
    }))
}
