//! The microdns REST client, pass context, health gate and DNS liveness probe against the
//! microdns test double over real loopback sockets (microdns-api.md R1–R7, controller.md L-5).

use std::net::SocketAddr;
use std::time::Duration;

use mkube::microdns::{HealthGate, MicrodnsClient, MicrodnsError, PassContext, dns_alive};
use mkube::sim::microdns::{self, Fault, FaultKind, MicrodnsSimOptions, RunningMicrodns};
use serde_json::json;

async fn double() -> RunningMicrodns {
    microdns::start(MicrodnsSimOptions::default())
        .await
        .expect("microdns double starts")
}

fn client() -> MicrodnsClient {
    MicrodnsClient::new().expect("client")
}

fn count(sim: &RunningMicrodns, method: &str, path_suffix: &str) -> usize {
    sim.requests()
        .iter()
        .filter(|r| r.method == method && r.path.ends_with(path_suffix))
        .count()
}

/// An address where nothing listens: bound, then closed again.
fn closed_tcp_endpoint() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = l.local_addr().expect("addr");
    drop(l);
    format!("http://{addr}")
}

#[tokio::test]
async fn r3_list_records_pages_through_250_records() {
    let sim = double().await;
    let zone = sim.seed_zone("gt.lo");
    for i in 0..250 {
        sim.seed_record(
            &zone,
            &format!("host{i}"),
            "A",
            json!(format!("10.0.{}.{}", i / 200, i % 200)),
            60,
        );
    }
    sim.clear_requests();
    let records = client()
        .list_records(&sim.endpoint(), &zone)
        .await
        .expect("list");
    assert_eq!(records.len(), 250);
    let queries: Vec<String> = sim.requests().into_iter().map(|r| r.query).collect();
    assert_eq!(
        queries,
        [
            "limit=100&offset=0",
            "limit=100&offset=100",
            "limit=100&offset=200"
        ]
    );
}

#[tokio::test]
async fn zone_list_sees_more_than_100_zones() {
    // R2's blind spot: an unpaged GET /zones saw only the first 100.
    let sim = double().await;
    for i in 0..150 {
        sim.seed_zone(&format!("z{i}.lo"));
    }
    let c = client();
    assert_eq!(
        c.list_zones(&sim.endpoint()).await.expect("zones").len(),
        150
    );
    sim.clear_requests();
    let id = c
        .ensure_zone(&sim.endpoint(), "z149.lo")
        .await
        .expect("ensure");
    assert_eq!(id, sim.seed_zone("z149.lo"));
    assert_eq!(
        count(&sim, "POST", "/zones"),
        0,
        "an existing zone is never re-created"
    );
}

#[tokio::test]
async fn ensure_zone_creates_a_missing_zone_once() {
    let sim = double().await;
    let c = client();
    let id = c
        .ensure_zone(&sim.endpoint(), "gt.lo")
        .await
        .expect("create");
    assert_eq!(
        c.ensure_zone(&sim.endpoint(), "gt.lo").await.expect("find"),
        id
    );
    assert_eq!(
        c.ensure_zone(&sim.endpoint(), "gt.lo.")
            .await
            .expect("trailing dot"),
        id
    );
    assert_eq!(count(&sim, "POST", "/zones"), 1);
}

#[tokio::test]
async fn ensure_zone_treats_409_as_exists() {
    let sim = double().await;
    let id = sim.seed_zone("gt.lo");
    // The first list misses the zone (as a racing create would), so the POST gets 409.
    sim.set_fault(
        Fault::new(FaultKind::Status {
            code: 200,
            body: "[]".into(),
        })
        .route("/api/v1/zones")
        .method("GET")
        .count(1),
    );
    let got = client()
        .ensure_zone(&sim.endpoint(), "gt.lo")
        .await
        .expect("ensure");
    assert_eq!(got, id);
    let statuses: Vec<(String, u16)> = sim
        .requests()
        .into_iter()
        .map(|r| (r.method, r.status))
        .collect();
    assert_eq!(
        statuses,
        [
            ("GET".into(), 200),
            ("POST".into(), 409),
            ("GET".into(), 200)
        ]
    );
}

