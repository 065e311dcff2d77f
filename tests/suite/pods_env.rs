//! A pod's environment on the device (issue 11 item 1; routeros-rest.md §1.12, §4.5): an env
//! list named after the container, referenced by `envlists`, on every simulator profile mkube
//! runs against; a missing ConfigMap key makes the pod wait (`CreateContainerConfigError`)
//! with nothing on the device; a changed env rebuilds the container and keeps its address;
//! the list goes with the container.

use crate::common::api::Api;
use crate::common::cluster;
use crate::engine_support::*;
use crate::routeros_support::Harness;
use k8s_openapi::api::core::v1::{
    ConfigMap, ConfigMapEnvSource, ConfigMapKeySelector, EnvFromSource, EnvVar, EnvVarSource,
    ObjectFieldSelector, Pod,
};
use mkube::actors::configmaps::{Put, PutMode};
use mkube::actors::pods::Update;
use mkube::actors::pods::configsync::SyncConfigFiles;
use mkube::actors::wiring::Cluster;
use mkube::routeros::{ContainerSpec, ImageSource, RosClient};
use mkube::sim::routeros::Profile;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const LIST: &str = "default_web_app";

fn var(name: &str, value: &str) -> EnvVar {
    EnvVar {
        name: name.into(),
        value: Some(value.into()),
        ..Default::default()
    }
}

