//! Crashes between intent and outcome (DESIGN rule 6, L-4, L-7): device names are
//! deterministic, so whatever a cut-short job left on the device is adopted by the next one —
//! never duplicated — and nothing leaks.

use crate::common::mkube::MkubeProcess;
use crate::common::{self, NatsServer, cluster};
use crate::engine_support::*;
use crate::routeros_support::Harness;

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
            env_digest: String::new(),
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
            .send(mkube::actors::journal::testing::Inspect::<
                mkube::actors::veths::state::VethsState,
            >::new())
            .await
            .unwrap()
            .veths
            .contains_key(veth)
    );
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

    let mut first =
        MkubeProcess::start_config(dir.path(), |l| process_config("crash", &url, &rest, l, 0.5));
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

    let second =
        MkubeProcess::start_config(dir.path(), |l| process_config("crash", &url, &rest, l, 0.5));
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

// ---- Rule 6, every step: the real binary aborts (MKUBE_CRASH_AT) at each crash point of a
// create, a delete and an update; a restarted binary converges with no duplicate container,
// no leaked veth, bridge port, address or mount list.

struct CrashRig {
    _nats: NatsServer,
    h: Harness,
    url: String,
    rest: String,
    dir: tempfile::TempDir,
    http: reqwest::Client,
}

impl CrashRig {
    async fn start() -> CrashRig {
        let nats = NatsServer::start();
        let h = Harness::start(Profile::default()).await;
        h.seed(json!({"bridges": ["t"]})).await;
        h.tarball("app", "v1");
        CrashRig {
            url: nats.url(),
            rest: h.sim.rest_url(),
            _nats: nats,
            h,
            dir: tempfile::tempdir().unwrap(),
            http: common::http(),
        }
    }

    async fn mkube(&self, crash_at: Option<&str>) -> MkubeProcess {
        let (url, rest) = (self.url.clone(), self.rest.clone());
        let env: Vec<(&str, &str)> = crash_at
            .map(|p| ("MKUBE_CRASH_AT", p))
            .into_iter()
            .collect();
        let mk = MkubeProcess::start_env(
            self.dir.path(),
            |l| process_config("crash", &url, &rest, l, 0.5),
            &env,
        );
        mk.wait_ready(&self.http).await;
        mk
    }

    fn pod_body(name: &str, command: &str) -> serde_json::Value {
        json!({
            "metadata": {"name": name, "annotations": {"vkube.io/file": TARBALL}},
            "spec": {"restartPolicy": "Always", "containers": [{"name": "app", "command": [command]}]}
        })
    }