#[tokio::test]
async fn create_a_record_tells_new_201_from_dedup_200() {
    let sim = double().await;
    let zone = sim.seed_zone("gt.lo");
    let c = client();
    let (first, created) = c
        .create_a_record(&sim.endpoint(), &zone, "web", "10.0.0.5", 60)
        .await
        .expect("create");
    assert!(created);
    assert_eq!(
        (first.name.as_str(), first.value_str(), first.ttl),
        ("web", Some("10.0.0.5"), 60)
    );
    let (again, created) = c
        .create_a_record(&sim.endpoint(), &zone, "web", "10.0.0.5", 300)
        .await
        .expect("dedup");
    assert!(!created);
    assert_eq!(again.id, first.id);
    assert_eq!(sim.records("gt.lo").len(), 1);
}

#[tokio::test]
async fn plain_text_error_bodies_are_surfaced() {
    let sim = double().await;
    let err = client()
        .list_records(&sim.endpoint(), "6f1c1c3e-4a8b-4c56-9d7e-1f2a3b4c5d6e")
        .await
        .expect_err("unknown zone");
    assert_eq!(err.status(), Some(404));
    assert!(!err.is_transport());
    assert!(err.to_string().contains("zone not found"), "{err}");

    let zone = sim.seed_zone("gt.lo");
    let err = client()
        .create_a_record(&sim.endpoint(), &zone, "web", "not-an-ip", 60)
        .await
        .expect_err("bad A data");
    assert_eq!(err.status(), Some(422), "{err}");
}

#[tokio::test]
async fn bad_json_is_a_decode_error() {
    let sim = double().await;
    sim.seed_zone("gt.lo");
    sim.set_fault(
        Fault::new(FaultKind::BadJson {
            mode: Default::default(),
        })
        .route("/api/v1/zones"),
    );
    let err = client()
        .list_zones(&sim.endpoint())
        .await
        .expect_err("bad json");
    assert!(matches!(err, MicrodnsError::Decode { .. }), "{err}");
}

#[tokio::test]
async fn r7_blackholed_endpoint_costs_one_timeout_then_is_skipped_for_the_pass() {
    // R1: 3 s per request, no retries. L-5/R7: the pass remembers the failure and sends
    // nothing more to that endpoint, while other endpoints are still served.
    let dead = double().await;
    let live = double().await;
    let dead_zone = dead.seed_zone("gt.lo");
    let live_zone = live.seed_zone("gw.lo");
    dead.set_fault(Fault::new(FaultKind::Blackhole));

    let mut pass = PassContext::new(client());
    let err = pass
        .register_host(&dead.endpoint(), &dead_zone, "web", "10.0.0.5", 60)
        .await
        .expect_err("blackhole");
    assert!(matches!(err, MicrodnsError::Transport { .. }), "{err}");
    assert!(pass.is_failed(&dead.endpoint()));
    let sent = dead.requests().len();
    assert!(sent <= 1, "one request, no retry: {:?}", dead.requests());

    for r in [
        pass.register_host(&dead.endpoint(), &dead_zone, "db", "10.0.0.6", 60)
            .await
            .map(|_| 0),
        pass.deregister_host(&dead.endpoint(), &dead_zone, "web")
            .await,
        pass.clean_stale(&dead.endpoint(), &dead_zone, "web", "10.0.0.5")
            .await,
        pass.ensure_zone(&dead.endpoint(), "gt.lo").await.map(|_| 0),
    ] {
        assert!(matches!(r, Err(MicrodnsError::Skipped { .. })), "{r:?}");
    }
    assert_eq!(
        dead.requests().len(),
        sent,
        "no HTTP to a failed endpoint in the same pass"
    );

    assert!(
        pass.register_host(&live.endpoint(), &live_zone, "web", "10.0.1.5", 60)
            .await
            .expect("live")
    );
    assert_eq!(pass.failed_endpoints(), [dead.endpoint()]);

    // A new pass tries again.
    dead.clear_faults();
    let mut next = PassContext::new(client());
    assert!(
        next.register_host(&dead.endpoint(), &dead_zone, "web", "10.0.0.5", 60)
            .await
            .expect("recovered")
    );
}

#[tokio::test]
async fn r7_refused_endpoint_fails_fast_and_is_skipped() {
    let endpoint = closed_tcp_endpoint();
    let mut pass = PassContext::new(client());
    let err = pass
        .ensure_zone(&endpoint, "gt.lo")
        .await
        .expect_err("refused");
    assert!(err.is_transport(), "{err}");
    let again = pass
        .ensure_zone(&endpoint, "gt.lo")
        .await
        .expect_err("skipped");
    assert!(matches!(again, MicrodnsError::Skipped { .. }), "{again}");
}

