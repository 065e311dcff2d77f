//! Control API, journal, faults, sessions, reboot, persistence, probes and the binary
//! (spec routeros-rest.md §1.9, §1.10, §5.1 items 12, 16–18, §5.2).

use crate::sim_common;

use std::time::Duration;

use mkube::sim::routeros::{Profile, SimOptions};
use serde_json::json;
use sim_common::{prepare, s, start, start_with};

#[actix_rt::test]
async fn journal_records_rest_calls() {
    let sim = start(Profile::V7_22).await;
    sim.control("DELETE", "/journal", None).await;
    sim.get("/interface/veth?name=x").await;
    sim.post("/interface/veth/add", json!({"name":"v1"})).await;
    sim.post("/interface/veth/add", json!({"name":"v1"})).await;
    let j = sim.control("GET", "/journal", None).await;
    let j = j.as_array().unwrap();
    assert_eq!(j.len(), 3);
    assert_eq!(j[0]["method"], "GET");
    assert_eq!(j[0]["path"], "/rest/interface/veth");
    assert_eq!(j[0]["query"], "name=x");
    assert_eq!(j[0]["body"], serde_json::Value::Null);
    assert_eq!(j[1]["body"], json!({"name":"v1"}));
    assert_eq!(j[1]["status"], 200);
    assert_eq!(j[2]["status"], 400);
    assert!(j[2]["seq"].as_u64().unwrap() > j[1]["seq"].as_u64().unwrap());
    assert!(j[0]["latencyMs"].is_number());
    sim.stop().await;
}

#[actix_rt::test]
async fn faults_error_eof_hang_and_slow_body() {
    let sim = start(Profile::V7_22).await;
    sim.control("POST", "/faults", Some(json!({"method":"POST","path":"/rest/interface/*/add","kind":"error","status":500,"detail":"boom","count":1}))).await;
    let (st, e) = sim.post("/interface/veth/add", json!({"name":"v1"})).await;
    assert_eq!((st, s(&e, "detail")), (500, "boom"));
    sim.ok("/interface/veth/add", json!({"name":"v1"})).await;
    // §1.8: EOF without a response.
    sim.control(
        "POST",
        "/faults",
        Some(json!({"path":"/rest/system","kind":"eof","count":1})),
    )
    .await;
    let r = sim
        .http
        .get(format!("{}/system/resource", sim.sim.rest_url()))
        .basic_auth("admin", Some(""))
        .send()
        .await;
    assert!(r.is_err(), "expected a transport error, got {r:?}");
    let (st, _) = sim.get("/system/resource").await;
    assert_eq!(st, 200);
    // §1.9: hang until the request cap, then 400 Session closed.
    sim.knobs(json!({"requestCapMs": 150})).await;
    sim.control(
        "POST",
        "/faults",
        Some(json!({"path":"/rest/log","kind":"hang","count":1})),
    )
    .await;
    let (st, e) = sim.get("/log").await;
    assert_eq!((st, s(&e, "detail")), (400, "Session closed"));
    // Slow body still delivers the real reply.
    sim.control(
        "POST",
        "/faults",
        Some(json!({"path":"/rest/interface/veth","kind":"slowBody","count":1})),
    )
    .await;
    let (st, v) = sim.get("/interface/veth").await;
    assert_eq!(st, 200);
    assert_eq!(s(&v[0], "name"), "v1");
    sim.control("DELETE", "/faults", None).await;
    let j = sim.control("GET", "/journal", None).await;
    assert!(j.as_array().unwrap().iter().any(|e| e["status"] == 0));
    sim.stop().await;
}

