//! §6.2 item by item, for a healthy device and a broken one.

use super::*;
use crate::actors::consistency::fixtures::*;
use crate::actors::dns::listing::ARecords;
use crate::pod::sample::SamplePod;
use k8s_openapi::api::core::v1::Pod;
use serde_json::{Value, json};

fn config() -> Config {
    let yaml = r#"
networks:
  - {name: t, bridge: t, cidr: 127.77.0.0/24, gateway: 127.77.0.1,
     dns: {endpoint: "http://127.0.0.1:9", zone: t.lo, server: 127.77.0.252, staticRecords: []}}
  - {name: x, bridge: x, cidr: 127.79.0.0/24, externalDNS: true,
     dns: {endpoint: "http://127.0.0.1:8", zone: x.lo}}
"#;
    crate::config::from_yaml_str(yaml, "test").unwrap().config
}

fn nats_pod() -> Pod {
    SamplePod::on_device("infra", "nats", "n.tar")
        .annotation("vkube.io/static-ip", "127.77.0.10")
        .build()
}

fn a(pairs: &[(&str, &str)]) -> ARecords {
    let mut out = ARecords::new();
    for (n, ip) in pairs {
        out.entry(n.to_string())
            .or_default()
            .push(ip.parse().unwrap());
    }
    out
}

struct World {
    config: Config,
    manifest: ManifestView,
    pods: PodsState,
    ipam: IpamState,
    device: DeviceSnapshot,
    zones: Vec<(String, ZoneListing)>,
    counters: ConsistencyState,
}

fn healthy() -> World {
    World {
        config: config(),
        manifest: ManifestView::Loaded(vec![nats_pod()]),
        pods: pods(vec![
            running_pod(nats_pod(), "127.77.0.10"),
            running("default", "web", "127.77.0.2"),
        ]),
        ipam: ipam(&[
            ("veth_infra_nats_0", "127.77.0.10"),
            ("veth_default_web_0", "127.77.0.2"),
        ]),
        device: device(
            vec![
                container("infra_nats_app", "*1", "veth_infra_nats_0", true),
                container("default_web_app", "*2", "veth_default_web_0", true),
            ],
            vec![
                veth("veth_infra_nats_0", "*a", "127.77.0.10/24"),
                veth("veth_default_web_0", "*b", "127.77.0.2/24"),
            ],
        ),
        zones: vec![
            (
                "t".into(),
                ZoneListing::Listed {
                    records: 6,
                    a: a(&[
                        ("app.nats", "127.77.0.10"),
                        ("nats", "127.77.0.10"),
                        ("app.web", "127.77.0.2"),
                        ("web", "127.77.0.2"),
                        ("rose1", "127.77.0.1"),
                        ("dns", "127.77.0.252"),
                    ]),
                },
            ),
            ("x".into(), ZoneListing::External),
        ],
        counters: ConsistencyState::default(),
    }
}

fn render(w: &World, mode: Mode) -> Value {
    let facts = ReportFacts {
        config: &w.config,
        manifest: &w.manifest,
        pods: &w.pods,
        ipam: &w.ipam,
        device: Ok(&w.device),
        zones: &w.zones,
        counters: &w.counters,
        mode,
        nats_connected: true,
        max_fraction: 0.5,
    };
    let at = chrono::DateTime::parse_from_rfc3339("2026-02-24T10:15:00Z")
        .unwrap()
        .with_timezone(&Utc);
    serde_json::to_value(build(&facts, at)).unwrap()
}

fn item(name: &str, status: &str, message: &str, details: &str) -> Value {
    let mut v = json!({"name": name, "status": status, "message": message});
    if !details.is_empty() {
        v["details"] = json!(details);
    }
    v
}

