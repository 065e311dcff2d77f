//! ConfigMap volumes end to end: real nats-server, the RouterOS simulator on loopback, an
//! in-process standalone cluster (and its API). mkube's ConfigMap root lives inside the
//! simulator's disk and `persistentMounts` maps it to `raid1/mkube`, so the files mkube writes
//! (NAME-6) are the files the device mounts through their host-visible path (NAME-8).
//! Covers §3.1 step 3, §5 step 5 and the ConfigMap routes of §9.

use crate::common::api::{Api, assert_status};
use crate::common::cluster;
use crate::engine_support::*;

use k8s_openapi::api::core::v1::{ConfigMapVolumeSource, Pod, Volume, VolumeMount};
use mkube::actors::configmaps::{Put, PutMode};
use mkube::actors::wiring::Cluster;
use mkube::config::{Config, PersistentMount};
use mkube::routeros::normalize_path;
use serde_json::json;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// NAME-6 directory of pod `web`'s `config` volume as the device sees it (NAME-8).
const HOST_DIR: &str = "raid1/mkube/configmaps/default_web_app/config";
const CM_PATH: &str = "/api/v1/namespaces/default/configmaps";

/// `storage.configMapPath` inside the simulator's disk, mapped by `persistentMounts`.
fn cm_config(env: &Env) -> Config {
    with_cm(env, env.cfg.clone())
}

fn with_cm(env: &Env, mut cfg: Config) -> Config {
    let local = env.h.disk().join("raid1/mkube");
    cfg.storage.config_map_path = local.join("configmaps").to_string_lossy().into_owned();
    cfg.storage.persistent_mounts.push(PersistentMount {
        container_path: local.to_string_lossy().into_owned(),
        host_path: "raid1/mkube".into(),
    });
    cfg
}

/// The engine test pod plus a `config` volume from ConfigMap `cm` mounted at `/etc/app`.
fn cm_pod(name: &str, cm: &str) -> Pod {
    let mut p = pod(name, &[]);
    let spec = p.spec.as_mut().unwrap();
    spec.containers[0]
        .volume_mounts
        .get_or_insert_with(Vec::new)
        .push(VolumeMount {
            name: "config".into(),
            mount_path: "/etc/app".into(),
            ..Default::default()
        });
    spec.volumes = Some(vec![Volume {
        name: "config".into(),
        config_map: Some(ConfigMapVolumeSource {
            name: cm.into(),
            ..Default::default()
        }),
        ..Default::default()
    }]);
    p
}

fn config_map(name: &str, data: &[(&str, &str)]) -> serde_json::Value {
    let data: serde_json::Map<_, _> = data
        .iter()
        .map(|(k, v)| (k.to_string(), json!(v)))
        .collect();
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data})
}

/// Stores a ConfigMap through the actor (no API trigger: only a reconcile pass notices).
async fn put_direct(c: &Cluster, name: &str, data: &[(&str, &str)]) {
    let cm = serde_json::from_value(config_map(name, data)).unwrap();
    let mut cm: k8s_openapi::api::core::v1::ConfigMap = cm;
    cm.metadata.namespace = Some("default".into());
    c.configmaps
        .send(Put {
            config_map: cm,
            mode: PutMode::Upsert,
            correlation: "test".into(),
        })
        .await
        .unwrap()
        .unwrap();
}

fn file(env: &Env, key: &str) -> PathBuf {
    env.h.disk().join(HOST_DIR).join(key)
}

async fn container_id(env: &Env) -> String {
    ros(&env.h)
        .await
        .find_container("default_web_app")
        .await
        .unwrap()
        .expect("container")
        .id
}

/// Waits until the device container was replaced (a new id) and the pod's worker is idle.
async fn wait_rebuilt(env: &Env, c: &Cluster, old_id: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let id = ros(&env.h)
            .await
            .find_container("default_web_app")
            .await
            .unwrap()
            .map(|r| r.id);
        if id.as_deref().is_some_and(|i| i != old_id) {
            break;
        }
        assert!(Instant::now() < deadline, "container never rebuilt");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    settle(c, "default/web").await.expect("rebuilt");
}

