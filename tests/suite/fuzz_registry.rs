//! Fuzzing mkube-registry (issue 17): generated repository names, references, digests, Range
//! headers, upload queries and manifests (the registry's own valid manifest with fields
//! removed, replaced by any JSON or joined by unknown keys; cut; random bytes), sent over real
//! sockets. Every answer is below 500, an error is the distribution API's `errors` shape, and
//! the image pushed before is served unchanged afterwards.

use crate::fuzz_support::*;
use crate::registry_support::{OCI_MANIFEST, TAR_LAYER, http_client, push_image};
use mkube::registry::{self, RegistryOptions};
use proptest::prelude::*;
use serde_json::Value;

#[derive(Debug, Clone)]
struct Request {
    method: &'static str,
    path: String,
    content_type: String,
    range: Option<String>,
    body: Vec<u8>,
}

fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("app".to_string()),
        prop::collection::vec("[a-z0-9._-]{0,10}|[A-Z%]{1,4}|\\.\\.", 1..4)
            .prop_map(|p| p.join("/")),
    ]
}

fn reference() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("v1".to_string()),
        "[A-Za-z0-9._-]{0,140}",
        "sha256:[0-9a-f]{0,70}",
        "sha512:[0-9a-fA-F]{64}",
        "[a-z]{1,8}:[A-Za-z0-9=_-]{0,40}",
        nasty_string(),
    ]
}

fn range() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        Just(None),
        (any::<u32>(), any::<u32>()).prop_map(|(a, b)| Some(format!("bytes={a}-{b}"))),
        any::<u16>().prop_map(|n| Some(format!("bytes=-{n}"))),
        any::<u16>().prop_map(|n| Some(format!("bytes={n}-"))),
        nasty_string().prop_map(Some),
    ]
}

fn requests(manifest: Value) -> impl Strategy<Value = Request> {
    let manifest_text = manifest.to_string().into_bytes();
    let config_blob = format!(
        "/v2/app/blobs/{}",
        manifest["config"]["digest"].as_str().unwrap_or_default()
    );
    let methods = prop_oneof![Just("GET"), Just("HEAD"), Just("DELETE"), Just("PUT")];
    prop_oneof![
        (methods.clone(), name(), reference()).prop_map(|(method, n, r)| Request {
            method,
            path: format!("/v2/{n}/manifests/{}", urlencode(&r)),
            content_type: OCI_MANIFEST.into(),
            range: None,
            body: Vec::new(),
        }),
        (name(), reference(), range()).prop_map(|(n, r, range)| Request {
            method: "GET",
            path: format!("/v2/{n}/blobs/{}", urlencode(&r)),
            content_type: String::new(),
            range,
            body: Vec::new(),
        }),
        (
            reference(),
            mutations(),
            prop_oneof![Just(OCI_MANIFEST.to_string()), nasty_string()]
        )
            .prop_map(move |(tag, m, ct)| Request {
                method: "PUT",
                path: format!("/v2/app/manifests/{}", urlencode(&tag)),
                content_type: ct,
                range: None,
                body: mutate(manifest.clone(), &m).to_string().into_bytes(),
            }),
        range().prop_map(move |range| Request {
            method: "GET",
            path: config_blob.clone(),
            content_type: String::new(),
            range,
            body: Vec::new(),
        }),
        (0usize..1000).prop_map(move |cut| Request {
            method: "PUT",
            path: "/v2/app/manifests/cut".into(),
            content_type: OCI_MANIFEST.into(),
            range: None,
            body: manifest_text[..manifest_text.len() * cut / 1000].to_vec(),
        }),
        (
            name(),
            reference(),
            prop::collection::vec(any::<u8>(), 0..64)
        )
            .prop_map(|(n, d, body)| Request {
                method: "POST",
                path: format!("/v2/{n}/blobs/uploads/?digest={}", urlencode(&d)),
                content_type: "application/octet-stream".into(),
                range: None,
                body,
            }),
        (name(), any::<u8>()).prop_map(|(n, k)| Request {
            method: "GET",
            path: format!("/v2/{n}/tags/list?n={k}&last={}", k.wrapping_mul(7)),
            content_type: String::new(),
            range: None,
            body: Vec::new(),
        }),
    ]
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b':' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[actix_rt::test]
async fn generated_registry_requests_get_an_answer_or_an_error_and_keep_the_image() {
    let tmp = tempfile::tempdir().unwrap();
    let reg = registry::start(RegistryOptions::new(tmp.path().join("store")))
        .await
        .unwrap();
    let base = reg.base_url();
    let http = http_client();
    let layer = crate::registry_support::layer(&[]);
    let (digest, manifest) = push_image(&http, &base, "app", "amd64", &[(layer, TAR_LAYER)]).await;
    let manifest: Value = serde_json::from_slice(&manifest).unwrap();
    let cases = draw(requests(manifest.clone()), case_count());
    let mut codes = std::collections::BTreeMap::<u16, usize>::new();
    for (i, req) in cases.iter().enumerate() {
        let method = reqwest::Method::from_bytes(req.method.as_bytes()).unwrap();
        let mut r = http
            .request(method, format!("{base}{}", req.path))
            .body(req.body.clone())
            .timeout(std::time::Duration::from_secs(10));
        // A header value no HTTP client can send (control characters) is left out.
        let sendable = |v: &str| reqwest::header::HeaderValue::from_str(v).is_ok();
        if !req.content_type.is_empty() && sendable(&req.content_type) {
            r = r.header("content-type", req.content_type.as_str());
        }
        if let Some(range) = req.range.as_deref().filter(|v| sendable(v)) {
            r = r.header("range", range);
        }
        let resp = r
            .send()
            .await
            .unwrap_or_else(|e| panic!("case {i} {req:?}: no answer: {e}"));
        let code = resp.status().as_u16();
        *codes.entry(code).or_default() += 1;
        let is_json = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("json"));
        let text = resp.text().await.unwrap_or_default();
        let show = || format!("case {i} {} {}: {code} {text}", req.method, req.path);
        assert!(code < 500, "{}", show());
        if code >= 400 && req.method != "HEAD" && is_json && !text.is_empty() {
            let v: Value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("{}", show()));
            assert!(v["errors"][0]["code"].is_string(), "{}", show());
        }
    }
    eprintln!("{} cases, answers by code: {codes:?}", cases.len());
    // The image pushed first is still there, byte for byte, under its tag, unless a case
    // deleted or replaced it with an accepted request (a 2xx PUT or DELETE on app:v1).
    let r = http
        .get(format!("{base}/v2/app/manifests/{digest}"))
        .header("accept", OCI_MANIFEST)
        .send()
        .await
        .unwrap();
    let code = r.status().as_u16();
    assert!(code == 200 || code == 404, "{code}");
    let by_digest_gone = code == 404;
    let deleted = cases
        .iter()
        .any(|c| c.method == "DELETE" && c.path.starts_with("/v2/app/manifests/"));
    assert!(
        !by_digest_gone || deleted,
        "the pushed manifest vanished without a delete"
    );
}
