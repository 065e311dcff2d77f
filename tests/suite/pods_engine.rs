//! The pods engine end to end: real nats-server, the RouterOS simulator over loopback HTTP, an
//! in-process cluster in standalone mode. Create (§3.1), delete (§3.2), update (§3.3 [F]),
//! boot order (§7.4), quiet reconcile passes (§5), status (§3.6).

use crate::common::{cluster, samples};
use crate::engine_support::*;

use mkube::actors::pods::{Delete, Update};
use mkube::events::{Envelope, subject};
use serde_json::json;
use std::net::Ipv4Addr;

// §3.1 with NAME-1 (container), NAME-2 [F] (veth), NAME-3/NAME-5 (mounts), NET-1 (veth with
// the IPAM address on the network's bridge), §3.6 (status).
#[actix_rt::test]
async fn declared_pod_runs_on_the_device_with_its_ipam_address() {
    let env = env().await;
    let c = cluster::boot(&env.cfg).await;
    assert!(c.routeros.is_some(), "the device answered at boot");
    declare(&c, pod("web", &[])).await;
    settle(&c, "default/web").await.expect("created");

    let ros = ros(&env.h).await;
    let row = ros.wait_running("default_web_app").await.expect("running");
    assert_eq!(row.interface, "veth_default_web_0");
    assert_eq!(row.root_dir, "raid1/images/default_web_app");
    assert_eq!(row.cmd, "/bin/app --serve");
    assert_eq!(row.hostname, "web");
    assert_eq!(row.dns, "127.77.0.252");
    assert!(row.start_on_boot && row.logging);
    assert_eq!(row.mountlists, vec!["default_web_app".to_string()]);

    let ipam = ipam_state(&c).await;
    let alloc = &ipam.pools["t"]["veth_default_web_0"];
    assert_eq!(alloc.ip, "127.77.0.100".parse::<Ipv4Addr>().unwrap());
    assert_eq!(alloc.hostname, "app.web");
    let veth = ros.find_veth("veth_default_web_0").await.unwrap().unwrap();
    assert_eq!(veth.ipv4().as_deref(), Some("127.77.0.100/24"));
    assert_eq!(veth.gateway, "127.77.0.1");
    let ports = ros.ports_of("veth_default_web_0").await.unwrap();
    assert_eq!(ports.len(), 1);
    assert_eq!(ports[0].bridge, "t");
    assert!(!ports[0].dynamic);
    let mounts = ros.list_mounts("default_web_app").await.unwrap();
    assert_eq!(mounts.len(), 1);
    assert_eq!(mounts[0].dst, "/data");
    assert_eq!(
        mkube::routeros::normalize_path(&mounts[0].src),
        "raid1/volumes/default_web_app/data"
    );

    let status = pod_status(&c, &env.cfg, "default/web").await;
    assert_eq!(status.phase.as_deref(), Some("Running"));
    assert_eq!(status.pod_ip.as_deref(), Some("127.77.0.100"));
    let container = &status.container_statuses.as_ref().unwrap()[0];
    assert!(container.state.as_ref().unwrap().running.is_some());
    assert_eq!(container.container_id.as_deref(), Some(row.id.as_str()));

    // Intent before effect, outcome after (rule 6).
    let (kinds, _) = log_kinds(&env.cfg).await;
    let at = |k: &str| kinds.iter().position(|x| x == k).unwrap_or(usize::MAX);
    assert!(
        at("ipam.IpAllocated") < at("pods.ContainerCreating"),
        "{kinds:?}"
    );
    assert!(
        at("pods.ContainerCreating") < at("veths.VethCreated"),
        "{kinds:?}"
    );
    assert!(
        at("veths.VethCreated") < at("pods.ContainerCreated"),
        "{kinds:?}"
    );
    assert!(at("pods.ContainerCreated") < usize::MAX);
}