#[actix_rt::test]
async fn session_leak_hangs_or_refuses_at_max_sessions() {
    let sim = start(Profile::V7_22).await;
    sim.ok(
        "/ip/service/set",
        json!({"numbers":"www","max-sessions":"3"}),
    )
    .await;
    sim.knobs(json!({"sessionLeak": true, "requestCapMs": 100}))
        .await;
    for _ in 0..3 {
        let (st, _) = sim.get("/system/resource").await;
        assert_eq!(st, 200);
    }
    let (st, e) = sim.get("/system/resource").await;
    assert_eq!((st, s(&e, "detail")), (400, "Session closed"));
    sim.knobs(json!({"leakRefuse": true})).await;
    let r = sim
        .http
        .get(format!("{}/system/resource", sim.sim.rest_url()))
        .basic_auth("admin", Some(""))
        .send()
        .await;
    assert!(r.is_err());
    let state = sim.control("GET", "/state", None).await;
    assert_eq!(state["knobs"]["sessionLeak"], true);
    sim.control("POST", "/reset", None).await;
    let (st, _) = sim.get("/system/resource").await;
    assert_eq!(st, 200);
    sim.stop().await;
}

#[actix_rt::test]
async fn reboot_restarts_start_on_boot_containers_and_probes_follow() {
    let sim = start(Profile::V7_22).await;
    prepare(&sim, "veth_a", "raid1/cache/app.tar").await;
    let port = {
        let l = std::net::TcpListener::bind("127.42.0.2:0").unwrap();
        l.local_addr().unwrap().port()
    };
    sim.knobs(json!({"probePorts": [port]})).await;
    sim.ok("/container/add", json!({"name":"a_b","file":"raid1/cache/app.tar","interface":"veth_a","root-dir":"raid1/images/a_b","start-on-boot":"yes"})).await;
    sim.wait_flag("a_b", "stopped").await;
    sim.ok("/container/start", json!({"numbers":"a_b"})).await;
    sim.wait_flag("a_b", "running").await;
    let probe = format!("http://127.42.0.2:{port}/healthz");
    let mut ok = false;
    for _ in 0..100 {
        if let Ok(r) = sim.http.get(&probe).send().await {
            ok = r.status().as_u16() == 200;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(ok, "probe listener answers while running");
    // §5.1-16: device unreachable while down, then start-on-boot units run again.
    sim.control("POST", "/reboot", Some(json!({"downSeconds": 300})))
        .await;
    let r = sim
        .http
        .get(format!("{}/container", sim.sim.rest_url()))
        .basic_auth("admin", Some(""))
        .send()
        .await;
    assert!(r.is_err());
    tokio::time::sleep(Duration::from_millis(350)).await;
    sim.wait_flag("a_b", "running").await;
    // Crash → stopped; probe listener goes away.
    sim.control("POST", "/containers/a_b/crash", None).await;
    let row = sim.container("a_b").await.unwrap();
    assert_eq!(s(&row, "stopped"), "true");
    let mut closed = false;
    for _ in 0..100 {
        if sim.http.get(&probe).send().await.is_err() {
            closed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(closed, "probe listener stops with the container");
    // §4.8 (c): /tool/fetch from a loopback URL.
    std::fs::create_dir_all(sim.disk().join("raid1")).unwrap();
    let url = format!("{}/health", sim.sim.control_url());
    let v = sim
        .ok(
            "/tool/fetch",
            json!({"url": url, "dst-path": "raid1/health.json", "mode": "http"}),
        )
        .await;
    assert_eq!(s(&v[0], "status"), "finished");
    assert!(sim.disk().join("raid1/health.json").exists());
    let (st, _) = sim
        .post(
            "/tool/fetch",
            json!({"url": "http://192.0.2.1/x", "dst-path": "raid1/x"}),
        )
        .await;
    assert_eq!(st, 400);
    sim.stop().await;
}

#[actix_rt::test]
async fn state_file_survives_restart() {
    let dir = tempfile::tempdir().unwrap();
    let disk = dir.path().join("disk");
    let state = dir.path().join("state.json");
    let mut opts = SimOptions::new(disk.clone());
    opts.state_file = Some(state.clone());
    let dir2 = tempfile::tempdir().unwrap();
    let sim = start_with(opts.clone(), dir2).await;
    // Run against the shared disk root: tarball under `disk`.
    sim.seed_bridge("br").await;
    let v = sim
        .ok(
            "/interface/veth/add",
            json!({"name":"veth_a","address":"10.1.0.2/24"}),
        )
        .await;
    let vid = s(&v, "ret").to_string();
    sim_common::docker_tar(&disk.join("raid1/cache/app.tar"), &[("a", b"1")]);
    sim.ok("/container/add", json!({"name":"p_q","file":"raid1/cache/app.tar","interface":"veth_a","root-dir":"raid1/images/p_q","start-on-boot":"yes"})).await;
    sim.ok("/container/add", json!({"name":"p_r","file":"raid1/cache/app.tar","interface":"veth_a","root-dir":"raid1/images/p_r","start-on-boot":"no"})).await;
    let get = |name: &'static str| {
        let url = format!("{}/container?name={name}", sim.sim.rest_url());
        let http = sim.http.clone();
        async move {
            let v: serde_json::Value = http
                .get(url)
                .basic_auth("admin", Some(""))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            v[0].clone()
        }
    };
    for _ in 0..500 {
        if s(&get("p_r").await, "stopped") == "true" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    sim.ok("/container/start", json!({"numbers":"p_r"})).await;
    let before = sim.control("GET", "/state", None).await;
    sim.stop().await;
    assert!(state.exists());

    let sim = start_with(opts, tempfile::tempdir().unwrap()).await;
    let after = sim.control("GET", "/state", None).await;
    assert!(after["nextId"].as_u64().unwrap() >= before["nextId"].as_u64().unwrap());
    let (_, veth) = sim.get("/interface/veth/veth_a").await;
    assert_eq!(s(&veth, ".id"), vid);
    // A restart is a reboot: start-on-boot comes back running, the other stays stopped.
    sim.wait_flag("p_q", "running").await;
    let r = sim.container("p_r").await.unwrap();
    assert_eq!(s(&r, "stopped"), "true");
    assert_eq!(sim.knobs(json!({})).await["clockFactor"], 1000.0);
    sim.stop().await;
}

#[test]
fn binary_starts_and_answers() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_routeros-sim"))
        .args(["--listen", &format!("127.0.0.1:{port}"), "--disk-root"])
        .arg(dir.path().join("disk"))
        .args([
            "--profile",
            "7.21",
            "--user",
            "mkube",
            "--password",
            "pw",
            "--serial",
        ])
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn routeros-sim");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let result = rt.block_on(async {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::new();
        let url = format!("http://127.0.0.1:{port}/rest/system/resource");
        for _ in 0..200 {
            if let Ok(r) = http.get(&url).basic_auth("mkube", Some("pw")).send().await {
                return Some((
                    r.status().as_u16(),
                    r.json::<serde_json::Value>().await.ok(),
                ));
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        None
    });
    let _ = std::process::Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
    let status = child.wait().expect("wait");
    let (code, body) = result.expect("binary answered");
    assert_eq!(code, 200);
    assert!(s(&body.unwrap(), "version").starts_with("7.21"));
    assert!(status.success(), "clean exit on SIGTERM: {status:?}");
}

/// §5.2 seed: seeding the same bridges and addresses again (as the demo does on every start
/// with a persisted state) adds nothing.
#[actix_rt::test]
async fn seeding_is_idempotent() {
    let sim = start(Profile::V7_22).await;
    let seed =
        json!({"bridges": ["b1"], "addresses": [{"address": "127.42.0.1/24", "interface": "b1"}]});
    sim.control("POST", "/seed", Some(seed.clone())).await;
    sim.control("POST", "/seed", Some(seed)).await;
    let (_, bridges) = sim.get("/interface/bridge").await;
    let (_, addresses) = sim.get("/ip/address").await;
    assert_eq!(bridges.as_array().unwrap().len(), 1);
    assert_eq!(addresses.as_array().unwrap().len(), 1);
    assert_eq!(s(&addresses[0], "network"), "127.42.0.0");
    sim.stop().await;
}
