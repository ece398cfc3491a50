//! `--emulator`: plan and apply against an in-process emulator instead of Braintrust.
//!
//! The emulator's state lives in `.bt-gitops/emulator.json` next to the manifests' working
//! directory, so changes persist from one command to the next. On first use it is seeded with
//! `examples/emulator/seed.json` (a live `acme` org that differs from `examples/acme`, so the
//! first plan shows creates, updates and deletes) plus a bare org for every other org the
//! manifests name. Each org gets a fixed emulator key.

use std::path::PathBuf;

use anyhow::Context;

use crate::emulator::{EmuHandle, EmulatorConfig, SeedDoc, spawn};
use crate::model::{DesiredState, OrgName};
use crate::reconcile::OrgTarget;

/// The seed used on first use.
const SEED: &str = include_str!("../../examples/emulator/seed.json");

/// Where the emulator keeps its state, relative to the current directory.
pub const STATE_FILE: &str = ".bt-gitops/emulator.json";

/// A running in-process emulator and the targets that reach it. Keep it alive while planning:
/// dropping it stops the server.
pub struct Emulated {
    #[allow(dead_code)]
    pub handle: EmuHandle,
    pub targets: Vec<OrgTarget>,
}

/// Starts the emulator (seeding it on first use) and returns a target per org.
///
/// # Errors
/// When the state file is invalid or an org of the manifests is missing from an existing state.
pub async fn start(desired: &DesiredState) -> anyhow::Result<Emulated> {
    let orgs: Vec<OrgName> = desired.orgs.keys().cloned().collect();
    start_for(&orgs).await
}

/// Like [`start`], for a list of org names.
///
/// # Errors
/// When the state file is invalid or cannot be written.
pub async fn start_for(orgs: &[OrgName]) -> anyhow::Result<Emulated> {
    let state = PathBuf::from(STATE_FILE);
    if let Some(dir) = state.parent() {
        fs_err::create_dir_all(dir)?;
    }
    let seed = seed_for(orgs)?;
    let fresh = !state.exists();
    let handle = spawn(
        EmulatorConfig::default()
            .with_seed(seed.clone())
            .with_state_file(&state),
    )
    .await
    .with_context(|| format!("cannot start the emulator with state `{}`", state.display()))?;
    let mut targets = Vec::new();
    for org in orgs {
        let seeded = seed.orgs.iter().find(|o| o.name == org.as_str());
        let key = seeded
            .and_then(|o| {
                o.users
                    .iter()
                    .flat_map(|u| &u.api_keys)
                    .find_map(|k| k.key.clone())
            })
            .unwrap_or_else(|| key_for(org.as_str()));
        targets.push(OrgTarget {
            org: org.clone(),
            base_url: handle.url().to_owned(),
            api_key: key,
        });
    }
    if fresh {
        tracing::info!(path = %state.display(), "seeded a new emulator state");
    }
    Ok(Emulated { handle, targets })
}

/// The built-in seed, plus a bare org (one owner with a fixed key) for each other org.
fn seed_for(orgs: &[OrgName]) -> anyhow::Result<SeedDoc> {
    let mut seed: SeedDoc =
        serde_json::from_str(SEED).context("the built-in emulator seed is invalid")?;
    for org in orgs {
        if seed.orgs.iter().any(|o| o.name == org.as_str()) {
            continue;
        }
        let doc = serde_json::json!({
            "name": org.as_str(),
            "users": [{
                "email": format!("owner@{}.example", org.as_str().to_lowercase().replace(|c: char| !c.is_ascii_alphanumeric(), "-")),
                "owner": true,
                "api_keys": [{ "name": "bt-gitops-emulator", "key": key_for(org.as_str()) }]
            }]
        });
        seed.orgs
            .push(serde_json::from_value(doc).context("cannot build an emulator seed")?);
    }
    Ok(seed)
}

/// The fixed emulator key of an org not in the built-in seed.
fn key_for(org: &str) -> String {
    let slug: String = org
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    format!("sk-emulator-{slug}-key")
}
