//! Configuration loading and validation (controller.md §8.1, §8.2, IPAM-1,
//! IPAM-2) and the boot-order manifest (§1.3).

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use mkube::config::{
    self, Config, ConfigError, Loaded, Problem, from_yaml_str, load, load_manifest,
};

fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

fn ok(yaml: &str) -> Loaded {
    from_yaml_str(yaml, "test.yaml")
        .unwrap_or_else(|e| panic!("expected a valid config, got:\n{e}"))
}

/// The problems of an invalid config (panics on any other outcome).
fn problems(yaml: &str) -> Vec<Problem> {
    match from_yaml_str(yaml, "test.yaml") {
        Err(ConfigError::Invalid { origin, problems }) => {
            assert_eq!(origin, "test.yaml");
            problems
        }
        other => panic!("expected ConfigError::Invalid, got {other:?}"),
    }
}

/// Asserts that `field` is among the failing fields and returns its reason.
fn fails(yaml: &str, field: &str) -> String {
    let found = problems(yaml);
    found
        .iter()
        .find(|p| p.field == field)
        .unwrap_or_else(|| panic!("no problem on {field}; got {found:?}"))
        .reason
        .clone()
}

/// One valid network; `extra` is spliced into the network mapping and
/// `dns_extra` into its `dns` mapping (both already indented by the caller).
fn net(extra: &str, dns_extra: &str) -> String {
    format!(
        "networks:\n  - name: g10\n    bridge: bridge-g10\n    cidr: 192.168.10.0/24\n{extra}    dns:\n      zone: g10.lo\n{dns_extra}"
    )
}

fn ip(s: &str) -> Ipv4Addr {
    s.parse().unwrap()
}

// ---------------------------------------------------------------- shipped files

#[test]
fn demo_config_loads_cleanly_and_is_loopback_only() {
    let path = repo("config/demo.yaml");
    let Loaded { config, warnings } = load(&path).unwrap_or_else(|e| panic!("{e}"));
    assert!(warnings.is_empty(), "unexpected warnings: {warnings:?}");
    assert_eq!(config.node_name, "demo");
    assert!(config.standalone);
    assert_eq!(config.routeros.rest_url, "http://127.0.0.1:18728/rest");
    assert_eq!(config.routeros.user, "admin");
    assert_eq!(config.routeros.password, "demo");
    let names: Vec<_> = config.networks.iter().map(|n| n.name.as_str()).collect();
    assert_eq!(names, ["demo", "lab"]);

    let loopback: ipnet::Ipv4Net = "127.0.0.0/8".parse().unwrap();
    for n in &config.networks {
        assert!(loopback.contains(&n.subnet()), "{} leaves loopback", n.name);
        assert!(
            n.dns.endpoint.starts_with("http://127.0.0.1:"),
            "{}",
            n.dns.endpoint
        );
        assert!(loopback.contains(&n.dns_server_ip().unwrap()));
    }
    let demo = &config.networks[0];
    assert_eq!(demo.gateway_ip(), ip("127.42.0.1"));
    assert_eq!(demo.ipam_range(), (ip("127.42.0.100"), ip("127.42.0.199")));
    assert_eq!(demo.dns.zone, "demo.lo");
    assert_eq!(config.networks[1].dns.endpoint, "http://127.0.0.1:18082");
    assert_eq!(config.networks[1].dns.zone, "lab.lo");

    assert_eq!(config.registry.local_addresses, ["127.0.0.1:5000"]);
    assert_eq!(config.nats.url, "nats://127.0.0.1:4222");
    assert_eq!(config.nats.stream, "MKUBE_EVENTS");
    assert_eq!(config.nats.replicas, Some(1));
    assert_eq!(config.nats.snapshot_every, 1000);
    assert_eq!(config.api.listen, "127.0.0.1:8082");
    // basePath is a path on the (simulated) device, whose disk is .demo/device; the tarball
    // cache is written by mkube inside that disk and mapped to the device's view (NAME-8).
    assert_eq!(config.storage.base_path, "/raid1/images");
    assert!(config.storage.tarball_cache.starts_with(".demo/device/"));
    assert_eq!(config.storage.persistent_mounts[0].host_path, "raid1/cache");
    assert_eq!(
        config.lifecycle.boot_manifest_path,
        "config/demo-boot-order.yaml"
    );
    // Anything URL-shaped must name a loopback host.
    for url in [
        &config.registry.notify_url,
        &config.bmh.pxe_manager_url,
        &config.bmh.dhcp_lease_url,
    ] {
        assert!(url.is_empty() || url.starts_with("http://127."), "{url}");
    }
}

