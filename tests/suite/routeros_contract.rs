//! Contract tests of the RouterOS client against the simulator: the exact
//! `/rest` call sequences of spec §2.3 on the happy path.

use crate::routeros_support;

use mkube::routeros::{
    ContainerSpec, ContainerState, ImageSource, InstallPlan, Keepalive, MountSpec,
    PodContainerPlan, PortOutcome, RosClient, VethOutcome, VethSpec,
};
use mkube::sim::routeros::Profile;
use routeros_support::{Call, Harness, collapse};
use std::time::Duration;

const NAME: &str = "default_web_app";
const VETH: &str = "veth_default_web_0";

fn plan(file: &str) -> PodContainerPlan {
    let mut spec = ContainerSpec::new(
        NAME,
        ImageSource::File(file.into()),
        VETH,
        format!("/raid1/images/{NAME}"),
    );
    spec.hostname = "web".into();
    spec.dns = "172.20.0.1".into();
    spec.start_on_boot = true;
    PodContainerPlan {
        container: spec,
        veth: VethSpec {
            name: VETH.into(),
            address: "172.20.0.2/24".into(),
            gateway: "172.20.0.1".into(),
        },
        bridge: "b1".into(),
        mounts: vec![MountSpec::new("/raid1/volumes/web/data", "/data")],
        envs: vec![("GREETING".into(), "hi".into())],
    }
}

fn find<'a>(calls: &'a [Call], line: &str) -> &'a Call {
    calls
        .iter()
        .find(|c| c.line() == line)
        .unwrap_or_else(|| panic!("no call {line} in {:#?}", collapse(calls)))
}

async fn created(h: &Harness, client: &RosClient) {
    let file = h.tarball("web", "v1");
    client
        .create_pod_container(&plan(&file))
        .await
        .expect("create");
    client.wait_running(NAME).await.expect("running");
    h.clear_journal().await;
}

#[tokio::test]
async fn connect_reads_resource_once_and_picks_names() {
    let h = Harness::start(Profile::V7_22).await;
    let client = RosClient::connect(h.options()).await.expect("connect");
    let calls = h.journal().await;
    assert_eq!(collapse(&calls), vec!["GET /system/resource"]);
    assert_eq!(calls[0].status, 200);
    assert_eq!(client.names().container_mounts, "mountlists");
    assert!(client.system_resource().version.starts_with("7.22"));
    assert_eq!(client.call_count(), 1);
}

#[tokio::test]
async fn create_pod_happy_path_journal() {
    let h = Harness::start(Profile::V7_22).await;
    let client = h.client().await;
    let file = h.tarball("web", "v1");
    let before = client.stats();
    let out = client
        .create_pod_container(&plan(&file))
        .await
        .expect("create");
    let used = client.stats().since(&before);
    assert!(matches!(out.veth, VethOutcome::Created { .. }));
    assert!(matches!(out.port, PortOutcome::Added { .. }));
    assert_eq!(out.mounts.added, 1);
    assert_eq!(out.envs.added, 1);
    assert!(!out.removed_stale);
    let calls = h.journal().await;
    assert_eq!(
        collapse(&calls),
        vec![
            format!("GET /container?name={NAME}"),
            format!("GET /interface/veth?name={VETH}"),
            "POST /interface/veth/add".into(),
            format!("GET /interface/bridge/port?interface={VETH}"),
            "POST /interface/bridge/port/add".into(),
            format!("GET /container/mounts?list={NAME}"),
            "POST /container/mounts/add".into(),
            format!("GET /container/envs?list={NAME}"),
            "POST /container/envs/add".into(),
            "POST /file/set".into(),
            "POST /container/add".into(),
            format!("GET /container?name={NAME}"),
            "POST /container/start".into(),
        ]
    );
    assert_eq!(
        used.calls,
        calls.len() as u64,
        "client counter matches the journal"
    );
    let veth = find(&calls, "POST /interface/veth/add");
    assert_eq!(veth.field("name"), VETH);
    assert_eq!(veth.field("address"), "172.20.0.2/24");
    assert_eq!(veth.field("gateway"), "172.20.0.1");
    let port = find(&calls, "POST /interface/bridge/port/add");
    assert_eq!(
        (port.field("bridge"), port.field("interface")),
        ("b1", VETH)
    );
    let mount = find(&calls, "POST /container/mounts/add");
    assert_eq!(mount.field("list"), NAME);
    assert_eq!(mount.field("dst"), "/data");
    let env = find(&calls, "POST /container/envs/add");
    assert_eq!((env.field("key"), env.field("value")), ("GREETING", "hi"));
    let set = find(&calls, "POST /file/set");
    assert_eq!(set.status, 400, "nothing to move aside on a fresh device");
    assert_eq!(set.field("numbers"), format!("raid1/images/{NAME}"));
    assert!(
        set.field("name")
            .starts_with(&format!("raid1/images/{NAME}.trash-"))
    );
    let add = find(&calls, "POST /container/add");
    assert_eq!(add.field("name"), NAME);
    assert_eq!(add.field("file"), file);
    assert_eq!(add.field("interface"), VETH);
    assert_eq!(add.field("root-dir"), format!("/raid1/images/{NAME}"));
    assert_eq!(add.field("mountlists"), NAME);
    assert_eq!(add.field("envlists"), NAME);
    assert_eq!(add.field("logging"), "yes");
    assert_eq!(add.field("start-on-boot"), "yes");
    assert_eq!(add.field("tag"), "", "tag is never sent");
    let start = find(&calls, "POST /container/start");
    assert_eq!(start.field(".id"), out.id);
    let running = client.wait_running(NAME).await.expect("running");
    assert_eq!(running.state, ContainerState::Running);
    let hello = std::fs::read_to_string(h.disk().join(format!("raid1/images/{NAME}/hello.txt")))
        .expect("extracted");
    assert_eq!(hello, "v1");

    // A second CreatePod of the same pod replaces the stale container.
    let out = client
        .create_pod_container(&plan(&file))
        .await
        .expect("recreate");
    assert!(out.removed_stale);
    assert!(matches!(out.veth, VethOutcome::Unchanged { .. }));
    assert!(matches!(out.port, PortOutcome::Present { .. }));
    assert_eq!((out.mounts.kept, out.envs.kept), (1, 1));
    assert!(matches!(
        out.root_dir,
        mkube::routeros::MoveAside::Moved { .. }
    ));
}

