//! `bt-gitops schema`: print the manifest JSON Schema.

use super::{ExitStatus, Printer};

pub fn run(printer: Printer) -> anyhow::Result<ExitStatus> {
    printer.out(&crate::manifest::schema::manifest_schema_json());
    Ok(ExitStatus::Success)
}
