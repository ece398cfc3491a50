//! `bt-gitops show plan.json`: renders a saved plan in any of the plan formats, without reading
//! manifests or the network.

use std::path::PathBuf;

use super::plan::{PlanFormat, render_plan};
use super::{ExitStatus, Printer};

#[derive(Debug, clap::Args)]
pub struct ShowArgs {
    /// A plan saved with `plan --out`.
    pub plan: PathBuf,
    /// How to print it.
    #[arg(long, value_enum, default_value_t = PlanFormat::Human)]
    pub format: PlanFormat,
}

pub fn run(args: &ShowArgs, printer: Printer) -> anyhow::Result<ExitStatus> {
    let plan = super::apply::load_plan(&args.plan)?;
    printer.out(&render_plan(&plan, args.format, printer));
    Ok(ExitStatus::Success)
}
