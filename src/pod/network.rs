//! The network a pod joins (controller.md §1.2): the one its `vkube.io/network` annotation
//! names, else the first configured network.

use super::annotations;
use crate::config::Network;
use k8s_openapi::api::core::v1::Pod;

/// The pod's network among `networks`; an error names what is missing.
pub fn network_of<'n>(pod: &Pod, networks: &'n [Network]) -> Result<&'n Network, String> {
    match annotations::network(pod) {
        Some(name) => networks
            .iter()
            .find(|n| n.name == name)
            .ok_or_else(|| format!("network \"{name}\" not found")),
        None => networks
            .first()
            .ok_or_else(|| "no network configured".to_string()),
    }
}