    /// Waits until the process aborted at its crash point.
    async fn aborted(mk: &mut MkubeProcess, point: &str) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = mk.child.try_wait().unwrap() {
                assert!(!status.success(), "{point}: exited cleanly");
                assert!(
                    mk.log_text().contains(&format!("MKUBE_CRASH_AT={point}")),
                    "{point}: died elsewhere: {}",
                    mk.log_text()
                );
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{point}: never reached: {}",
                mk.log_text()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The device and the log agree that `name` runs once with command `cmd`, or (None) that
    /// nothing of it is left.
    async fn converged(&self, name: &str, cmd: Option<&str>, mk: &MkubeProcess) -> Option<String> {
        let ros = ros(&self.h).await;
        let mut cfg = cluster::config(&self.url);
        cfg.node_name = "crash".into();
        let device_name = format!("default_{name}_app");
        let veth = format!("veth_default_{name}_0");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let rows: Vec<_> = ros
                .list_containers()
                .await
                .unwrap()
                .into_iter()
                .filter(|c| c.name == device_name)
                .collect();
            let veths: Vec<_> = ros
                .list_veths()
                .await
                .unwrap()
                .into_iter()
                .filter(|v| v.name == veth)
                .collect();
            let ports = ros.ports_of(&veth).await.unwrap_or_default();
            let mounts = ros.list_mounts(&device_name).await.unwrap().len();
            let (_, fold) = log_kinds(&cfg).await;
            let ip = fold
                .state
                .ipam
                .pools
                .get("t")
                .and_then(|p| p.get(&veth))
                .map(|a| a.ip.to_string());
            let pods = &fold.state.pods;
            let done = match cmd {
                Some(cmd) => {
                    let rec = pods
                        .pods
                        .get(&format!("default/{name}"))
                        .and_then(|p| p.containers.get("app"));
                    rows.len() == 1
                        && rows[0].state.is_running()
                        && rows[0].cmd == cmd
                        && veths.len() == 1
                        && ports.len() == 1
                        && ip.as_ref().is_some_and(|ip| {
                            veths[0].ipv4().as_deref() == Some(&format!("{ip}/24"))
                        })
                        && rec.is_some_and(|c| c.is_created() && c.started && !c.removing)
                }
                None => {
                    rows.is_empty()
                        && veths.is_empty()
                        && ports.is_empty()
                        && mounts == 0
                        && ip.is_none()
                        && !pods.pods.contains_key(&format!("default/{name}"))
                        && !pods.deleting.contains_key(&format!("default/{name}"))
                }
            };
            if done {
                // Other pods' addresses are untouched; this one holds at most one.
                return ip;
            }
            assert!(
                Instant::now() < deadline,
                "{name} never converged (rows {}, veths {}, ports {}, mounts {mounts}, ip {ip:?}): {}",
                rows.len(),
                veths.len(),
                ports.len(),
                mk.log_text()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

fn points(prefix: &str) -> Vec<&'static str> {
    mkube::actors::pods::worker::crash::POINTS
        .iter()
        .copied()
        .filter(|p| p.starts_with(prefix))
        .collect()
}

#[actix_rt::test]
async fn a_crash_at_every_create_step_converges_after_restart() {
    let rig = CrashRig::start().await;
    for (i, point) in points("create.").into_iter().enumerate() {
        let name = format!("c{i}");
        let mut crashing = rig.mkube(Some(point)).await;
        // The fact is recorded before the worker starts; the abort may still cut the answer.
        let r = rig
            .http
            .post(crashing.url("/api/v1/namespaces/default/pods"))
            .json(&CrashRig::pod_body(&name, "/bin/app"))
            .send()
            .await;
        if let Ok(r) = r {
            assert_eq!(r.status(), 201, "{point}");
        }
        CrashRig::aborted(&mut crashing, point).await;
        let mut normal = rig.mkube(None).await;
        rig.converged(&name, Some("/bin/app"), &normal).await;
        normal.kill();
    }
}

#[actix_rt::test]
async fn a_crash_at_every_delete_step_converges_after_restart() {
    let rig = CrashRig::start().await;
    for (i, point) in points("delete.").into_iter().enumerate() {
        let name = format!("d{i}");
        let mut normal = rig.mkube(None).await;
        let r = rig
            .http
            .post(normal.url("/api/v1/namespaces/default/pods"))
            .json(&CrashRig::pod_body(&name, "/bin/app"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        rig.converged(&name, Some("/bin/app"), &normal).await;
        normal.kill();
        let mut crashing = rig.mkube(Some(point)).await;
        // The fact is recorded before the worker starts; the abort may still cut the answer.
        let r = rig
            .http
            .delete(crashing.url(&format!("/api/v1/namespaces/default/pods/{name}")))
            .send()
            .await;
        if let Ok(r) = r {
            assert_eq!(r.status(), 200, "{point}");
        }
        CrashRig::aborted(&mut crashing, point).await;
        let mut normal = rig.mkube(None).await;
        rig.converged(&name, None, &normal).await;
        normal.kill();
    }
}

// An update on the same network rebuilds the container (§3.3 [F]); a crash at any create step
// of the rebuild ends with the new command running once, on the same veth and address.
#[actix_rt::test]
async fn a_crash_at_every_update_step_converges_after_restart() {
    let rig = CrashRig::start().await;
    for (i, point) in points("create.").into_iter().enumerate() {
        let name = format!("u{i}");
        let mut normal = rig.mkube(None).await;
        let r = rig
            .http
            .post(normal.url("/api/v1/namespaces/default/pods"))
            .json(&CrashRig::pod_body(&name, "/bin/app"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        let before = rig.converged(&name, Some("/bin/app"), &normal).await;
        normal.kill();
        let mut crashing = rig.mkube(Some(point)).await;
        // The fact is recorded before the worker starts; the abort may still cut the answer.
        let r = rig
            .http
            .put(crashing.url(&format!("/api/v1/namespaces/default/pods/{name}")))
            .json(&CrashRig::pod_body(&name, "/bin/app-v2"))
            .send()
            .await;
        if let Ok(r) = r {
            assert_eq!(r.status(), 200, "{point}");
        }
        CrashRig::aborted(&mut crashing, point).await;
        let mut normal = rig.mkube(None).await;
        let after = rig.converged(&name, Some("/bin/app-v2"), &normal).await;
        assert_eq!(before, after, "{point}: the update kept the address");
        normal.kill();
    }
}
