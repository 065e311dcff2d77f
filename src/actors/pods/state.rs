//! The pods actor's state: desired pods, their device containers, and lifecycle units.

use crate::events::catalogue::{LifecycleEvent, PodSource, PodsEvent};
use k8s_openapi::api::core::v1::Pod;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodsState {
    /// Desired pods by pod key `ns/name`.
    pub pods: BTreeMap<String, DesiredPod>,
    /// Lifecycle units by device container name.
    pub units: BTreeMap<String, Unit>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DesiredPod {
    pub pod: Pod,
    pub source: PodSource,
    /// Device containers by spec container name.
    pub containers: BTreeMap<String, DeviceContainer>,
    pub last_failure: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeviceContainer {
    pub device_name: String,
    pub device_id: String,
    pub adopted: bool,
    pub started: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Unit {
    pub pod: String,
    pub restart_policy: String,
    pub start_on_boot: bool,
    pub priority: i64,
    pub depends_on: Vec<String>,
    pub restarts: u32,
    pub failed: Option<String>,
}

pub fn pod_key(namespace: &str, name: &str) -> String {
    format!("{namespace}/{name}")
}

impl PodsState {
    pub fn apply(&mut self, event: &PodsEvent) {
        let (ns, name) = event.pod_key();
        let key = pod_key(ns, name);
        match event {
            PodsEvent::PodDeclared { source, pod, .. } => {
                self.pods.insert(
                    key,
                    DesiredPod {
                        pod: (**pod).clone(),
                        source: *source,
                        containers: BTreeMap::new(),
                        last_failure: None,
                    },
                );
            }
            PodsEvent::PodUpdated { pod, .. } => {
                if let Some(p) = self.pods.get_mut(&key) {
                    p.pod = (**pod).clone();
                }
            }
            PodsEvent::PodDeleted { .. } => {
                self.pods.remove(&key);
            }
            PodsEvent::ContainerCreated {
                container,
                device_name,
                device_id,
                adopted,
                ..
            } => {
                if let Some(p) = self.pods.get_mut(&key) {
                    p.last_failure = None;
                    p.containers.insert(
                        container.clone(),
                        DeviceContainer {
                            device_name: device_name.clone(),
                            device_id: device_id.clone(),
                            adopted: *adopted,
                            started: false,
                        },
                    );
                }
            }
            PodsEvent::ContainerStarted { container, .. } => {
                if let Some(c) = self
                    .pods
                    .get_mut(&key)
                    .and_then(|p| p.containers.get_mut(container))
                {
                    c.started = true;
                }
            }
            PodsEvent::ContainerRemoved { container, .. } => {
                if let Some(p) = self.pods.get_mut(&key) {
                    p.containers.remove(container);
                }
            }
            PodsEvent::PodCreateFailed { reason, .. } => {
                if let Some(p) = self.pods.get_mut(&key) {
                    p.last_failure = Some(reason.clone());
                }
            }
        }
    }

    pub fn apply_lifecycle(&mut self, event: &LifecycleEvent) {
        match event {
            LifecycleEvent::UnitRegistered {
                unit,
                pod,
                restart_policy,
                start_on_boot,
                priority,
                depends_on,
            } => {
                self.units.insert(
                    unit.clone(),
                    Unit {
                        pod: pod.clone(),
                        restart_policy: restart_policy.clone(),
                        start_on_boot: *start_on_boot,
                        priority: *priority,
                        depends_on: depends_on.clone(),
                        restarts: 0,
                        failed: None,
                    },
                );
            }
            LifecycleEvent::UnitRestarted { unit, restarts, .. } => {
                if let Some(u) = self.units.get_mut(unit) {
                    u.restarts = *restarts;
                }
            }
            LifecycleEvent::UnitFailed { unit, reason } => {
                if let Some(u) = self.units.get_mut(unit) {
                    u.failed = Some(reason.clone());
                }
            }
            LifecycleEvent::UnitUnregistered { unit } => {
                self.units.remove(unit);
            }
        }
    }
}
