//! A pod's `status` from the pods fold and IPAM (controller.md §3.6), rendered from what the
//! engine recorded (device ids, image digests, addresses) without a device round trip per
//! read; `actors::pods::status` is the same mapping over a live device listing.
//!
//! Per container: created and started → `running`, ready; created, not started → `waiting`
//! `ContainerCreating`; not created → `waiting` with the last create failure (reason
//! `CreateFailed`) or `ContainerCreating`. Phase `Running` iff every container runs, else
//! `Pending`. A running container is ready unless the watchdog's readiness probe says
//! otherwise (§7.2); `Ready`/`ContainersReady` need every container ready. `podIP` is the IPAM address of the veth of container 0 (NAME-2).

use crate::actors::ipam::state::IpamState;
use crate::actors::pods::naming;
use crate::actors::pods::state::{DesiredPod, PodsState};
use crate::config::Network;
use chrono::{DateTime, Utc};
use k8s_openapi::api::core::v1::{
    ContainerState, ContainerStateRunning, ContainerStateWaiting, ContainerStatus, Pod,
    PodCondition, PodIP, PodStatus,
};

/// Everything a status is computed from besides the pod itself.
pub struct StatusInputs<'a> {
    pub pods: &'a PodsState,
    pub ipam: &'a IpamState,
    pub networks: &'a [Network],
    pub node: &'a str,
    /// Wall-clock start of this controller (`startTime`, missing creation times).
    pub started_at: DateTime<Utc>,
    /// The watchdog's readiness per unit (§7.2); a container whose unit it has no verdict
    /// for is ready when it runs.
    pub readiness: Option<std::sync::Arc<std::collections::HashMap<String, bool>>>,
}

pub use crate::actors::pods::naming::ANN_NETWORK as NETWORK_ANNOTATION;

/// The network a pod joins: `vkube.io/network` (read by `pods::naming`), or the first
/// configured one (§1.2).
pub fn network_of<'n>(pod: &Pod, networks: &'n [Network]) -> Option<&'n Network> {
    match naming::network(pod) {
        Some(name) => networks.iter().find(|n| n.name == name),
        None => networks.first(),
    }
}

/// The address of container 0: what the engine recorded for it, else the IPAM entry of its
/// veth (NAME-2).
fn pod_ip(desired: &DesiredPod, network: &str, ipam: &IpamState) -> Option<String> {
    let pod = &desired.pod;
    let first = pod.spec.as_ref()?.containers.first()?;
    if let Some(ip) = desired
        .containers
        .get(&first.name)
        .map(|c| c.ip.clone())
        .filter(|ip| !ip.is_empty())
    {
        return Some(ip);
    }
    let namespace = pod.metadata.namespace.as_deref().unwrap_or("default");
    let name = pod.metadata.name.as_deref().unwrap_or_default();
    let veth = naming::veth_name(namespace, name, 0);
    ipam.pools
        .get(network)?
        .get(&veth)
        .map(|a| a.ip.to_string())
}

pub fn pod_status(desired: &DesiredPod, inputs: &StatusInputs) -> PodStatus {
    let pod = &desired.pod;
    let specs = pod
        .spec
        .as_ref()
        .map(|s| s.containers.as_slice())
        .unwrap_or_default();
    let started = crate::api::objects::time(inputs.started_at);
    let statuses: Vec<ContainerStatus> = specs
        .iter()
        .map(|spec| {
            let device = desired.containers.get(&spec.name);
            let restarts = device
                .and_then(|d| inputs.pods.units.get(&d.device_name))
                .map(|u| i32::try_from(u.restarts).unwrap_or(i32::MAX))
                .unwrap_or(0);
            let running = device.is_some_and(|d| d.started);
            let ready = running
                && device
                    .and_then(|d| inputs.readiness.as_ref()?.get(&d.device_name).copied())
                    .unwrap_or(true);
            let state = if running {
                ContainerState {
                    running: Some(ContainerStateRunning {
                        started_at: started.clone(),
                    }),
                    ..Default::default()
                }
            } else {
                let (reason, message) = match (&desired.last_failure, device) {
                    (Some(failure), None) => ("CreateFailed", Some(failure.clone())),
                    _ => ("ContainerCreating", None),
                };
                ContainerState {
                    waiting: Some(ContainerStateWaiting {
                        reason: Some(reason.into()),
                        message,
                    }),
                    ..Default::default()
                }
            };
            ContainerStatus {
                name: spec.name.clone(),
                image: spec.image.clone().unwrap_or_default(),
                image_id: device.map(|d| d.image_digest.clone()).unwrap_or_default(),
                container_id: device
                    .map(|d| d.device_id.clone())
                    .filter(|id| !id.is_empty()),
                ready,
                started: Some(running),
                restart_count: restarts,
                state: Some(state),
                ..Default::default()
            }
        })
        .collect();
    let all_running = !statuses.is_empty()
        && statuses
            .iter()
            .all(|s| s.state.as_ref().is_some_and(|st| st.running.is_some()));
    let all_ready = all_running && statuses.iter().all(|s| s.ready);
    let condition = |kind: &str, ok: bool| PodCondition {
        type_: kind.into(),
        status: if ok { "True" } else { "False" }.into(),
        last_transition_time: started.clone(),
        ..Default::default()
    };
    let network = network_of(pod, inputs.networks);
    let ip = network.and_then(|n| pod_ip(desired, &n.name, inputs.ipam));
    PodStatus {
        phase: Some(if all_running { "Running" } else { "Pending" }.into()),
        conditions: Some(vec![
            condition("PodScheduled", true),
            condition("Initialized", true),
            condition("ContainersReady", all_ready),
            condition("Ready", all_ready),
        ]),
        host_ip: network
            .and_then(|n| n.try_gateway_ip().ok())
            .map(|g| g.to_string()),
        pod_ip: ip.clone(),
        pod_ips: ip.map(|ip| vec![PodIP { ip }]),
        start_time: started,
        container_statuses: Some(statuses),
        ..Default::default()
    }
}
