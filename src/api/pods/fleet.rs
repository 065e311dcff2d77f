//! Pods across the fleet (issue 16), as a layer in front of the pods routes:
//! - a list (not a watch) is this node's list plus every other node's, asked in parallel; a
//!   node that does not answer is named in a `Warning` header (kubectl prints it) and its
//!   pods are read from its own subjects of the log and shown as `Unknown` (`absent.rs`);
//! - a create whose `spec.nodeName` names another node, or whose `nodeSelector` matches
//!   another node's labels and not this one's, is carried out by that node's controller (its
//!   admission, its answer); a node that is not in the fleet is 422, one that does not answer
//!   503 naming it;
//! - a request for one pod this node does not have (get, replace, patch, delete, log) is
//!   answered by the node that has it; when some node does not answer, a get is answered
//!   from that node's log and anything else is 503 naming it.
//!
//! Watches stay local: `kubectl get pods -w` follows the pods of the controller it asks.
//! A request marked forwarded is answered by this node alone.

use super::{absent, merge};
use crate::api::fleet::{self, Answer, FORWARDED, Forward};
use crate::api::machinery::params::ListParams;
use crate::api::machinery::status::ApiError;
use crate::api::machinery::table::wants_table;
use crate::api::{ApiState, MAX_BODY, cluster};
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::middleware::Next;
use actix_web::{HttpResponse, web};
use k8s_openapi::api::core::v1::Node;
use serde_json::Value;

/// What the request is, as far as the fleet is concerned.
enum Kind {
    List,
    Create,
    OnePod,
    Other,
}

fn kind(method: &actix_web::http::Method, path: &str, query: &str) -> Kind {
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    let watching = query
        .split('&')
        .any(|kv| matches!(kv, "watch=true" | "watch=1"));
    match parts.as_slice() {
        ["api", "v1", "pods"] if method == "GET" && !watching => Kind::List,
        ["api", "v1", "namespaces", _, "pods"] if method == "GET" && !watching => Kind::List,
        ["api", "v1", "namespaces", _, "pods"] if method == "POST" => Kind::Create,
        ["api", "v1", "namespaces", _, "pods", _, ..] => Kind::OnePod,
        _ => Kind::Other,
    }
}

/// The other nodes of the fleet, by name (none on a controller alone).
fn others(state: &ApiState) -> Vec<Node> {
    let Ok(c) = cluster(state) else {
        return Vec::new();
    };
    c.nodes
        .nodes()
        .into_iter()
        .filter(|n| n.metadata.name.as_deref() != Some(state.node.as_str()))
        .collect()
}

fn name_of(n: &Node) -> String {
    n.metadata.name.clone().unwrap_or_default()
}

