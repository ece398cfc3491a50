//! Conformance over the kind registry: every kind in `Kind::ALL` has a data file in
//! `tests/data/kinds/<kind>.yaml`, and each one validates, plans against the emulator (with a
//! change of that kind), applies, re-plans empty, imports with the kind kept, and plans empty
//! from the import. Then the objects are deleted through the tombstones of
//! `tests/data/tombstones/<kind>.yaml`, which give only what identifies each object (members
//! leave through `removed_members`): the plan deletes each of them, the apply succeeds, the
//! objects are gone from the live state and the re-plan is empty. A kind added to the registry
//! without a data file, or without tombstone data (orgs aside: they cannot be deleted), fails
//! here.

use std::collections::BTreeMap;

use bt_gitops::api::client::{Client, ClientConfig};
use bt_gitops::apply::{self, ApplyInput, SecretValue};
use bt_gitops::emulator::{EmuHandle, EmulatorConfig, SeedDoc, spawn};
use bt_gitops::model::{Kind, OrgName, Presence, ResourceKey};
use bt_gitops::pipeline::{self, Analysis};
use bt_gitops::plan::Action;
use bt_gitops::reconcile::{self, PlanInput, PlanOutcome};
use bt_gitops::source::SourceMap;

use crate::support::{acme_target, logged_writes, root, runtime, secret_values};

const ORG: &str = "acme";
/// The tool's key: a token of an owner service account, so that service tokens can be created.
const KEY: &str = "sk-conformance-0000000000000001";

fn seed() -> SeedDoc {
    serde_json::from_value(serde_json::json!({ "orgs": [{
        "name": ORG,
        "users": [{ "email": "alice@acme.com", "owner": true }],
        "service_accounts": [{ "name": "gitops", "owner": true, "tokens": [{ "name": "tool", "key": KEY }] }]
    }] }))
    .expect("valid seed")
}

fn analyze(files: &[(String, String)]) -> Analysis {
    let mut sources = SourceMap::new();
    for (path, text) in files {
        sources.add(path, text);
    }
    pipeline::analyze(&sources)
}

fn client(emu: &EmuHandle) -> Client {
    Client::new(ClientConfig::new(emu.url(), KEY)).expect("client")
}

async fn plan(
    analysis: &Analysis,
    emu: &EmuHandle,
    values: &BTreeMap<ResourceKey, SecretValue>,
) -> Result<PlanOutcome, String> {
    reconcile::plan(PlanInput {
        desired: &analysis.state,
        graph: &analysis.graph,
        targets: vec![acme_target(emu, KEY)],
        secrets: values
            .iter()
            .map(|(k, v)| (k.clone(), Ok(v.digest.clone())))
            .collect(),
        concurrency: 4,
    })
    .await
    .map_err(|e| format!("plan: {e}"))
}

fn changes(outcome: &PlanOutcome) -> Vec<String> {
    outcome
        .plan
        .changes
        .iter()
        .map(|c| format!("{} {}", c.action.symbol(), c.address))
        .collect()
}

/// Kinds without tombstone data: an org cannot be deleted through the API.
const NO_TOMBSTONES: &[Kind] = &[Kind::Org];

/// Applies a plan one change at a time; `Err` names what failed or was skipped.
async fn apply_all(
    outcome: &PlanOutcome,
    analysis: &Analysis,
    emu: &EmuHandle,
    values: &BTreeMap<ResourceKey, SecretValue>,
) -> Result<(), String> {
    let clients = [(OrgName::new(ORG).expect("valid"), client(emu))]
        .into_iter()
        .collect();
    let report = apply::execute(ApplyInput {
        plan: &outcome.plan,
        desired: &analysis.state,
        live: &outcome.live,
        clients,
        secrets: values.clone(),
        // One at a time, so that the emulator's ids and the logged writes come in plan order.
        concurrency: 1,
        root: std::env::temp_dir(),
        observer: None,
    })
    .await;
    if !report.failed.is_empty() || !report.skipped.is_empty() {
        return Err(format!(
            "failed {:?}, skipped {:?}",
            report.failed, report.skipped
        ));
    }
    Ok(())
}

/// The org as the reader sees it, with every project's per-project lists (env vars, views)
/// read, as `import` reads it.
async fn read_all(emu: &EmuHandle) -> Result<bt_gitops::live::LiveState, String> {
    let org = OrgName::new(ORG).expect("valid");
    let client = client(emu);
    let projects = bt_gitops::api::read::project_names(&client, &org)
        .await
        .map_err(|e| format!("project list: {e}"))?;
    bt_gitops::api::read::fetch_org(&client, &org, &projects, &Default::default())
        .await
        .map_err(|e| format!("read: {e}"))
}

/// Deletes the kind's objects through its tombstone data (after [`cycle`] made them): every
/// tombstone of the kind is a planned delete, passes the guards, applies, and is gone after.
async fn tombstones(kind: Kind, text: String, emu: &EmuHandle) -> Result<(), String> {
    let analysis = analyze(&[(format!("{kind}.yaml"), text)]);
    if analysis.has_errors() {
        return Err(format!("tombstones: validate: {:?}", analysis.diagnostics));
    }
    let gone: Vec<ResourceKey> = analysis
        .state
        .of_kind(kind)
        .filter(|r| r.presence == Presence::Absent)
        .map(|r| r.key.clone())
        .collect();
    if gone.is_empty() {
        return Err("the tombstone data deletes no object of this kind".into());
    }
    let values = secret_values(&analysis);
    let first = plan(&analysis, emu, &values).await?;
    let deletes: Vec<String> = first
        .plan
        .changes
        .iter()
        .filter(|c| c.action == Action::Delete)
        .map(|c| c.address.clone())
        .collect();
    for key in &gone {
        if !deletes.contains(&key.to_string()) {
            return Err(format!(
                "tombstones: no delete of {key} in the plan: {:?}",
                changes(&first)
            ));
        }
    }
    if !first.plan.guards.is_empty() {
        return Err(format!("tombstones: refused: {:?}", first.plan.guards));
    }
    apply_all(&first, &analysis, emu, &values)
        .await
        .map_err(|e| format!("tombstones: apply: {e}"))?;
    let live = read_all(emu).await?;
    if let Some(key) = gone.iter().find(|k| live.objects.contains_key(*k)) {
        return Err(format!("tombstones: {key} is still live after the apply"));
    }
    let again = plan(&analysis, emu, &values).await?;
    if !again.plan.changes.is_empty() {
        return Err(format!(
            "tombstones: re-plan after apply: {:?}",
            changes(&again)
        ));
    }
    Ok(())
}

