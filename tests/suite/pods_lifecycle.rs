//! The lifecycle actor end to end (controller.md §7): real nats-server, the RouterOS
//! simulator over loopback, an in-process standalone cluster with a 1 s watchdog. Keepalive
//! (LC-3) and its cooldown (LC-4), liveness restarts up to `maxRestarts` and `OnFailed`
//! (LC-6, §3.5), probes against a listening port (§7.3, sim knob `probePorts`), no unit for
//! pods whose `restartPolicy` is not `Always` (LC-1).

use crate::common::{self, cluster};
use crate::engine_support::*;
use k8s_openapi::api::core::v1::{Pod, Probe, TCPSocketAction};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use mkube::actors::lifecycle::GetReadiness;
use mkube::actors::pods::Declare;
use mkube::actors::wiring::Cluster;
use mkube::config::Config;
use mkube::events::catalogue::PodSource;
use mkube::routeros::RosClient;
use serde_json::json;
use std::time::{Duration, Instant};

const UNIT: &str = "default_web_app";
const KEY: &str = "default/web";

fn fast(cfg: &mut Config, cooldown: u64) {
    cfg.lifecycle.watchdog_interval_seconds = 1;
    cfg.lifecycle.restart_cooldown = cooldown;
    cfg.lifecycle.max_restarts = 2;
    cfg.lifecycle.restart_pause_seconds = 0.2;
    cfg.lifecycle.recreate_grace_seconds = 0.0;
}

async fn run(c: &Cluster, pod: Pod) {
    c.pods
        .send(Declare {
            pod,
            source: PodSource::Api,
            correlation: "test".into(),
        })
        .await
        .unwrap()
        .unwrap();
    settle(c, KEY).await.expect("created");
}

fn liveness(port: u16) -> Probe {
    Probe {
        tcp_socket: Some(TCPSocketAction {
            port: IntOrString::Int(i32::from(port)),
            ..Default::default()
        }),
        period_seconds: Some(1),
        timeout_seconds: Some(1),
        failure_threshold: Some(1),
        ..Default::default()
    }
}

fn with_probes(mut pod: Pod, live: Option<Probe>, ready: Option<Probe>) -> Pod {
    if let Some(spec) = pod.spec.as_mut() {
        spec.containers[0].liveness_probe = live;
        spec.containers[0].readiness_probe = ready;
    }
    pod
}

/// A port nothing listens on at the pod's address right now.
fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.77.0.100:0").expect("bind loopback");
    l.local_addr().unwrap().port()
}

async fn restarts(c: &Cluster) -> u32 {
    pods_state(c)
        .await
        .units
        .get(UNIT)
        .map_or(0, |u| u.restarts)
}

async fn running_id(ros: &RosClient) -> Option<String> {
    ros.find_container(UNIT)
        .await
        .ok()
        .flatten()
        .filter(|r| r.state.is_running())
        .map(|r| r.id)
}

