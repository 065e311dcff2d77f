//! A pod's `status` from the pods fold and IPAM (controller.md §3.6), as one function so it can
//! be swapped for the engine's richer status (`actors::pods::status`) when that lands.
//!
//! Per container: created and started → `running`, ready; created, not started → `waiting`
//! `ContainerCreating`; not created → `waiting` with the last create failure (reason
//! `CreateFailed`) or `ContainerCreating`. Phase `Running` iff every container runs, else
//! `Pending`. `podIP` is the IPAM address of the veth of container 0 (NAME-2).

use crate::actors::ipam::state::IpamState;
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
}

pub const NETWORK_ANNOTATION: &str = "vkube.io/network";

/// The network a pod joins: `vkube.io/network`, or the first configured one (§1.2).
pub fn network_of<'n>(pod: &Pod, networks: &'n [Network]) -> Option<&'n Network> {
    let wanted = pod
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(NETWORK_ANNOTATION))
        .map(|s| s.trim())
        .filter(|s| !s.is_empty());
    match wanted {
        Some(name) => networks.iter().find(|n| n.name == name),
        None => networks.first(),
    }
}

/// NAME-1: `<ns>_<pod>_<container>`, sanitised and truncated to 64 bytes.
pub fn device_container_name(namespace: &str, pod: &str, container: &str) -> String {
    let ns = if namespace.is_empty() {
        "default"
    } else {
        namespace
    };
    let mut out: String = format!("{ns}_{pod}_{container}")
        .chars()
        .map(|c| match c {
            'a'..='z' | '0'..='9' | '-' | '_' => c,
            'A'..='Z' => c.to_ascii_lowercase(),
            _ => '_',
        })
        .collect();
    out.truncate(64);
    out
}

/// NAME-2 veth names of container `i`: the original 8-character parts and upstream's 15.
fn veth_names(namespace: &str, pod: &str, i: usize) -> [String; 2] {
    let cut = |s: &str, n: usize| s.chars().take(n).collect::<String>();
    [8, 15].map(|n| format!("veth_{}_{}_{i}", cut(namespace, n), cut(pod, n)))
}

fn pod_ip(namespace: &str, name: &str, network: &str, ipam: &IpamState) -> Option<String> {
    let pool = ipam.pools.get(network)?;
    veth_names(namespace, name, 0)
        .iter()
        .find_map(|veth| pool.get(veth))
        .map(|a| a.ip.to_string())
}

pub fn pod_status(desired: &DesiredPod, inputs: &StatusInputs) -> PodStatus {
    let pod = &desired.pod;
    let namespace = pod.metadata.namespace.as_deref().unwrap_or("default");
    let name = pod.metadata.name.as_deref().unwrap_or_default();
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
                image_id: String::new(),
                container_id: device.map(|d| d.device_id.clone()),
                ready: running,
                started: Some(running),
                restart_count: restarts,
                state: Some(state),
                ..Default::default()
            }
        })
        .collect();
    let all_running = !statuses.is_empty() && statuses.iter().all(|s| s.ready);
    let condition = |kind: &str, ok: bool| PodCondition {
        type_: kind.into(),
        status: if ok { "True" } else { "False" }.into(),
        last_transition_time: started.clone(),
        ..Default::default()
    };
    let network = network_of(pod, inputs.networks);
    let ip = network.and_then(|n| pod_ip(namespace, name, &n.name, inputs.ipam));
    PodStatus {
        phase: Some(if all_running { "Running" } else { "Pending" }.into()),
        conditions: Some(vec![
            condition("PodScheduled", true),
            condition("Initialized", true),
            condition("ContainersReady", all_running),
            condition("Ready", all_running),
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
