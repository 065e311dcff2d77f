//! The pod worker: one job at a time per pod key (the pods actor guarantees it, L-4) that
//! brings the device in line with the pod's recorded state — tear down what a deletion or a
//! network move left, create or adopt what is missing, rebuild what an update changed.
//!
//! Rule 6 of the design: every device effect is preceded by an intent event
//! (`ContainerCreating`, `ContainerRemoving`; IPAM's `IpAllocated`) and followed by its outcome
//! (`ContainerCreated`, `VethCreated`, `ContainerRemoved`, `VethRemoved`, `IpReleased`). Names
//! are deterministic, so a job cut short by a crash is resumed by the next one: an object with
//! the expected name and properties is adopted, never duplicated.

use super::naming;
use super::plan::{self, ContainerPlan};
use super::state::{DesiredPod, DeviceContainer};
use super::{GetPod, PodView, PodsActor};
use crate::actors::device::DeviceLink;
use crate::actors::images::{EnsureImage, ImagesActor};
use crate::actors::ipam::pool::IpamError;
use crate::actors::ipam::state::IpamState;
use crate::actors::ipam::{Allocate, AllocateError, IpamActor, Release};
use crate::actors::journal::{GetState, Record};
use crate::actors::veths::{EnsureVeth, RemoveVeth, VethsActor};
use crate::config::{Config, Network};
use crate::events::catalogue::{LifecycleEvent, PodsEvent};
use crate::routeros::{RosClient, RosError};
use actix::prelude::*;
use k8s_openapi::api::core::v1::Pod;
use std::net::Ipv4Addr;
use std::sync::Arc;

/// What a worker talks to. The pods actor's own address is passed per job.
#[derive(Clone)]
pub struct WorkerDeps {
    pub config: Arc<Config>,
    pub device: DeviceLink,
    pub ipam: Addr<IpamActor>,
    pub veths: Addr<VethsActor>,
    pub images: Addr<ImagesActor>,
}

struct Job {
    deps: WorkerDeps,
    pods: Addr<PodsActor>,
    ns: String,
    name: String,
    correlation: String,
}

/// Converges one pod; `Err` is the reason recorded in `PodCreateFailed` (the caller backs off).
pub async fn converge(deps: WorkerDeps, pods: Addr<PodsActor>, key: String) -> Result<(), String> {
    let (ns, name) = key.split_once('/').unwrap_or(("default", key.as_str()));
    let job = Job {
        deps,
        pods,
        ns: ns.to_string(),
        name: name.to_string(),
        correlation: format!("worker/{key}/{}", uuid::Uuid::new_v4()),
    };
    let view: PodView = job
        .pods
        .send(GetPod { key: key.clone() })
        .await
        .map_err(|e| format!("pods actor: {e}"))?;
    // An unreachable device is an outage, not a fact about the pod: nothing is recorded and
    // the caller backs off.
    job.ros().await?;
    if let Some(old) = view.deleting {
        job.tear_down_pod(&old, view.units.as_slice()).await?;
    }
    let Some(pod) = view.desired else {
        return Ok(());
    };
    let result = match &view.veth_clash {
        // NAME-2 [D]: two pods on one veth would take each other's address; the one that
        // yields fails until the name is free.
        Some(other) => Err(format!(
            "veth names collide with pod {other} (NAME-2: first 15 characters of namespace and name)"
        )),
        _ => job.create(&pod, &view.units).await,
    };
    if let Err(reason) = &result {
        tracing::warn!(pod = %key, %reason, "pod create failed");
    }
    if let Err(reason) = &result
        && pod.last_failure.as_ref() != Some(reason)
    {
        let _ = job
            .record(PodsEvent::PodCreateFailed {
                namespace: job.ns.clone(),
                name: job.name.clone(),
                reason: reason.clone(),
            })
            .await;
    }
    result
}

impl Job {
    async fn record(&self, event: PodsEvent) -> Result<u64, String> {
        self.pods
            .send(Record {
                event,
                correlation: self.correlation.clone(),
            })
            .await
            .map_err(|e| format!("pods actor: {e}"))?
            .map_err(|e| format!("recording: {e}"))
    }

    async fn record_lifecycle(&self, event: LifecycleEvent) -> Result<u64, String> {
        self.pods
            .send(Record {
                event,
                correlation: self.correlation.clone(),
            })
            .await
            .map_err(|e| format!("pods actor: {e}"))?
            .map_err(|e| format!("recording: {e}"))
    }

    async fn ros(&self) -> Result<RosClient, String> {
        self.deps
            .device
            .get()
            .await
            .map_err(|e| format!("RouterOS unreachable: {e}"))
    }

