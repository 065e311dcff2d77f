//! Watches (API-3): one JSON object per line, `{"type": ADDED|MODIFIED|DELETED, "object": …}`.
//! Without `resourceVersion` (or with `0`) every current object comes first as `ADDED`; then
//! the log is followed and every event about a watched object becomes a line whose object's
//! `resourceVersion` is that event's sequence. `?resourceVersion=N` resumes after sequence N;
//! an N whose successors the stream no longer holds is `410 Expired`, as Kubernetes answers.

use super::configmaps::render_config_map;
use super::objects::typed;
use super::params::ListParams;
use super::pod_view::{PodsView, cluster, pods_view, render};
use super::status::ApiError;
use super::{ApiState, pod_table, pods, table};
use crate::actors::configmaps::state::{ConfigMapsState, config_map_key};
use crate::actors::journal::GetState;
use crate::actors::pods::state::{DesiredPod, pod_key};
use crate::actors::wiring::Cluster;
use crate::events::catalogue::{ConfigMapsEvent, PodSource, PodsEvent};
use crate::events::{Event, Record};
use actix_web::{HttpRequest, HttpResponse, web};
use futures::channel::mpsc;
use futures::{SinkExt, StreamExt};
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::Duration;

type Reply = Result<HttpResponse, ApiError>;
type Line = Result<web::Bytes, actix_web::Error>;

/// How often an idle watch checks that its client is still there.
const IDLE_CHECK: Duration = Duration::from_secs(2);
/// Longest `timeoutSeconds` honoured (a year).
const MAX_WATCH_SECONDS: u64 = 365 * 24 * 3600;

pub(super) fn line(kind: &str, object: &Value) -> web::Bytes {
    let mut bytes =
        serde_json::to_vec(&json!({"type": kind, "object": object})).unwrap_or_default();
    bytes.push(b'\n');
    web::Bytes::from(bytes)
}

/// Where following starts: after the requested version (checked against what the stream still
/// holds), or after the current end when the client gets the current objects first.
pub(super) async fn start(cluster: &Cluster, params: &ListParams) -> Result<(u64, bool), ApiError> {
    let unavailable = |e: crate::events::LogError| ApiError::unavailable(e.to_string());
    match params.resource_version.filter(|v| *v > 0) {
        Some(rv) => {
            let first = cluster.log.first_sequence().await.map_err(unavailable)?;
            if rv.saturating_add(1) < first {
                return Err(ApiError::expired(format!(
                    "too old resource version: {rv} ({})",
                    first - 1
                )));
            }
            Ok((rv.saturating_add(1), false))
        }
        None => Ok((
            cluster
                .log
                .last_sequence()
                .await
                .map_err(unavailable)?
                .saturating_add(1),
            true,
        )),
    }
}

/// Streams what `on_record` makes of every record from `from` on, after `initial`.
pub(super) fn respond(
    cluster: &Cluster,
    from: u64,
    initial: Vec<web::Bytes>,
    timeout: Option<u64>,
    mut on_record: impl FnMut(&Record) -> Vec<web::Bytes> + 'static,
) -> HttpResponse {
    let (mut tx, rx) = mpsc::channel::<Line>(64);
    let log = cluster.log.clone();
    actix_web::rt::spawn(async move {
        let follow = async {
            for bytes in initial {
                if tx.send(Ok(bytes)).await.is_err() {
                    return;
                }
            }
            let mut records = Box::pin(log.follow(from));
            loop {
                let next = tokio::time::timeout(IDLE_CHECK, records.next()).await;
                match next {
                    Ok(Some(record)) => {
                        for bytes in on_record(&record) {
                            if tx.send(Ok(bytes)).await.is_err() {
                                return;
                            }
                        }
                    }
                    Ok(None) => return,
                    Err(_idle) if tx.is_closed() => return,
                    Err(_idle) => {}
                }
            }
        };
        match timeout {
            Some(secs) => {
                // Clamped: a far-future deadline must not overflow the timer.
                let limit = Duration::from_secs(secs.min(MAX_WATCH_SECONDS));
                let _ = tokio::time::timeout(limit, follow).await;
            }
            None => follow.await,
        }
    });
    HttpResponse::Ok()
        .content_type("application/json")
        .insert_header(("Transfer-Encoding", "chunked"))
        .streaming(rx)
}

