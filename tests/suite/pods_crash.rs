//! Crashes between intent and outcome (DESIGN rule 6, L-4, L-7): device names are
//! deterministic, so whatever a cut-short job left on the device is adopted by the next one —
//! never duplicated — and nothing leaks.

use crate::common::mkube::MkubeProcess;
use crate::common::{self, NatsServer, cluster};
use crate::engine_support::*;
use crate::routeros_support::{Harness, PACING};

use mkube::actors::ipam::Allocate;
use mkube::actors::pods::plan;
use mkube::events::catalogue::{PodSource, PodsEvent};
use mkube::sim::routeros::Profile;
use serde_json::json;
use std::time::{Duration, Instant};

// Rule 6: the log holds the allocation and the intent (`ContainerCreating`), the device holds
// the veth, its bridge port and the imported (not started) container, and the outcome events
// never made it. A restarted cluster adopts all of it: one container, one veth, one address.
#[actix_rt::test]
async fn intent_without_outcome_is_adopted_after_a_restart() {
    let env = env().await;
    let before = cluster::boot(&env.cfg).await;
    let p = pod("crash", &[]);
    cluster::record(
        &before,
        PodsEvent::PodDeclared {
            namespace: "default".into(),
            name: "crash".into(),
            source: PodSource::Api,
            pod: Box::new(p.clone()),
        }
        .into(),
        "test",
    )
    .await;
    let veth = "veth_default_crash_0";
    let ip = before
        .ipam
        .send(Allocate {
            network: "t".into(),
            key: veth.into(),
            hostname: "app.crash".into(),
            static_ip: None,
            correlation: "test".into(),
        })
        .await
        .unwrap()
        .unwrap();
    cluster::record(
        &before,
        PodsEvent::ContainerCreating {
            namespace: "default".into(),
            name: "crash".into(),
            container: "app".into(),
            device_name: "default_crash_app".into(),
            veth: veth.into(),
            network: "t".into(),
            ip: ip.to_string(),
            revision: 0,
            image_digest: String::new(),
        }
        .into(),
        "test",
    )
    .await;
    // The effects the crashed job got through.
    let ros = ros(&env.h).await;
    ros.ensure_veth(veth, &format!("{ip}/24"), "127.77.0.1")
        .await
        .unwrap();
    ros.ensure_bridge_port("t", veth).await.unwrap();
    let net = &env.cfg.networks[0];
    let planned = plan::container_plan(&env.cfg, &p, 0, net, TARBALL).unwrap();
    let id = ros.add_container(&planned.spec).await.unwrap();
    ros.wait_extracted("default_crash_app").await.unwrap();

    // "Restart": a fresh cluster replays the log and reconciles.
    let after = cluster::boot(&env.cfg).await;
    env.h.clear_journal().await;
    let report = pass(&after).await;
    assert_eq!(report.ran, vec![("default/crash".to_string(), Ok(()))]);

    let rows: Vec<_> = ros
        .list_containers()
        .await
        .unwrap()
        .into_iter()
        .filter(|c| c.name == "default_crash_app")
        .collect();
    assert_eq!(rows.len(), 1, "no duplicate container");
    assert_eq!(rows[0].id, id, "the existing container was adopted");
    ros.wait_running("default_crash_app")
        .await
        .expect("started");
    let veths: Vec<_> = ros
        .list_veths()
        .await
        .unwrap()
        .into_iter()
        .filter(|v| v.name.starts_with("veth_default_crash"))
        .collect();
    assert_eq!(veths.len(), 1);
    assert_eq!(ros.ports_of(veth).await.unwrap().len(), 1);
    let w = writes(&env.h).await;
    assert!(
        !w.iter().any(|l| l.ends_with("/add")),
        "adoption adds nothing: {w:?}"
    );
    let ipam = ipam_state(&after).await;
    assert_eq!(ipam.pools["t"].len(), 1);
    assert_eq!(ipam.pools["t"][veth].ip, ip);
    let state = pods_state(&after).await;
    let rec = &state.pods["default/crash"].containers["app"];
    assert!(rec.is_created() && rec.adopted && rec.started);
    assert!(
        after
            .veths
            .send(mkube::actors::journal::GetState::<
                mkube::actors::veths::state::VethsState,
            >::new())
            .await
            .unwrap()
            .veths
            .contains_key(veth)
    );
}

fn process_config(nats: &str, rest: &str, listen: &str) -> String {
    format!(
        r#"nodeName: crash
standalone: true
routeros:
  restUrl: {rest}
  pacing: {PACING}
networks:
  - name: t
    bridge: t
    cidr: 127.77.0.0/24
    gateway: 127.77.0.1
    ipamStart: 127.77.0.100
    ipamEnd: 127.77.0.150
    dns: {{endpoint: "http://127.0.0.1:9", zone: t.lo, server: 127.77.0.252, staticRecords: []}}
storage: {{basePath: /raid1/images}}
nats: {{url: "{nats}", snapshotEvery: 1000}}
api: {{listen: "{listen}"}}
lifecycle: {{bootManifestPath: "", reconcileIntervalSeconds: 0.5, createBackoffSeconds: 0.2}}
"#
    )
}

