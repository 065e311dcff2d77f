//! The microdns test double (`mkube::sim::microdns`) against spec microdns-api.md §1, §2
//! and §5, over real sockets.

use std::net::SocketAddr;
use std::time::Duration;

use hickory_proto::op::{Message, Query, ResponseCode};
use hickory_proto::rr::{Name, RData, RecordType};
use mkube::sim::microdns::{
    self, BadJsonMode, Fault, FaultKind, MicrodnsSimOptions, MicrodnsVersion, Mutation,
    RunningMicrodns,
};
use serde_json::{Value, json};

struct Mdns {
    sim: RunningMicrodns,
    http: reqwest::Client,
}

async fn start_opts(opts: MicrodnsSimOptions) -> Mdns {
    mkube::tls::ensure_ring_provider();
    let sim = microdns::start(opts).await.expect("microdns-sim starts");
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client");
    Mdns { sim, http }
}

async fn start() -> Mdns {
    start_opts(MicrodnsSimOptions::default()).await
}

impl Mdns {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.sim.endpoint())
    }

    /// Raw call: (status, body text).
    async fn call(&self, method: &str, path: &str, body: Option<(&str, &str)>) -> (u16, String) {
        let m = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut rb = self.http.request(m, self.url(path));
        if let Some((ct, b)) = body {
            rb = rb.header("Content-Type", ct).body(b.to_string());
        }
        let r = rb.send().await.expect("request sent");
        let s = r.status().as_u16();
        (s, r.text().await.expect("body"))
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        let (s, t) = self.call("GET", path, None).await;
        (s, serde_json::from_str(&t).unwrap_or(Value::String(t)))
    }

    async fn send(&self, method: &str, path: &str, body: Value) -> (u16, Value) {
        let text = body.to_string();
        let (s, t) = self
            .call(method, path, Some(("application/json", &text)))
            .await;
        (s, serde_json::from_str(&t).unwrap_or(Value::String(t)))
    }

    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.send("POST", path, body).await
    }

    async fn zone(&self, name: &str) -> String {
        let (s, z) = self.post("/api/v1/zones", json!({"name": name})).await;
        assert_eq!(s, 201, "{z}");
        z["id"].as_str().expect("id").to_string()
    }

    async fn a(&self, zone: &str, name: &str, ip: &str) -> (u16, Value) {
        self.post(
            &format!("/api/v1/zones/{zone}/records"),
            json!({"name": name, "ttl": 60, "data": {"type": "A", "data": ip}}),
        )
        .await
    }

    async fn serial(&self, zone: &str) -> u64 {
        let (_, z) = self.get(&format!("/api/v1/zones/{zone}")).await;
        z["soa"]["serial"].as_u64().expect("serial")
    }
}

