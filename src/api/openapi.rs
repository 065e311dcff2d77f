//! A minimal OpenAPI v3 surface. kubectl (1.26+) fetches `/openapi/v3` before `apply` and
//! `create` to learn whether the server validates fields itself (`fieldValidation` on PATCH);
//! when it finds that, it skips client-side schema validation, which would otherwise need the
//! full schema and fail with "failed to download openapi". Only that one fact is published:
//! each resource's PATCH operation with its group-version-kind and the `fieldValidation`
//! query parameter. `/openapi/v2` stays 404.

use actix_web::{HttpResponse, web};
use serde_json::{Value, json};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/openapi/v3", web::get().to(root))
        .route("/openapi/v3/api/v1", web::get().to(core_v1));
}

/// Changes whenever the document below changes (clients cache by it).
const HASH: &str = "mkube-1";

async fn root() -> HttpResponse {
    HttpResponse::Ok().json(json!({
        "paths": {
            "api/v1": {"serverRelativeURL": format!("/openapi/v3/api/v1?hash={HASH}")}
        }
    }))
}

fn patch_op(kind: &str) -> Value {
    json!({
        "patch": {
            "x-kubernetes-group-version-kind": {"group": "", "version": "v1", "kind": kind},
            "parameters": [
                {"name": "fieldValidation", "in": "query", "schema": {"type": "string", "uniqueItems": true}}
            ],
            "responses": {"200": {"description": "OK"}}
        }
    })
}

pub fn document() -> Value {
    json!({
        "openapi": "3.0.0",
        "info": {"title": "mkube", "version": "v1.29.0-mkube"},
        "paths": {
            "/api/v1/namespaces/{namespace}/pods/{name}": patch_op("Pod"),
            "/api/v1/namespaces/{namespace}/configmaps/{name}": patch_op("ConfigMap"),
        },
        "components": {"schemas": {}}
    })
}

async fn core_v1() -> HttpResponse {
    HttpResponse::Ok().json(document())
}
