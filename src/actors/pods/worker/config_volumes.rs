//! §3.1 step 3, ConfigMap part: a volume mount whose pod volume is a `configMap` that exists
//! in the pod's namespace gets the ConfigMap's keys as files (NAME-6) and is mounted from the
//! directory's host-visible path (NAME-8). A missing ConfigMap keeps the empty provisioned
//! NAME-5 directory [O], with a warning. Write errors only warn [O].

use super::Job;
use crate::actors::configmaps::state::ConfigMapsState;
use crate::actors::pods::configfiles;
use crate::actors::pods::plan::ContainerPlan;
use k8s_openapi::api::core::v1::{Container, Pod};

impl Job {
    pub(super) async fn config_volumes(
        &self,
        pod: &Pod,
        c: &Container,
        state: &ConfigMapsState,
        plan: &mut ContainerPlan,
    ) {
        let mounts = configfiles::config_map_mounts(pod, c);
        if mounts.is_empty() {
            return;
        }
        let storage = self.deps.config.storage.clone();
        let device = plan.spec.name.clone();
        let mut work = Vec::new();
        for m in &mounts {
            let Some(cm) = configfiles::lookup(state, pod, m) else {
                tracing::warn!(
                    pod = %format!("{}/{}", self.ns, self.name),
                    volume = %m.volume,
                    configmap = %m.config_map,
                    "ConfigMap not found; the volume is an empty directory"
                );
                continue;
            };
            let dir = configfiles::local_dir(&storage, &device, &m.volume);
            work.push((m.clone(), dir, configfiles::files_of(cm)));
        }
        let written = tokio::task::spawn_blocking(move || {
            work.into_iter()
                .map(|(m, dir, files)| {
                    let r = configfiles::sync(&dir, &files);
                    (m, dir, r)
                })
                .collect::<Vec<_>>()
        })
        .await
        .unwrap_or_default();
        for (m, dir, result) in written {
            if let Err(e) = result {
                tracing::warn!(dir = %dir.display(), error = %e, "writing ConfigMap files failed");
            }
            if let Some(mount) = plan.mounts.get_mut(m.index) {
                mount.src = configfiles::host_dir(&storage, &device, &m.volume);
            }
        }
    }
}
