//! Issue 11 item 9: every key of the generated `microdns.toml` is one microdns reads. microdns
//! parses its config with serde defaults and no `deny_unknown_fields`, so a key in the wrong
//! table (the DHCP server address per pool, a `port` instead of `listen_ports`) is dropped
//! without a word and the server runs on a default. These structs mirror the microdns config
//! loader (`crates/microdns-core/src/config.rs`, newest version read) for the tables and keys
//! mkube writes, field types and required fields included, and refuse anything else: a key
//! microdns would drop fails here. A key mkube starts writing must be checked against that
//! loader and then added here.

use crate::generated_configmaps::{RELAY, rose1};
use mkube::config::generated::{MICRODNS_KEY, generated_config_maps};
use mkube::config::{Config, from_yaml_str};
use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MicrodnsToml {
    instance: Instance,
    dns: Dns,
    api: Api,
    database: Database,
    logging: Logging,
    dhcp: Option<Dhcp>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Instance {
    id: String,
    mode: InstanceMode,
}

/// microdns's instance modes, lowercase.
#[derive(Debug, Deserialize, PartialEq)]
#[serde(rename_all = "lowercase")]
enum InstanceMode {
    Standalone,
    Gateway,
    Leaf,
    Coordinator,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Dns {
    auth: Option<DnsAuth>,
    recursor: Option<DnsRecursor>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DnsAuth {
    enabled: bool,
    listen: String,
    zones: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DnsRecursor {
    enabled: bool,
    listen: String,
    /// zone → upstream servers (`host:port`).
    #[serde(default)]
    forward_zones: BTreeMap<String, Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Api {
    rest: Option<RestApi>,
}

/// No `api_key` here on purpose: the key must never be written into the ConfigMap.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RestApi {
    enabled: bool,
    listen: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Database {
    path: std::path::PathBuf,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Logging {
    level: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Dhcp {
    v4: Option<DhcpV4>,
    dns_registration: Option<DnsRegistration>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DhcpV4 {
    enabled: bool,
    interface: String,
    /// The server identifier (option 54) and `siaddr`; microdns's fallback without it is
    /// the first pool's gateway.
    server_ip: Option<String>,
    #[serde(default)]
    listen_ports: Vec<u16>,
    #[serde(default)]
    pools: Vec<DhcpV4Pool>,
    #[serde(default)]
    reservations: Vec<DhcpReservation>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DhcpV4Pool {
    range_start: String,
    range_end: String,
    subnet: String,
    gateway: String,
    dns: Vec<String>,
    domain: String,
    lease_time_secs: Option<u64>,
    next_server: Option<String>,
    boot_file: Option<String>,
    ipxe_boot_url: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DhcpReservation {
    mac: String,
    ip: String,
    hostname: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DnsRegistration {
    enabled: bool,
    forward_zone: String,
    reverse_zone_v4: String,
    reverse_zone_v6: String,
    default_ttl: Option<u32>,
}

/// (namespace, parsed microdns.toml) of every generated `dns-config`.
fn parsed(config: &Config) -> Vec<(String, MicrodnsToml)> {
    generated_config_maps(config)
        .into_iter()
        .filter_map(|cm| {
            let ns = cm.metadata.namespace.clone().unwrap_or_default();
            let text = cm.data?.remove(MICRODNS_KEY)?;
            let doc = toml::from_str::<MicrodnsToml>(&text).unwrap_or_else(|e| {
                panic!("{ns}/dns-config has a key microdns does not read: {e}\n{text}")
            });
            Some((ns, doc))
        })
        .collect()
}

fn server_of(config: &Config, network: &str) -> String {
    config.network_named(network).unwrap().dns.server.clone()
}

// Issue 11 item 9: the rose1 site (PXE pools, reservations, forwarders, an external network).
#[test]
fn rose1_microdns_toml_holds_only_keys_microdns_reads() {
    let config = rose1();
    let docs = parsed(&config);
    assert_eq!(docs.len(), 4);
    for (net, doc) in &docs {
        assert_eq!(doc.instance.id, format!("microdns-{net}"));
        assert_eq!(doc.instance.mode, InstanceMode::Standalone);
        let auth = doc.dns.auth.as_ref().unwrap();
        assert!(auth.enabled && auth.listen == "0.0.0.0:15353" && auth.zones.len() == 1);
        let recursor = doc.dns.recursor.as_ref().unwrap();
        assert!(recursor.enabled && recursor.listen == "0.0.0.0:53");
        assert_eq!(recursor.forward_zones.len(), 3, "{net}: every other zone");
        let rest = doc.api.rest.as_ref().unwrap();
        assert!(rest.enabled && rest.listen == "0.0.0.0:8080");
        assert!(!doc.database.path.as_os_str().is_empty() && doc.logging.level == "info");
        let Some(v4) = doc.dhcp.as_ref().and_then(|d| d.v4.as_ref()) else {
            continue;
        };
        assert!(v4.enabled && !v4.interface.is_empty());
        assert_eq!(
            v4.server_ip.as_deref(),
            Some(server_of(&config, net).as_str())
        );
        assert_eq!(v4.listen_ports, [67]);
        assert!(v4.pools.iter().all(|p| p.lease_time_secs.is_some()));
        assert!(v4.pools.iter().all(|p| !p.range_start.is_empty()
            && !p.range_end.is_empty()
            && !p.subnet.is_empty()
            && !p.gateway.is_empty()));
        let pxe = v4.pools.iter().find(|p| p.next_server.is_some());
        if let Some(p) = pxe.filter(|p| p.boot_file.is_some()) {
            assert!(p.ipxe_boot_url.is_some());
        }
        let reg = doc
            .dhcp
            .as_ref()
            .unwrap()
            .dns_registration
            .as_ref()
            .unwrap();
        assert!(reg.enabled && reg.forward_zone == v4.pools[0].domain);
        assert!(reg.reverse_zone_v4.ends_with(".in-addr.arpa") && reg.reverse_zone_v6.is_empty());
        assert_eq!(reg.default_ttl, Some(300));
        assert!(
            v4.reservations
                .iter()
                .all(|r| !r.mac.is_empty() && !r.ip.is_empty())
        );
    }
    let with_dhcp = docs.iter().filter(|(_, d)| d.dhcp.is_some()).count();
    assert!(with_dhcp >= 2, "rose1 serves DHCP on g10 and g11");
}

// Issue 11 item 9, relay topology: one microdns serves a pool relayed from another network;
// its single `[dhcp.v4] server_ip` is its own address (core's `dns.server`), while the
// pool still hands its clients their own network's resolver.
#[test]
fn relayed_pool_is_served_with_the_serving_instances_own_address() {
    let config = from_yaml_str(RELAY, "relay.yaml").unwrap().config;
    let docs = parsed(&config);
    let core = &docs.iter().find(|(n, _)| n == "core").unwrap().1;
    let v4 = core.dhcp.as_ref().unwrap().v4.as_ref().unwrap();
    assert_eq!(v4.server_ip.as_deref(), Some("127.30.0.252"));
    assert_eq!(v4.pools.len(), 1);
    assert_eq!(v4.pools[0].dns, ["127.31.0.252"]);
    assert_eq!(v4.pools[0].domain, "edge.lo");
    assert_eq!(v4.reservations[0].hostname, None);
    let edge = &docs.iter().find(|(n, _)| n == "edge").unwrap().1;
    assert!(edge.dhcp.is_none());
}
