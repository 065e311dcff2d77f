//! The A records mkube wants in each zone it maintains (microdns-api.md §3, NAME-9, CC-2):
//! pod, container and alias names of every desired pod with a known address, then static
//! records, DHCP-reservation names, `rose1` → gateway and `dns` → the DNS server; later
//! sources win for the same name. A pod annotated `vkube.io/namespace` also has its names in
//! that namespace's zone (§1.2, R9, issue 11 item 7). Pure: a function of the config and the
//! pods' state.
//!
//! Namespace zones (mkube has no zone operator and no Namespace objects, so the rule lives
//! here): namespace `<ns>` is the zone `<ns>.<network zone>` on the pod's network's microdns,
//! except that a namespace named after a network is that network's own zone (the default
//! open namespace of each network). The namespace is always the annotation, at create and at
//! every pass alike, so the two never disagree about where a name belongs.

use crate::actors::pods::state::PodsState;
use crate::config::{Config, Network};
use crate::pod::DesiredPod;
use crate::pod::annotations;
use k8s_openapi::api::core::v1::Pod;
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

/// One zone mkube maintains: a network's own zone (network with an endpoint and a zone, not
/// `externalDNS`), or a namespace zone on that network's microdns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneWant {
    pub network: String,
    /// `Some(ns)` for the zone of namespace `ns`; `None` for the network's own zone.
    pub namespace: Option<String>,
    pub endpoint: String,
    pub zone: String,
    /// name (relative to the zone) → address.
    pub records: BTreeMap<String, Want>,
}

impl ZoneWant {
    /// The zone without records: `network`'s own, or namespace `ns`'s on its microdns.
    pub fn empty(network: &Network, namespace: Option<&str>) -> ZoneWant {
        let zone = network.dns.zone.trim();
        ZoneWant {
            network: network.name.clone(),
            namespace: namespace.map(str::to_string),
            endpoint: network.dns.endpoint_base().to_string(),
            zone: match namespace {
                Some(ns) => format!("{ns}.{zone}"),
                None => zone.to_string(),
            },
            records: BTreeMap::new(),
        }
    }
}

/// Whether mkube maintains `network`'s zones (DNS-1, R13).
pub fn is_managed(network: &Network) -> bool {
    !network.external_dns
        && !network.dns.endpoint.trim().is_empty()
        && !network.dns.zone.trim().is_empty()
}

/// Networks whose zone mkube maintains, in config order.
pub fn managed_networks(config: &Config) -> impl Iterator<Item = &Network> {
    config.networks.iter().filter(|n| is_managed(n))
}

/// Every zone mkube maintains with the records it should hold: each managed network's zone
/// (config order), then the namespace zones the pods name (in pod order).
pub fn expected_zones(config: &Config, pods: &PodsState) -> Vec<ZoneWant> {
    let mut zones: Vec<ZoneWant> = managed_networks(config)
        .map(|n| ZoneWant::empty(n, None))
        .collect();
    for desired in pods.pods.values() {
        let heads = managed_pod_zones(config, &desired.pod);
        if heads.is_empty() {
            continue;
        }
        let records = pod_records(desired);
        for head in heads {
            let at = match zones.iter().position(|z| z.zone == head.zone) {
                Some(at) => at,
                None => {
                    zones.push(head);
                    zones.len() - 1
                }
            };
            zones[at].records.extend(records.iter().cloned());
        }
    }
    for zone in zones.iter_mut().filter(|z| z.namespace.is_none()) {
        if let Some(network) = config.network_named(&zone.network) {
            zone.records.extend(infra_records(network));
        }
    }
    zones
}

/// The records `network`'s own zone should hold (managed or not; R12 validates every zone).
pub fn zone_want(config: &Config, network: &Network, pods: &PodsState) -> ZoneWant {
    let mut want = ZoneWant::empty(network, None);
    for desired in pods.pods.values() {
        let here = pod_zones(config, &desired.pod)
            .iter()
            .any(|z| z.network == network.name && z.namespace.is_none());
        if here {
            want.records.extend(pod_records(desired));
        }
    }
    want.records.extend(infra_records(network));
    want
}

