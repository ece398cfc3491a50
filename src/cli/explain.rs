//! `bt-gitops explain [CODE]`: print the documentation of a diagnostic code (`E0101`,
//! `unknown-field`), taken from the doc comments of `diag::Code`; without a code, list them all.

use super::{ExitStatus, Printer};
use crate::diag::Code;

/// Arguments of `bt-gitops explain`.
#[derive(Debug, Clone, clap::Args)]
pub struct ExplainArgs {
    /// A diagnostic code as printed (`E0101`, case-insensitive) or its slug (`unknown-field`);
    /// omit it to list every code.
    pub code: Option<String>,
}

/// Prints the code's documentation, or the list of codes; exit 1 with a hint for an unknown code.
pub fn run(args: &ExplainArgs, printer: Printer) -> ExitStatus {
    let Some(wanted) = args.code.as_deref().map(str::trim) else {
        let list: String = Code::ALL
            .iter()
            .map(|c| {
                let first = c.doc().lines().next().unwrap_or("").trim();
                format!("{}  {:<24} {first}\n", c.as_str(), c.slug())
            })
            .collect();
        printer.out(&list);
        return ExitStatus::Success;
    };
    let found = Code::ALL
        .iter()
        .find(|c| c.as_str().eq_ignore_ascii_case(wanted) || c.slug() == wanted);
    let Some(code) = found else {
        let near = Code::ALL
            .iter()
            .map(|c| (strsim::jaro_winkler(c.slug(), wanted), c))
            .filter(|(score, _)| *score > 0.8)
            .max_by(|a, b| a.0.total_cmp(&b.0))
            .map(|(_, c)| format!(" Did you mean `{}` ({})?", c.as_str(), c.slug()))
            .unwrap_or_default();
        printer.err(&format!(
            "error: `{wanted}` is not a bt-gitops diagnostic code.{near}\n  help: codes look like `E0101` or `unknown-field`; `bt-gitops explain` without a code lists them all\n"
        ));
        return ExitStatus::Failure;
    };
    let body: String = code
        .doc()
        .lines()
        .map(|l| format!("{}\n", l.strip_prefix(' ').unwrap_or(l)))
        .collect();
    printer.out(&format!("{} ({})\n\n{body}", code.as_str(), code.slug()));
    ExitStatus::Success
}