// LC-3: a start-on-boot container stopped on the device is started again (same container)
// and the restart is recorded; LC-4: not again within the cooldown.
#[actix_rt::test]
async fn watchdog_starts_a_stopped_container_again_after_the_cooldown() {
    let mut env = env().await;
    fast(&mut env.cfg, 4);
    let metrics = mkube::metrics::Metrics::new();
    let c = cluster::boot_with_metrics(&env.cfg, metrics.clone()).await;
    run(&c, pod("web", &[])).await;
    let ros = ros(&env.h).await;
    let id = ros.wait_running(UNIT).await.expect("running").id;
    assert!(
        pods_state(&c).await.units.contains_key(UNIT),
        "unit registered"
    );

    env.h.crash(UNIT).await;
    wait_until("keepalive start", 10, || async {
        running_id(&ros).await.is_some()
    })
    .await;
    assert_eq!(
        running_id(&ros).await.as_deref(),
        Some(id.as_str()),
        "same container"
    );
    wait_until("restart recorded", 5, || async { restarts(&c).await == 1 }).await;

    // Crash again at once: the cooldown (4 s) keeps it stopped for a while.
    let crashed = Instant::now();
    env.h.crash(UNIT).await;
    tokio::time::sleep(Duration::from_millis(2000)).await;
    assert!(
        running_id(&ros).await.is_none(),
        "restarted within the cooldown"
    );
    wait_until("start after the cooldown", 10, || async {
        running_id(&ros).await.is_some()
    })
    .await;
    assert!(crashed.elapsed() >= Duration::from_secs(2));
    wait_until("second restart recorded", 5, || async {
        restarts(&c).await == 2
    })
    .await;
    let (kinds, _) = log_kinds(&env.cfg).await;
    let n = kinds
        .iter()
        .filter(|k| *k == "lifecycle.UnitRestarted")
        .count();
    assert_eq!(n, 2, "{kinds:?}");
    assert!(
        !kinds.iter().any(|k| k == "lifecycle.UnitFailed"),
        "keepalive never fails a unit"
    );
    // `/metrics` counts both, as keepalive starts.
    wait_until("both restarts counted", 5, || async {
        metrics
            .render()
            .contains(r#"mkube_container_restarts_total{cause="keepalive"} 2"#)
    })
    .await;
}

// §7.3/LC-6/§3.5: a liveness probe on a port the container does not listen on fails, the
// unit is restarted up to maxRestarts, then `UnitFailed` and the pod is recreated fresh (issue
// 13: "max restarts → recreate with a fresh veth"): its container, veth and address are torn
// down and made anew, the unit's count and mark cleared.
#[actix_rt::test]
async fn failing_liveness_restarts_then_recreates_the_pod() {
    let mut env = env().await;
    fast(&mut env.cfg, 1);
    let metrics = mkube::metrics::Metrics::new();
    let c = cluster::boot_with_metrics(&env.cfg, metrics.clone()).await;
    let port = free_port();
    run(&c, with_probes(pod("web", &[]), Some(liveness(port)), None)).await;
    let ros = ros(&env.h).await;
    let before = ros.wait_running(UNIT).await.expect("running");

    wait_until("recreation", 40, || async {
        let (kinds, _) = log_kinds(&env.cfg).await;
        kinds.iter().any(|k| k == "lifecycle.UnitRecreating")
    })
    .await;
    settle(&c, KEY).await.expect("recreated");
    let (kinds, _) = log_kinds(&env.cfg).await;
    let restarted = kinds
        .iter()
        .filter(|k| *k == "lifecycle.UnitRestarted")
        .count();
    assert!(restarted >= 2, "{kinds:?}");
    let probe_restarts = common::series(
        &metrics.render(),
        r#"mkube_container_restarts_total{cause="probe"}"#,
    );
    assert_eq!(
        probe_restarts,
        Some(restarted as f64),
        "{}",
        metrics.render()
    );
    let failed = kinds
        .iter()
        .position(|k| k == "lifecycle.UnitFailed")
        .expect("UnitFailed");
    let recreating = kinds
        .iter()
        .position(|k| k == "lifecycle.UnitRecreating")
        .unwrap();
    assert!(failed < recreating);
    assert_eq!(
        kinds
            .iter()
            .filter(|k| *k == "lifecycle.UnitRestarted")
            .take(2)
            .count(),
        2
    );

    wait_until("new container running", 20, || async {
        running_id(&ros).await.is_some_and(|id| id != before.id)
    })
    .await;
    let after = ros.find_container(UNIT).await.unwrap().unwrap();
    assert_ne!(after.id, before.id, "a fresh device container");
    assert_eq!(
        after.interface, before.interface,
        "the veth's name is NAME-2's"
    );
    let (kinds, _) = log_kinds(&env.cfg).await;
    let tail: Vec<&str> = kinds[recreating..].iter().map(String::as_str).collect();
    for (earlier, later) in [
        ("pods.ContainerRemoving", "veths.VethRemoved"),
        ("veths.VethRemoved", "ipam.IpReleased"),
        ("ipam.IpReleased", "ipam.IpAllocated"),
        ("ipam.IpAllocated", "veths.VethCreated"),
    ] {
        let at = |k| tail.iter().position(|x| *x == k).unwrap_or(usize::MAX);
        assert!(
            at(earlier) < at(later),
            "{earlier} before {later}: {tail:?}"
        );
    }
    let ipam = ipam_state(&c).await;
    let state = pods_state(&c).await;
    let rec = &state.pods[KEY].containers["app"];
    assert_eq!(rec.device_id, after.id);
    assert_eq!(
        rec.ip,
        ipam.pools["t"]["veth_default_web_0"].ip.to_string(),
        "the record holds the new address"
    );
    let veth = ros.find_veth("veth_default_web_0").await.unwrap().unwrap();
    assert_eq!(veth.ipv4().unwrap(), format!("{}/24", rec.ip));
    assert_eq!(state.units[UNIT].restarts, 0, "counters cleared");
}

// §7.3: a probe on a port the container listens on (sim knob `probePorts`) keeps the pod
// alive with zero restarts; readiness is reported.
#[actix_rt::test]
async fn passing_probes_keep_the_pod_alive() {
    let mut env = env().await;
    fast(&mut env.cfg, 1);
    let port = free_port();
    env.h.knobs(json!({"probePorts": [port]})).await;
    let c = cluster::boot(&env.cfg).await;
    let ready = Probe {
        http_get: Some(k8s_openapi::api::core::v1::HTTPGetAction {
            port: IntOrString::Int(i32::from(port)),
            path: Some("/healthz".into()),
            ..Default::default()
        }),
        period_seconds: Some(1),
        ..Default::default()
    };
    run(
        &c,
        with_probes(pod("web", &[]), Some(liveness(port)), Some(ready)),
    )
    .await;
    let ros = ros(&env.h).await;
    let id = ros.wait_running(UNIT).await.expect("running").id;
    let lifecycle = c.lifecycle.clone().expect("standalone has a watchdog");
    wait_until("readiness known", 10, || async {
        lifecycle
            .send(GetReadiness { pod: KEY.into() })
            .await
            .unwrap()
            .is_some()
    })
    .await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(restarts(&c).await, 0);
    assert_eq!(running_id(&ros).await.as_deref(), Some(id.as_str()));
    let ready = lifecycle
        .send(GetReadiness { pod: KEY.into() })
        .await
        .unwrap();
    assert_eq!(ready, Some(true));
    let (kinds, _) = log_kinds(&env.cfg).await;
    assert!(
        !kinds
            .iter()
            .any(|k| k.starts_with("lifecycle.Unit") && k != "lifecycle.UnitRegistered"),
        "{kinds:?}"
    );
}

// LC-1: restartPolicy not `Always` → no unit, so a stopped container stays stopped.
#[actix_rt::test]
async fn restart_policy_never_has_no_unit_and_no_keepalive() {
    let mut env = env().await;
    fast(&mut env.cfg, 1);
    let c = cluster::boot(&env.cfg).await;
    let mut p = pod("web", &[]);
    if let Some(s) = p.spec.as_mut() {
        s.restart_policy = Some("Never".into());
    }
    run(&c, p).await;
    let ros = ros(&env.h).await;
    ros.wait_running(UNIT).await.expect("running");
    assert!(pods_state(&c).await.units.is_empty());
    env.h.crash(UNIT).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(
        running_id(&ros).await.is_none(),
        "no keepalive without a unit"
    );
    let (kinds, _) = log_kinds(&env.cfg).await;
    assert!(
        !kinds.iter().any(|k| k.starts_with("lifecycle.")),
        "{kinds:?}"
    );
}

// LC-1 discovery: a start-on-boot container that belongs to no pod (the operator's own) is
// kept running like a unit; one without start-on-boot, and one whose name has no `_` (the
// controller's own, CC-R1), are left alone. The repair pass is off here (the harness
// default); with it on, a NAME-1-shaped orphan is reaped (CC-R1) while `ops_tool`, one `_`,
// is no NAME-1 name and stays (`consistency_repair`).
#[actix_rt::test]
async fn unmanaged_start_on_boot_containers_are_kept_running() {
    use mkube::routeros::{ContainerSpec, ImageSource};
    let mut env = env().await;
    fast(&mut env.cfg, 1);
    let ros = ros(&env.h).await;
    let mut ids = Vec::new();
    for (name, on_boot) in [("ops_tool", true), ("ops_manual", false), ("selfctl", true)] {
        let mut spec = ContainerSpec::new(
            name,
            ImageSource::File(TARBALL.into()),
            "",
            format!("raid1/images/{name}"),
        );
        spec.start_on_boot = on_boot;
        spec.cmd = "/bin/app".into();
        let id = ros.add_container(&spec).await.expect("added");
        ros.wait_extracted(name).await.expect("extracted");
        ros.start_container(&id).await.expect("started");
        ros.wait_running(name).await.expect("running");
        ids.push((name, id));
    }
    let c = cluster::boot(&env.cfg).await;
    for (name, _) in &ids {
        env.h.crash(name).await;
    }
    let running = |name: &'static str| {
        let ros = &ros;
        async move {
            ros.find_container(name)
                .await
                .ok()
                .flatten()
                .is_some_and(|r| r.state.is_running())
        }
    };
    wait_until("the unmanaged unit started again", 15, || {
        running("ops_tool")
    })
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(
        !running("ops_manual").await,
        "no start-on-boot: left stopped"
    );
    assert!(
        !running("selfctl").await,
        "a name without `_` is never touched"
    );
    let (kinds, _) = log_kinds(&env.cfg).await;
    assert!(
        !kinds.iter().any(|k| k.starts_with("lifecycle.")),
        "unmanaged units record no facts: {kinds:?}"
    );
    drop(c);
}