#[tokio::test]
async fn delete_pod_happy_path_journal() {
    let h = Harness::start(Profile::V7_22).await;
    let client = h.client().await;
    created(&h, &client).await;
    let out = client
        .delete_pod_container(NAME, Some(VETH))
        .await
        .expect("delete");
    assert!(out.container_removed && out.veth_removed);
    assert_eq!((out.mounts_removed, out.envs_removed), (1, 1));
    let calls = h.journal().await;
    assert_eq!(
        collapse(&calls),
        vec![
            format!("GET /container?name={NAME}"),
            "POST /container/stop".into(),
            format!("GET /container?name={NAME}"),
            "POST /container/remove".into(),
            format!("GET /container/mounts?list={NAME}"),
            "POST /container/mounts/remove".into(),
            format!("GET /container/envs?list={NAME}"),
            "POST /container/envs/remove".into(),
            format!("GET /interface/veth?name={VETH}"),
            format!("GET /interface/bridge/port?interface={VETH}"),
            "POST /interface/bridge/port/remove".into(),
            "POST /interface/veth/remove".into(),
        ]
    );
    assert!(
        find(&calls, "POST /container/remove")
            .field(".id")
            .starts_with('*')
    );
    // Nothing leaks: no ports, no veth, the row disappears.
    client.wait_gone(NAME).await.expect("gone");
    assert!(client.list_bridge_ports().await.unwrap().is_empty());
    assert!(client.find_veth(VETH).await.unwrap().is_none());
    // Deleting again is a no-op.
    let again = client.delete_pod_container(NAME, Some(VETH)).await.unwrap();
    assert!(!again.container_removed && !again.veth_removed);
}

#[tokio::test]
async fn replace_happy_path_journal() {
    let h = Harness::start(Profile::V7_22).await;
    let client = h.client().await;
    created(&h, &client).await;
    let v2 = h.tarball("web-v2", "v2");
    let row = client
        .replace_container(NAME, ImageSource::File(v2.clone()))
        .await
        .expect("replace");
    assert_eq!(row.state, ContainerState::Running);
    assert_eq!(row.file, v2);
    let calls = h.journal().await;
    let get = format!("GET /container?name={NAME}");
    assert_eq!(
        collapse(&calls),
        vec![
            get.clone(),
            "POST /container/stop".into(),
            // No read of "stopped" and no settle: the remove itself is retried until the
            // stop has finished (§3.3 `cannot remove running`).
            "POST /container/remove".into(),
            get.clone(),
            "POST /file/set".into(),
            "POST /container/add".into(),
            get.clone(),
            "POST /container/start".into(),
            get,
        ]
    );
    let add = find(&calls, "POST /container/add");
    assert_eq!(add.field("file"), v2);
    assert_eq!(add.field("interface"), VETH);
    assert_eq!(add.field("root-dir"), format!("raid1/images/{NAME}"));
    assert_eq!(add.field("mountlists"), NAME);
    assert_eq!(add.field("hostname"), "web");
    assert_eq!(add.field("start-on-boot"), "yes");
    assert_eq!(find(&calls, "POST /file/set").status, 200);
    let hello = std::fs::read_to_string(h.disk().join(format!("raid1/images/{NAME}/hello.txt")))
        .expect("extracted");
    assert_eq!(hello, "v2", "the new image runs, not the old root-dir");
}

