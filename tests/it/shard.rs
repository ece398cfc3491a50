//! Controller sharding: replicas sharing a repository give each org exactly one active
//! reconciler through per-org leases in the API, and a stopped replica's orgs move within a TTL.

use std::collections::BTreeMap;
use std::time::Duration;

use bt_gitops::api::client::{Client, ClientConfig};
use bt_gitops::controller::shard::Shard;
use bt_gitops::emulator::{EmulatorConfig, SeedDoc};

const ORGS: [&str; 3] = ["north", "south", "west"];

/// Three orgs, each with an owner whose key is `sk-emulator-<org>-...`.
fn seed() -> SeedDoc {
    let orgs: Vec<serde_json::Value> = ORGS
        .iter()
        .map(|org| {
            serde_json::json!({
                "name": org,
                "users": [{
                    "email": format!("ops@{org}.example"),
                    "owner": true,
                    "api_keys": [{ "name": "controller", "key": key(org) }],
                }],
            })
        })
        .collect();
    serde_json::from_value(serde_json::json!({ "orgs": orgs })).expect("seed")
}

fn key(org: &str) -> String {
    format!("sk-emulator-{org}-0000000000000001")
}

/// Which orgs `shard` may reconcile now.
async fn claim_all(shard: &mut Shard, clients: &BTreeMap<&str, Client>) -> Vec<&'static str> {
    let mut mine = Vec::new();
    for org in ORGS {
        if shard
            .claim(org, &clients[org])
            .await
            .expect("API reachable")
        {
            mine.push(org);
        }
    }
    mine
}

#[test]
fn two_replicas_split_the_orgs_and_the_survivor_takes_over_within_a_ttl() {
    let runtime = crate::support::runtime();
    runtime.block_on(async {
        let emu = bt_gitops::emulator::spawn(EmulatorConfig::default().with_seed(seed()))
            .await
            .expect("emulator starts");
        let clients: BTreeMap<&str, Client> = ORGS
            .iter()
            .map(|org| {
                let client = Client::new(ClientConfig::new(emu.url(), &key(org))).expect("client");
                (*org, client)
            })
            .collect();
        let ttl = Duration::from_secs(2);
        let mut a = Shard::new("replica-a", ttl);
        let mut b = Shard::new("replica-b", ttl);

        // Interleaved start: each org goes to exactly one replica, and stays there on renewal.
        let mut first_a = Vec::new();
        let mut first_b = Vec::new();
        for org in ORGS {
            let (x, y) = if org == "south" {
                (&mut b, &mut a)
            } else {
                (&mut a, &mut b)
            };
            let x_got = x.claim(org, &clients[org]).await.expect("claim");
            let y_got = y.claim(org, &clients[org]).await.expect("claim");
            assert!(
                x_got && !y_got,
                "{org}: first claimer holds it, the other is refused"
            );
        }
        for _ in 0..2 {
            first_a = claim_all(&mut a, &clients).await;
            first_b = claim_all(&mut b, &clients).await;
        }
        assert_eq!(first_a, ["north", "west"]);
        assert_eq!(first_b, ["south"]);
        assert_eq!(a.held().collect::<Vec<_>>(), ["north", "west"]);

        // The leases never show as managed objects.
        let north = bt_gitops::model::OrgName::new("north").expect("org name");
        let live =
            bt_gitops::api::read::fetch_org(&clients["north"], &north, &[], &Default::default())
                .await
                .expect("org read");
        let keys = format!("{:?}", live.objects.keys().collect::<Vec<_>>());
        assert!(!keys.contains("LEASE"), "{keys}");

        // Replica a stops renewing (it hangs or dies without releasing). Until its leases
        // expire, b still may not take its orgs; within one TTL after they expire, b holds all
        // three.
        assert_eq!(claim_all(&mut b, &clients).await, ["south"]);
        tokio::time::sleep(ttl + Duration::from_millis(1100)).await;
        assert_eq!(claim_all(&mut b, &clients).await, ORGS);

        // Replica a comes back (a long pause, a healed network split): its leases were taken
        // over, so its renewals fail and it claims nothing.
        assert!(claim_all(&mut a, &clients).await.is_empty());
        assert_eq!(a.held().count(), 0);

        // A replica that shuts down cleanly hands its orgs over at once.
        assert!(b.release_all().await.is_empty());
        let mut c = Shard::new("replica-c", ttl);
        assert_eq!(claim_all(&mut c, &clients).await, ORGS);
        emu.shutdown().await;
    });
}