#[test]
fn a_healthy_device_passes_every_check() {
    let got = render(&healthy(), Mode::On);
    assert_eq!(got["timestamp"], "2026-02-24T10:15:00.000Z");
    assert_eq!(
        got["checks"]["containers"],
        json!([
            item("container/nats/app", "pass", "running", "id=*1"),
            item("veth/veth_infra_nats_0", "pass", "veth allocated", ""),
        ]),
        "CC-1"
    );
    assert_eq!(
        got["checks"]["dns"],
        json!([
            item(
                "dns-zone/x",
                "pass",
                "external DNS (zone init deferred)",
                ""
            ),
            item("dns/t/app.nats", "pass", "record correct", "ip=127.77.0.10"),
            item("dns/t/app.web", "pass", "record correct", "ip=127.77.0.2"),
            item("dns/t/dns", "pass", "record correct", "ip=127.77.0.252"),
            item("dns/t/nats", "pass", "record correct", "ip=127.77.0.10"),
            item("dns/t/rose1", "pass", "record correct", "ip=127.77.0.1"),
            item("dns/t/web", "pass", "record correct", "ip=127.77.0.2"),
        ]),
        "CC-2"
    );
    assert_eq!(
        got["checks"]["manifest"],
        json!([
            item(
                "manifest/default/web",
                "pass",
                "NATS-sourced pod (not in boot manifest)",
                ""
            ),
            item("manifest/infra/nats", "pass", "manifest pod is tracked", ""),
        ]),
        "CC-3"
    );
    assert_eq!(
        got["checks"]["ipam"],
        json!([
            item(
                "ipam/veth_default_web_0",
                "pass",
                "IPAM matches actual",
                "ip=127.77.0.2"
            ),
            item(
                "ipam/veth_infra_nats_0",
                "pass",
                "IPAM matches actual",
                "ip=127.77.0.10"
            ),
            item(
                "static-ip/nats/veth_infra_nats_0",
                "pass",
                "static IP matches allocation",
                "ip=127.77.0.10"
            ),
        ]),
        "CC-4"
    );
    assert_eq!(
        got["checks"]["network"],
        json!([
            item(
                "network/default/web/veth_default_web_0",
                "pass",
                "network healthy",
                "ip=127.77.0.2"
            ),
            item(
                "network/infra/nats/veth_infra_nats_0",
                "pass",
                "network healthy",
                "ip=127.77.0.10"
            ),
        ]),
        "CC-5"
    );
    assert_eq!(got["summary"], json!({"pass": 16, "warn": 0, "fail": 0}));
}

#[test]
fn a_broken_device_fails_item_by_item() {
    let mut w = healthy();
    w.device = device(
        vec![
            container("infra_nats_app", "*1", "veth_infra_nats_0", false),
            container("default_web_app", "*2", "veth_default_web_0", true),
            container("default_gone_app", "*3", "veth_default_gone_0", true),
            container("selfctl", "*4", "veth-mkube", true),
        ],
        vec![
            veth("veth_infra_nats_0", "*a", "127.77.0.11/24"),
            veth("veth_default_web_0", "*b", ""),
            veth("veth_default_gone_0", "*c", "127.77.0.4/24"),
            veth("veth-mkube", "*d", "127.77.0.5/24"),
        ],
    );
    w.ipam = ipam(&[
        ("veth_infra_nats_0", "127.77.0.11"),
        ("veth_default_web_0", "127.77.0.2"),
        ("veth_default_gone_0", "127.77.0.4"),
        ("veth_default_vanished_0", "127.77.0.9"),
    ]);
    w.zones[0].1 = ZoneListing::Listed {
        records: 5,
        a: a(&[
            ("app.nats", "127.77.0.10"),
            ("nats", "127.77.0.10"),
            ("web", "127.77.0.99"),
            ("old-host", "127.77.0.77"),
            ("rose1", "127.77.0.1"),
            ("dns", "127.77.0.252"),
        ]),
    };
    w.zones[1].1 = ZoneListing::NoZoneId;
    w.zones
        .push(("y".into(), ZoneListing::Failed("connection refused".into())));
    w.counters.network_failures.insert("default/web".into(), 1);
    let got = render(&w, Mode::On);
    let c = &got["checks"];
    assert_eq!(
        c["containers"],
        json!([
            item(
                "container/nats/app",
                "fail",
                "container exists but status is \"stopped\"",
                "id=*1"
            ),
            item(
                "orphan/container/default_gone_app",
                "warn",
                "orphan container: no pod claims it (reaped by the repair pass)",
                "id=*3 CC-R1: no desired or deleting pod claims it (status running)"
            ),
            item(
                "orphan/veth/veth_default_gone_0",
                "warn",
                "orphan veth: no pod claims it (reaped by the repair pass)",
                "id=*c CC-R2: no desired or deleting pod claims it (address \"127.77.0.4/24\")"
            ),
            item("veth/veth_infra_nats_0", "pass", "veth allocated", ""),
        ]),
        "CC-1 and the orphans CC-R1/CC-R2 would reap; `selfctl` and `veth-mkube` are no one's business"
    );
    assert_eq!(
        c["dns"],
        json!([
            item(
                "dns-zone/x",
                "warn",
                "zone ID not cached (DNS may not be initialized)",
                ""
            ),
            item(
                "dns-zone/y",
                "fail",
                "DNS endpoint unreachable: connection refused",
                ""
            ),
            item("dns/t/app.nats", "pass", "record correct", "ip=127.77.0.10"),
            item(
                "dns/t/app.web",
                "fail",
                "DNS record missing",
                "expected A record -> 127.77.0.2"
            ),
            item("dns/t/dns", "pass", "record correct", "ip=127.77.0.252"),
            item("dns/t/nats", "pass", "record correct", "ip=127.77.0.10"),
            item(
                "dns/t/old-host",
                "warn",
                "stale DNS record",
                "ips=[127.77.0.77]"
            ),
            item("dns/t/rose1", "pass", "record correct", "ip=127.77.0.1"),
            item(
                "dns/t/web",
                "fail",
                "DNS record has wrong IP",
                "expected=127.77.0.2 actual=[127.77.0.99]"
            ),
        ]),
        "CC-2"
    );
    assert_eq!(
        c["ipam"],
        json!([
            item(
                "ipam/veth_default_gone_0",
                "pass",
                "IPAM matches actual",
                "ip=127.77.0.4"
            ),
            item(
                "ipam/veth_default_vanished_0",
                "warn",
                "IPAM entry exists but veth not found on device (orphan)",
                "ipam_ip=127.77.0.9"
            ),
            item(
                "ipam/veth_default_web_0",
                "fail",
                "IP mismatch between IPAM and actual veth",
                "ipam=127.77.0.2 actual="
            ),
            item(
                "ipam/veth_infra_nats_0",
                "pass",
                "IPAM matches actual",
                "ip=127.77.0.11"
            ),
            item(
                "static-ip/nats/veth_infra_nats_0",
                "fail",
                "static IP mismatch",
                "expected=127.77.0.10 actual=127.77.0.11"
            ),
        ]),
        "CC-4"
    );
    assert_eq!(
        c["network"],
        json!([
            item(
                "network/default/web/veth_default_web_0",
                "fail",
                "veth has no IP address",
                "veth=veth_default_web_0"
            ),
            item(
                "network/infra/nats/veth_infra_nats_0",
                "fail",
                "static IP mismatch",
                "expected=127.77.0.10 actual=127.77.0.11"
            ),
        ]),
        "CC-5"
    );
    assert_eq!(got["summary"], json!({"pass": 9, "warn": 5, "fail": 8}));
}

