//! The RouterOS client under simulator faults, version profiles and bad
//! requests (spec §1.8, §1.9, §1.10, §3.3, §3.4, §4.2, §5.2).

use crate::routeros_support;

use mkube::routeros::{
    ContainerSpec, ContainerState, ErrorKind, ImageSource, MountSpec, PodContainerPlan,
    PortOutcome, Props, RosClient, RosError, TransportKind, VethSpec,
};
use mkube::sim::routeros::Profile;
use routeros_support::Harness;
use serde_json::json;
use std::time::{Duration, Instant};

const NAME: &str = "ns_pod_c";
const VETH: &str = "veth_ns_pod_0";

fn spec(file: &str) -> ContainerSpec {
    ContainerSpec::new(
        NAME,
        ImageSource::File(file.into()),
        VETH,
        format!("/raid1/images/{NAME}"),
    )
}

fn plan(file: &str) -> PodContainerPlan {
    PodContainerPlan {
        container: spec(file),
        veth: VethSpec {
            name: VETH.into(),
            address: "172.20.0.9/24".into(),
            gateway: "172.20.0.1".into(),
        },
        bridge: "b1".into(),
        mounts: vec![],
        envs: vec![],
    }
}

async fn with_veth(client: &RosClient) {
    client
        .ensure_veth(VETH, "172.20.0.9/24", "172.20.0.1")
        .await
        .expect("veth");
}

fn posts(calls: &[routeros_support::Call], path: &str) -> Vec<u16> {
    calls
        .iter()
        .filter(|c| c.method == "POST" && c.path == path)
        .map(|c| c.status)
        .collect()
}

#[tokio::test]
async fn latency_is_absorbed_and_counted() {
    let h = Harness::start(Profile::V7_22).await;
    let client = h.client().await;
    h.knobs(json!({"latencyMs": 40})).await;
    let before = client.stats();
    client.list_containers().await.unwrap();
    client.list_veths().await.unwrap();
    let used = client.stats().since(&before);
    assert_eq!(used.calls, 2);
    let e = used.by_endpoint["GET /container"];
    assert!(e.total >= Duration::from_millis(40), "{e:?}");
}

