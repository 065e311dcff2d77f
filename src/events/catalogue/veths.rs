use serde::{Deserialize, Serialize};

/// Veth interfaces (and their bridge ports) on the device.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "payload", rename_all_fields = "camelCase")]
pub enum VethsEvent {
    /// The veth exists on the device with this address and is a port of `bridge`.
    VethCreated {
        name: String,
        network: String,
        address: String,
        gateway: String,
        bridge: String,
    },
    /// The veth and its bridge port are gone.
    VethRemoved { name: String },
}

impl VethsEvent {
    pub fn name(&self) -> &str {
        match self {
            VethsEvent::VethCreated { name, .. } | VethsEvent::VethRemoved { name } => name,
        }
    }

    pub fn key(&self) -> Vec<String> {
        vec![self.name().to_string()]
    }
}
