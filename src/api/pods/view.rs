//! A desired pod as the API shows it: the stored spec plus what the controller fills in —
//! `uid`, `creationTimestamp`, `resourceVersion` (`version.rs`), `spec.nodeName` and the
//! status of `pod::status`.

use crate::actors::ipam::state::IpamState;
use crate::actors::observations::ObservationState;
use crate::actors::pods::state::PodsState;
use crate::api::machinery::objects::{derived_uid, time};
use crate::api::machinery::params::ListParams;
use crate::api::machinery::status::ApiError;
use crate::api::machinery::version::ResourceVersion;
use crate::api::{ApiState, cluster};
use crate::events::subject;
use crate::pod::status::{StatusInputs, pod_status};
use crate::pod::{DesiredPod, pod_key};
use k8s_openapi::api::core::v1::Pod;
use std::collections::HashMap;
use std::sync::Arc;

/// The pods and IPAM folds and the pods' subject sequences: shared snapshots published by
/// their actors (`actors::published`), not copies. A watch that folds further events into
/// its view copies the fold on its first change (`Arc::make_mut`). `observations` is what
/// the device last showed, as of the same moment.
pub struct PodsView {
    pub pods: Arc<PodsState>,
    pub ipam: Arc<IpamState>,
    pub seqs: Arc<HashMap<String, u64>>,
    pub observations: Arc<ObservationState>,
}

impl PodsView {
    /// The sequence of the last event on a pod's subject.
    pub fn seq(&self, node: &str, ns: &str, name: &str) -> u64 {
        let subject = subject::for_key(node, "pods", &[ns, name]);
        self.seqs.get(&subject).copied().unwrap_or(0)
    }

    /// `resourceVersion` of a pod: its last event's sequence, and the generation of the
    /// observation its status shows.
    pub fn resource_version(&self, node: &str, ns: &str, name: &str) -> ResourceVersion {
        let generation = self
            .observations
            .pods
            .get(&pod_key(ns, name))
            .map_or(0, |o| o.generation);
        ResourceVersion {
            seq: self.seq(node, ns, name),
            generation,
        }
    }

    /// The version of a list: the log's last sequence and the newest observation.
    pub fn list_version(&self, last_seq: u64) -> ResourceVersion {
        ResourceVersion {
            seq: last_seq,
            generation: self.observations.generation,
        }
    }
}

/// The current pods and IPAM folds. Usually no mailbox round trip: the actors' published
/// snapshots are read directly; after a write the actor is asked once for a fresh one, so a
/// read that follows an acknowledged write sees it.
pub async fn pods_view(state: &ApiState) -> Result<PodsView, ApiError> {
    let cluster = cluster(state)?;
    let pods = cluster
        .pods_published
        .read(&cluster.pods)
        .await
        .map_err(|e| ApiError::internal(format!("pods actor unavailable: {e}")))?;
    let ipam = cluster
        .ipam_published
        .read(&cluster.ipam)
        .await
        .map_err(|e| ApiError::internal(format!("ipam actor unavailable: {e}")))?;
    Ok(PodsView {
        pods: pods.state,
        ipam: ipam.state,
        seqs: pods.seqs,
        observations: cluster.observations.snapshot(),
    })
}

/// The uid a pod shows: the one stored at create, else one derived from its key.
pub fn pod_uid(pod: &Pod) -> String {
    pod.metadata.uid.clone().unwrap_or_else(|| {
        derived_uid(&format!(
            "pod/{}/{}",
            crate::pod::namespace_of(&pod.metadata),
            pod.metadata.name.as_deref().unwrap_or_default()
        ))
    })
}

/// What rendering pods of one view needs: the status inputs and the observations.
pub struct RenderInputs<'a> {
    pub status: StatusInputs<'a>,
    pub observations: &'a ObservationState,
}

impl RenderInputs<'_> {
    /// The status of `desired` whose last event has sequence `seq`.
    pub fn status_of(
        &self,
        desired: &DesiredPod,
        seq: u64,
    ) -> k8s_openapi::api::core::v1::PodStatus {
        let seen = self.observations.pods.get(&key_of(desired));
        pod_status(desired, seq, seen, &self.status)
    }
}

