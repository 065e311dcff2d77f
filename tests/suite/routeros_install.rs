//! End-to-end Installer (spec routeros-rest.md §2.3 "Installer", §5.1 item 8):
//! the RouterOS client installs a container from a `remote-image` that the
//! simulator really pulls from Debian's `docker-registry` (2.8) on loopback.
//! Only 127.0.0.1 traffic.

use crate::registry_support;
use crate::routeros_support;

use mkube::routeros::{
    ContainerSpec, ContainerState, ImageSource, InstallPlan, MountSpec, RosError, VethSpec,
};
use mkube::sim::routeros::Profile;
use registry_support::{
    E, GZ_LAYER, Platform, RegistryProc, TAR_LAYER, gzip, http_client, layer, push_image,
    push_index, start_registry,
};
use routeros_support::{Call, Harness, collapse};

const NAME: &str = "registry.gt.lo";
const VETH: &str = "veth-registry";
const REPO: &str = "mkube/registry";
const TAG: &str = "2.8";
const ROOT_DIR: &str = "/raid1/images/registry.gt.lo";

/// Pushes `REPO:TAG` as an index of an amd64 and an arm64 image whose
/// `srv/arch.txt` differ (each also has a file of its own); returns the
/// arm64 manifest digest.
async fn push_two_arch(reg: &RegistryProc) -> String {
    let client = http_client();
    let base = reg.base();
    let arm_layers = [
        (
            gzip(&layer(&[
                E::Dir("srv"),
                E::File("srv/arch.txt", "built for arm64"),
            ])),
            GZ_LAYER,
        ),
        (layer(&[E::File("srv/arm-only", "a")]), TAR_LAYER),
    ];
    let (arm, arm_body) = push_image(&client, &base, REPO, "arm64", &arm_layers).await;
    let amd_layers = [(
        gzip(&layer(&[
            E::Dir("srv"),
            E::File("srv/arch.txt", "built for amd64"),
            E::File("srv/amd-only", "x"),
        ])),
        GZ_LAYER,
    )];
    let (amd, amd_body) = push_image(&client, &base, REPO, "amd64", &amd_layers).await;
    let platforms = [
        Platform {
            arch: "amd64",
            variant: None,
            digest: &amd,
            body: &amd_body,
        },
        Platform {
            arch: "arm64",
            variant: Some("v8"),
            digest: &arm,
            body: &arm_body,
        },
    ];
    push_index(&client, &base, REPO, TAG, &platforms).await;
    arm
}

