//! Pods as desired state (controller.md §9): list, get, status, create, replace, patch and
//! delete, answered from the pods fold; watch lives in `watch.rs`, tables in `pod_table.rs`.
//! Answers have the shapes a Kubernetes API server sends (issue 11 item 4): the object on
//! create (201), replace and patch (200), and on delete the pod as it was, with
//! `deletionTimestamp` set (200); `?dryRun=All` validates and answers without writing.

mod admission;
mod json;
mod logs;
pub mod table;
pub mod view;
mod watch;

use crate::actors::journal::Record;
use crate::actors::pods::{Declare, Delete, PodsError, Update};
use crate::actors::wiring::Cluster;
use crate::api::ApiState;
use crate::api::MAX_BODY;
use crate::api::cluster;
use crate::api::machinery::decode::valid_name;
use crate::api::machinery::decode::{self, FieldValidation};
use crate::api::machinery::objects::{time, typed};
use crate::api::machinery::params::ListParams;
use crate::api::machinery::patch;
use crate::api::machinery::status::{self, ApiError, method_not_allowed};
use crate::api::machinery::table::wants_table;
use crate::api::machinery::version::ResourceVersion;
use crate::api::machinery::write_options::{self, dry_run};
use crate::api::pods::admission::admit_pod;
use crate::api::pods::json::RenderedPod;
use crate::api::pods::view::{PodsView, pod_uid, pods_view, render};
use crate::events::catalogue::{PodSource, PodsEvent};
use crate::pod::{DesiredPod, pod_key};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use k8s_openapi::api::core::v1::Pod;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.configure(logs::routes)
        .route("/api/v1/pods", web::get().to(list_all))
        .route(
            "/api/v1/namespaces/{ns}/pods",
            web::get().to(list_namespaced),
        )
        .route("/api/v1/namespaces/{ns}/pods", web::post().to(create))
        .route("/api/v1/namespaces/{ns}/pods/{name}", web::get().to(get))
        .route(
            "/api/v1/namespaces/{ns}/pods/{name}/status",
            web::get().to(get),
        )
        .route(
            "/api/v1/namespaces/{ns}/pods/{name}",
            web::put().to(replace),
        )
        .route(
            "/api/v1/namespaces/{ns}/pods/{name}",
            web::patch().to(patch_pod),
        )
        .route(
            "/api/v1/namespaces/{ns}/pods/{name}",
            web::delete().to(delete),
        )
        .route(
            "/api/v1/namespaces/{ns}/pods/{name}",
            web::route().to(method_not_allowed),
        )
        .route("/api/v1/pods", web::route().to(method_not_allowed))
        .route(
            "/api/v1/namespaces/{ns}/pods",
            web::route().to(method_not_allowed),
        )
        .route(
            "/api/v1/namespaces/{ns}/pods/{name}/status",
            web::route().to(method_not_allowed),
        );
}

type Reply = Result<HttpResponse, ApiError>;

fn actor_gone(e: actix::MailboxError) -> ApiError {
    ApiError::internal(format!("pods actor unavailable: {e}"))
}

async fn list_all(state: web::Data<ApiState>, req: HttpRequest) -> Reply {
    list_pods(&state, &req, None).await
}

async fn list_namespaced(
    state: web::Data<ApiState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Reply {
    list_pods(&state, &req, Some(path.into_inner())).await
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
fn selected<'v>(
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

async fn list_pods(state: &ApiState, req: &HttpRequest, ns: Option<String>) -> Reply {
    let params = ListParams::from_request(req)?;
    if params.watch {
        return watch::pods(state, req, ns, params).await;
    }
    let cluster = cluster(state)?;
    let last = cluster.log.last_sequence().await.unwrap_or(0);
    let view = pods_view(state).await?;
    let version = view.list_version(last);
    if wants_table(req) {
        let pods = rendered_pods(state, &view, ns.as_deref(), &params).await?;
        return Ok(HttpResponse::Ok().json(table::table(&pods, version)));
    }
    // Written straight from the snapshot: no copy of the stored pods.
    let inputs = state.status_inputs(&view);
    let mut items = Vec::new();
    for (desired, rv) in selected(&view, cluster.log.node(), ns.as_deref(), &params) {
        let pod = RenderedPod::new(desired, rv, &inputs);
        if params.fields_match(|f| pod.field(f))? {
            items.push(pod);
        }
    }
    Ok(HttpResponse::Ok().json(PodList {
        kind: "PodList",
        api_version: "v1",
        metadata: ListMeta {
            resource_version: version.to_string(),
        },
        items: &items,
    }))
}

/// A `PodList` (a pod writes its own `kind` and `apiVersion`).
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct PodList<'a, T> {
    kind: &'static str,
    api_version: &'static str,
    metadata: ListMeta,
    items: &'a [T],
}

#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct ListMeta {
    resource_version: String,
}

fn not_found(ns: &str, name: &str) -> ApiError {
    ApiError::not_found(format!("pod {ns}/{name} not found"))
}

async fn current(state: &ApiState, ns: &str, name: &str) -> Result<(Pod, PodsView), ApiError> {
    let cluster = cluster(state)?;
    let view = pods_view(state).await?;
    let desired = view
        .pods
        .pods
        .get(&pod_key(ns, name))
        .ok_or_else(|| not_found(ns, name))?;
    let rv = view.resource_version(cluster.log.node(), ns, name);
    let pod = render(desired, rv, &state.status_inputs(&view));
    Ok((pod, view))
}