fn install_plan(file: &str) -> InstallPlan {
    let mut spec = ContainerSpec::new(
        "registry.gt.lo",
        ImageSource::File(file.into()),
        "veth-registry",
        "/raid1/images/registry.gt.lo",
    );
    spec.mountlists = vec!["registry.gt.lo.config".into()];
    spec.start_on_boot = true;
    InstallPlan {
        container: spec,
        veth: VethSpec {
            name: "veth-registry".into(),
            address: "172.20.0.3/24".into(),
            gateway: "172.20.0.1".into(),
        },
        bridge: "b1".into(),
        mounts: vec![(
            "registry.gt.lo.config".into(),
            MountSpec::new("/raid1/volumes/registry/config", "/etc/registry"),
        )],
    }
}

#[tokio::test]
async fn installer_happy_path_journal_and_rerun() {
    let h = Harness::start(Profile::V7_22).await;
    let client = h.client().await;
    let file = h.tarball("registry", "reg");
    let row = client
        .install_container(&install_plan(&file))
        .await
        .expect("install");
    assert_eq!(row.state, ContainerState::Running);
    let get = "GET /container?name=registry.gt.lo".to_string();
    assert_eq!(
        h.lines().await,
        vec![
            "POST /interface/veth/add".to_string(),
            "POST /interface/bridge/port/add".into(),
            "POST /container/mounts/add".into(),
            "GET /container".into(),
            "POST /container/add".into(),
            get.clone(),
            "POST /container/start".into(),
            get,
        ]
    );
    // Re-running ignores every "exists" error and leaves the running unit alone.
    h.clear_journal().await;
    client
        .install_container(&install_plan(&file))
        .await
        .expect("rerun");
    let calls = h.journal().await;
    assert_eq!(
        collapse(&calls),
        vec![
            "POST /interface/veth/add",
            "POST /interface/bridge/port/add",
            "POST /container/mounts/add",
            "GET /container",
        ]
    );
    assert!(calls[..3].iter().all(|c| c.status == 400));
}

#[tokio::test]
async fn keepalive_restarts_once_per_cooldown() {
    let h = Harness::start(Profile::V7_22).await;
    let client = h.client().await;
    created(&h, &client).await;
    let mut keep = Keepalive::new(Duration::from_secs(30));
    assert!(keep.tick(&client, None).await.unwrap().is_empty());
    assert_eq!(h.lines().await, vec!["GET /container"]);

    h.crash(NAME).await;
    h.clear_journal().await;
    assert_eq!(
        keep.tick(&client, None).await.unwrap(),
        vec![NAME.to_string()]
    );
    assert_eq!(
        h.lines().await,
        vec!["GET /container", "POST /container/start"]
    );
    client.wait_running(NAME).await.unwrap();

    // Crashed again within the cooldown: not restarted yet.
    h.crash(NAME).await;
    h.clear_journal().await;
    assert!(keep.tick(&client, None).await.unwrap().is_empty());
    assert_eq!(h.lines().await, vec!["GET /container"]);
    // After the cooldown (30 s device time = 600 ms here) it is.
    tokio::time::sleep(Duration::from_millis(650)).await;
    assert_eq!(
        keep.tick(&client, None).await.unwrap(),
        vec![NAME.to_string()]
    );
}

#[tokio::test]
async fn snapshot_is_one_get_per_table() {
    let h = Harness::start(Profile::V7_22).await;
    let client = h.client().await;
    created(&h, &client).await;
    let snap = client
        .snapshot(mkube::routeros::SnapshotOptions {
            network: true,
            mounts: true,
            envs: true,
        })
        .await
        .unwrap();
    assert_eq!(
        h.lines().await,
        vec![
            "GET /container",
            "GET /interface/veth",
            "GET /interface/bridge/port",
            "GET /interface/bridge",
            "GET /ip/address",
            "GET /container/mounts",
            "GET /container/envs",
        ]
    );
    assert!(snap.container(NAME).is_some_and(|c| c.state.is_running()));
    assert_eq!(
        snap.veth(VETH).and_then(|v| v.ipv4()).as_deref(),
        Some("172.20.0.2/24")
    );
    assert_eq!(snap.ports_of(VETH).count(), 1);
    assert_eq!(
        snap.container_using(VETH).map(|c| c.name.as_str()),
        Some(NAME)
    );
    assert_eq!(snap.mounts_of(NAME).count(), 1);
    assert_eq!(snap.bridges.as_ref().map(Vec::len), Some(2));
}

#[tokio::test]
async fn container_list_cache_is_reused_and_invalidated_by_commands() {
    let h = Harness::start(Profile::V7_22).await;
    let client = h.client().await;
    created(&h, &client).await;
    let a = client.containers_cached().await.unwrap();
    let b = client.containers_cached().await.unwrap();
    assert_eq!(a, b);
    assert_eq!(h.lines().await, vec!["GET /container"]);
    let id = a[0].id.clone();
    client.stop_container(&id).await.unwrap();
    client.containers_cached().await.unwrap();
    assert_eq!(
        h.lines().await,
        vec!["GET /container", "POST /container/stop", "GET /container"]
    );
}