// NAME-6 + NAME-8 + §3.1 step 3: each key is a file (0644, dir 0755) under configMapPath,
// and the mount entry's src is the directory's host-visible path; other volumes keep NAME-5.
#[actix_rt::test]
async fn configmap_keys_become_files_mounted_from_the_host_visible_path() {
    let env = env().await;
    let api = Api::start_with(cm_config(&env)).await;
    let c = api.cluster.clone();
    let got = api
        .post(
            CM_PATH,
            &config_map("app-config", &[("app.conf", "v1\n"), ("extra", "x")]),
        )
        .await;
    assert_eq!(got.0, 201, "{}", got.1);
    declare_created(&c, cm_pod("web", "app-config")).await;

    assert_eq!(
        std::fs::read_to_string(file(&env, "app.conf")).unwrap(),
        "v1\n"
    );
    assert_eq!(std::fs::read_to_string(file(&env, "extra")).unwrap(), "x");
    let mode = |p: PathBuf| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(file(&env, "app.conf")), 0o644);
    assert_eq!(mode(env.h.disk().join(HOST_DIR)), 0o755);

    let mounts = ros(&env.h)
        .await
        .list_mounts("default_web_app")
        .await
        .unwrap();
    let by_dst = |d: &str| {
        mounts
            .iter()
            .find(|m| m.dst == d)
            .map(|m| normalize_path(&m.src))
            .unwrap_or_else(|| panic!("no mount at {d}: {mounts:?}"))
    };
    assert_eq!(mounts.len(), 2, "{mounts:?}");
    assert_eq!(by_dst("/etc/app"), HOST_DIR);
    assert_eq!(by_dst("/data"), "raid1/volumes/default_web_app/data");
    api.stop().await;
}

// §5 step 5 / §9: a ConfigMap changed through the API rewrites the file at once and rebuilds
// the pod like an update (§3.3 [F]: same veth row, same address, new container); PATCH too.
#[actix_rt::test]
async fn an_api_change_rewrites_the_file_and_recreates_the_container_keeping_veth_and_ip() {
    let env = env().await;
    let api = Api::start_with(cm_config(&env)).await;
    let c = api.cluster.clone();
    api.post(CM_PATH, &config_map("app-config", &[("app.conf", "v1")]))
        .await;
    declare_created(&c, cm_pod("web", "app-config")).await;
    let veth = ros(&env.h)
        .await
        .find_veth("veth_default_web_0")
        .await
        .unwrap()
        .unwrap();
    let ip = ipam_state(&c).await.pools["t"]["veth_default_web_0"].ip;
    let id1 = container_id(&env).await;

    let put = config_map("app-config", &[("app.conf", "v2")]);
    let got = api
        .send(
            "PUT",
            &format!("{CM_PATH}/app-config"),
            "application/json",
            put.to_string(),
        )
        .await;
    assert_eq!(got.0, 200, "{}", got.1);
    wait_rebuilt(&env, &c, &id1).await;
    assert_eq!(
        std::fs::read_to_string(file(&env, "app.conf")).unwrap(),
        "v2"
    );
    let ros = ros(&env.h).await;
    ros.wait_running("default_web_app").await.expect("running");
    let veth_after = ros.find_veth("veth_default_web_0").await.unwrap().unwrap();
    assert_eq!(veth_after.id, veth.id, "same veth row");
    assert_eq!(ipam_state(&c).await.pools["t"]["veth_default_web_0"].ip, ip);
    let mounts = ros.list_mounts("default_web_app").await.unwrap();
    assert!(
        mounts.iter().any(|m| normalize_path(&m.src) == HOST_DIR),
        "{mounts:?}"
    );

    let id2 = container_id(&env).await;
    let patch = json!({"data": {"app.conf": "v3"}}).to_string();
    let got = api
        .send(
            "PATCH",
            &format!("{CM_PATH}/app-config"),
            "application/merge-patch+json",
            patch,
        )
        .await;
    assert_eq!(got.0, 200, "{}", got.1);
    wait_rebuilt(&env, &c, &id2).await;
    assert_eq!(
        std::fs::read_to_string(file(&env, "app.conf")).unwrap(),
        "v3"
    );
    api.stop().await;
}