// §3.2 + NET-2 [F]: container, mount list, bridge port, veth and address all go; the port
// goes before the veth.
#[actix_rt::test]
async fn deleted_pod_leaves_nothing_behind() {
    let env = env().await;
    let c = cluster::boot(&env.cfg).await;
    declare(&c, pod("gone", &[])).await;
    settle(&c, "default/gone").await.expect("created");
    env.h.clear_journal().await;
    c.pods
        .send(Delete {
            namespace: "default".into(),
            name: "gone".into(),
            correlation: "test".into(),
        })
        .await
        .unwrap()
        .unwrap();
    settle(&c, "default/gone").await.expect("deleted");

    gone_from_device(&env.h, "default_gone_app", "veth_default_gone_0").await;
    assert!(
        ipam_state(&c)
            .await
            .pools
            .get("t")
            .is_none_or(|p| p.is_empty())
    );
    let state = pods_state(&c).await;
    assert!(state.pods.is_empty() && state.deleting.is_empty());
    let w = writes(&env.h).await;
    let port = w
        .iter()
        .position(|l| l == "POST /interface/bridge/port/remove");
    let veth = w.iter().position(|l| l == "POST /interface/veth/remove");
    assert!(port.is_some() && port < veth, "{w:?}");
    let (kinds, _) = log_kinds(&env.cfg).await;
    for k in [
        "pods.ContainerRemoving",
        "veths.VethRemoved",
        "ipam.IpReleased",
        "pods.ContainerRemoved",
        "pods.PodRemoved",
    ] {
        assert!(kinds.iter().any(|x| x == k), "missing {k} in {kinds:?}");
    }
}

// §3.2: deleting a pod whose containers never existed succeeds and leaves no record.
#[actix_rt::test]
async fn deleting_a_pod_that_never_ran_succeeds() {
    let env = env().await;
    let mut cfg = env.cfg.clone();
    cfg.lifecycle.create_backoff_seconds = 60.0;
    let c = cluster::boot(&cfg).await;
    // An unknown network makes every create fail before touching the device.
    declare(&c, pod("never", &[("vkube.io/network", "nope")])).await;
    let err = settle(&c, "default/never").await.unwrap_err();
    assert!(err.contains("network \"nope\" not found"), "{err}");
    c.pods
        .send(Delete {
            namespace: "default".into(),
            name: "never".into(),
            correlation: "test".into(),
        })
        .await
        .unwrap()
        .unwrap();
    settle(&c, "default/never")
        .await
        .expect("nothing to delete");
    let state = pods_state(&c).await;
    assert!(state.pods.is_empty() && state.deleting.is_empty());
}

// §3.3 [F] / L-10: an update on the same network rebuilds the container only; the veth (same
// row) and the address stay.
#[actix_rt::test]
async fn update_on_the_same_network_keeps_veth_and_address() {
    let env = env().await;
    let c = cluster::boot(&env.cfg).await;
    declare(&c, pod("upd", &[])).await;
    settle(&c, "default/upd").await.expect("created");
    let ros = ros(&env.h).await;
    let veth_before = ros.find_veth("veth_default_upd_0").await.unwrap().unwrap();
    let ip_before = ipam_state(&c).await.pools["t"]["veth_default_upd_0"].ip;

    let mut changed = pod("upd", &[]);
    changed.spec.as_mut().unwrap().containers[0].command =
        Some(vec!["/bin/app".into(), "--v2".into()]);
    env.h.clear_journal().await;
    c.pods
        .send(Update {
            pod: changed,
            correlation: "test".into(),
        })
        .await
        .unwrap()
        .unwrap();
    settle(&c, "default/upd").await.expect("updated");

    let row = ros.wait_running("default_upd_app").await.expect("running");
    assert_eq!(row.cmd, "/bin/app --v2");
    let veth_after = ros.find_veth("veth_default_upd_0").await.unwrap().unwrap();
    assert_eq!(veth_after.id, veth_before.id, "same veth row");
    assert_eq!(
        ipam_state(&c).await.pools["t"]["veth_default_upd_0"].ip,
        ip_before
    );
    let w = writes(&env.h).await;
    assert!(
        !w.iter().any(|l| l.starts_with("POST /interface/veth")),
        "{w:?}"
    );
    assert!(w.iter().any(|l| l == "POST /container/add"), "{w:?}");
}