    /// §3.2 for a deleted pod: every recorded container, then the addresses of spec
    /// containers that never got a record (an allocation whose intent was lost), then
    /// `PodRemoved`. Objects mkube never recorded are not touched (L-2).
    async fn tear_down_pod(&self, old: &DesiredPod, units: &[String]) -> Result<(), String> {
        for (container, rec) in &old.containers {
            self.tear_down(&old.pod, container, rec, units).await?;
        }
        let net = plan::network(&self.deps.config, &old.pod).ok();
        if let Some(net) = net {
            for (i, _) in spec_containers(&old.pod).iter().enumerate() {
                self.release_ip(&net.name, &naming::veth_name(&self.ns, &self.name, i))
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
    async fn tear_down(
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
        if units.contains(&rec.device_name) {
            self.record_lifecycle(LifecycleEvent::UnitUnregistered {
                unit: rec.device_name.clone(),
            })
            .await?;
        }
        let (veth, network) = self.veth_of(pod, container, rec);
        let ros = self.ros().await?;
        ros.delete_pod_container(&rec.device_name, None)
            .await
            .map_err(|e| format!("removing container {}: {e}", rec.device_name))?;
        self.remove_veth(&veth).await?;
        if let Some(network) = network {
            self.release_ip(&network, &veth).await?;
        }
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
            naming::veth_name(&self.ns, &self.name, index)
        } else {
            rec.veth.clone()
        };
        let network = if rec.network.is_empty() {
            plan::network(&self.deps.config, pod)
                .ok()
                .map(|n| n.name.clone())
        } else {
            Some(rec.network.clone())
        };
        (veth, network)
    }

    /// NET-1, device part, through the veths actor (idempotent: reads only when in place).
    async fn ensure_veth(&self, veth: &str, net: &Network, ip: Ipv4Addr) -> Result<(), String> {
        self.deps
            .veths
            .send(EnsureVeth {
                name: veth.to_string(),
                network: net.name.clone(),
                address: plan::cidr(net, ip),
                gateway: net.gateway_ip().to_string(),
                bridge: net.bridge.clone(),
                correlation: self.correlation.clone(),
            })
            .await
            .map_err(|e| format!("veths actor: {e}"))?
            .map_err(|e| e.to_string())
    }

    async fn remove_veth(&self, veth: &str) -> Result<(), String> {
        self.deps
            .veths
            .send(RemoveVeth {
                name: veth.to_string(),
                correlation: self.correlation.clone(),
            })
            .await
            .map_err(|e| format!("veths actor: {e}"))?
            .map_err(|e| e.to_string())
    }

    async fn release_ip(&self, network: &str, veth: &str) -> Result<(), String> {
        self.deps
            .ipam
            .send(Release {
                network: network.to_string(),
                key: veth.to_string(),
                correlation: self.correlation.clone(),
            })
            .await
            .map_err(|e| format!("ipam actor: {e}"))?
            .map_err(|e| format!("releasing {veth}: {e}"))
    }

    /// §3.1/§3.3 for a desired pod.
    async fn create(&self, desired: &DesiredPod, units: &[String]) -> Result<(), String> {
        let pod = &desired.pod;
        plan::check(pod)?;
        let net = plan::network(&self.deps.config, pod)?.clone();
        let static_ip = naming::static_ip(pod)?;
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
                && naming::auto_update(pod)
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
                if present.is_some() {
                    // The container is there; its veth and bridge port may not be.
                    if let Ok(ip) = r.ip.parse::<Ipv4Addr>()
                        && !r.veth.is_empty()
                    {
                        self.ensure_veth(&r.veth, &net, ip).await?;
                    }
                    continue;
                }
            }
            let step = Step {
                pod: desired,
                index: i,
                net: &net,
                static_ip,
                rec: rec.as_ref(),
                rebuild,
                units,
            };
            self.create_container(&ros, step).await?;
        }
        Ok(())
    }

