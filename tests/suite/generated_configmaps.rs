//! §8.3 / DS-6: the ConfigMaps mkube derives from its configuration match golden files byte
//! for byte and do not change between runs. `MKUBE_UPDATE_GOLDEN=1` rewrites the files.

use mkube::config::generated::{CONSOLE_KEY, MICRODNS_KEY, generated_config_maps};
use mkube::config::{Config, from_yaml_str, load};
use std::path::{Path, PathBuf};

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/suite/fixtures/generated")
}

pub(crate) fn rose1() -> Config {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/rose1/config.yaml");
    load(&path).expect("rose1 config loads").config
}

/// Every generated file of `config`, as (golden file name, text).
fn rendered(prefix: &str, config: &Config) -> Vec<(String, String)> {
    generated_config_maps(config)
        .into_iter()
        .flat_map(|cm| {
            let ns = cm.metadata.namespace.clone().unwrap_or_default();
            let name = cm.metadata.name.clone().unwrap_or_default();
            cm.data
                .unwrap_or_default()
                .into_iter()
                .map(move |(key, text)| (format!("{prefix}-{ns}-{name}-{key}"), text))
        })
        .collect()
}

fn check_golden(prefix: &str, config: &Config) {
    let files = rendered(prefix, config);
    assert!(!files.is_empty());
    for (name, text) in files {
        let path = golden_dir().join(&name);
        if std::env::var_os("MKUBE_UPDATE_GOLDEN").is_some() {
            std::fs::write(&path, &text).unwrap();
            continue;
        }
        let want = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("golden file {} missing: {e}", path.display()));
        assert_eq!(text, want, "generated {name} differs from its golden file");
    }
}

#[test]
fn rose1_generated_config_maps_match_golden_files() {
    let config = rose1();
    check_golden("rose1", &config);
    let names: Vec<String> = generated_config_maps(&config)
        .iter()
        .map(|cm| {
            format!(
                "{}/{}",
                cm.metadata.namespace.as_deref().unwrap_or_default(),
                cm.metadata.name.as_deref().unwrap_or_default()
            )
        })
        .collect();
    // Every network with a zone and a server gets one, the external gw network included.
    assert_eq!(
        names,
        [
            "infra/mkube-console-config",
            "gt/dns-config",
            "g10/dns-config",
            "g11/dns-config",
            "gw/dns-config"
        ]
    );
}

#[test]
fn generated_bytes_are_stable_across_runs() {
    let a = rendered("x", &rose1());
    let b = rendered("x", &rose1());
    assert_eq!(a, b);
}

#[test]
fn generated_microdns_toml_is_valid_toml_with_the_expected_values() {
    let config = rose1();
    let maps = generated_config_maps(&config);
    let g10 = maps
        .iter()
        .find(|cm| cm.metadata.namespace.as_deref() == Some("g10"))
        .unwrap();
    let text = &g10.data.as_ref().unwrap()[MICRODNS_KEY];
    let doc: toml::Table = text.parse().expect("valid TOML");
    assert_eq!(doc["instance"]["id"].as_str(), Some("microdns-g10"));
    assert_eq!(doc["dns"]["auth"]["listen"].as_str(), Some("0.0.0.0:15353"));
    let fwd = doc["dns"]["recursor"]["forward_zones"].as_table().unwrap();
    // Every other network's zone, not its own.
    assert!(fwd.contains_key("gt.lo") && fwd.contains_key("g11.lo") && fwd.contains_key("gw.lo"));
    assert!(!fwd.contains_key("g10.lo"));
    assert_eq!(fwd["g11.lo"][0].as_str(), Some("192.168.11.252:53"));
    // Issue 11 item 9: the server address and port live under [dhcp.v4], where microdns
    // reads them, not per pool.
    let v4 = &doc["dhcp"]["v4"];
    assert_eq!(v4["server_ip"].as_str(), Some("192.168.10.252"));
    assert_eq!(v4["listen_ports"][0].as_integer(), Some(67));
    let pool = &v4["pools"][0];
    assert!(pool.get("server_ip").is_none() && pool.get("port").is_none());
    assert_eq!(pool["lease_time_secs"].as_integer(), Some(3600));
    assert_eq!(
        pool["ipxe_boot_url"].as_str(),
        Some("http://192.168.10.253:8080/boot.ipxe")
    );
    let reg = &doc["dhcp"]["dns_registration"];
    assert_eq!(
        reg["reverse_zone_v4"].as_str(),
        Some("10.168.192.in-addr.arpa")
    );
    assert_eq!(reg["default_ttl"].as_integer(), Some(300));
    assert_eq!(
        doc["dhcp"]["v4"]["reservations"].as_array().unwrap().len(),
        3
    );
    let console = &maps[0].data.as_ref().unwrap()[CONSOLE_KEY];
    assert!(
        console.contains("base_url: \"http://192.168.200.2:8082\""),
        "{console}"
    );
}

/// §8.3 relay topology: a pool with `serverNetwork` is served by that network's microdns and
/// not by its own; lease time 0 becomes 3600; no PXE URL without both next server and file.
pub(crate) const RELAY: &str = r#"
nodeName: "lab node"
networks:
  - name: core
    bridge: br-core
    cidr: "127.30.0.0/24"
    dns: {endpoint: "http://127.30.0.252:8080", zone: core.lo, server: "127.30.0.252"}
  - name: edge
    bridge: br-edge
    cidr: "127.31.0.0/24"
    dns:
      endpoint: "http://127.31.0.252:8080"
      zone: edge.lo
      server: "127.31.0.252"
      dhcp:
        enabled: true
        rangeStart: "127.31.0.100"
        rangeEnd: "127.31.0.150"
        leaseTime: 0
        nextServer: "127.31.0.5"
        serverNetwork: core
        reservations:
          - {mac: "02:00:00:00:00:01", ip: "127.31.0.10"}
  - name: nodns
    bridge: br-x
    cidr: "127.32.0.0/24"
"#;

#[test]
fn relay_topology_matches_golden_files() {
    let config = from_yaml_str(RELAY, "relay.yaml").unwrap().config;
    check_golden("relay", &config);
    let maps = generated_config_maps(&config);
    // nodns has no zone/server: no dns-config.
    assert_eq!(maps.len(), 3);
    let core: toml::Table = maps[1].data.as_ref().unwrap()[MICRODNS_KEY]
        .parse()
        .unwrap();
    // One server address per microdns (issue 11 item 9): the serving pod's own, core's
    // `dns.server`, also for the pool edge relays to it.
    assert_eq!(
        core["dhcp"]["v4"]["server_ip"].as_str(),
        Some("127.30.0.252")
    );
    let pool = &core["dhcp"]["v4"]["pools"][0];
    assert_eq!(pool["dns"][0].as_str(), Some("127.31.0.252"));
    assert_eq!(pool["lease_time_secs"].as_integer(), Some(3600));
    assert!(pool.get("ipxe_boot_url").is_none() && pool.get("boot_file").is_none());
    let reservation = &core["dhcp"]["v4"]["reservations"][0];
    assert!(reservation.get("hostname").is_none());
    let edge: toml::Table = maps[2].data.as_ref().unwrap()[MICRODNS_KEY]
        .parse()
        .unwrap();
    assert!(
        edge.get("dhcp").is_none(),
        "a relayed pool is not served by its own network"
    );
    // A node name that is not a plain word is quoted in the console YAML.
    assert!(
        maps[0].data.as_ref().unwrap()[CONSOLE_KEY].starts_with("cluster_name: \"lab node\"\n")
    );
}