/// The zones (without records) a pod's names go to: its network's zone, and its
/// `vkube.io/namespace`'s zone when that is another one. Unmanaged networks included; the
/// callers filter.
pub fn pod_zones(config: &Config, pod: &Pod) -> Vec<ZoneWant> {
    let Ok(network) = crate::pod::network_of(pod, &config.networks) else {
        return Vec::new();
    };
    let mut out = vec![ZoneWant::empty(network, None)];
    let Some(ns) = annotations::dns_namespace(pod) else {
        return out;
    };
    let extra = match config.network_named(ns) {
        Some(named) => ZoneWant::empty(named, None),
        None if is_label(ns) => ZoneWant::empty(network, Some(ns)),
        None => {
            tracing::warn!(
                pod = pod.metadata.name.as_deref().unwrap_or_default(),
                namespace = ns,
                "vkube.io/namespace is not a lowercase DNS label; no namespace zone"
            );
            return out;
        }
    };
    if extra.zone != out[0].zone {
        out.push(extra);
    }
    out
}

/// [`pod_zones`] that mkube maintains (never an `externalDNS` network's, R13).
pub fn managed_pod_zones(config: &Config, pod: &Pod) -> Vec<ZoneWant> {
    pod_zones(config, pod)
        .into_iter()
        .filter(|z| config.network_named(&z.network).is_some_and(is_managed))
        .collect()
}

/// A label that can prefix a zone name: `a-z`, `0-9` and `-`, 1 to 63 characters, no
/// leading or trailing `-`.
fn is_label(text: &str) -> bool {
    (1..=63).contains(&text.len())
        && !text.starts_with('-')
        && !text.ends_with('-')
        && text
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// `<container>.<pod>` per addressed container, then the pod name and each alias pointing at
/// the first container (or the named one). `vkube.io/static-ip` replaces every address.
pub fn pod_records(desired: &DesiredPod) -> Vec<(String, Want)> {
    let pod = &desired.pod;
    let pod_name = pod.metadata.name.as_deref().unwrap_or_default();
    let static_ip = annotations::static_ip(pod).ok().flatten();
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
    for (alias, container) in annotations::aliases(pod) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    fn config() -> Config {
        let yaml = r#"
networks:
  - {name: t, bridge: t, cidr: 127.77.0.0/24, dns: {endpoint: "http://127.0.0.1:9/", zone: t.lo}}
  - {name: u, bridge: u, cidr: 127.78.0.0/24, dns: {endpoint: "http://127.0.0.1:8", zone: u.lo}}
"#;
        crate::config::from_yaml_str(yaml, "test").unwrap().config
    }

    fn pod(annotations: &[(&str, &str)]) -> Pod {
        Pod {
            metadata: ObjectMeta {
                name: Some("web".into()),
                namespace: Some("default".into()),
                annotations: Some(
                    annotations
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect(),
                ),
                ..Default::default()
            },
            ..Default::default()
        }
    }

    /// (network, namespace, endpoint, zone) of each zone.
    fn zones(annotations: &[(&str, &str)]) -> Vec<(String, Option<String>, String, String)> {
        pod_zones(&config(), &pod(annotations))
            .into_iter()
            .map(|z| (z.network, z.namespace, z.endpoint, z.zone))
            .collect()
    }

    fn zone(
        net: &str,
        ns: Option<&str>,
        endpoint: &str,
        zone: &str,
    ) -> (String, Option<String>, String, String) {
        (net.into(), ns.map(Into::into), endpoint.into(), zone.into())
    }

    #[test]
    fn r9_a_namespace_zone_is_ns_dot_the_network_zone_on_its_microdns() {
        let t = zone("t", None, "http://127.0.0.1:9", "t.lo");
        assert_eq!(zones(&[]), std::slice::from_ref(&t));
        assert_eq!(
            zones(&[("vkube.io/namespace", "kube")]),
            [
                t,
                zone("t", Some("kube"), "http://127.0.0.1:9", "kube.t.lo")
            ]
        );
        assert_eq!(
            zones(&[("vkube.io/network", "u"), ("vkube.io/namespace", " kube ")]),
            [
                zone("u", None, "http://127.0.0.1:8", "u.lo"),
                zone("u", Some("kube"), "http://127.0.0.1:8", "kube.u.lo")
            ]
        );
    }

    #[test]
    fn a_namespace_named_after_a_network_is_that_networks_zone() {
        let t = zone("t", None, "http://127.0.0.1:9", "t.lo");
        assert_eq!(
            zones(&[("vkube.io/namespace", "t")]),
            std::slice::from_ref(&t)
        );
        assert_eq!(
            zones(&[("vkube.io/namespace", "u")]),
            [t, zone("u", None, "http://127.0.0.1:8", "u.lo")]
        );
    }

    #[test]
    fn a_namespace_that_is_no_dns_label_gets_no_zone() {
        for bad in ["Kube", "a.b", "-x", "x_y"] {
            assert_eq!(zones(&[("vkube.io/namespace", bad)]).len(), 1, "{bad}");
        }
    }
}