#[test]
fn demo_boot_manifest_holds_one_hello_pod() {
    let m = load_manifest(&repo("config/demo-boot-order.yaml")).unwrap();
    assert_eq!(m.pods.len(), 1);
    assert!(m.config_maps.is_empty());
    let pod = &m.pods[0];
    assert_eq!(pod.metadata.namespace.as_deref(), Some("infra"));
    assert_eq!(pod.metadata.name.as_deref(), Some("hello"));
    let ann = pod.metadata.annotations.as_ref().unwrap();
    assert_eq!(ann["vkube.io/network"], "demo");
    assert_eq!(ann["vkube.io/static-ip"], "127.42.0.10");
    let spec = pod.spec.as_ref().unwrap();
    assert_eq!(
        spec.containers[0].image.as_deref(),
        Some("127.0.0.1:5000/hello:latest")
    );
}

#[test]
fn rose1_config_loads_cleanly() {
    let Loaded { config, warnings } =
        load(&repo("deploy/rose1/config.yaml")).unwrap_or_else(|e| panic!("{e}"));
    assert!(warnings.is_empty(), "unexpected warnings: {warnings:?}");
    let names: Vec<_> = config.networks.iter().map(|n| n.name.as_str()).collect();
    assert_eq!(names, ["gt", "g10", "g11", "gw"]);

    let gt = config.network_named("gt").unwrap();
    assert_eq!(gt.subnet().to_string(), "192.168.200.0/24");
    assert_eq!(gt.gateway_ip(), ip("192.168.200.1"));
    assert_eq!(gt.dns.server, "192.168.200.199");
    assert_eq!(gt.dns.zone, "gt.lo");

    for (name, third) in [("g10", 10), ("g11", 11)] {
        let n = config.network_named(name).unwrap();
        let at = |last: u8| Ipv4Addr::new(192, 168, third, last);
        assert_eq!(n.ipam_range(), (at(200), at(250)), "{name} IPAM-7 range");
        assert_eq!(n.dns_server_ip(), Some(at(252)));
        assert_eq!(n.dns.zone, format!("{name}.lo"));
        assert!(n.dns.dhcp.enabled);
        assert!(!n.dns.dhcp.next_server.is_empty() && !n.dns.dhcp.boot_file.is_empty());
    }
    let g10 = config.network_named("g10").unwrap();
    let gb10: Vec<_> = g10
        .dns
        .dhcp
        .reservations
        .iter()
        .filter(|r| r.hostname.starts_with("gb10"))
        .map(|r| (r.hostname.as_str(), r.ip.as_str()))
        .collect();
    assert_eq!(
        gb10,
        [("gb10", "192.168.10.50"), ("gb10b", "192.168.10.51")]
    );
    assert!(
        g10.dns
            .dhcp
            .reservations
            .iter()
            .any(|r| r.mac == "FC:4C:EA:F9:4F:2F" && r.hostname == "gb10")
    );

    assert!(config.network_named("gw").unwrap().external_dns);
    assert_eq!(
        config.registry.local_addresses,
        ["192.168.200.3:5000", "192.168.200.2:5000"]
    );
    assert!(
        config
            .registry
            .notify_url
            .ends_with("/api/v1/registry/push-notify")
    );
    assert_eq!(config.nats.url, "nats://192.168.200.10:4222");
    let mounts: Vec<_> = config
        .storage
        .persistent_mounts
        .iter()
        .map(|m| (m.container_path.as_str(), m.host_path.as_str()))
        .collect();
    assert_eq!(
        mounts,
        [
            ("/raid1/cache", "raid1/cache"),
            ("/data", "raid1/volumes/kube.gt.lo/data")
        ]
    );
}

