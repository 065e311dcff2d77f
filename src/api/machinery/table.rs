//! `meta.k8s.io/v1` `Table` answers for clients that ask for them
//! (`Accept: application/json;as=Table;v=v1;g=meta.k8s.io`), which is how `kubectl get`
//! prints columns. Rows carry `PartialObjectMetadata` of their object.

use actix_web::HttpRequest;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::{Value, json};

/// A column: name, JSON type (`string`, `integer`), and priority (0 always shown, 1 only with
/// `-o wide`).
pub struct Column {
    pub name: &'static str,
    pub kind: &'static str,
    pub priority: u8,
    pub description: &'static str,
}

pub const fn col(name: &'static str, kind: &'static str, priority: u8) -> Column {
    Column {
        name,
        kind,
        priority,
        description: "",
    }
}

/// Whether the client asked for a Table.
pub fn wants_table(req: &HttpRequest) -> bool {
    req.headers()
        .get_all(actix_web::http::header::ACCEPT)
        .filter_map(|v| v.to_str().ok())
        .any(|v| {
            v.split(',').any(|media| {
                let params: Vec<&str> = media.split(';').map(str::trim).collect();
                params.contains(&"as=Table") && !params.contains(&"g=apidiscovery.k8s.io")
            })
        })
}

/// One row: its cells (same order as the columns) and the object's metadata.
pub fn row(cells: Vec<Value>, metadata: &ObjectMeta) -> Value {
    json!({
        "cells": cells,
        "object": {
            "kind": "PartialObjectMetadata",
            "apiVersion": "meta.k8s.io/v1",
            "metadata": metadata,
        }
    })
}

pub fn table(
    columns: &[Column],
    rows: Vec<Value>,
    resource_version: impl std::fmt::Display,
) -> Value {
    let defs: Vec<Value> = columns
        .iter()
        .map(|c| {
            json!({
                "name": c.name,
                "type": c.kind,
                "format": if c.name == "Name" { "name" } else { "" },
                "description": c.description,
                "priority": c.priority,
            })
        })
        .collect();
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": resource_version.to_string()},
        "columnDefinitions": defs,
        "rows": rows,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    #[test]
    fn detects_table_requests_as_kubectl_sends_them() {
        let kubectl = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";
        let req = TestRequest::get()
            .insert_header(("accept", kubectl))
            .to_http_request();
        assert!(wants_table(&req));
        let plain = TestRequest::get()
            .insert_header(("accept", "application/json"))
            .to_http_request();
        assert!(!wants_table(&plain));
        assert!(!wants_table(&TestRequest::get().to_http_request()));
    }
}
