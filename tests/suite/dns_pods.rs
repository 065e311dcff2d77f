//! The dns actor end to end (microdns-api.md §3–§4, DNS-1, reconcile steps 6–7, L-5, L-8):
//! real nats-server, the RouterOS simulator and the microdns double over loopback HTTP, an
//! in-process standalone cluster whose passes the test drives.

use crate::common::cluster;
use crate::engine_support::*;
use k8s_openapi::api::core::v1::{Container, Pod};
use mkube::actors::dns::state::DnsState;
use mkube::actors::journal::testing::Inspect;
use mkube::actors::pods::Delete;
use mkube::config::{DhcpReservation, StaticRecord};
use mkube::sim::microdns::{self, Fault, FaultKind, MicrodnsSimOptions, RunningMicrodns};
use std::collections::BTreeMap;

pub(crate) struct DnsEnv {
    pub(crate) env: Env,
    pub(crate) t: RunningMicrodns,
    pub(crate) u: RunningMicrodns,
}

/// Networks `t` and `u` each get their own double; `t` carries a static record and a DHCP
/// reservation name.
pub(crate) async fn dns_env() -> DnsEnv {
    let mut env = env().await;
    let t = microdns::start(MicrodnsSimOptions::default())
        .await
        .unwrap();
    let u = microdns::start(MicrodnsSimOptions::default())
        .await
        .unwrap();
    env.cfg.networks[0].dns.endpoint = t.endpoint();
    env.cfg.networks[0].dns.static_records = vec![StaticRecord {
        name: "nas".into(),
        ip: "127.77.0.40".into(),
    }];
    env.cfg.networks[0].dns.dhcp.reservations = vec![DhcpReservation {
        mac: "02:00:00:00:00:01".into(),
        ip: "127.77.0.41".into(),
        hostname: "printer".into(),
    }];
    env.cfg.networks[1].dns.endpoint = u.endpoint();
    DnsEnv { env, t, u }
}

/// name → sorted addresses of the A records in `zone`.
pub(crate) fn a_records(sim: &RunningMicrodns, zone: &str) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for r in sim.records(zone) {
        if r["type"] == "A" {
            out.entry(r["name"].as_str().unwrap().to_string())
                .or_default()
                .push(r["data"]["data"].as_str().unwrap().to_string());
        }
    }
    for ips in out.values_mut() {
        ips.sort();
    }
    out
}

pub(crate) fn ip_list(ip: &str) -> Vec<String> {
    vec![ip.to_string()]
}

/// `web` with two containers and aliases `www` (first container) and `api=side`.
pub(crate) fn two_container_pod(name: &str, extra: &[(&str, &str)]) -> Pod {
    let mut ann = vec![("vkube.io/aliases", "www, api=side, ,ghost=nope")];
    ann.extend_from_slice(extra);
    let mut p = pod(name, &ann);
    let spec = p.spec.as_mut().unwrap();
    let mut side: Container = spec.containers[0].clone();
    side.name = "side".into();
    side.volume_mounts = None;
    spec.containers.push(side);
    p
}