#[test]
fn rose1_boot_order_has_three_dns_pods_and_leaves_registry_and_nats_to_the_installer() {
    let cfg = load(&repo("deploy/rose1/config.yaml")).unwrap().config;
    let m = load_manifest(&repo("deploy/rose1/boot-order.yaml")).unwrap();
    assert!(m.config_maps.is_empty());
    let keys: Vec<String> = m
        .pods
        .iter()
        .map(|p| {
            format!(
                "{}/{}",
                p.metadata.namespace.as_deref().unwrap(),
                p.metadata.name.as_deref().unwrap()
            )
        })
        .collect();
    assert_eq!(
        keys,
        ["g10/dns", "g11/dns", "gt/dns"],
        "registry.gt.lo and nats.gt.lo belong to mkube-installer (images.md §1.2, §8 q3)"
    );

    let ann = |i: usize, k: &str| {
        m.pods[i]
            .metadata
            .annotations
            .as_ref()
            .unwrap()
            .get(k)
            .cloned()
    };
    for pod in &m.pods {
        assert_eq!(
            pod.spec.as_ref().unwrap().restart_policy.as_deref(),
            Some("Always")
        );
    }

    for (i, (ns, prio)) in [("g10", "11"), ("g11", "12"), ("gt", "13")]
        .into_iter()
        .enumerate()
    {
        let net = cfg.network_named(ns).unwrap();
        assert_eq!(ann(i, "vkube.io/boot-priority").as_deref(), Some(prio));
        assert_eq!(
            ann(i, "vkube.io/static-ip"),
            Some(net.dns.server.clone()),
            "static IP = dns.server"
        );
        assert_eq!(ann(i, "vkube.io/network").as_deref(), Some(ns));
        assert_eq!(ann(i, "vkube.io/image-policy").as_deref(), Some("auto"));
        let vols = m.pods[i].spec.as_ref().unwrap().volumes.as_ref().unwrap();
        let config_vol = vols.iter().find(|v| v.name == "config").unwrap();
        assert_eq!(config_vol.config_map.as_ref().unwrap().name, "dns-config");
        assert!(vols.iter().any(|v| v.name == "data"));
    }
}

// ---------------------------------------------------------------- loading (§8.1)

#[test]
fn missing_file_gives_defaults_and_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("absent.yaml");
    let Loaded { config, warnings } = load(&path).unwrap();
    assert_eq!(config, Config::default());
    assert_eq!(
        warnings,
        [format!(
            "config file {} not found; using defaults",
            path.display()
        )]
    );
}

#[test]
fn empty_file_gives_defaults() {
    for text in ["", "# nothing here\n", "---\n"] {
        let l = ok(text);
        assert_eq!(l.config, Config::default(), "{text:?}");
        assert!(l.warnings.is_empty());
    }
}

#[test]
fn defaults_follow_the_schema() {
    // §8.2 defaults, plus the rewrite's nats/api sections.
    let c = ok("").config;
    assert_eq!(c.node_name, "mkube-node");
    assert!(!c.standalone);
    assert_eq!(c.routeros.address, "192.168.200.1:8728");
    assert_eq!(c.routeros.rest_url, "https://192.168.200.1/rest");
    assert_eq!(c.routeros.user, "admin");
    assert!(c.routeros.insecure_verify && !c.routeros.use_tls);
    assert_eq!(c.storage.base_path, "/raid1/images");
    assert_eq!(c.storage.tarball_cache, "/raid1/cache");
    assert_eq!(
        (c.storage.gc_interval_minutes, c.storage.gc_keep_last_n),
        (30, 5)
    );
    assert_eq!(c.lifecycle.boot_manifest_path, "/etc/mkube/boot-order.yaml");
    assert_eq!(
        (
            c.lifecycle.watchdog_interval_seconds,
            c.lifecycle.max_restarts,
            c.lifecycle.restart_cooldown
        ),
        (5, 5, 10)
    );
    assert!(c.registry.enabled);
    assert_eq!(c.registry.listen_addr, ":5000");
    assert_eq!(c.registry.store_path, "/raid1/registry");
    assert_eq!(c.bmh.pxe_manager_url, "http://pxe.g10.lo:8080");
    assert_eq!(c.bmh.dhcp_lease_url, "http://dns.g11.lo:8080");
    assert_eq!(c.bmh.watch_interval, 30);
    assert_eq!(c.nats.url, "nats://127.0.0.1:4222");
    assert_eq!(c.nats.stream, "MKUBE_EVENTS");
    assert_eq!((c.nats.replicas, c.nats.snapshot_every), (None, 1000));
    assert_eq!(c.api.listen, "127.0.0.1:8082");
    assert_eq!(
        (
            c.api.token_file.as_str(),
            c.api.tls_cert.as_str(),
            c.api.tls_key.as_str()
        ),
        ("", "", "")
    );

    // Default network (§8.2).
    assert_eq!(c.networks.len(), 1);
    let n = &c.networks[0];
    assert_eq!(
        (n.name.as_str(), n.bridge.as_str(), n.cidr.as_str()),
        ("containers", "containers", "192.168.200.0/24")
    );
    assert_eq!(n.gateway_ip(), ip("192.168.200.1"));
    assert_eq!(n.dns.endpoint, "http://192.168.200.199:8080");
    assert_eq!(
        (n.dns.zone.as_str(), n.dns.server.as_str()),
        ("gt.lo", "192.168.200.199")
    );
    assert_eq!(n.dns.static_records.len(), 1);
    assert_eq!(
        (
            n.dns.static_records[0].name.as_str(),
            n.dns.static_records[0].ip.as_str()
        ),
        ("rose1", "192.168.200.1")
    );
}