fn pod_object(pod: &Pod, as_table: bool, rv: u64) -> Value {
    if as_table {
        pod_table::table(std::slice::from_ref(pod), rv)
    } else {
        typed(pod, "Pod", "v1")
    }
}

/// A deleted pod as the watch reports it: its last known object, else namespace and name.
fn deleted_pod(last: Option<Pod>, ns: &str, name: &str, seq: u64) -> Pod {
    let mut pod = last.unwrap_or_else(|| Pod {
        metadata: ObjectMeta {
            namespace: Some(ns.into()),
            name: Some(name.into()),
            ..Default::default()
        },
        ..Default::default()
    });
    pod.metadata.resource_version = Some(seq.to_string());
    pod
}

pub async fn pods(
    state: &ApiState,
    req: &HttpRequest,
    ns: Option<String>,
    params: ListParams,
) -> Reply {
    let cluster = cluster(state)?.clone();
    let as_table = table::wants_table(req);
    let (from, send_current) = start(&cluster, &params).await?;
    let mut view: PodsView = pods_view(state).await?;
    let current = pods::rendered_pods(state, &view, ns.as_deref(), &ListParams::default()).await?;
    // Each pod's sequence as the view holds it: older events are already folded in.
    let mut known: BTreeMap<String, u64> = BTreeMap::new();
    let mut initial = Vec::new();
    for pod in &current {
        let rv = pod
            .metadata
            .resource_version
            .as_deref()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let key = pod_key(
            pod.metadata.namespace.as_deref().unwrap_or_default(),
            pod.metadata.name.as_deref().unwrap_or_default(),
        );
        known.insert(key, rv);
        let selected = params.labels_match(pod.metadata.labels.as_ref())
            && params.fields_match(|f| pods::pod_field(pod, f))?;
        if send_current && selected {
            initial.push(line("ADDED", &pod_object(pod, as_table, rv)));
        }
    }
    let api = state.clone();
    let timeout = params.timeout_seconds;
    let on_record = move |record: &Record| -> Vec<web::Bytes> {
        let Ok(envelope) = record.decode() else {
            return Vec::new();
        };
        let event = match envelope.event {
            Event::Ipam(e) => {
                std::sync::Arc::make_mut(&mut view.ipam).apply(&e);
                return Vec::new();
            }
            Event::Pods(e) => e,
            _ => return Vec::new(),
        };
        let (pod_ns, name) = event.pod_key();
        let (pod_ns, name) = (pod_ns.to_string(), name.to_string());
        let key = pod_key(&pod_ns, &name);
        let inputs_before = view
            .pods
            .pods
            .get(&key)
            .map(|d| render(d, record.seq, &api.status_inputs(&view)));
        if record.seq > known.get(&key).copied().unwrap_or(0) {
            std::sync::Arc::make_mut(&mut view.pods).apply(&event);
            known.insert(key.clone(), record.seq);
        }
        // Resuming inside a pod's history whose declaration came before the resume point: its
        // update still shows the pod (the fold alone would ignore an update of an unknown pod).
        if let PodsEvent::PodUpdated { pod, .. } = &event
            && !view.pods.pods.contains_key(&key)
        {
            let desired = DesiredPod {
                pod: (**pod).clone(),
                source: PodSource::Api,
                containers: BTreeMap::new(),
                last_failure: None,
                revision: 0,
            };
            std::sync::Arc::make_mut(&mut view.pods)
                .pods
                .insert(key.clone(), desired);
        }
        if ns.as_deref().is_some_and(|ns| ns != pod_ns) {
            return Vec::new();
        }
        let (kind, pod) = match &event {
            PodsEvent::PodDeleted { .. } => (
                "DELETED",
                deleted_pod(inputs_before, &pod_ns, &name, record.seq),
            ),
            other => {
                let Some(desired) = view.pods.pods.get(&key) else {
                    return Vec::new();
                };
                let kind = if matches!(other, PodsEvent::PodDeclared { .. }) {
                    "ADDED"
                } else {
                    "MODIFIED"
                };
                (kind, render(desired, record.seq, &api.status_inputs(&view)))
            }
        };
        let selected = params.labels_match(pod.metadata.labels.as_ref())
            && params
                .fields_match(|f| pods::pod_field(&pod, f))
                .unwrap_or(false);
        if !selected {
            return Vec::new();
        }
        vec![line(kind, &pod_object(&pod, as_table, record.seq))]
    };
    Ok(respond(&cluster, from, initial, timeout, on_record))
}