async fn get(state: web::Data<ApiState>, req: HttpRequest) -> Reply {
    let ns = req.match_info().get("ns").unwrap_or_default().to_string();
    let name = req.match_info().get("name").unwrap_or_default().to_string();
    if !wants_table(&req) {
        // One pod: a map lookup in the snapshot, written without copying the stored pod.
        let cluster = cluster(&state)?;
        let view = pods_view(&state).await?;
        let desired = view
            .pods
            .pods
            .get(&pod_key(&ns, &name))
            .ok_or_else(|| not_found(&ns, &name))?;
        let rv = view.resource_version(cluster.log.node(), &ns, &name);
        let pod = RenderedPod::new(desired, rv, &state.status_inputs(&view));
        return Ok(HttpResponse::Ok().json(&pod));
    }
    let (pod, _) = current(&state, &ns, &name).await?;
    let rv = pod.metadata.resource_version.clone().unwrap_or_default();
    Ok(HttpResponse::Ok().json(table::table(&[pod], rv)))
}

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

async fn create(state: web::Data<ApiState>, req: HttpRequest, payload: web::Payload) -> Reply {
    let ns = req.match_info().get("ns").unwrap_or_default().to_string();
    // Not ready (503) before the body is even read.
    cluster(&state)?;
    let validation = FieldValidation::from_query(req.query_string())?;
    let body = status::read_body(payload, MAX_BODY).await?;
    let value = decode::json_object(&body, "pod")?;
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

async fn replace(state: web::Data<ApiState>, req: HttpRequest, payload: web::Payload) -> Reply {
    let (ns, name) = ns_name(&req);
    let validation = FieldValidation::from_query(req.query_string())?;
    let body = status::read_body(payload, MAX_BODY).await?;
    let value = decode::json_object(&body, "pod")?;
    let pod = pod_from(value, validation, &ns, Some(&name))?;
    update(&state, &req, &ns, &name, pod).await
}

async fn patch_pod(state: web::Data<ApiState>, req: HttpRequest, payload: web::Payload) -> Reply {
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

fn ns_name(req: &HttpRequest) -> (String, String) {
    let get = |k: &str| req.match_info().get(k).unwrap_or_default().to_string();
    (get("ns"), get("name"))
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

/// DELETE answers the pod as it was with `deletionTimestamp` set, as an API server does for
/// pods; it is gone from lists at once (its containers are removed by its worker).
async fn delete(state: web::Data<ApiState>, req: HttpRequest, payload: web::Payload) -> Reply {
    let (namespace, name) = ns_name(&req);
    let cluster = cluster(&state)?;
    let body = status::read_body(payload, MAX_BODY).await?;
    let options = write_options::Delete::parse(req.query_string(), &body)?;
    let existing = match current(&state, &namespace, &name).await {
        Ok((pod, view)) => {
            let have = view.resource_version(cluster.log.node(), &namespace, &name);
            options.check(&pod_uid(&pod), have)?;
            Some(pod)
        }
        Err(_) => None,
    };
    if options.dry_run {
        return match existing {
            Some(pod) => Ok(HttpResponse::Ok().json(deleted(pod))),
            None => Err(not_found(&namespace, &name)),
        };
    }
    let msg = Delete {
        namespace: namespace.clone(),
        name: name.clone(),
        correlation: uuid::Uuid::new_v4().to_string(),
    };
    match cluster.pods.send(msg).await.map_err(actor_gone)? {
        Ok(_) => {}
        Err(PodsError::NotFound(_)) => delete_log_only(cluster, &namespace, &name).await?,
        Err(e) => return Err(pods_error(&e)),
    }
    let pod = existing.unwrap_or_else(|| Pod {
        metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
            namespace: Some(namespace.clone()),
            name: Some(name.clone()),
            ..Default::default()
        },
        ..Default::default()
    });
    Ok(HttpResponse::Ok().json(deleted(pod)))
}

/// The pod a delete answers: marked deleted now, with no grace period (mkube stops and
/// removes the containers as soon as the deletion is recorded).
fn deleted(mut pod: Pod) -> serde_json::Value {
    pod.metadata.deletion_timestamp = time(chrono::Utc::now());
    pod.metadata.deletion_grace_period_seconds = Some(0);
    typed(&pod, "Pod", "v1")
}

/// A pod not desired any more but whose subject's last event is not a delete (e.g. device
/// containers recorded for it) is deleted by recording `PodDeleted`; otherwise 404.
async fn delete_log_only(cluster: &Cluster, ns: &str, name: &str) -> Result<(), ApiError> {
    let subject = crate::events::subject::for_key(cluster.log.node(), "pods", &[ns, name]);
    let last = cluster
        .log
        .last_sequence_of(&subject)
        .await
        .map_err(|e| ApiError::unavailable(e.to_string()))?;
    let Some(seq) = last else {
        return Err(not_found(ns, name));
    };
    let records = cluster
        .log
        .read_subject_after(&subject, seq.saturating_sub(1))
        .await
        .map_err(|e| ApiError::unavailable(e.to_string()))?;
    let deleted = records
        .last()
        .and_then(|r| r.decode().ok())
        .is_none_or(|env| {
            matches!(
                env.event,
                crate::events::Event::Pods(PodsEvent::PodDeleted { .. })
            )
        });
    if deleted {
        return Err(not_found(ns, name));
    }
    let event = PodsEvent::PodDeleted {
        namespace: ns.to_string(),
        name: name.to_string(),
    };
    cluster
        .pods
        .send(Record {
            event,
            correlation: uuid::Uuid::new_v4().to_string(),
        })
        .await
        .map_err(actor_gone)?
        .map_err(|e| ApiError::from(&e))?;
    Ok(())
}

fn pods_error(e: &PodsError) -> ApiError {
    match e {
        PodsError::AlreadyExists(_) => ApiError::already_exists(e.to_string()),
        PodsError::NotFound(_) => ApiError::not_found(e.to_string()),
        PodsError::Log(append) => append.into(),
    }
}
