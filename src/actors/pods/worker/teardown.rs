//! §3.2 teardown, performed: only what the log says mkube created or adopted (L-2), as
//! `decide::teardown` lays it out.

use super::{Job, crash};
use crate::actors::pods::JobError;
use crate::actors::pods::decide;
use crate::events::catalogue::{LifecycleEvent, PodsEvent};
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
    ) -> Result<(), JobError> {
        for (container, rec) in &old.containers {
            self.tear_down(&old.pod, container, rec, units).await?;
        }
        let networks = &self.deps.config.networks;
        if let Some((network, veths)) =
            decide::leftover_addresses(&self.ns, &self.name, &old.pod, networks)
        {
            for veth in veths {
                self.release_ip(&network, &veth).await?;
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
    ) -> Result<(), JobError> {
        let config = &self.deps.config;
        let plan = decide::teardown(&self.ns, &self.name, pod, container, rec, units, config);
        if plan.record_intent {
            self.record(PodsEvent::ContainerRemoving {
                namespace: self.ns.clone(),
                name: self.name.clone(),
                container: container.to_string(),
            })
            .await?;
        }
        crash::point("delete.intent");
        if plan.unregister_unit {
            self.record(LifecycleEvent::UnitUnregistered {
                unit: rec.device_name.clone(),
            })
            .await?;
        }
        let ros = self.ros().await?;
        ros.delete_pod_container(&rec.device_name, None)
            .await
            .map_err(|e| JobError::RemoveContainer {
                name: rec.device_name.clone(),
                source: Box::new(e),
            })?;
        // Renamed aside (O(1), never a recursive delete, L-13) now rather than at the next
        // create of the name: a create that finds no record then skips the move (§3.1 step 5).
        ros.move_aside(&plan.root_dir)
            .await
            .map_err(|e| JobError::MoveAside {
                root: plan.root_dir.clone(),
                source: Box::new(e),
            })?;
        crash::point("delete.container");
        self.remove_veth(&plan.veth).await?;
        crash::point("delete.veth");
        if let Some(network) = &plan.network {
            self.release_ip(network, &plan.veth).await?;
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
}
