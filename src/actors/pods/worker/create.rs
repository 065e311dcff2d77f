//! §3.1 create and §3.3 rebuild of a desired pod's containers, adoption included.

use super::{Job, JobError, crash, spec_containers};
use crate::actors::images::EnsureImage;
use crate::actors::ipam::state::IpamState;
use crate::actors::journal::GetState;
use crate::actors::pods::plan::{self, ContainerPlan};
use crate::config::Network;
use crate::events::catalogue::{LifecycleEvent, PodsEvent};
use crate::pod::{DesiredPod, DeviceContainer};
use crate::pod::{annotations, names};
use crate::routeros::{ErrorKind, Observation, RosClient, RosError};
use k8s_openapi::api::core::v1::Pod;
use std::net::Ipv4Addr;

impl Job {
    /// §3.1/§3.3 for a desired pod.
    pub(super) async fn create(
        &self,
        desired: &DesiredPod,
        units: &[String],
    ) -> Result<(), JobError> {
        let pod = &desired.pod;
        plan::check(pod)?;
        let net = crate::pod::network_of(pod, &self.deps.config.networks)?.clone();
        let static_ip = annotations::static_ip(pod)?;
        let spec = spec_containers(pod);
        // Containers an update dropped.
        for (container, rec) in &desired.containers {
            if !spec.iter().any(|c| &c.name == container) {
                self.tear_down(pod, container, rec, units).await?;
            }
        }
        let ros = self.ros().await?;
        let ipam: IpamState = self
            .deps
            .ipam
            .send(GetState::<IpamState>::new())
            .await
            .map_err(|e| format!("ipam actor: {e}"))?;
        // The reconcile pass's bulk read; names no record claims are decided from it.
        let seen = ros.observation();
        for (i, c) in spec.iter().enumerate() {
            let mut rec = desired.containers.get(&c.name).cloned();
            if let Some(r) = &rec {
                // §3.3 [F]: a network or static-IP move tears down with the old facts; so
                // does an address IPAM learned that differs from the static IP (§5 step 4b).
                let held = ipam.pools.get(&r.network).and_then(|p| p.get(&r.veth));
                let moved = (!r.network.is_empty() && r.network != net.name)
                    || static_ip.is_some_and(|ip| {
                        r.ip != ip.to_string() || held.is_some_and(|a| a.ip != ip)
                    });
                // A teardown cut short is finished first.
                if moved || r.removing {
                    self.tear_down(pod, &c.name, r, units).await?;
                    rec = None;
                }
            }
            let mut rebuild = rec
                .as_ref()
                .is_some_and(|r| r.is_created() && r.revision != desired.revision);
            if let Some(r) = &rec
                && !rebuild
                && r.is_created()
                && !r.image_digest.is_empty()
                && annotations::auto_update(pod)
            {
                // §5 step 3c: the registry moved the tag (the image cache refreshed it).
                let (_, digest) = self.image(pod, c).await?;
                rebuild = digest != r.image_digest;
            }
            if let Some(r) = &rec
                && r.is_created()
                && !rebuild
            {
                let present = ros
                    .find_container(&r.device_name)
                    .await
                    .map_err(|e| format!("reading container {}: {e}", r.device_name))?;
                // Recorded as created but never as started (a crash between the two): the
                // create path below adopts the row and records the start.
                if present.is_some() && r.started {
                    // The container is there; its veth and bridge port may not be.
                    if let Ok(ip) = r.ip.parse::<Ipv4Addr>()
                        && !r.veth.is_empty()
                    {
                        self.ensure_veth(&r.veth, &net, ip, false).await?;
                    }
                    continue;
                }
            }
            // No record: no attempt of mkube's touched the device under these names (every
            // effect follows a recorded intent, and teardown clears the list and moves the
            // root dir aside before the record goes). The observation, when there is one,
            // rules out objects mkube did not make.
            let device_name = names::container_name(&self.ns, &self.name, &c.name);
            let veth = names::veth_name(&self.ns, &self.name, i);
            let fresh = rec.is_none()
                && seen
                    .as_ref()
                    .is_none_or(|o| !o.containers.contains(&device_name));
            let veth_absent = fresh
                && seen
                    .as_ref()
                    .is_some_and(|o| !o.veths.contains_key(&veth) && !o.ports.contains(&veth));
            let step = Step {
                pod: desired,
                index: i,
                net: &net,
                static_ip,
                rec: rec.as_ref(),
                rebuild,
                units,
                fresh,
                veth_absent,
                seen: seen.as_deref(),
            };
            self.create_container(&ros, step).await?;
        }
        Ok(())
    }

