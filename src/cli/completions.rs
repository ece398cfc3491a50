//! `bt-gitops completions SHELL` and `bt-gitops man`: shell completion scripts and the man page,
//! both generated from the clap definitions so they never drift from the CLI.

use clap::CommandFactory;

use super::{Cli, ExitStatus, Printer};

/// Arguments of `bt-gitops completions`.
#[derive(Debug, Clone, clap::Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// Prints the completion script for the shell.
pub fn run(args: &CompletionsArgs, printer: Printer) -> ExitStatus {
    let mut out = Vec::new();
    clap_complete::generate(args.shell, &mut Cli::command(), "bt-gitops", &mut out);
    printer.out(&String::from_utf8_lossy(&out));
    ExitStatus::Success
}

/// The man page of `bt-gitops` (roff), with the environment variables appended.
///
/// # Errors
/// Never in practice: rendering writes to memory.
pub fn man_page() -> std::io::Result<String> {
    let command = Cli::command();
    let man = clap_mangen::Man::new(command);
    let mut out = Vec::new();
    man.render(&mut out)?;
    out.extend_from_slice(b".SH ENVIRONMENT\n");
    for (name, what) in crate::env::ALL {
        out.extend_from_slice(
            format!(".TP\n\\fB{name}\\fR\n{}\n", what.replace('`', "")).as_bytes(),
        );
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// Prints the man page (`bt-gitops man > bt-gitops.1`).
///
/// # Errors
/// Never in practice: rendering writes to memory.
pub fn run_man(printer: Printer) -> anyhow::Result<ExitStatus> {
    printer.out(&man_page()?);
    Ok(ExitStatus::Success)
}
