//! The consistency report and the on-demand repair over HTTP (controller.md §6.1, §6.2
//! CC-1…CC-5, §6.4; microdns-api.md R11): real nats-server, the RouterOS simulator and the
//! microdns double over loopback, a boot manifest on disk, and an in-process standalone
//! cluster serving the API. The report is checked item by item for a healthy device and a
//! broken one, and what one report costs is counted in the simulator's journal and the
//! double's request log.

use crate::common::api::{Api, assert_status};
use crate::consistency_support::*;
use crate::engine_support::*;
use mkube::actors::ipam::Allocate;
use mkube::sim::microdns::{self, MicrodnsSimOptions, RunningMicrodns};
use serde_json::{Value, json};
use std::collections::BTreeMap;

const MANIFEST: &str = r#"
apiVersion: v1
kind: Pod
metadata:
  name: boot
  namespace: infra
  annotations: {vkube.io/file: raid1/cache/app.tar, vkube.io/static-ip: 127.77.0.50}
spec:
  restartPolicy: Always
  containers: [{name: app, command: [/bin/app]}]
"#;

const LATE: &str = r#"
---
apiVersion: v1
kind: Pod
metadata:
  name: late
  namespace: infra
  annotations: {vkube.io/file: raid1/cache/app.tar}
spec:
  containers: [{name: app, command: [/bin/app]}]
"#;

struct Rig {
    env: Env,
    dns: RunningMicrodns,
    api: Api,
    manifest: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

/// The boot pod `infra/boot` (static .50) from the manifest and `default/web` through the
/// API, both created, their names in network `t`'s zone (the double); `u` has no DNS.
async fn rig() -> Rig {
    let mut env = env().await;
    let dns = microdns::start(MicrodnsSimOptions::default())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("boot-order.yaml");
    std::fs::write(&manifest, MANIFEST).unwrap();
    env.cfg = checker(env.cfg.clone());
    env.cfg.networks[0].dns.endpoint = dns.endpoint();
    env.cfg.networks[1].dns.endpoint = String::new();
    env.cfg.lifecycle.boot_manifest_path = manifest.display().to_string();
    let api = Api::start_with(env.cfg.clone()).await;
    pass(&api.cluster).await; // DS-2 seeds and creates the boot pod; DNS-1 binds the zone
    declare_created(&api.cluster, pod("web", &[])).await;
    pass(&api.cluster).await; // the pod's names
    Rig {
        env,
        dns,
        api,
        manifest,
        _dir: dir,
    }
}

async fn report(api: &Api) -> Value {
    let (code, body) = api.get("/api/v1/consistency").await;
    assert_eq!(code, 200, "{body}");
    body
}

/// `name → (status, message, details)` of one list.
fn items(report: &Value, list: &str) -> BTreeMap<String, (String, String, String)> {
    let list = report["checks"][list]
        .as_array()
        .unwrap_or_else(|| panic!("{list} is a list: {report}"));
    let names: Vec<&str> = list.iter().map(|i| i["name"].as_str().unwrap()).collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted, "sorted by name");
    list.iter()
        .map(|i| {
            let text = |k: &str| i[k].as_str().unwrap_or_default().to_string();
            assert!(
                i.get("details") != Some(&json!("")),
                "empty details are omitted: {i}"
            );
            (
                text("name"),
                (text("status"), text("message"), text("details")),
            )
        })
        .collect()
}

fn item(status: &str, message: &str, details: &str) -> (String, String, String) {
    (status.into(), message.into(), details.into())
}

/// The list's names with status and message (details vary with device ids).
fn shape(report: &Value, list: &str) -> Vec<(String, String, String)> {
    items(report, list)
        .into_iter()
        .map(|(n, (s, m, _))| (n, s, m))
        .collect()
}

fn row(name: &str, status: &str, message: &str) -> (String, String, String) {
    (name.into(), status.into(), message.into())
}

