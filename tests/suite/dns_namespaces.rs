//! Namespace zones end to end (controller.md §1.2, §3.1 steps 2b and 9; microdns-api.md §3
//! "Namespace zones", R6, R9; issue 11 item 7): a pod annotated `vkube.io/namespace: <ns>`
//! also has its container, pod and alias names in `<ns>.<network zone>` on its network's
//! microdns, which mkube finds or creates itself. Real nats-server, RouterOS simulator and
//! microdns doubles over loopback.

use crate::common::cluster;
use crate::dns_pods::{
    a_records, dns_env, eventually, ip_list, lists_of, two_container_pod, writes_to,
};
use crate::engine_support::*;
use mkube::actors::pods::{Delete, Update};
use mkube::actors::wiring::Cluster;
use mkube::sim::microdns::{self, Fault, MicrodnsSimOptions, RunningMicrodns};

const POD_NAMES: [&str; 5] = ["app.web", "side.web", "web", "www", "api"];

fn zone_names(sim: &RunningMicrodns) -> Vec<String> {
    let mut names: Vec<String> = sim
        .zones()
        .iter()
        .map(|z| z["name"].as_str().unwrap().to_string())
        .collect();
    names.sort();
    names
}

/// POSTs of a record named `name` to `sim`.
fn posts_of(sim: &RunningMicrodns, name: &str) -> usize {
    let body = format!("\"name\":\"{name}\"");
    sim.requests()
        .iter()
        .filter(|r| r.method == "POST" && r.body.contains(&body))
        .count()
}

async fn delete(c: &Cluster, name: &str) {
    c.pods
        .send(Delete {
            namespace: "default".into(),
            name: name.into(),
            correlation: "test".into(),
        })
        .await
        .unwrap()
        .unwrap();
    settle(c, &format!("default/{name}")).await.ok();
}

// R9 / §3.1 2b and 9: the names appear in the namespace zone (created by mkube) at create,
// with TTL 60 and without the network's infrastructure names; a quiet pass lists both zones
// once and writes nothing; a new address moves them (R5); a delete removes them by name and
// address (R6), and a record mkube did not register stays (L-8).
#[actix_rt::test]
async fn namespace_zone_names_appear_move_with_the_ip_and_go_away_on_delete() {
    let e = dns_env().await;
    let c = cluster::boot(&e.env.cfg).await;
    declare(
        &c,
        two_container_pod("web", &[("vkube.io/namespace", "kube")]),
    )
    .await;
    settle(&c, "default/web").await.expect("created");
    let web = &pods_state(&c).await.pods["default/web"];
    let (app_ip, side_ip) = (
        web.containers["app"].ip.clone(),
        web.containers["side"].ip.clone(),
    );
    // The create job registers without waiting for a pass.
    eventually(|| {
        let got = a_records(&e.t, "kube.t.lo");
        POD_NAMES.iter().all(|n| got.contains_key(*n))
    })
    .await;
    let got = a_records(&e.t, "kube.t.lo");
    assert_eq!(got["app.web"], ip_list(&app_ip));
    assert_eq!(got["side.web"], ip_list(&side_ip));
    assert_eq!(got["web"], ip_list(&app_ip));
    assert_eq!(got["api"], ip_list(&side_ip));
    assert_eq!(
        got.len(),
        POD_NAMES.len(),
        "no infrastructure names: {got:?}"
    );
    assert!(e.t.records("kube.t.lo").iter().all(|r| r["ttl"] == 60));
    // The annotation decides, not the pod's Kubernetes namespace (`default`).
    assert_eq!(zone_names(&e.t), ["kube.t.lo", "t.lo"]);

    let report = pass(&c).await.dns.expect("the pass has a DNS step");
    let kube = report.zones.iter().find(|z| z.zone == "kube.t.lo").unwrap();
    assert_eq!(kube.namespace.as_deref(), Some("kube"));
    assert!(kube.error.is_none() && kube.created == 0, "{kube:?}");
    let zone_id =
        e.t.zones()
            .iter()
            .find(|z| z["name"] == "kube.t.lo")
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string();
    e.t.seed_record(
        &zone_id,
        "users-own",
        "A",
        serde_json::json!("127.77.0.90"),
        300,
    );

    // A quiet pass: one list per zone, no write, no event.
    e.t.clear_requests();
    let log = cluster::log(&e.env.cfg).await;
    let seq = log.last_sequence().await.unwrap();
    pass(&c).await;
    assert_eq!(writes_to(&e.t), 0, "a quiet pass writes nothing");
    assert_eq!(lists_of(&e.t), 2, "t.lo and kube.t.lo, once each");
    assert_eq!(seq, log.last_sequence().await.unwrap(), "no event");

    // A new address (recreate with a static IP, §3.3; single-container pods only) moves
    // every name of the pod in the namespace zone.
    let mover = |extra: &[(&str, &str)]| {
        let mut ann = vec![("vkube.io/namespace", "kube"), ("vkube.io/aliases", "mv")];
        ann.extend_from_slice(extra);
        pod("mover", &ann)
    };
    declare(&c, mover(&[])).await;
    settle(&c, "default/mover").await.expect("created");
    let names = ["app.mover", "mover", "mv"];
    let first = pods_state(&c).await.pods["default/mover"].containers["app"]
        .ip
        .clone();
    let all_at = |ip: &str| {
        let got = a_records(&e.t, "kube.t.lo");
        names.iter().all(|n| got.get(*n) == Some(&ip_list(ip)))
    };
    eventually(|| all_at(&first)).await;
    c.pods
        .send(Update {
            pod: mover(&[("vkube.io/static-ip", "127.77.0.60")]),
            correlation: "test".into(),
        })
        .await
        .unwrap()
        .unwrap();
    settle(&c, "default/mover").await.expect("updated");
    eventually(|| all_at("127.77.0.60")).await;
    pass(&c).await;
    assert!(all_at("127.77.0.60"), "{:?}", a_records(&e.t, "kube.t.lo"));
    delete(&c, "mover").await;

    delete(&c, "web").await;
    eventually(|| {
        let got = a_records(&e.t, "kube.t.lo");
        POD_NAMES.iter().all(|n| !got.contains_key(*n))
    })
    .await;
    pass(&c).await;
    let got = a_records(&e.t, "kube.t.lo");
    assert_eq!(got.keys().collect::<Vec<_>>(), ["users-own"], "L-8");
    assert!(!a_records(&e.t, "t.lo").contains_key("web"));
}

