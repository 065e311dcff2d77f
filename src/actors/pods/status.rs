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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actors::ipam::state::Allocation;
    use crate::events::catalogue::PodSource;
    use crate::routeros::{FromRow, Row};
    use k8s_openapi::api::core::v1::{Container as K8sContainer, Pod, PodSpec};
    use serde_json::json;
    use std::collections::BTreeMap;

    fn desired() -> DesiredPod {
        let mut pod = Pod::default();
        pod.metadata.name = Some("web".into());
        pod.metadata.namespace = Some("default".into());
        pod.spec = Some(PodSpec {
            containers: vec![K8sContainer {
                name: "app".into(),
                image: Some("reg/app:v1".into()),
                ..Default::default()
            }],
            ..Default::default()
        });
        DesiredPod {
            pod,
            source: PodSource::Api,
            containers: BTreeMap::new(),
            last_failure: Some("boom".into()),
            revision: 0,
        }
    }

    fn row(flags: serde_json::Value) -> Container {
        let mut v = json!({".id": "*1A", "name": "default_web_app"});
        if let (Some(o), Some(f)) = (v.as_object_mut(), flags.as_object()) {
            o.extend(f.clone());
        }
        Container::from_row(&Row::from_value(v))
    }

    // §3.6: running → Running with the device id and the IPAM address of veth 0.
    #[test]
    fn running_pod() {
        let mut ipam = IpamState::default();
        ipam.pools.entry("t".into()).or_default().insert(
            "veth_default_web_0".into(),
            Allocation {
                ip: "10.0.0.5".parse().unwrap(),
                hostname: "app.web".into(),
                is_static: false,
                from_device: false,
            },
        );
        let rows = [row(json!({"running": "true"}))];
        let s = pod_status(&desired(), Ok(&rows), &ipam);
        assert_eq!(s.phase, Phase::Running);
        assert!(s.ready && s.message.is_none());
        assert_eq!(s.pod_ip.as_deref(), Some("10.0.0.5"));
        assert_eq!(s.containers[0].container_id, "*1A");
        assert_eq!(s.containers[0].state, RunState::Running);
    }

    // §3.6: stopped → Terminated{Stopped}; missing or unreadable → Waiting{ContainerNotFound}.
    #[test]
    fn pending_pods() {
        let ipam = IpamState::default();
        let rows = [row(json!({"stopped": "true"}))];
        let s = pod_status(&desired(), Ok(&rows), &ipam);
        assert_eq!(s.phase, Phase::Pending);
        assert_eq!(
            s.containers[0].state,
            RunState::Terminated {
                reason: "Stopped".into()
            }
        );
        assert_eq!(s.message.as_deref(), Some("boom"));
        let s = pod_status(&desired(), Ok(&[]), &ipam);
        assert!(
            matches!(&s.containers[0].state, RunState::Waiting { reason, .. } if reason == "ContainerNotFound")
        );
        assert!(s.containers[0].container_id.is_empty() && s.pod_ip.is_none());
        let s = pod_status(&desired(), Err("connection refused"), &ipam);
        assert!(
            matches!(&s.containers[0].state, RunState::Waiting { message, .. } if message == "connection refused")
        );
    }
}
