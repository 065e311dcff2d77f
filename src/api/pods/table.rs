//! The pods `Table` (controller.md §9): Name, Ready `r/t`, Status, Restarts, Age; `-o wide`
//! adds IP and Node.

use crate::api::machinery::objects::age;
use crate::api::machinery::table::{Column, col, row, table as build};
use k8s_openapi::api::core::v1::Pod;
use serde_json::{Value, json};

const COLUMNS: [Column; 7] = [
    col("Name", "string", 0),
    col("Ready", "string", 0),
    col("Status", "string", 0),
    col("Restarts", "string", 0),
    col("Age", "string", 0),
    col("IP", "string", 1),
    col("Node", "string", 1),
];

/// The Status column: `Running` when every container runs, else the first container's
/// waiting or terminated reason (as kubectl prints it), else the pod's reason (`NodeLost`),
/// else the phase.
fn status_word(pod: &Pod) -> String {
    let status = pod.status.as_ref();
    let phase = status.and_then(|s| s.phase.clone()).unwrap_or_default();
    if phase == "Running" {
        return phase;
    }
    status
        .and_then(|s| s.container_statuses.as_ref())
        .into_iter()
        .flatten()
        .find_map(|c| {
            let state = c.state.as_ref()?;
            state
                .waiting
                .as_ref()
                .and_then(|w| w.reason.clone())
                .or_else(|| state.terminated.as_ref().and_then(|t| t.reason.clone()))
        })
        .or_else(|| status.and_then(|s| s.reason.clone()))
        .unwrap_or(phase)
}

pub fn cells(pod: &Pod) -> Vec<Value> {
    let statuses = pod
        .status
        .as_ref()
        .and_then(|s| s.container_statuses.clone())
        .unwrap_or_default();
    let total = pod.spec.as_ref().map(|s| s.containers.len()).unwrap_or(0);
    let ready = statuses.iter().filter(|c| c.ready).count();
    let restarts: i64 = statuses.iter().map(|c| i64::from(c.restart_count)).sum();
    let ip = pod
        .status
        .as_ref()
        .and_then(|s| s.pod_ip.clone())
        .unwrap_or_else(|| "<none>".into());
    let node = pod
        .spec
        .as_ref()
        .and_then(|s| s.node_name.clone())
        .unwrap_or_else(|| "<none>".into());
    vec![
        json!(pod.metadata.name.clone().unwrap_or_default()),
        json!(format!("{ready}/{total}")),
        json!(status_word(pod)),
        json!(restarts.to_string()),
        json!(age(pod.metadata.creation_timestamp.as_ref())),
        json!(ip),
        json!(node),
    ]
}

pub fn table(pods: &[Pod], resource_version: impl std::fmt::Display) -> Value {
    let rows = pods.iter().map(|p| row(cells(p), &p.metadata)).collect();
    build(&COLUMNS, rows, resource_version)
}