#[tokio::test]
async fn r7_one_paged_list_per_zone_per_pass_dropped_after_a_write() {
    let sim = double().await;
    let zone = sim.seed_zone("gt.lo");
    for i in 0..120 {
        sim.seed_record(
            &zone,
            &format!("h{i}"),
            "A",
            json!(format!("10.0.0.{}", i + 1)),
            60,
        );
    }
    let ep = sim.endpoint();
    sim.clear_requests();
    let mut pass = PassContext::new(client());
    for i in 0..5 {
        let created = pass
            .register_host(
                &ep,
                &zone,
                &format!("h{i}"),
                &format!("10.0.0.{}", i + 1),
                60,
            )
            .await
            .expect("register");
        assert!(!created, "already there");
    }
    assert_eq!(
        count(&sim, "GET", "/records"),
        2,
        "one paged list (2 pages) for 5 registrations"
    );
    assert_eq!(count(&sim, "POST", "/records"), 0);

    assert!(
        pass.register_host(&ep, &zone, "new", "10.0.9.1", 60)
            .await
            .expect("new")
    );
    assert!(
        !pass
            .register_host(&ep, &zone, "new", "10.0.9.1", 60)
            .await
            .expect("seen after write")
    );
    assert_eq!(
        count(&sim, "GET", "/records"),
        4,
        "the write dropped the cached list once"
    );
    assert_eq!(count(&sim, "POST", "/records"), 1);
}

