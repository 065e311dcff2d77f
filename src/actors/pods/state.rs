//! The pods actor's state: desired pods, their device containers, and lifecycle units — the
//! records of `pod::record`, folded from the pods and lifecycle events.

use crate::events::catalogue::{LifecycleEvent, PodSource, PodsEvent};
use crate::pod::{DesiredPod, DeviceContainer, Unit, pod_key};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodsState {
    /// Desired pods by pod key `ns/name`.
    pub pods: BTreeMap<String, DesiredPod>,
    /// Lifecycle units by device container name.
    pub units: BTreeMap<String, Unit>,
    /// Deleted pods whose device objects are still being removed (§3.2), by pod key.
    #[serde(default)]
    pub deleting: BTreeMap<String, DesiredPod>,
    /// Boot-order pods deleted through the API: seeding never brings them back (DS-3 [D]).
    #[serde(default)]
    pub deleted_manifest: BTreeSet<String>,
}

impl PodsState {
    pub fn apply(&mut self, event: &PodsEvent) {
        let (ns, name) = event.pod_key();
        let key = pod_key(ns, name);
        match event {
            PodsEvent::PodDeclared { source, pod, .. } => {
                // `deleted_manifest` keeps the key: a boot-order pod re-created through the
                // API and deleted again stays deleted too.
                self.pods
                    .insert(key, DesiredPod::new((**pod).clone(), *source));
            }
            PodsEvent::PodUpdated { pod, .. } => {
                if let Some(p) = self.pods.get_mut(&key) {
                    p.pod = (**pod).clone();
                    p.revision += 1;
                }
            }
            PodsEvent::PodDeleted { .. } => {
                if let Some(p) = self.pods.remove(&key) {
                    if p.source == PodSource::Manifest {
                        self.deleted_manifest.insert(key.clone());
                    }
                    // A pod that never got a device container has nothing to tear down.
                    match self.deleting.get_mut(&key) {
                        Some(d) => d.containers.extend(p.containers),
                        None if p.containers.is_empty() => {}
                        None => {
                            self.deleting.insert(key, p);
                        }
                    }
                }
            }
            PodsEvent::PodRemoved { .. } => {
                self.deleting.remove(&key);
            }
            PodsEvent::ContainerCreating {
                container,
                device_name,
                veth,
                network,
                ip,
                revision,
                image_digest,
                env_digest,
                ..
            } => {
                // A pod deleted while its worker was creating: the container is torn down
                // with the deleted pod.
                let p = match self.pods.get_mut(&key) {
                    Some(p) => p,
                    None => self
                        .deleting
                        .entry(key)
                        .or_insert_with(|| DesiredPod::placeholder(ns, name)),
                };
                {
                    p.containers.insert(
                        container.clone(),
                        DeviceContainer {
                            device_name: device_name.clone(),
                            device_id: String::new(),
                            adopted: false,
                            started: false,
                            veth: veth.clone(),
                            network: network.clone(),
                            ip: ip.clone(),
                            revision: *revision,
                            image_digest: image_digest.clone(),
                            env_digest: env_digest.clone(),
                            removing: false,
                        },
                    );
                }
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
                    p.failure_reason.clear();
                }
                if let Some(p) = self.owner_mut(&key, container) {
                    let c = p
                        .containers
                        .entry(container.clone())
                        .or_insert_with(|| DeviceContainer::named(device_name));
                    c.device_name = device_name.clone();
                    c.device_id = device_id.clone();
                    c.adopted = *adopted;
                }
            }
            PodsEvent::ContainerStarted { container, .. } => {
                if let Some(c) = self
                    .owner_mut(&key, container)
                    .and_then(|p| p.containers.get_mut(container))
                {
                    c.started = true;
                }
            }
            PodsEvent::ContainerRemoving { container, .. } => {
                if let Some(c) = self
                    .owner_mut(&key, container)
                    .and_then(|p| p.containers.get_mut(container))
                {
                    c.removing = true;
                }
            }
            PodsEvent::ContainerRemoved { container, .. } => {
                if let Some(p) = self.owner_mut(&key, container) {
                    p.containers.remove(container);
                }
            }
            PodsEvent::PodCreateFailed {
                reason,
                waiting_reason,
                ..
            } => {
                if let Some(p) = self.pods.get_mut(&key) {
                    p.last_failure = Some(reason.clone());
                    p.failure_reason = waiting_reason.clone();
                }
            }
        }
    }

    /// Where a container's record lives: a deleted pod being torn down holds it first,
    /// else the desired pod.
    fn owner_mut(&mut self, key: &str, container: &str) -> Option<&mut DesiredPod> {
        if self
            .deleting
            .get(key)
            .is_some_and(|d| d.containers.contains_key(container))
        {
            return self.deleting.get_mut(key);
        }
        match self.pods.get_mut(key) {
            Some(p) => Some(p),
            None => self.deleting.get_mut(key),
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
            LifecycleEvent::UnitRecreating { pod, .. } => {
                if let Some(p) = self.pods.get_mut(pod) {
                    p.revision += 1;
                }
                for u in self.units.values_mut().filter(|u| &u.pod == pod) {
                    u.restarts = 0;
                    u.failed = None;
                }
            }
        }
    }
}
