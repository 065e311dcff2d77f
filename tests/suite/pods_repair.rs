//! Failure and repair paths of the pods engine: a failed create releases what it allocated
//! and backs off (§3.1 [F], L-7), IPAM drift from a static IP recreates the pod (§5 step 4b),
//! dangling bridge ports are collected on a timer (NET-2 [F]), a push runs a pass at once (§5).

use crate::common::cluster;
use crate::engine_support::*;

use mkube::actors::images::PushNotify;
use mkube::actors::pods::{Kick, Kicked};
use mkube::actors::veths::CollectDanglingPorts;
use mkube::events::catalogue::{IpamEvent, PodSource};
use serde_json::json;
use std::time::{Duration, Instant};

// §3.1 [F] / L-7: an import that fails leaves no veth, no address and no intent behind; the
// failure is recorded once and the pod backs off (reconcile skips it) until forced.
#[actix_rt::test]
async fn a_failed_create_releases_what_it_allocated_and_backs_off() {
    let env = env().await;
    env.h.knobs(json!({"extractFailRate": 1.0})).await;
    let mut cfg = env.cfg.clone();
    cfg.lifecycle.create_backoff_seconds = 60.0;
    let c = cluster::boot(&cfg).await;
    declare(&c, pod("bad", &[])).await;
    let err = settle(&c, "default/bad").await.unwrap_err();
    assert!(err.contains("default_bad_app"), "{err}");

    let ros = ros(&env.h).await;
    assert!(ros.find_veth("veth_default_bad_0").await.unwrap().is_none());
    assert!(
        ros.find_container("default_bad_app")
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        ipam_state(&c)
            .await
            .pools
            .get("t")
            .is_none_or(|p| p.is_empty())
    );
    let state = pods_state(&c).await;
    let p = &state.pods["default/bad"];
    assert!(p.containers.is_empty(), "{:?}", p.containers);
    assert!(p.last_failure.is_some());

    // Back-off: reconcile leaves the pod alone.
    let report = pass(&c).await;
    assert!(report.ran.is_empty(), "{report:?}");
    let kicked = c
        .pods
        .send(Kick {
            key: "default/bad".into(),
            force: false,
        })
        .await
        .unwrap();
    assert_eq!(kicked, Kicked::BackingOff);

    // The device recovers; a forced run (a user change) succeeds and clears the failure.
    env.h.knobs(json!({"extractFailRate": 0.0})).await;
    settle(&c, "default/bad")
        .await
        .expect("created after recovery");
    assert!(
        pods_state(&c).await.pods["default/bad"]
            .last_failure
            .is_none()
    );
    ros.wait_running("default_bad_app").await.expect("running");
}

// §3.1 [F] with the soak's slow-recovery finding: a create the device refused with a 500 is
// an outage, not the pod's fault. However often it failed, the first pass that reads the
// device again runs the pod (instead of after a back-off of up to 5 minutes).
#[actix_rt::test]
async fn a_create_refused_by_an_unwell_device_is_retried_by_the_next_pass() {
    let env = env().await;
    let mut cfg = env.cfg.clone();
    cfg.lifecycle.create_backoff_seconds = 300.0;
    let c = cluster::boot(&cfg).await;
    env.h
        .fault(
            json!({"method": "POST", "path": "/rest/container/add", "kind": "error",
                      "status": 500, "count": 3}),
        )
        .await;
    declare(&c, pod("flaky", &[])).await;
    let err = settle(&c, "default/flaky").await.unwrap_err();
    assert!(err.contains("500"), "{err}");
    let kicked = c
        .pods
        .send(Kick {
            key: "default/flaky".into(),
            force: false,
        })
        .await
        .unwrap();
    assert_eq!(
        kicked,
        Kicked::BackingOff,
        "backs off until the device answers"
    );
    // Each pass reads the device first, so each retries the pod while the 500 window lasts
    // (300 s of back-off would skip it), and the first pass after the window creates it.
    let mut passes = 0;
    loop {
        passes += 1;
        let report = pass(&c).await;
        assert_eq!(report.ran.len(), 1, "pass {passes} ran the pod: {report:?}");
        if report.ran[0].1.is_ok() {
            break;
        }
        assert!(passes < 3, "three refusals at most: {report:?}");
    }
    ros(&env.h)
        .await
        .wait_running("default_flaky_app")
        .await
        .expect("running");
}

