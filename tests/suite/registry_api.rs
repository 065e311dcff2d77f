//! mkube-registry API details from spec images.md §2.3 not covered by the differential test
//! (the reference does not paginate tags): pagination of tags/list and _catalog, HEAD
//! headers, manifest DELETE, and the `_pull` extension against docker-registry (§7.1 style).

use crate::registry_support;

use mkube::registry::{self, RegistryOptions};
use registry_support::{
    OCI_MANIFEST, TAR_LAYER, http_client, push_image, push_manifest, push_multi_arch, sha,
    start_registry,
};

/// tags/list and _catalog: lexical order, `n`, `last`, Link on truncation, `n=0` empty.
#[tokio::test]
async fn pagination() {
    let tmp = tempfile::tempdir().unwrap();
    let reg = registry::start(RegistryOptions::new(tmp.path().join("store")))
        .await
        .unwrap();
    let c = http_client();
    let base = reg.base_url();
    let (d, body) = push_image(&c, &base, "p/a", "arm64", &[(b"l".to_vec(), TAR_LAYER)]).await;
    for t in ["v3", "v1", "v2", "latest"] {
        push_manifest(&c, &base, "p/a", t, OCI_MANIFEST, &body).await;
    }
    // A rejected push does not create a repository (checked in the catalog below).
    let r = c
        .put(format!("{base}/v2/p/b/manifests/x"))
        .header("content-type", OCI_MANIFEST)
        .body("")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let get = |q: &str| c.get(format!("{base}/v2/p/a/tags/list{q}")).send();
    let r = get("").await.unwrap();
    assert!(r.headers().get("link").is_none());
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(
        v,
        serde_json::json!({"name": "p/a", "tags": ["latest", "v1", "v2", "v3"]})
    );
    let r = get("?n=2").await.unwrap();
    assert_eq!(
        r.headers()["link"],
        "</v2/p/a/tags/list?n=2&last=v1>; rel=\"next\""
    );
    assert_eq!(
        r.json::<serde_json::Value>().await.unwrap()["tags"],
        serde_json::json!(["latest", "v1"])
    );
    let r = get("?n=2&last=v1").await.unwrap();
    assert!(r.headers().get("link").is_none());
    assert_eq!(
        r.json::<serde_json::Value>().await.unwrap()["tags"],
        serde_json::json!(["v2", "v3"])
    );
    let r = get("?n=0").await.unwrap();
    assert!(r.headers().get("link").is_none());
    assert_eq!(
        r.json::<serde_json::Value>().await.unwrap()["tags"],
        serde_json::json!([])
    );
    // Digest-only pushes are not tags but make the repository exist.
    push_image(&c, &base, "p/c", "arm64", &[(b"m".to_vec(), TAR_LAYER)]).await;
    let v: serde_json::Value = c
        .get(format!("{base}/v2/p/c/tags/list"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["tags"], serde_json::json!([]));
    let r = c
        .get(format!("{base}/v2/_catalog?n=1"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.headers()["link"],
        "</v2/_catalog?n=1&last=p/a>; rel=\"next\""
    );
    assert_eq!(
        r.json::<serde_json::Value>().await.unwrap()["repositories"],
        serde_json::json!(["p/a"])
    );
    let v: serde_json::Value = c
        .get(format!("{base}/v2/_catalog"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["repositories"], serde_json::json!(["p/a", "p/c"]));
    // HEAD gives GET's headers.
    let r = c
        .head(format!("{base}/v2/p/a/manifests/v1"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.headers()["content-length"],
        body.len().to_string().as_str()
    );
    assert_eq!(r.headers()["docker-content-digest"], d.as_str());
    assert_eq!(
        r.headers()["docker-distribution-api-version"],
        "registry/2.0"
    );
    // DELETE by tag removes the tag; by digest the manifest and its tags.
    assert_eq!(
        c.delete(format!("{base}/v2/p/a/manifests/v3"))
            .send()
            .await
            .unwrap()
            .status(),
        202
    );
    assert_eq!(
        c.get(format!("{base}/v2/p/a/manifests/v3"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    assert_eq!(
        c.get(format!("{base}/v2/p/a/manifests/v2"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        c.delete(format!("{base}/v2/p/a/manifests/{d}"))
            .send()
            .await
            .unwrap()
            .status(),
        202
    );
    assert_eq!(
        c.get(format!("{base}/v2/p/a/manifests/v2"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    assert_eq!(
        c.delete(format!("{base}/v2/p/a/manifests/{d}"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    reg.stop().await;
}

/// `POST /v2/_pull`: copies a single image and the arm64 child of an index from an
/// upstream (docker-registry on loopback) under the full upstream repository path.
#[tokio::test]
async fn pull_extension_copies_from_upstream() {
    let up = start_registry(None).await;
    let c = http_client();
    let (arm, _amd) = push_multi_arch(&c, &up.base()).await;
    let tmp = tempfile::tempdir().unwrap();
    let reg = registry::start(RegistryOptions::new(tmp.path().join("store")))
        .await
        .unwrap();
    let base = reg.base_url();
    let pull = |image: String| {
        c.post(format!("{base}/v2/_pull"))
            .json(&serde_json::json!({"image": image}))
            .send()
    };
    let r = pull(format!("{}/app:arm", up.host())).await.unwrap();
    assert_eq!(r.status(), 200);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["status"], "ok");
    assert_eq!(v["manifest"], true);
    assert_eq!(v["total"], 3);
    assert_eq!(v["blobs"], 3);
    let r = c
        .get(format!("{base}/v2/app/manifests/arm"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["docker-content-digest"], arm.as_str());
    // The index: its arm64 child comes along (blobs already present now).
    let r = pull(format!("{}/app:multi", up.host())).await.unwrap();
    assert_eq!(r.status(), 200);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(
        (v["blobs"].as_u64(), v["total"].as_u64()),
        (Some(0), Some(3))
    );
    let r = c
        .get(format!("{base}/v2/app/manifests/multi"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = c
        .get(format!("{base}/v2/app/manifests/{arm}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let m: serde_json::Value = r.json().await.unwrap();
    for l in m["layers"].as_array().unwrap() {
        let d = l["digest"].as_str().unwrap();
        let b = c
            .get(format!("{base}/v2/app/blobs/{d}"))
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        assert_eq!(sha(&b), d);
    }
    // Bad requests and upstream failures.
    assert_eq!(pull("no-host-here:1".into()).await.unwrap().status(), 400);
    let r = c
        .post(format!("{base}/v2/_pull"))
        .body("nope")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(
        pull(format!("{}/app:missing", up.host()))
            .await
            .unwrap()
            .status(),
        502
    );
    reg.stop().await;
}

/// Push notification wiring (§2.8, §7.4-1): a tag push → one webhook POST with
/// `{"image":"<repo>:<tag>"}`; a digest push → none.
#[tokio::test]
async fn tag_push_fires_one_webhook() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let hook = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "http://{}/api/v1/registry/push-notify",
        hook.local_addr().unwrap()
    );
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    tokio::spawn(async move {
        loop {
            let (mut s, _) = hook.accept().await.unwrap();
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                loop {
                    let n = s.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    let text = String::from_utf8_lossy(&buf).into_owned();
                    if let Some(i) = text.find("\r\n\r\n") {
                        let len: usize = text[..i]
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase()
                                    .strip_prefix("content-length:")
                                    .map(|v| v.trim().parse().unwrap())
                            })
                            .unwrap_or(0);
                        if buf.len() >= i + 4 + len {
                            let _ = tx.send(text[i + 4..i + 4 + len].to_string());
                            let _ = s
                                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
                                .await;
                            buf.clear();
                        }
                    }
                }
            });
        }
    });
    let tmp = tempfile::tempdir().unwrap();
    let mut opts = RegistryOptions::new(tmp.path().join("store"));
    opts.notify_url = Some(url);
    let reg = registry::start(opts).await.unwrap();
    let c = http_client();
    let base = reg.base_url();
    let (_, body) = push_image(&c, &base, "t/app", "arm64", &[(b"l".to_vec(), TAR_LAYER)]).await;
    push_manifest(&c, &base, "t/app", "v1", OCI_MANIFEST, &body).await;
    let got = tokio::time::timeout(std::time::Duration::from_secs(5), rx.recv())
        .await
        .unwrap()
        .unwrap();
    let v: serde_json::Value = serde_json::from_str(&got).unwrap();
    assert_eq!(v["image"], "t/app:v1");
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(
        rx.try_recv().is_err(),
        "exactly one event (the digest push is suppressed)"
    );
    reg.stop().await;
}

/// §2.4 migration: the original `manifests/<repo>/<ref>.json` (+ `.type`) layout is imported
/// at start; `sha256-<hex>` names matching their content become digest-only revisions,
/// other names tags; non-JSON files are skipped.
#[tokio::test]
async fn legacy_layout_is_imported() {
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("store");
    let legacy = store.join("manifests/glennswest/nats");
    std::fs::create_dir_all(&legacy).unwrap();
    let m1 = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{},"layers":[]}"#;
    let m2 = br#"{"schemaVersion":2,"layers":[]}"#;
    std::fs::write(legacy.join("latest.json"), m1).unwrap();
    std::fs::write(legacy.join("latest.json.type"), OCI_MANIFEST).unwrap();
    let d2 = sha(m2);
    std::fs::write(legacy.join(format!("{}.json", d2.replace(':', "-"))), m2).unwrap();
    std::fs::write(legacy.join("html.json"), "<html>nope</html>").unwrap();
    let reg = registry::start(RegistryOptions::new(store.clone()))
        .await
        .unwrap();
    let c = http_client();
    let base = reg.base_url();
    let r = c
        .get(format!("{base}/v2/glennswest/nats/manifests/latest"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], OCI_MANIFEST);
    assert_eq!(r.bytes().await.unwrap().as_ref(), m1);
    let r = c
        .get(format!("{base}/v2/glennswest/nats/manifests/{d2}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["content-type"],
        "application/vnd.docker.distribution.manifest.v2+json"
    );
    let v: serde_json::Value = c
        .get(format!("{base}/v2/glennswest/nats/tags/list"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["tags"], serde_json::json!(["latest"]));
    reg.stop().await;
}

/// TLS wiring (§2.6): with a certificate the same port answers HTTPS (verified against the
/// generated CA) and plain HTTP.
#[tokio::test]
async fn tls_and_plain_on_one_port() {
    use mkube::registry::{certs, listener};
    let tmp = tempfile::tempdir().unwrap();
    let generated = certs::generate(&certs::CertRequest {
        ips: vec![],
        dns_names: vec![],
        days: 1,
    })
    .unwrap();
    certs::write_files(&generated, tmp.path()).unwrap();
    let mut opts = RegistryOptions::new(tmp.path().join("store"));
    opts.tls = Some(listener::TlsFiles {
        cert: tmp.path().join("tls.crt"),
        key: tmp.path().join("tls.key"),
    });
    let reg = registry::start(opts).await.unwrap();
    let tls = mkube::tls::client_config(false, &[generated.ca_cert_pem.as_bytes()]).unwrap();
    let https = reqwest::Client::builder()
        .no_proxy()
        .tls_backend_preconfigured(tls)
        .build()
        .unwrap();
    let url = reg.tls_url().unwrap();
    let r = https.get(format!("{url}/v2/")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let r = http_client()
        .get(format!("{}/v2/", reg.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    reg.stop().await;
}