fn config_map_object(cm: &ConfigMap, as_table: bool, rv: u64) -> Value {
    if as_table {
        super::configmaps::table(std::slice::from_ref(cm), rv)
    } else {
        typed(cm, "ConfigMap", "v1")
    }
}

pub async fn config_maps(
    state: &ApiState,
    req: &HttpRequest,
    ns: Option<String>,
    params: ListParams,
) -> Reply {
    let cluster = cluster(state)?.clone();
    let as_table = table::wants_table(req);
    let (from, send_current) = start(&cluster, &params).await?;
    let mut local = cluster
        .configmaps
        .send(GetState::<ConfigMapsState>::new())
        .await
        .map_err(|e| ApiError::internal(format!("configmaps actor unavailable: {e}")))?;
    let mut known: BTreeMap<String, u64> = BTreeMap::new();
    let mut initial = Vec::new();
    for (key, cm) in &local.config_maps {
        let cm_ns = cm.metadata.namespace.as_deref().unwrap_or("default");
        let name = cm.metadata.name.as_deref().unwrap_or_default();
        let rv = super::pod_view::resource_version(&cluster, "configmaps", cm_ns, name).await;
        known.insert(key.clone(), rv);
        let cm = render_config_map(cm, rv);
        if send_current
            && ns.as_deref().is_none_or(|ns| ns == cm_ns)
            && params.labels_match(cm.metadata.labels.as_ref())
        {
            initial.push(line("ADDED", &config_map_object(&cm, as_table, rv)));
        }
    }
    let timeout = params.timeout_seconds;
    let on_record = move |record: &Record| -> Vec<web::Bytes> {
        let Ok(envelope) = record.decode() else {
            return Vec::new();
        };
        let Event::ConfigMaps(event) = envelope.event else {
            return Vec::new();
        };
        let (cm_ns, name) = event.config_map_key();
        let key = config_map_key(cm_ns, name);
        let before = local.config_maps.get(&key).cloned();
        if record.seq > known.get(&key).copied().unwrap_or(0) {
            local.apply(&event);
            known.insert(key.clone(), record.seq);
        }
        if ns.as_deref().is_some_and(|ns| ns != cm_ns) {
            return Vec::new();
        }
        let (kind, cm) = match &event {
            ConfigMapsEvent::ConfigMapDeleted { .. } => (
                "DELETED",
                before.unwrap_or_else(|| ConfigMap {
                    metadata: ObjectMeta {
                        namespace: Some(cm_ns.into()),
                        name: Some(name.into()),
                        ..Default::default()
                    },
                    ..Default::default()
                }),
            ),
            ConfigMapsEvent::ConfigMapPut { config_map, .. } => (
                if before.is_some() {
                    "MODIFIED"
                } else {
                    "ADDED"
                },
                local
                    .config_maps
                    .get(&key)
                    .cloned()
                    .unwrap_or_else(|| (**config_map).clone()),
            ),
        };
        if !params.labels_match(cm.metadata.labels.as_ref()) {
            return Vec::new();
        }
        let cm = render_config_map(&cm, record.seq);
        vec![line(kind, &config_map_object(&cm, as_table, record.seq))]
    };
    Ok(respond(&cluster, from, initial, timeout, on_record))
}