impl ApiState {
    pub fn status_inputs<'a>(&'a self, view: &'a PodsView) -> RenderInputs<'a> {
        let ipam = &view.ipam;
        RenderInputs {
            status: StatusInputs {
                units: &view.pods.units,
                networks: &self.networks,
                node: &self.node,
                started: time(self.started_at()),
                address: Box::new(move |network: &str, veth: &str| {
                    ipam.pools.get(network)?.get(veth).map(|a| a.ip.to_string())
                }),
            },
            observations: &view.observations,
        }
    }

    /// Wall-clock time this controller started.
    pub fn started_at(&self) -> chrono::DateTime<chrono::Utc> {
        chrono::Utc::now() - chrono::Duration::from_std(self.started.elapsed()).unwrap_or_default()
    }
}

/// The pod as the API shows it; `resource_version.seq` is also the sequence the status
/// compares observations with.
pub fn render(
    desired: &DesiredPod,
    resource_version: ResourceVersion,
    inputs: &RenderInputs,
) -> Pod {
    let mut pod = desired.pod.clone();
    pod.metadata.uid = Some(pod_uid(&pod));
    if pod.metadata.creation_timestamp.is_none() {
        pod.metadata.creation_timestamp = inputs.status.started.clone();
    }
    pod.metadata.resource_version = Some(resource_version.to_string());
    if let Some(spec) = pod.spec.as_mut()
        && spec.node_name.is_none()
    {
        spec.node_name = Some(inputs.status.node.to_string());
    }
    pod.status = Some(inputs.status_of(desired, resource_version.seq));
    pod
}

/// The pod key of a desired pod.
pub fn key_of(desired: &DesiredPod) -> String {
    let m = &desired.pod.metadata;
    pod_key(
        crate::pod::namespace_of(m),
        m.name.as_deref().unwrap_or_default(),
    )
}

/// Field selectors kubectl uses on pods (`get pod x -w` selects `metadata.name`).
pub fn pod_field(pod: &Pod, field: &str) -> Option<String> {
    let m = &pod.metadata;
    Some(match field {
        "metadata.name" => m.name.clone().unwrap_or_default(),
        "metadata.namespace" => m.namespace.clone().unwrap_or_default(),
        "spec.nodeName" => pod.spec.as_ref()?.node_name.clone().unwrap_or_default(),
        "status.phase" => pod.status.as_ref()?.phase.clone().unwrap_or_default(),
        _ => return None,
    })
}

/// Desired pods in namespace `ns` (all when `None`) whose labels match, in key order, with
/// their resource versions.
pub fn selected<'v>(
    view: &'v PodsView,
    node: &'v str,
    ns: Option<&'v str>,
    params: &'v ListParams,
) -> impl Iterator<Item = (&'v DesiredPod, ResourceVersion)> + 'v {
    view.pods.pods.values().filter_map(move |desired| {
        let m = &desired.pod.metadata;
        let pod_ns = crate::pod::namespace_of(m);
        if ns.is_some_and(|ns| ns != pod_ns) || !params.labels_match(m.labels.as_ref()) {
            return None;
        }
        let name = m.name.as_deref().unwrap_or_default();
        Some((desired, view.resource_version(node, pod_ns, name)))
    })
}

/// Desired pods rendered with status, filtered by namespace and selectors, in key order.
pub async fn rendered_pods(
    state: &ApiState,
    view: &PodsView,
    ns: Option<&str>,
    params: &ListParams,
) -> Result<Vec<Pod>, ApiError> {
    let cluster = cluster(state)?;
    let inputs = state.status_inputs(view);
    let mut out = Vec::new();
    for (desired, rv) in selected(view, cluster.log.node(), ns, params) {
        let pod = render(desired, rv, &inputs);
        if params.fields_match(|f| pod_field(&pod, f))? {
            out.push(pod);
        }
    }
    Ok(out)
}
