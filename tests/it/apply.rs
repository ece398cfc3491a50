//! Apply engine against the emulator: an applied plan converges (the next plan is empty) and a
//! second apply makes no write.

use std::collections::BTreeMap;

use bt_gitops::api::client::{Client, ClientConfig};
use bt_gitops::apply::{self, ApplyInput, ApplyReport, SecretValue};
use bt_gitops::diff::SecretDigests;
use bt_gitops::emulator::EmuHandle;
use bt_gitops::model::OrgName;
use bt_gitops::pipeline::{self, Analysis};
use bt_gitops::plan::Plan;
use bt_gitops::reconcile::{self, OrgTarget, PlanInput, PlanOutcome};
use bt_gitops::source::SourceMap;

use crate::support::root;

const KEYS: [(&str, &str); 2] = [
    ("acme", "sk-emulator-acme-0000000000000001"),
    ("acme-labs", "sk-emulator-acme-labs-000000000001"),
];

fn manifests(dir: &str) -> Analysis {
    let mut sources = SourceMap::new();
    let mut files: Vec<_> = fs_err::read_dir(root().join(dir))
        .expect("fixture dir")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .collect();
    files.sort();
    for f in files {
        sources.add(
            f.display().to_string(),
            fs_err::read_to_string(&f).expect("readable"),
        );
    }
    let analysis = pipeline::analyze(&sources);
    assert!(!analysis.has_errors(), "{:?}", analysis.diagnostics);
    analysis
}

fn targets(emu: &EmuHandle) -> Vec<OrgTarget> {
    KEYS.iter()
        .map(|(org, key)| OrgTarget {
            org: OrgName::new(org).expect("valid"),
            base_url: emu.url().to_owned(),
            api_key: (*key).to_owned(),
        })
        .collect()
}

async fn plan(
    analysis: &Analysis,
    emu: &EmuHandle,
    values: &BTreeMap<bt_gitops::model::ResourceKey, SecretValue>,
) -> PlanOutcome {
    let digests: SecretDigests = values
        .iter()
        .map(|(k, v)| (k.clone(), Ok(v.digest.clone())))
        .collect();
    reconcile::plan(PlanInput {
        desired: &analysis.state,
        graph: &analysis.graph,
        targets: targets(emu),
        secrets: digests,
        concurrency: 8,
    })
    .await
    .expect("plan succeeds")
}

async fn execute(
    analysis: &Analysis,
    emu: &EmuHandle,
    outcome: &PlanOutcome,
    values: &BTreeMap<bt_gitops::model::ResourceKey, SecretValue>,
) -> ApplyReport {
    execute_with(analysis, emu, outcome, values, 8).await
}

async fn execute_with(
    analysis: &Analysis,
    emu: &EmuHandle,
    outcome: &PlanOutcome,
    values: &BTreeMap<bt_gitops::model::ResourceKey, SecretValue>,
    concurrency: usize,
) -> ApplyReport {
    let clients = targets(emu)
        .into_iter()
        .map(|t| {
            (
                t.org.clone(),
                Client::new(ClientConfig::new(&t.base_url, &t.api_key)).expect("client"),
            )
        })
        .collect();
    apply::execute(ApplyInput {
        plan: &outcome.plan,
        desired: &analysis.state,
        live: &outcome.live,
        clients,
        secrets: values.clone(),
        concurrency,
        root: std::env::temp_dir(),
        observer: None,
    })
    .await
}

fn addresses(plan: &Plan) -> Vec<String> {
    plan.changes
        .iter()
        .map(|c| format!("{} {}", c.action.symbol(), c.address))
        .collect()
}

/// The converge scenario planned against a fresh deterministic emulator.
async fn converge_planned() -> (
    EmuHandle,
    Analysis,
    BTreeMap<bt_gitops::model::ResourceKey, SecretValue>,
    PlanOutcome,
) {
    let emu = crate::support::acme_emulator(true).await;
    let analysis = manifests("tests/data/apply/converge");
    let values = crate::support::secret_values(&analysis);
    let first = plan(&analysis, &emu, &values).await;
    (emu, analysis, values, first)
}

#[test]
fn applied_plan_converges_and_reapplies_nothing() {
    let runtime = crate::support::runtime();
    runtime.block_on(async {
        let (emu, analysis, values, first) = converge_planned().await;
        let summary = first.plan.summary();
        assert!(
            summary.create > 0 && summary.update > 0 && summary.delete > 0,
            "{summary:?}"
        );
        let report = execute(&analysis, &emu, &first, &values).await;
        assert!(report.failed.is_empty(), "failed: {:#?}", report.failed);
        assert!(report.skipped.is_empty(), "skipped: {:#?}", report.skipped);
        assert_eq!(report.total(), first.plan.changes.len());

        let second = plan(&analysis, &emu, &values).await;
        assert!(
            second.plan.is_empty(),
            "the plan after apply is not empty:\n{:#?}",
            addresses(&second.plan)
        );

        emu.clear_requests();
        let again = execute(&analysis, &emu, &second, &values).await;
        assert_eq!(again.total(), 0);
        assert_eq!(emu.write_count(), 0, "a second apply wrote");
        emu.shutdown().await;
    });
}

