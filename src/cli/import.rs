//! `bt-gitops import`: write manifests for a live org, so it can be managed from git.

use std::path::PathBuf;

use anyhow::{Context, bail};

use super::plan::DEFAULT_API_URL;
use super::{ExitStatus, Printer};
use crate::api::client::{Client, ClientConfig, check_base_url};
use crate::api::read::fetch_org;
use crate::model::OrgName;

#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// The org to import, by name.
    #[arg(long)]
    pub org: String,
    /// Directory to write the manifests to (default: a directory named after the org).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Replace files that already exist.
    #[arg(long)]
    pub force: bool,
    /// Import from the local emulator (state in `.bt-gitops/emulator.json`).
    #[arg(long)]
    pub emulator: bool,
}

pub fn run(args: &ImportArgs, printer: Printer) -> anyhow::Result<ExitStatus> {
    let org = OrgName::new(&args.org)
        .map_err(|e| anyhow::anyhow!("`{}` is not an org name: {}", args.org, e.0))?;
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from(org.as_str()));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let live = runtime.block_on(async {
        let emulated = if args.emulator {
            Some(super::emulator_flag::start_for(std::slice::from_ref(&org)).await?)
        } else {
            None
        };
        let (url, key) = match &emulated {
            Some(e) => (e.targets[0].base_url.clone(), e.targets[0].api_key.clone()),
            None => {
                let url = std::env::var(crate::env::BRAINTRUST_API_URL)
                    .ok()
                    .filter(|v| !v.is_empty())
                    .unwrap_or_else(|| DEFAULT_API_URL.to_owned());
                check_base_url(&url)?;
                let key = std::env::var(crate::env::BRAINTRUST_API_KEY)
                    .ok()
                    .filter(|v| !v.trim().is_empty())
                    .with_context(|| {
                        format!(
                            "no API key: set {}, or try `--emulator`",
                            crate::env::BRAINTRUST_API_KEY
                        )
                    })?;
                (url, key)
            }
        };
        let client = Client::new(ClientConfig::new(&url, &key))?;
        // Every project's env vars are imported: read them all.
        let projects = crate::api::read::project_names(&client, &org)
            .await
            .with_context(|| format!("cannot list the projects of org `{org}` at {url}"))?;
        // Nothing names the functions, prompts, experiments and datasets yet: read them all, so
        // that grants on them and scorers using them are written by name.
        let refs = crate::api::refs::everything(&client, &org, &projects)
            .await
            .with_context(|| {
                format!("cannot list the functions, prompts, experiments and datasets of org `{org}` at {url}")
            })?;
        let live = fetch_org(&client, &org, &projects, &refs)
            .await
            .with_context(|| format!("cannot read org `{org}` at {url}"))?;
        anyhow::Ok(live)
    })?;
    if !live.incomplete.is_empty() {
        let scopes: Vec<String> = live.incomplete.iter().map(ToString::to_string).collect();
        bail!(
            "some lists failed ({}); nothing was written, try again",
            scopes.join(", ")
        );
    }
    let files = crate::import::manifests(&live, &org);
    if !args.force
        && let Some(existing) = files.iter().map(|f| out.join(&f.path)).find(|p| p.exists())
    {
        bail!(
            "`{}` already exists; pass `--force` to replace it, or choose another `--out`",
            existing.display()
        );
    }
    for file in &files {
        let path = out.join(&file.path);
        if let Some(dir) = path.parent() {
            fs_err::create_dir_all(dir)?;
        }
        fs_err::write(&path, crate::redact::scrub(&file.text).as_bytes())?;
    }
    for u in &live.unknown {
        let name = u.name.as_deref().unwrap_or("(no name)");
        let place = match &u.project {
            Some(p) => format!("{org}/{p}"),
            None => org.to_string(),
        };
        printer.err(&format!(
            "note: not imported: {} `{name}` in {place} is outside bt-gitops's model ({})\n",
            u.collection.api_name(),
            u.reason
        ));
    }
    printer.err(&format!(
        "wrote {} files to {}; run `bt-gitops plan {}` to check them\n",
        files.len(),
        out.display(),
        out.display()
    ));
    Ok(ExitStatus::Success)
}