// §7.2 readiness in the pod's status: a running container whose readiness probe fails is
// not ready (Ready and ContainersReady False, phase still Running); once the port answers it
// is ready.
#[actix_rt::test]
async fn readiness_shows_in_the_pod_status() {
    use actix_web::{App, test as web_test, web};
    use mkube::api::{ApiState, configure};

    let mut env = env().await;
    fast(&mut env.cfg, 1);
    let port = free_port();
    let c = cluster::boot(&env.cfg).await;
    let ready = Probe {
        tcp_socket: Some(TCPSocketAction {
            port: IntOrString::Int(i32::from(port)),
            ..Default::default()
        }),
        period_seconds: Some(1),
        timeout_seconds: Some(1),
        failure_threshold: Some(1),
        ..Default::default()
    };
    run(&c, with_probes(pod("web", &[]), None, Some(ready))).await;
    let state = ApiState::new(
        cluster::NODE,
        mkube::metrics::Metrics::new(),
        &env.cfg.networks,
    );
    let _ = state.cluster.set(c.clone());
    let app = web_test::init_service(
        App::new()
            .app_data(web::Data::new(state))
            .configure(configure),
    )
    .await;
    let status = |app| async move {
        let req = web_test::TestRequest::get()
            .uri("/api/v1/namespaces/default/pods/web")
            .to_request();
        let pod: serde_json::Value = web_test::call_and_read_body_json(app, req).await;
        let s = &pod["status"];
        let cond = |t: &str| {
            s["conditions"]
                .as_array()
                .unwrap()
                .iter()
                .find(|c| c["type"] == t)
                .map(|c| c["status"].as_str().unwrap().to_string())
                .unwrap()
        };
        (
            s["phase"].as_str().unwrap().to_string(),
            s["containerStatuses"][0]["ready"].as_bool().unwrap(),
            cond("Ready"),
        )
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let got = status(&app).await;
        if got == ("Running".to_string(), false, "False".to_string()) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "never reported not ready: {got:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    env.h.knobs(json!({"probePorts": [port]})).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let got = status(&app).await;
        if got == ("Running".to_string(), true, "True".to_string()) {
            break;
        }
        assert!(Instant::now() < deadline, "never reported ready: {got:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