#[test]
fn empty_lists_are_arrays_network_is_omitted_and_failed_reads_are_items() {
    let w = World {
        config: config(),
        manifest: ManifestView::NotConfigured,
        pods: PodsState::default(),
        ipam: IpamState::default(),
        device: DeviceSnapshot::default(),
        zones: Vec::new(),
        counters: ConsistencyState::default(),
    };
    let facts = ReportFacts {
        config: &w.config,
        manifest: &w.manifest,
        pods: &w.pods,
        ipam: &w.ipam,
        device: Err("device unreachable: refused"),
        zones: &w.zones,
        counters: &w.counters,
        mode: Mode::On,
        nats_connected: false,
        max_fraction: 0.5,
    };
    let got = serde_json::to_value(build(&facts, Utc::now())).unwrap();
    let c = &got["checks"];
    assert_eq!(c["dns"], json!([]));
    assert_eq!(
        c["manifest"],
        json!([item(
            "boot-manifest",
            "warn",
            "no boot manifest path configured",
            ""
        )])
    );
    assert_eq!(
        c["containers"],
        json!([
            item(
                "boot-manifest",
                "warn",
                "no boot manifest path configured",
                ""
            ),
            item(
                "repair/nats",
                "fail",
                "NATS disconnected: no repair pass runs until it is back",
                ""
            ),
        ])
    );
    assert_eq!(
        c["ipam"],
        json!([item(
            "ipam-ports",
            "fail",
            "failed to list actual ports: device unreachable: refused",
            ""
        )])
    );
    assert_eq!(
        c["network"],
        json!([item(
            "network-ports",
            "fail",
            "failed to list actual ports: device unreachable: refused",
            ""
        )])
    );
    let facts = ReportFacts {
        device: Ok(&w.device),
        nats_connected: true,
        ..facts
    };
    let got = serde_json::to_value(build(&facts, Utc::now())).unwrap();
    assert!(
        got["checks"].get("network").is_none(),
        "omitted when empty: {got}"
    );
}

#[test]
fn the_report_names_the_guard_that_stops_the_pass() {
    let mut w = healthy();
    w.manifest = ManifestView::Failed("reading /etc/mkube/boot-order.yaml: gone".into());
    let got = render(&w, Mode::On);
    let guard = got["checks"]["containers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["name"] == "repair/guard")
        .cloned()
        .unwrap_or_default();
    assert_eq!(guard["status"], "fail");
    assert!(
        guard["details"]
            .as_str()
            .unwrap()
            .contains("not known complete"),
        "{guard}"
    );
    assert_eq!(
        got["checks"]["manifest"][0],
        item(
            "manifest-load",
            "fail",
            "failed to load manifest: reading /etc/mkube/boot-order.yaml: gone",
            ""
        )
    );
    // Repair off: no guard, orphans say they stay.
    let got = render(&w, Mode::Off);
    assert!(!got.to_string().contains("repair/guard"));
}
