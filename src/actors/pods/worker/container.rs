//! §3.1 steps 0 and 3–7 on the device, the way `decide::How` says: a fresh create writes
//! only; read-and-adopt keeps a row that is what the plan would create; a rebuild replaces.

use super::Job;
use crate::actors::pods::decide::How;
use crate::actors::pods::plan::{self, ContainerPlan};
use crate::routeros::{ErrorKind, RosClient, RosError};

impl Job {
    /// §3.1 steps 0 and 3–7: adopt a matching row, else replace whatever has the name.
    /// Returns (device id, adopted, running). `How::Fresh`: nothing of this name is expected
    /// on the device, so no stale row is looked for, the mount list is only added to and the
    /// root dir is not moved aside; a duplicate refusal of the add (a row or, on 7.23+, a
    /// root dir after all) falls back to the full sequence. `How::Rebuild` never adopts.
    pub(super) async fn container(
        &self,
        ros: &RosClient,
        plan: &ContainerPlan,
        how: How,
    ) -> Result<(String, bool, bool), RosError> {
        let spec = &plan.spec;
        if let How::Fresh { .. } = how {
            for m in &plan.mounts {
                ros.ensure_directory(&m.src).await?;
            }
            ros.add_mounts(&spec.name, &plan.mounts).await?;
            ros.add_envs(&spec.name, &plan.envs).await?;
            match ros.add_container(spec).await {
                Ok(id) => return Ok((self.start(ros, spec, id).await?, false, true)),
                Err(e) if e.is(ErrorKind::AlreadyExists) => {
                    tracing::info!(name = %spec.name, error = %e, "container add refused: full create");
                }
                Err(e) => return Err(e),
            }
        }
        if let Some(row) = ros.find_container(&spec.name).await? {
            if how != How::Rebuild && plan::adoptable(&row, spec) && !row.id.is_empty() {
                // Adopt: a crash may have cut the import or the start short.
                let row = if row.state.is_running() || row.state.is_stopped() {
                    row
                } else {
                    ros.wait_extracted(&spec.name).await?
                };
                if !row.state.is_running() {
                    ros.start_container(&row.id).await?;
                }
                return Ok((row.id, true, true));
            }
            ros.delete_container(&spec.name).await?;
            ros.wait_gone(&spec.name).await?;
        }
        for m in &plan.mounts {
            ros.ensure_directory(&m.src).await?;
        }
        ros.sync_mounts(&spec.name, &plan.mounts).await?;
        ros.sync_envs(&spec.name, &plan.envs).await?;
        // Step 5 [F]: move the old root dir aside (O(1)); never a recursive delete (L-13).
        ros.move_aside(&spec.root_dir).await?;
        let id = ros.add_container(spec).await?;
        Ok((self.start(ros, spec, id).await?, false, true))
    }

    /// §3.1 step 7: wait for the import, then start by id. Returns the id.
    async fn start(
        &self,
        ros: &RosClient,
        spec: &crate::routeros::ContainerSpec,
        id: String,
    ) -> Result<String, RosError> {
        let row = ros.wait_extracted(&spec.name).await?;
        let id = if id.is_empty() { row.id.clone() } else { id };
        if !row.state.is_running() {
            ros.start_container(&id).await?;
        }
        Ok(id)
    }
}
