//! Discovery for kubectl (controller.md §9): `/api`, `/api/v1`, `/apis`, `/version`. The small
//! OpenAPI v3 surface kubectl also needs is in `openapi.rs`.

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/api", web::get().to(api))
        .route("/api/v1", web::get().to(api_v1))
        .route("/apis", web::get().to(apis))
        .route("/version", web::get().to(version));
}

async fn api(req: HttpRequest) -> HttpResponse {
    let host = req.connection_info().host().to_string();
    HttpResponse::Ok().json(json!({
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": host}],
    }))
}

fn resource(
    name: &str,
    singular: &str,
    kind: &str,
    namespaced: bool,
    verbs: &[&str],
    short: &[&str],
) -> Value {
    let mut r = json!({
        "name": name,
        "singularName": singular,
        "namespaced": namespaced,
        "kind": kind,
        "verbs": verbs,
    });
    if !short.is_empty() {
        r["shortNames"] = json!(short);
    }
    if name == "pods" {
        r["categories"] = json!(["all"]);
    }
    r
}

pub fn resources() -> Value {
    let all = [
        "create", "delete", "get", "list", "patch", "update", "watch",
    ];
    json!({
        "kind": "APIResourceList",
        "groupVersion": "v1",
        "resources": [
            resource("pods", "pod", "Pod", true, &all, &["po"]),
            resource("pods/log", "", "Pod", true, &["get"], &[]),
            resource("pods/status", "", "Pod", true, &["get"], &[]),
            resource("configmaps", "configmap", "ConfigMap", true, &all, &["cm"]),
            resource("namespaces", "namespace", "Namespace", false, &["get", "list"], &["ns"]),
            resource("nodes", "node", "Node", false, &["get", "list"], &["no"]),
            resource("events", "event", "Event", true, &["get", "list", "watch"], &["ev"]),
        ],
    })
}

async fn api_v1() -> HttpResponse {
    HttpResponse::Ok().json(resources())
}

async fn apis() -> HttpResponse {
    HttpResponse::Ok().json(json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": []}))
}

async fn version() -> HttpResponse {
    HttpResponse::Ok().json(json!({
        "major": "1",
        "minor": "29",
        "gitVersion": "v1.29.0-mkube",
        "gitCommit": env!("CARGO_PKG_VERSION"),
        "gitTreeState": "clean",
        "buildDate": "1970-01-01T00:00:00Z",
        "goVersion": "rust",
        "compiler": "rustc",
        "platform": format!("{}/{}", std::env::consts::OS, std::env::consts::ARCH),
    }))
}