    async fn create_container(&self, ros: &RosClient, s: Step<'_>) -> Result<(), JobError> {
        let pod = &s.pod.pod;
        let c = &spec_containers(pod)[s.index];
        // An incomplete configuration fails before anything is pulled or allocated.
        let config_maps = self.config_maps().await;
        let node = &self.deps.config.node_name;
        super::env::resolve(node, pod, c, &config_maps, s.net, None)
            .map_err(|e| JobError::Config(e.to_string()))?;
        let (tarball, digest) = self.image(pod, c).await?;
        let mut plan = plan::container_plan(&self.deps.config, pod, s.index, s.net, &tarball)
            .ok_or_else(|| format!("container {} missing from the spec", c.name))?;
        self.config_volumes(pod, c, &config_maps, &mut plan).await;
        let veth = plan.spec.interface.clone();
        let ip = self.allocate(ros, &s, &veth, &c.name).await?;
        crash::point("create.allocated");
        let result = match super::env::resolve(node, pod, c, &config_maps, s.net, Some(ip)) {
            Ok(env) => {
                plan.set_env(env);
                self.create_on_device(ros, &s, &c.name, &plan, ip, &digest)
                    .await
                    .map_err(JobError::Other)
            }
            Err(e) => Err(JobError::Config(e.to_string())),
        };
        if let Err(reason) = result {
            // L-7: this attempt's container, veth and address do not outlive it.
            let _ = ros.delete_pod_container(&plan.spec.name, None).await;
            // A later create of this name may skip the move-aside (it finds no record).
            let _ = ros.move_aside(&plan.spec.root_dir).await;
            let released = match self.remove_veth(&veth).await {
                Ok(()) => self.release_ip(&s.net.name, &veth).await.is_ok(),
                Err(e) => {
                    tracing::warn!(%veth, error = %e, "veth kept after failed create");
                    false
                }
            };
            if released {
                let _ = self
                    .record(PodsEvent::ContainerRemoved {
                        namespace: self.ns.clone(),
                        name: self.name.clone(),
                        container: c.name.clone(),
                    })
                    .await;
            }
            return Err(reason);
        }
        Ok(())
    }

    /// Device tarball and digest: `vkube.io/file` verbatim, else the image cache (IMG-1).
    async fn image(
        &self,
        pod: &Pod,
        c: &k8s_openapi::api::core::v1::Container,
    ) -> Result<(String, String), String> {
        if let Some(file) = annotations::file(pod) {
            return Ok((file.to_string(), String::new()));
        }
        let reference = c
            .image
            .clone()
            .filter(|i| !i.is_empty())
            .ok_or_else(|| format!("container {} has no image", c.name))?;
        let got = self
            .deps
            .images
            .send(EnsureImage {
                reference: reference.clone(),
                correlation: self.correlation.clone(),
            })
            .await
            .map_err(|e| format!("images actor: {e}"))?
            .map_err(|e| format!("ensuring image {reference}: {e}"))?;
        Ok((got.tarball_path, got.digest))
    }

