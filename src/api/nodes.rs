//! Nodes (issue 16): one per controller of the fleet, each posted by its own controller
//! (`actors::nodes`). `kubectl get nodes` lists them with `Ready` from the device's
//! reachability and the log, capacity and allocatable from `/system/resource`, RouterOS in
//! `nodeInfo`. A node exists because its controller runs: the only write is `DELETE` of a
//! node whose controller stopped posting (a router taken out of the fleet), which removes its
//! entry from the node book; other verbs and watches are 405 `MethodNotAllowed`.

use crate::actors::nodes::build::{status_word, stopped_posting};
use crate::api::ApiState;
use crate::api::cluster;
use crate::api::machinery::objects::{age, derived_uid, list, typed};
use crate::api::machinery::status::{ApiError, method_not_allowed};
use crate::api::machinery::table::{col, row, table, wants_table};
use crate::events::nodes::NodeBook;
use actix_web::{HttpRequest, HttpResponse, web};
use k8s_openapi::api::core::v1::Node;
use serde_json::json;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/api/v1/nodes", web::get().to(list_all))
        .route("/api/v1/nodes", web::route().to(method_not_allowed))
        .route("/api/v1/nodes/{name}", web::get().to(get))
        .route("/api/v1/nodes/{name}", web::delete().to(delete))
        .route("/api/v1/nodes/{name}", web::route().to(method_not_allowed));
}

type Reply = Result<HttpResponse, ApiError>;

fn nodes(state: &ApiState) -> Result<Vec<Node>, ApiError> {
    let mut nodes = cluster(state)?.nodes.nodes();
    for n in &mut nodes {
        let name = n.metadata.name.clone().unwrap_or_default();
        n.metadata
            .uid
            .get_or_insert_with(|| derived_uid(&format!("node/{name}")));
    }
    Ok(nodes)
}

fn watching(req: &HttpRequest) -> bool {
    req.query_string()
        .split('&')
        .any(|kv| matches!(kv, "watch=true" | "watch=1"))
}

async fn list_all(state: web::Data<ApiState>, req: HttpRequest) -> Reply {
    if watching(&req) {
        return Err(ApiError::method_not_allowed(
            "watching nodes is not supported; list them again (each controller posts its node every 10 s)",
        ));
    }
    let items = nodes(&state)?;
    if wants_table(&req) {
        return Ok(HttpResponse::Ok().json(node_table(&items)));
    }
    let items = items.iter().map(|n| typed(n, "Node", "v1")).collect();
    Ok(HttpResponse::Ok().json(list("NodeList", 0, items)))
}

async fn get(state: web::Data<ApiState>, req: HttpRequest, path: web::Path<String>) -> Reply {
    let name = path.into_inner();
    let Some(node) = nodes(&state)?
        .into_iter()
        .find(|n| n.metadata.name.as_deref() == Some(name.as_str()))
    else {
        return Err(ApiError::not_found(format!("nodes \"{name}\" not found")));
    };
    if wants_table(&req) {
        return Ok(HttpResponse::Ok().json(node_table(&[node])));
    }
    Ok(HttpResponse::Ok().json(typed(&node, "Node", "v1")))
}

/// Removes a node whose controller stopped posting from the node book; it is listed again
/// if that controller ever posts. Its pods stay in its subjects of the log (`mkube replay
/// --node`); they are no longer listed, since no node of the fleet is theirs.
async fn delete(state: web::Data<ApiState>, path: web::Path<String>) -> Reply {
    let name = path.into_inner();
    let c = cluster(&state)?;
    if name == state.node {
        return Err(ApiError::conflict(format!(
            "node \"{name}\" is this controller's own and is posted while it runs; stop it to take the router out"
        )));
    }
    let Some(node) = c.nodes.node(&name) else {
        return Err(ApiError::not_found(format!("nodes \"{name}\" not found")));
    };
    if !stopped_posting(&node) {
        return Err(ApiError::conflict(format!(
            "node \"{name}\" is still posted by its controller (status {}); stop that controller first",
            status_word(&node)
        )));
    }
    let book = NodeBook::open(&c.log)
        .await
        .map_err(|e| ApiError::unavailable(e.to_string()))?;
    book.remove(&name)
        .await
        .map_err(|e| ApiError::unavailable(e.to_string()))?;
    c.nodes.forget(&name);
    tracing::info!(node = %name, "node removed from the node book");
    Ok(HttpResponse::Ok().json(typed(&node, "Node", "v1")))
}

/// The columns `kubectl get nodes` prints (`-o wide` adds the priority-1 ones).
fn node_table(items: &[Node]) -> serde_json::Value {
    let columns = [
        col("Name", "string", 0),
        col("Status", "string", 0),
        col("Roles", "string", 0),
        col("Age", "string", 0),
        col("Version", "string", 0),
        col("Internal-IP", "string", 1),
        col("OS-Image", "string", 1),
        col("Kernel-Version", "string", 1),
        col("Container-Runtime", "string", 1),
    ];
    let rows = items
        .iter()
        .map(|n| {
            let status = n.status.clone().unwrap_or_default();
            let info = status.node_info.unwrap_or_default();
            let ip = status
                .addresses
                .unwrap_or_default()
                .into_iter()
                .find(|a| a.type_ == "InternalIP")
                .map_or("<none>".to_string(), |a| a.address);
            let roles: Vec<&str> = n
                .metadata
                .labels
                .iter()
                .flatten()
                .filter_map(|(k, _)| k.strip_prefix("node-role.kubernetes.io/"))
                .collect();
            let cells = vec![
                json!(n.metadata.name.clone().unwrap_or_default()),
                json!(status_word(n)),
                json!(if roles.is_empty() {
                    "<none>".to_string()
                } else {
                    roles.join(",")
                }),
                json!(age(n.metadata.creation_timestamp.as_ref())),
                json!(info.kubelet_version),
                json!(ip),
                json!(info.os_image),
                json!(info.kernel_version),
                json!(info.container_runtime_version),
            ];
            row(cells, &n.metadata)
        })
        .collect();
    table(&columns, rows, 0)
}
