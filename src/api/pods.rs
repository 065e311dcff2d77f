//! Pods as desired state: create, list, get and delete, answered from the pods actor's fold.
//! (Device effects, update/patch, watch and tables come with the pods end-to-end work.)

use super::status::{self, ApiError};
use super::{ApiState, MAX_BODY};
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

type Reply = Result<HttpResponse, ApiError>;

fn cluster(state: &ApiState) -> Result<&Cluster, ApiError> {
    state.cluster.get().ok_or_else(ApiError::not_ready)
}

async fn pods_state(state: &ApiState) -> Result<PodsState, ApiError> {
    cluster(state)?
        .pods
        .send(GetState::<PodsState>::new())
        .await
        .map_err(|e| ApiError::internal(format!("pods actor unavailable: {e}")))
}

fn list(pods: impl Iterator<Item = Pod>) -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({
        "kind": "PodList",
        "apiVersion": "v1",
        "metadata": ListMeta::default(),
        "items": pods.map(with_kind).collect::<Vec<_>>(),
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

async fn list_all(state: web::Data<ApiState>) -> Reply {
    let pods = pods_state(&state).await?;
    Ok(list(pods.pods.into_values().map(|p| p.pod)))
}

async fn list_namespaced(state: web::Data<ApiState>, path: web::Path<String>) -> Reply {
    let ns = path.into_inner();
    let pods = pods_state(&state).await?;
    Ok(list(pods.pods.into_values().map(|p| p.pod).filter(|p| {
        p.metadata.namespace.as_deref() == Some(ns.as_str())
    })))
}

async fn get(state: web::Data<ApiState>, path: web::Path<(String, String)>) -> Reply {
    let (ns, name) = path.into_inner();
    let pods = pods_state(&state).await?;
    match pods.pods.get(&format!("{ns}/{name}")) {
        Some(p) => Ok(HttpResponse::Ok().json(with_kind(p.pod.clone()))),
        None => Err(ApiError::not_found(format!("pod {ns}/{name} not found"))),
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
    payload: web::Payload,
) -> Reply {
    let ns = path.into_inner();
    let cluster = cluster(&state)?;
    let body = status::read_body(payload, MAX_BODY).await?;
    let mut pod: Pod = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("invalid pod JSON: {e}")))?;
    valid_name(&ns).map_err(|e| ApiError::bad_request(format!("namespace: {e}")))?;
    let name = pod.metadata.name.clone().unwrap_or_default();
    valid_name(&name).map_err(ApiError::bad_request)?;
    if let Some(body_ns) = pod.metadata.namespace.as_deref().filter(|n| *n != ns) {
        return Err(ApiError::bad_request(format!(
            "the namespace of the object ({body_ns}) does not match the namespace on the request ({ns})"
        )));
    }
    pod.metadata.namespace = Some(ns);
    if pod.metadata.creation_timestamp.is_none() {
        pod.metadata.creation_timestamp =
            k8s_openapi::jiff::Timestamp::new(chrono::Utc::now().timestamp(), 0)
                .ok()
                .map(Time);
    }
    let msg = Declare {
        pod,
        source: PodSource::Api,
        correlation: uuid::Uuid::new_v4().to_string(),
    };
    let (mut pod, seq) = cluster
        .pods
        .send(msg)
        .await
        .map_err(|e| ApiError::internal(format!("pods actor unavailable: {e}")))?
        .map_err(|e| pods_error(&e))?;
    pod.metadata.resource_version = Some(seq.to_string());
    Ok(HttpResponse::Created().json(with_kind(pod)))
}

async fn delete(state: web::Data<ApiState>, path: web::Path<(String, String)>) -> Reply {
    let (namespace, name) = path.into_inner();
    let cluster = cluster(&state)?;
    let msg = Delete {
        namespace,
        name: name.clone(),
        correlation: uuid::Uuid::new_v4().to_string(),
    };
    cluster
        .pods
        .send(msg)
        .await
        .map_err(|e| ApiError::internal(format!("pods actor unavailable: {e}")))?
        .map_err(|e| pods_error(&e))?;
    Ok(status::success(&format!("pod \"{name}\" deleted")))
}

fn pods_error(e: &PodsError) -> ApiError {
    match e {
        PodsError::AlreadyExists(_) => ApiError::already_exists(e.to_string()),
        PodsError::NotFound(_) => ApiError::not_found(e.to_string()),
        PodsError::Log(append) => append.into(),
    }
}