    async fn create_on_device(
        &self,
        ros: &RosClient,
        s: &Step<'_>,
        container: &str,
        plan: &ContainerPlan,
        ip: Ipv4Addr,
        digest: &str,
    ) -> Result<(), String> {
        let spec = &plan.spec;
        let veth = &spec.interface;
        let intent = DeviceContainer {
            veth: veth.clone(),
            network: s.net.name.clone(),
            ip: ip.to_string(),
            revision: s.pod.revision,
            image_digest: digest.to_string(),
            env_digest: crate::pod::env::digest(&plan.envs),
            ..DeviceContainer::named(&spec.name)
        };
        let same_intent = s.rec.is_some_and(|r| {
            r.device_name == intent.device_name
                && r.veth == intent.veth
                && r.network == intent.network
                && r.ip == intent.ip
                && r.revision == intent.revision
                && r.image_digest == intent.image_digest
                && r.env_digest == intent.env_digest
                && !r.removing
        });
        if !same_intent {
            self.record(PodsEvent::ContainerCreating {
                namespace: self.ns.clone(),
                name: self.name.clone(),
                container: container.to_string(),
                device_name: intent.device_name.clone(),
                veth: intent.veth.clone(),
                network: intent.network.clone(),
                ip: intent.ip.clone(),
                revision: intent.revision,
                image_digest: intent.image_digest.clone(),
                env_digest: intent.env_digest.clone(),
            })
            .await?;
        }
        crash::point("create.intent");
        self.ensure_veth(veth, s.net, ip, s.veth_absent).await?;
        crash::point("create.veth");
        let (id, adopted, started) = self
            .container(ros, plan, s.rebuild, s.fresh)
            .await
            .map_err(|e| format!("creating container {}: {e}", spec.name))?;
        crash::point("create.container");
        self.record(PodsEvent::ContainerCreated {
            namespace: self.ns.clone(),
            name: self.name.clone(),
            container: container.to_string(),
            device_name: spec.name.clone(),
            device_id: id,
            adopted,
        })
        .await?;
        crash::point("create.recorded");
        if started {
            self.record(PodsEvent::ContainerStarted {
                namespace: self.ns.clone(),
                name: self.name.clone(),
                container: container.to_string(),
            })
            .await?;
        }
        if spec.start_on_boot && !s.units.contains(&spec.name) {
            let pod = &s.pod.pod;
            self.record(LifecycleEvent::UnitRegistered {
                unit: spec.name.clone(),
                pod: format!("{}/{}", self.ns, self.name),
                restart_policy: "Always".into(),
                start_on_boot: true,
                priority: annotations::boot_priority(pod, 0),
                depends_on: annotations::depends_on(pod),
            })
            .await?;
        }
        Ok(())
    }

    /// §3.1 steps 0 and 3–7: adopt a matching row, else replace whatever has the name.
    /// Returns (device id, adopted, running). `fresh`: nothing of this name is expected on
    /// the device (see `create`), so no stale row is looked for, the mount list is only
    /// added to and the root dir is not moved aside; a duplicate refusal of the add (a row
    /// or, on 7.23+, a root dir after all) falls back to the full sequence.
    async fn container(
        &self,
        ros: &RosClient,
        plan: &ContainerPlan,
        rebuild: bool,
        fresh: bool,
    ) -> Result<(String, bool, bool), RosError> {
        let spec = &plan.spec;
        if fresh {
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
            if !rebuild && plan::adoptable(&row, spec) && !row.id.is_empty() {
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

/// One container's create inputs.
pub(super) struct Step<'a> {
    pub pod: &'a DesiredPod,
    pub index: usize,
    pub net: &'a Network,
    pub static_ip: Option<Ipv4Addr>,
    pub rec: Option<&'a DeviceContainer>,
    pub rebuild: bool,
    pub units: &'a [String],
    /// No record and (if observed) no row of this container's name: optimistic writes.
    pub fresh: bool,
    /// Fresh, and the observation shows neither the veth nor a port for it.
    pub veth_absent: bool,
    pub seen: Option<&'a Observation>,
}
