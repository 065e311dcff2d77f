use serde::{Deserialize, Serialize};
use std::net::Ipv4Addr;

/// Zones and the records mkube itself registered (L-8: only those may be cleaned up).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "payload", rename_all_fields = "camelCase")]
pub enum DnsEvent {
    /// The network's zone exists on its microdns endpoint with this id; with `namespace`, the
    /// zone of that namespace on the network's microdns (issue 11 item 7).
    ZoneBound {
        network: String,
        zone: String,
        zone_id: String,
        endpoint: String,
        /// Absent in events written before namespace zones existed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        namespace: Option<String>,
    },
    RecordRegistered {
        zone: String,
        name: String,
        #[serde(with = "super::ip_text")]
        ip: Ipv4Addr,
        record_id: String,
        ttl: u32,
    },
    RecordDeregistered {
        zone: String,
        name: String,
        #[serde(with = "super::ip_text")]
        ip: Ipv4Addr,
    },
}

impl DnsEvent {
    pub fn zone(&self) -> &str {
        match self {
            DnsEvent::ZoneBound { zone, .. }
            | DnsEvent::RecordRegistered { zone, .. }
            | DnsEvent::RecordDeregistered { zone, .. } => zone,
        }
    }

    pub fn key(&self) -> Vec<String> {
        vec![self.zone().to_string()]
    }
}