// §3.3 [F]: a network move tears down with the old facts and creates on the new network.
#[actix_rt::test]
async fn update_to_another_network_moves_veth_and_address() {
    let env = env().await;
    let c = cluster::boot(&env.cfg).await;
    declare(&c, pod("mv", &[])).await;
    settle(&c, "default/mv").await.expect("created");
    c.pods
        .send(Update {
            pod: pod("mv", &[("vkube.io/network", "u")]),
            correlation: "test".into(),
        })
        .await
        .unwrap()
        .unwrap();
    settle(&c, "default/mv").await.expect("moved");
    let ipam = ipam_state(&c).await;
    assert!(
        ipam.pools
            .get("t")
            .is_none_or(|p| !p.contains_key("veth_default_mv_0"))
    );
    assert!(ipam.pools["u"].contains_key("veth_default_mv_0"));
    let ros = ros(&env.h).await;
    let ports = ros.ports_of("veth_default_mv_0").await.unwrap();
    assert_eq!(ports.len(), 1);
    assert_eq!(ports[0].bridge, "u");
    let veth = ros.find_veth("veth_default_mv_0").await.unwrap().unwrap();
    assert!(veth.address.starts_with("127.78.0."), "{}", veth.address);
    // The move's teardown unregistered the lifecycle unit; the create in the same job
    // registered it again (LC-1), so keepalive still watches the container.
    assert!(
        pods_state(&c).await.units.contains_key("default_mv_app"),
        "unit registered after the move"
    );
}

// §7.4 [D] + DS-2: boot-order pods are seeded after replay and created by priority, not in
// file order; a second pass with nothing changed writes nothing to the device and appends no
// event (§5, DESIGN "a quiet cluster writes no events").
#[actix_rt::test]
async fn boot_order_pods_are_created_by_priority_and_a_quiet_pass_writes_nothing() {
    let env = env().await;
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("boot-order.yaml");
    let doc = |name: &str, prio: &str| {
        format!(
            "---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  namespace: infra\n  annotations:\n    vkube.io/boot-priority: \"{prio}\"\n    vkube.io/file: {TARBALL}\nspec:\n  restartPolicy: Always\n  containers:\n    - name: {name}\n"
        )
    };
    std::fs::write(
        &manifest,
        format!("{}{}", doc("late", "50"), doc("early", "5")),
    )
    .unwrap();
    let mut cfg = env.cfg.clone();
    cfg.lifecycle.boot_manifest_path = manifest.display().to_string();
    let c = cluster::boot(&cfg).await;
    env.h.clear_journal().await;

    let report = pass(&c).await;
    assert_eq!(report.seeded, vec!["infra/late", "infra/early"]);
    let ran: Vec<&str> = report.ran.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(ran, vec!["infra/early", "infra/late"]);
    assert!(report.ran.iter().all(|(_, r)| r.is_ok()), "{report:?}");
    let adds: Vec<String> = env
        .h
        .journal()
        .await
        .into_iter()
        .filter(|c| c.line() == "POST /container/add")
        .map(|c| c.field("name").to_string())
        .collect();
    assert_eq!(adds, vec!["infra_early_early", "infra_late_late"]);

    // Quiet pass: reads only, no event.
    let log = cluster::log(&cfg).await;
    let before = log.last_sequence().await.unwrap();
    env.h.clear_journal().await;
    let report = pass(&c).await;
    assert!(
        report.ran.is_empty() && report.seeded.is_empty(),
        "{report:?}"
    );
    assert!(
        writes(&env.h).await.is_empty(),
        "{:?}",
        writes(&env.h).await
    );
    let reads: Vec<String> = env.h.lines().await;
    assert_eq!(
        reads,
        vec![
            "GET /container",
            "GET /interface/veth",
            "GET /interface/bridge/port"
        ]
    );
    assert_eq!(log.last_sequence().await.unwrap(), before);
}