/// The writes of the converge scenario (creates, updates with cleared fields, deletes), one at a
/// time so that ids and order are stable: method, path and the exact JSON body of each.
#[test]
fn converge_writes_are_pinned() {
    let runtime = crate::support::runtime();
    runtime.block_on(async {
        let (emu, analysis, values, first) = converge_planned().await;
        emu.clear_requests();
        let report = execute_with(&analysis, &emu, &first, &values, 1).await;
        assert!(report.failed.is_empty(), "failed: {:#?}", report.failed);
        insta::assert_snapshot!(crate::support::logged_writes(&emu));
        emu.shutdown().await;
    });
}

/// Reads survive transient faults: with a fifth of the reads failing (500, 429 with
/// `Retry-After: 0`, dropped connections), the plan is the same as without faults.
#[test]
fn plan_reads_retry_through_transient_faults() {
    use bt_gitops::emulator::{FaultAction, FaultRule};
    let runtime = crate::support::runtime();
    runtime.block_on(async {
        let emu = crate::support::acme_emulator(true).await;
        let analysis = manifests("tests/data/apply/converge");
        let values = crate::support::secret_values(&analysis);
        let clean = plan(&analysis, &emu, &values).await;
        emu.set_faults(vec![
            FaultRule::new(FaultAction::Status { status: 500 })
                .with_method("GET")
                .with_fraction(0.1, 7),
            FaultRule::new(FaultAction::RateLimit {
                retry_after_secs: 0,
            })
            .with_method("GET")
            .with_fraction(0.05, 8),
            FaultRule::new(FaultAction::Drop)
                .with_method("GET")
                .with_fraction(0.05, 9),
        ]);
        emu.clear_requests();
        let faulty = plan(&analysis, &emu, &values).await;
        let injected = emu.requests().iter().filter(|r| r.fault.is_some()).count();
        assert!(injected > 0, "no fault fired; the test proves nothing");
        assert_eq!(addresses(&faulty.plan), addresses(&clean.plan));
        assert!(faulty.live.incomplete.is_empty());
        emu.shutdown().await;
    });
}

/// A list that keeps failing makes the read incomplete: the plan says so and holds back every
/// delete in that scope, while the rest of the plan goes ahead.
#[test]
fn failed_list_blocks_deletes_in_its_scope() {
    use bt_gitops::emulator::{FaultAction, FaultRule};
    let runtime = crate::support::runtime();
    runtime.block_on(async {
        let emu = crate::support::acme_emulator(true).await;
        let analysis = manifests("tests/data/apply/converge");
        let values = crate::support::secret_values(&analysis);
        let clean = plan(&analysis, &emu, &values).await;
        let group_deletes = |p: &Plan| {
            p.changes
                .iter()
                .filter(|c| c.kind == "group" && c.action == bt_gitops::plan::Action::Delete)
                .count()
        };
        assert!(
            group_deletes(&clean.plan) > 0,
            "the fixture must delete a group"
        );
        emu.set_faults(vec![
            FaultRule::new(FaultAction::Status { status: 503 })
                .with_method("GET")
                .with_path("/v1/group"),
        ]);
        let blocked = plan(&analysis, &emu, &values).await;
        assert_eq!(
            group_deletes(&blocked.plan),
            0,
            "{:#?}",
            addresses(&blocked.plan)
        );
        assert!(
            blocked
                .plan
                .incomplete
                .iter()
                .any(|n| n.contains("group") && n.contains("held back")),
            "{:?}",
            blocked.plan.incomplete
        );
        assert!(
            blocked.plan.changes.iter().any(|c| c.kind == "tag"),
            "unrelated work still planned"
        );
        emu.shutdown().await;
    });
}

/// An org document declaring `n` groups, each granted `read` on the org: `n` grant creates
/// that become ready in the same wave, once their groups exist.
fn many_grants(n: usize) -> Analysis {
    let mut text = String::from("org: acme\ngroups:\n");
    for i in 0..n {
        text.push_str(&format!("  - name: batch-{i:03}\n"));
    }
    text.push_str("grants:\n");
    for i in 0..n {
        text.push_str(&format!(
            "  - {{ group: batch-{i:03}, permission: read }}\n"
        ));
    }
    let mut sources = SourceMap::new();
    sources.add("many-grants.yaml".to_owned(), text);
    let analysis = pipeline::analyze(&sources);
    assert!(!analysis.has_errors(), "{:?}", analysis.diagnostics);
    analysis
}

fn batch_calls(emu: &EmuHandle) -> Vec<usize> {
    emu.requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path == "/v1/acl/batch_update")
        .map(|r| {
            let body = r.body.as_ref().expect("a logged body");
            ["add_acls", "remove_acls"]
                .iter()
                .filter_map(|k| body.get(*k).and_then(|v| v.as_array()))
                .map(Vec::len)
                .sum()
        })
        .collect()
}