fn from_cm(name: &str, cm: &str, key: &str) -> EnvVar {
    EnvVar {
        name: name.into(),
        value_from: Some(EnvVarSource {
            config_map_key_ref: Some(ConfigMapKeySelector {
                name: cm.into(),
                key: key.into(),
                optional: None,
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// `web` with a literal, a ConfigMap key, a field and a whole ConfigMap (prefixed).
fn env_pod(greeting: &str) -> Pod {
    let mut p = pod("web", &[]);
    let c = &mut p.spec.as_mut().unwrap().containers[0];
    c.env = Some(vec![
        var("GREETING", greeting),
        from_cm("MODE", "app-cfg", "mode"),
        EnvVar {
            name: "POD_IP".into(),
            value_from: Some(EnvVarSource {
                field_ref: Some(ObjectFieldSelector {
                    field_path: "status.podIP".into(),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        },
        var("BANNER", "$(GREETING) in $(MODE)"),
    ]);
    c.env_from = Some(vec![EnvFromSource {
        config_map_ref: Some(ConfigMapEnvSource {
            name: "app-cfg".into(),
            optional: None,
        }),
        prefix: Some("CFG_".into()),
        ..Default::default()
    }]);
    p
}

fn config_map(mode: &str) -> ConfigMap {
    serde_json::from_value(json!({
        "metadata": {"name": "app-cfg", "namespace": "default"},
        "data": {"mode": mode, "level": "3"}
    }))
    .unwrap()
}

async fn put_config_map(c: &Cluster, cm: ConfigMap) {
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

/// The env list on the device as sorted `KEY=value` lines.
async fn device_env(ros: &RosClient) -> Vec<String> {
    let mut lines: Vec<String> = ros
        .list_envs(LIST)
        .await
        .unwrap()
        .into_iter()
        .map(|e| format!("{}={}", e.key, e.value))
        .collect();
    lines.sort();
    lines
}

fn expected(greeting: &str, mode: &str) -> Vec<String> {
    let mut v: Vec<String> = [
        format!("BANNER={greeting} in {mode}"),
        "CFG_level=3".to_string(),
        format!("CFG_mode={mode}"),
        format!("GREETING={greeting}"),
        format!("MODE={mode}"),
        "POD_IP=127.77.0.100".to_string(),
    ]
    .into();
    v.sort();
    v
}

async fn wait_for(what: &str, secs: u64, mut f: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !f().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Create, change the env, change the ConfigMap, delete — on one RouterOS version.
async fn env_follows_the_spec_on(profile: Profile) {
    let env = env_on(profile).await;
    let c = cluster::boot(&env.cfg).await;
    let ros = ros(&env.h).await;
    put_config_map(&c, config_map("prod")).await;
    declare_created(&c, env_pod("hello")).await;

    assert_eq!(
        device_env(&ros).await,
        expected("hello", "prod"),
        "{profile:?}"
    );
    let row = ros.find_container(LIST).await.unwrap().expect("container");
    assert_eq!(
        row.envlists,
        vec![LIST.to_string()],
        "envlists names the list"
    );
    let add = env
        .h
        .journal()
        .await
        .into_iter()
        .find(|c| c.line() == "POST /container/add")
        .expect("container added");
    assert_eq!(add.field("envlists"), LIST, "{:?}", add.body);

    // A changed env is an update: the container is rebuilt, the address kept.
    c.pods
        .send(Update {
            pod: env_pod("bonjour"),
            correlation: "test".into(),
        })
        .await
        .unwrap()
        .unwrap();
    settle(&c, "default/web").await.expect("rebuilt");
    assert_eq!(device_env(&ros).await, expected("bonjour", "prod"));
    let rebuilt = ros.find_container(LIST).await.unwrap().expect("container");
    assert_ne!(rebuilt.id, row.id, "container rebuilt");
    let ipam = ipam_state(&c).await;
    assert_eq!(
        ipam.pools["t"]["veth_default_web_0"].ip.to_string(),
        "127.77.0.100"
    );

    // A changed ConfigMap the env reads rebuilds the container too (§5 step 5 [D]).
    put_config_map(&c, config_map("dev")).await;
    c.pods
        .send(SyncConfigFiles {
            trigger: "configmap/default/app-cfg".into(),
        })
        .await
        .unwrap();
    settle(&c, "default/web").await.expect("rebuilt again");
    assert_eq!(device_env(&ros).await, expected("bonjour", "dev"));
    // A pass with nothing changed rebuilds nothing.
    let before = ros.find_container(LIST).await.unwrap().unwrap().id;
    c.pods
        .send(SyncConfigFiles {
            trigger: "reconcile".into(),
        })
        .await
        .unwrap();
    settle(&c, "default/web").await.expect("quiet");
    assert_eq!(ros.find_container(LIST).await.unwrap().unwrap().id, before);

    // The env list is removed with the container.
    delete(&c, "default", "web").await;
    settle_deleted(&c, "default/web").await;
    assert!(ros.find_container(LIST).await.unwrap().is_none());
    assert!(device_env(&ros).await.is_empty(), "env list removed");
}

/// Runs the worker of a deleted pod until its teardown is done.
async fn settle_deleted(c: &Cluster, key: &str) {
    wait_for("teardown", 30, async || {
        let _ = c
            .pods
            .send(mkube::actors::pods::Kick {
                key: key.to_string(),
                force: true,
            })
            .await;
        !pods_state(c).await.deleting.contains_key(key)
    })
    .await;
}

#[actix_rt::test]
async fn env_on_7_21() {
    env_follows_the_spec_on(Profile::V7_21).await;
}

#[actix_rt::test]
async fn env_on_7_22() {
    env_follows_the_spec_on(Profile::V7_22).await;
}

#[actix_rt::test]
async fn env_on_7_23() {
    env_follows_the_spec_on(Profile::V7_23).await;
}

// 7.19 (refused by mkube by default, routeros-rest §1.12): the client still speaks its names —
// env rows grouped by `name`, the container referencing them as `envlist`.
#[actix_rt::test]
async fn env_lists_use_the_old_names_on_7_19() {
    let h = Harness::start(Profile::V7_19).await;
    let mut opts = h.options();
    opts.allow_unsupported_version = true;
    let ros = RosClient::connect(opts).await.unwrap();
    let want = vec![
        ("A".to_string(), "1".to_string()),
        ("B".to_string(), "two words".to_string()),
    ];
    ros.sync_envs("c", &want).await.unwrap();
    let rows = ros.list_envs("c").await.unwrap();
    assert_eq!(rows.len(), 2);
    let raw = h.journal().await;
    let add = raw
        .iter()
        .find(|c| c.line() == "POST /container/envs/add")
        .unwrap();
    assert_eq!(
        add.field("name"),
        "c",
        "grouped by name on 7.19: {:?}",
        add.body
    );
    let file = h.tarball("c", "x");
    let mut spec = ContainerSpec::new("c", ImageSource::File(file), "", "/raid1/images/c");
    spec.envlists = vec!["c".into()];
    ros.add_container(&spec).await.unwrap();
    let add = h
        .journal()
        .await
        .into_iter()
        .find(|c| c.line() == "POST /container/add")
        .unwrap();
    assert_eq!(add.field("envlist"), "c", "{:?}", add.body);
    assert_eq!(
        ros.find_container("c").await.unwrap().unwrap().envlists,
        vec!["c".to_string()]
    );
    // Synced again to fewer entries: the extra row goes.
    ros.sync_envs("c", &want[..1]).await.unwrap();
    assert_eq!(ros.list_envs("c").await.unwrap().len(), 1);
}

// A configMapKeyRef to a key that is missing: the pod waits with CreateContainerConfigError,
// nothing is allocated or created; once the key exists (a ConfigMap POST through the API),
// the pod is created at once, not after its back-off.
#[actix_rt::test]
async fn a_missing_config_map_key_makes_the_pod_wait_with_nothing_on_the_device() {
    let mut env = env().await;
    env.cfg.lifecycle.create_backoff_seconds = 300.0;
    let api = Api::start_with(env.cfg.clone()).await;
    let c = &api.cluster;
    let ros = ros(&env.h).await;
    let cm = json!({"metadata": {"name": "app-cfg"}, "data": {"level": "3"}});
    let cms = "/api/v1/namespaces/default/configmaps";
    assert_eq!(api.post(cms, &cm).await.0, 201);
    let mut p = pod("web", &[]);
    p.spec.as_mut().unwrap().containers[0].env = Some(vec![from_cm("MODE", "app-cfg", "mode")]);
    let (code, _) = api
        .post(
            "/api/v1/namespaces/default/pods",
            &serde_json::to_value(&p).unwrap(),
        )
        .await;
    assert_eq!(code, 201);
    let pod_path = "/api/v1/namespaces/default/pods/web";
    let mut waiting = Value::Null;
    wait_for("CreateContainerConfigError", 30, async || {
        waiting =
            api.get(pod_path).await.1["status"]["containerStatuses"][0]["state"]["waiting"].clone();
        waiting["reason"] == "CreateContainerConfigError"
    })
    .await;
    assert_eq!(
        waiting["message"],
        "container app: couldn't find key mode in ConfigMap default/app-cfg"
    );
    assert!(
        ros.find_container(LIST).await.unwrap().is_none(),
        "no container"
    );
    assert!(
        ros.find_veth("veth_default_web_0").await.unwrap().is_none(),
        "no veth"
    );
    let ipam = ipam_state(c).await;
    assert!(
        ipam.pools
            .get("t")
            .is_none_or(|p| !p.contains_key("veth_default_web_0")),
        "no address"
    );
    assert!(device_env(&ros).await.is_empty());

    let fixed = json!({"data": {"level": "3", "mode": "prod"}});
    let got = api
        .send(
            "PATCH",
            &format!("{cms}/app-cfg"),
            "application/merge-patch+json",
            fixed.to_string(),
        )
        .await;
    assert_eq!(got.0, 200, "{}", got.1);
    wait_for("the pod runs", 30, async || {
        api.get(pod_path).await.1["status"]["phase"] == "Running"
    })
    .await;
    assert_eq!(device_env(&ros).await, vec!["MODE=prod".to_string()]);
    api.stop().await;
}
