//! Fuzzing the Kubernetes API (issue 17, DESIGN rule 5): generated pod and ConfigMap bodies
//! (valid documents with fields removed, replaced by any JSON or joined by unknown keys; cut
//! documents; random bytes), PATCH documents of every patch type, and paths and query
//! parameters, sent over real sockets to the API in front of a cluster on a real nats-server.
//! Each answer is a success or a `v1.Status` with the answer's own code, never a 5xx and never
//! a dropped connection; an answer of 4xx appends nothing to the log.

use crate::common::NatsServer;
use crate::common::api::Api;
use crate::fuzz_support::*;
use proptest::prelude::*;
use serde_json::{Value, json};

fn pod() -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "fz", "namespace": "default", "labels": {"app": "fz"},
                     "annotations": {"vkube.io/file": "raid1/cache/app.tar"}},
        "spec": {"restartPolicy": "Always",
                 "containers": [{"name": "c", "image": "reg/app:v1", "command": ["/bin/app"],
                                 "env": [{"name": "A", "value": "1"}],
                                 "ports": [{"containerPort": 80}],
                                 "volumeMounts": [{"name": "v", "mountPath": "/data"}]}],
                 "volumes": [{"name": "v", "hostPath": {"path": "/x"}}]}
    })
}

fn config_map() -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap",
           "metadata": {"name": "cfz", "namespace": "default"}, "data": {"k": "v"}})
}

/// One generated request.
#[derive(Debug, Clone)]
struct Request {
    method: &'static str,
    path: String,
    content_type: &'static str,
    body: Vec<u8>,
}

fn json_request(method: &'static str, path: &str, body: Value) -> Request {
    Request {
        method,
        path: path.to_string(),
        content_type: "application/json",
        body: body.to_string().into_bytes(),
    }
}

const PODS: &str = "/api/v1/namespaces/default/pods";
const CMS: &str = "/api/v1/namespaces/default/configmaps";

fn requests() -> impl Strategy<Value = Request> {
    let patch_types = prop_oneof![
        Just("application/merge-patch+json"),
        Just("application/strategic-merge-patch+json"),
        Just("application/json-patch+json"),
        Just("application/apply-patch+yaml"),
        Just("text/plain"),
    ];
    let query_keys = prop_oneof![
        Just("labelSelector"),
        Just("fieldSelector"),
        Just("resourceVersion"),
        Just("timeoutSeconds"),
        Just("dryRun"),
        Just("limit"),
        Just("propagationPolicy"),
        Just("x"),
    ];
    let segment = "[a-zA-Z0-9._~%-]{0,12}";
    prop_oneof![
        mutations().prop_map(|m| json_request("POST", PODS, mutate(pod(), &m))),
        (nasty_string(), mutations()).prop_map(|(name, m)| {
            let mut p = pod();
            p["metadata"]["name"] = json!(name);
            json_request("POST", PODS, mutate(p, &m))
        }),
        mutations().prop_map(|m| json_request("PUT", &format!("{PODS}/fz"), mutate(pod(), &m))),
        mutations().prop_map(|m| json_request("POST", CMS, mutate(config_map(), &m))),
        mutations().prop_map(|m| json_request(
            "PUT",
            &format!("{CMS}/cfz"),
            mutate(config_map(), &m)
        )),
        raw_body(pod()).prop_map(|body| Request {
            method: "POST",
            path: PODS.to_string(),
            content_type: "application/json",
            body,
        }),
        (
            patch_types,
            prop_oneof![
                any_json().boxed(),
                mutations().prop_map(|m| mutate(pod(), &m)).boxed()
            ]
        )
            .prop_map(|(ct, doc)| Request {
                method: "PATCH",
                path: format!("{PODS}/fz"),
                content_type: ct,
                body: doc.to_string().into_bytes(),
            }),
        (
            prop_oneof![
                Just("GET"),
                Just("DELETE"),
                Just("POST"),
                Just("PUT"),
                Just("PATCH")
            ],
            prop::collection::vec(segment, 0..4),
            prop::collection::vec((query_keys, nasty_string()), 0..3),
        )
            .prop_map(|(method, segments, query)| {
                let query: Vec<String> = query
                    .iter()
                    .map(|(k, v)| format!("{k}={}", urlencode(v)))
                    .collect();
                Request {
                    method,
                    path: format!(
                        "/api/v1/namespaces/default/{}?{}",
                        segments.join("/"),
                        query.join("&")
                    ),
                    content_type: "application/json",
                    body: b"{}".to_vec(),
                }
            }),
    ]
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[actix_rt::test]
async fn generated_requests_get_an_answer_or_a_status_and_failures_append_nothing() {
    let nats = NatsServer::start();
    let api = Api::start(&nats.url()).await;
    // Something to replace, patch and delete.
    assert_eq!(api.post(PODS, &pod()).await.0, 201);
    assert_eq!(api.post(CMS, &config_map()).await.0, 201);
    let cases = draw(requests(), case_count());
    let mut codes = std::collections::BTreeMap::<u16, usize>::new();
    for (i, req) in cases.iter().enumerate() {
        let before = api.last_seq().await;
        let method = reqwest::Method::from_bytes(req.method.as_bytes()).unwrap();
        let sent = api
            .http
            .request(method, api.url(&req.path))
            .header("content-type", req.content_type)
            .body(req.body.clone())
            .timeout(std::time::Duration::from_secs(10))
            .send()
            .await;
        let resp = sent.unwrap_or_else(|e| panic!("case {i} {req:?}: no answer: {e}"));
        let code = resp.status().as_u16();
        *codes.entry(code).or_default() += 1;
        let text = resp.text().await.unwrap_or_default();
        let show = || {
            format!(
                "case {i} {} {} {:?}: {code} {text}",
                req.method,
                req.path,
                String::from_utf8_lossy(&req.body)
            )
        };
        assert!(code < 500, "{}", show());
        if code >= 400 {
            let status: Value =
                serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {}", show()));
            assert_eq!(status["kind"], "Status", "{}", show());
            assert_eq!(status["code"], code, "{}", show());
            assert!(
                status["message"].as_str().is_some_and(|m| !m.is_empty()),
                "{}",
                show()
            );
            assert_eq!(
                api.last_seq().await,
                before,
                "a refused request appended: {}",
                show()
            );
        }
    }
    eprintln!("{} cases, answers by code: {codes:?}", cases.len());
    // The API still answers, and what it lists it can read back.
    let (code, list) = api.get("/api/v1/pods").await;
    assert_eq!(code, 200, "{list}");
    let (code, _) = api.get("/api/v1/configmaps").await;
    assert_eq!(code, 200);
}
