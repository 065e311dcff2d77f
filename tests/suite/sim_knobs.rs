//! Knob-driven device behaviours (spec routeros-rest.md §5.2) and running the simulator
//! from a plain tokio runtime.

use crate::sim_common;

use std::time::{Duration, Instant};

use mkube::sim::routeros::Profile;
use serde_json::json;
use sim_common::{flag, prepare, s, start};

fn body(name: &str) -> serde_json::Value {
    json!({"name": name, "file": "raid1/cache/app.tar", "interface": "veth_a", "root-dir": format!("raid1/images/{name}"), "start-on-boot": "yes"})
}

#[tokio::test]
async fn works_in_a_plain_tokio_runtime() {
    let sim = start(Profile::V7_22).await;
    let (st, v) = sim.get("/system/resource").await;
    assert_eq!((st, s(&v, "version")), (200, "7.22.2 (stable)"));
    assert!(sim.sim.rest_url().ends_with("/rest"));
    assert!(sim.sim.control_url().ends_with("/_sim"));
    sim.stop().await;
}

#[actix_rt::test]
async fn blocking_add_hits_the_request_cap_while_extraction_goes_on() {
    let sim = start(Profile::V7_22).await;
    prepare(&sim, "veth_a", "raid1/cache/app.tar").await;
    // §1.9 / §5.1-11: 400 Session closed, the row still appears and finishes.
    sim.knobs(json!({"requestCapMs": 100, "extractOverheadMs": 300_000}))
        .await;
    let (st, e) = sim.post("/container/add", body("cap_me")).await;
    assert_eq!((st, s(&e, "detail")), (400, "Session closed"));
    let row = sim.container("cap_me").await.expect("row listed");
    assert!(flag(&row, "extracting"));
    sim.knobs(json!({"requestCapMs": 60_000})).await;
    sim.wait_flag("cap_me", "stopped").await;
    sim.stop().await;
}

#[actix_rt::test]
async fn auto_start_fail_rate_and_root_dir_removal() {
    let sim = start(Profile::V7_22).await;
    prepare(&sim, "veth_a", "raid1/cache/app.tar").await;
    // E → R for start-on-boot when autoStartAfterExtract.
    sim.knobs(json!({"autoStartAfterExtract": true, "removeDeletesRootDir": true}))
        .await;
    sim.ok("/container/add", body("auto_one")).await;
    sim.wait_flag("auto_one", "running").await;
    sim.ok("/container/stop", json!({"numbers":"auto_one"}))
        .await;
    sim.wait_flag("auto_one", "stopped").await;
    sim.ok("/container/remove", json!({"numbers":"auto_one"}))
        .await;
    sim.wait_gone("auto_one").await;
    assert!(!sim.disk().join("raid1/images/auto_one").exists());
    // Injected extraction failure → row removed, container,error log line.
    sim.knobs(json!({"extractFailRate": 1.0})).await;
    sim.ok("/container/add", body("unlucky")).await;
    sim.wait_gone("unlucky").await;
    let logs = sim.logs().await;
    assert!(
        logs.iter()
            .any(|l| s(l, "topics") == "container,error" && s(l, "message").contains("unlucky"))
    );
    sim.stop().await;
}

#[actix_rt::test]
async fn start_after_recreate_drops_the_connection() {
    let sim = start(Profile::V7_22).await;
    prepare(&sim, "veth_a", "raid1/cache/app.tar").await;
    sim.ok("/container/add", body("again")).await;
    sim.wait_flag("again", "stopped").await;
    sim.ok("/container/remove", json!({"numbers":"again"}))
        .await;
    sim.wait_gone("again").await;
    std::fs::remove_dir_all(sim.disk().join("raid1/images/again")).unwrap();
    sim.knobs(json!({"startDropWindowMs": 300_000})).await;
    sim.ok("/container/add", body("again")).await;
    sim.wait_flag("again", "stopped").await;
    let r = sim
        .http
        .post(format!("{}/container/start", sim.sim.rest_url()))
        .basic_auth("admin", Some(""))
        .json(&json!({"numbers":"again"}))
        .send()
        .await;
    assert!(
        r.is_err(),
        "start right after recreate drops the connection"
    );
    tokio::time::sleep(Duration::from_millis(350)).await;
    sim.ok("/container/start", json!({"numbers":"again"})).await;
    sim.wait_flag("again", "running").await;
    sim.stop().await;
}

#[actix_rt::test]
async fn latency_pause_and_remote_image_failure() {
    let sim = start(Profile::V7_22).await;
    sim.knobs(json!({"latencyMs": 60, "latencyRules": [{"method":"GET","path":"/rest/log","latencyMs":40}]})).await;
    let t = Instant::now();
    sim.get("/log").await;
    assert!(t.elapsed() >= Duration::from_millis(100));
    sim.knobs(json!({"latencyMs": 0, "latencyRules": [], "paused": true, "requestCapMs": 80}))
        .await;
    let (st, e) = sim.get("/log").await;
    assert_eq!((st, s(&e, "detail")), (400, "Session closed"));
    sim.knobs(json!({"paused": false, "requestCapMs": 60_000}))
        .await;
    // remote-image returns at once; an unreachable registry removes the row and logs.
    sim.ok("/interface/veth/add", json!({"name":"veth_a"}))
        .await;
    let v = sim
        .ok("/container/add", json!({"name":"pull_me","remote-image":"127.0.0.1:1/none/img:latest","check-certificate":"no","interface":"veth_a","root-dir":"raid1/images/pull_me"}))
        .await;
    assert!(s(&v, "ret").starts_with('*'));
    sim.wait_gone("pull_me").await;
    let logs = sim.logs().await;
    assert!(
        logs.iter()
            .any(|l| s(l, "topics") == "container,error" && s(l, "message").contains("pull_me"))
    );
    // Unknown knob names are refused.
    let r = sim
        .http
        .patch(format!("{}/knobs", sim.sim.control_url()))
        .json(&json!({"noSuchKnob": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    sim.stop().await;
}

#[actix_rt::test]
async fn reboot_can_renumber_rows() {
    let sim = start(Profile::V7_22).await;
    let v = sim.ok("/interface/veth/add", json!({"name":"v1"})).await;
    sim.control("POST", "/reboot", Some(json!({"downSeconds": 0})))
        .await;
    let (_, row) = sim.get("/interface/veth/v1").await;
    assert_eq!(s(&row, ".id"), s(&v, "ret"), "ids kept by default");
    sim.knobs(json!({"renumberOnReboot": true})).await;
    sim.control("POST", "/reboot", Some(json!({"downSeconds": 0})))
        .await;
    let (_, row) = sim.get("/interface/veth/v1").await;
    assert_ne!(s(&row, ".id"), s(&v, "ret"));
    sim.stop().await;
}
