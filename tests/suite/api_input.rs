//! Bad input gets a clear `v1.Status` with the right code and appends nothing.

use crate::common;

use common::mkube::MkubeProcess;
use common::nats::free_port;
use common::{NatsServer, cluster};
use serde_json::{Value, json};

async fn expect_status(resp: reqwest::Response, code: u16, needle: &str) {
    assert_eq!(resp.status().as_u16(), code);
    let body: Value = resp.json().await.expect("a JSON Status body");
    assert_eq!(body["kind"], "Status", "{body}");
    assert_eq!(body["code"], code);
    let message = body["message"].as_str().unwrap_or_default();
    assert!(message.contains(needle), "{message:?} lacks {needle:?}");
}

#[actix_rt::test]
async fn malformed_pod_requests_are_rejected_and_leave_no_trace() {
    let nats = NatsServer::start();
    let dir = tempfile::tempdir().unwrap();
    let mk = MkubeProcess::start(dir.path(), cluster::NODE, &nats.url());
    let http = common::http();
    mk.wait_ready(&http).await;
    let pods = mk.url("/api/v1/namespaces/default/pods");
    let good =
        json!({"metadata": {"name": "ok"}, "spec": {"containers": [{"name": "c", "image": "i"}]}});
    assert_eq!(
        http.post(&pods).json(&good).send().await.unwrap().status(),
        201
    );

    let raw = |body: &'static str| {
        http.post(&pods)
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    expect_status(raw("{not json").await.unwrap(), 400, "invalid pod JSON").await;
    expect_status(raw("").await.unwrap(), 400, "invalid pod JSON").await;
    expect_status(raw("[1,2]").await.unwrap(), 400, "invalid pod JSON").await;
    expect_status(
        raw(r#"{"metadata": {"name": 5}}"#).await.unwrap(),
        400,
        "invalid pod JSON",
    )
    .await;
    expect_status(
        raw(r#"{"metadata": {}}"#).await.unwrap(),
        400,
        "pod name is required",
    )
    .await;
    expect_status(
        raw(r#"{"metadata": {"name": "Bad_Name"}}"#).await.unwrap(),
        400,
        "RFC 1123",
    )
    .await;
    let long = format!(r#"{{"metadata": {{"name": "{}"}}}}"#, "a".repeat(64));
    let resp = http.post(&pods).body(long).send().await.unwrap();
    expect_status(resp, 400, "at most 63").await;
    expect_status(
        raw(r#"{"metadata": {"name": "x", "namespace": "other"}}"#)
            .await
            .unwrap(),
        400,
        "does not match",
    )
    .await;
    let bad_ns = http
        .post(mk.url("/api/v1/namespaces/Not.Valid/pods"))
        .json(&good)
        .send()
        .await
        .unwrap();
    expect_status(bad_ns, 400, "namespace").await;
    let huge = vec![b' '; (1 << 20) + 10];
    expect_status(
        http.post(&pods).body(huge).send().await.unwrap(),
        413,
        "larger than",
    )
    .await;
    expect_status(
        http.post(&pods).json(&good).send().await.unwrap(),
        409,
        "already exists",
    )
    .await;
    expect_status(
        http.get(mk.url("/api/v1/namespaces/default/pods/nope"))
            .send()
            .await
            .unwrap(),
        404,
        "not found",
    )
    .await;
    expect_status(
        http.delete(mk.url("/api/v1/namespaces/default/pods/nope"))
            .send()
            .await
            .unwrap(),
        404,
        "not found",
    )
    .await;
    expect_status(
        http.get(mk.url("/api/v9/whatever")).send().await.unwrap(),
        404,
        "could not find",
    )
    .await;

    // Only the one good create is in the log.
    let cfg = cluster::config(&nats.url());
    assert_eq!(cluster::log(&cfg).await.last_sequence().await.unwrap(), 1);
    // The delete answers the pod with its deletion time (issue 11 item 4).
    let deleted = http
        .delete(mk.url("/api/v1/namespaces/default/pods/ok"))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 200);
    let body: Value = deleted.json().await.unwrap();
    assert_eq!(body["kind"], "Pod");
    assert!(body["metadata"]["deletionTimestamp"].is_string(), "{body}");
}

/// Health answers at once; data routes say 503 until replay has finished (here: never, NATS is
/// absent).
#[actix_rt::test]
async fn before_replay_health_answers_and_data_routes_say_503() {
    let dir = tempfile::tempdir().unwrap();
    let dead = format!("nats://127.0.0.1:{}", free_port());
    let mk = MkubeProcess::start(dir.path(), "lonely", &dead);
    let http = common::http();
    let health = http.get(mk.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    assert!(
        health
            .text()
            .await
            .unwrap()
            .starts_with("ok\nnode: lonely\n")
    );
    assert_eq!(
        http.get(mk.url("/readyz")).send().await.unwrap().status(),
        503
    );
    expect_status(
        http.get(mk.url("/api/v1/pods")).send().await.unwrap(),
        503,
        "replaying",
    )
    .await;
    let post = http
        .post(mk.url("/api/v1/namespaces/default/pods"))
        .json(&json!({"metadata": {"name": "x"}}))
        .send()
        .await
        .unwrap();
    expect_status(post, 503, "replaying").await;
    let metrics = mk.get_text(&http, "/metrics").await;
    assert!(metrics.contains("mkube_nats_connected 0"));
}
