//! §3.1 create and §3.3 rebuild of a desired pod's containers, adoption included.

use super::{Job, JobError, crash};
use crate::actors::images::EnsureImage;
use crate::actors::pods::decide::{self, How, Step};
use crate::actors::pods::plan::{self, ContainerPlan};
use crate::config::Network;
use crate::events::catalogue::{LifecycleEvent, PodsEvent};
use crate::pod::spec::containers;
use crate::pod::{DesiredPod, DeviceContainer};
use crate::pod::{annotations, names};
use crate::routeros::{Observation, RosClient};
use k8s_openapi::api::core::v1::Pod;
use std::net::Ipv4Addr;

impl Job {
    /// §3.1/§3.3 for a desired pod: each spec container's steps as `decide::step` says.
    pub(super) async fn create(
        &self,
        desired: &DesiredPod,
        units: &[String],
    ) -> Result<(), JobError> {
        let pod = &desired.pod;
        plan::check(pod)?;
        let net = crate::pod::network_of(pod, &self.deps.config.networks)
            .map_err(JobError::Spec)?
            .clone();
        let static_ip = annotations::static_ip(pod).map_err(JobError::Spec)?;
        // Units as this job leaves them: a teardown unregisters one, and a container created
        // after it in the same job (a network move, a fresh recreation) registers it again.
        let mut units = units.to_vec();
        for (container, rec) in decide::dropped(desired) {
            self.tear_down(pod, container, rec, &units).await?;
            units.retain(|u| *u != rec.device_name);
        }
        let ros = self.ros().await?;
        let ipam = self
            .deps
            .ipam_view
            .read(&self.deps.ipam)
            .await
            .map_err(JobError::actor("ipam"))?;
        // The reconcile pass's bulk read; names no record claims are decided from it.
        let seen = self.seen.as_deref();
        let facts = decide::PodFacts {
            revision: desired.revision,
            network: &net.name,
            static_ip,
            auto_update: annotations::auto_update(pod),
            ipam: &ipam.state,
            seen,
        };
        for (i, c) in containers(pod).iter().enumerate() {
            let device_name = names::container_name(&self.ns, &self.name, &c.name);
            let veth = names::veth_name(&self.ns, &self.name, i);
            let mut rec = desired.containers.get(&c.name).cloned();
            let mut fetched = decide::Fetched::default();
            // Each question is asked once (the decision's tests check it ends).
            let how = loop {
                let this = decide::ContainerFacts {
                    rec: rec.as_ref(),
                    device_name: &device_name,
                    veth: &veth,
                };
                match decide::step(&facts, &this, &fetched) {
                    Step::TearDown => {
                        if let Some(r) = rec.take() {
                            self.tear_down(pod, &c.name, &r, &units).await?;
                            units.retain(|u| *u != r.device_name);
                        }
                    }
                    Step::CheckDigest => fetched.digest = Some(self.image(pod, c).await?.1),
                    Step::Confirm => {
                        let name = rec
                            .as_ref()
                            .map_or(device_name.as_str(), |r| &r.device_name);
                        let row = ros.find_container(name).await.map_err(|e| {
                            JobError::ReadContainer {
                                name: name.to_string(),
                                source: Box::new(e),
                            }
                        })?;
                        fetched.present = Some(row.is_some());
                    }
                    Step::Keep => break None,
                    Step::Create(how) => break Some(how),
                }
            };
            let Some(how) = how else {
                // The container is there; its veth and bridge port may not be.
                if let Some((veth, ip)) = rec.as_ref().and_then(decide::recorded_veth) {
                    self.ensure_veth(veth, &net, ip, false).await?;
                }
                continue;
            };
            let create = Create {
                pod: desired,
                index: i,
                net: &net,
                static_ip,
                rec: rec.as_ref(),
                how,
                units: &units,
                seen,
            };
            match self.create_container(&ros, create.clone()).await {
                Err(e) if image_replaced_during_import(pod, &e) => {
                    // A push invalidated the cached tarball (images.md §3.7) between the pull
                    // and the import (found by the soak). The attempt was undone (L-7); the
                    // next one pulls the pushed image.
                    tracing::info!(pod = %format!("{}/{}", self.ns, self.name), error = %e,
                        "image tarball gone during import (a push?); creating again");
                    self.create_container(&ros, create).await?;
                }
                other => other?,
            }
        }
        Ok(())
    }