#[tokio::test]
async fn injected_error_surfaces_typed_and_error_rate_is_tolerated_by_polls() {
    let h = Harness::start(Profile::V7_22).await;
    let client = h.client().await;
    h.fault(
        json!({"method":"GET","path":"/rest/interface/veth","kind":"error","status":400,
        "detail":"failure: boom","count":1}),
    )
    .await;
    let err = client.list_veths().await.unwrap_err();
    assert!(
        matches!(
            err,
            RosError::Api {
                status: 400,
                kind: ErrorKind::Other,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(err.detail(), "failure: boom");
    // A 50 % error rate of Session closed on polls only slows the wait down.
    with_veth(&client).await;
    let file = h.tarball("c", "x");
    h.knobs(json!({"addBlocks": false, "extractOverheadMs": 5000}))
        .await;
    client.add_container(&spec(&file)).await.unwrap();
    h.fault(
        json!({"method":"GET","path":"/rest/container","kind":"error","status":400,
        "detail":"Session closed","rate":0.5,"count":4}),
    )
    .await;
    let row = client
        .wait_extracted(NAME)
        .await
        .expect("extracted despite errors");
    assert!(row.state.is_stopped());
}

#[tokio::test]
async fn eof_on_start_is_retried() {
    let h = Harness::start(Profile::V7_22).await;
    let client = h.client().await;
    with_veth(&client).await;
    let file = h.tarball("c", "x");
    let id = client.add_container(&spec(&file)).await.unwrap();
    client.wait_extracted(NAME).await.unwrap();
    h.fault(json!({"method":"POST","path":"/rest/container/start","kind":"eof","count":2}))
        .await;
    h.clear_journal().await;
    let t = Instant::now();
    client.start_container(&id).await.expect("start after EOFs");
    // Delays 2 s + 2 s at pacing 0.02.
    assert!(t.elapsed() >= Duration::from_millis(80));
    assert_eq!(
        posts(&h.journal().await, "/container/start"),
        vec![0, 0, 200]
    );
    client.wait_running(NAME).await.unwrap();
}

#[tokio::test]
async fn eof_is_classified_as_retryable_transport() {
    let h = Harness::start(Profile::V7_22).await;
    let client = h.client().await;
    h.fault(json!({"method":"GET","path":"/rest/ip/address","kind":"eof","count":1}))
        .await;
    let err = client.list_ip_addresses().await.unwrap_err();
    assert!(
        matches!(
            err,
            RosError::Transport {
                kind: TransportKind::Eof,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.is_retryable());
}

#[tokio::test]
async fn hang_on_add_is_resolved_by_reading_state_then_readded() {
    let h = Harness::start(Profile::V7_22).await;
    let client = h.client().await;
    with_veth(&client).await;
    let file = h.tarball("c", "x");
    h.knobs(json!({"requestCapMs": 200})).await;
    h.fault(json!({"method":"POST","path":"/rest/container/add","kind":"hang","count":1}))
        .await;
    h.clear_journal().await;
    client.add_container(&spec(&file)).await.expect("add");
    let calls = h.journal().await;
    // Session closed → the row is read (absent) → only then re-added.
    let lines: Vec<String> = calls
        .iter()
        .map(|c| format!("{} {}", c.line(), c.status))
        .collect();
    assert_eq!(lines[0], "POST /container/add 400");
    assert!(
        lines[1..lines.len() - 1]
            .iter()
            .all(|l| l == &format!("GET /container?name={NAME} 200"))
    );
    assert!(lines.len() >= 3);
    assert_eq!(lines.last().unwrap(), "POST /container/add 200");
    assert_eq!(
        client.wait_extracted(NAME).await.unwrap().state,
        ContainerState::Stopped
    );
}

#[tokio::test]
async fn session_closed_during_blocking_extraction_adopts_the_row() {
    let h = Harness::start(Profile::V7_22).await;
    let client = h.client().await;
    with_veth(&client).await;
    let file = h.tarball("c", "x");
    // Extraction 30 s device time (600 ms), request cap 200 ms.
    h.knobs(json!({"requestCapMs": 200, "extractOverheadMs": 30000}))
        .await;
    h.clear_journal().await;
    let id = client.add_container(&spec(&file)).await.expect("adopted");
    let calls = h.journal().await;
    assert_eq!(posts(&calls, "/container/add"), vec![400], "never re-added");
    let row = client.wait_extracted(NAME).await.unwrap();
    assert_eq!(row.id, id);
}

#[tokio::test]
async fn client_timeout_on_add_adopts_the_row() {
    let h = Harness::start(Profile::V7_22).await;
    let mut opts = h.options();
    opts.add_timeout = Duration::from_millis(150);
    let client = RosClient::connect(opts).await.unwrap();
    with_veth(&client).await;
    let file = h.tarball("c", "x");
    h.knobs(json!({"extractOverheadMs": 30000})).await;
    h.clear_journal().await;
    let id = client.add_container(&spec(&file)).await.expect("adopted");
    assert!(id.starts_with('*'));
    let rows = client.list_containers().await.unwrap();
    assert_eq!(rows.len(), 1, "no duplicate add");
    let row = client.wait_extracted(NAME).await.unwrap();
    assert_eq!(row.id, id);
}

#[tokio::test]
async fn slow_extraction_is_polled_with_settling_rows() {
    let h = Harness::start(Profile::V7_22).await;
    let client = h.client().await;
    with_veth(&client).await;
    let file = h.tarball("c", "x");
    // Non-blocking add, 20 s extraction (400 ms), 10 s without any flag (200 ms).
    h.knobs(json!({"addBlocks": false, "extractOverheadMs": 20000, "settleMs": 10000}))
        .await;
    client.add_container(&spec(&file)).await.unwrap();
    let first = client.find_container(NAME).await.unwrap().unwrap();
    assert_eq!(
        first.state,
        ContainerState::Settling,
        "no flag right after add"
    );
    let before = client.stats();
    let t = Instant::now();
    let row = client.wait_extracted(NAME).await.unwrap();
    assert!(row.state.is_stopped());
    assert!(t.elapsed() >= Duration::from_millis(200));
    let polls = client.stats().since(&before).calls_to("GET /container");
    assert!(polls >= 5, "polled every 1 s device time: {polls}");
}

#[tokio::test]
async fn failed_import_reads_the_reason_from_the_log() {
    let h = Harness::start(Profile::V7_22).await;
    let client = h.client().await;
    with_veth(&client).await;
    let broken = h.disk().join("raid1/cache/broken.tar");
    std::fs::write(&broken, b"not a tarball").unwrap();
    client
        .add_container(&spec("raid1/cache/broken.tar"))
        .await
        .expect("add accepted");
    let err = client.wait_extracted(NAME).await.unwrap_err();
    match err {
        RosError::ImportFailed { name, reason } => {
            assert_eq!(name, NAME);
            assert!(reason.contains(NAME), "{reason}");
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn remove_still_running_window_reissues_stop() {
    let h = Harness::start(Profile::V7_22).await;
    let client = h.client().await;
    let file = h.tarball("c", "x");
    client.create_pod_container(&plan(&file)).await.unwrap();
    client.wait_running(NAME).await.unwrap();
    h.knobs(json!({"removeRunningWindowMs": 5000})).await;
    h.clear_journal().await;
    assert!(client.delete_container(NAME).await.unwrap());
    let calls = h.journal().await;
    let removes = posts(&calls, "/container/remove");
    assert_eq!(removes.first(), Some(&400));
    assert_eq!(removes.last(), Some(&200));
    let stops = posts(&calls, "/container/stop");
    assert_eq!(
        stops.len(),
        removes.len(),
        "stop re-issued before each retry"
    );
    client.wait_gone(NAME).await.unwrap();
}

/// Replace has no fixed settle between stop and remove: a device that still refuses the remove
/// for a while after the stop (§3.3) gets the remove again, without another stop, until it
/// takes it.
#[tokio::test]
async fn replace_retries_remove_through_the_post_stop_window() {
    let h = Harness::start(Profile::V7_22).await;
    let client = h.client().await;
    let file = h.tarball("c", "x");
    client.create_pod_container(&plan(&file)).await.unwrap();
    client.wait_running(NAME).await.unwrap();
    // 2 s of device time after the row shows stopped, remove still says running.
    h.knobs(json!({"removeRunningWindowMs": 2000})).await;
    h.clear_journal().await;
    let v2 = h.tarball("c2", "y");
    let row = client
        .replace_container(NAME, ImageSource::File(v2.clone()))
        .await
        .expect("replace");
    assert_eq!(row.state, ContainerState::Running);
    assert_eq!(row.file, v2);
    let calls = h.journal().await;
    let removes = posts(&calls, "/container/remove");
    assert!(removes.len() >= 2, "{removes:?}");
    assert!(removes[..removes.len() - 1].iter().all(|s| *s == 400));
    assert_eq!(removes.last(), Some(&200));
    assert_eq!(posts(&calls, "/container/stop"), vec![200], "one stop");
}

/// A remove still refused when the quick retries run out falls back to the long form: stop
/// again, wait for stopped, remove with retries (each re-issuing the stop).
#[tokio::test]
async fn replace_falls_back_when_remove_stays_refused() {
    let h = Harness::start(Profile::V7_22).await;
    let client = h.client().await;
    let file = h.tarball("c", "x");
    client.create_pod_container(&plan(&file)).await.unwrap();
    client.wait_running(NAME).await.unwrap();
    // The device refuses the quick retries' removes whatever the timing (a refusal window
    // set by the clock raced the quick retries on a loaded machine): eight refusals, more
    // than the quick retries make, then removes succeed.
    h.fault(
        json!({"method": "POST", "path": "/rest/container/remove", "kind": "error",
        "status": 400, "detail": "failure: cannot remove running container", "count": 8}),
    )
    .await;
    h.clear_journal().await;
    let v2 = h.tarball("c2", "y");
    let row = client
        .replace_container(NAME, ImageSource::File(v2.clone()))
        .await
        .expect("replace");
    assert_eq!(row.file, v2);
    let calls = h.journal().await;
    assert_eq!(posts(&calls, "/container/remove").last(), Some(&200));
    assert!(
        posts(&calls, "/container/stop").len() >= 2,
        "{:?}",
        posts(&calls, "/container/stop")
    );
}

/// A start that fails at once (the row back to stopped before the first look, 0.3 s in) is
/// `StartFailed` with the device's comment after a second look, not a 30 s wait timeout.
#[tokio::test]
async fn a_start_that_fails_before_the_first_look_is_start_failed() {
    let h = Harness::start(Profile::V7_22).await;
    let client = h.client().await;
    let file = h.tarball("broken", "x");
    h.knobs(json!({"startFailImages": ["broken"]})).await;
    client.create_pod_container(&plan(&file)).await.unwrap();
    match client.wait_running(NAME).await {
        Err(RosError::StartFailed { name, comment }) => {
            assert_eq!(name, NAME);
            assert!(comment.contains("exited"), "{comment}");
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn root_dir_overlap_window_is_retried() {
    let h = Harness::start(Profile::V7_22).await;
    let client = h.client().await;
    let file = h.tarball("c", "x");
    client.create_pod_container(&plan(&file)).await.unwrap();
    // 10 s device time (200 ms) after removal the root-dir still overlaps.
    h.knobs(json!({"rootDirOverlapWindowMs": 10000})).await;
    client.delete_container(NAME).await.unwrap();
    client.wait_gone(NAME).await.unwrap();
    h.clear_journal().await;
    client
        .add_container(&spec(&file))
        .await
        .expect("add after overlap");
    let adds = posts(&h.journal().await, "/container/add");
    assert_eq!(adds.first(), Some(&400));
    assert_eq!(adds.last(), Some(&200));
    assert!(adds.len() <= 6);
    // Past the retry budget the overlap is returned typed.
    h.knobs(json!({"rootDirOverlapWindowMs": 600000})).await;
    client.delete_container(NAME).await.unwrap();
    client.wait_gone(NAME).await.unwrap();
    let err = client.add_container(&spec(&file)).await.unwrap_err();
    assert!(err.is(ErrorKind::RootDirOverlap), "{err}");
}

#[tokio::test]
async fn dangling_bridge_ports_are_collected() {
    let h = Harness::start(Profile::V7_22).await;
    let client = h.client().await;
    with_veth(&client).await;
    client.ensure_bridge_port("b1", VETH).await.unwrap();
    // Removing the veth alone leaves its static port behind as `*<hex>`.
    let veth = client.find_veth(VETH).await.unwrap().unwrap();
    client.remove("/interface/veth", &veth.id).await.unwrap();
    let ports = client.list_bridge_ports().await.unwrap();
    assert_eq!(ports.len(), 1);
    assert!(ports[0].is_dangling(), "{:?}", ports[0]);
    h.clear_journal().await;
    let removed = client.collect_dangling_ports().await.unwrap();
    assert_eq!(removed.len(), 1);
    assert_eq!(
        h.lines().await,
        vec![
            "GET /interface/bridge/port",
            "POST /interface/bridge/port/remove"
        ]
    );
    assert!(client.collect_dangling_ports().await.unwrap().is_empty());
}

#[tokio::test]
async fn bridge_port_moves_and_dynamic_ports_are_reported() {
    let h = Harness::start(Profile::V7_22).await;
    let client = h.client().await;
    with_veth(&client).await;
    assert!(matches!(
        client.ensure_bridge_port("b2", VETH).await.unwrap(),
        PortOutcome::Added { .. }
    ));
    let moved = client.ensure_bridge_port("b1", VETH).await.unwrap();
    assert!(
        matches!(moved, PortOutcome::Moved { ref from, .. } if from == "b2"),
        "{moved:?}"
    );
    assert!(matches!(
        client.ensure_bridge_port("b1", VETH).await.unwrap(),
        PortOutcome::Present { .. }
    ));

    client
        .ensure_veth("veth_dyn", "172.20.0.7/24", "172.20.0.1")
        .await
        .unwrap();
    h.seed(json!({"dynamicPorts":[{"bridge":"b1","interface":"veth_dyn"}]}))
        .await;
    let out = client.ensure_bridge_port("b1", "veth_dyn").await.unwrap();
    assert!(matches!(out, PortOutcome::Dynamic { .. }), "{out:?}");
    let port = client.ports_of("veth_dyn").await.unwrap().remove(0);
    let err = client
        .remove("/interface/bridge/port", &port.id)
        .await
        .unwrap_err();
    assert!(err.is(ErrorKind::DynamicPort), "{err}");
    // The caller recreates the veth; the dynamic port vanishes with it.
    client
        .recreate_veth("veth_dyn", "172.20.0.7/24", "172.20.0.1")
        .await
        .unwrap();
    assert!(matches!(
        client.ensure_bridge_port("b1", "veth_dyn").await.unwrap(),
        PortOutcome::Added { .. }
    ));
}

#[tokio::test]
async fn ensure_veth_is_idempotent_and_converges() {
    let h = Harness::start(Profile::V7_22).await;
    let client = h.client().await;
    use mkube::routeros::VethOutcome::*;
    assert!(matches!(
        client
            .ensure_veth(VETH, "172.20.0.9/24", "172.20.0.1")
            .await
            .unwrap(),
        Created { .. }
    ));
    h.clear_journal().await;
    assert!(matches!(
        client
            .ensure_veth(VETH, "172.20.0.9/24", "172.20.0.1")
            .await
            .unwrap(),
        Unchanged { .. }
    ));
    assert_eq!(
        h.lines().await,
        vec![format!("GET /interface/veth?name={VETH}")]
    );
    assert!(matches!(
        client
            .ensure_veth(VETH, "172.20.0.10/24", "172.20.0.1")
            .await
            .unwrap(),
        Updated { .. }
    ));
    let v = client.find_veth(VETH).await.unwrap().unwrap();
    assert_eq!(v.address, "172.20.0.10/24");
    // A raw add of the same name is refused, typed.
    let err = client
        .add(
            "/interface/veth",
            &Props::new().set("name", VETH).set("address", "1.2.3.4/24"),
        )
        .await
        .unwrap_err();
    assert!(err.is(ErrorKind::AlreadyHaveInterface), "{err}");
    // In use by a container: typed refusal.
    let file = h.tarball("c", "x");
    client.add_container(&spec(&file)).await.unwrap();
    let err = client.remove("/interface/veth", &v.id).await.unwrap_err();
    assert!(err.is(ErrorKind::InUseByContainer), "{err}");
}

#[tokio::test]
async fn mount_and_env_lists_sync_to_the_desired_set() {
    let h = Harness::start(Profile::V7_22).await;
    let client = h.client().await;
    let a = MountSpec::new("/raid1/volumes/x/a", "/a");
    let b = MountSpec::new("raid1/volumes/x/b", "/b");
    let pvc = MountSpec::new("/raid1/volumes/pvc/claim", "/claim");
    let r = client
        .sync_mounts("l", &[a.clone(), b.clone(), pvc])
        .await
        .unwrap();
    assert_eq!((r.added, r.removed, r.kept), (3, 0, 0));
    // `/b` moves to a new src; `/a` is dropped; the PVC mount is protected.
    let b2 = MountSpec::new("/raid1/volumes/x/b2", "/b");
    let r = client
        .sync_mounts("l", std::slice::from_ref(&b2))
        .await
        .unwrap();
    assert_eq!((r.added, r.removed, r.kept), (1, 2, 1));
    let mut dsts: Vec<String> = client
        .list_mounts("l")
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.dst)
        .collect();
    dsts.sort();
    assert_eq!(dsts, vec!["/b", "/claim"]);
    // Same dst twice: typed refusal from the device.
    let err = client.add_mount("l", &b2).await.unwrap_err();
    assert!(err.is(ErrorKind::SameDstExists), "{err}");
    // Normalised src comparison: `/raid1/…` equals `raid1/…`.
    let r = client
        .sync_mounts("l", &[MountSpec::new("raid1/volumes/x/b2", "/b")])
        .await
        .unwrap();
    assert_eq!((r.added, r.removed), (0, 0));

    let envs = vec![("A".to_string(), "1".to_string()), ("B".into(), "2".into())];
    assert_eq!(client.sync_envs("e", &envs).await.unwrap().added, 2);
    let r = client
        .sync_envs("e", &[("A".into(), "1".into()), ("B".into(), "3".into())])
        .await
        .unwrap();
    assert_eq!((r.added, r.removed, r.kept), (1, 1, 1));
    assert_eq!(client.remove_env_list("e").await.unwrap(), 2);
}

#[tokio::test]
async fn session_leak_is_visible_and_ceiling_can_be_raised() {
    let h = Harness::start(Profile::V7_22).await;
    let client = h.client().await;
    h.knobs(json!({"sessionLeak": true})).await;
    for _ in 0..5 {
        client.list_containers().await.unwrap();
    }
    let n = client.rest_session_count().await.unwrap();
    assert!(n >= 5, "leaked sessions visible in /user/active: {n}");
    client.set_max_sessions("www", 1000).await.unwrap();
    let www = client
        .list_services()
        .await
        .unwrap()
        .into_iter()
        .find(|s| s.name == "www")
        .unwrap();
    assert_eq!(www.max_sessions, 1000);
}

#[tokio::test]
async fn session_ceiling_reached_gives_session_closed() {
    let h = Harness::start(Profile::V7_22).await;
    let client = h.client().await;
    h.knobs(json!({"sessionLeak": true, "requestCapMs": 100}))
        .await;
    let mut last = Ok(vec![]);
    for _ in 0..25 {
        last = client.list_containers().await;
        if last.is_err() {
            break;
        }
    }
    let err = last.unwrap_err();
    assert!(err.is(ErrorKind::SessionClosed), "{err}");
}

#[tokio::test]
async fn profile_7_19_refused_by_default_and_status_text_parsed_when_allowed() {
    let h = Harness::start(Profile::V7_19).await;
    let err = RosClient::connect(h.options()).await.unwrap_err();
    assert!(matches!(err, RosError::UnsupportedVersion { .. }), "{err}");
    assert!(err.to_string().contains("7.21"));

    let mut opts = h.options();
    opts.allow_unsupported_version = true;
    let client = RosClient::connect(opts).await.unwrap();
    assert_eq!(client.names().container_mounts, "mounts");
    let file = h.tarball("c", "x");
    let mut p = plan(&file);
    p.mounts = vec![MountSpec::new("/raid1/volumes/c", "/c")];
    client
        .create_pod_container(&p)
        .await
        .expect("create on 7.19");
    let row = client.wait_running(NAME).await.unwrap();
    assert_eq!(row.state, ContainerState::Running);
    assert!(row.raw.has("status") && !row.raw.has("running"));
    assert_eq!(row.mountlists, vec![NAME.to_string()]);
}

#[tokio::test]
async fn profile_7_21_is_accepted() {
    let h = Harness::start(Profile::V7_21).await;
    let client = h.client().await;
    assert!(client.system_resource().version.starts_with("7.21"));
}

#[tokio::test]
async fn profile_7_23_existing_root_dir_needs_move_aside() {
    let h = Harness::start(Profile::V7_23).await;
    let client = h.client().await;
    let root = h.disk().join(format!("raid1/images/{NAME}"));
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(root.join("hello.txt"), "stale").unwrap();
    with_veth(&client).await;
    let file = h.tarball("c", "fresh");
    let err = client.add_container(&spec(&file)).await.unwrap_err();
    assert!(matches!(err, RosError::Api { status: 400, .. }), "{err}");
    // CreatePod moves the root-dir aside first, so its add succeeds.
    let out = client
        .create_pod_container(&plan(&file))
        .await
        .expect("create");
    assert!(matches!(
        out.root_dir,
        mkube::routeros::MoveAside::Moved { .. }
    ));
    client.wait_running(NAME).await.unwrap();
    assert_eq!(
        std::fs::read_to_string(root.join("hello.txt")).unwrap(),
        "fresh"
    );
}

#[tokio::test]
async fn profile_7_22_stale_root_dir_is_not_run_after_move_aside() {
    let h = Harness::start(Profile::V7_22).await;
    let client = h.client().await;
    let root = h.disk().join(format!("raid1/images/{NAME}"));
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(root.join("hello.txt"), "stale").unwrap();
    let file = h.tarball("c", "fresh");
    client.create_pod_container(&plan(&file)).await.unwrap();
    assert_eq!(
        std::fs::read_to_string(root.join("hello.txt")).unwrap(),
        "fresh"
    );
}

#[tokio::test]
async fn bad_requests_surface_as_typed_errors() {
    let h = Harness::start(Profile::V7_22).await;
    let client = h.client().await;
    let err = client
        .post(
            "/container/add",
            &Props::new().set("name", "x").set("bogus", "1"),
        )
        .await
        .unwrap_err();
    assert!(err.is(ErrorKind::UnknownParameter), "{err}");
    assert!(err.detail().contains("bogus"));
    assert!(matches!(err, RosError::Api { status: 400, .. }));

    let err = client
        .post("/container/frobnicate", &Props::new())
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            RosError::Api {
                status: 406,
                kind: ErrorKind::NoSuchCommand,
                ..
            }
        ),
        "{err}"
    );

    let err = client.get_raw("/container/*FFFF", &[]).await.unwrap_err();
    assert!(
        matches!(
            err,
            RosError::Api {
                status: 404,
                kind: ErrorKind::NotFound,
                ..
            }
        ),
        "{err}"
    );

    let err = client
        .post(
            "/container/add",
            &Props::new().set("name", "x").set("interface", "nope"),
        )
        .await
        .unwrap_err();
    assert!(err.is(ErrorKind::NoImageSource), "{err}");

    let err = client
        .add_container(&ContainerSpec::new(
            "x",
            ImageSource::File("raid1/cache/none.tar".into()),
            "nope",
            "raid1/images/x",
        ))
        .await
        .unwrap_err();
    assert!(err.is(ErrorKind::NoSuchInterface), "{err}");

    let err = client
        .remove("/container/mounts", "*FFFF")
        .await
        .unwrap_err();
    assert!(err.is_gone(), "{err}");
    assert!(!client.remove_file("raid1/nothing/here").await.unwrap());
    client.ensure_directory("/raid1/volumes/a/b").await.unwrap();
    client.ensure_directory("raid1/volumes/a/b").await.unwrap();
    assert!(h.disk().join("raid1/volumes/a/b").is_dir());
    assert!(
        client
            .find_file("raid1/volumes/a")
            .await
            .unwrap()
            .is_some_and(|f| f.is_directory())
    );

    let mut opts = h.options();
    opts.password = "wrong".into();
    let err = RosClient::connect(opts).await.unwrap_err();
    assert!(
        matches!(
            err,
            RosError::Api {
                status: 401,
                kind: ErrorKind::Unauthorized,
                ..
            }
        ),
        "{err}"
    );
}

#[tokio::test]
async fn at_most_four_requests_in_flight() {
    let h = Harness::start(Profile::V7_22).await;
    let client = h.client().await;
    h.knobs(json!({"latencyMs": 50})).await;
    let t = Instant::now();
    let calls: Vec<_> = (0..8).map(|_| client.list_veths()).collect();
    for r in futures::future::join_all(calls).await {
        r.unwrap();
    }
    // 8 calls of 50 ms with 4 slots: at least two rounds.
    assert!(
        t.elapsed() >= Duration::from_millis(100),
        "{:?}",
        t.elapsed()
    );
    let s = client.stats();
    assert!(s.by_endpoint["GET /interface/veth"].queued > Duration::ZERO);
}

#[tokio::test]
async fn start_dropped_right_after_recreate_is_retried() {
    let h = Harness::start(Profile::V7_22).await;
    let client = h.client().await;
    let file = h.tarball("c", "x");
    client.create_pod_container(&plan(&file)).await.unwrap();
    client.wait_running(NAME).await.unwrap();
    // For 10 s device time (200 ms) after a remove, start on the recreated
    // container drops the connection.
    h.knobs(json!({"startDropWindowMs": 10000})).await;
    h.clear_journal().await;
    let row = client
        .replace_container(NAME, ImageSource::File(file.clone()))
        .await
        .expect("replace despite dropped starts");
    assert!(row.state.is_running());
    let starts = posts(&h.journal().await, "/container/start");
    assert_eq!(starts.last(), Some(&200));
    assert!(
        starts.contains(&0),
        "at least one start was dropped: {starts:?}"
    );
}

#[tokio::test]
async fn start_that_falls_back_to_stopped_reports_the_comment() {
    let h = Harness::start(Profile::V7_22).await;
    let client = h.client().await;
    with_veth(&client).await;
    let file = h.tarball("c", "x");
    let id = client.add_container(&spec(&file)).await.unwrap();
    client.wait_extracted(NAME).await.unwrap();
    // Starting lasts 10 s device time (200 ms); the process dies meanwhile.
    h.knobs(json!({"startDelayMs": 10000})).await;
    client.start_container(&id).await.unwrap();
    let waiter = {
        let client = client.clone();
        tokio::spawn(async move { client.wait_running(NAME).await })
    };
    tokio::time::sleep(Duration::from_millis(60)).await;
    h.crash(NAME).await;
    let err = waiter.await.unwrap().unwrap_err();
    match err {
        RosError::StartFailed { name, comment } => {
            assert_eq!(name, NAME);
            assert!(comment.contains("exited"), "{comment}");
        }
        other => panic!("{other:?}"),
    }
    let row = client.get_container(&id).await.unwrap().expect("by id");
    assert_eq!(row.name, NAME);
    assert!(client.get_container("*FFFF").await.unwrap().is_none());
}

#[tokio::test]
async fn device_fetches_from_a_loopback_url() {
    let h = Harness::start(Profile::V7_22).await;
    let client = h.client().await;
    let url = format!("{}/health", h.sim.control_url());
    client
        .fetch_to_device(&url, "/raid1/cache/health.json")
        .await
        .expect("fetch");
    let text = std::fs::read_to_string(h.disk().join("raid1/cache/health.json")).unwrap();
    assert!(text.contains("7.22"), "{text}");
}

#[tokio::test]
async fn orphan_container_holding_a_veth_is_removed_first() {
    let h = Harness::start(Profile::V7_22).await;
    let client = h.client().await;
    let file = h.tarball("c", "x");
    client.create_pod_container(&plan(&file)).await.unwrap();
    client.wait_running(NAME).await.unwrap();
    let veth = client.find_veth(VETH).await.unwrap().unwrap();
    let err = client
        .remove("/interface/veth", &veth.id)
        .await
        .unwrap_err();
    assert!(err.is(ErrorKind::InUseByContainer), "{err}");
    assert!(client.remove_container_using(VETH).await.unwrap());
    assert!(client.find_container(NAME).await.unwrap().is_none());
    assert!(client.remove_veth(VETH).await.unwrap());
    assert!(!client.remove_container_using(VETH).await.unwrap());
}
