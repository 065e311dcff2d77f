//! The A records mkube wants in each network's zone (microdns-api.md §3, NAME-9, CC-2):
//! pod, container and alias names of every desired pod with a known address, then static
//! records, DHCP-reservation names, `rose1` → gateway and `dns` → the DNS server; later
//! sources win for the same name. Pure: a function of the config and the pods' state.

use crate::actors::pods::state::{DesiredPod, PodsState};
use crate::actors::pods::{naming, plan};
use crate::config::{Config, Network};
use std::collections::BTreeMap;
use std::net::Ipv4Addr;

/// TTL of pod, container and alias records.
pub const POD_TTL: u32 = 60;
/// TTL of static, reservation and infrastructure records.
pub const INFRA_TTL: u32 = 300;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Want {
    pub ip: Ipv4Addr,
    pub ttl: u32,
    /// Where the name comes from: `pod`, `static`, `reservation` or `infra` (R12's labels).
    pub kind: &'static str,
}

/// One zone mkube maintains: a network with an endpoint and a zone, not `externalDNS`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneWant {
    pub network: String,
    pub endpoint: String,
    pub zone: String,
    /// name (relative to the zone) → address.
    pub records: BTreeMap<String, Want>,
}

/// Networks whose zone mkube maintains (DNS-1, R13), in config order.
pub fn managed_networks(config: &Config) -> impl Iterator<Item = &Network> {
    config.networks.iter().filter(|n| {
        !n.external_dns && !n.dns.endpoint.trim().is_empty() && !n.dns.zone.trim().is_empty()
    })
}

/// Every managed zone with the records it should hold.
pub fn expected_zones(config: &Config, pods: &PodsState) -> Vec<ZoneWant> {
    managed_networks(config)
        .map(|network| zone_want(config, network, pods))
        .collect()
}

/// The records `network`'s zone should hold.
pub fn zone_want(config: &Config, network: &Network, pods: &PodsState) -> ZoneWant {
    let mut records = BTreeMap::new();
    for desired in pods.pods.values() {
        if plan::network(config, &desired.pod).is_ok_and(|n| n.name == network.name) {
            records.extend(pod_records(desired));
        }
    }
    records.extend(infra_records(network));
    ZoneWant {
        network: network.name.clone(),
        endpoint: network
            .dns
            .endpoint
            .trim()
            .trim_end_matches('/')
            .to_string(),
        zone: network.dns.zone.trim().to_string(),
        records,
    }
}

/// `<container>.<pod>` per addressed container, then the pod name and each alias pointing at
/// the first container (or the named one). `vkube.io/static-ip` replaces every address.
pub fn pod_records(desired: &DesiredPod) -> Vec<(String, Want)> {
    let pod = &desired.pod;
    let pod_name = pod.metadata.name.as_deref().unwrap_or_default();
    let static_ip = naming::static_ip(pod).ok().flatten();
    let spec_names: Vec<&str> = pod
        .spec
        .as_ref()
        .map(|s| s.containers.iter().map(|c| c.name.as_str()).collect())
        .unwrap_or_default();
    let ip_of = |container: &str| -> Option<Ipv4Addr> {
        let recorded = desired.containers.get(container)?;
        if recorded.removing {
            return None;
        }
        static_ip.or_else(|| recorded.ip.parse().ok())
    };
    let want = |ip| Want {
        ip,
        ttl: POD_TTL,
        kind: "pod",
    };
    let mut out = Vec::new();
    for name in &spec_names {
        if let Some(ip) = ip_of(name) {
            out.push((format!("{name}.{pod_name}"), want(ip)));
        }
    }
    let Some(first) = spec_names.first() else {
        return out;
    };
    if let Some(ip) = ip_of(first) {
        out.push((pod_name.to_string(), want(ip)));
    }
    for (alias, container) in naming::aliases(pod) {
        let target = container.as_deref().unwrap_or(first);
        if !spec_names.contains(&target) {
            tracing::warn!(
                pod = pod_name,
                alias,
                container = target,
                "alias names an unknown container; skipped"
            );
            continue;
        }
        if let Some(ip) = ip_of(target) {
            out.push((alias, want(ip)));
        }
    }
    out
}

/// Static records, reservations, `rose1` and `dns`, in that order (TTL 300).
pub fn infra_records(network: &Network) -> Vec<(String, Want)> {
    let want = |ip, kind| Want {
        ip,
        ttl: INFRA_TTL,
        kind,
    };
    let mut out = Vec::new();
    for r in &network.dns.static_records {
        if let (false, Ok(ip)) = (r.name.trim().is_empty(), r.ip.trim().parse()) {
            out.push((r.name.trim().to_string(), want(ip, "static")));
        }
    }
    for r in &network.dns.dhcp.reservations {
        if let (false, Ok(ip)) = (r.hostname.trim().is_empty(), r.ip.trim().parse()) {
            out.push((r.hostname.trim().to_string(), want(ip, "reservation")));
        }
    }
    if let Ok(gw) = network.try_gateway_ip() {
        out.push(("rose1".to_string(), want(gw, "infra")));
    }
    if let Some(server) = network.dns_server_ip() {
        out.push(("dns".to_string(), want(server, "infra")));
    }
    out
}
