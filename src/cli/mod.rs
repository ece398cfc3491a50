//! The command line: the only module that knows clap, writes to stdout/stderr and picks exit
//! codes.
//!
//! Each subcommand is one file with a `run` function returning an [`ExitStatus`]; `main` maps
//! it to the process exit code and prints any error chain as `error: ...` / `Caused by: ...`.

mod apply;
mod completions;
pub mod emulator;
mod emulator_flag;
mod explain;
mod import;
mod json_log;
mod load;
mod plan;
mod schema;
mod show;
mod unlock;
mod validate;
mod watch;

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use crate::diag::Style;

/// The version line: package version, commit and build date (stamped by `build.rs`), e.g.
/// `0.1.0 (commit 0123456789ab, built 2026-12-01)`.
pub static VERSION: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    let date = env!("BT_GITOPS_BUILD_EPOCH")
        .parse::<i64>()
        .ok()
        .and_then(|secs| {
            let stamp = crate::emulator::store::format_timestamp(secs.saturating_mul(1000));
            stamp.get(..10).map(str::to_owned)
        })
        .unwrap_or_else(|| "unknown".to_owned());
    format!(
        "{} (commit {}, built {date})",
        env!("CARGO_PKG_VERSION"),
        env!("BT_GITOPS_COMMIT")
    )
});

/// Run a Braintrust organization as code.
#[derive(Debug, Parser)]
#[command(name = "bt-gitops", version = VERSION.as_str(), about, long_about = None, propagate_version = true)]
pub struct Cli {
    /// When to use colour in output.
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto)]
    color: ColorChoice,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Parse and check manifests without touching the network.
    Validate(validate::ValidateArgs),
    /// Read live state, compare it with the manifests and print the ordered plan.
    Plan(plan::PlanArgs),
    /// Re-plan, refuse what is unsafe or changed since review, execute, and report.
    Apply(apply::ApplyArgs),
    /// Keep reconciling: on file changes, new commits and a timer; report drift, optionally apply.
    Watch(watch::WatchArgs),
    /// Render a saved plan (from `plan --out`) as human text, JSON or Markdown.
    Show(show::ShowArgs),
    /// Show who holds an org's apply lease, and break it (asks, or `--force`).
    Unlock(unlock::UnlockArgs),
    /// Write manifests for a live org (secrets as `{ env: ... }` stubs).
    Import(import::ImportArgs),
    /// Print the JSON Schema of manifest documents.
    Schema,
    /// Serve a Braintrust-compatible admin API on 127.0.0.1 (for trying bt-gitops and for tests).
    Emulator(emulator::EmulatorArgs),
    /// Print the documentation of a diagnostic code (`E0101`), or list every code.
    Explain(explain::ExplainArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions(completions::CompletionsArgs),
    /// Print the man page (roff): `bt-gitops man > bt-gitops.1`.
    Man,
}

/// How a command ended, before it becomes a process exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// 0: success (and no changes, with `--detailed-exitcode`).
    Success,
    /// 1: an error, diagnostics, or a refused operation.
    Failure,
    /// 2: changes present (`--detailed-exitcode` only).
    Changes,
    /// 130: stopped by Ctrl-C, SIGTERM or SIGHUP.
    Interrupted,
}

impl From<ExitStatus> for ExitCode {
    fn from(status: ExitStatus) -> ExitCode {
        match status {
            ExitStatus::Success => ExitCode::SUCCESS,
            ExitStatus::Failure => ExitCode::from(1),
            ExitStatus::Changes => ExitCode::from(2),
            ExitStatus::Interrupted => ExitCode::from(130),
        }
    }
}

/// Output settings shared by every command.
#[derive(Debug, Clone, Copy)]
pub struct Printer {
    /// Style of what goes to stderr (diagnostics, messages).
    pub style: Style,
    /// Style of what goes to stdout (the human plan); decided separately, since one of the two
    /// streams is often piped.
    pub out_style: Style,
}

impl Printer {
    fn new(choice: ColorChoice) -> Printer {
        let no_color = std::env::var_os(crate::env::NO_COLOR).is_some_and(|v| !v.is_empty());
        let style = |is_terminal: bool| {
            let fancy = match choice {
                ColorChoice::Always => true,
                ColorChoice::Never => false,
                ColorChoice::Auto => !no_color && is_terminal,
            };
            if fancy { Style::Fancy } else { Style::Plain }
        };
        Printer {
            style: style(std::io::stderr().is_terminal()),
            out_style: style(std::io::stdout().is_terminal()),
        }
    }

