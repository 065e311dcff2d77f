//! A pod's `status` (controller.md §3.6): what the log recorded (device ids, image digests,
//! addresses, create failures, restarts) corrected by what the device last showed
//! (`actors::observations`). The one mapping; the API renders it, tests read it.
//!
//! Per container:
//! - no device container yet: `waiting` — `ContainerCreating`, or after a failed attempt the
//!   failure's reason (`CreateFailed`, `CreateContainerConfigError`) with its message;
//! - created, not yet started: `waiting ContainerCreating`;
//! - started, and the last listing agrees: `running`, ready unless its readiness probe fails
//!   (§7.2);
//! - started, but the last listing shows it stopped (or failed, stopping, deleting):
//!   `terminated` with that reason; missing: `waiting ContainerNotFound`; a listing that
//!   failed: `waiting ContainerNotFound` with the error; starting or extracting again:
//!   `waiting` with that state. None of these is ready.
//!
//! `restartCount` is the lifecycle unit's (LC-3/LC-6). Phase `Running` iff every container
//! runs, else `Pending`; `Ready`/`ContainersReady` need every container ready. `podIP` is the
//! address of container 0 (NAME-2), `hostIP` the network's gateway.

mod observed;

pub use observed::{Deviation, PodObservation};

use super::{DesiredPod, Unit, names};
use crate::config::Network;
use crate::routeros::ContainerState as DeviceState;
use k8s_openapi::api::core::v1::{
    ContainerState, ContainerStateRunning, ContainerStateTerminated, ContainerStateWaiting,
    ContainerStatus, PodCondition, PodIP, PodStatus,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use std::collections::BTreeMap;

/// The IPAM address of a veth on a network (`network`, `veth`).
pub type AddressOf<'a> = Box<dyn Fn(&str, &str) -> Option<String> + 'a>;

/// Everything a status is computed from besides the pod's own record and observation.
pub struct StatusInputs<'a> {
    /// Lifecycle units by device container name (restart counts).
    pub units: &'a BTreeMap<String, Unit>,
    pub networks: &'a [Network],
    pub node: &'a str,
    /// When this controller started (`startTime`, condition times, missing creation times).
    pub started: Option<Time>,
    /// The IPAM address of a veth on a network, for a pod whose container 0 has none
    /// recorded yet.
    pub address: AddressOf<'a>,
}

/// The status of `desired`, whose last event has log sequence `seq`, given what the device
/// last showed of it (`seen`).
pub fn pod_status(
    desired: &DesiredPod,
    seq: u64,
    seen: Option<&PodObservation>,
    inputs: &StatusInputs,
) -> PodStatus {
    let pod = &desired.pod;
    let specs = super::spec::containers(pod);
    let started = inputs.started.clone();
    let statuses: Vec<ContainerStatus> = specs
        .iter()
        .map(|spec| container_status(desired, spec, seq, seen, inputs, &started))
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
    let network = super::network_of(pod, inputs.networks).ok();
    let ip = network.and_then(|n| pod_ip(desired, &n.name, inputs));
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

fn container_status(
    desired: &DesiredPod,
    spec: &k8s_openapi::api::core::v1::Container,
    seq: u64,
    seen: Option<&PodObservation>,
    inputs: &StatusInputs,
    started: &Option<Time>,
) -> ContainerStatus {
    let record = desired.containers.get(&spec.name);
    let restarts = record
        .and_then(|d| inputs.units.get(&d.device_name))
        .map(|u| i32::try_from(u.restarts).unwrap_or(i32::MAX))
        .unwrap_or(0);
    let deviation = seen
        .and_then(|o| o.deviations_at(seq))
        .and_then(|d| d.get(&spec.name));
    let state = match record {
        Some(r) if r.started => match deviation {
            None => ContainerState {
                running: Some(ContainerStateRunning {
                    started_at: started.clone(),
                }),
                ..Default::default()
            },
            Some(d) => observed_state(d, &r.device_name),
        },
        Some(_) => waiting("ContainerCreating", None),
        None => match &desired.last_failure {
            Some(failure) => {
                let reason = if desired.failure_reason.is_empty() {
                    "CreateFailed"
                } else {
                    desired.failure_reason.as_str()
                };
                waiting(reason, Some(failure.clone()))
            }
            None => waiting("ContainerCreating", None),
        },
    };
    let running = state.running.is_some();
    let ready = running && !seen.is_some_and(|o| o.unready.contains(&spec.name));
    ContainerStatus {
        name: spec.name.clone(),
        image: spec.image.clone().unwrap_or_default(),
        image_id: record.map(|d| d.image_digest.clone()).unwrap_or_default(),
        container_id: record
            .map(|d| d.device_id.clone())
            .filter(|id| !id.is_empty()),
        ready,
        started: Some(running),
        restart_count: restarts,
        state: Some(state),
        ..Default::default()
    }
}

/// A started container the device shows otherwise.
fn observed_state(d: &Deviation, device_name: &str) -> ContainerState {
    let terminated = |reason: &str| ContainerState {
        terminated: Some(ContainerStateTerminated {
            reason: Some(reason.into()),
            message: Some(format!(
                "container {device_name} is {} on the device",
                reason.to_lowercase()
            )),
            // RouterOS reports no exit codes.
            exit_code: 0,
            ..Default::default()
        }),
        ..Default::default()
    };
    match d {
        Deviation::Missing => waiting(
            "ContainerNotFound",
            Some(format!("container {device_name} not found on the device")),
        ),
        Deviation::Unreachable(e) => waiting("ContainerNotFound", Some(e.clone())),
        Deviation::Listed(state) => match state {
            DeviceState::Stopped => terminated("Stopped"),
            DeviceState::Stopping => terminated("Stopping"),
            DeviceState::Deleting => terminated("Deleting"),
            DeviceState::Failed => terminated("Error"),
            DeviceState::Starting => waiting("ContainerStarting", None),
            DeviceState::Extracting | DeviceState::Settling => waiting("ContainerCreating", None),
            DeviceState::Running => ContainerState::default(),
            DeviceState::Other(text) => waiting(text, None),
        },
    }
}

fn waiting(reason: &str, message: Option<String>) -> ContainerState {
    ContainerState {
        waiting: Some(ContainerStateWaiting {
            reason: Some(reason.into()),
            message,
        }),
        ..Default::default()
    }
}

/// The address of container 0: what the engine recorded for it, else the IPAM entry of its
/// veth (NAME-2).
fn pod_ip(desired: &DesiredPod, network: &str, inputs: &StatusInputs) -> Option<String> {
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
    let namespace = super::namespace_of(&pod.metadata);
    let name = pod.metadata.name.as_deref().unwrap_or_default();
    (inputs.address)(network, &names::veth_name(namespace, name, 0))
}

#[cfg(test)]
mod tests;
