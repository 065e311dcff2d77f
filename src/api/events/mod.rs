//! Kubernetes Events (controller.md §3.7), derived from the log rather than kept in memory:
//! `Scheduled` on `PodDeclared`, `Pulling`/`Created` on `ContainerCreated` (`Reconciled` when
//! adopted), `Started` on `ContainerStarted`, `Killing` on `PodDeleted`, `CreateFailed`
//! (Warning) on `PodCreateFailed`. The newest 256 are served, so `kubectl get events` and
//! `kubectl describe pod` show a pod's story; `?watch=true` streams new ones as `ADDED`.

mod derive;
mod watch;

use derive::derive;
use watch::watch_events;

use crate::api::ApiState;
use crate::api::cluster;
use crate::api::machinery::objects::{age, list, typed};
use crate::api::machinery::params::ListParams;
use crate::api::machinery::status::{ApiError, method_not_allowed};
use crate::api::machinery::table::{col, row, table, wants_table};
use actix_web::{HttpRequest, HttpResponse, web};
use k8s_openapi::api::core::v1::Event as KEvent;
use serde_json::json;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/api/v1/events", web::get().to(list_all))
        .route("/api/v1/events", web::route().to(method_not_allowed))
        .route("/api/v1/namespaces/{ns}/events", web::get().to(list_ns))
        .route(
            "/api/v1/namespaces/{ns}/events",
            web::route().to(method_not_allowed),
        )
        .route(
            "/api/v1/namespaces/{ns}/events/{name}",
            web::get().to(get_one),
        )
        .route(
            "/api/v1/namespaces/{ns}/events/{name}",
            web::route().to(method_not_allowed),
        );
}

type Reply = Result<HttpResponse, ApiError>;

fn field(e: &KEvent, f: &str) -> Option<String> {
    let o = &e.involved_object;
    Some(
        match f {
            "involvedObject.name" => o.name.clone(),
            "involvedObject.namespace" => o.namespace.clone(),
            "involvedObject.uid" => o.uid.clone(),
            "involvedObject.kind" => o.kind.clone(),
            "involvedObject.apiVersion" => o.api_version.clone(),
            "involvedObject.fieldPath" => o.field_path.clone(),
            "involvedObject.resourceVersion" => o.resource_version.clone(),
            "reason" => e.reason.clone(),
            "type" => e.type_.clone(),
            "source" => Some("mkube".into()),
            "metadata.name" => e.metadata.name.clone(),
            "metadata.namespace" => e.metadata.namespace.clone(),
            _ => return None,
        }
        .unwrap_or_default(),
    )
}

fn selected(e: &KEvent, ns: Option<&str>, params: &ListParams) -> Result<bool, ApiError> {
    if ns.is_some_and(|n| e.metadata.namespace.as_deref() != Some(n)) {
        return Ok(false);
    }
    params.fields_match(|f| field(e, f))
}

fn event_object(e: &KEvent, as_table: bool, rv: u64) -> serde_json::Value {
    if as_table {
        events_table(std::slice::from_ref(e), rv)
    } else {
        typed(e, "Event", "v1")
    }
}

async fn list_all(state: web::Data<ApiState>, req: HttpRequest) -> Reply {
    list_events(&state, &req, None).await
}

async fn list_ns(state: web::Data<ApiState>, req: HttpRequest, ns: web::Path<String>) -> Reply {
    list_events(&state, &req, Some(ns.into_inner())).await
}

/// One event by namespace and name (the `get` verb discovery announces).
async fn get_one(
    state: web::Data<ApiState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> Reply {
    let (ns, name) = path.into_inner();
    let cluster = cluster(&state)?;
    let last = cluster
        .log
        .last_sequence()
        .await
        .map_err(|e| ApiError::unavailable(e.to_string()))?;
    let event = derive(&state, last)
        .await?
        .events
        .into_iter()
        .find(|e| {
            e.metadata.namespace.as_deref() == Some(ns.as_str())
                && e.metadata.name.as_deref() == Some(name.as_str())
        })
        .ok_or_else(|| ApiError::not_found(format!("events \"{name}\" not found")))?;
    if wants_table(&req) {
        return Ok(HttpResponse::Ok().json(events_table(std::slice::from_ref(&event), last)));
    }
    Ok(HttpResponse::Ok().json(typed(&event, "Event", "v1")))
}

async fn list_events(state: &ApiState, req: &HttpRequest, ns: Option<String>) -> Reply {
    let params = ListParams::from_request(req)?;
    if params.watch {
        return watch_events(state, req, ns, params).await;
    }
    let cluster = cluster(state)?;
    let last = cluster
        .log
        .last_sequence()
        .await
        .map_err(|e| ApiError::unavailable(e.to_string()))?;
    let events = derive(state, last).await?.events;
    let mut selected = Vec::new();
    for e in events {
        if ns
            .as_deref()
            .is_some_and(|n| e.metadata.namespace.as_deref() != Some(n))
        {
            continue;
        }
        if params.fields_match(|f| field(&e, f))? {
            selected.push(e);
        }
    }
    if wants_table(req) {
        return Ok(HttpResponse::Ok().json(events_table(&selected, last)));
    }
    let items = selected.iter().map(|e| typed(e, "Event", "v1")).collect();
    Ok(HttpResponse::Ok().json(list("EventList", last, items)))
}

fn events_table(events: &[KEvent], rv: u64) -> serde_json::Value {
    let columns = [
        col("Last Seen", "string", 0),
        col("Type", "string", 0),
        col("Reason", "string", 0),
        col("Object", "string", 0),
        col("Message", "string", 0),
    ];
    let rows = events
        .iter()
        .map(|e| {
            let o = &e.involved_object;
            let object = format!(
                "{}/{}",
                o.kind.as_deref().unwrap_or_default().to_lowercase(),
                o.name.as_deref().unwrap_or_default()
            );
            let cells = vec![
                json!(age(e.last_timestamp.as_ref())),
                json!(e.type_),
                json!(e.reason),
                json!(object),
                json!(e.message),
            ];
            row(cells, &e.metadata)
        })
        .collect();
    table(&columns, rows, rv)
}