#[test]
fn partial_sections_keep_the_other_defaults() {
    let c = ok("nats: {url: \"nats://10.0.0.1:4222\"}\nlifecycle: {maxRestarts: 9}\n").config;
    assert_eq!(c.nats.url, "nats://10.0.0.1:4222");
    assert_eq!(c.nats.stream, "MKUBE_EVENTS");
    assert_eq!(c.lifecycle.max_restarts, 9);
    assert_eq!(c.lifecycle.restart_cooldown, 10);
}

#[test]
fn empty_network_list_gets_the_default_network() {
    let c = ok("networks: []\n").config;
    assert_eq!(c.networks, [config::Network::default_containers()]);
}

#[test]
fn unknown_keys_warn_with_their_full_path() {
    // §8.1 [D]: the seed put lifecycle settings under `systemd:` where they did nothing.
    let yaml = "systemd:\n  watchdog: 5\nlifecycle:\n  watchdogInterval: 3\nnetworks:\n  - name: a\n    cidr: 10.0.0.0/24\n    dns: {zonee: a.lo}\n";
    let l = from_yaml_str(yaml, "demo.yaml").unwrap();
    assert_eq!(
        l.warnings,
        [
            "config demo.yaml: unknown key `systemd`",
            "config demo.yaml: unknown key `lifecycle.watchdogInterval`",
            "config demo.yaml: unknown key `networks[0].dns.zonee`",
        ]
    );
    // Known keys still apply.
    assert_eq!(l.config.networks[0].name, "a");
}

#[test]
fn irregular_camel_case_keys_are_recognised() {
    let yaml = r#"
routeros: {useTLS: true, caCert: /ca.pem}
networks:
  - {name: gw, cidr: 10.9.0.0/24, externalDNS: true}
registry: {notifyURL: "http://x/notify", tlsCACertFile: /ca.crt, localAddresses: ["a:5000"]}
bmh: {pxeManagerURL: "http://p", dhcpLeaseURL: "http://d"}
api: {tokenFile: /t, tlsCert: /c, tlsKey: /k}
nats: {snapshotEvery: 5, replicas: 3}
"#;
    let l = ok(yaml);
    assert!(l.warnings.is_empty(), "{:?}", l.warnings);
    let c = l.config;
    assert!(c.routeros.use_tls);
    assert!(c.networks[0].external_dns);
    assert_eq!(c.registry.notify_url, "http://x/notify");
    assert_eq!(c.registry.tls_ca_cert_file, "/ca.crt");
    assert_eq!(c.bmh.pxe_manager_url, "http://p");
    assert_eq!(c.bmh.dhcp_lease_url, "http://d");
    assert_eq!(
        (
            c.api.token_file.as_str(),
            c.api.tls_cert.as_str(),
            c.api.tls_key.as_str()
        ),
        ("/t", "/c", "/k")
    );
    assert_eq!((c.nats.snapshot_every, c.nats.replicas), (5, Some(3)));
}

#[test]
fn config_round_trips_through_yaml() {
    let c = load(&repo("deploy/rose1/config.yaml")).unwrap().config;
    let text = serde_yaml_ng::to_string(&c).unwrap();
    let again = from_yaml_str(&text, "roundtrip").unwrap();
    assert!(again.warnings.is_empty(), "{:?}", again.warnings);
    assert_eq!(again.config, c);
}

#[test]
fn legacy_network_block_replaces_networks() {
    // §8.1: legacy `network:` replaces `networks` with one network `containers`.
    let yaml = r#"
networks:
  - {name: ignored, cidr: 10.5.0.0/24}
network:
  podCIDR: 10.1.0.0/16
  serviceCIDR: 10.96.0.0/12
  gatewayIP: 10.1.0.1
  bridgeName: br-pods
  vlan: 7
  dnsServers: [10.1.0.53, 9.9.9.9]
"#;
    let l = ok(yaml);
    assert_eq!(l.config.network, None);
    assert_eq!(l.config.networks.len(), 1);
    let n = &l.config.networks[0];
    assert_eq!(n.name, "containers");
    assert_eq!(n.bridge, "br-pods");
    assert_eq!(n.cidr, "10.1.0.0/16");
    assert_eq!(n.gateway_ip(), ip("10.1.0.1"));
    assert_eq!(n.vlan, 7);
    assert_eq!(n.dns.server, "10.1.0.53");
    assert!(
        l.warnings.iter().any(|w| w.contains("legacy `network:`")),
        "{:?}",
        l.warnings
    );
}

