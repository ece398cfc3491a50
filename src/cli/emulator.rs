//! `bt-gitops emulator`: serve the Braintrust admin-API emulator on 127.0.0.1 until interrupted.
//!
//! It prints the URL, the API key (and service token) to use, and then a line `ready`, so that
//! scripts can wait for that line before sending requests. `--reset` deletes a state file instead.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;

use crate::emulator::{EmulatorConfig, FaultRule, ProfileName, SeedDoc, spawn};
use crate::env;

/// Arguments of `bt-gitops emulator`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct EmulatorArgs {
    /// Port to listen on at 127.0.0.1 (0 picks a free port).
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// Seed a fresh state from this JSON seed document.
    #[arg(long, value_name = "FILE")]
    pub seed: Option<PathBuf>,
    /// Persist the state in this file: loaded when it exists, rewritten atomically after every write.
    #[arg(long, value_name = "FILE")]
    pub state: Option<PathBuf>,
    /// Latency injected before every API request, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 0)]
    pub latency_ms: u64,
    /// Counter-based ids and keys and a clock starting at 2026-01-01, for stable output.
    #[arg(long)]
    pub deterministic: bool,
    /// Fault rules to start with: a JSON array of rules, as accepted by `PUT /_emulator/faults`.
    #[arg(long, value_name = "FILE")]
    pub faults: Option<PathBuf>,
    /// How to answer where the real API's behaviour is unsure: `real` (as strict as the real API
    /// wherever that is unknown) or `lenient` (bt-gitops's first guesses).
    #[arg(long, value_name = "PROFILE", default_value = "real", value_parser = clap::builder::PossibleValuesParser::new(ProfileName::ALL))]
    pub profile: String,
    /// Delete the state file (the `--state` file, or else `.bt-gitops/emulator.json`, the state of
    /// `--emulator` commands) and exit; the next run seeds a fresh state.
    #[arg(long)]
    pub reset: bool,
}

/// Runs the emulator until Ctrl-C.
///
/// # Errors
/// When the seed, fault or state file is invalid, or the port cannot be bound.
pub async fn run(args: &EmulatorArgs) -> anyhow::Result<ExitCode> {
    if args.reset {
        let path = args
            .state
            .clone()
            .unwrap_or_else(|| PathBuf::from(super::emulator_flag::STATE_FILE));
        let message = match fs_err::remove_file(&path) {
            Ok(()) => format!("removed the emulator state `{}`", path.display()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                format!("no emulator state at `{}`", path.display())
            }
            Err(e) => return Err(e.into()),
        };
        println!("{message}; the next run seeds a fresh state");
        return Ok(ExitCode::SUCCESS);
    }
    let mut config = EmulatorConfig::default()
        .with_port(args.port)
        .with_latency(Duration::from_millis(args.latency_ms))
        .with_deterministic(args.deterministic)
        .with_profile(
            args.profile
                .parse::<ProfileName>()
                .map_err(anyhow::Error::msg)?
                .profile(),
        );
    if let Some(path) = &args.seed {
        config = config.with_seed(SeedDoc::load(path)?);
    }
    if let Some(path) = &args.state {
        config = config.with_state_file(path);
    }
    if let Some(path) = &args.faults {
        let text = fs_err::read_to_string(path)?;
        let rules: Vec<FaultRule> = serde_json::from_str(&text)
            .with_context(|| format!("`{}` is not a JSON array of fault rules", path.display()))?;
        config = config.with_faults(rules);
    }
    let emu = spawn(config).await?;
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "emulator listening on {} (profile {})",
        emu.url(),
        emu.state().profile().name
    )?;
    // Name the orgs, so that a manifest can be written for one (`org: NAME`).
    let orgs: Vec<String> = emu
        .state()
        .store()
        .table(crate::emulator::Collection::Organization)
        .live()
        .filter_map(|r| r.object.get("name").and_then(|n| n.as_str()))
        .map(|n| format!("`{n}`"))
        .collect();
    writeln!(out, "orgs: {}", orgs.join(", "))?;
    writeln!(out, "api key: {}", emu.api_key())?;
    if let Some(token) = emu.service_token() {
        writeln!(out, "service token: {token}")?;
    }
    writeln!(
        out,
        "use: export {}={} {}={}",
        env::BRAINTRUST_API_URL,
        emu.url(),
        env::BRAINTRUST_API_KEY,
        emu.api_key()
    )?;
    writeln!(out, "ready")?;
    out.flush()?;
    drop(out);
    tokio::signal::ctrl_c()
        .await
        .context("cannot wait for Ctrl-C")?;
    emu.shutdown().await;
    Ok(ExitCode::SUCCESS)
}