    async fn create_container(&self, ros: &RosClient, s: Create<'_>) -> Result<(), JobError> {
        let pod = &s.pod.pod;
        let c = &containers(pod)[s.index];
        // An incomplete configuration fails before anything is pulled or allocated.
        let config_maps = self.config_maps().await;
        let node = &self.deps.config.node_name;
        super::env::resolve(node, pod, c, &config_maps, s.net, None)?;
        let (tarball, digest) = self.image(pod, c).await?;
        let mut plan = plan::container_plan(&self.deps.config, pod, s.index, s.net, &tarball)
            .ok_or_else(|| JobError::NotInSpec {
                container: c.name.clone(),
            })?;
        self.config_volumes(pod, c, &config_maps, &mut plan).await;
        let veth = plan.spec.interface.clone();
        let ip = self.allocate(ros, &s, &veth, &c.name).await?;
        crash::point("create.allocated");
        let result = match super::env::resolve(node, pod, c, &config_maps, s.net, Some(ip)) {
            Ok(env) => {
                plan.set_env(env);
                match self.free_veth(ros, &veth, &plan.spec.name, s.seen).await {
                    Ok(()) => {
                        self.create_on_device(ros, &s, &c.name, &plan, ip, &digest)
                            .await
                    }
                    Err(e) => Err(e),
                }
            }
            Err(e) => Err(JobError::from(e)),
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
    ) -> Result<(String, String), JobError> {
        if let Some(file) = annotations::file(pod) {
            return Ok((file.to_string(), String::new()));
        }
        let reference =
            c.image
                .clone()
                .filter(|i| !i.is_empty())
                .ok_or_else(|| JobError::NoImage {
                    container: c.name.clone(),
                })?;
        let got = self
            .deps
            .images
            .send(EnsureImage {
                reference: reference.clone(),
                correlation: self.correlation.clone(),
            })
            .await
            .map_err(JobError::actor("images"))?
            .map_err(|source| JobError::Image { reference, source })?;
        Ok((got.tarball_path, got.digest))
    }

    async fn create_on_device(
        &self,
        ros: &RosClient,
        s: &Create<'_>,
        container: &str,
        plan: &ContainerPlan,
        ip: Ipv4Addr,
        digest: &str,
    ) -> Result<(), JobError> {
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
        if decide::must_record_intent(s.rec, &intent) {
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
        self.ensure_veth(veth, s.net, ip, s.how.veth_absent())
            .await?;
        crash::point("create.veth");
        let (id, adopted, started) =
            self.container(ros, plan, s.how)
                .await
                .map_err(|e| JobError::CreateContainer {
                    name: spec.name.clone(),
                    source: Box::new(e),
                })?;
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
}

/// Whether a create failed because the device could not import the cached tarball, of an
/// image the cache manages (not `vkube.io/file`): the one failure a second attempt with a
/// fresh `EnsureImage` can cure at once.
fn image_replaced_during_import(pod: &Pod, e: &JobError) -> bool {
    let import_failed = matches!(e, JobError::CreateContainer { source, .. }
        if matches!(**source, crate::routeros::RosError::ImportFailed { .. }));
    import_failed && annotations::file(pod).is_none()
}

/// One container's create inputs.
#[derive(Clone)]
pub(super) struct Create<'a> {
    pub pod: &'a DesiredPod,
    pub index: usize,
    pub net: &'a Network,
    pub static_ip: Option<Ipv4Addr>,
    pub rec: Option<&'a DeviceContainer>,
    pub how: How,
    pub units: &'a [String],
    pub seen: Option<&'a Observation>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pod::sample::SamplePod;
    use crate::routeros::RosError;

    // The soak's import race: only a failed import of a cache-managed image is tried again.
    #[test]
    fn a_failed_import_of_a_cached_image_is_tried_again() {
        let import = || JobError::CreateContainer {
            name: "ns_p_app".into(),
            source: Box::new(RosError::ImportFailed {
                name: "ns_p_app".into(),
                reason: "file not found".into(),
            }),
        };
        let cached = SamplePod::new("ns", "p").build();
        let pinned = SamplePod::on_device("ns", "p", "raid1/cache/app.tar").build();
        assert!(image_replaced_during_import(&cached, &import()));
        assert!(
            !image_replaced_during_import(&pinned, &import()),
            "vkube.io/file"
        );
        let other = JobError::CreateContainer {
            name: "ns_p_app".into(),
            source: Box::new(RosError::Missing { what: "x".into() }),
        };
        assert!(!image_replaced_during_import(&cached, &other));
        assert!(!image_replaced_during_import(
            &cached,
            &JobError::Spec("x".into())
        ));
    }
}