#[test]
fn legacy_block_with_only_a_cidr_falls_back_to_default_bridge() {
    let n = ok("network: {podCIDR: 172.20.0.0/24}\n")
        .config
        .networks
        .remove(0);
    assert_eq!(
        (n.name.as_str(), n.bridge.as_str()),
        ("containers", "containers")
    );
    assert_eq!(n.gateway_ip(), ip("172.20.0.1"));
}

#[test]
fn nats_replicas_below_one_become_one() {
    // §1.3: replicas = nats.replicas (minimum 1).
    assert_eq!(ok("nats: {replicas: 0}\n").config.nats.replicas, Some(1));
    assert_eq!(ok("nats: {replicas: -3}\n").config.nats.replicas, Some(1));
    // Unset: decided at connect from the servers (3 on a cluster, issue 16).
    assert_eq!(ok("nats: {url: x}\n").config.nats.replicas, None);
}

#[test]
fn network_helpers_apply_ipam_defaults() {
    // IPAM-1 / IPAM-2: gateway network+1, range network+2 .. broadcast-1.
    let c = ok("networks:\n  - {name: a, cidr: 172.20.0.0/24}\n  - {name: b, cidr: 10.0.0.0/16, ipamStart: 10.0.1.0}\n").config;
    let a = &c.networks[0];
    assert_eq!(a.gateway_ip(), ip("172.20.0.1"));
    assert_eq!(a.ipam_range(), (ip("172.20.0.2"), ip("172.20.0.254")));
    let b = &c.networks[1];
    assert_eq!(b.ipam_range(), (ip("10.0.1.0"), ip("10.0.255.254")));
    // Host bits in the CIDR are cleared.
    let c = ok("networks: [{name: a, cidr: 172.20.0.9/30}]\n").config;
    assert_eq!(c.networks[0].subnet().to_string(), "172.20.0.8/30");
    assert_eq!(
        c.networks[0].ipam_range(),
        (ip("172.20.0.10"), ip("172.20.0.10"))
    );
}

// ---------------------------------------------------------------- validation [D]

#[test]
fn bad_cidr_is_rejected() {
    assert!(
        fails(
            "networks: [{name: a, cidr: 192.168.10.0/33}]\n",
            "networks[0].cidr"
        )
        .contains("CIDR")
    );
    fails("networks: [{name: a, cidr: banana}]\n", "networks[0].cidr");
    fails("networks: [{name: a, cidr: \"\"}]\n", "networks[0].cidr");
    fails(
        "networks: [{name: a, cidr: 10.0.0.0/31}]\n",
        "networks[0].cidr",
    );
}

#[test]
fn unparsable_gateway_is_rejected() {
    // IPAM-1: an unparsable gateway aborts startup.
    fails(
        &net("    gateway: 192.168.10.300\n", ""),
        "networks[0].gateway",
    );
}

#[test]
fn gateway_outside_subnet_is_rejected() {
    let r = fails(
        &net("    gateway: 192.168.11.1\n", ""),
        "networks[0].gateway",
    );
    assert_eq!(r, "192.168.11.1 is outside subnet 192.168.10.0/24");
}

#[test]
fn unparsable_ipam_bounds_are_rejected() {
    // IPAM-2: unparsable ipamStart/ipamEnd → startup fails.
    fails(&net("    ipamStart: x\n", ""), "networks[0].ipamStart");
    fails(&net("    ipamEnd: 192.168.10\n", ""), "networks[0].ipamEnd");
}

#[test]
fn ipam_bounds_outside_subnet_are_rejected() {
    let r = fails(
        &net("    ipamStart: 10.0.0.5\n", ""),
        "networks[0].ipamStart",
    );
    assert_eq!(r, "10.0.0.5 is outside subnet 192.168.10.0/24");
    fails(
        &net("    ipamEnd: 192.168.11.250\n", ""),
        "networks[0].ipamEnd",
    );
    fails(
        &net("    ipamEnd: 192.168.10.255\n", ""),
        "networks[0].ipamEnd",
    );
}

#[test]
fn reversed_ipam_range_is_rejected() {
    fails(
        &net(
            "    ipamStart: 192.168.10.250\n    ipamEnd: 192.168.10.200\n",
            "",
        ),
        "networks[0].ipamStart",
    );
    // Against the default end as well.
    let ok_range = net("    ipamStart: 192.168.10.254\n", "");
    assert_eq!(
        ok(&ok_range).config.networks[0].ipam_range().1,
        ip("192.168.10.254")
    );
}