// §6.1, §6.2: a healthy device passes every check; the shape is `{timestamp, summary,
// checks{containers, dns, manifest, ipam, network}}` with every list sorted by name.
#[actix_rt::test]
async fn a_healthy_device_passes_cc1_to_cc5() {
    let r = rig().await;
    let web_ip = pods_state(&r.api.cluster).await.pods["default/web"].containers["app"]
        .ip
        .clone();
    let got = report(&r.api).await;
    assert!(
        chrono::DateTime::parse_from_rfc3339(got["timestamp"].as_str().unwrap()).is_ok(),
        "{got}"
    );
    assert_eq!(
        shape(&got, "containers"),
        [
            row("container/boot/app", "pass", "running"),
            row("veth/veth_infra_boot_0", "pass", "veth allocated"),
        ],
        "CC-1"
    );
    assert_eq!(
        items(&got, "dns"),
        BTreeMap::from([
            (
                "dns/t/app.boot".into(),
                item("pass", "record correct", "ip=127.77.0.50")
            ),
            (
                "dns/t/app.web".into(),
                item("pass", "record correct", &format!("ip={web_ip}"))
            ),
            (
                "dns/t/boot".into(),
                item("pass", "record correct", "ip=127.77.0.50")
            ),
            (
                "dns/t/dns".into(),
                item("pass", "record correct", "ip=127.77.0.252")
            ),
            (
                "dns/t/rose1".into(),
                item("pass", "record correct", "ip=127.77.0.1")
            ),
            (
                "dns/t/web".into(),
                item("pass", "record correct", &format!("ip={web_ip}"))
            ),
        ]),
        "CC-2"
    );
    assert_eq!(
        shape(&got, "manifest"),
        [
            row(
                "manifest/default/web",
                "pass",
                "NATS-sourced pod (not in boot manifest)"
            ),
            row("manifest/infra/boot", "pass", "manifest pod is tracked"),
        ],
        "CC-3"
    );
    assert_eq!(
        items(&got, "ipam"),
        BTreeMap::from([
            (
                "ipam/veth_default_web_0".into(),
                item("pass", "IPAM matches actual", &format!("ip={web_ip}"))
            ),
            (
                "ipam/veth_infra_boot_0".into(),
                item("pass", "IPAM matches actual", "ip=127.77.0.50")
            ),
            (
                "static-ip/boot/veth_infra_boot_0".into(),
                item("pass", "static IP matches allocation", "ip=127.77.0.50")
            ),
        ]),
        "CC-4"
    );
    assert_eq!(
        items(&got, "network"),
        BTreeMap::from([
            (
                "network/default/web/veth_default_web_0".into(),
                item("pass", "network healthy", &format!("ip={web_ip}"))
            ),
            (
                "network/infra/boot/veth_infra_boot_0".into(),
                item("pass", "network healthy", "ip=127.77.0.50")
            ),
        ]),
        "CC-5"
    );
    assert_eq!(got["summary"], json!({"pass": 15, "warn": 0, "fail": 0}));
}

