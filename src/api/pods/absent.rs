//! Pods of a node whose controller does not answer a fleet list (issue 16): read from that
//! node's own subjects of the log (its snapshot, then the tail), folded apart and never into
//! this node's state, and shown as its log last recorded them. Nobody asked its device, so
//! no status is claimed: phase `Unknown`, reason `NodeLost`, condition `Ready` `Unknown`, no
//! container statuses. A Kubernetes API server likewise keeps listing the pods of a node
//! that stopped reporting.

use super::table;
use super::view::{PodsView, RenderInputs, pod_field, render, selected};
use crate::actors::cluster::Fold;
use crate::actors::observations::ObservationState;
use crate::actors::replay::{Visit, boot_replay, fold_log};
use crate::api::machinery::objects::time;
use crate::api::machinery::params::ListParams;
use crate::api::{ApiState, cluster};
use crate::events::snapshot::SnapshotStore;
use crate::pod::status::StatusInputs;
use k8s_openapi::api::core::v1::{Pod, PodCondition, PodStatus};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;

/// The last fold of every absent node read so far: the next list reads only its new tail.
#[derive(Default)]
pub struct AbsentNodes {
    folds: tokio::sync::Mutex<HashMap<String, Fold>>,
}

pub const REASON: &str = "NodeLost";

/// `node`'s pods in namespace `ns` (all when `None`) selected by `params`, as list items, or
/// as Table rows when `as_table`.
pub async fn listed(
    state: &ApiState,
    node: &str,
    ns: Option<&str>,
    params: &ListParams,
    as_table: bool,
) -> Result<Vec<Value>, String> {
    let pods = pods_of(state, node, ns, params).await?;
    if as_table {
        let t = table::table(&pods, 0);
        return Ok(t["rows"].as_array().cloned().unwrap_or_default());
    }
    pods.iter()
        .map(|p| serde_json::to_value(p).map_err(|e| e.to_string()))
        .collect()
}

/// Pod `ns/name` of `node`, as a pod or a one-row Table; `None` when its log has no such pod.
pub async fn one(
    state: &ApiState,
    node: &str,
    ns: &str,
    name: &str,
    as_table: bool,
) -> Result<Option<Value>, String> {
    let params = ListParams {
        fields: vec![("metadata.name".into(), name.into(), true)],
        ..ListParams::default()
    };
    let pods = pods_of(state, node, Some(ns), &params).await?;
    let Some(pod) = pods.first() else {
        return Ok(None);
    };
    let resource_version = pod.metadata.resource_version.clone().unwrap_or_default();
    match as_table {
        true => Ok(Some(table::table(&pods, resource_version))),
        false => serde_json::to_value(pod)
            .map(Some)
            .map_err(|e| e.to_string()),
    }
}

async fn pods_of(
    state: &ApiState,
    node: &str,
    ns: Option<&str>,
    params: &ListParams,
) -> Result<Vec<Pod>, String> {
    let view = view_of(state, node).await?;
    let inputs = RenderInputs {
        status: StatusInputs {
            units: &view.pods.units,
            networks: &state.networks,
            node,
            started: time(state.started_at()),
            address: Box::new(|network: &str, veth: &str| {
                view.ipam
                    .pools
                    .get(network)?
                    .get(veth)
                    .map(|a| a.ip.to_string())
            }),
        },
        observations: &view.observations,
    };
    let mut pods = Vec::new();
    for (desired, rv) in selected(&view, node, ns, params) {
        let mut pod = render(desired, rv, &inputs);
        pod.status = Some(lost_status(node, pod.status.take()));
        if params
            .fields_match(|f| pod_field(&pod, f))
            .map_err(|e| e.to_string())?
        {
            pods.push(pod);
        }
    }
    Ok(pods)
}

/// The node's pods and IPAM as its log holds them now, read through this controller's
/// connection; the fold is kept for the next list.
async fn view_of(state: &ApiState, node: &str) -> Result<PodsView, String> {
    let c = cluster(state).map_err(|e| e.to_string())?;
    let reader = c.log.reader_of(node);
    let mut folds = state.absent.folds.lock().await;
    let fold = match folds.remove(node) {
        Some(mut fold) => {
            let last = reader.last_sequence().await.map_err(|e| e.to_string())?;
            fold_log(&reader, &mut fold, last, |_, _| Visit::Continue)
                .await
                .map_err(|e| e.to_string())?;
            fold
        }
        None => {
            let snapshots = SnapshotStore::open(&reader)
                .await
                .map_err(|e| e.to_string())?;
            boot_replay(&reader, &snapshots)
                .await
                .map_err(|e| e.to_string())?
                .fold
        }
    };
    let view = PodsView {
        pods: Arc::new(fold.state.pods.clone()),
        ipam: Arc::new(fold.state.ipam.clone()),
        seqs: Arc::new(fold.subject_seqs.clone().into_iter().collect()),
        observations: Arc::new(ObservationState::default()),
    };
    folds.insert(node.to_string(), fold);
    Ok(view)
}

/// What is known of a pod whose node does not answer: its address and start time from the
/// log, nothing of its containers.
fn lost_status(node: &str, recorded: Option<PodStatus>) -> PodStatus {
    let recorded = recorded.unwrap_or_default();
    let message = format!("node {node} does not answer; shown as its log last recorded it");
    PodStatus {
        phase: Some("Unknown".into()),
        reason: Some(REASON.into()),
        message: Some(message.clone()),
        conditions: Some(vec![PodCondition {
            type_: "Ready".into(),
            status: "Unknown".into(),
            reason: Some(REASON.into()),
            message: Some(message),
            ..Default::default()
        }]),
        host_ip: recorded.host_ip,
        pod_ip: recorded.pod_ip,
        pod_ips: recorded.pod_ips,
        start_time: recorded.start_time,
        ..Default::default()
    }
}
