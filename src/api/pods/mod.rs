//! Pods as desired state (controller.md §9): list, get, status, create, replace, patch and
//! delete, answered from the pods fold; watch lives in `watch.rs`, tables in `pod_table.rs`.
//! Answers have the shapes a Kubernetes API server sends (issue 11 item 4): the object on
//! create (201), replace and patch (200), and on delete the pod as it was, with
//! `deletionTimestamp` set (200); `?dryRun=All` validates and answers without writing.

pub mod absent;
mod admission;
mod json;
mod logs;
mod merge;
pub mod table;
pub mod view;
mod watch;

mod delete;
pub mod fleet;
pub mod read;
mod write;

use crate::actors::pods::PodsError;
use crate::api::ApiState;
use crate::api::cluster;
use crate::api::machinery::status::{ApiError, method_not_allowed};
use crate::pod::pod_key;
use actix_web::{HttpRequest, HttpResponse, web};
use k8s_openapi::api::core::v1::Pod;
use view::{PodsView, pods_view, render};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.configure(logs::routes)
        .route("/api/v1/pods", web::get().to(read::list_all))
        .route(
            "/api/v1/namespaces/{ns}/pods",
            web::get().to(read::list_namespaced),
        )
        .route(
            "/api/v1/namespaces/{ns}/pods",
            web::post().to(write::create),
        )
        .route(
            "/api/v1/namespaces/{ns}/pods/{name}",
            web::get().to(read::get),
        )
        .route(
            "/api/v1/namespaces/{ns}/pods/{name}/status",
            web::get().to(read::get),
        )
        .route(
            "/api/v1/namespaces/{ns}/pods/{name}",
            web::put().to(write::replace),
        )
        .route(
            "/api/v1/namespaces/{ns}/pods/{name}",
            web::patch().to(write::patch_pod),
        )
        .route(
            "/api/v1/namespaces/{ns}/pods/{name}",
            web::delete().to(delete::delete),
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

fn ns_name(req: &HttpRequest) -> (String, String) {
    let get = |k: &str| req.match_info().get(k).unwrap_or_default().to_string();
    (get("ns"), get("name"))
}

fn pods_error(e: &PodsError) -> ApiError {
    match e {
        PodsError::AlreadyExists(_) => ApiError::already_exists(e.to_string()),
        PodsError::NotFound(_) => ApiError::not_found(e.to_string()),
        PodsError::Log(append) => append.into(),
        PodsError::Unavailable(_) => ApiError::unavailable(e.to_string()),
    }
}