// DS-3 [D] (choice of the rewrite): a boot-order pod deleted through the API stays deleted —
// its deletion is recorded and seeding skips it.
#[actix_rt::test]
async fn a_deleted_boot_order_pod_is_not_reseeded() {
    let env = env().await;
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("boot-order.yaml");
    std::fs::write(
        &manifest,
        format!(
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: one\n  namespace: infra\n  annotations:\n    vkube.io/file: {TARBALL}\nspec:\n  containers:\n    - name: one\n"
        ),
    )
    .unwrap();
    let mut cfg = env.cfg.clone();
    cfg.lifecycle.boot_manifest_path = manifest.display().to_string();
    let c = cluster::boot(&cfg).await;
    assert_eq!(pass(&c).await.seeded, vec!["infra/one"]);
    c.pods
        .send(Delete {
            namespace: "infra".into(),
            name: "one".into(),
            correlation: "test".into(),
        })
        .await
        .unwrap()
        .unwrap();
    settle(&c, "infra/one").await.expect("deleted");
    let report = pass(&c).await;
    assert!(report.seeded.is_empty(), "{report:?}");
    let state = pods_state(&c).await;
    assert!(state.pods.is_empty());
    assert!(state.deleted_manifest.contains("infra/one"));
    let ros = ros(&env.h).await;
    assert!(ros.find_container("infra_one_one").await.unwrap().is_none());
}

// §5 step 3b / §3.5: a tracked pod whose container vanished from the device is recreated by
// the next pass, on the same veth and address.
#[actix_rt::test]
async fn a_vanished_container_is_recreated() {
    let env = env().await;
    let c = cluster::boot(&env.cfg).await;
    declare(&c, pod("lost", &[])).await;
    settle(&c, "default/lost").await.expect("created");
    let ros = ros(&env.h).await;
    ros.delete_container("default_lost_app").await.unwrap();
    ros.wait_gone("default_lost_app").await.unwrap();
    let report = pass(&c).await;
    assert_eq!(report.ran.len(), 1, "{report:?}");
    ros.wait_running("default_lost_app")
        .await
        .expect("recreated and started");
    let veths = ros.list_veths().await.unwrap();
    assert_eq!(
        veths
            .iter()
            .filter(|v| v.name.starts_with("veth_default_lost"))
            .count(),
        1
    );
}

// The engine's event kinds round-trip through the codec and land on the pod's subject.
#[test]
fn engine_events_round_trip_on_the_pod_subject() {
    for event in samples::engine() {
        let env = Envelope::new("rose1", "pods", "c", event.clone());
        let back = Envelope::decode(&env.encode(), 1).expect("decodes");
        assert_eq!(back.event, event);
        assert_eq!(back.kind(), samples::kind_name(&event));
        let s = subject::for_event("rose1", &event);
        assert!(s.starts_with("mkube.rose1.pods.default.web"), "{s}");
    }
}

/// Pushes `app:v1` (one layer whose `bin/app` holds `content`) to the registry; its digest.
pub(crate) async fn push_app(reg: &crate::registry_support::RegistryProc, content: &str) -> String {
    use crate::registry_support::*;
    let client = http_client();
    let base = reg.base();
    let config = json!({"architecture": "arm64", "os": "linux", "config": {"Cmd": ["/bin/app"]}, "rootfs": {"type": "layers", "diff_ids": []}})
        .to_string()
        .into_bytes();
    let config_digest = push_blob(&client, &base, "app", &config).await;
    let l = gzip(&layer(&[E::Dir("bin"), E::Exec("bin/app", content)]));
    let layer_digest = push_blob(&client, &base, "app", &l).await;
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config.len()},
        "layers": [{"mediaType": GZ_LAYER, "digest": layer_digest, "size": l.len()}],
    })
    .to_string()
    .into_bytes();
    push_manifest(&client, &base, "app", "v1", OCI_MANIFEST, &manifest).await
}

/// The engine config with the image cache on the simulator's disk (NAME-8 mapping).
pub(crate) fn registry_config(
    env: &Env,
    reg: &crate::registry_support::RegistryProc,
) -> mkube::config::Config {
    let cache = env.h.disk().join("raid1/cache");
    let mut cfg = env.cfg.clone();
    cfg.storage.tarball_cache = cache.display().to_string();
    cfg.storage.persistent_mounts = vec![mkube::config::PersistentMount {
        container_path: cache.display().to_string(),
        host_path: "raid1/cache".into(),
    }];
    cfg.registry.local_addresses = vec![reg.host()];
    cfg
}

