//! The dns actor's state: each network's zone id and the records mkube registered (L-8).

use crate::events::catalogue::DnsEvent;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DnsState {
    /// network → its zone on its microdns endpoint.
    pub zones: BTreeMap<String, Zone>,
    /// zone → name → ip → record.
    pub records: BTreeMap<String, BTreeMap<String, BTreeMap<String, RegisteredRecord>>>,
    /// Namespace zone (`<ns>.<network zone>`) → where it is (issue 11 item 7). Absent in
    /// snapshots taken before namespace zones existed.
    #[serde(default)]
    pub namespace_zones: BTreeMap<String, NamespaceZone>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NamespaceZone {
    pub network: String,
    pub namespace: String,
    pub zone_id: String,
    pub endpoint: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Zone {
    pub zone: String,
    pub zone_id: String,
    pub endpoint: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RegisteredRecord {
    pub record_id: String,
    pub ttl: u32,
}

impl DnsState {
    pub fn apply(&mut self, event: &DnsEvent) {
        match event {
            DnsEvent::ZoneBound {
                network,
                zone,
                zone_id,
                endpoint,
                namespace: Some(namespace),
            } => {
                self.namespace_zones.insert(
                    zone.clone(),
                    NamespaceZone {
                        network: network.clone(),
                        namespace: namespace.clone(),
                        zone_id: zone_id.clone(),
                        endpoint: endpoint.clone(),
                    },
                );
            }
            DnsEvent::ZoneBound {
                network,
                zone,
                zone_id,
                endpoint,
                namespace: None,
            } => {
                self.zones.insert(
                    network.clone(),
                    Zone {
                        zone: zone.clone(),
                        zone_id: zone_id.clone(),
                        endpoint: endpoint.clone(),
                    },
                );
            }
            DnsEvent::RecordRegistered {
                zone,
                name,
                ip,
                record_id,
                ttl,
            } => {
                self.records
                    .entry(zone.clone())
                    .or_default()
                    .entry(name.clone())
                    .or_default()
                    .insert(
                        ip.to_string(),
                        RegisteredRecord {
                            record_id: record_id.clone(),
                            ttl: *ttl,
                        },
                    );
            }
            DnsEvent::RecordDeregistered { zone, name, ip } => {
                let Some(names) = self.records.get_mut(zone) else {
                    return;
                };
                if let Some(ips) = names.get_mut(name) {
                    ips.remove(&ip.to_string());
                    if ips.is_empty() {
                        names.remove(name);
                    }
                }
                if names.is_empty() {
                    self.records.remove(zone);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zone_bound_without_a_namespace_binds_the_network_zone_and_with_one_a_namespace_zone() {
        // The shape of events written before namespace zones existed.
        let old: DnsEvent = serde_json::from_value(serde_json::json!({
            "kind": "ZoneBound",
            "payload": {"network": "t", "zone": "t.lo", "zoneId": "z1", "endpoint": "http://127.0.0.1:9"}
        }))
        .unwrap();
        let mut state = DnsState::default();
        state.apply(&old);
        assert_eq!(state.zones["t"].zone_id, "z1");
        let ns = DnsEvent::ZoneBound {
            network: "t".into(),
            zone: "kube.t.lo".into(),
            zone_id: "z2".into(),
            endpoint: "http://127.0.0.1:9".into(),
            namespace: Some("kube".into()),
        };
        state.apply(&ns);
        assert_eq!(state.zones.len(), 1, "the network zone is untouched");
        assert_eq!(state.namespace_zones["kube.t.lo"].zone_id, "z2");
        assert_eq!(state.namespace_zones["kube.t.lo"].namespace, "kube");
    }
}
