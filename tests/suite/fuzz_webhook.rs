//! Fuzzing the push webhook `POST /api/v1/registry/push-notify` (issue 17; images.md §4.1):
//! the registry's own body (`image`, `repo`, `tag`, `digest`) mutated, cut or replaced by any
//! JSON or bytes, reference-like strings of every shape (tags, digests, ports, nothing) and
//! strings that break parsers, under several content types, over a real socket to the API of
//! a cluster on a real nats-server.
//!
//! Each answer is 200 `{"status":"ok","image":<the image sent>}` or a 400 `v1.Status`; never
//! a 5xx or a dropped connection, and a 400 appends nothing to the log.

use crate::common::NatsServer;
use crate::common::api::Api;
use crate::fuzz_support::*;
use proptest::prelude::*;
use serde_json::{Value, json};

const PATH: &str = "/api/v1/registry/push-notify";

/// What mkube-registry sends after a push (images.md §2.8).
fn registry_body() -> Value {
    json!({
        "image": "127.0.0.1:5000/app:v1",
        "repo": "app",
        "tag": "v1",
        "digest": format!("sha256:{}", "ab".repeat(32)),
    })
}

/// Strings shaped like references: a registry host with or without a port, paths, a tag or
/// a digest (well-formed or not), separators doubled or missing.
fn reference_like() -> impl Strategy<Value = String> {
    let host = prop_oneof![
        Just(String::new()),
        Just("127.0.0.1:5000/".to_string()),
        Just("localhost/".to_string()),
        "[a-z0-9.-]{1,12}(:[0-9]{0,6})?/",
    ];
    let path = "[a-z0-9._/-]{0,24}";
    let suffix = prop_oneof![
        Just(String::new()),
        ":[a-zA-Z0-9._-]{0,20}",
        "@sha256:[0-9a-f]{0,70}",
        ":sha256:[0-9a-f]{60,68}",
        "[:@]{1,3}",
    ];
    (host, path, suffix).prop_map(|(h, p, s)| format!("{h}{p}{s}"))
}

#[derive(Debug, Clone)]
struct Request {
    content_type: &'static str,
    body: Vec<u8>,
}

fn requests() -> impl Strategy<Value = Request> {
    let content_type = prop_oneof![
        4 => Just("application/json"),
        1 => Just("application/vnd.docker.distribution.events.v1+json"),
        1 => Just("text/plain"),
        1 => Just(""),
    ];
    let body = prop_oneof![
        mutations().prop_map(|m| mutate(registry_body(), &m).to_string().into_bytes()),
        reference_like().prop_map(|r| json!({ "image": r }).to_string().into_bytes()),
        nasty_string().prop_map(|r| json!({ "image": r }).to_string().into_bytes()),
        any_json().prop_map(|v| json!({ "image": v }).to_string().into_bytes()),
        raw_body(registry_body()),
    ];
    (content_type, body).prop_map(|(content_type, body)| Request { content_type, body })
}

#[actix_rt::test]
async fn generated_push_notifications_get_ok_or_a_status_and_refusals_append_nothing() {
    let nats = NatsServer::start();
    let api = Api::start(&nats.url()).await;
    // The registry's own notification is accepted, with its extra fields ignored.
    let (code, ok) = api.post(PATH, &registry_body()).await;
    assert_eq!(code, 200, "{ok}");
    assert_eq!(
        ok,
        json!({"status": "ok", "image": "127.0.0.1:5000/app:v1"})
    );

    let cases = draw(requests(), case_count());
    let mut codes = std::collections::BTreeMap::<u16, usize>::new();
    for (i, req) in cases.iter().enumerate() {
        let before = api.last_seq().await;
        let mut sent = api.http.post(api.url(PATH)).body(req.body.clone());
        if !req.content_type.is_empty() {
            sent = sent.header("content-type", req.content_type);
        }
        let resp = sent
            .timeout(std::time::Duration::from_secs(10))
            .send()
            .await
            .unwrap_or_else(|e| panic!("case {i} {req:?}: no answer: {e}"));
        let code = resp.status().as_u16();
        *codes.entry(code).or_default() += 1;
        let text = resp.text().await.unwrap_or_default();
        let show = || {
            format!(
                "case {i} {:?} {:?}: {code} {text}",
                req.content_type,
                String::from_utf8_lossy(&req.body)
            )
        };
        let answer: Value =
            serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {}", show()));
        match code {
            200 => {
                let sent: Value = serde_json::from_slice(&req.body).expect("accepted JSON");
                assert_eq!(answer["status"], "ok", "{}", show());
                assert_eq!(answer["image"], sent["image"], "{}", show());
            }
            400 => {
                assert_eq!(answer["kind"], "Status", "{}", show());
                assert_eq!(answer["code"], 400, "{}", show());
                assert!(
                    answer["message"].as_str().is_some_and(|m| !m.is_empty()),
                    "{}",
                    show()
                );
                assert_eq!(
                    api.last_seq().await,
                    before,
                    "a refused notification appended: {}",
                    show()
                );
            }
            _ => panic!("neither 200 nor 400: {}", show()),
        }
    }
    eprintln!("{} cases, answers by code: {codes:?}", cases.len());
    assert!(
        codes.contains_key(&200) && codes.contains_key(&400),
        "{codes:?}"
    );
    // Still answering, and a valid notification is still taken.
    let (code, _) = api.post(PATH, &json!({"image": "localhost/app:v2"})).await;
    assert_eq!(code, 200);
}