// §5 step 5 through a reconcile pass; a key removed from the ConfigMap loses its file ([D]:
// the original left it behind).
#[actix_rt::test]
async fn a_reconcile_pass_applies_a_removed_key_and_rebuilds_the_pod() {
    let env = env().await;
    let cfg = cm_config(&env);
    let c = cluster::boot(&cfg).await;
    put_direct(&c, "app-config", &[("keep", "1"), ("gone", "2")]).await;
    declare_created(&c, cm_pod("web", "app-config")).await;
    assert!(file(&env, "gone").exists());
    let id = container_id(&env).await;

    put_direct(&c, "app-config", &[("keep", "1")]).await;
    // Nothing happens without a trigger; the pass notices.
    assert!(file(&env, "gone").exists());
    pass(&c).await;
    wait_rebuilt(&env, &c, &id).await;
    assert!(
        !file(&env, "gone").exists(),
        "the removed key's file is removed"
    );
    assert_eq!(std::fs::read_to_string(file(&env, "keep")).unwrap(), "1");
    let (kinds, _) = log_kinds(&cfg).await;
    assert_eq!(
        kinds.iter().filter(|k| *k == "pods.PodUpdated").count(),
        1,
        "{kinds:?}"
    );
}

// §3.1 step 3 [O]: a ConfigMap that does not exist leaves the NAME-5 directory, empty; a pass
// then changes nothing.
#[actix_rt::test]
async fn a_missing_configmap_gives_an_empty_directory() {
    let env = env().await;
    let cfg = cm_config(&env);
    let c = cluster::boot(&cfg).await;
    declare_created(&c, cm_pod("web", "absent")).await;
    let mounts = ros(&env.h)
        .await
        .list_mounts("default_web_app")
        .await
        .unwrap();
    let src = mounts
        .iter()
        .find(|m| m.dst == "/etc/app")
        .map(|m| normalize_path(&m.src))
        .expect("config mount");
    assert_eq!(src, "raid1/volumes/default_web_app/config");
    let dir = env.h.disk().join(src);
    assert!(dir.is_dir(), "provisioned");
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0, "empty");
    assert!(!env.h.disk().join(HOST_DIR).exists());

    env.h.clear_journal().await;
    let report = pass(&c).await;
    assert!(report.ran.is_empty(), "{report:?}");
    assert!(writes(&env.h).await.is_empty());
}

// §5 step 5: "a controller restart finds the files and recreates nothing" — zero device
// writes, no update recorded.
#[actix_rt::test]
async fn a_restart_with_unchanged_files_recreates_nothing() {
    let env = env().await;
    let cfg = cm_config(&env);
    let before = cluster::boot(&cfg).await;
    put_direct(&before, "app-config", &[("app.conf", "v1")]).await;
    declare_created(&before, cm_pod("web", "app-config")).await;
    let id = container_id(&env).await;

    let after = cluster::boot(&cfg).await;
    env.h.clear_journal().await;
    let report = pass(&after).await;
    assert!(report.ran.is_empty(), "{report:?}");
    assert!(
        writes(&env.h).await.is_empty(),
        "{:?}",
        writes(&env.h).await
    );
    assert_eq!(container_id(&env).await, id);
    let (kinds, _) = log_kinds(&cfg).await;
    assert!(!kinds.iter().any(|k| k == "pods.PodUpdated"), "{kinds:?}");
}

// NAME-6: a key is one file name inside the directory. Keys that are not (`../x`, `a/b`,
// empty, `.`, `..`) are refused at admission with 422 naming the key; nothing is written.
#[actix_rt::test]
async fn malformed_configmap_keys_are_rejected_at_admission() {
    let env = env().await;
    let api = Api::start_with(cm_config(&env)).await;
    for key in ["../x", "a/b", "", ".", "..", "/etc/passwd"] {
        let got = api
            .post(CM_PATH, &config_map("bad", &[(key, "boom")]))
            .await;
        assert_status(&got, 422, &format!("data[{key}]"));
        let bin = json!({"metadata": {"name": "bad"}, "binaryData": {key: "Ym9vbQ=="}});
        let got = api.post(CM_PATH, &bin).await;
        assert_status(&got, 422, &format!("data[{key}]"));
    }
    let (code, _) = api.get(&format!("{CM_PATH}/bad")).await;
    assert_eq!(code, 404);
    assert!(!env.h.disk().join("raid1/x").exists());
    assert!(!env.h.disk().join("raid1/mkube").exists());
    api.stop().await;
}