fn grant_creates(plan: &Plan) -> usize {
    plan.changes
        .iter()
        .filter(|c| c.kind == "grant" && c.action == bt_gitops::plan::Action::Create)
        .count()
}

/// 150 grants ready in one wave go in two `acl/batch_update` calls (100 and 50 ACLs), each grant
/// still reported on its own line; deleting them all again takes two calls too.
#[test]
fn many_grants_apply_in_few_batch_calls() {
    let runtime = crate::support::runtime();
    runtime.block_on(async {
        let emu = crate::support::acme_emulator(true).await;
        let analysis = many_grants(150);
        let values = BTreeMap::new();
        let first = plan(&analysis, &emu, &values).await;
        assert_eq!(grant_creates(&first.plan), 150);
        emu.clear_requests();
        let report = execute(&analysis, &emu, &first, &values).await;
        assert!(report.is_clean(), "{report:#?}");
        assert_eq!(report.total(), first.plan.changes.len());
        let grants: Vec<_> = report
            .succeeded
            .iter()
            .filter(|a| a.address.contains("grant"))
            .collect();
        assert_eq!(grants.len(), 150);
        assert!(
            grants.iter().all(|a| a.created_id.is_some()),
            "every new grant learns its id from the batch answer"
        );
        // The two calls run at once, so the log (in order of completion) may hold either first.
        let mut calls = batch_calls(&emu);
        calls.sort_unstable();
        assert_eq!(calls, vec![50, 100]);
        let second = plan(&analysis, &emu, &values).await;
        assert!(second.plan.is_empty(), "{:#?}", addresses(&second.plan));

        // Deleting them: the grants (and groups) are gone from the manifests of an
        // authoritative org document.
        let mut sources = SourceMap::new();
        sources.add(
            "org.yaml".to_owned(),
            "org: acme\nauthoritative: [grants]\n".to_owned(),
        );
        let empty = pipeline::analyze(&sources);
        assert!(!empty.has_errors(), "{:?}", empty.diagnostics);
        let third = plan(&empty, &emu, &values).await;
        let deletes = third
            .plan
            .changes
            .iter()
            .filter(|c| c.kind == "grant" && c.action == bt_gitops::plan::Action::Delete)
            .count();
        assert!(deletes >= 150, "{:#?}", addresses(&third.plan));
        emu.clear_requests();
        let report = execute(&empty, &emu, &third, &values).await;
        assert!(report.failed.is_empty(), "{:#?}", report.failed);
        let calls = batch_calls(&emu);
        assert_eq!(calls.iter().sum::<usize>(), deletes);
        assert_eq!(calls.len(), deletes.div_ceil(100), "{calls:?}");
        emu.shutdown().await;
    });
}

/// A failed `acl/batch_update` call fails exactly the grants it carried, each reported on its
/// own, and nothing else. Whether a failed call left some of its ACLs in place is not known
/// (assumption G9), so both ends are run: a call refused before anything landed (400) and a call
/// that landed whole but was answered with an error (a gateway's 504 after the server acted).
/// Either way the next plan shows exactly what did not land, and applying it converges.
#[test]
fn a_failed_batch_call_fails_exactly_its_grants() {
    use bt_gitops::emulator::{FaultAction, FaultRule};
    let runtime = crate::support::runtime();
    runtime.block_on(async {
        for (action, left) in [
            (FaultAction::Status { status: 400 }, 100),
            (FaultAction::StatusAfter { status: 400 }, 0),
        ] {
            let emu = crate::support::acme_emulator(true).await;
            let analysis = many_grants(150);
            let values = BTreeMap::new();
            let first = plan(&analysis, &emu, &values).await;
            emu.set_faults(vec![
                FaultRule::new(action.clone())
                    .with_method("POST")
                    .with_path("/v1/acl/batch_update")
                    .times(1),
            ]);
            emu.clear_requests();
            let report = execute_with(&analysis, &emu, &first, &values, 1).await;
            assert_eq!(batch_calls(&emu), vec![100, 50], "{action:?}");
            assert_eq!(report.failed.len(), 100, "{action:?}: {:#?}", report.failed);
            assert!(
                report
                    .failed
                    .iter()
                    .all(|(address, error)| address.contains("grant")
                        && error.contains("acl/batch_update")
                        && error.contains("99 other")),
                "{:#?}",
                report.failed
            );
            assert!(report.skipped.is_empty());
            assert_eq!(
                report.succeeded.len(),
                first.plan.changes.len() - 100,
                "the groups and the other batch's 50 grants went through"
            );
            emu.set_faults(Vec::new());
            let second = plan(&analysis, &emu, &values).await;
            assert_eq!(grant_creates(&second.plan), left, "{action:?}");
            assert_eq!(
                second.plan.changes.len(),
                left,
                "{:#?}",
                addresses(&second.plan)
            );
            let report = execute(&analysis, &emu, &second, &values).await;
            assert!(report.is_clean(), "{report:#?}");
            assert!(plan(&analysis, &emu, &values).await.plan.is_empty());
            emu.shutdown().await;
        }
    });
}
