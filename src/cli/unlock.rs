//! `bt-gitops unlock --org NAME`: says who holds an org's apply lease and until when (local
//! time), and breaks it after a `yes` on the terminal, or at once with `--force`.

use std::io::{BufRead, IsTerminal, Write};

use anyhow::{Context, bail};

use super::{ExitStatus, Printer};
use crate::api::client::{Client, ClientConfig};
use crate::apply::lease;
use crate::model::OrgName;

#[derive(Debug, clap::Args)]
pub struct UnlockArgs {
    /// The org whose apply lease to break.
    #[arg(long, value_name = "NAME")]
    pub org: String,
    /// Break the lease without asking (for scripts; make sure its holder is gone).
    #[arg(long)]
    pub force: bool,
    /// The environment variable holding the org's API key.
    #[arg(long, value_name = "VAR", default_value = crate::env::BRAINTRUST_API_KEY)]
    pub api_key_env: String,
    /// Unlock in the local emulator (state in `.bt-gitops/emulator.json`).
    #[arg(long)]
    pub emulator: bool,
}

pub fn run(args: &UnlockArgs, printer: Printer) -> anyhow::Result<ExitStatus> {
    let org = OrgName::new(&args.org)
        .map_err(|_| anyhow::anyhow!("`{}` is not an org name", args.org))?;
    let _state = super::emulator_flag::lock_state_if(args.emulator)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        let emulated = if args.emulator {
            Some(super::emulator_flag::start_for(std::slice::from_ref(&org)).await?)
        } else {
            None
        };
        let (url, key) = match &emulated {
            Some(e) => {
                let t = e.targets.first().context("the emulator has no target")?;
                (t.base_url.clone(), t.api_key.clone())
            }
            None => {
                let url = std::env::var(crate::env::BRAINTRUST_API_URL)
                    .ok()
                    .filter(|v| !v.is_empty())
                    .unwrap_or_else(|| super::plan::DEFAULT_API_URL.to_owned());
                let key = std::env::var(&args.api_key_env)
                    .ok()
                    .filter(|k| !k.trim().is_empty())
                    .with_context(|| format!("no API key: set {}", args.api_key_env))?;
                (url, key.trim().to_owned())
            }
        };
        crate::api::client::check_base_url(&url)?;
        let client = Client::new(ClientConfig::new(&url, &key))?;
        let Some(info) = lease::inspect(&client, org.as_str()).await? else {
            printer.out(&format!("org `{org}` has no apply lease\n"));
            return Ok(ExitStatus::Success);
        };
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let state = if info.expires > now {
            format!("until {}", lease::local_time(info.expires))
        } else {
            format!("expired at {}", lease::local_time(info.expires))
        };
        printer.err(&format!(
            "the apply lease of org `{org}` is held by {} ({state})\n",
            info.holder
        ));
        if !args.force {
            if !std::io::stdin().is_terminal() {
                bail!("not broken: there is no terminal to confirm on; pass `--force` once you know that apply is gone");
            }
            printer.err("Break it? Only `yes` is accepted: ");
            let _ = std::io::stderr().flush();
            let mut answer = String::new();
            std::io::stdin().lock().read_line(&mut answer)?;
            if answer.trim() != "yes" {
                printer.err("not broken\n");
                return Ok(ExitStatus::Failure);
            }
        }
        lease::break_lease(&client, &info.id)
            .await
            .with_context(|| format!("cannot break the apply lease of org `{org}`"))?;
        printer.out(&format!(
            "broke the apply lease of org `{org}` (held by {})\n",
            info.holder
        ));
        Ok(ExitStatus::Success)
    })
}