pub async fn layer(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let Some(state) = req.app_data::<web::Data<ApiState>>().cloned() else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    if req.headers().contains_key(FORWARDED) {
        return Ok(next.call(req).await?.map_into_boxed_body());
    }
    let kind = kind(req.method(), req.path(), req.query_string());
    if matches!(kind, Kind::Other) {
        return Ok(next.call(req).await?.map_into_boxed_body());
    }
    let others = others(&state);
    // A create is placed even when no other node is known yet: its nodeName may name a node
    // whose first heartbeat this controller has not read.
    if others.is_empty() && !matches!(kind, Kind::Create) {
        return Ok(next.call(req).await?.map_into_boxed_body());
    }
    // The body is read here (to forward it) and handed back to the local handler.
    let body = match read_body(&mut req).await {
        Ok(b) => b,
        Err(e) => return Ok(req.into_response(actix_web::ResponseError::error_response(&e))),
    };
    req.set_payload(actix_web::dev::Payload::from(body.clone()));
    let forward = Forward {
        method: req.method().to_string(),
        path: match req.query_string() {
            "" => req.path().to_string(),
            q => format!("{}?{q}", req.path()),
        },
        content_type: header(&req, "content-type"),
        accept: header(&req, "accept"),
        body: String::from_utf8_lossy(&body).into_owned(),
        from: state.node.clone(),
    };
    let client = match cluster(&state) {
        Ok(c) => c.log.client().clone(),
        Err(_) => return Ok(next.call(req).await?.map_into_boxed_body()),
    };
    match kind {
        Kind::Create => match placement(&state, &others, &body) {
            Placement::Here => Ok(next.call(req).await?.map_into_boxed_body()),
            Placement::Refused(msg) => Ok(req.into_response(status(422, "Invalid", &msg))),
            Placement::There(node) => {
                let known = others.iter().any(|n| name_of(n) == node);
                let resp = match fleet::ask(&client, &node, &forward, fleet::ASK_TIMEOUT).await {
                    Ok(a) => answer(a),
                    Err(e) if known => status(503, "ServiceUnavailable", &e),
                    Err(_) => status(422, "Invalid", &unknown_node(&state, &others, &node)),
                };
                Ok(req.into_response(resp))
            }
        },
        Kind::OnePod => {
            let local = next.call(req).await?;
            if local.status() != StatusCode::NOT_FOUND {
                return Ok(local.map_into_boxed_body());
            }
            let names: Vec<String> = others.iter().map(name_of).collect();
            let asks = names
                .iter()
                .map(|n| fleet::ask(&client, n, &forward, fleet::ASK_TIMEOUT));
            let mut silent = Vec::new();
            for (node, got) in names.iter().zip(futures::future::join_all(asks).await) {
                match got {
                    Ok(a) if a.status != 404 => {
                        let (req, _) = local.into_parts();
                        return Ok(ServiceResponse::new(req, answer(a)));
                    }
                    Ok(_) => {}
                    Err(e) => silent.push((node, e)),
                }
            }
            if silent.is_empty() {
                return Ok(local.map_into_boxed_body());
            }
            let (req, resp) = local.into_parts();
            let resp = match not_here(&state, &req, &silent).await {
                Some(r) => r,
                None => resp.map_into_boxed_body(),
            };
            Ok(ServiceResponse::new(req, resp))
        }
        Kind::List => {
            let local = next.call(req).await?;
            if local.status() != StatusCode::OK {
                return Ok(local.map_into_boxed_body());
            }
            let (req, resp) = local.into_parts();
            let own = actix_web::body::to_bytes(resp.into_body())
                .await
                .unwrap_or_default();
            let names: Vec<String> = others.iter().map(name_of).collect();
            let asks = names.iter().map(|node| {
                let f = fleet::ask(&client, node, &forward, fleet::LIST_TIMEOUT);
                async move { (node, f.await) }
            });
            let mut bodies = Vec::new();
            let mut silent = Vec::new();
            for (node, got) in futures::future::join_all(asks).await {
                match got {
                    Ok(a) if a.status == 200 => bodies.push(a.body),
                    Ok(a) => silent.push((node, format!("{node} answered {}", a.status))),
                    Err(e) => silent.push((node, e)),
                }
            }
            let mut resp = HttpResponse::Ok();
            let mut extra = Vec::new();
            if !silent.is_empty() {
                let notes = from_logs(&state, &req, &silent, &mut extra).await;
                let text = format!("299 - \"{}\"", notes.join("; ").replace('"', "'"));
                resp.insert_header(("Warning", text));
            }
            let bodies: Vec<&str> = bodies.iter().map(String::as_str).collect();
            let Some(list) = merge::splice(&own, &bodies, &extra) else {
                return Ok(ServiceResponse::new(req, HttpResponse::Ok().body(own)));
            };
            resp.content_type("application/json");
            Ok(ServiceResponse::new(req, resp.body(list)))
        }
        Kind::Other => unreachable!("handled above"),
    }
}

/// The entries (list items or Table rows, serialised) of the nodes that did not answer, as
/// their logs last recorded them (`absent.rs`), into `extra`; one note per node for the
/// `Warning` header.
async fn from_logs(
    state: &ApiState,
    req: &actix_web::HttpRequest,
    silent: &[(&String, String)],
    extra: &mut Vec<String>,
) -> Vec<String> {
    let parts: Vec<&str> = req.path().trim_matches('/').split('/').collect();
    let ns = match parts.as_slice() {
        ["api", "v1", "namespaces", ns, ..] => Some(*ns),
        _ => None,
    };
    let as_table = wants_table(req);
    let mut notes = Vec::new();
    for (node, why) in silent {
        // Bounded like an ask: a log without a leader must not hold the list.
        let listed = match ListParams::from_request(req) {
            Ok(params) => tokio::time::timeout(
                fleet::LIST_TIMEOUT,
                absent::listed(state, node, ns, &params, as_table),
            )
            .await
            .unwrap_or_else(|_| Err(format!("no answer in {:?}", fleet::LIST_TIMEOUT))),
            Err(e) => Err(e.to_string()),
        };
        match listed {
            Ok(pods) => {
                extra.extend(pods.iter().map(Value::to_string));
                notes.push(format!(
                    "{why}; its pods are shown as its log last recorded them ({})",
                    absent::REASON
                ));
            }
            Err(e) => notes.push(format!(
                "{why}; its pods are not listed (its log could not be read: {e})"
            )),
        }
    }
    notes
}