// The same for the event log: a job that could not record (NATS down) is left alone while
// NATS stays down — passes that read the device do not hammer it with retries — and runs
// with the first pass after NATS is back.
#[actix_rt::test]
async fn a_create_refused_by_the_log_is_retried_once_the_log_is_back() {
    let mut env = env().await;
    let mut cfg = env.cfg.clone();
    cfg.lifecycle.create_backoff_seconds = 300.0;
    let c = cluster::boot(&cfg).await;
    env.h
        .fault(
            json!({"method": "POST", "path": "/rest/container/add", "kind": "error",
                      "status": 500, "count": 2}),
        )
        .await;
    // Refused twice: the create the declaration starts, and the one `settle` runs after it.
    declare(&c, pod("quiet", &[])).await;
    assert!(settle(&c, "default/quiet").await.is_err(), "device refused");
    env.nats.kill();
    let down = Instant::now() + Duration::from_secs(10);
    while c.log.is_connected() {
        assert!(Instant::now() < down, "disconnect not seen");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The device answers: the device's wait ends and the pod runs, failing on the log now.
    let report = pass(&c).await;
    assert_eq!(report.ran.len(), 1, "{report:?}");
    let err = report.ran[0].1.as_ref().unwrap_err();
    assert!(err.contains("event log unavailable"), "{err}");
    // NATS still down: the pod waits.
    let report = pass(&c).await;
    assert!(
        report.ran.is_empty(),
        "retried while the log is down: {report:?}"
    );
    env.nats.restart();
    let up = Instant::now() + Duration::from_secs(20);
    while !c.log.is_connected() {
        assert!(Instant::now() < up, "reconnect not seen");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let report = pass(&c).await;
    assert_eq!(report.ran, vec![("default/quiet".to_string(), Ok(()))]);
}

// §5 step 4b: IPAM holds another address than the pod's static IP (learned from the device,
// IPAM-5) → the pod is torn down and recreated on its static IP.
#[actix_rt::test]
async fn static_ip_drift_recreates_the_pod() {
    let env = env().await;
    let c = cluster::boot(&env.cfg).await;
    declare(&c, pod("fixed", &[("vkube.io/static-ip", "127.77.0.50")])).await;
    settle(&c, "default/fixed").await.expect("created");
    let veth = "veth_default_fixed_0";
    assert_eq!(
        ipam_state(&c).await.pools["t"][veth].ip.to_string(),
        "127.77.0.50"
    );
    // Nothing to do while everything matches.
    assert!(pass(&c).await.ran.is_empty());

    // Someone re-addresses the veth on the device: the pass's IPAM resync learns it (the device
    // wins), and step 4b sees the static IP drift.
    let ros = ros(&env.h).await;
    let v = ros.find_veth(veth).await.unwrap().unwrap();
    ros.ensure_veth(veth, "127.77.0.77/24", &v.gateway)
        .await
        .unwrap();
    let report = pass(&c).await;
    assert_eq!(report.ran, vec![("default/fixed".to_string(), Ok(()))]);
    assert_eq!(
        ipam_state(&c).await.pools["t"][veth].ip.to_string(),
        "127.77.0.50"
    );
    let v = ros.find_veth(veth).await.unwrap().unwrap();
    assert_eq!(v.ipv4().as_deref(), Some("127.77.0.50/24"));
    ros.wait_running("default_fixed_app")
        .await
        .expect("running");
}

// §5 / L-6: a veth that vanished under a running container is put back by the next pass.
#[actix_rt::test]
async fn a_vanished_bridge_port_is_restored() {
    let env = env().await;
    let c = cluster::boot(&env.cfg).await;
    declare(&c, pod("port", &[])).await;
    settle(&c, "default/port").await.expect("created");
    let ros = ros(&env.h).await;
    let veth = "veth_default_port_0";
    for p in ros.ports_of(veth).await.unwrap() {
        ros.remove("/interface/bridge/port", &p.id).await.unwrap();
    }
    let report = pass(&c).await;
    assert_eq!(report.ran.len(), 1, "{report:?}");
    let ports = ros.ports_of(veth).await.unwrap();
    assert_eq!(ports.len(), 1);
    assert_eq!(ports[0].bridge, "t");
    // Repaired: the next pass has nothing to do.
    assert!(pass(&c).await.ran.is_empty());
}

// NET-2 [F]: static ports left by removed interfaces (`*<hex>`) are collected on the
// configured timer; live ports are not touched (L-2).
#[actix_rt::test]
async fn dangling_bridge_ports_are_collected_on_the_timer() {
    let env = env().await;
    let ros = ros(&env.h).await;
    for name in ["veth-a", "veth-b"] {
        ros.ensure_veth(name, "127.77.0.9/24", "127.77.0.1")
            .await
            .unwrap();
        ros.ensure_bridge_port("t", name).await.unwrap();
    }
    let a = ros.find_veth("veth-a").await.unwrap().unwrap();
    ros.remove("/interface/veth", &a.id).await.unwrap();
    assert!(
        ros.list_bridge_ports()
            .await
            .unwrap()
            .iter()
            .any(|p| p.is_dangling())
    );

    let mut cfg = env.cfg.clone();
    cfg.lifecycle.dangling_ports_after_seconds = 0.2;
    let c = cluster::boot(&cfg).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let ports = ros.list_bridge_ports().await.unwrap();
        if !ports.iter().any(|p| p.is_dangling()) {
            assert_eq!(ports.len(), 1);
            assert_eq!(ports[0].interface, "veth-b");
            break;
        }
        assert!(Instant::now() < deadline, "never collected: {ports:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The message works on demand too (nothing left).
    assert_eq!(
        c.veths.send(CollectDanglingPorts).await.unwrap().unwrap(),
        0
    );
}

// §5: a push notification runs a pass at once — a pod declared with the worker kept busy
// elsewhere is picked up without waiting for the (hour-long, in tests) interval.
#[actix_rt::test]
async fn a_push_notification_runs_a_pass_at_once() {
    let env = env().await;
    let c = cluster::boot(&env.cfg).await;
    // Declared through the log only (no worker kick), so only a pass creates it.
    cluster::record(
        &c,
        mkube::events::catalogue::PodsEvent::PodDeclared {
            namespace: "default".into(),
            name: "pushed".into(),
            source: PodSource::Api,
            pod: Box::new(pod("pushed", &[])),
        }
        .into(),
        "test",
    )
    .await;
    c.images
        .send(PushNotify {
            image: "127.0.0.1:5000/app:v1".into(),
            correlation: "test".into(),
        })
        .await
        .unwrap()
        .unwrap();
    let ros = ros(&env.h).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while ros
        .find_container("default_pushed_app")
        .await
        .unwrap()
        .is_none()
    {
        assert!(Instant::now() < deadline, "no pass after the push");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

// §3.1 step 2 [F][D] / L-6: a static IP held in IPAM by a stale key (no desired pod, no device
// veth) is released and taken; held by another desired pod's veth it is a conflict.
#[actix_rt::test]
async fn a_stale_holder_of_a_static_ip_is_released_but_a_live_one_is_a_conflict() {
    let env = env().await;
    let c = cluster::boot(&env.cfg).await;
    cluster::record(
        &c,
        IpamEvent::IpAllocated {
            network: "t".into(),
            key: "veth_default_ghost_0".into(),
            ip: "127.77.0.60".parse().unwrap(),
            hostname: "app.ghost".into(),
            is_static: true,
        }
        .into(),
        "test",
    )
    .await;
    declare(&c, pod("heir", &[("vkube.io/static-ip", "127.77.0.60")])).await;
    settle(&c, "default/heir")
        .await
        .expect("stale holder released");
    let ipam = ipam_state(&c).await;
    assert!(!ipam.pools["t"].contains_key("veth_default_ghost_0"));
    assert_eq!(
        ipam.pools["t"]["veth_default_heir_0"].ip.to_string(),
        "127.77.0.60"
    );

    declare(&c, pod("rival", &[("vkube.io/static-ip", "127.77.0.60")])).await;
    let err = settle(&c, "default/rival").await.unwrap_err();
    assert!(
        err.contains("already allocated to veth_default_heir_0"),
        "{err}"
    );
    let ros = ros(&env.h).await;
    assert!(
        ros.find_veth("veth_default_rival_0")
            .await
            .unwrap()
            .is_none()
    );
}

// Wiring: a device that is down at boot does not stop boot (`Cluster.routeros` is `None`,
// passes are skipped without writing anything); once it answers, the engine connects and
// creates the pending pod.
#[actix_rt::test]
async fn a_device_down_at_boot_is_connected_later() {
    use crate::routeros_support::{CLOCK, Harness};
    let nats = crate::common::NatsServer::start();
    let port = crate::common::nats::free_port();
    let rest = format!("http://127.0.0.1:{port}/rest");
    let cfg = config(&nats.url(), &rest);
    let c = cluster::boot(&cfg).await;
    assert!(c.routeros.is_none());
    let report = pass(&c).await;
    assert!(
        report.aborted.is_some() && report.ran.is_empty(),
        "{report:?}"
    );
    declare(&c, pod("later", &[])).await;
    // The create fails on the unreachable device without recording anything about the pod.
    let log = cluster::log(&cfg).await;
    let seq = log.last_sequence().await.unwrap();
    assert!(settle(&c, "default/later").await.is_err());
    assert_eq!(
        log.last_sequence().await.unwrap(),
        seq,
        "an outage is not a pod fact"
    );

    let dir = tempfile::tempdir().unwrap();
    let mut opts = mkube::sim::routeros::SimOptions::new(dir.path().to_path_buf());
    opts.listen = ([127, 0, 0, 1], port).into();
    let sim = mkube::sim::routeros::start(opts)
        .await
        .expect("sim on the port");
    let h = Harness {
        sim,
        dir,
        ctl: crate::common::http(),
    };
    h.knobs(json!({"clockFactor": CLOCK})).await;
    h.seed(json!({"bridges": ["t"]})).await;
    h.tarball("app", "v1");
    // The next pass after the pod's back-off (0.2 s doubling in tests) creates it.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let report = pass(&c).await;
        if !report.ran.is_empty() {
            assert_eq!(report.ran, vec![("default/later".to_string(), Ok(()))]);
            break;
        }
        assert!(Instant::now() < deadline, "{report:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    ros(&h)
        .await
        .wait_running("default_later_app")
        .await
        .expect("running");
}

// L-1 / L-2: containers and veths mkube did not create (even with mkube-like names) survive
// any number of reconcile passes over an empty desired state; nothing is written. (The
// repair pass is off here; with it on, safeToReap refuses the same device: `consistency_*`.)
#[actix_rt::test]
async fn passes_never_delete_what_mkube_did_not_create() {
    let env = env().await;
    let ros = ros(&env.h).await;
    ros.ensure_veth("veth_default_foreign_0", "127.77.0.30/24", "127.77.0.1")
        .await
        .unwrap();
    ros.ensure_bridge_port("t", "veth_default_foreign_0")
        .await
        .unwrap();
    let net = &env.cfg.networks[0];
    let mut foreign = pod("foreign", &[]);
    foreign.spec.as_mut().unwrap().containers[0].volume_mounts = None;
    let planned =
        mkube::actors::pods::plan::container_plan(&env.cfg, &foreign, 0, net, TARBALL).unwrap();
    ros.add_container(&planned.spec).await.unwrap();
    ros.wait_extracted("default_foreign_app").await.unwrap();

    let c = cluster::boot(&env.cfg).await;
    env.h.clear_journal().await;
    for _ in 0..2 {
        let report = pass(&c).await;
        assert!(report.ran.is_empty(), "{report:?}");
    }
    assert!(writes(&env.h).await.is_empty());
    assert!(
        ros.find_container("default_foreign_app")
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        ros.find_veth("veth_default_foreign_0")
            .await
            .unwrap()
            .is_some()
    );
}

/// Plants a running container `name` on veth `veth` (with address `cidr`) that mkube never
/// recorded.
async fn plant_holder(ros: &mkube::routeros::RosClient, name: &str, veth: &str, cidr: &str) {
    ros.ensure_veth(veth, cidr, "127.77.0.1").await.unwrap();
    ros.ensure_bridge_port("t", veth).await.unwrap();
    let mut spec = mkube::routeros::ContainerSpec::new(
        name,
        mkube::routeros::ImageSource::File(TARBALL.into()),
        veth,
        format!("/raid1/images/{name}"),
    );
    spec.start_on_boot = false;
    let id = ros.add_container(&spec).await.unwrap();
    ros.wait_extracted(name).await.unwrap();
    ros.start_container(&id).await.unwrap();
}

// §3.1 step 2 / §3.5 (issue 13): a veth held by a container mkube did not record is
// force-released — the holder removed — and the create succeeds instead of backing off.
#[actix_rt::test]
async fn a_veth_held_by_an_unrecorded_container_is_force_released() {
    let env = env().await;
    let ros = ros(&env.h).await;
    plant_holder(
        &ros,
        "default_ghost_app",
        "veth_default_web_0",
        "127.77.0.30/24",
    )
    .await;
    let c = cluster::boot(&env.cfg).await;
    pass(&c).await; // the pass's observation shows who holds the veth
    declare_created(&c, pod("web", &[])).await;
    assert!(
        ros.find_container("default_ghost_app")
            .await
            .unwrap()
            .is_none(),
        "the holder was removed"
    );
    let row = ros.wait_running("default_web_app").await.unwrap();
    assert_eq!(row.interface, "veth_default_web_0");
}

// The same without an observation, and a holder mkube never manages (no `_`): it is kept and
// the pod says why it cannot be created.
#[actix_rt::test]
async fn a_veth_held_by_a_foreign_container_is_not_taken() {
    let env = env().await;
    let ros = ros(&env.h).await;
    plant_holder(&ros, "ghost", "veth_default_web_0", "127.77.0.30/24").await;
    let c = cluster::boot(&env.cfg).await;
    declare(&c, pod("web", &[])).await;
    let err = settle(&c, "default/web").await.unwrap_err();
    assert!(err.contains("held by container(s) [\"ghost\"]"), "{err}");
    assert!(ros.find_container("ghost").await.unwrap().is_some(), "kept");
    assert!(
        ros.find_container("default_web_app")
            .await
            .unwrap()
            .is_none()
    );
}
