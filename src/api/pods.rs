//! Pods as desired state: create, list, get and delete, answered from the pods actor's fold.
//! (Device effects, update/patch, watch and tables come with the pods end-to-end work.)

use super::{ApiState, status};
use crate::actors::journal::GetState;
use crate::actors::pods::state::PodsState;
use crate::actors::pods::{Declare, Delete, PodsError};
use crate::actors::wiring::Cluster;
use crate::events::catalogue::PodSource;
use actix_web::{HttpResponse, web};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ListMeta, Time};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/api/v1/pods", web::get().to(list_all))
        .route(
            "/api/v1/namespaces/{ns}/pods",
            web::get().to(list_namespaced),
        )
        .route("/api/v1/namespaces/{ns}/pods", web::post().to(create))
        .route("/api/v1/namespaces/{ns}/pods/{name}", web::get().to(get))
        .route(
            "/api/v1/namespaces/{ns}/pods/{name}",
            web::delete().to(delete),
        );
}

fn cluster(state: &ApiState) -> Result<&Cluster, HttpResponse> {
    state.cluster.get().ok_or_else(status::not_ready)
}

async fn pods_state(state: &ApiState) -> Result<PodsState, HttpResponse> {
    cluster(state)?
        .pods
        .send(GetState::<PodsState>::new())
        .await
        .map_err(|e| status::internal(format!("pods actor unavailable: {e}")))
}

fn list(pods: Vec<Pod>) -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({
        "kind": "PodList",
        "apiVersion": "v1",
        "metadata": ListMeta::default(),
        "items": pods.into_iter().map(with_kind).collect::<Vec<_>>(),
    }))
}

fn with_kind(pod: Pod) -> serde_json::Value {
    let mut v = serde_json::to_value(pod).unwrap_or_default();
    if let Some(obj) = v.as_object_mut() {
        obj.insert("kind".into(), "Pod".into());
        obj.insert("apiVersion".into(), "v1".into());
    }
    v
}

async fn list_all(state: web::Data<ApiState>) -> HttpResponse {
    match pods_state(&state).await {
        Ok(s) => list(s.pods.into_values().map(|p| p.pod).collect()),
        Err(resp) => resp,
    }
}

async fn list_namespaced(state: web::Data<ApiState>, path: web::Path<String>) -> HttpResponse {
    let ns = path.into_inner();
    match pods_state(&state).await {
        Ok(s) => list(
            s.pods
                .into_values()
                .map(|p| p.pod)
                .filter(|p| p.metadata.namespace.as_deref() == Some(ns.as_str()))
                .collect(),
        ),
        Err(resp) => resp,
    }
}

async fn get(state: web::Data<ApiState>, path: web::Path<(String, String)>) -> HttpResponse {
    let (ns, name) = path.into_inner();
    match pods_state(&state).await {
        Ok(s) => match s.pods.get(&format!("{ns}/{name}")) {
            Some(p) => HttpResponse::Ok().json(with_kind(p.pod.clone())),
            None => status::not_found(format!("pod {ns}/{name} not found")),
        },
        Err(resp) => resp,
    }
}

/// DNS-1123 label: what a pod name must be to become a container, veth and DNS name.
pub fn valid_name(name: &str) -> Result<(), String> {
    let ok_chars = name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if name.is_empty() {
        Err("pod name is required".into())
    } else if name.len() > 63 || !ok_chars || name.starts_with('-') || name.ends_with('-') {
        Err(format!(
            "metadata.name: Invalid value: {name:?}: a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', start and end with an alphanumeric character, and be at most 63 characters"
        ))
    } else {
        Ok(())
    }
}

async fn create(
    state: web::Data<ApiState>,
    path: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let ns = path.into_inner();
    let cluster = match cluster(&state) {
        Ok(c) => c,
        Err(resp) => return resp,
    };
    let mut pod: Pod = match serde_json::from_slice(&body) {
        Ok(p) => p,
        Err(e) => return status::bad_request(format!("invalid pod JSON: {e}")),
    };
    if let Err(e) = valid_name(&ns) {
        return status::bad_request(format!("namespace: {e}"));
    }
    let name = pod.metadata.name.clone().unwrap_or_default();
    if let Err(e) = valid_name(&name) {
        return status::bad_request(e);
    }
    if pod.metadata.namespace.as_deref().is_some_and(|n| n != ns) {
        return status::bad_request(format!(
            "the namespace of the object ({}) does not match the namespace on the request ({ns})",
            pod.metadata.namespace.as_deref().unwrap_or_default()
        ));
    }
    pod.metadata.namespace = Some(ns);
    if pod.metadata.creation_timestamp.is_none() {
        pod.metadata.creation_timestamp =
            k8s_openapi::jiff::Timestamp::new(chrono::Utc::now().timestamp(), 0)
                .ok()
                .map(Time);
    }
    let correlation = uuid::Uuid::new_v4().to_string();
    let msg = Declare {
        pod,
        source: PodSource::Api,
        correlation,
    };
    match cluster.pods.send(msg).await {
        Ok(Ok((pod, seq))) => {
            let mut pod = pod;
            pod.metadata.resource_version = Some(seq.to_string());
            HttpResponse::Created().json(with_kind(pod))
        }
        Ok(Err(e)) => pods_error(&e),
        Err(e) => status::internal(format!("pods actor unavailable: {e}")),
    }
}

async fn delete(state: web::Data<ApiState>, path: web::Path<(String, String)>) -> HttpResponse {
    let (namespace, name) = path.into_inner();
    let cluster = match cluster(&state) {
        Ok(c) => c,
        Err(resp) => return resp,
    };
    let msg = Delete {
        namespace,
        name: name.clone(),
        correlation: uuid::Uuid::new_v4().to_string(),
    };
    match cluster.pods.send(msg).await {
        Ok(Ok(_)) => status::success(format!("pod \"{name}\" deleted")),
        Ok(Err(e)) => pods_error(&e),
        Err(e) => status::internal(format!("pods actor unavailable: {e}")),
    }
}

fn pods_error(e: &PodsError) -> HttpResponse {
    match e {
        PodsError::AlreadyExists(_) => status::conflict(e.to_string()),
        PodsError::NotFound(_) => status::not_found(e.to_string()),
        PodsError::Log(append) => status::from_append(append),
    }
}