// §6.2 on a broken device, item by item: a stopped boot container (CC-1), a manifest pod
// never created (CC-1, CC-3, CC-5), a missing, a wrong and a stale DNS record (CC-2), an IPAM
// entry whose veth vanished, a veth IPAM does not know, a veth without address and a static
// IP drift (CC-4, CC-5), and an orphan the repair pass would reap.
#[actix_rt::test]
async fn a_broken_device_fails_item_by_item() {
    let r = rig().await;
    let (api, h) = (&r.api, &r.env.h);
    let web_ip = pods_state(&api.cluster).await.pods["default/web"].containers["app"]
        .ip
        .clone();
    let ros = ros(h).await;
    let boot = ros.find_container("infra_boot_app").await.unwrap().unwrap();
    ros.stop_container(&boot.id).await.unwrap();
    ros.poll_container("infra_boot_app", 30.0, "stopped", |c| {
        c.is_some_and(|c| c.state.is_stopped())
    })
    .await
    .unwrap();
    std::fs::write(&r.manifest, format!("{MANIFEST}{LATE}")).unwrap();
    set_address(h, "veth_default_web_0", "").await;
    set_address(h, "veth_infra_boot_0", "127.77.0.51/24").await;
    plant_orphan(&r.env, "default", "gone", "127.77.0.30/24").await;
    api.cluster
        .ipam
        .send(Allocate {
            network: "t".into(),
            key: "veth_default_vanished_0".into(),
            hostname: String::new(),
            static_ip: Some("127.77.0.40".parse().unwrap()),
            correlation: "test".into(),
        })
        .await
        .unwrap()
        .unwrap();
    let zone = r.dns.seed_zone("t.lo");
    r.dns
        .seed_record(&zone, "old-host", "A", json!("127.77.0.77"), 60);
    for record in r.dns.records("t.lo") {
        let name = record["name"].as_str().unwrap();
        if name == "app.web" || name == "boot" {
            let id = record["id"].as_str().unwrap();
            let url = format!("{}/api/v1/zones/{zone}/records/{id}", r.dns.endpoint());
            assert!(
                reqwest::Client::new()
                    .delete(url)
                    .send()
                    .await
                    .unwrap()
                    .status()
                    .is_success()
            );
        }
    }
    r.dns
        .seed_record(&zone, "boot", "A", json!("127.77.0.99"), 60);

    let got = report(api).await;
    let containers = items(&got, "containers");
    let status_of = |list: &BTreeMap<String, (String, String, String)>, name: &str| {
        list.get(name)
            .cloned()
            .unwrap_or_else(|| panic!("no {name}: {list:#?}"))
    };
    assert_eq!(
        status_of(&containers, "container/boot/app"),
        item(
            "fail",
            "container exists but status is \"stopped\"",
            &format!("id={}", boot.id)
        ),
        "CC-1"
    );
    assert_eq!(
        status_of(&containers, "container/late/app"),
        item(
            "fail",
            "container not found",
            "expected RouterOS container \"infra_late_app\""
        ),
        "CC-1"
    );
    assert_eq!(
        status_of(&containers, "veth/veth_infra_late_0"),
        item("fail", "veth not found in allocations", ""),
        "CC-1"
    );
    let orphan = status_of(&containers, "orphan/container/default_gone_app");
    assert_eq!(orphan.0, "warn");
    assert_eq!(
        orphan.1,
        "orphan container: no pod claims it (reaped by the repair pass)"
    );
    assert!(orphan.2.contains("CC-R1"), "{orphan:?}");
    assert_eq!(
        status_of(&containers, "orphan/veth/veth_default_gone_0").0,
        "warn"
    );

    let dns = items(&got, "dns");
    assert_eq!(
        status_of(&dns, "dns/t/app.web"),
        item(
            "fail",
            "DNS record missing",
            &format!("expected A record -> {web_ip}")
        ),
        "CC-2"
    );
    assert_eq!(
        status_of(&dns, "dns/t/boot"),
        item(
            "fail",
            "DNS record has wrong IP",
            "expected=127.77.0.50 actual=[127.77.0.99]"
        ),
        "CC-2"
    );
    assert_eq!(
        status_of(&dns, "dns/t/old-host"),
        item("warn", "stale DNS record", "ips=[127.77.0.77]"),
        "CC-2"
    );
    assert_eq!(status_of(&dns, "dns/t/web").0, "pass");

    assert_eq!(
        status_of(&items(&got, "manifest"), "manifest/infra/late"),
        item("fail", "manifest pod not tracked by provider", ""),
        "CC-3"
    );

    let ipam = items(&got, "ipam");
    assert_eq!(
        status_of(&ipam, "ipam/veth_default_vanished_0"),
        item(
            "warn",
            "IPAM entry exists but veth not found on device (orphan)",
            "ipam_ip=127.77.0.40"
        ),
        "CC-4"
    );
    assert_eq!(
        status_of(&ipam, "ipam/veth_default_gone_0"),
        item(
            "fail",
            "veth exists on device but not in IPAM",
            "actual_ip=127.77.0.30/24"
        ),
        "CC-4"
    );
    assert_eq!(
        status_of(&ipam, "ipam/veth_default_web_0"),
        item(
            "fail",
            "IP mismatch between IPAM and actual veth",
            &format!("ipam={web_ip} actual=")
        ),
        "CC-4"
    );
    assert_eq!(
        status_of(&ipam, "ipam/veth_infra_boot_0"),
        item(
            "fail",
            "IP mismatch between IPAM and actual veth",
            "ipam=127.77.0.50 actual=127.77.0.51"
        ),
        "CC-4"
    );
    assert_eq!(
        status_of(&ipam, "static-ip/boot/veth_infra_boot_0"),
        item("pass", "static IP matches allocation", "ip=127.77.0.50"),
        "CC-4: IPAM still holds the static IP"
    );

    let network = items(&got, "network");
    assert_eq!(
        status_of(&network, "network/default/web/veth_default_web_0"),
        item("fail", "veth has no IP address", "veth=veth_default_web_0"),
        "CC-5"
    );
    assert_eq!(
        status_of(&network, "network/infra/boot/veth_infra_boot_0"),
        item(
            "fail",
            "static IP mismatch",
            "expected=127.77.0.50 actual=127.77.0.51"
        ),
        "CC-5"
    );
    assert_eq!(
        status_of(&network, "network/infra/late/veth_infra_late_0"),
        item("fail", "veth missing on device", ""),
        "CC-5"
    );
    let count = |s: &str| {
        ["containers", "dns", "manifest", "ipam", "network"]
            .iter()
            .flat_map(|l| items(&got, l).into_values())
            .filter(|i| i.0 == s)
            .count()
    };
    assert_eq!(
        got["summary"],
        json!({"pass": count("pass"), "warn": count("warn"), "fail": count("fail")})
    );
    assert_eq!(got["summary"]["fail"], 12, "{got:#}");
}

