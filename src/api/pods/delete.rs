//! Deleting a pod: the answer is the pod as it was, marked deleted; `DeleteOptions`
//! preconditions and `dryRun` are honoured.

use super::view::pod_uid;
use super::{Reply, actor_gone, current, not_found, ns_name, pods_error};
use crate::actors::pods::{Delete, ForgetPod, PodsError};
use crate::actors::wiring::Cluster;
use crate::api::machinery::objects::{time, typed};
use crate::api::machinery::status::{self, ApiError};
use crate::api::machinery::write_options::{self};
use crate::api::{ApiState, MAX_BODY, cluster};
use actix_web::{HttpRequest, HttpResponse, web};
use k8s_openapi::api::core::v1::Pod;

/// DELETE answers the pod as it was with `deletionTimestamp` set, as an API server does for
/// pods; it is gone from lists at once (its containers are removed by its worker).
pub(super) async fn delete(
    state: web::Data<ApiState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Reply {
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
    let forget = ForgetPod {
        namespace: ns.to_string(),
        name: name.to_string(),
        correlation: uuid::Uuid::new_v4().to_string(),
    };
    match cluster.pods.send(forget).await.map_err(actor_gone)? {
        Ok(_) => Ok(()),
        Err(PodsError::NotFound(_)) => Err(not_found(ns, name)),
        Err(e) => Err(pods_error(&e)),
    }
}