#[test]
fn duplicate_network_names_are_rejected() {
    let yaml = "networks:\n  - {name: a, cidr: 10.0.0.0/24}\n  - {name: a, cidr: 10.0.1.0/24}\n";
    assert!(fails(yaml, "networks[1].name").contains("duplicate"));
}

#[test]
fn empty_network_name_is_rejected() {
    fails(
        "networks: [{name: \"\", cidr: 10.0.0.0/24}]\n",
        "networks[0].name",
    );
}

#[test]
fn network_name_must_be_a_dns_label() {
    // The name is also the namespace of the network's dns pod (§8.3).
    for bad in ["G10", "g.10", "g_10", "-g10", "g 10"] {
        fails(
            &format!("networks: [{{name: \"{bad}\", cidr: 10.0.0.0/24}}]\n"),
            "networks[0].name",
        );
    }
}

#[test]
fn unknown_server_network_is_rejected() {
    let dns = "      dhcp: {serverNetwork: nowhere}\n";
    fails(&net("", dns), "networks[0].dns.dhcp.serverNetwork");
    // Naming a configured network is fine (relay topology, §8.3).
    ok(
        "networks:\n  - {name: a, cidr: 10.0.0.0/24}\n  - {name: b, cidr: 10.0.1.0/24, dns: {dhcp: {serverNetwork: a}}}\n",
    );
}

#[test]
fn static_record_ip_outside_subnet_is_rejected() {
    let dns = "      staticRecords:\n        - {name: rose1, ip: 192.168.10.1}\n        - {name: nats, ip: 192.168.200.10}\n";
    let r = fails(&net("", dns), "networks[0].dns.staticRecords[1].ip");
    assert!(r.contains("outside subnet"), "{r}");
}

#[test]
fn unparsable_static_record_ip_is_rejected() {
    fails(
        &net("", "      staticRecords: [{name: x, ip: nope}]\n"),
        "networks[0].dns.staticRecords[0].ip",
    );
}

#[test]
fn reservation_ip_outside_subnet_is_rejected() {
    let dns = "      dhcp:\n        reservations: [{mac: \"AC:1F:6B:8A:A7:9C\", ip: 192.168.11.10, hostname: server1}]\n";
    fails(&net("", dns), "networks[0].dns.dhcp.reservations[0].ip");
}

#[test]
fn malformed_mac_is_rejected() {
    for mac in [
        "AC:1F:6B:8A:A7",
        "AC:1F:6B:8A:A7:9C:00",
        "AC1F6B8AA79C",
        "AC:1F:6B:8A:A7:ZZ",
        "AC:1F-6B:8A:A7:9C",
        "A:1F:6B:8A:A7:9C",
        "",
    ] {
        let dns =
            format!("      dhcp:\n        reservations: [{{mac: \"{mac}\", ip: 192.168.10.10}}]\n");
        fails(&net("", &dns), "networks[0].dns.dhcp.reservations[0].mac");
    }
    for mac in ["ac:1f:6b:8a:a7:9c", "AC-1F-6B-8A-A7-9C"] {
        let dns =
            format!("      dhcp:\n        reservations: [{{mac: \"{mac}\", ip: 192.168.10.10}}]\n");
        ok(&net("", &dns));
    }
}

#[test]
fn dhcp_range_outside_subnet_is_rejected() {
    let dns = "      dhcp: {enabled: true, rangeStart: 192.168.10.100, rangeEnd: 192.168.20.199}\n";
    fails(&net("", dns), "networks[0].dns.dhcp.rangeEnd");
    let dns = "      dhcp: {enabled: true, rangeStart: 10.0.0.1, rangeEnd: 192.168.10.199}\n";
    fails(&net("", dns), "networks[0].dns.dhcp.rangeStart");
}

#[test]
fn reversed_dhcp_range_is_rejected() {
    let dns = "      dhcp: {enabled: true, rangeStart: 192.168.10.199, rangeEnd: 192.168.10.100}\n";
    fails(&net("", dns), "networks[0].dns.dhcp.rangeStart");
}

#[test]
fn enabled_dhcp_needs_a_range() {
    fails(
        &net("", "      dhcp: {enabled: true}\n"),
        "networks[0].dns.dhcp.rangeStart",
    );
}

#[test]
fn unparsable_dns_server_is_rejected() {
    fails(
        &net("", "      server: dns.g10.lo\n"),
        "networks[0].dns.server",
    );
    // Empty is allowed.
    ok(&net("", "      server: \"\"\n"));
}