// §5 step 5: a pod whose image is not available in the registry (one digest lookup through
// the images actor fails) is not rebuilt; its files stay as they were, so the difference is
// still there for the next pass ([D]: the rebuild writes the files).
#[actix_rt::test]
async fn a_pod_whose_image_is_unavailable_is_left_for_the_next_pass() {
    use crate::pods_engine::{push_app, registry_config, registry_pod};
    let env = env().await;
    let reg = crate::registry_support::start_registry(None).await;
    push_app(&reg, "v1").await;
    let cfg = with_cm(&env, registry_config(&env, &reg));
    let c = cluster::boot(&cfg).await;
    put_direct(&c, "app-config", &[("app.conf", "v1")]).await;
    let mut p = registry_pod("web", &reg, false);
    let cm = cm_pod("web", "app-config");
    p.spec = cm.spec;
    p.spec.as_mut().unwrap().containers[0].image = Some(format!("{}/app:v1", reg.host()));
    declare_created(&c, p).await;
    let id = container_id(&env).await;

    drop(reg); // the registry is gone
    put_direct(&c, "app-config", &[("app.conf", "v2")]).await;
    for _ in 0..2 {
        env.h.clear_journal().await;
        pass(&c).await;
        assert!(
            writes(&env.h).await.is_empty(),
            "{:?}",
            writes(&env.h).await
        );
        assert_eq!(
            std::fs::read_to_string(file(&env, "app.conf")).unwrap(),
            "v1"
        );
        assert_eq!(container_id(&env).await, id);
    }
    let (kinds, _) = log_kinds(&cfg).await;
    assert!(!kinds.iter().any(|k| k == "pods.PodUpdated"), "{kinds:?}");
}

/// The stored data of ConfigMap `key` (`ns/name`).
async fn stored(c: &Cluster, key: &str) -> Option<std::collections::BTreeMap<String, String>> {
    let state = c
        .configmaps_published
        .read(&c.configmaps)
        .await
        .unwrap()
        .state;
    state
        .config_maps
        .get(key)
        .map(|cm| cm.data.clone().unwrap_or_default())
}

// DS-6 / §8.3: each pass writes the ConfigMaps generated from the config (console, one
// dns-config per network with a zone and server) over whatever is stored, seeds the boot
// manifest's ConfigMaps when missing, and writes nothing when nothing changed.
#[actix_rt::test]
async fn ds6_generated_config_maps_win_and_manifest_ones_are_seeded() {
    let mut env = env().await;
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("boot-order.yaml");
    std::fs::write(
        &manifest,
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: app-conf, namespace: default}\ndata: {a: one}\n",
    )
    .unwrap();
    env.cfg.lifecycle.boot_manifest_path = manifest.display().to_string();
    let c = cluster::boot(&env.cfg).await;
    let first = pass(&c).await;
    assert_eq!(
        first.config_maps_written, 4,
        "console, t and u dns-config, the manifest's"
    );
    let toml = stored(&c, "t/dns-config").await.expect("generated")["microdns.toml"].clone();
    assert!(toml.contains("id = \"microdns-t\""), "{toml}");
    assert!(stored(&c, "infra/mkube-console-config").await.is_some());
    assert_eq!(
        pass(&c).await.config_maps_written,
        0,
        "a quiet pass writes nothing"
    );

    // A user's edit of a generated ConfigMap is overwritten; of a manifest one, kept.
    for (ns, name, key) in [
        ("t", "dns-config", "microdns.toml"),
        ("default", "app-conf", "a"),
    ] {
        let mut cm = k8s_openapi::api::core::v1::ConfigMap::default();
        cm.metadata.namespace = Some(ns.into());
        cm.metadata.name = Some(name.into());
        cm.data = Some([(key.to_string(), "edited".to_string())].into());
        c.configmaps
            .send(Put {
                config_map: cm,
                mode: PutMode::Replace,
                correlation: "test".into(),
            })
            .await
            .unwrap()
            .unwrap();
    }
    assert_eq!(pass(&c).await.config_maps_written, 1);
    assert_eq!(
        stored(&c, "t/dns-config").await.unwrap()["microdns.toml"],
        toml
    );
    assert_eq!(stored(&c, "default/app-conf").await.unwrap()["a"], "edited");
}
