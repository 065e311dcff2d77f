//! The pod worker: one job at a time per pod key (the pods actor guarantees it, L-4) that
//! brings the device in line with the pod's recorded state — tear down what a deletion or a
//! network move left, create or adopt what is missing, rebuild what an update changed.
//!
//! Rule 6 of the design: every device effect is preceded by an intent event
//! (`ContainerCreating`, `ContainerRemoving`; IPAM's `IpAllocated`) and followed by its outcome
//! (`ContainerCreated`, `VethCreated`, `ContainerRemoved`, `VethRemoved`, `IpReleased`). Names
//! are deterministic, so a job cut short by a crash is resumed by the next one: an object with
//! the expected name and properties is adopted, never duplicated.

mod address;
mod config_volumes;
mod container;
pub mod crash;
mod create;
pub mod env;
mod holders;
mod teardown;

use super::facts::{Fact, RecordFact};
use super::plan;
use super::{GetPod, JobError, PodView, PodsActor};
use crate::actors::configmaps::ConfigMapsActor;
use crate::actors::configmaps::state::ConfigMapsState;
use crate::actors::device::DeviceLink;
use crate::actors::images::ImagesActor;
use crate::actors::ipam::state::IpamState;
use crate::actors::ipam::{IpamActor, Release};
use crate::actors::pods::state::PodsState;
use crate::actors::published::Published;
use crate::actors::veths::{EnsureVeth, RemoveVeth, VethsActor};
use crate::config::{Config, Network};
use crate::events::catalogue::PodsEvent;
use crate::pod::annotations;
use crate::routeros::{Observation, RosClient};
use actix::prelude::*;
use std::net::Ipv4Addr;
use std::sync::Arc;

/// What a worker talks to, and the folds it reads (published snapshots, `published.rs`).
/// The pods actor's own address is passed per job.
#[derive(Clone)]
pub struct WorkerDeps {
    pub config: Arc<Config>,
    pub device: DeviceLink,
    pub ipam: Addr<IpamActor>,
    /// IPAM's addresses (§5 step 4b).
    pub ipam_view: Published<IpamState>,
    /// The desired pods (whose veths a static IP's holder may be).
    pub pods_view: Published<PodsState>,
    pub veths: Addr<VethsActor>,
    pub images: Addr<ImagesActor>,
    pub configmaps: Addr<ConfigMapsActor>,
    /// ConfigMap volume files (NAME-6) and env (`pod::env`) are resolved from it.
    pub configmaps_view: Published<ConfigMapsState>,
    /// Told when a pod's job ends (`settled.rs`; the dns actor, so names follow addresses).
    pub settled: Option<Recipient<super::settled::PodSettled>>,
}

/// Stand-in digest of a forced rebuild (never a real `sha256:` digest).
const REDEPLOY: &str = "redeploy";

struct Job {
    deps: WorkerDeps,
    pods: Addr<PodsActor>,
    ns: String,
    name: String,
    correlation: String,
    /// The last reconcile pass's bulk observation (`DeviceObserved`), if there was one.
    seen: Option<Arc<Observation>>,
}

/// Converges one pod; an `Err`'s text is the reason recorded in `PodCreateFailed` (the caller
/// backs off). `recreate` rebuilds created containers even when spec and digest are unchanged
/// (redeploy, images.md §4.5). `seen`: the observation cold creates decide from.
pub async fn converge(
    deps: WorkerDeps,
    pods: Addr<PodsActor>,
    key: String,
    recreate: bool,
    seen: Option<Arc<Observation>>,
) -> Result<(), JobError> {
    let id = crate::pod::PodKey::parse(&key);
    let job = Job {
        deps,
        pods,
        ns: id.namespace,
        name: id.name,
        correlation: format!("worker/{key}/{}", uuid::Uuid::new_v4()),
        seen,
    };
    let view: PodView = job
        .pods
        .send(GetPod { key: key.clone() })
        .await
        .map_err(JobError::actor("pods"))?;
    // An unreachable device is an outage, not a fact about the pod: nothing is recorded and
    // the caller backs off.
    job.ros().await?;
    if let Some(old) = view.deleting {
        job.tear_down_pod(&old, view.units.as_slice()).await?;
    }
    let Some(mut pod) = view.desired else {
        return Ok(());
    };
    if recreate && annotations::auto_update(&pod.pod) {
        // The create path rebuilds an auto pod whose recorded digest differs from the cache's
        // (§5 step 3c); a digest no image has makes it rebuild every created container. The
        // intent it records carries the real digest, so the state stays exact.
        for rec in pod.containers.values_mut().filter(|r| r.is_created()) {
            rec.image_digest = REDEPLOY.to_string();
        }
    }
    let result = match view.veth_clash {
        // NAME-2 [D]: the pod that yields fails until the name is free.
        Some(other) => Err(JobError::VethClash { other }),
        None => job.create(&pod, &view.units).await,
    };
    let Err(error) = result else {
        return Ok(());
    };
    let reason = error.to_string();
    tracing::warn!(pod = %key, %reason, "pod create failed");
    if pod.last_failure.as_ref() != Some(&reason) || pod.failure_reason != error.waiting_reason() {
        let _ = job
            .record(PodsEvent::PodCreateFailed {
                namespace: job.ns.clone(),
                name: job.name.clone(),
                reason: reason.clone(),
                waiting_reason: error.waiting_reason().to_string(),
            })
            .await;
    }
    Err(error)
}

impl Job {
    /// Records one of the pods actor's facts (pods or lifecycle area).
    async fn record(&self, event: impl Into<Fact>) -> Result<u64, JobError> {
        self.pods
            .send(RecordFact {
                event: event.into(),
                correlation: self.correlation.clone(),
            })
            .await
            .map_err(JobError::actor("pods"))?
            .map_err(JobError::Record)
    }

    async fn ros(&self) -> Result<RosClient, JobError> {
        self.deps
            .device
            .get()
            .await
            .map_err(|e| JobError::Unreachable(Box::new(e)))
    }

    /// NET-1, device part, through the veths actor (idempotent: reads only when in place).
    /// `absent`: the bulk observation shows neither the veth nor its port (add first).
    async fn ensure_veth(
        &self,
        veth: &str,
        net: &Network,
        ip: Ipv4Addr,
        absent: bool,
    ) -> Result<(), JobError> {
        self.deps
            .veths
            .send(EnsureVeth {
                name: veth.to_string(),
                network: net.name.clone(),
                address: plan::cidr(net, ip),
                gateway: net.gateway_ip().to_string(),
                bridge: net.bridge.clone(),
                correlation: self.correlation.clone(),
                absent,
            })
            .await
            .map_err(JobError::actor("veths"))?
            .map_err(JobError::from)
    }

    async fn remove_veth(&self, veth: &str) -> Result<(), JobError> {
        self.deps
            .veths
            .send(RemoveVeth {
                name: veth.to_string(),
                correlation: self.correlation.clone(),
            })
            .await
            .map_err(JobError::actor("veths"))?
            .map_err(JobError::from)
    }

    async fn release_ip(&self, network: &str, veth: &str) -> Result<(), JobError> {
        self.deps
            .ipam
            .send(Release {
                network: network.to_string(),
                key: veth.to_string(),
                correlation: self.correlation.clone(),
            })
            .await
            .map_err(JobError::actor("ipam"))?
            .map_err(|source| JobError::Release {
                veth: veth.to_string(),
                source,
            })
    }
}