fn install_plan(image: &str) -> InstallPlan {
    let mut spec = ContainerSpec::new(
        NAME,
        ImageSource::Remote {
            image: image.into(),
            check_certificate: false,
        },
        VETH,
        ROOT_DIR,
    );
    spec.mountlists = vec!["registry.gt.lo.config".into()];
    spec.start_on_boot = true;
    InstallPlan {
        container: spec,
        veth: VethSpec {
            name: VETH.into(),
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

fn find<'a>(calls: &'a [Call], line: &str) -> &'a Call {
    calls
        .iter()
        .find(|c| c.line() == line)
        .unwrap_or_else(|| panic!("no call {line} in {:#?}", collapse(calls)))
}

fn count(calls: &[Call], line: &str) -> usize {
    calls.iter().filter(|c| c.line() == line).count()
}

#[tokio::test]
async fn installer_pulls_remote_image_from_docker_registry_and_reruns() {
    let reg = start_registry(None).await;
    push_two_arch(&reg).await;
    let image = format!("{}/{REPO}:{TAG}", reg.host());
    let h = Harness::start(Profile::V7_22).await;
    let client = h.client().await;

    let row = client
        .install_container(&install_plan(&image))
        .await
        .expect("install");
    assert_eq!(row.state, ContainerState::Running);
    assert_eq!(row.name, NAME);
    assert_eq!(row.repo, image);

    let calls = h.journal().await;
    let get = format!("GET /container?name={NAME}");
    assert_eq!(
        collapse(&calls),
        vec![
            "POST /interface/veth/add".to_string(),
            "POST /interface/bridge/port/add".into(),
            "POST /container/mounts/add".into(),
            "GET /container".into(),
            "POST /container/add".into(),
            get.clone(),
            "POST /container/start".into(),
            get.clone(),
        ]
    );
    assert!(
        calls.iter().all(|c| c.status == 200),
        "a fresh install meets no errors: {calls:#?}"
    );
    assert_eq!(count(&calls, "POST /container/add"), 1);
    assert_eq!(count(&calls, "POST /container/start"), 1);
    assert!(count(&calls, &get) >= 2, "polls after add and after start");

    let veth = find(&calls, "POST /interface/veth/add");
    assert_eq!(veth.field("name"), VETH);
    assert_eq!(veth.field("address"), "172.20.0.3/24");
    assert_eq!(veth.field("gateway"), "172.20.0.1");
    let port = find(&calls, "POST /interface/bridge/port/add");
    assert_eq!(
        (port.field("bridge"), port.field("interface")),
        ("b1", VETH)
    );
    let mount = find(&calls, "POST /container/mounts/add");
    assert_eq!(mount.field("list"), "registry.gt.lo.config");
    assert_eq!(mount.field("src"), "/raid1/volumes/registry/config");
    assert_eq!(mount.field("dst"), "/etc/registry");
    let add = find(&calls, "POST /container/add");
    assert_eq!(add.field("name"), NAME);
    assert_eq!(add.field("remote-image"), image);
    assert_eq!(add.field("check-certificate"), "no");
    assert_eq!(add.field("file"), "", "file and remote-image are exclusive");
    assert_eq!(add.field("interface"), VETH);
    assert_eq!(add.field("root-dir"), ROOT_DIR);
    assert_eq!(add.field("mountlists"), "registry.gt.lo.config");
    assert_eq!(add.field("logging"), "yes");
    assert_eq!(add.field("start-on-boot"), "yes");
    assert_eq!(add.field("tag"), "", "tag is never sent");
    let start = find(&calls, "POST /container/start");
    assert_eq!(start.field(".id"), row.id);

    // The simulator pulled the arm64 entry of the index into root-dir.
    let root = h.disk().join(ROOT_DIR.trim_start_matches('/'));
    assert_eq!(
        std::fs::read_to_string(root.join("srv/arch.txt")).expect("pulled into root-dir"),
        "built for arm64"
    );
    assert!(root.join("srv/arm-only").exists());
    assert!(
        !root.join("srv/amd-only").exists(),
        "nothing of the amd64 image"
    );

    // Re-running ignores every "exists" error and leaves the running unit alone.
    h.clear_journal().await;
    let again = client
        .install_container(&install_plan(&image))
        .await
        .expect("rerun");
    assert_eq!(again.id, row.id);
    assert_eq!(again.state, ContainerState::Running);
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
    assert!(calls[..3].iter().all(|c| c.status == 400), "{calls:#?}");
    assert_eq!(count(&calls, "POST /container/add"), 0);
    let rows = client.list_containers().await.expect("list");
    assert_eq!(rows.iter().filter(|c| c.name == NAME).count(), 1);
    assert_eq!(
        std::fs::read_to_string(root.join("srv/arch.txt")).expect("still there"),
        "built for arm64"
    );
}

#[tokio::test]
async fn installer_missing_tag_fails_with_reason_from_log() {
    let reg = start_registry(None).await;
    push_two_arch(&reg).await;
    let image = format!("{}/{REPO}:no-such-tag", reg.host());
    let h = Harness::start(Profile::V7_22).await;
    let client = h.client().await;

    let err = client
        .install_container(&install_plan(&image))
        .await
        .expect_err("a missing tag cannot be installed");
    let RosError::ImportFailed { name, reason } = &err else {
        panic!("expected ImportFailed, got {err:?}");
    };
    assert_eq!(name, NAME);
    assert!(reason.contains("manifest unknown"), "{reason}");
    assert!(reason.contains("no-such-tag"), "{reason}");

    // The import was attempted, watched until the row vanished, and the
    // reason read from /log; nothing was started.
    let calls = h.journal().await;
    assert_eq!(
        collapse(&calls),
        vec![
            "POST /interface/veth/add".to_string(),
            "POST /interface/bridge/port/add".into(),
            "POST /container/mounts/add".into(),
            "GET /container".into(),
            "POST /container/add".into(),
            format!("GET /container?name={NAME}"),
            "GET /log".into(),
        ]
    );
    assert_eq!(
        find(&calls, "POST /container/add").field("remote-image"),
        image
    );
    assert_eq!(count(&calls, "POST /container/start"), 0);

    // The reason is the device's own `container,error` line from /log.
    let log = client.read_log().await.expect("log");
    let line = log
        .iter()
        .find(|l| &l.message == reason)
        .unwrap_or_else(|| panic!("{reason:?} not in /log: {log:#?}"));
    assert!(line.has_topic("container") && line.has_topic("error"));

    // The row disappeared and nothing was extracted.
    assert!(client.find_container(NAME).await.expect("read").is_none());
    let root = h.disk().join(ROOT_DIR.trim_start_matches('/'));
    assert!(!root.join("srv").exists());
}
