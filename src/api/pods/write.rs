//! Writing pods: create, replace and patch — decoded, defaulted and admitted before anything
//! is appended, then answered with the pod as the API now shows it; `?dryRun=All` stops
//! before the write.

use super::admission::{admit_node, admit_pod};
use super::view::{pod_uid, pods_view, render};
use super::{Reply, actor_gone, current, ns_name, pods_error};
use crate::actors::pods::{Declare, PodsError, Update};
use crate::api::machinery::decode::{self, FieldValidation, valid_name};
use crate::api::machinery::objects::{time, typed};
use crate::api::machinery::patch;
use crate::api::machinery::status::{self, ApiError};
use crate::api::machinery::version::ResourceVersion;
use crate::api::machinery::write_options::dry_run;
use crate::api::{ApiState, MAX_BODY, cluster};
use crate::events::catalogue::PodSource;
use crate::pod::{DesiredPod, pod_key};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use k8s_openapi::api::core::v1::Pod;

/// What is stored: the spec as given, without the fields the controller computes.
fn stored(mut pod: Pod) -> Pod {
    pod.status = None;
    pod.metadata.resource_version = None;
    pod.metadata.managed_fields = None;
    pod
}

/// Decodes a pod body, checks it names `ns` (and `name`, when given) as the path does, and
/// fills in the Kubernetes defaults.
fn pod_from(
    value: serde_json::Value,
    validation: FieldValidation,
    ns: &str,
    name: Option<&str>,
) -> Result<Pod, ApiError> {
    let mut pod: Pod = decode::object(value, "Pod", "pod", validation)?;
    let pod_name = decode::place(&mut pod, ns, name)?;
    valid_name(&pod_name).map_err(ApiError::bad_request)?;
    // What an API server defaults is stored and returned (issue 11 item 2).
    crate::pod::defaults::apply(&mut pod);
    Ok(pod)
}

pub(super) async fn create(
    state: web::Data<ApiState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Reply {
    let ns = req.match_info().get("ns").unwrap_or_default().to_string();
    // Not ready (503) before the body is even read.
    cluster(&state)?;
    let validation = FieldValidation::from_query(req.query_string())?;
    let body = status::read_body(payload, MAX_BODY).await?;
    let value = decode::object_body(&req, &body, "pod")?;
    let mut pod = pod_from(value, validation, &ns, None)?;
    let name = pod.metadata.name.clone().unwrap_or_default();
    let view = pods_view(&state).await?;
    let key = pod_key(&ns, &name);
    if view.pods.pods.contains_key(&key) {
        return Err(ApiError::already_exists(format!(
            "pod {key} already exists"
        )));
    }
    admit_pod(&pod, &key, &state.networks, &view.pods)?;
    admit_node(&pod, &state.node)?;
    pod.metadata.uid = Some(uuid::Uuid::new_v4().to_string());
    if pod.metadata.creation_timestamp.is_none() {
        pod.metadata.creation_timestamp = time(chrono::Utc::now());
    }
    if dry_run(req.query_string())? {
        let desired = DesiredPod::new(stored(pod), PodSource::Api);
        let pod = render(
            &desired,
            ResourceVersion::default(),
            &state.status_inputs(&view),
        );
        return Ok(HttpResponse::Created().json(&pod));
    }
    // Not held across the write: the actor would copy the fold it still shares with us.
    drop(view);
    let msg = Declare {
        pod: stored(pod),
        source: PodSource::Api,
        correlation: uuid::Uuid::new_v4().to_string(),
    };
    written(&state, msg, &ns, &name, StatusCode::CREATED).await
}

/// Sends a write to the pods actor and answers the pod as the API now shows it (a read after
/// an acknowledged write sees it, `actors::published`).
async fn written<M>(state: &ApiState, msg: M, ns: &str, name: &str, code: StatusCode) -> Reply
where
    M: actix::Message<Result = Result<(Pod, u64), PodsError>> + Send + 'static,
    crate::actors::pods::PodsActor: actix::Handler<M>,
{
    cluster(state)?
        .pods
        .send(msg)
        .await
        .map_err(actor_gone)?
        .map_err(|e| pods_error(&e))?;
    let (pod, _) = current(state, ns, name).await?;
    Ok(HttpResponse::build(code).json(&pod))
}

pub(super) async fn replace(
    state: web::Data<ApiState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Reply {
    let (ns, name) = ns_name(&req);
    let validation = FieldValidation::from_query(req.query_string())?;
    let body = status::read_body(payload, MAX_BODY).await?;
    let value = decode::object_body(&req, &body, "pod")?;
    let pod = pod_from(value, validation, &ns, Some(&name))?;
    update(&state, &req, &ns, &name, pod).await
}

pub(super) async fn patch_pod(
    state: web::Data<ApiState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Reply {
    let (ns, name) = ns_name(&req);
    let kind = patch::kind_of(&req)?;
    let validation = FieldValidation::from_query(req.query_string())?;
    let body = status::read_body(payload, MAX_BODY).await?;
    let patch_value = decode::json_object(&body, "patch")?;
    let (mut existing, _) = current(&state, &ns, &name).await?;
    // The patch applies to the stored object; the computed status is not patchable.
    existing.status = None;
    existing.metadata.resource_version = None;
    let base = typed(&existing, "Pod", "v1");
    let patched = patch::apply(&base, &patch_value, kind);
    let pod = pod_from(patched, validation, &ns, Some(&name))?;
    update(&state, &req, &ns, &name, pod).await
}

/// The version a body names, if any (400 when it is not one this server issued).
fn body_version(pod: &Pod) -> Result<Option<ResourceVersion>, ApiError> {
    pod.metadata
        .resource_version
        .as_deref()
        .filter(|v| !v.is_empty())
        .map(|v| v.parse().map_err(ApiError::bad_request))
        .transpose()
}

/// Replaces an existing pod's spec, keeping its identity; a stale `resourceVersion` in the
/// body is a 409, as Kubernetes' optimistic concurrency. Only the log part of the version is
/// compared: the device changing state does not make a spec update conflict (`version.rs`).
async fn update(state: &ApiState, req: &HttpRequest, ns: &str, name: &str, mut pod: Pod) -> Reply {
    let cluster = cluster(state)?;
    let (existing, view) = current(state, ns, name).await?;
    let have = view.resource_version(cluster.log.node(), ns, name);
    if let Some(rv) = body_version(&pod)?
        && rv.seq != have.seq
    {
        return Err(ApiError::conflict(format!(
            "Operation cannot be fulfilled on pods {name:?}: the object has been modified; please apply your changes to the latest version ({have}) and try again"
        )));
    }
    admit_pod(&pod, &pod_key(ns, name), &state.networks, &view.pods)?;
    admit_node(&pod, &state.node)?;
    pod.metadata.uid = Some(pod_uid(&existing));
    pod.metadata.creation_timestamp = existing.metadata.creation_timestamp.clone();
    if dry_run(req.query_string())? {
        let mut desired = DesiredPod::new(stored(pod), PodSource::Api);
        if let Some(d) = view.pods.pods.get(&pod_key(ns, name)) {
            desired.containers = d.containers.clone();
        }
        let pod = render(&desired, have, &state.status_inputs(&view));
        return Ok(HttpResponse::Ok().json(&pod));
    }
    drop(view);
    let msg = Update {
        pod: stored(pod),
        correlation: uuid::Uuid::new_v4().to_string(),
    };
    written(state, msg, ns, name, StatusCode::OK).await
}