    async fn create_container(&self, ros: &RosClient, s: Step<'_>) -> Result<(), String> {
        let pod = &s.pod.pod;
        let c = &spec_containers(pod)[s.index];
        let (tarball, digest) = self.image(pod, c).await?;
        let plan = plan::container_plan(&self.deps.config, pod, s.index, s.net, &tarball)
            .ok_or_else(|| format!("container {} missing from the spec", c.name))?;
        let veth = plan.spec.interface.clone();
        let ip = self.allocate(ros, &s, &veth, &c.name).await?;
        let result = self
            .create_on_device(ros, &s, &c.name, &plan, ip, &digest)
            .await;
        if let Err(reason) = result {
            // L-7: this attempt's container, veth and address do not outlive it.
            let _ = ros.delete_pod_container(&plan.spec.name, None).await;
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
        if let Some(file) = naming::file(pod) {
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

    /// NET-1, address part: the static IP; else what this container already held; else the
    /// address a same-named device veth carries (adoption keeps a running container's IP);
    /// else the next free one. Same-owner allocation is idempotent (IPAM-3 [F]).
    async fn allocate(
        &self,
        ros: &RosClient,
        s: &Step<'_>,
        veth: &str,
        container: &str,
    ) -> Result<Ipv4Addr, String> {
        let mut wish = s.static_ip;
        if wish.is_none() {
            wish = s
                .rec
                .filter(|r| r.network == s.net.name)
                .and_then(|r| r.ip.parse().ok());
        }
        if wish.is_none() {
            let found = ros
                .find_veth(veth)
                .await
                .map_err(|e| format!("reading veth {veth}: {e}"))?;
            wish = found
                .and_then(|v| v.ipv4())
                .and_then(|cidr| cidr.split('/').next()?.parse::<Ipv4Addr>().ok())
                .filter(|ip| s.net.subnet().contains(ip));
        }
        let ask = |static_ip| Allocate {
            network: s.net.name.clone(),
            key: veth.to_string(),
            hostname: format!("{container}.{}", self.name),
            static_ip,
            correlation: self.correlation.clone(),
        };
        let first = self
            .deps
            .ipam
            .send(ask(wish))
            .await
            .map_err(|e| format!("ipam actor: {e}"))?;
        let result = match first {
            Err(_) if s.static_ip.is_none() && wish.is_some() => self
                .deps
                .ipam
                .send(ask(None))
                .await
                .map_err(|e| format!("ipam actor: {e}"))?,
            Err(AllocateError::Ipam(IpamError::Taken { holder, .. }))
                if s.static_ip.is_some() && self.stale_holder(ros, &holder, veth).await? =>
            {
                // §3.1 step 2 [F] / L-6: a stale holder (no desired pod's veth, not on the
                // device) is released and the allocation retried once.
                tracing::info!(%holder, %veth, "releasing stale holder of a static IP");
                self.release_ip(&s.net.name, &holder).await?;
                self.deps
                    .ipam
                    .send(ask(wish))
                    .await
                    .map_err(|e| format!("ipam actor: {e}"))?
            }
            other => other,
        };
        result.map_err(|e| format!("allocating network for {veth}: {e}"))
    }

    /// Whether IPAM key `holder` may be released for `veth`: it is no desired pod's veth and
    /// no device veth carries the name.
    async fn stale_holder(
        &self,
        ros: &RosClient,
        holder: &str,
        veth: &str,
    ) -> Result<bool, String> {
        if holder == veth {
            return Ok(false);
        }
        let state: super::state::PodsState = self
            .pods
            .send(GetState::new())
            .await
            .map_err(|e| format!("pods actor: {e}"))?;
        let claimed = state
            .pods
            .values()
            .any(|p| naming::veth_names(&p.pod).iter().any(|v| v == holder));
        if claimed {
            return Ok(false);
        }
        let on_device = ros
            .find_veth(holder)
            .await
            .map_err(|e| format!("reading veth {holder}: {e}"))?;
        Ok(on_device.is_none())
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
            device_name: spec.name.clone(),
            device_id: String::new(),
            adopted: false,
            started: false,
            veth: veth.clone(),
            network: s.net.name.clone(),
            ip: ip.to_string(),
            revision: s.pod.revision,
            image_digest: digest.to_string(),
            removing: false,
        };
        let same_intent = s.rec.is_some_and(|r| {
            r.device_name == intent.device_name
                && r.veth == intent.veth
                && r.network == intent.network
                && r.ip == intent.ip
                && r.revision == intent.revision
                && r.image_digest == intent.image_digest
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
            })
            .await?;
        }
        self.ensure_veth(veth, s.net, ip).await?;
        let (id, adopted, started) = self
            .container(ros, plan, s.rebuild)
            .await
            .map_err(|e| format!("creating container {}: {e}", spec.name))?;
        self.record(PodsEvent::ContainerCreated {
            namespace: self.ns.clone(),
            name: self.name.clone(),
            container: container.to_string(),
            device_name: spec.name.clone(),
            device_id: id,
            adopted,
        })
        .await?;
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
            self.record_lifecycle(LifecycleEvent::UnitRegistered {
                unit: spec.name.clone(),
                pod: format!("{}/{}", self.ns, self.name),
                restart_policy: "Always".into(),
                start_on_boot: true,
                priority: naming::boot_priority(pod, 0),
                depends_on: naming::depends_on(pod),
            })
            .await?;
        }
        Ok(())
    }

    /// §3.1 steps 0 and 3–7: adopt a matching row, else replace whatever has the name.
    /// Returns (device id, adopted, running).
    async fn container(
        &self,
        ros: &RosClient,
        plan: &ContainerPlan,
        rebuild: bool,
    ) -> Result<(String, bool, bool), RosError> {
        let spec = &plan.spec;
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
        // Step 5 [F]: move the old root dir aside (O(1)); never a recursive delete (L-13).
        ros.move_aside(&spec.root_dir).await?;
        let id = ros.add_container(spec).await?;
        let row = ros.wait_extracted(&spec.name).await?;
        let id = if id.is_empty() { row.id.clone() } else { id };
        if !row.state.is_running() {
            ros.start_container(&id).await?;
        }
        Ok((id, false, true))
    }
}

/// One container's create inputs.
struct Step<'a> {
    pod: &'a DesiredPod,
    index: usize,
    net: &'a Network,
    static_ip: Option<Ipv4Addr>,
    rec: Option<&'a DeviceContainer>,
    rebuild: bool,
    units: &'a [String],
}

fn spec_containers(pod: &Pod) -> &[k8s_openapi::api::core::v1::Container] {
    pod.spec
        .as_ref()
        .map(|s| s.containers.as_slice())
        .unwrap_or(&[])
}