pub(crate) fn registry_pod(
    name: &str,
    reg: &crate::registry_support::RegistryProc,
    auto: bool,
) -> k8s_openapi::api::core::v1::Pod {
    let mut p = pod(name, &[]);
    let ann = p.metadata.annotations.as_mut().unwrap();
    ann.remove("vkube.io/file");
    if auto {
        ann.insert("vkube.io/image-policy".into(), "auto".into());
    }
    p.spec.as_mut().unwrap().containers[0].image = Some(format!("{}/app:v1", reg.host()));
    p
}

async fn image_id(c: &mkube::actors::wiring::Cluster, key: &str) -> String {
    // The image id needs no node name (nothing here compares observations).
    let status = pod_status(c, &mkube::config::Config::default(), key).await;
    status.container_statuses.unwrap()[0].image_id.clone()
}

// §3.1 step 1 / IMG-1: without `vkube.io/file` the image comes from the registry through the
// image cache (a real docker-registry on loopback); the device imports the cache's tarball
// (NAME-8 path) and the status reports the registry digest as imageID (§3.6).
#[actix_rt::test]
async fn registry_image_is_pulled_into_the_cache_and_run() {
    let env = env().await;
    let reg = crate::registry_support::start_registry(None).await;
    let digest = push_app(&reg, "v1").await;
    let c = cluster::boot(&registry_config(&env, &reg)).await;
    declare(&c, registry_pod("reg", &reg, false)).await;
    settle(&c, "default/reg")
        .await
        .expect("created from the registry");

    let ros = ros(&env.h).await;
    let row = ros.wait_running("default_reg_app").await.expect("running");
    assert!(row.file.starts_with("raid1/cache/"), "{}", row.file);
    assert_eq!(image_id(&c, "default/reg").await, digest);
}

// §5 step 3c + push (§5 triggers) / IMG-2: an `image-policy: auto` pod is rebuilt when the
// tag moves to a new digest, keeping its veth and address; a quiet pass after that does
// nothing, and a pod without the policy keeps its image.
#[actix_rt::test]
async fn auto_policy_pods_follow_a_pushed_digest() {
    let env = env().await;
    let reg = crate::registry_support::start_registry(None).await;
    let first = push_app(&reg, "v1").await;
    let c = cluster::boot(&registry_config(&env, &reg)).await;
    declare(&c, registry_pod("auto", &reg, true)).await;
    settle(&c, "default/auto").await.expect("created");
    assert_eq!(image_id(&c, "default/auto").await, first);
    assert!(pass(&c).await.ran.is_empty(), "same digest: nothing to do");
    let ros = ros(&env.h).await;
    let veth = ros.find_veth("veth_default_auto_0").await.unwrap().unwrap();
    let old = ros
        .find_container("default_auto_app")
        .await
        .unwrap()
        .unwrap();

    let second = push_app(&reg, "v2").await;
    assert_ne!(first, second);
    let report = pass(&c).await;
    assert_eq!(report.ran, vec![("default/auto".to_string(), Ok(()))]);
    assert_eq!(image_id(&c, "default/auto").await, second);
    let row = ros.wait_running("default_auto_app").await.expect("running");
    assert_ne!(row.id, old.id, "rebuilt");
    let veth_after = ros.find_veth("veth_default_auto_0").await.unwrap().unwrap();
    assert_eq!(veth_after.id, veth.id, "same veth");
    // Quiet again: the digest lookup changes nothing, so nothing is written or recorded.
    let log = cluster::log(&env.cfg).await;
    let before = log.last_sequence().await.unwrap();
    env.h.clear_journal().await;
    assert!(pass(&c).await.ran.is_empty());
    assert!(writes(&env.h).await.is_empty());
    assert_eq!(log.last_sequence().await.unwrap(), before);
}

