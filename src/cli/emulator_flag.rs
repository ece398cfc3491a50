//! `--emulator`: plan and apply against an in-process emulator instead of Braintrust.
//!
//! The emulator's state lives in `.bt-gitops/emulator.json` next to the manifests' working
//! directory, so changes persist from one command to the next. On first use it is seeded with
//! `examples/emulator/seed.json` (a live `acme` org that differs from `examples/acme`, so the
//! first plan shows creates, updates and deletes) plus a bare org for every other org the
//! manifests name. An org named later, when the state already exists, is added to it on demand.
//! Each made-up org has one owner, `owner@<org>.example.com`, with the fixed key
//! `sk-emulator-<org>-key`, and an owner service account `bt-gitops` with the fixed service token
//! `bt-st-emulator-<org>-key`. bt-gitops runs with an org's owner service token when the seed
//! has one (so a demo can create service tokens, as with a real owner service token), else with
//! the user key; the owner and that key are printed on stderr when the org is created.
//! `bt-gitops emulator --reset` deletes the state, so the next command seeds a fresh one.
//! `BT_GITOPS_EMULATOR_PROFILE` picks the emulator's profile (`real` unless set).

use std::path::PathBuf;

use anyhow::Context;

use crate::emulator::seed::SeedOrg;
use crate::emulator::{EmuHandle, EmulatorConfig, SeedDoc, Store, spawn};
use crate::model::{DesiredState, OrgName};
use crate::reconcile::OrgTarget;

/// The profile named by `BT_GITOPS_EMULATOR_PROFILE` (`real` when unset).
///
/// # Errors
/// When the variable names no profile.
fn profile() -> anyhow::Result<crate::emulator::Profile> {
    match std::env::var(crate::env::BT_GITOPS_EMULATOR_PROFILE) {
        Ok(name) if !name.is_empty() => Ok(name
            .parse::<crate::emulator::ProfileName>()
            .map_err(|e| anyhow::anyhow!("{}: {e}", crate::env::BT_GITOPS_EMULATOR_PROFILE))?
            .profile()),
        _ => Ok(crate::emulator::Profile::real()),
    }
}

/// The seed used on first use.
const SEED: &str = include_str!("../../examples/emulator/seed.json");

/// Where the emulator keeps its state, relative to the current directory.
pub const STATE_FILE: &str = ".bt-gitops/emulator.json";

/// Serialises the emulator's state between processes: held by `apply --emulator` from before
/// the state is loaded until its leases are taken.
pub struct StateLock(#[allow(dead_code)] std::fs::File);

/// Where [`StateLock`] lives, relative to the current directory.
const LOCK_FILE: &str = ".bt-gitops/emulator.lock";

/// [`lock_state`] with `--emulator`, nothing without.
///
/// # Errors
/// As [`lock_state`].
pub fn lock_state_if(emulator: bool) -> anyhow::Result<Option<StateLock>> {
    emulator.then(lock_state).transpose()
}

/// Waits for and takes the emulator state lock. The operating system lets it go when the
/// process ends, however it ends.
///
/// # Errors
/// When the lock file cannot be created or locked.
pub fn lock_state() -> anyhow::Result<StateLock> {
    let path = PathBuf::from(LOCK_FILE);
    if let Some(dir) = path.parent() {
        fs_err::create_dir_all(dir)?;
    }
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("cannot open `{}`", path.display()))?;
    #[cfg(unix)]
    rustix::fs::flock(&file, rustix::fs::FlockOperation::LockExclusive)
        .with_context(|| format!("cannot lock `{}`", path.display()))?;
    Ok(StateLock(file))
}

/// A running in-process emulator and the targets that reach it. Keep it alive while planning:
/// dropping it stops the server.
pub struct Emulated {
    #[allow(dead_code)]
    pub handle: EmuHandle,
    pub targets: Vec<OrgTarget>,
    /// One line per org created in the state by this start (its owner and the key bt-gitops
    /// runs with); [`start`] and [`start_for`] print them on stderr, `watch` logs them as JSON.
    pub notices: Vec<String>,
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
    let emulated = start_quiet(orgs).await?;
    for notice in &emulated.notices {
        eprintln!("{notice}");
    }
    Ok(emulated)
}