    /// Writes data to stdout, scrubbed of every secret value read ([`crate::redact`]). A closed
    /// pipe is not an error.
    fn out(&self, text: &str) {
        let text = crate::redact::scrub(text);
        let mut stdout = std::io::stdout().lock();
        let _ = stdout.write_all(text.as_bytes());
        let _ = stdout.flush();
    }

    /// Writes messages and diagnostics to stderr, scrubbed like [`Printer::out`].
    fn err(&self, text: &str) {
        let text = crate::redact::scrub(text);
        let mut stderr = std::io::stderr().lock();
        let _ = stderr.write_all(text.as_bytes());
    }
}

/// Entry point of the binary.
#[must_use]
pub fn main() -> ExitCode {
    // Usage errors exit 1, not clap's 2: 2 means "changes present" with `--detailed-exitcode`.
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            let _ = err.print();
            return if err.use_stderr() {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    register_env_secrets();
    init_logging(matches!(cli.command, Command::Watch(_)));
    let printer = Printer::new(cli.color);
    match run(cli.command, printer) {
        Ok(status) => status.into(),
        Err(err) => {
            let mut text = format!("error: {err}\n");
            for cause in err.chain().skip(1) {
                text.push_str(&format!("  Caused by: {cause}\n"));
            }
            printer.err(&text);
            ExitCode::from(1)
        }
    }
}

/// Registers the secrets of bt-gitops's own environment variables before anything can print.
/// Secrets named by manifests are registered where they are read (`controller::keys::read_secret`,
/// `controller::keys::targets`).
fn register_env_secrets() {
    for name in [
        crate::env::BRAINTRUST_API_KEY,
        crate::env::BT_GITOPS_SECRET_KEY,
    ] {
        if let Ok(value) = std::env::var(name) {
            crate::redact::register(&value);
        }
    }
}

/// Log lines go to stderr through the redaction layer.
struct ScrubbedStderr;

impl std::io::Write for ScrubbedStderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        std::io::stderr().write_all(crate::redact::scrub(&text).as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

/// Logs to stderr when `BT_GITOPS_LOG` holds a filter (`debug`, `bt_gitops=debug`); silent
/// otherwise. An invalid filter falls back to warnings. `json`: as JSON lines (for `watch`).
fn init_logging(json: bool) {
    let Some(filter) = std::env::var(crate::env::BT_GITOPS_LOG)
        .ok()
        .filter(|f| !f.trim().is_empty())
    else {
        return;
    };
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(|| ScrubbedStderr)
        .with_ansi(false);
    let _ = if json {
        builder.event_format(json_log::JsonLines).try_init()
    } else {
        builder.try_init()
    };
}

fn run(command: Command, printer: Printer) -> anyhow::Result<ExitStatus> {
    match command {
        Command::Validate(args) => validate::run(&args, printer),
        Command::Plan(args) => plan::run(&args, printer),
        Command::Apply(args) => apply::run(&args, printer),
        Command::Show(args) => show::run(&args, printer),
        Command::Unlock(args) => unlock::run(&args, printer),
        Command::Import(args) => import::run(&args, printer),
        Command::Watch(args) => watch::run(&args, printer),
        Command::Schema => schema::run(printer),
        Command::Explain(args) => Ok(explain::run(&args, printer)),
        Command::Completions(args) => Ok(completions::run(&args, printer)),
        Command::Man => completions::run_man(printer),
        Command::Emulator(args) => {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?;
            let code = runtime.block_on(emulator::run(&args))?;
            Ok(if code == ExitCode::SUCCESS {
                ExitStatus::Success
            } else {
                ExitStatus::Failure
            })
        }
    }
}

/// The manifest path argument shared by commands: a directory (searched recursively for
/// `.yaml`/`.yml` files) or a single file.
#[derive(Debug, Clone, clap::Args)]
pub struct PathArg {
    /// Manifest directory or file.
    #[arg(default_value = ".")]
    pub path: PathBuf,
    /// Read the manifests as they are at this git ref (branch, tag or commit) instead of from the
    /// work tree, without checking it out.
    #[arg(long, value_name = "REF")]
    pub git_ref: Option<String>,
}