// §6.1 / L-3: a report costs one read per device table and one list per zone, and concurrent
// requests share one computation (same timestamp); reading writes nothing.
#[actix_rt::test]
async fn a_report_costs_one_read_per_table_and_one_list_per_zone_shared() {
    let r = rig().await;
    r.env.h.knobs(json!({"latencyMs": 100})).await;
    r.env.h.clear_journal().await;
    r.dns.clear_requests();
    let asks = (0..8).map(|_| report(&r.api));
    let answers = futures::future::join_all(asks).await;
    let stamps: std::collections::BTreeSet<&str> = answers
        .iter()
        .map(|a| a["timestamp"].as_str().unwrap())
        .collect();
    assert_eq!(stamps.len(), 1, "one computation shared: {stamps:?}");
    let lines: Vec<String> = r.env.h.journal().await.iter().map(|c| c.line()).collect();
    assert_eq!(
        lines,
        [
            "GET /container",
            "GET /interface/veth",
            "GET /interface/bridge/port"
        ],
        "one read per table"
    );
    let lists: Vec<String> = r
        .dns
        .requests()
        .iter()
        .map(|q| format!("{} {}", q.method, q.route))
        .collect();
    assert_eq!(
        lists,
        ["GET /api/v1/zones/{zone_id}/records"],
        "one list per zone"
    );
}

// §6.4: POST /api/v1/consistency/repair releases every IPAM entry whose veth is not on the
// device — not one a desired pod claims (its create may be between `IpAllocated` and the
// veth) — answers `{"released": [...], "count": n}` with `[]` when there is none, and 500
// (a `v1.Status`) when the device's veths cannot be listed.
#[actix_rt::test]
async fn post_repair_releases_allocations_whose_veth_is_gone() {
    let mut env = env().await;
    env.cfg = checker(env.cfg.clone());
    let api = Api::start_with(env.cfg.clone()).await;
    declare_created(&api.cluster, pod("web", &[])).await;
    let allocate = |veth: &str, ip: &str| Allocate {
        network: "t".into(),
        key: veth.into(),
        hostname: String::new(),
        static_ip: Some(ip.parse().unwrap()),
        correlation: "test".into(),
    };
    for (veth, ip) in [
        ("veth_default_vanished_0", "127.77.0.40"),
        ("veth_default_coming_0", "127.77.0.41"),
    ] {
        api.cluster
            .ipam
            .send(allocate(veth, ip))
            .await
            .unwrap()
            .unwrap();
    }
    declare(&api.cluster, pod("coming", &[])).await; // claims its veth, created or not
    let (code, body) = api.post("/api/v1/consistency/repair", &json!({})).await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(
        body,
        json!({"released": ["veth_default_vanished_0"], "count": 1})
    );
    let (code, body) = api.post("/api/v1/consistency/repair", &json!({})).await;
    assert_eq!((code, body), (200, json!({"released": [], "count": 0})));
    let recorded = facts(&api.cluster.log).await;
    assert_eq!(
        reaped(&recorded),
        [pair("allocation", "veth_default_vanished_0")]
    );

    env.h
        .fault(json!({"method": "GET", "path": "/rest/interface/veth", "kind": "error", "status": 500}))
        .await;
    let got = api.post("/api/v1/consistency/repair", &json!({})).await;
    assert_status(&got, 500, "veths");
    let (code, _) = api.get("/api/v1/consistency/repair").await;
    assert_eq!(code, 405);
}
