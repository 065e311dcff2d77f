//! §3.2 teardown: only what the log says mkube created or adopted (L-2).

use super::{Job, crash, spec_containers};
use crate::events::catalogue::{LifecycleEvent, PodsEvent};
use crate::pod::names;
use crate::pod::{DesiredPod, DeviceContainer};
use k8s_openapi::api::core::v1::Pod;

impl Job {
    /// §3.2 for a deleted pod: every recorded container, then the addresses of spec
    /// containers that never got a record (an allocation whose intent was lost), then
    /// `PodRemoved`. Objects mkube never recorded are not touched (L-2).
    pub(super) async fn tear_down_pod(
        &self,
        old: &DesiredPod,
        units: &[String],
    ) -> Result<(), String> {
        for (container, rec) in &old.containers {
            self.tear_down(&old.pod, container, rec, units).await?;
        }
        let net = crate::pod::network_of(&old.pod, &self.deps.config.networks).ok();
        if let Some(net) = net {
            for (i, _) in spec_containers(&old.pod).iter().enumerate() {
                self.release_ip(&net.name, &names::veth_name(&self.ns, &self.name, i))
                    .await?;
            }
        }
        self.record(PodsEvent::PodRemoved {
            namespace: self.ns.clone(),
            name: self.name.clone(),
        })
        .await?;
        Ok(())
    }

    /// Removes one recorded container completely: container and mount list, bridge port and
    /// veth, address. A veth that cannot be deleted keeps its address (L-7) and fails the job.
    pub(super) async fn tear_down(
        &self,
        pod: &Pod,
        container: &str,
        rec: &DeviceContainer,
        units: &[String],
    ) -> Result<(), String> {
        if !rec.removing {
            self.record(PodsEvent::ContainerRemoving {
                namespace: self.ns.clone(),
                name: self.name.clone(),
                container: container.to_string(),
            })
            .await?;
        }
        crash::point("delete.intent");
        if units.contains(&rec.device_name) {
            self.record(LifecycleEvent::UnitUnregistered {
                unit: rec.device_name.clone(),
            })
            .await?;
        }
        let (veth, network) = self.veth_of(pod, container, rec);
        let ros = self.ros().await?;
        ros.delete_pod_container(&rec.device_name, None)
            .await
            .map_err(|e| format!("removing container {}: {e}", rec.device_name))?;
        // Renamed aside (O(1), never a recursive delete, L-13) now rather than at the next
        // create of the name: a create that finds no record then skips the move (§3.1 step 5).
        let root = names::root_dir(&self.deps.config.storage.base_path, &rec.device_name);
        ros.move_aside(&root)
            .await
            .map_err(|e| format!("moving root dir {root} aside: {e}"))?;
        crash::point("delete.container");
        self.remove_veth(&veth).await?;
        crash::point("delete.veth");
        if let Some(network) = network {
            self.release_ip(&network, &veth).await?;
        }
        crash::point("delete.released");
        self.record(PodsEvent::ContainerRemoved {
            namespace: self.ns.clone(),
            name: self.name.clone(),
            container: container.to_string(),
        })
        .await?;
        Ok(())
    }

    /// The veth and network of a record; records from before intents existed fall back to
    /// the naming rule and the pod's network.
    fn veth_of(
        &self,
        pod: &Pod,
        container: &str,
        rec: &DeviceContainer,
    ) -> (String, Option<String>) {
        let index = spec_containers(pod)
            .iter()
            .position(|c| c.name == container)
            .unwrap_or(0);
        let veth = if rec.veth.is_empty() {
            names::veth_name(&self.ns, &self.name, index)
        } else {
            rec.veth.clone()
        };
        let network = if rec.network.is_empty() {
            crate::pod::network_of(pod, &self.deps.config.networks)
                .ok()
                .map(|n| n.name.clone())
        } else {
            Some(rec.network.clone())
        };
        (veth, network)
    }
}