// NAME-2 [D]: two desired pods whose veth names collide (same first 15 characters) are not
// both created; the one already on the device keeps the name.
#[actix_rt::test]
async fn pods_with_colliding_veth_names_are_not_both_created() {
    let env = env().await;
    let c = cluster::boot(&env.cfg).await;
    declare(&c, pod("fastregistry-aa", &[])).await;
    settle(&c, "default/fastregistry-aa").await.expect("first");
    declare(&c, pod("fastregistry-aab", &[])).await;
    let err = settle(&c, "default/fastregistry-aab").await.unwrap_err();
    assert!(err.contains("default/fastregistry-aa"), "{err}");
    let ros = ros(&env.h).await;
    assert!(
        ros.find_container("default_fastregistry-aab_app")
            .await
            .unwrap()
            .is_none()
    );
    ros.wait_running("default_fastregistry-aa_app")
        .await
        .expect("first keeps running");
}

// L-4: a delete that arrives while the pod's worker is creating is queued behind the job
// (one job per pod key) and then tears down whatever the job made.
#[actix_rt::test]
async fn a_delete_during_create_leaves_nothing_behind() {
    let env = env().await;
    let c = cluster::boot(&env.cfg).await;
    declare(&c, pod("race", &[])).await;
    let ros = ros(&env.h).await;
    // Wait until the job is on the device, then delete.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while ros
        .find_veth("veth_default_race_0")
        .await
        .unwrap()
        .is_none()
    {
        assert!(std::time::Instant::now() < deadline, "create never started");
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    c.pods
        .send(Delete {
            namespace: "default".into(),
            name: "race".into(),
            correlation: "test".into(),
        })
        .await
        .unwrap()
        .unwrap();
    settle(&c, "default/race").await.expect("converged");
    let state = pods_state(&c).await;
    assert!(
        state.pods.is_empty() && state.deleting.is_empty(),
        "{state:?}"
    );
    assert!(
        ros.find_container("default_race_app")
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        ros.find_veth("veth_default_race_0")
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
}

// §3.1 with §5 (observation is bulk): after a pass has read the device, a cold create makes
// no per-object reads — veth, bridge port, volume dirs (NAME-5), mount, container, start,
// plus extraction polls. §3.1 step 5 / §3.2: the teardown renames the root dir aside, so a
// pod re-created under the same name (which finds no record and skips the move) runs the
// new image, never the old root dir's files (routeros-rest §3.4, 7.22 profile).
#[actix_rt::test]
async fn cold_create_after_a_pass_writes_without_reads_and_recreate_gets_a_fresh_root_dir() {
    let env = env().await;
    let c = cluster::boot(&env.cfg).await;
    pass(&c).await;
    env.h.clear_journal().await;
    declare(&c, pod("cold", &[])).await;
    settle(&c, "default/cold").await.expect("created");
    let calls = env.h.journal().await;
    let add = calls
        .iter()
        .position(|l| l.line() == "POST /container/add")
        .expect("added");
    let before: Vec<String> = calls[..add].iter().map(|l| l.line()).collect();
    assert!(
        before.iter().all(|l| !l.starts_with("GET ")),
        "reads before the add: {before:?}"
    );
    // Up to the start (`settle` runs the worker once more afterwards); extraction polls apart.
    let start = calls
        .iter()
        .position(|l| l.line() == "POST /container/start")
        .expect("started");
    let own = calls[..=start]
        .iter()
        .filter(|l| !(l.method == "GET" && l.path == "/container"))
        .count();
    // 7 per container, plus the shared volumes root the first create of a process makes.
    assert!(
        own <= 8,
        "{:?}",
        calls.iter().map(|l| l.line()).collect::<Vec<_>>()
    );

    c.pods
        .send(Delete {
            namespace: "default".into(),
            name: "cold".into(),
            correlation: "test".into(),
        })
        .await
        .unwrap()
        .unwrap();
    settle(&c, "default/cold").await.expect("deleted");
    let root = env.h.disk().join("raid1/images/default_cold_app");
    assert!(!root.exists(), "root dir left in place by the teardown");

    env.h.tarball("app", "v2");
    declare(&c, pod("cold", &[])).await;
    settle(&c, "default/cold").await.expect("re-created");
    let ros = ros(&env.h).await;
    ros.wait_running("default_cold_app").await.expect("running");
    let hello = std::fs::read_to_string(root.join("hello.txt")).expect("extracted");
    assert_eq!(hello, "v2");
}
