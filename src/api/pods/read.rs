//! Reading pods: lists (namespaced or not, with selectors, or as a Table) and single GETs,
//! written straight from the published pods fold.

use super::json::RenderedPod;
use super::view::{pods_view, rendered_pods, selected};
use super::{Reply, current, not_found, table, watch};
use crate::api::machinery::params::ListParams;
use crate::api::machinery::table::wants_table;
use crate::api::{ApiState, cluster};
use crate::pod::pod_key;
use actix_web::{HttpRequest, HttpResponse, web};

pub(super) async fn list_all(state: web::Data<ApiState>, req: HttpRequest) -> Reply {
    list_pods(&state, &req, None).await
}

pub(super) async fn list_namespaced(
    state: web::Data<ApiState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Reply {
    list_pods(&state, &req, Some(path.into_inner())).await
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

pub(super) async fn get(state: web::Data<ApiState>, req: HttpRequest) -> Reply {
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