/// The whole cycle for one kind's data file, then its tombstones (`None`: the kind has none);
/// `Err` says which step failed. `Ok` holds the writes the first apply sent (see
/// [`logged_writes`]).
async fn conform(kind: Kind, text: String, tombstone: Option<String>) -> Result<String, String> {
    let files = vec![(format!("{kind}.yaml"), text)];
    let analysis = analyze(&files);
    if analysis.has_errors() {
        return Err(format!("validate: {:?}", analysis.diagnostics));
    }
    if analysis.state.of_kind(kind).next().is_none() {
        return Err("the data file declares no object of this kind".into());
    }
    // The registry's facts hold for what lowering produces (data files leave `protect` unset).
    if let Some(r) = analysis
        .state
        .of_kind(kind)
        .find(|r| r.protect != kind.protected_by_default())
    {
        return Err(format!("{}: protect is not the registry's default", r.key));
    }
    if let Some(r) = analysis
        .state
        .of_kind(kind)
        .find(|r| r.spec.secret().is_some() != kind.holds_secret())
    {
        return Err(format!(
            "{}: a secret, against the registry's holds_secret",
            r.key
        ));
    }
    let emu = spawn(
        EmulatorConfig::default()
            .with_seed(seed())
            .with_deterministic(true),
    )
    .await
    .map_err(|e| format!("emulator: {e}"))?;
    let result = cycle(kind, &analysis, &emu).await;
    let result = match (result, tombstone) {
        (Ok(writes), Some(text)) => tombstones(kind, text, &emu).await.map(|()| writes),
        (result, _) => result,
    };
    emu.shutdown().await;
    result
}

async fn cycle(kind: Kind, analysis: &Analysis, emu: &EmuHandle) -> Result<String, String> {
    let values = secret_values(analysis);
    let first = plan(analysis, emu, &values).await?;
    if !first.plan.changes.iter().any(|c| c.kind == kind.as_str()) {
        return Err(format!(
            "plan has no change of this kind: {:?}",
            changes(&first)
        ));
    }
    apply_all(&first, analysis, emu, &values)
        .await
        .map_err(|e| format!("apply: {e}"))?;
    let writes = logged_writes(emu);
    let again = plan(analysis, emu, &values).await?;
    if !again.plan.changes.is_empty() {
        return Err(format!("re-plan after apply: {:?}", changes(&again)));
    }

    let org = OrgName::new(ORG).expect("valid");
    let live = read_all(emu).await.map_err(|e| format!("import {e}"))?;
    let imported: Vec<(String, String)> = bt_gitops::import::manifests(&live, &org)
        .into_iter()
        .map(|f| (f.path, f.text))
        .collect();
    let reimported = analyze(&imported);
    if reimported.has_errors() {
        return Err(format!(
            "import does not validate: {:?}\n{imported:#?}",
            reimported.diagnostics
        ));
    }
    if reimported.state.of_kind(kind).next().is_none() {
        return Err(format!("import lost the kind:\n{imported:#?}"));
    }
    let from_import = plan(&reimported, emu, &secret_values(&reimported)).await?;
    if !from_import.plan.changes.is_empty() {
        return Err(format!(
            "plan of the import: {:?}\n{imported:#?}",
            changes(&from_import)
        ));
    }
    Ok(writes)
}

#[test]
fn every_kind_in_the_registry_conforms() {
    let dir = root().join("tests/data/kinds");
    let tombstone_dir = root().join("tests/data/tombstones");
    let runtime = runtime();
    let mut failures = Vec::new();
    let mut writes = Vec::new();
    for &kind in Kind::ALL {
        let path = dir.join(format!("{kind}.yaml"));
        let Ok(text) = fs_err::read_to_string(&path) else {
            failures.push(format!("{kind}: no data file {}", path.display()));
            continue;
        };
        let tombstone_path = tombstone_dir.join(format!("{kind}.yaml"));
        let tombstone = fs_err::read_to_string(&tombstone_path).ok();
        if tombstone.is_none() && !NO_TOMBSTONES.contains(&kind) {
            failures.push(format!(
                "{kind}: no tombstone data {}",
                tombstone_path.display()
            ));
        }
        match runtime.block_on(conform(kind, text, tombstone)) {
            Ok(sent) => writes.push((kind, sent)),
            Err(e) => failures.push(format!("{kind}: {e}")),
        }
    }
    failures.extend(
        fs_err::read_dir(&dir)
            .expect("tests/data/kinds")
            .filter_map(Result::ok)
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|name| {
                name.strip_suffix(".yaml")
                    .is_none_or(|stem| Kind::parse(stem).is_none())
            })
            .map(|name| format!("tests/data/kinds/{name} names no kind")),
    );
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    // What apply sends for each kind (method, path, body) is pinned: a change to a request body
    // shows here.
    for (kind, sent) in writes {
        insta::assert_snapshot!(format!("apply_writes__{kind}"), sent);
    }
}