/// Waits up to 10 s for `cond`.
pub(crate) async fn eventually(cond: impl Fn() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !cond() {
        assert!(std::time::Instant::now() < deadline, "condition never held");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

pub(crate) fn writes_to(sim: &RunningMicrodns) -> usize {
    sim.requests().iter().filter(|r| r.method != "GET").count()
}

pub(crate) fn lists_of(sim: &RunningMicrodns) -> usize {
    sim.requests()
        .iter()
        .filter(|r| r.method == "GET" && r.path.ends_with("/records"))
        .count()
}

// DNS-1 / R8: the first pass creates the zone and registers static, reservation, rose1 and
// dns names (TTL 300); R9: a pod's container, pod and alias names follow its addresses.
#[actix_rt::test]
async fn pod_names_appear_move_with_the_ip_and_disappear() {
    let e = dns_env().await;
    let c = cluster::boot(&e.env.cfg).await;
    declare(&c, two_container_pod("web", &[])).await;
    settle(&c, "default/web").await.expect("created");
    pass(&c).await;

    let state = pods_state(&c).await;
    let web = &state.pods["default/web"];
    let app_ip = web.containers["app"].ip.clone();
    let side_ip = web.containers["side"].ip.clone();
    assert!(!app_ip.is_empty() && !side_ip.is_empty() && app_ip != side_ip);
    let got = a_records(&e.t, "t.lo");
    assert_eq!(got["app.web"], ip_list(&app_ip));
    assert_eq!(got["side.web"], ip_list(&side_ip));
    assert_eq!(got["web"], ip_list(&app_ip));
    assert_eq!(got["www"], ip_list(&app_ip));
    assert_eq!(got["api"], ip_list(&side_ip));
    assert!(
        !got.contains_key("ghost"),
        "an alias naming an unknown container is skipped"
    );
    assert_eq!(got["nas"], ip_list("127.77.0.40"));
    assert_eq!(got["printer"], ip_list("127.77.0.41"));
    assert_eq!(got["rose1"], ip_list("127.77.0.1"));
    assert_eq!(got["dns"], ip_list("127.77.0.252"));
    let ttl_of = |name: &str| {
        e.t.records("t.lo")
            .into_iter()
            .find(|r| r["name"] == name)
            .map(|r| r["ttl"].as_u64().unwrap())
    };
    assert_eq!(ttl_of("web"), Some(60));
    assert_eq!(ttl_of("nas"), Some(300));
    // Network u has no pods: only its infrastructure names.
    let u = a_records(&e.u, "u.lo");
    assert_eq!(u.keys().collect::<Vec<_>>(), ["dns", "rose1"]);

    // A new static IP moves a pod (recreate, §3.3): its old A records go, the new ones come.
    declare(&c, pod("solo", &[])).await;
    settle(&c, "default/solo").await.expect("created");
    let first_ip = pods_state(&c).await.pods["default/solo"].containers["app"]
        .ip
        .clone();
    // The job hands the names to the dns actor without waiting for it.
    eventually(|| a_records(&e.t, "t.lo").get("solo") == Some(&ip_list(&first_ip))).await;
    let moved = pod("solo", &[("vkube.io/static-ip", "127.77.0.60")]);
    c.pods
        .send(mkube::actors::pods::Update {
            pod: moved,
            correlation: "test".into(),
        })
        .await
        .unwrap()
        .unwrap();
    settle(&c, "default/solo").await.expect("updated");
    eventually(|| a_records(&e.t, "t.lo").get("solo") == Some(&ip_list("127.77.0.60"))).await;
    let got = a_records(&e.t, "t.lo");
    assert_eq!(got["app.solo"], ip_list("127.77.0.60"));
    pass(&c).await;
    assert_eq!(a_records(&e.t, "t.lo")["solo"], ip_list("127.77.0.60"));

    // Deleting the pod removes its names; the infrastructure names stay.
    c.pods
        .send(Delete {
            namespace: "default".into(),
            name: "web".into(),
            correlation: "test".into(),
        })
        .await
        .unwrap()
        .unwrap();
    settle(&c, "default/web").await.ok();
    // R6: the delete job deregisters the pod's names itself, before any pass.
    eventually(|| {
        let got = a_records(&e.t, "t.lo");
        ["web", "www", "api", "app.web", "side.web"]
            .iter()
            .all(|n| !got.contains_key(*n))
    })
    .await;
    pass(&c).await;
    let got = a_records(&e.t, "t.lo");
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        ["app.solo", "dns", "nas", "printer", "rose1", "solo"]
    );
}

// Reconcile step 7 / R9: a microdns that restarts empty is repopulated by the next pass, and
// a pass with nothing to do lists each zone once and writes nothing (R7 done per pass).
#[actix_rt::test]
async fn a_wiped_server_is_repopulated_in_one_pass_and_a_quiet_pass_only_lists() {
    let e = dns_env().await;
    let c = cluster::boot(&e.env.cfg).await;
    declare(&c, pod("api", &[])).await;
    settle(&c, "default/api").await.expect("created");
    pass(&c).await;
    let before = a_records(&e.t, "t.lo");
    assert!(before.contains_key("api") && before.contains_key("app.api"));

    e.t.clear_requests();
    e.u.clear_requests();
    let seq = cluster::log(&e.env.cfg)
        .await
        .last_sequence()
        .await
        .unwrap();
    pass(&c).await;
    assert_eq!(
        writes_to(&e.t) + writes_to(&e.u),
        0,
        "a quiet pass writes nothing"
    );
    assert_eq!(
        (lists_of(&e.t), lists_of(&e.u)),
        (1, 1),
        "one paged list per zone"
    );
    let after = cluster::log(&e.env.cfg)
        .await
        .last_sequence()
        .await
        .unwrap();
    assert_eq!(seq, after, "a quiet pass appends no event");

    e.t.set_fault(Fault::new(FaultKind::Wipe));
    assert!(e.t.zones().is_empty());
    pass(&c).await;
    assert_eq!(
        a_records(&e.t, "t.lo"),
        before,
        "repopulated within one pass"
    );
    let dns: DnsState = c.dns.send(Inspect::<DnsState>::new()).await.unwrap();
    let new_id = e.t.zones()[0]["id"].as_str().unwrap().to_string();
    assert_eq!(
        dns.zones["t"].zone_id, new_id,
        "the new zone id is recorded"
    );
}

// L-8: cleanup only removes names mkube registered itself; a user's record survives, and
// so does a record microdns made for a DHCP client. A record of an expected name with a
// wrong address is corrected (R5), a duplicate removed (R8).
#[actix_rt::test]
async fn cleanup_keeps_records_mkube_did_not_register() {
    let e = dns_env().await;
    let zone_id = e.t.seed_zone("t.lo");
    let a = |ip: &str| serde_json::json!({"type": "A", "data": ip});
    e.t.seed_record(&zone_id, "users-own", "A", a("127.77.0.90"), 300);
    e.t.seed_record(&zone_id, "dhcp-client", "A", a("127.77.0.91"), 300);
    e.t.seed_record(&zone_id, "nas", "A", a("127.77.0.99"), 300);
    e.t.seed_record(&zone_id, "rose1", "A", a("127.77.0.1"), 300);
    e.t.seed_record(&zone_id, "rose1", "A", a("127.77.0.1"), 300);
    e.t.seed_record(
        &zone_id,
        "txt",
        "TXT",
        serde_json::json!({"type": "TXT", "data": "hello"}),
        300,
    );
    let c = cluster::boot(&e.env.cfg).await;
    declare(&c, pod("gone", &[])).await;
    settle(&c, "default/gone").await.expect("created");
    pass(&c).await;
    assert!(a_records(&e.t, "t.lo").contains_key("gone"));
    c.pods
        .send(Delete {
            namespace: "default".into(),
            name: "gone".into(),
            correlation: "test".into(),
        })
        .await
        .unwrap()
        .unwrap();
    settle(&c, "default/gone").await.ok();
    pass(&c).await;
    let got = a_records(&e.t, "t.lo");
    assert_eq!(got["users-own"], ip_list("127.77.0.90"));
    assert_eq!(got["dhcp-client"], ip_list("127.77.0.91"));
    assert_eq!(
        got["nas"],
        ip_list("127.77.0.40"),
        "a wrong address of an expected name is corrected"
    );
    assert_eq!(got["rose1"], ip_list("127.77.0.1"), "the duplicate is gone");
    assert!(!got.contains_key("gone") && !got.contains_key("app.gone"));
    assert!(
        e.t.records("t.lo").iter().any(|r| r["type"] == "TXT"),
        "non-A records are kept"
    );
}

// L-5: an endpoint that does not answer costs its own zone one timeout per pass and delays
// no other zone; while it stays down it is gated by its health check, and it is synced as
// soon as it answers again. R13: an externalDNS network is never contacted.
#[actix_rt::test]
async fn an_unreachable_endpoint_is_skipped_and_external_dns_never_contacted() {
    let mut e = dns_env().await;
    let ext = microdns::start(MicrodnsSimOptions::default())
        .await
        .unwrap();
    let mut external = e.env.cfg.networks[1].clone();
    external.name = "x".into();
    external.bridge = "u".into();
    external.cidr = "127.79.0.0/24".into();
    external.gateway = String::new();
    external.external_dns = true;
    external.dns.endpoint = ext.endpoint();
    external.dns.zone = "x.lo".into();
    e.env.cfg.networks.push(external);
    e.u.set_fault(Fault::new(FaultKind::Blackhole));
    let c = cluster::boot(&e.env.cfg).await;
    // Boot already synced the zones once (DNS-1 at boot); this pass is the next one.
    let report = c.dns.send(mkube::actors::dns::SyncZones {
        pods: std::sync::Arc::new(pods_state(&c).await),
        correlation: "test".into(),
    });
    let report = report.await.unwrap();
    let by_net: BTreeMap<_, _> = report
        .zones
        .iter()
        .map(|z| (z.network.clone(), z))
        .collect();
    assert!(by_net["t"].error.is_none(), "{:?}", by_net["t"]);
    assert!(
        by_net["u"]
            .error
            .as_deref()
            .unwrap_or_default()
            .contains("unreachable")
    );
    let x = by_net["x"];
    assert!(
        x.external && x.error.is_none(),
        "externalDNS passes without a call (R13): {x:?}"
    );
    assert!(a_records(&e.t, "t.lo").contains_key("rose1"));
    // The boot sync tried the zone list once and timed out; after that only the health
    // check is asked.
    let routes: Vec<String> = e.u.requests().iter().map(|r| r.path.clone()).collect();
    assert_eq!(
        routes.iter().filter(|p| !p.ends_with("/health")).count(),
        1,
        "one timed-out call to the dead endpoint: {routes:?}"
    );

    // Still down: the next pass asks only its health endpoint.
    e.u.clear_requests();
    pass(&c).await;
    let paths: Vec<String> = e.u.requests().iter().map(|r| r.path.clone()).collect();
    assert!(paths.iter().all(|p| p.ends_with("/health")), "{paths:?}");

    e.u.clear_faults();
    // The health verdict is cached (15 s): wait it out through the gate's own clock by
    // retrying passes until the zone is synced.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(40);
    while !a_records(&e.u, "u.lo").contains_key("rose1") {
        assert!(
            std::time::Instant::now() < deadline,
            "u never synced after recovery"
        );
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        pass(&c).await;
    }
    assert!(ext.requests().is_empty(), "externalDNS endpoint contacted");
}

// R12 `GET /api/v1/dns/validate`: every expected name checked per kind, a duplicate warned
// about, and each network's DNS server asked for the other networks' `rose1` over real UDP.
#[actix_rt::test]
async fn validate_reports_records_duplicates_and_forwarding() {
    use actix_web::{App, test as web_test, web};
    use mkube::api::{ApiState, configure};

    let mut e = dns_env().await;
    // Network u's DNS server answers on its address, port 53, and holds t.lo's rose1 as a
    // forwarder would (R12 only checks that the name resolves there).
    let opts = MicrodnsSimOptions {
        dns_listen: Some("127.78.0.252:53".parse().unwrap()),
        ..Default::default()
    };
    let Ok(resolver) = microdns::start(opts).await else {
        println!("SKIPPED: cannot listen on 127.78.0.252:53 (needs root or CAP_NET_BIND_SERVICE)");
        return;
    };
    let zone = resolver.seed_zone("t.lo");
    resolver.seed_record(&zone, "rose1", "A", serde_json::json!("127.77.0.1"), 300);
    e.env.cfg.networks[0].dns.static_records[0].ip = "127.77.0.40".into();
    let c = cluster::boot(&e.env.cfg).await;
    declare(&c, pod("web", &[])).await;
    settle(&c, "default/web").await.expect("created");
    pass(&c).await;
    let zone_t = e.t.zones()[0]["id"].as_str().unwrap().to_string();
    e.t.seed_record(&zone_t, "nas", "A", serde_json::json!("127.77.0.40"), 300);
    e.t.seed_record(
        &zone_t,
        "printer",
        "A",
        serde_json::json!("127.77.0.99"),
        300,
    );

    let state = ApiState::new(
        cluster::NODE,
        mkube::metrics::Metrics::new(),
        &e.env.cfg.networks,
    );
    let _ = state.cluster.set(c.clone());
    let app = web_test::init_service(
        App::new()
            .app_data(web::Data::new(state))
            .configure(configure),
    )
    .await;
    let req = web_test::TestRequest::get()
        .uri("/api/v1/dns/validate")
        .to_request();
    let body: serde_json::Value = web_test::call_and_read_body_json(&app, req).await;
    let status: BTreeMap<String, String> = body["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap().to_string(),
                c["status"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let is = |name: &str, want: &str| {
        assert_eq!(
            status.get(name).map(String::as_str),
            Some(want),
            "{name}: {status:?}"
        );
    };
    is("zone/t/reachable", "pass");
    is("zone/t/pod/web", "pass");
    is("zone/t/pod/app.web", "pass");
    is("zone/t/static/nas", "pass");
    is("zone/t/duplicate/nas", "warn");
    is("zone/t/reservation/printer", "pass");
    is("zone/t/infra/rose1", "pass");
    is("zone/t/infra/dns", "pass");
    is("zone/u/reachable", "pass");
    is("forward/u->t/rose1", "pass");
    is("forward/t->u/rose1", "fail");
    assert!(body["summary"]["fail"].as_u64().unwrap() >= 1);
    assert!(body["timestamp"].as_str().unwrap().ends_with('Z'));
    resolver.stop();
}
