//! §3.1, the container's environment (issue 11 item 1; routeros-rest §4.5): resolved from the
//! spec and the pod's namespace's ConfigMaps (`pod::env`) before anything is allocated, so a
//! missing ConfigMap or key leaves no device object behind; resolved again once the address
//! is known (`status.podIP`).

use super::Job;
use crate::actors::configmaps::state::{ConfigMapsState, config_map_key};
use crate::config::Network;
use crate::pod::env::{self, EnvContext, EnvError};
use k8s_openapi::api::core::v1::{Container, Pod};
use std::net::Ipv4Addr;
use std::sync::Arc;

impl Job {
    /// The ConfigMaps as the configmaps actor published them; empty (with a warning) when it
    /// cannot answer, so ConfigMap volumes stay empty and ConfigMap env is "not found".
    pub(super) async fn config_maps(&self) -> Arc<ConfigMapsState> {
        match self.deps.configmaps_view.read(&self.deps.configmaps).await {
            Ok(s) => s.state,
            Err(e) => {
                tracing::warn!(error = %e, "configmaps actor unavailable");
                Arc::default()
            }
        }
    }
}

/// [`env::resolve`] with the lookups of a running controller: ConfigMaps of the pod's
/// namespace, the node name, the network's gateway as host IP.
pub fn resolve(
    node: &str,
    pod: &Pod,
    c: &Container,
    config_maps: &ConfigMapsState,
    net: &Network,
    ip: Option<Ipv4Addr>,
) -> Result<Vec<(String, String)>, EnvError> {
    let ns = crate::pod::namespace_of(&pod.metadata);
    let lookup = |name: &str| config_maps.config_maps.get(&config_map_key(ns, name));
    let ctx = EnvContext {
        pod,
        config_map: &lookup,
        node,
        pod_ip: ip,
        host_ip: net.try_gateway_ip().ok(),
    };
    env::resolve(c, &ctx)
}
