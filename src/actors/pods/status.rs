//! Pod status (§3.6) as plain data: a pure function of the pod's recorded state, one device
//! container listing and the IPAM state. The API renders it as a Kubernetes `PodStatus`.

use super::naming;
use super::state::DesiredPod;
use crate::actors::ipam::state::IpamState;
use crate::routeros::Container;
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Phase {
    Running,
    Pending,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum RunState {
    Running,
    Terminated { reason: String },
    Waiting { reason: String, message: String },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerStatus {
    /// Spec container name.
    pub name: String,
    pub image: String,
    pub state: RunState,
    /// Readiness probes are not run yet: ready = running.
    pub ready: bool,
    /// RouterOS row id (`*1A`); empty when the container does not exist.
    pub container_id: String,
    /// Registry digest the container was built from (`sha256:…`), when known.
    pub image_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PodStatus {
    /// `Running` iff every container runs.
    pub phase: Phase,
    /// Condition `Ready`: the same boolean as the phase.
    pub ready: bool,
    /// IPAM address of container 0's veth; `None` when unknown.
    pub pod_ip: Option<String>,
    pub containers: Vec<ContainerStatus>,
    /// The last create failure, if the pod is not up.
    pub message: Option<String>,
}

/// §3.6 mapping. `device` is one `GET /container` listing (`Err` = the lookup failed).
pub fn pod_status(
    pod: &DesiredPod,
    device: Result<&[Container], &str>,
    ipam: &IpamState,
) -> PodStatus {
    let ns = pod.pod.metadata.namespace.as_deref().unwrap_or("default");
    let name = pod.pod.metadata.name.as_deref().unwrap_or_default();
    let spec = pod
        .pod
        .spec
        .as_ref()
        .map(|s| s.containers.as_slice())
        .unwrap_or(&[]);
    let containers: Vec<ContainerStatus> = spec
        .iter()
        .map(|c| {
            let device_name = naming::container_name(ns, name, &c.name);
            let rec = pod.containers.get(&c.name);
            let row = device
                .ok()
                .and_then(|rows| rows.iter().find(|r| r.name == device_name));
            let state = match (device, row) {
                (Err(e), _) => RunState::Waiting {
                    reason: "ContainerNotFound".into(),
                    message: e.to_string(),
                },
                (Ok(_), None) => RunState::Waiting {
                    reason: "ContainerNotFound".into(),
                    message: format!("container {device_name} not found on the device"),
                },
                (Ok(_), Some(r)) if r.state.is_running() => RunState::Running,
                (Ok(_), Some(r)) if r.state.is_stopped() => RunState::Terminated {
                    reason: "Stopped".into(),
                },
                (Ok(_), Some(r)) => RunState::Waiting {
                    reason: "ContainerCreating".into(),
                    message: format!("{:?}", r.state),
                },
            };
            ContainerStatus {
                name: c.name.clone(),
                image: c.image.clone().unwrap_or_default(),
                ready: state == RunState::Running,
                state,
                container_id: row.map(|r| r.id.clone()).unwrap_or_default(),
                image_id: rec.map(|r| r.image_digest.clone()).unwrap_or_default(),
            }
        })
        .collect();
    let running = !containers.is_empty() && containers.iter().all(|c| c.ready);
    let veth0 = naming::veth_name(ns, name, 0);
    let pod_ip = ipam
        .pools
        .values()
        .find_map(|p| p.get(&veth0))
        .map(|a| a.ip.to_string());
    PodStatus {
        phase: if running {
            Phase::Running
        } else {
            Phase::Pending
        },
        ready: running,
        pod_ip,
        containers,
        message: if running {
            None
        } else {
            pod.last_failure.clone()
        },
    }
}