// The real binary is SIGKILLed while `/container/add` is importing; the restarted process
// adopts the half-created container and converges with no duplicate and no leak.
#[actix_rt::test]
async fn sigkill_mid_create_converges_after_restart() {
    let nats = NatsServer::start();
    let h = Harness::start(Profile::default()).await;
    h.seed(json!({"bridges": ["t"]})).await;
    h.tarball("app", "v1");
    // A slow import (50 s of device time, about 1 s of wall time) to be killed in.
    h.knobs(json!({"extractOverheadMs": 50000})).await;
    let rest = h.sim.rest_url();
    let url = nats.url();
    let dir = tempfile::tempdir().unwrap();
    let http = common::http();

    let mut first = MkubeProcess::start_config(dir.path(), |l| process_config(&url, &rest, l));
    first.wait_ready(&http).await;
    let body = json!({
        "metadata": {"name": "kill", "annotations": {"vkube.io/file": TARBALL}},
        "spec": {"restartPolicy": "Always", "containers": [{"name": "app", "command": ["/bin/app"]}]}
    });
    let created = http
        .post(first.url("/api/v1/namespaces/default/pods"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let ros = ros(&h).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while ros
        .find_container("default_kill_app")
        .await
        .unwrap()
        .is_none()
    {
        assert!(Instant::now() < deadline, "{}", first.log_text());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    first.kill();

    let second = MkubeProcess::start_config(dir.path(), |l| process_config(&url, &rest, l));
    second.wait_ready(&http).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut cfg = cluster::config(&url);
    cfg.node_name = "crash".into();
    loop {
        let (_, fold) = log_kinds(&cfg).await;
        let created = fold
            .state
            .pods
            .pods
            .get("default/kill")
            .and_then(|p| p.containers.get("app"))
            .is_some_and(|c| c.is_created() && c.started);
        if created {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "never converged: {}",
            second.log_text()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let rows: Vec<_> = ros
        .list_containers()
        .await
        .unwrap()
        .into_iter()
        .filter(|c| c.name == "default_kill_app")
        .collect();
    assert_eq!(rows.len(), 1, "no duplicate container");
    let row = ros
        .find_container("default_kill_app")
        .await
        .unwrap()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut row = row;
    while !row.state.is_running() {
        assert!(Instant::now() < deadline, "{:?}", row.state);
        tokio::time::sleep(Duration::from_millis(50)).await;
        row = ros
            .find_container("default_kill_app")
            .await
            .unwrap()
            .unwrap();
    }
    let veths: Vec<_> = ros
        .list_veths()
        .await
        .unwrap()
        .into_iter()
        .filter(|v| v.name.starts_with("veth_default_kill"))
        .collect();
    assert_eq!(veths.len(), 1, "no leaked veth");
    let (_, fold) = log_kinds(&cfg).await;
    let pool = &fold.state.ipam.pools["t"];
    assert_eq!(pool.len(), 1, "one address: {pool:?}");
    assert_eq!(
        veths[0].ipv4().unwrap(),
        format!("{}/24", pool["veth_default_kill_0"].ip)
    );
}

// Rule 6 on the way out: the deletion and the teardown intent (`ContainerRemoving`) are in
// the log and the container is already gone from the device, but the veth, its port and the
// address are left. After a restart the pass finishes the teardown (§3.2, NET-2) and forgets
// the pod.
#[actix_rt::test]
async fn a_teardown_cut_short_is_finished_after_a_restart() {
    let env = env().await;
    let before = cluster::boot(&env.cfg).await;
    before
        .pods
        .send(mkube::actors::pods::Declare {
            pod: pod("half", &[]),
            source: PodSource::Api,
            correlation: "test".into(),
        })
        .await
        .unwrap()
        .unwrap();
    settle(&before, "default/half").await.expect("created");
    // The crashed job: deletion recorded (without a worker run), intent recorded, container
    // removed, nothing else.
    for event in [
        PodsEvent::PodDeleted {
            namespace: "default".into(),
            name: "half".into(),
        },
        PodsEvent::ContainerRemoving {
            namespace: "default".into(),
            name: "half".into(),
            container: "app".into(),
        },
    ] {
        cluster::record(&before, event.into(), "test").await;
    }
    let ros = ros(&env.h).await;
    ros.delete_container("default_half_app").await.unwrap();
    ros.wait_gone("default_half_app").await.unwrap();
    assert!(
        ros.find_veth("veth_default_half_0")
            .await
            .unwrap()
            .is_some()
    );

    let after = cluster::boot(&env.cfg).await;
    let report = pass(&after).await;
    assert_eq!(report.ran, vec![("default/half".to_string(), Ok(()))]);
    assert!(
        ros.find_veth("veth_default_half_0")
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        ros.ports_of("veth_default_half_0")
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        ipam_state(&after)
            .await
            .pools
            .get("t")
            .is_none_or(|p| p.is_empty())
    );
    let state = pods_state(&after).await;
    assert!(state.pods.is_empty() && state.deleting.is_empty());
    assert!(pass(&after).await.ran.is_empty());
}