#[tokio::test]
async fn r4_r5_r6_register_clean_and_deregister() {
    let sim = double().await;
    let zone = sim.seed_zone("gt.lo");
    let ep = sim.endpoint();
    sim.seed_record(&zone, "web", "A", json!("10.0.0.5"), 60);
    sim.seed_record(&zone, "web", "A", json!("10.0.0.6"), 60);
    sim.seed_record(&zone, "web", "TXT", json!("keep me"), 60);
    sim.seed_record(&zone, "rr", "A", json!("10.0.0.7"), 60);
    sim.seed_record(&zone, "rr", "A", json!("10.0.0.8"), 60);
    let mut pass = PassContext::new(client());

    // R4: idempotent.
    assert!(
        !pass
            .register_host(&ep, &zone, "web", "10.0.0.5", 60)
            .await
            .expect("exists")
    );
    // R5: other IPs of the name go, non-A records stay.
    assert_eq!(
        pass.clean_stale(&ep, &zone, "web", "10.0.0.5")
            .await
            .expect("clean"),
        1
    );
    assert_eq!(
        pass.clean_stale(&ep, &zone, "web", "10.0.0.5")
            .await
            .expect("clean again"),
        0
    );
    // R6 by IP: the round-robin peer survives.
    assert_eq!(
        pass.deregister_host_by_ip(&ep, &zone, "rr", "10.0.0.7")
            .await
            .expect("by ip"),
        1
    );
    // R6 by name: every A record of the name.
    assert_eq!(
        pass.deregister_host(&ep, &zone, "web")
            .await
            .expect("by name"),
        1
    );

    let mut left: Vec<(String, String, String)> = sim
        .records("gt.lo")
        .into_iter()
        .map(|r| {
            let s = |k: &str| r[k].as_str().unwrap_or_default().to_string();
            (
                s("name"),
                s("type"),
                r["data"]["data"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    left.sort();
    assert_eq!(
        left,
        [
            ("rr".into(), "A".into(), "10.0.0.8".into()),
            ("web".into(), "TXT".into(), "keep me".into()),
        ]
    );
}

#[tokio::test]
async fn r5_a_failed_delete_is_skipped_and_the_clean_goes_on() {
    let sim = double().await;
    let zone = sim.seed_zone("gt.lo");
    let ep = sim.endpoint();
    for ip in ["10.0.0.1", "10.0.0.2", "10.0.0.3"] {
        sim.seed_record(&zone, "web", "A", json!(ip), 60);
    }
    sim.set_fault(
        Fault::new(FaultKind::Status {
            code: 500,
            body: "internal server error".into(),
        })
        .method("DELETE")
        .count(1),
    );
    let mut pass = PassContext::new(client());
    assert_eq!(
        pass.clean_stale(&ep, &zone, "web", "10.0.0.3")
            .await
            .expect("clean"),
        1
    );
    assert!(
        !pass.is_failed(&ep),
        "an answer with an error status is not a dead endpoint"
    );
    assert_eq!(sim.records("gt.lo").len(), 2);
}

#[tokio::test]
async fn health_gate_caches_answers_per_endpoint() {
    let sim = double().await;
    let c = client();
    let ep = sim.endpoint();
    let mut gate = HealthGate::new();
    assert!(gate.is_healthy(&c, &ep).await);
    assert!(gate.is_healthy(&c, &ep).await);
    assert_eq!(count(&sim, "GET", "/health"), 1, "answer kept for 15 s");

    // A fresh verdict when the cache has expired (ttl 0 here): 503 means unhealthy.
    sim.set_fault(
        Fault::new(FaultKind::Status {
            code: 503,
            body: "{\"status\":\"unhealthy\"}".into(),
        })
        .route("/api/v1/health"),
    );
    let mut strict = HealthGate::with_ttl(Duration::ZERO);
    assert!(!strict.is_healthy(&c, &ep).await);
    sim.clear_faults();
    assert!(strict.is_healthy(&c, &ep).await);
    assert_eq!(strict.last(&ep), Some(true));

    // The pass consults the gate: an unhealthy endpoint is failed for the pass.
    let dead = closed_tcp_endpoint();
    let mut pass = PassContext::new(c.clone());
    assert!(!pass.check_health(&mut gate, &dead).await);
    assert!(pass.is_failed(&dead));
    assert!(pass.check_health(&mut gate, &ep).await);
}

#[tokio::test]
async fn dns_alive_counts_nxdomain_and_refused_as_alive() {
    let sim = microdns::start(MicrodnsSimOptions {
        dns_listen: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
        ..Default::default()
    })
    .await
    .expect("double with DNS");
    let zone = sim.seed_zone("gt.lo");
    sim.seed_record(&zone, "web", "A", json!("10.0.0.5"), 60);
    let dns = sim.dns_addr().expect("dns port");
    let t = Duration::from_secs(2);
    assert!(dns_alive(dns, "web.gt.lo", t).await.expect("answer"));
    assert!(
        dns_alive(dns, "missing.gt.lo", t).await.expect("NXDOMAIN"),
        "NXDOMAIN = alive"
    );
    assert!(
        dns_alive(dns, "elsewhere.example", t)
            .await
            .expect("REFUSED"),
        "REFUSED = alive"
    );
}

#[tokio::test]
async fn dns_alive_is_false_on_a_closed_port_and_errors_on_a_bad_name() {
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
    let addr = sock.local_addr().expect("addr");
    drop(sock);
    assert!(
        !dns_alive(addr, "web.gt.lo", Duration::from_millis(500))
            .await
            .expect("probe")
    );

    // A port that swallows queries: not alive once the timeout passes.
    let silent = tokio::net::UdpSocket::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = silent.local_addr().expect("addr");
    assert!(
        !dns_alive(addr, "web.gt.lo", Duration::from_millis(300))
            .await
            .expect("probe")
    );

    let bad = "a".repeat(70) + ".lo";
    assert!(
        dns_alive(addr, &bad, Duration::from_millis(300))
            .await
            .is_err()
    );
}

#[tokio::test]
async fn r1_a_stalled_body_times_out_as_a_transport_error() {
    // The 3 s limit covers the body too (R1), not only the headers.
    let sim = double().await;
    sim.seed_zone("gt.lo");
    sim.set_fault(Fault::new(FaultKind::StallBody { after_bytes: 8 }).route("/api/v1/zones"));
    let err = client()
        .list_zones(&sim.endpoint())
        .await
        .expect_err("stalled");
    assert!(err.is_transport(), "{err}");
}

#[tokio::test]
async fn r3_paging_stops_when_the_server_always_sends_full_pages() {
    // A server that ignores offset must not keep the client looping.
    let sim = double().await;
    let zone = sim.seed_zone("gt.lo");
    for i in 0..10 {
        sim.seed_record(
            &zone,
            &format!("h{i}"),
            "A",
            json!(format!("10.0.0.{}", i + 1)),
            60,
        );
    }
    sim.set_fault(Fault::new(FaultKind::PageOverride {
        items: 100,
        repeat: true,
    }));
    let err = client()
        .list_records(&sim.endpoint(), &zone)
        .await
        .expect_err("no progress");
    assert!(matches!(err, MicrodnsError::Decode { .. }), "{err}");
    assert!(
        sim.requests().len() <= 3,
        "{} requests",
        sim.requests().len()
    );
}

#[tokio::test]
async fn r3_an_item_seen_twice_across_pages_is_kept_once() {
    // §1.4: pages are no snapshot; an insert after page 1 shifts page 2 by one.
    let sim = double().await;
    let zone = sim.seed_zone("gt.lo");
    for i in 0..150 {
        sim.seed_record(&zone, &format!("h{i:03}"), "A", json!("10.0.0.1"), 60);
    }
    sim.set_fault(Fault::new(FaultKind::MutateBetweenPages {
        after_page: 1,
        action: microdns::Mutation::Insert,
    }));
    let records = client()
        .list_records(&sim.endpoint(), &zone)
        .await
        .expect("list");
    let mut ids: Vec<&str> = records.iter().map(|r| r.id.as_str()).collect();
    let n = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), n, "no duplicate ids");
    assert_eq!(
        n, 150,
        "the shifted item is seen once; the inserted one sorts before page 2"
    );
}

#[tokio::test]
async fn dns_alive_ignores_datagrams_that_are_not_the_answer() {
    // A responder that sends garbage and an answer to another query id: not alive.
    let fake = tokio::net::UdpSocket::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = fake.local_addr().expect("addr");
    let responder = tokio::spawn(async move {
        let mut buf = [0u8; 512];
        let (n, from) = fake.recv_from(&mut buf).await.expect("query");
        let _ = fake.send_to(b"not dns", from).await;
        let mut wrong = buf[..n].to_vec();
        wrong[0] ^= 0xff; // another id
        wrong[2] |= 0x80; // QR: a response
        let _ = fake.send_to(&wrong, from).await;
        fake
    });
    assert!(
        !dns_alive(addr, "web.gt.lo", Duration::from_millis(400))
            .await
            .expect("probe")
    );
    let _ = responder.await.expect("responder");
}

// `/metrics`: every write counts by operation, and the refused ones (bad data, a 500, a
// closed port) count as failures too; a delete of a record already gone (404) and a create
// of a zone that exists (409) do not, as their callers take them as done. Reads count
// nowhere.
#[tokio::test]
async fn writes_and_their_failures_are_counted_by_operation() {
    let sim = double().await;
    let metrics = mkube::metrics::Metrics::new();
    let c = client().with_metrics(metrics.clone());
    let endpoint = sim.endpoint();
    let zone = c.ensure_zone(&endpoint, "gt.lo").await.expect("zone");
    let (record, _) = c
        .create_a_record(&endpoint, &zone, "web", "10.0.0.5", 60)
        .await
        .expect("record");
    c.create_a_record(&endpoint, &zone, "web", "not-an-ip", 60)
        .await
        .expect_err("bad A data");
    sim.set_fault(Fault::status(500, "boom").method("DELETE").count(1));
    c.delete_record(&endpoint, &zone, &record.id)
        .await
        .expect_err("500");
    c.delete_record(&endpoint, &zone, &record.id)
        .await
        .expect("deleted");
    let gone = c.delete_record(&endpoint, &zone, &record.id).await;
    assert_eq!(gone.expect_err("gone").status(), Some(404));
    sim.set_fault(Fault::status(409, "exists").method("POST").count(1));
    c.create_zone(&endpoint, "gt.lo").await.expect_err("409");
    c.create_zone(&closed_tcp_endpoint(), "x.lo")
        .await
        .expect_err("refused");
    c.list_zones(&endpoint).await.expect("a read");

    let text = metrics.render();
    let value = |series: &str| crate::common::series(&text, series);
    let writes = |op: &str| value(&format!("mkube_dns_writes_total{{operation=\"{op}\"}}"));
    let failures = |op: &str| {
        value(&format!(
            "mkube_dns_write_failures_total{{operation=\"{op}\"}}"
        ))
    };
    assert_eq!(writes("create_zone"), Some(3.0), "{text}");
    assert_eq!(failures("create_zone"), Some(1.0), "{text}");
    assert_eq!(writes("create_record"), Some(2.0), "{text}");
    assert_eq!(failures("create_record"), Some(1.0), "{text}");
    assert_eq!(writes("delete_record"), Some(3.0), "{text}");
    assert_eq!(failures("delete_record"), Some(1.0), "{text}");
}