/// A single-pod request this node and every node that answered said 404 to, while some did
/// not answer. A read of a pod is answered from those nodes' logs (`absent.rs`), and stays
/// 404 (`None`) when every one of their logs was read and none has it; anything else is 503
/// naming them: the pod may be theirs.
async fn not_here(
    state: &ApiState,
    req: &actix_web::HttpRequest,
    silent: &[(&String, String)],
) -> Option<HttpResponse> {
    let parts: Vec<&str> = req.path().trim_matches('/').split('/').collect();
    if let (true, ["api", "v1", "namespaces", ns, "pods", name]) =
        (req.method() == "GET", parts.as_slice())
    {
        let mut unread = Vec::new();
        for (node, why) in silent {
            let found = tokio::time::timeout(
                fleet::LIST_TIMEOUT,
                absent::one(state, node, ns, name, wants_table(req)),
            )
            .await
            .unwrap_or_else(|_| {
                Err(format!(
                    "its log did not answer in {:?}",
                    fleet::LIST_TIMEOUT
                ))
            });
            match found {
                Ok(Some(pod)) => return Some(HttpResponse::Ok().json(pod)),
                Ok(None) => {}
                Err(e) => unread.push(format!("{why} ({e})")),
            }
        }
        if unread.is_empty() {
            return None;
        }
        return Some(may_be_on(&unread));
    }
    let why: Vec<String> = silent.iter().map(|(_, e)| e.clone()).collect();
    Some(may_be_on(&why))
}

fn may_be_on(why: &[String]) -> HttpResponse {
    status(
        503,
        "ServiceUnavailable",
        &format!(
            "not on this node or any node that answered, and it may be on one that did not: {}",
            why.join("; ")
        ),
    )
}

enum Placement {
    Here,
    There(String),
    Refused(String),
}

/// Where a new pod runs: `spec.nodeName`, else the first node whose labels match
/// `spec.nodeSelector` (this one first), else here. A body that is not JSON is left to the
/// local handler, whose admission answers it.
fn placement(state: &ApiState, others: &[Node], body: &[u8]) -> Placement {
    let Ok(pod) = serde_json::from_slice::<Value>(body) else {
        return Placement::Here;
    };
    let spec = &pod["spec"];
    if let Some(node) = spec["nodeName"].as_str().filter(|n| !n.is_empty()) {
        // Another node's, known or not: its controller is asked (one that is not yet in
        // this controller's view answers too; no answer from an unknown node is a 422).
        return match node == state.node {
            true => Placement::Here,
            false => Placement::There(node.to_string()),
        };
    }
    let Some(selector) = spec["nodeSelector"].as_object().filter(|s| !s.is_empty()) else {
        return Placement::Here;
    };
    let matches = |n: &Node| {
        let labels = n.metadata.labels.clone().unwrap_or_default();
        selector
            .iter()
            .all(|(k, v)| labels.get(k).map(String::as_str) == v.as_str())
    };
    let own = cluster(state)
        .ok()
        .and_then(|c| c.nodes.node(&state.node))
        .is_some_and(|n| matches(&n));
    if own {
        return Placement::Here;
    }
    match others.iter().find(|n| matches(n)) {
        Some(n) => Placement::There(name_of(n)),
        None => Placement::Refused(format!(
            "spec.nodeSelector: no node of the fleet matches {}",
            Value::Object(selector.clone())
        )),
    }
}

fn unknown_node(state: &ApiState, others: &[Node], node: &str) -> String {
    let nodes: Vec<String> = std::iter::once(state.node.clone())
        .chain(others.iter().map(name_of))
        .collect();
    format!(
        "spec.nodeName: Invalid value: \"{node}\": no such node in the fleet (nodes: {})",
        nodes.join(", ")
    )
}

/// The request body, up to the API's limit (a larger one is 413, as the handlers answer it).
async fn read_body(req: &mut ServiceRequest) -> Result<web::Bytes, ApiError> {
    use futures::StreamExt;
    let mut payload = actix_web::HttpMessage::take_payload(req);
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| ApiError::bad_request(format!("reading the body: {e}")))?;
        if body.len() + chunk.len() > MAX_BODY {
            return Err(ApiError::too_large(MAX_BODY));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

fn answer(a: Answer) -> HttpResponse {
    let mut resp =
        HttpResponse::build(StatusCode::from_u16(a.status).unwrap_or(StatusCode::BAD_GATEWAY));
    if let Some(ct) = a.content_type {
        resp.insert_header(("content-type", ct));
    }
    resp.body(a.body)
}

fn status(code: u16, reason: &str, message: &str) -> HttpResponse {
    crate::api::machinery::status::status(
        StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        reason,
        message,
    )
}

fn header(req: &ServiceRequest, name: &str) -> Option<String> {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}