// A namespace named after a network is that network's zone: the pod's own network gets its
// names once (no `t.t.lo`, one POST per name); another network's name puts them into that
// network's zone on its own microdns; an `externalDNS` network is never contacted (R13).
#[actix_rt::test]
async fn a_namespace_named_after_a_network_is_that_networks_zone() {
    let mut e = dns_env().await;
    let ext = microdns::start(MicrodnsSimOptions::default())
        .await
        .unwrap();
    let mut external = e.env.cfg.networks[1].clone();
    external.name = "x".into();
    external.cidr = "127.79.0.0/24".into();
    external.gateway = String::new();
    external.external_dns = true;
    external.dns.endpoint = ext.endpoint();
    external.dns.zone = "x.lo".into();
    e.env.cfg.networks.push(external);
    let c = cluster::boot(&e.env.cfg).await;
    declare(&c, pod("solo", &[("vkube.io/namespace", "t")])).await;
    declare(&c, pod("cross", &[("vkube.io/namespace", "u")])).await;
    declare(&c, pod("hidden", &[("vkube.io/namespace", "x")])).await;
    for name in ["solo", "cross", "hidden"] {
        settle(&c, &format!("default/{name}"))
            .await
            .expect("created");
    }
    pass(&c).await;
    pass(&c).await;

    let state = pods_state(&c).await;
    let ip = |pod: &str| {
        state.pods[&format!("default/{pod}")].containers["app"]
            .ip
            .clone()
    };
    let t = a_records(&e.t, "t.lo");
    for pod in ["solo", "cross", "hidden"] {
        assert_eq!(t[pod], ip_list(&ip(pod)));
    }
    assert_eq!(zone_names(&e.t), ["t.lo"], "no namespace zone for `t`");
    assert_eq!(posts_of(&e.t, "solo"), 1);
    assert_eq!(posts_of(&e.t, "app.solo"), 1);
    let u = a_records(&e.u, "u.lo");
    assert_eq!(u["cross"], ip_list(&ip("cross")));
    assert_eq!(u["app.cross"], ip_list(&ip("cross")));
    assert!(!u.contains_key("solo") && !u.contains_key("hidden"));
    assert_eq!(zone_names(&e.u), ["u.lo"]);
    assert!(ext.requests().is_empty(), "externalDNS endpoint contacted");

    delete(&c, "cross").await;
    eventually(|| !a_records(&e.u, "u.lo").contains_key("cross")).await;
    assert!(!a_records(&e.t, "t.lo").contains_key("cross"));
}

// R6 with L-8: names a failed delete left in a namespace zone no pod names any more are
// removed by the next pass (only those mkube registered), and the zone is not recreated.
#[actix_rt::test]
async fn a_missed_delete_is_cleaned_from_the_namespace_zone_by_the_pass() {
    let e = dns_env().await;
    let c = cluster::boot(&e.env.cfg).await;
    declare(&c, pod("api", &[("vkube.io/namespace", "kube")])).await;
    settle(&c, "default/api").await.expect("created");
    eventually(|| a_records(&e.t, "kube.t.lo").contains_key("api")).await;
    pass(&c).await;

    e.t.set_fault(Fault::status(500, "boom").method("DELETE"));
    delete(&c, "api").await;
    // The delete job tried every name in both zones (2 × 2) and failed each time; it runs
    // after the job, so wait for all four attempts before the fault goes.
    let deletes = || {
        e.t.requests()
            .iter()
            .filter(|r| r.method == "DELETE")
            .count()
    };
    eventually(|| deletes() >= 4).await;
    assert!(a_records(&e.t, "kube.t.lo").contains_key("api"));

    e.t.clear_faults();
    let report = pass(&c).await.dns.expect("the pass has a DNS step");
    let kube = report.zones.iter().find(|z| z.zone == "kube.t.lo").unwrap();
    assert_eq!(kube.deleted, 2, "api and app.api: {kube:?}");
    assert!(a_records(&e.t, "kube.t.lo").is_empty());
    assert!(!a_records(&e.t, "t.lo").contains_key("api"));

    // Nothing registered there any more: later passes leave the zone alone.
    e.t.clear_requests();
    pass(&c).await;
    assert_eq!(lists_of(&e.t), 1, "only t.lo is listed");
}
