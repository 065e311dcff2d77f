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
