//! Conformance over the kind registry: every kind in `Kind::ALL` has a data file in
//! `tests/data/kinds/<kind>.yaml`, and each one validates, plans against the emulator (with a
//! change of that kind), applies, re-plans empty, imports with the kind kept, and plans empty
//! from the import. A kind added to the registry without a data file fails here.

use std::collections::BTreeMap;

use bt_gitops::api::client::{Client, ClientConfig};
use bt_gitops::apply::{self, ApplyInput, SecretValue};
use bt_gitops::emulator::{EmuHandle, EmulatorConfig, SeedDoc, spawn};
use bt_gitops::model::{Kind, OrgName, ResourceKey};
use bt_gitops::pipeline::{self, Analysis};
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

/// The whole cycle for one kind's data file; `Err` says which step failed. `Ok` holds the
/// writes the first apply sent (see [`logged_writes`]).
async fn conform(kind: Kind, text: String) -> Result<String, String> {
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
    let clients = [(OrgName::new(ORG).expect("valid"), client(emu))]
        .into_iter()
        .collect();
    let report = apply::execute(ApplyInput {
        plan: &first.plan,
        desired: &analysis.state,
        live: &first.live,
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
            "apply: failed {:?}, skipped {:?}",
            report.failed, report.skipped
        ));
    }
    let writes = logged_writes(emu);
    let again = plan(analysis, emu, &values).await?;
    if !again.plan.changes.is_empty() {
        return Err(format!("re-plan after apply: {:?}", changes(&again)));
    }

    let org = OrgName::new(ORG).expect("valid");
    let live = bt_gitops::api::read::fetch_org(&client(emu), &org, &[], &Default::default())
        .await
        .map_err(|e| format!("import read: {e}"))?;
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
    let runtime = runtime();
    let mut failures = Vec::new();
    let mut writes = Vec::new();
    for &kind in Kind::ALL {
        let path = dir.join(format!("{kind}.yaml"));
        let Ok(text) = fs_err::read_to_string(&path) else {
            failures.push(format!("{kind}: no data file {}", path.display()));
            continue;
        };
        match runtime.block_on(conform(kind, text)) {
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