/// Like [`start_for`], leaving the notices of created orgs to the caller.
///
/// # Errors
/// When the state file is invalid or cannot be written.
pub async fn start_quiet(orgs: &[OrgName]) -> anyhow::Result<Emulated> {
    let state = PathBuf::from(STATE_FILE);
    if let Some(dir) = state.parent() {
        fs_err::create_dir_all(dir)?;
    }
    let seed = seed_for(orgs)?;
    let fresh = !state.exists();
    let created = if fresh {
        seed.orgs
            .iter()
            .filter(|o| orgs.iter().any(|n| n.as_str() == o.name))
            .map(|o| o.name.clone())
            .collect()
    } else {
        add_missing_orgs(&state, &seed, orgs)?
    };
    let mut notices = Vec::new();
    for org in &created {
        if let Some(doc) = seed.orgs.iter().find(|o| &o.name == org) {
            let owner = doc
                .users
                .iter()
                .find(|u| u.owner)
                .map_or("", |u| u.email.as_str());
            let key = seeded_key(doc).unwrap_or_default();
            // bt-gitops runs with the owner service token when there is one (`bt-st-...`).
            let what = if key.starts_with("bt-st-") {
                "service token"
            } else {
                "API key"
            };
            notices.push(format!(
                "emulator: org `{org}` created in {} (owner {owner}, {what} {key})",
                state.display()
            ));
        }
    }
    let handle = spawn(
        EmulatorConfig::default()
            .with_seed(seed.clone())
            .with_state_file(&state)
            .with_profile(profile()?),
    )
    .await
    .with_context(|| format!("cannot start the emulator with state `{}`", state.display()))?;
    let mut targets = Vec::new();
    for org in orgs {
        let seeded = seed.orgs.iter().find(|o| o.name == org.as_str());
        let key = seeded
            .and_then(seeded_key)
            .unwrap_or_else(|| key_for(org.as_str()));
        crate::redact::register(&key);
        targets.push(OrgTarget {
            org: org.clone(),
            base_url: handle.url().to_owned(),
            api_key: key,
        });
    }
    if fresh {
        tracing::info!(path = %state.display(), "seeded a new emulator state");
    }
    Ok(Emulated {
        handle,
        targets,
        notices,
    })
}

/// The key bt-gitops uses for a seeded org: an owner service account's token when there is
/// one (it may create service tokens), else the first user API key.
fn seeded_key(org: &SeedOrg) -> Option<String> {
    org.service_accounts
        .iter()
        .filter(|a| a.owner)
        .flat_map(|a| &a.tokens)
        .chain(org.users.iter().flat_map(|u| &u.api_keys))
        .find_map(|k| k.key.clone())
}

/// Adds to an existing state file every org of `orgs` it lacks, as `seed` describes them.
/// Returns the names of the orgs added.
fn add_missing_orgs(
    state: &std::path::Path,
    seed: &SeedDoc,
    orgs: &[OrgName],
) -> anyhow::Result<Vec<String>> {
    let mut store = Store::load(state).with_context(|| {
        format!(
            "cannot read the emulator state `{}` (`bt-gitops emulator --reset` starts afresh)",
            state.display()
        )
    })?;
    let missing = SeedDoc {
        orgs: seed
            .orgs
            .iter()
            .filter(|o| orgs.iter().any(|n| n.as_str() == o.name))
            .filter(|o| store.org_by_name(&o.name).is_none())
            .cloned()
            .collect(),
    };
    if missing.orgs.is_empty() {
        return Ok(Vec::new());
    }
    missing
        .apply(&mut store)
        .context("cannot add an org to the emulator state")?;
    store
        .save(state)
        .with_context(|| format!("cannot write the emulator state `{}`", state.display()))?;
    Ok(missing.orgs.into_iter().map(|o| o.name).collect())
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
                "email": format!("owner@{}.example.com", org.as_str().to_lowercase().replace(|c: char| !c.is_ascii_alphanumeric(), "-")),
                "owner": true,
                "api_keys": [{ "name": "bt-gitops-emulator", "key": key_for(org.as_str()) }]
            }],
            "service_accounts": [{
                "name": "bt-gitops",
                "owner": true,
                "tokens": [{ "name": "bt-gitops-emulator", "key": token_for(org.as_str()) }]
            }]
        });
        seed.orgs
            .push(serde_json::from_value(doc).context("cannot build an emulator seed")?);
    }
    Ok(seed)
}

/// The fixed owner service token of an org not in the built-in seed.
fn token_for(org: &str) -> String {
    format!("bt-st-emulator-{}-key", slug(org))
}

/// The fixed emulator key of an org not in the built-in seed.
fn key_for(org: &str) -> String {
    format!("sk-emulator-{}-key", slug(org))
}

/// An org name as it appears in the made-up keys.
fn slug(org: &str) -> String {
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
    slug
}
