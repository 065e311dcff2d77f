//! Container state machine, imports and root-dir rules (spec §3.3–§3.5, §5.1 items 6–11, 14–15).

use crate::sim_common;

use mkube::sim::routeros::Profile;
use serde_json::json;
use sim_common::{flag, prepare, s, start, start_profile};

fn add_body(name: &str) -> serde_json::Value {
    json!({"name": name, "file": "raid1/cache/app.tar", "interface": "veth_a", "root-dir": format!("/raid1/images/{name}"), "logging": "yes", "start-on-boot": "yes"})
}

#[actix_rt::test]
async fn full_lifecycle_with_a_docker_save_tarball() {
    let sim = start(Profile::V7_22).await;
    prepare(&sim, "veth_a", "raid1/cache/app.tar").await;
    // §5.1-11: add with file= blocks until extraction ends, then the row is S.
    let ret = sim.ok("/container/add", add_body("default_app_web")).await;
    let id = s(&ret, "ret").to_string();
    assert!(id.starts_with('*'));
    let row = sim.wait_flag("default_app_web", "stopped").await;
    assert_eq!(s(&row, "root-dir"), "raid1/images/default_app_web");
    assert_eq!(s(&row, "start-on-boot"), "true");
    for f in ["extracting", "starting", "running", "stopping"] {
        assert_eq!(s(&row, f), "false");
    }
    // §5.1-7: layers really extracted.
    let root = sim.disk().join("raid1/images/default_app_web");
    assert_eq!(
        std::fs::read_to_string(root.join("etc/hostname")).unwrap(),
        "app\n"
    );
    // §3.5 veth in use.
    let (st, e) = sim
        .post("/interface/veth/remove", json!({"numbers":"veth_a"}))
        .await;
    assert_eq!(st, 400);
    assert!(s(&e, "detail").contains("in use by container"));
    // Start → N → R; start on running is a no-op.
    assert_eq!(
        sim.ok("/container/start", json!({".id": id})).await,
        json!([])
    );
    sim.wait_flag("default_app_web", "running").await;
    assert_eq!(
        sim.ok("/container/start", json!({".id": id})).await,
        json!([])
    );
    // §3.3 remove while running is refused.
    let (st, e) = sim.post("/container/remove", json!({".id": id})).await;
    assert_eq!(st, 400);
    assert!(s(&e, "detail").contains("cannot remove running"));
    // Stop → T → S; stop on stopped is a no-op.
    sim.ok("/container/stop", json!({"numbers": "default_app_web"}))
        .await;
    sim.wait_flag("default_app_web", "stopped").await;
    assert_eq!(
        sim.ok("/container/stop", json!({".id": id})).await,
        json!([])
    );
    sim.ok("/container/remove", json!({".id": id})).await;
    sim.wait_gone("default_app_web").await;
    // §5.1-9: root-dir left behind by default.
    assert!(root.join("etc/hostname").exists());
    let logs = sim.logs().await;
    let msgs: Vec<&str> = logs
        .iter()
        .filter(|l| s(l, "topics") == "container,info")
        .map(|l| s(l, "message"))
        .collect();
    assert!(
        msgs.iter()
            .any(|m| m.contains("default_app_web") && m.contains("started")),
        "{msgs:?}"
    );
    assert!(msgs.iter().any(|m| m.contains("stopped")));
    sim.stop().await;
}

#[actix_rt::test]
async fn add_validation_and_root_dir_rules() {
    let sim = start(Profile::V7_22).await;
    prepare(&sim, "veth_a", "raid1/cache/app.tar").await;
    let (st, e) = sim
        .post("/container/add", json!({"name":"x_y","interface":"veth_a"}))
        .await;
    assert_eq!(
        (st, s(&e, "detail")),
        (400, "failure: No file or remote-image specified")
    );
    let mut b = add_body("x_y");
    b["interface"] = json!("veth_missing");
    let (st, e) = sim.post("/container/add", b).await;
    assert_eq!(
        (st, s(&e, "detail")),
        (400, "input does not match any value of interface")
    );
    let mut b = add_body("x_y");
    b["root-dir"] = json!("/");
    let (st, _) = sim.post("/container/add", b).await;
    assert_eq!(st, 400);
    sim.ok("/container/add", add_body("x_y")).await;
    let (st, e) = sim.post("/container/add", add_body("x_y")).await;
    assert_eq!(st, 400);
    assert!(s(&e, "detail").contains("already exists"));
    // Overlap with a live container (nested path).
    let mut b = add_body("x_z");
    b["root-dir"] = json!("raid1/images/x_y/sub");
    let (st, e) = sim.post("/container/add", b).await;
    assert_eq!((st, s(&e, "detail")), (400, "failure: root-dir overlap"));
    // Overlap window after removal.
    sim.knobs(json!({"rootDirOverlapWindowMs": 60000, "removeRunningWindowMs": 60000}))
        .await;
    sim.wait_flag("x_y", "stopped").await;
    sim.ok("/container/start", json!({"numbers":"x_y"})).await;
    sim.wait_flag("x_y", "running").await;
    sim.ok("/container/stop", json!({"numbers":"x_y"})).await;
    sim.wait_flag("x_y", "stopped").await;
    // §3.3: remove still refused shortly after the row shows stopped.
    let (st, e) = sim
        .post("/container/remove", json!({"numbers":"x_y"}))
        .await;
    assert_eq!(st, 400);
    assert!(s(&e, "detail").contains("cannot remove running"));
    sim.knobs(json!({"removeRunningWindowMs": 0})).await;
    sim.ok("/container/remove", json!({"numbers":"x_y"})).await;
    sim.wait_gone("x_y").await;
    let (st, e) = sim.post("/container/add", add_body("x_y")).await;
    assert_eq!((st, s(&e, "detail")), (400, "failure: root-dir overlap"));
    sim.knobs(json!({"rootDirOverlapWindowMs": 0})).await;
    // 7.22: existing content → extraction skipped, stale files kept.
    std::fs::write(sim.disk().join("raid1/images/x_y/stale"), "old").unwrap();
    sim.ok("/container/add", add_body("x_y")).await;
    sim.wait_flag("x_y", "stopped").await;
    assert!(sim.disk().join("raid1/images/x_y/stale").exists());
    let logs = sim.logs().await;
    assert!(
        logs.iter()
            .any(|l| s(l, "message").contains("skipping extraction"))
    );
    sim.stop().await;

    // 7.23: existing root-dir is refused.
    let sim = start_profile("7.23").await;
    prepare(&sim, "veth_a", "raid1/cache/app.tar").await;
    std::fs::create_dir_all(sim.disk().join("raid1/images/x_y")).unwrap();
    let (st, e) = sim.post("/container/add", add_body("x_y")).await;
    assert_eq!(st, 400);
    assert!(s(&e, "detail").contains("root-dir already exists"));
    sim.stop().await;
}

