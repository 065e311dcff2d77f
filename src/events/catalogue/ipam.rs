use serde::{Deserialize, Serialize};
use std::net::Ipv4Addr;

/// Address allocations per network pool. Keys are veth names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "payload", rename_all_fields = "camelCase")]
pub enum IpamEvent {
    /// mkube handed out an address (intent, recorded before the veth exists).
    IpAllocated {
        network: String,
        key: String,
        #[serde(with = "super::ip_text")]
        ip: Ipv4Addr,
        hostname: String,
        #[serde(rename = "static")]
        is_static: bool,
    },
    /// An address was learned from a veth on the device (IPAM-5); the device wins.
    IpRecorded {
        network: String,
        key: String,
        #[serde(with = "super::ip_text")]
        ip: Ipv4Addr,
        /// Hostname to record for the veth (NAME-10); empty keeps the one already held.
        /// Absent in events written before the field existed.
        #[serde(default, skip_serializing_if = "String::is_empty")]
        hostname: String,
    },
    /// The key no longer holds an address.
    IpReleased { network: String, key: String },
}

impl IpamEvent {
    pub fn network(&self) -> &str {
        match self {
            IpamEvent::IpAllocated { network, .. }
            | IpamEvent::IpRecorded { network, .. }
            | IpamEvent::IpReleased { network, .. } => network,
        }
    }

    pub fn key(&self) -> Vec<String> {
        vec![self.network().to_string()]
    }
}