#[test]
fn zero_snapshot_interval_is_rejected() {
    fails("nats: {snapshotEvery: 0}\n", "nats.snapshotEvery");
}

#[test]
fn api_listen_must_be_a_socket_address() {
    for bad in [":8082", "localhost:8082", "127.0.0.1", ""] {
        fails(&format!("api: {{listen: \"{bad}\"}}\n"), "api.listen");
    }
    ok("api: {listen: \"[::1]:8082\"}\n");
}

#[test]
fn api_tls_cert_and_key_go_together() {
    fails("api: {tlsCert: /etc/mkube/api.crt}\n", "api.tlsKey");
    fails("api: {tlsKey: /etc/mkube/api.key}\n", "api.tlsCert");
}

#[test]
fn empty_registry_local_address_is_rejected() {
    fails(
        "registry: {localAddresses: [\"192.168.200.3:5000\", \"\"]}\n",
        "registry.localAddresses[1]",
    );
}

#[test]
fn all_problems_are_reported_one_per_line() {
    let yaml = r#"
networks:
  - {name: g10, cidr: 192.168.10.0/24, ipamStart: 10.0.0.5}
  - {name: g10, cidr: nope}
nats: {snapshotEvery: 0}
"#;
    let err = from_yaml_str(yaml, "demo.yaml").unwrap_err();
    let fields: Vec<_> = err.problems().iter().map(|p| p.field.as_str()).collect();
    assert_eq!(
        fields,
        [
            "networks[0].ipamStart",
            "networks[1].name",
            "networks[1].cidr",
            "nats.snapshotEvery"
        ]
    );
    let text = err.to_string();
    let lines: Vec<_> = text.lines().collect();
    assert_eq!(lines.len(), 4, "{text}");
    assert_eq!(
        lines[0],
        "config demo.yaml: networks[0].ipamStart: 10.0.0.5 is outside subnet 192.168.10.0/24"
    );
    assert!(lines.iter().all(|l| l.starts_with("config demo.yaml: ")));
}

#[test]
fn validate_again_after_command_line_overrides() {
    // §8.1: flags are applied by the caller after loading, then validated again.
    let mut c = load(&repo("config/demo.yaml")).unwrap().config;
    assert!(c.validate("flags").is_ok());
    c.networks[0].cidr = "10.0.0.0/24".into(); // --pod-cidr overrides the first network
    let err = c.validate("flags").unwrap_err();
    assert!(
        err.problems()
            .iter()
            .any(|p| p.field == "networks[0].gateway"),
        "{err}"
    );
}

// ---------------------------------------------------------------- parse errors

#[test]
fn yaml_syntax_error_names_the_file_and_position() {
    let err = from_yaml_str("nodeName: a\nnats: {url: x\n", "demo.yaml").unwrap_err();
    let ConfigError::Parse { origin, message } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(origin, "demo.yaml");
    assert!(message.contains("line 3 column 1"), "{message}");
    assert!(err.to_string().starts_with("config demo.yaml: "), "{err}");
}

#[test]
fn type_error_names_the_field() {
    let err = from_yaml_str("networks:\n  - {name: a, vlan: abc}\n", "demo.yaml").unwrap_err();
    let ConfigError::Parse { message, .. } = &err else {
        panic!("{err:?}")
    };
    assert!(
        message.contains("vlan") && message.contains("line 2"),
        "{message}"
    );
}

#[test]
fn load_reports_parse_errors_with_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broken.yaml");
    std::fs::write(&path, "api:\n  listen: \"127.0.0.1:8082\n").unwrap();
    let err = load(&path).unwrap_err();
    assert!(matches!(err, ConfigError::Parse { .. }), "{err:?}");
    assert!(
        err.to_string().contains(&path.display().to_string()),
        "{err}"
    );
}

#[test]
fn invalid_fixture_files_fail_on_the_expected_field() {
    // tests/suite/fixtures/config/<field>.yaml: each file breaks exactly that field.
    let dir = repo("tests/suite/fixtures/config");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let field = path.file_stem().unwrap().to_str().unwrap().to_string();
        let err = load(&path).unwrap_err();
        let fields: Vec<_> = err.problems().iter().map(|p| p.field.clone()).collect();
        assert_eq!(fields, [field], "{}: {err}", path.display());
        assert!(err.to_string().contains(&path.display().to_string()));
        seen += 1;
    }
    assert!(seen >= 3);
}

// ---------------------------------------------------------------- manifest (§1.3)

