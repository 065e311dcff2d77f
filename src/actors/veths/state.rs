//! The veths actor's state: the veths mkube created on the device (ownership, L-2).

use crate::events::catalogue::VethsEvent;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VethsState {
    pub veths: BTreeMap<String, Veth>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Veth {
    pub network: String,
    pub address: String,
    pub gateway: String,
    pub bridge: String,
}

impl VethsState {
    pub fn apply(&mut self, event: &VethsEvent) {
        match event {
            VethsEvent::VethCreated {
                name,
                network,
                address,
                gateway,
                bridge,
            } => {
                self.veths.insert(
                    name.clone(),
                    Veth {
                        network: network.clone(),
                        address: address.clone(),
                        gateway: gateway.clone(),
                        bridge: bridge.clone(),
                    },
                );
            }
            VethsEvent::VethRemoved { name } => {
                self.veths.remove(name);
            }
        }
    }
}
