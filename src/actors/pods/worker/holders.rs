//! §3.1 step 2 / §3.5 force-release: a container this pod's container is about to get its
//! veth from may not find it held by another. Holders no pod's record claims (orphans left
//! by a crash or by hand, NAME-1 shaped) are stopped and removed with their mount and env
//! lists; any other holder fails the create with a clear reason (`decide::holders`).

use super::Job;
use crate::actors::pods::JobError;
use crate::actors::pods::decide;
use crate::routeros::RosClient;
use std::collections::HashSet;

impl Job {
    /// Frees `veth` for device container `own` (the observation says who holds it; without
    /// one, the device is asked).
    pub(super) async fn free_veth(
        &self,
        ros: &RosClient,
        veth: &str,
        own: &str,
        seen: Option<&crate::routeros::Observation>,
    ) -> Result<(), JobError> {
        let holding: Vec<String> = match seen {
            Some(o) => o.holders.get(veth).cloned().unwrap_or_default(),
            None => {
                let rows = ros
                    .list_containers()
                    .await
                    .map_err(|e| JobError::ReadContainer {
                        name: format!("holders of {veth}"),
                        source: Box::new(e),
                    })?;
                crate::routeros::veth_holders(&rows)
                    .remove(veth)
                    .unwrap_or_default()
            }
        };
        if holding.iter().all(|h| h == own) {
            return Ok(());
        }
        let pods = self
            .deps
            .pods_view
            .read(&self.pods)
            .await
            .map_err(JobError::actor("pods"))?;
        let claimed: HashSet<&str> = pods
            .state
            .pods
            .values()
            .chain(pods.state.deleting.values())
            .flat_map(|p| p.containers.values())
            .map(|c| c.device_name.as_str())
            .collect();
        let verdict = decide::holders(own, &holding, |n| claimed.contains(n));
        if !verdict.refuse.is_empty() {
            return Err(JobError::VethHeld {
                veth: veth.to_string(),
                holders: verdict.refuse,
            });
        }
        for orphan in verdict.release {
            tracing::warn!(%veth, container = %orphan, "force-release: removing an unrecorded container that holds the veth (§3.5)");
            ros.delete_pod_container(&orphan, None).await.map_err(|e| {
                JobError::RemoveContainer {
                    name: orphan.clone(),
                    source: Box::new(e),
                }
            })?;
        }
        Ok(())
    }
}