#[actix_rt::test]
async fn failed_import_removes_the_row_and_logs() {
    let sim = start(Profile::V7_22).await;
    prepare(&sim, "veth_a", "raid1/cache/app.tar").await;
    std::fs::write(sim.disk().join("raid1/cache/bad.tar"), b"not a tar at all").unwrap();
    let mut b = add_body("bad_one");
    b["file"] = json!("raid1/cache/bad.tar");
    // §3.3: the add itself succeeds; the failure shows only in /log.
    sim.ok("/container/add", b).await;
    sim.wait_gone("bad_one").await;
    let logs = sim.logs().await;
    assert!(
        logs.iter()
            .any(|l| s(l, "topics") == "container,error" && s(l, "message").contains("bad_one")),
        "{logs:?}"
    );
    // Missing tarball likewise.
    let mut b = add_body("gone_one");
    b["file"] = json!("raid1/cache/missing.tar");
    sim.ok("/container/add", b).await;
    sim.wait_gone("gone_one").await;
    sim.stop().await;
}

#[actix_rt::test]
async fn start_states_and_missing_veth() {
    let sim = start(Profile::V7_22).await;
    prepare(&sim, "veth_a", "raid1/cache/app.tar").await;
    // Non-blocking add and a long extraction: start during E is refused (§3.3 knob).
    sim.knobs(json!({"addBlocks": false, "extractOverheadMs": 400_000}))
        .await;
    sim.ok("/container/add", add_body("slow_one")).await;
    let row = sim.container("slow_one").await.unwrap();
    assert!(flag(&row, "extracting"));
    let (st, e) = sim
        .post("/container/start", json!({"numbers":"slow_one"}))
        .await;
    assert_eq!(
        (st, s(&e, "detail")),
        (400, "failure: container is not ready")
    );
    sim.knobs(json!({"extractOverheadMs": 0})).await;
    sim.wait_flag("slow_one", "stopped").await;
    // Settle window: no true flag right after add.
    sim.ok("/container/remove", json!({"numbers":"slow_one"}))
        .await;
    sim.wait_gone("slow_one").await;
    std::fs::remove_dir_all(sim.disk().join("raid1/images/slow_one")).unwrap();
    sim.knobs(json!({"settleMs": 400_000})).await;
    sim.ok("/container/add", add_body("slow_one")).await;
    let row = sim.container("slow_one").await.unwrap();
    for f in ["extracting", "stopped", "starting", "running", "stopping"] {
        assert!(!flag(&row, f), "{row}");
    }
    sim.knobs(json!({"settleMs": 0})).await;
    sim.wait_flag("slow_one", "stopped").await;
    // §5.1-14: start with its veth gone → back to S with a comment.
    sim.knobs(json!({"startDelayMs": 200_000})).await;
    sim.ok("/container/start", json!({"numbers":"slow_one"}))
        .await;
    // Force the veth away behind the container's back via a state edit.
    let mut state = sim.control("GET", "/state", None).await;
    state["tables"]["interface/veth"] = json!([]);
    sim.control("POST", "/state", Some(state)).await;
    sim.knobs(json!({"startDelayMs": 0})).await;
    let row = sim
        .wait_for("slow_one", "comment", |r| {
            r.is_some_and(|r| r.get("comment").is_some())
        })
        .await
        .unwrap();
    assert!(flag(&row, "stopped"));
    assert_eq!(
        s(&row, "comment"),
        "could not acquire interface: no device (6)"
    );
    sim.stop().await;
}

#[actix_rt::test]
async fn status_text_on_7_19_and_crash() {
    let sim = start_profile("7.19").await;
    prepare(&sim, "veth_a", "raid1/cache/app.tar").await;
    let mut b = add_body("old_one");
    b.as_object_mut().unwrap().remove("root-dir");
    sim.ok("/container/add", b).await;
    let row = sim
        .wait_for("old_one", "status", |r| {
            r.is_some_and(|r| s(r, "status") == "stopped")
        })
        .await
        .unwrap();
    assert!(row.get("stopped").is_none());
    sim.ok("/container/start", json!({"number":"old_one"}))
        .await;
    sim.wait_for("old_one", "running", |r| {
        r.is_some_and(|r| s(r, "status") == "running")
    })
    .await;
    sim.control("POST", "/containers/old_one/crash", None).await;
    let row = sim.container("old_one").await.unwrap();
    assert_eq!(s(&row, "status"), "stopped");
    sim.stop().await;
}