const MIXED: &str = r#"# leading comment
---
apiVersion: v1
kind: ConfigMap
metadata: {name: dns-config, namespace: g10}
data: {microdns.toml: "x = 1"}
---
kind: Service
metadata: {name: not-a-pod}
---
just a scalar
---
- a
- list
---
metadata: {name: no-kind}
spec:
  containers: [{name: c, image: "i:1"}]
---
apiVersion: v1
kind: Pod
metadata: {namespace: x}
spec:
  containers: [{name: c, image: "i:1"}]
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: apps}
spec:
  containers: [{name: c, image: "i:1"}]
---
kind: ConfigMap
metadata: {name: plain}
"#;

#[test]
fn manifest_rules() {
    let m = config::parse_manifest(MIXED, "boot.yaml").unwrap();
    let pods: Vec<_> = m
        .pods
        .iter()
        .map(|p| {
            (
                p.metadata.namespace.clone().unwrap(),
                p.metadata.name.clone().unwrap(),
            )
        })
        .collect();
    // kind-less doc is a Pod with namespace "default"; nameless pod skipped;
    // Service, scalar and list documents skipped.
    assert_eq!(
        pods,
        [
            ("default".into(), "no-kind".into()),
            ("apps".into(), "web".into())
        ]
    );
    let cms: Vec<_> = m
        .config_maps
        .iter()
        .map(|c| {
            (
                c.metadata.namespace.clone().unwrap(),
                c.metadata.name.clone().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        cms,
        [
            ("g10".to_string(), "dns-config".to_string()),
            ("default".into(), "plain".into())
        ]
    );
    assert_eq!(
        m.config_maps[0].data.as_ref().unwrap()["microdns.toml"],
        "x = 1"
    );
}

#[test]
fn malformed_manifest_document_aborts_the_load() {
    let text = "kind: Pod\nmetadata: {name: a}\n---\nkind: Pod\nmetadata: {name: b}\n---\nkind: Pod\nmetadata: {name: c}\nspec:\n  containers: not-a-list\n";
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("boot-order.yaml");
    std::fs::write(&path, text).unwrap();
    let err = load_manifest(&path).unwrap_err();
    let ConfigError::Manifest {
        origin,
        document,
        line,
        message,
    } = &err
    else {
        panic!("{err:?}")
    };
    assert_eq!(origin, &path.display().to_string());
    assert_eq!((*document, *line), (3, 6));
    assert!(
        message.contains("line 10"),
        "absolute line expected: {message}"
    );
    assert!(err.to_string().contains("document 3"), "{err}");
}

#[test]
fn wrong_api_version_aborts_the_load() {
    let err = config::parse_manifest("apiVersion: v2\nkind: Pod\nmetadata: {name: a}\n", "m.yaml")
        .unwrap_err();
    assert!(
        matches!(err, ConfigError::Manifest { document: 1, .. }),
        "{err:?}"
    );
}

#[test]
fn missing_manifest_is_a_read_error() {
    let err = load_manifest(Path::new("/nonexistent/boot-order.yaml")).unwrap_err();
    assert!(matches!(err, ConfigError::Read { .. }), "{err:?}");
}

// ---------------------------------------------------------------- consistency (§6.3)

#[test]
fn consistency_defaults_follow_section_6() {
    let c = ok("").config.consistency;
    assert!(c.repair && !c.dry_run);
    assert_eq!(c.max_reap_fraction, 0.5, "L-1 (d): half at once");
    assert_eq!(c.pass_deadline_seconds, 30.0, "§6.3: one 30 s deadline");
    assert_eq!(c.delay_seconds, 5.0, "§6.3: the pass sleeps 5 s");
    let c = ok("consistency: {dryRun: true, maxReapFraction: 0.2}")
        .config
        .consistency;
    assert!(c.repair && c.dry_run);
    assert_eq!(c.max_reap_fraction, 0.2);
}

#[test]
fn consistency_values_out_of_range_are_rejected() {
    for bad in ["0", "-0.1", "1.5", ".nan"] {
        let r = fails(
            &format!("consistency: {{maxReapFraction: {bad}}}"),
            "consistency.maxReapFraction",
        );
        assert!(r.contains("fraction in (0, 1]"), "{r}");
    }
    fails(
        "consistency: {passDeadlineSeconds: 0}",
        "consistency.passDeadlineSeconds",
    );
    fails(
        "consistency: {delaySeconds: -1}",
        "consistency.delaySeconds",
    );
    fails(
        "consistency: {reportMaxAgeSeconds: .inf}",
        "consistency.reportMaxAgeSeconds",
    );
}