fn names(list: &Value) -> Vec<String> {
    list.as_array()
        .expect("array")
        .iter()
        .map(|r| r["name"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// §1.5, §2 zones: create defaults, trailing dots, 409, 400, GET, DELETE, 404 bodies.
#[tokio::test]
async fn mdns_zone_routes_and_errors() {
    let m = start().await;
    let (s, z) = m.post("/api/v1/zones", json!({"name": "g12.lo.."})).await;
    assert_eq!(s, 201);
    assert_eq!(z["name"], "g12.lo");
    assert_eq!(z["record_count"], 0);
    assert_eq!(z["default_ttl"], 300);
    assert_eq!(z["soa"]["mname"], "ns1.g12.lo");
    assert_eq!(z["soa"]["rname"], "admin.g12.lo");
    assert_eq!(z["soa"]["refresh"], 3600);
    assert_eq!(z["soa"]["minimum"], 300);
    let serial = z["soa"]["serial"].as_u64().unwrap();
    assert_eq!(serial % 100, 0, "YYYYMMDD00");
    assert!(z["created_at"].as_str().unwrap().ends_with("+00:00"));
    let id = z["id"].as_str().unwrap().to_string();
    let parsed = uuid::Uuid::parse_str(&id).expect("uuid id");
    assert_eq!(parsed.get_version_num(), 4);

    let (s, body) = m
        .call(
            "POST",
            "/api/v1/zones",
            Some(("application/json", r#"{"name":"g12.lo"}"#)),
        )
        .await;
    assert_eq!((s, body.as_str()), (409, "duplicate zone: g12.lo"));
    let (s, _) = m.post("/api/v1/zones", json!({"name": "bad name"})).await;
    assert_eq!(s, 400);
    let (s, _) = m.post("/api/v1/zones", json!({"nom": "x"})).await;
    assert_eq!(s, 422, "wrong shape");

    let (s, got) = m.get(&format!("/api/v1/zones/{id}")).await;
    assert_eq!((s, got["name"].as_str()), (200, Some("g12.lo")));
    assert_eq!(m.get("/api/v1/zones/zone-123").await.0, 400, "non-UUID id");
    let unknown = uuid::Uuid::new_v4();
    let (s, b) = m
        .call("GET", &format!("/api/v1/zones/{unknown}"), None)
        .await;
    assert_eq!((s, b.as_str()), (404, "zone not found"));
    let (s, b) = m.call("DELETE", &format!("/api/v1/zones/{id}"), None).await;
    assert_eq!((s, b.as_str()), (204, ""));
    assert_eq!(m.get(&format!("/api/v1/zones/{id}")).await.0, 404);
    m.sim.stop();
}

/// §1.2, §1.3, §1.7, §1.8, §2 records: 415, 400, 422, 404 bodies, dedup, PUT, delete
/// through another zone's path, record_count and the SOA serial on every write.
#[tokio::test]
async fn mdns_record_routes_errors_dedup_and_serial() {
    let m = start().await;
    let z = m.zone("gt.lo").await;
    let other = m.zone("other.lo").await;
    let path = format!("/api/v1/zones/{z}/records");
    let good = r#"{"name":"nginx.web","ttl":60,"data":{"type":"A","data":"192.168.200.5"}}"#;

    assert_eq!(
        m.call("POST", &path, Some(("text/plain", good))).await.0,
        415
    );
    assert_eq!(m.call("POST", &path, None).await.0, 415);
    let (s, _) = m
        .call("POST", &path, Some(("application/json", "{\"name\":")))
        .await;
    assert_eq!(s, 400, "malformed JSON");
    let (s, _) = m.a(&z, "x", "300.1.2.3").await;
    assert_eq!(s, 422, "bad A data");
    let (s, _) = m
        .post(
            &path,
            json!({"name":"x","ttl":1,"data":{"type":"BOGUS","data":"1"}}),
        )
        .await;
    assert_eq!(s, 422, "unknown type");
    let (s, b) = m.a(&z, "bad name!", "10.0.0.1").await;
    assert_eq!(s, 400);
    assert!(b.as_str().unwrap().contains("invalid characters in label"));
    let unknown = uuid::Uuid::new_v4();
    let (s, b) = m.a(&unknown.to_string(), "x", "10.0.0.1").await;
    assert_eq!((s, b.as_str()), (404, Some("zone not found")));

    let s0 = m.serial(&z).await;
    let (s, r) = m
        .call("POST", &path, Some(("application/json", good)))
        .await;
    assert_eq!(s, 201);
    let r: Value = serde_json::from_str(&r).unwrap();
    assert_eq!(r["name"], "nginx.web");
    assert_eq!(r["type"], "A");
    assert_eq!(r["data"], json!({"type":"A","data":"192.168.200.5"}));
    assert_eq!(r["ttl"], 60);
    assert_eq!(r["enabled"], true);
    assert_eq!(r["zone_id"], z.as_str());
    assert!(r["health_check"].is_null());
    let rid = r["id"].as_str().unwrap().to_string();
    let s1 = m.serial(&z).await;
    assert!(s1 > s0, "serial moves on create");

    // Dedup: same data → 200 with the same record, TTL ignored (§1.8).
    let (s, d) = m
        .post(
            &path,
            json!({"name":"nginx.web","ttl":999,"data":{"type":"A","data":"192.168.200.5"}}),
        )
        .await;
    assert_eq!(
        (s, d["id"].as_str(), d["ttl"].as_u64()),
        (200, Some(rid.as_str()), Some(60))
    );
    // Same name, other IP: round robin.
    assert_eq!(m.a(&z, "nginx.web", "192.168.200.6").await.0, 201);
    let (_, zj) = m.get(&format!("/api/v1/zones/{z}")).await;
    assert_eq!(zj["record_count"], 2);

    let rec = format!("{path}/{rid}");
    let (s, g) = m.get(&rec).await;
    assert_eq!((s, g["id"].as_str()), (200, Some(rid.as_str())));
    assert_eq!(m.get(&format!("{path}/not-a-uuid")).await.0, 400);
    let (s, p) = m.send("PUT", &rec, json!({"ttl": 120})).await;
    assert_eq!((s, p["ttl"].as_u64()), (200, Some(120)));
    let s2 = m.serial(&z).await;
    assert!(s2 > s1, "serial moves on update");

    // Delete ignores the zone in the path (§2 notes).
    let via_other = format!("/api/v1/zones/{other}/records/{rid}");
    let (s, b) = m.call("DELETE", &via_other, None).await;
    assert_eq!((s, b.as_str()), (204, ""));
    let (s, b) = m.call("DELETE", &rec, None).await;
    assert_eq!((s, b.as_str()), (404, "record not found"));
    assert!(m.serial(&z).await > s2, "serial moves on delete");
    let (_, zj) = m.get(&format!("/api/v1/zones/{z}")).await;
    assert_eq!(zj["record_count"], 1);

    // Zone delete removes its records (§5 item 5).
    m.call("DELETE", &format!("/api/v1/zones/{z}"), None).await;
    assert!(m.sim.records("gt.lo").is_empty());
    assert!(m.sim.store_json()["records"].as_array().unwrap().is_empty());
    let (s, b) = m.call("GET", &path, None).await;
    assert_eq!((s, b.as_str()), (404, "zone not found"));
    m.sim.stop();
}

/// §1.8 / §5 item 4: with dedup off, identical records can be created.
#[tokio::test]
async fn mdns_dedup_switch_off_allows_duplicates() {
    let m = start_opts(MicrodnsSimOptions {
        dedup: false,
        ..Default::default()
    })
    .await;
    let z = m.zone("gt.lo").await;
    assert_eq!(m.a(&z, "dup", "10.0.0.1").await.0, 201);
    assert_eq!(m.a(&z, "dup", "10.0.0.1").await.0, 201);
    assert_eq!(m.sim.records("gt.lo").len(), 2);
    m.sim.stop();
}

/// §1.4 paging: bytewise `<name>:<TYPE>` order (host100 before host10, uppercase first),
/// insertion order within a key, default 100, cap 1000, limit=0, offset past end, bad values.
#[tokio::test]
async fn mdns_paging_order_and_limits() {
    let m = start().await;
    let z = m.sim.seed_zone("gt.lo");
    for n in ["host10", "b", "host100", "Host1", "a"] {
        m.sim.seed_record(&z, n, "A", json!("10.0.0.1"), 60);
    }
    let second = m.sim.seed_record(&z, "b", "A", json!("10.0.0.2"), 60);
    let path = format!("/api/v1/zones/{z}/records");
    let (_, all) = m.get(&path).await;
    assert_eq!(names(&all), ["Host1", "a", "b", "b", "host100", "host10"]);
    assert_eq!(
        all[3]["id"].as_str(),
        Some(second.as_str()),
        "insertion order"
    );
    let (_, p) = m.get(&format!("{path}?limit=2&offset=1")).await;
    assert_eq!(names(&p), ["a", "b"]);
    let (_, p) = m.get(&format!("{path}?limit=0")).await;
    assert_eq!(p, json!([]));
    let (_, p) = m.get(&format!("{path}?offset=50")).await;
    assert_eq!(p, json!([]));
    assert_eq!(m.get(&format!("{path}?limit=abc")).await.0, 400);
    assert_eq!(m.get(&format!("{path}?offset=-1")).await.0, 400);

    for i in 0..1200 {
        m.sim
            .seed_record(&z, &format!("n{i:04}"), "A", json!("10.1.0.1"), 60);
    }
    let (_, p) = m.get(&path).await;
    assert_eq!(p.as_array().unwrap().len(), 100, "default limit");
    let (_, p) = m.get(&format!("{path}?limit=5000")).await;
    assert_eq!(p.as_array().unwrap().len(), 1000, "cap");
    let (_, p) = m.get(&format!("{path}?limit=1000&offset=1000")).await;
    assert_eq!(p.as_array().unwrap().len(), 206);
    m.sim.stop();
}

/// §2: unknown routes 404 empty, wrong method 405, health, leases, body cap.
#[tokio::test]
async fn mdns_routes_health_leases_and_limits() {
    let m = start().await;
    assert_eq!(
        m.call("GET", "/api/v1/nothing", None).await,
        (404, String::new())
    );
    assert_eq!(m.call("GET", "/api/v1/zones/", None).await.0, 404);
    assert_eq!(
        m.call("PUT", "/api/v1/zones", None).await,
        (405, String::new())
    );
    assert_eq!(m.call("POST", "/api/v1/health", None).await.0, 405);
    let (s, h) = m.get("/api/v1/health").await;
    assert_eq!((s, h["status"].as_str()), (200, Some("ok")));
    assert_eq!(m.get("/api/v1/leases").await, (200, json!([])));
    m.sim.seed_leases(vec![
        json!({"id": "l1", "ip_addr": "10.0.0.9", "mac_addr": "aa:bb:cc:dd:ee:ff", "hostname": null, "state": "active"}),
    ]);
    let (_, l) = m.get("/api/v1/leases").await;
    assert_eq!(l[0]["ip_addr"], "10.0.0.9");
    let big = format!("{{\"name\":\"{}\"}}", "a".repeat(2 * 1024 * 1024));
    let (s, _) = m
        .call("POST", "/api/v1/zones", Some(("application/json", &big)))
        .await;
    assert_eq!(s, 413, "1 MiB body cap");
    m.sim.stop();
}

/// §5 item 2: lenient ids accept opaque ids.
#[tokio::test]
async fn mdns_lenient_ids() {
    let m = start_opts(MicrodnsSimOptions {
        lenient_ids: true,
        ..Default::default()
    })
    .await;
    let (s, b) = m.call("GET", "/api/v1/zones/zone-123", None).await;
    assert_eq!((s, b.as_str()), (404, "zone not found"));
    m.sim.stop();
}

/// §5 items 10–11: request log, counters, HTTP control routes, R16 export, wipe.
#[tokio::test]
async fn mdns_request_log_counters_control_and_export() {
    let m = start().await;
    let (s, seeded) = m
        .post(
            "/_control/seed",
            json!({"zones": [{"name": "gt.lo", "records": [{"name": "rose1", "data": "192.168.200.1"}]}]}),
        )
        .await;
    assert_eq!(s, 200);
    let z = seeded["zones"][0]["id"].as_str().unwrap().to_string();
    m.get("/api/v1/zones").await;
    m.get(&format!("/api/v1/zones/{z}/records?limit=100&offset=0"))
        .await;
    m.a(&z, "web", "192.168.200.7").await;
    let reqs = m.sim.requests();
    assert_eq!(reqs.len(), 3, "control routes are not logged");
    assert_eq!(reqs[1].method, "GET");
    assert_eq!(reqs[1].path, format!("/api/v1/zones/{z}/records"));
    assert_eq!(reqs[1].query, "limit=100&offset=0");
    assert_eq!(reqs[2].status, 201);
    assert!(reqs[2].body.contains("192.168.200.7"));
    let (_, counters) = m.get("/_control/counters").await;
    assert_eq!(counters["GET /api/v1/zones/{zone_id}/records"], 1);
    assert_eq!(counters["POST /api/v1/zones/{zone_id}/records"], 1);
    let (_, logged) = m.get("/_control/requests").await;
    assert_eq!(logged.as_array().unwrap().len(), 3);
    assert_eq!(m.call("DELETE", "/_control/requests", None).await.0, 204);
    assert!(m.sim.requests().is_empty());
    assert!(m.sim.counters().is_empty());

    m.get("/api/v1/zones").await;
    assert_eq!(m.call("DELETE", "/_control/counters", None).await.0, 204);
    assert!(m.sim.counters().is_empty());
    assert_eq!(m.sim.requests().len(), 1, "counters reset keeps the log");
    m.sim
        .set_fault(Fault::status(500, "x").route("/api/v1/leases"));
    let (_, faults) = m.get("/_control/faults").await;
    assert_eq!(faults[0]["kind"], "status");
    assert_eq!(faults[0]["route"], "/api/v1/leases");
    m.sim.clear_faults();
    assert!(m.sim.faults().is_empty());

    let (_, store) = m.get("/_control/store").await;
    assert_eq!(store["zones"][0]["record_count"], 2);
    let (_, export) = m
        .get("/_control/export?server=192.168.200.199:8080&network=gt")
        .await;
    assert_eq!(export["server"], "192.168.200.199:8080");
    assert_eq!(export["network"], "gt");
    assert_eq!(export["zones"][0]["zone"]["name"], "gt.lo");
    assert_eq!(names(&export["zones"][0]["records"]), ["rose1", "web"]);

    // Wipe: everything gone, old ids 404, new ids differ (§5 `wipe`).
    assert_eq!(m.call("POST", "/_control/wipe", None).await.0, 204);
    assert_eq!(m.get("/api/v1/zones").await.1, json!([]));
    assert_eq!(m.get(&format!("/api/v1/zones/{z}")).await.0, 404);
    let z2 = m.zone("gt.lo").await;
    assert_ne!(z, z2);
    m.sim.set_fault(Fault::new(FaultKind::Wipe));
    assert_eq!(m.get(&format!("/api/v1/zones/{z2}")).await.0, 404);
    m.sim.stop();
}

/// §5 faults `status` (route, method, count), `bad_json`, `require_api_key`, set over HTTP too.
#[tokio::test]
async fn mdns_faults_status_bad_json_api_key() {
    let m = start().await;
    let z = m.sim.seed_zone("gt.lo");
    m.sim.set_fault(
        Fault::new(FaultKind::Status {
            code: 503,
            body: "down".into(),
        })
        .route("/api/v1/zones")
        .method("GET")
        .count(1),
    );
    assert_eq!(
        m.call("GET", "/api/v1/zones", None).await,
        (503, "down".into())
    );
    assert_eq!(m.get("/api/v1/zones").await.0, 200, "count 1 consumed");

    let (s, _) = m
        .post(
            "/_control/faults",
            json!({"kind": "status", "code": 500, "body": "internal server error",
                   "route": "/api/v1/zones/{zone_id}/records", "method": "POST"}),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(m.a(&z, "x", "10.0.0.1").await.0, 500);
    assert_eq!(m.get(&format!("/api/v1/zones/{z}/records")).await.0, 200);
    assert_eq!(m.call("DELETE", "/_control/faults", None).await.0, 204);
    assert_eq!(m.a(&z, "x", "10.0.0.1").await.0, 201);

    m.sim.set_fault(Fault::new(FaultKind::BadJson {
        mode: BadJsonMode::Truncated,
    }));
    let (s, t) = m.call("GET", "/api/v1/zones", None).await;
    assert_eq!(s, 200);
    assert!(serde_json::from_str::<Value>(&t).is_err(), "truncated: {t}");
    m.sim.clear_faults();
    m.sim.set_fault(Fault::new(FaultKind::BadJson {
        mode: BadJsonMode::WrongShape,
    }));
    let (s, v) = m.get("/api/v1/zones").await;
    assert!(s == 200 && v.is_object(), "wrong shape: {v}");
    m.sim.clear_faults();

    m.sim
        .set_fault(Fault::new(FaultKind::RequireApiKey { key: "k1".into() }));
    assert_eq!(
        m.call("GET", "/api/v1/zones", None).await,
        (401, String::new())
    );
    let r = m
        .http
        .get(m.url("/api/v1/zones"))
        .header("X-API-Key", "k1")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(m.get("/api/v1/health").await.0, 200, "health stays open");
    m.sim.stop();
}

/// §5 `delay_ms`, `blackhole`, `stall_body`: a short client timeout fires; the log shows
/// the blackholed request with status 0.
#[tokio::test]
async fn mdns_faults_delay_blackhole_stall() {
    let m = start().await;
    let short = reqwest::Client::builder()
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    m.sim.set_fault(
        Fault::new(FaultKind::DelayMs {
            ms: 2000,
            jitter_ms: 0,
        })
        .count(1),
    );
    let e = short.get(m.url("/api/v1/zones")).send().await.unwrap_err();
    assert!(e.is_timeout(), "{e}");
    m.sim.clear_faults();
    m.sim.set_fault(
        Fault::new(FaultKind::DelayMs {
            ms: 20,
            jitter_ms: 10,
        })
        .count(1),
    );
    assert_eq!(
        m.get("/api/v1/zones").await.0,
        200,
        "short delay still answers"
    );

    m.sim
        .set_fault(Fault::new(FaultKind::Blackhole).route("/api/v1/zones"));
    let e = short.get(m.url("/api/v1/zones")).send().await.unwrap_err();
    assert!(e.is_timeout(), "{e}");
    assert_eq!(m.get("/api/v1/health").await.0, 200, "other routes answer");
    let logged = m.sim.requests();
    assert!(
        logged
            .iter()
            .any(|r| r.path == "/api/v1/zones" && r.status == 0)
    );
    m.sim.clear_faults();

    m.sim.seed_zone("gt.lo");
    m.sim
        .set_fault(Fault::new(FaultKind::StallBody { after_bytes: 5 }));
    let r = short
        .get(m.url("/api/v1/zones"))
        .send()
        .await
        .expect("headers");
    assert_eq!(r.status().as_u16(), 200);
    let e = r.bytes().await.unwrap_err();
    assert!(e.is_timeout() || e.is_body(), "{e}");
    m.sim.stop();
}

/// §5 `refuse`: the REST port is really closed; the control port and the handle keep
/// working; clearing reopens the same port.
#[tokio::test]
async fn mdns_fault_refuse_closes_port_control_port_stays() {
    mkube::tls::ensure_ring_provider();
    let sim = microdns::start_with_control(
        MicrodnsSimOptions::default(),
        Some("127.0.0.1:0".parse().unwrap()),
    )
    .await
    .unwrap();
    let ctl = format!("http://{}", sim.control_addr().expect("control port"));
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let zones = format!("{}/api/v1/zones", sim.endpoint());
    assert_eq!(http.get(&zones).send().await.unwrap().status(), 200);
    let r = http
        .post(format!("{ctl}/_control/faults"))
        .json(&json!({"kind": "refuse"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let fresh = reqwest::Client::new();
    let e = fresh.get(&zones).send().await.unwrap_err();
    assert!(e.is_connect(), "{e}");
    assert!(
        std::net::TcpStream::connect(sim.rest_addr()).is_err(),
        "port closed"
    );
    let r = http
        .get(format!("{ctl}/_control/store"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "control port works while refusing");
    assert_eq!(
        http.get(format!("{ctl}/api/v1/zones"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    sim.seed_zone("gt.lo");
    let r = http
        .delete(format!("{ctl}/_control/faults"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let v: Value = fresh
        .get(&zones)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(names(&v), ["gt.lo"]);

    // Through the handle as well.
    sim.set_fault(Fault::new(FaultKind::Refuse));
    assert!(
        reqwest::Client::new()
            .get(&zones)
            .send()
            .await
            .unwrap_err()
            .is_connect()
    );
    sim.clear_faults();
    assert_eq!(
        reqwest::Client::new()
            .get(&zones)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    sim.stop();
}

/// §5 `page_override`, `mutate_between_pages`, `zone_list_cap`.
#[tokio::test]
async fn mdns_faults_paging() {
    let m = start().await;
    let z = m.sim.seed_zone("gt.lo");
    for i in 0..5 {
        m.sim
            .seed_record(&z, &format!("h{i}"), "A", json!("10.0.0.1"), 60);
    }
    let path = format!("/api/v1/zones/{z}/records");
    m.sim.set_fault(Fault::new(FaultKind::PageOverride {
        items: 100,
        repeat: true,
    }));
    let (_, p) = m.get(&format!("{path}?limit=100&offset=500")).await;
    assert_eq!(p.as_array().unwrap().len(), 100, "always a full page");
    m.sim.clear_faults();
    m.sim.set_fault(Fault::new(FaultKind::PageOverride {
        items: 2,
        repeat: false,
    }));
    let (_, p) = m.get(&format!("{path}?limit=100")).await;
    assert_eq!(names(&p), ["h0", "h1"]);
    m.sim.clear_faults();

    // Insert after page 1: the next page repeats an item (no snapshot isolation, §1.4).
    m.sim.set_fault(
        Fault::new(FaultKind::MutateBetweenPages {
            after_page: 1,
            action: Mutation::Insert,
        })
        .route("/api/v1/zones/{zone_id}/records")
        .method("GET"),
    );
    let (_, p1) = m.get(&format!("{path}?limit=3&offset=0")).await;
    let (_, p2) = m.get(&format!("{path}?limit=3&offset=3")).await;
    assert_eq!(names(&p1), ["h0", "h1", "h2"]);
    assert_eq!(names(&p2), ["h2", "h3", "h4"]);
    m.sim.clear_faults();

    m.sim
        .set_fault(Fault::new(FaultKind::ZoneListCap { filler: 100 }));
    let (_, zl) = m.get("/api/v1/zones").await;
    assert_eq!(zl.as_array().unwrap().len(), 100);
    assert!(!names(&zl).contains(&"gt.lo".to_string()), "R2 blind spot");
    let (_, zl) = m.get("/api/v1/zones?limit=1000").await;
    assert!(names(&zl).contains(&"gt.lo".to_string()));
    m.sim.stop();
}

fn dns_query(name: &str, qtype: RecordType) -> Vec<u8> {
    let mut msg = Message::query();
    msg.add_query(Query::query(Name::from_ascii(name).unwrap(), qtype));
    msg.to_vec().unwrap()
}

async fn udp_ask(addr: SocketAddr, name: &str, qtype: RecordType) -> Message {
    let sock = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    sock.send_to(&dns_query(name, qtype), addr).await.unwrap();
    let mut buf = vec![0u8; 4096];
    let (n, _) = tokio::time::timeout(Duration::from_secs(5), sock.recv_from(&mut buf))
        .await
        .expect("DNS answer")
        .unwrap();
    Message::from_vec(&buf[..n]).unwrap()
}

async fn dns_sim(version: MicrodnsVersion) -> Mdns {
    start_opts(MicrodnsSimOptions {
        dns_listen: Some("127.0.0.1:0".parse().unwrap()),
        version,
        ..Default::default()
    })
    .await
}

/// §5 item 9 and §1.7: A answer with TTL and AA, NXDOMAIN + SOA, REFUSED, uppercase
/// names never resolve, queries are lowercased, TCP works too.
#[tokio::test]
async fn mdns_dns_responder_feb2026() {
    let m = dns_sim(MicrodnsVersion::Feb2026).await;
    let dns = m.sim.dns_addr().expect("dns addr");
    let z = m.zone("gt.lo").await;
    m.a(&z, "nginx.web", "192.168.200.5").await;
    m.a(&z, "Upper", "192.168.200.6").await;

    let r = udp_ask(dns, "NGINX.web.gt.lo.", RecordType::A).await;
    assert_eq!(r.metadata.response_code, ResponseCode::NoError);
    assert!(r.metadata.authoritative);
    assert_eq!(r.answers.len(), 1);
    assert_eq!(r.answers[0].ttl, 60);
    match &r.answers[0].data {
        RData::A(a) => assert_eq!(a.0.to_string(), "192.168.200.5"),
        other => panic!("not an A: {other:?}"),
    }

    let r = udp_ask(dns, "missing.gt.lo.", RecordType::A).await;
    assert_eq!(r.metadata.response_code, ResponseCode::NXDomain);
    assert!(matches!(
        r.authorities.first().map(|a| &a.data),
        Some(RData::SOA(_))
    ));

    let r = udp_ask(dns, "upper.gt.lo.", RecordType::A).await;
    assert_eq!(
        r.metadata.response_code,
        ResponseCode::NXDomain,
        "uppercase never resolves"
    );

    m.a(&z, "*.apps", "192.168.200.7").await;
    let r = udp_ask(dns, "foo.apps.gt.lo.", RecordType::A).await;
    assert_eq!(r.answers.len(), 1, "wildcard (§1.9, 2026-02-23)");

    let r = udp_ask(dns, "www.example.com.", RecordType::A).await;
    assert_eq!(r.metadata.response_code, ResponseCode::Refused);

    let r = udp_ask(dns, "nginx.web.gt.lo.", RecordType::AAAA).await;
    assert_eq!(
        r.metadata.response_code,
        ResponseCode::NXDomain,
        "feb2026 type miss"
    );

    // TCP on the same port.
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut c = tokio::net::TcpStream::connect(dns).await.unwrap();
    let q = dns_query("nginx.web.gt.lo.", RecordType::A);
    c.write_u16(q.len() as u16).await.unwrap();
    c.write_all(&q).await.unwrap();
    let len = c.read_u16().await.unwrap();
    let mut buf = vec![0u8; len as usize];
    c.read_exact(&mut buf).await.unwrap();
    let r = Message::from_vec(&buf).unwrap();
    assert_eq!(r.answers.len(), 1);
    m.sim.stop();
}

/// §1.9 / §5 item 7 `current`: automatic PTR in a /24 reverse zone, removed with the A
/// record; NOERROR on a type miss; most specific zone answers.
#[tokio::test]
async fn mdns_version_current_ptr_noerror_specific_zone() {
    let m = dns_sim(MicrodnsVersion::Current).await;
    let dns = m.sim.dns_addr().unwrap();
    let z = m.zone("gt.lo").await;
    let kube = m.zone("kube.gt.lo").await;
    let (_, r) = m.a(&z, "web", "192.168.200.5").await;
    assert_eq!(r["source"], "manual");
    let ptrs = m.sim.records("200.168.192.in-addr.arpa");
    assert_eq!(ptrs.len(), 1);
    assert_eq!(ptrs[0]["name"], "5");
    assert_eq!(ptrs[0]["data"]["data"], "web.gt.lo");
    let r = udp_ask(dns, "5.200.168.192.in-addr.arpa.", RecordType::PTR).await;
    assert_eq!(r.answers.len(), 1);

    let r = udp_ask(dns, "web.gt.lo.", RecordType::AAAA).await;
    assert_eq!(r.metadata.response_code, ResponseCode::NoError, "type miss");
    assert!(r.answers.is_empty());

    m.a(&kube, "pod", "192.168.200.9").await;
    let r = udp_ask(dns, "pod.kube.gt.lo.", RecordType::A).await;
    assert_eq!(r.answers.len(), 1, "most specific zone");

    let id = r_id(&m.sim.records("gt.lo"), "web");
    m.call("DELETE", &format!("/api/v1/zones/{z}/records/{id}"), None)
        .await;
    assert_eq!(
        m.sim.records("200.168.192.in-addr.arpa").len(),
        1,
        "only pod's PTR left"
    );
    m.sim.stop();
}

fn r_id(list: &[Value], name: &str) -> String {
    list.iter()
        .find(|r| r["name"] == name)
        .and_then(|r| r["id"].as_str())
        .expect("record")
        .to_string()
}

/// `--state-file`: the store survives a restart.
#[tokio::test]
async fn mdns_state_file_survives_restart() {
    let dir = tempfile::tempdir().unwrap();
    let opts = MicrodnsSimOptions {
        state_file: Some(dir.path().join("state.json")),
        ..Default::default()
    };
    let m = start_opts(opts.clone()).await;
    let z = m.zone("gt.lo").await;
    m.a(&z, "web", "10.0.0.5").await;
    m.sim.stop();
    let m = start_opts(opts).await;
    let (s, zone) = m.get(&format!("/api/v1/zones/{z}")).await;
    assert_eq!((s, zone["record_count"].as_u64()), (200, Some(1)));
    m.sim.stop();
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The `microdns-sim` binary: ready line, REST and DNS answer, clean exit on SIGTERM.
#[test]
fn mdns_binary_starts_answers_and_stops() {
    use std::io::BufRead;
    let rest = free_port();
    let dns = std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_microdns-sim"))
        .args(["--listen", &format!("127.0.0.1:{rest}")])
        .args(["--dns-listen", &format!("127.0.0.1:{dns}")])
        .args([
            "--control-listen",
            "127.0.0.1:0",
            "--lenient-ids",
            "--no-dedup",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn microdns-sim");
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(
        line.starts_with("microdns-sim ready rest=http://127.0.0.1:"),
        "{line}"
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let result = rt.block_on(async {
        mkube::tls::ensure_ring_provider();
        let http = reqwest::Client::new();
        let base = format!("http://127.0.0.1:{rest}/api/v1");
        let z: Value = http
            .post(format!("{base}/zones"))
            .json(&json!({"name": "gt.lo"}))
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        let zid = z["id"].as_str()?.to_string();
        for _ in 0..2 {
            http.post(format!("{base}/zones/{zid}/records"))
                .json(&json!({"name": "web", "ttl": 60, "data": {"type": "A", "data": "10.0.0.5"}}))
                .send()
                .await
                .ok()?;
        }
        let recs: Value = http
            .get(format!("{base}/zones/{zid}/records"))
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        let lenient = http.get(format!("{base}/zones/zone-1")).send().await.ok()?;
        let ans = udp_ask(
            format!("127.0.0.1:{dns}").parse().unwrap(),
            "web.gt.lo.",
            RecordType::A,
        )
        .await;
        Some((recs, lenient.status().as_u16(), ans.answers.len()))
    });
    let _ = std::process::Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
    let status = child.wait().expect("wait");
    let (recs, lenient, answers) = result.expect("binary answered");
    assert_eq!(recs.as_array().unwrap().len(), 2, "--no-dedup");
    assert_eq!(lenient, 404, "--lenient-ids");
    assert_eq!(answers, 2, "round robin over DNS");
    assert!(status.success(), "clean exit on SIGTERM: {status:?}");
}
