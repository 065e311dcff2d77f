//! Namespaces (API-6): derived, not stored — `default` plus every namespace a desired pod or
//! ConfigMap lives in. Read-only: other verbs are 405 `MethodNotAllowed` (namespace CRUD is out
//! of scope, controller.md §12.9), saying how a namespace comes to exist.

use crate::api::ApiState;
use crate::api::cluster;
use crate::api::machinery::objects::{age, derived_uid, list, time, typed};
use crate::api::machinery::status::{ApiError, method_not_allowed};
use crate::api::machinery::table::{col, row, table, wants_table};
use crate::api::pods::view::pods_view;
use actix_web::{HttpRequest, HttpResponse, web};
use k8s_openapi::api::core::v1::{Namespace, NamespaceSpec, NamespaceStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::json;
use std::collections::BTreeSet;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/api/v1/namespaces", web::get().to(list_all))
        .route("/api/v1/namespaces", web::route().to(method_not_allowed))
        .route("/api/v1/namespaces/{ns}", web::get().to(get))
        .route(
            "/api/v1/namespaces/{ns}",
            web::route().to(method_not_allowed),
        );
}

type Reply = Result<HttpResponse, ApiError>;

async fn names(state: &ApiState) -> Result<BTreeSet<String>, ApiError> {
    let view = pods_view(state).await?;
    let cluster = cluster(state)?;
    let cms = cluster
        .configmaps_published
        .read(&cluster.configmaps)
        .await
        .map_err(|e| ApiError::internal(format!("configmaps actor unavailable: {e}")))?
        .state;
    let mut out: BTreeSet<String> = BTreeSet::from(["default".to_string()]);
    let pods = view.pods.pods.values().map(|p| &p.pod.metadata);
    let cms = cms.config_maps.values().map(|c| &c.metadata);
    out.extend(pods.chain(cms).filter_map(|m| m.namespace.clone()));
    Ok(out)
}

fn namespace(state: &ApiState, name: &str) -> Namespace {
    Namespace {
        metadata: ObjectMeta {
            name: Some(name.into()),
            uid: Some(derived_uid(&format!("namespace/{name}"))),
            creation_timestamp: time(state.started_at()),
            labels: Some([("kubernetes.io/metadata.name".to_string(), name.to_string())].into()),
            ..Default::default()
        },
        spec: Some(NamespaceSpec {
            finalizers: Some(vec!["kubernetes".into()]),
        }),
        status: Some(NamespaceStatus {
            phase: Some("Active".into()),
            ..Default::default()
        }),
    }
}

fn ns_table(items: &[Namespace], rv: u64) -> serde_json::Value {
    let columns = [
        col("Name", "string", 0),
        col("Status", "string", 0),
        col("Age", "string", 0),
    ];
    let rows = items
        .iter()
        .map(|n| {
            let cells = vec![
                json!(n.metadata.name.clone().unwrap_or_default()),
                json!("Active"),
                json!(age(n.metadata.creation_timestamp.as_ref())),
            ];
            row(cells, &n.metadata)
        })
        .collect();
    table(&columns, rows, rv)
}

async fn list_all(state: web::Data<ApiState>, req: HttpRequest) -> Reply {
    let last = cluster(&state)?.log.last_sequence().await.unwrap_or(0);
    let items: Vec<Namespace> = names(&state)
        .await?
        .iter()
        .map(|n| namespace(&state, n))
        .collect();
    if wants_table(&req) {
        return Ok(HttpResponse::Ok().json(ns_table(&items, last)));
    }
    let items = items.iter().map(|n| typed(n, "Namespace", "v1")).collect();
    Ok(HttpResponse::Ok().json(list("NamespaceList", last, items)))
}

async fn get(state: web::Data<ApiState>, req: HttpRequest, path: web::Path<String>) -> Reply {
    let name = path.into_inner();
    if !names(&state).await?.contains(&name) {
        return Err(ApiError::not_found(format!(
            "namespaces \"{name}\" not found"
        )));
    }
    let ns = namespace(&state, &name);
    if wants_table(&req) {
        return Ok(HttpResponse::Ok().json(ns_table(&[ns], 0)));
    }
    Ok(HttpResponse::Ok().json(typed(&ns, "Namespace", "v1")))
}
