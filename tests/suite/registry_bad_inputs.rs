//! mkube-registry against bad inputs: spec images.md §7.2 (ids in each test's comment).

use crate::registry_support;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use mkube::registry::{self, RegistryOptions, RunningRegistry};
use registry_support::{OCI_MANIFEST, http_client, push_blob, push_image, raw_http, sha};

struct Env {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    store: PathBuf,
    reg: RunningRegistry,
    c: reqwest::Client,
    base: String,
}

async fn env_with(f: impl FnOnce(&mut RegistryOptions)) -> Env {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    let store = dir.join("store");
    let mut opts = RegistryOptions::new(store.clone());
    f(&mut opts);
    let reg = registry::start(opts).await.unwrap();
    let base = reg.base_url();
    Env {
        _tmp: tmp,
        dir,
        store,
        reg,
        c: http_client(),
        base,
    }
}

async fn env() -> Env {
    env_with(|_| {}).await
}

async fn code(r: reqwest::Response) -> (u16, String) {
    let status = r.status().as_u16();
    let v: serde_json::Value = r.json().await.unwrap_or_default();
    (
        status,
        v["errors"][0]["code"].as_str().unwrap_or("").to_string(),
    )
}

fn blob_files(store: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(store.join("blobs/sha256"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    v.sort();
    v
}

async fn start_session(e: &Env, repo: &str) -> String {
    let r =
        e.c.post(format!("{}/v2/{repo}/blobs/uploads/", e.base))
            .send()
            .await
            .unwrap();
    assert_eq!(r.status(), 202);
    assert_eq!(r.headers()["range"], "0-0");
    format!("{}{}", e.base, r.headers()["location"].to_str().unwrap())
}

/// §7.2-1: wrong digest, monolithic and chunked → 400 DIGEST_INVALID, nothing in blobs/,
/// the chunked session is gone.
#[tokio::test]
async fn wrong_digest_is_rejected_and_leaves_nothing() {
    let e = env().await;
    let data = b"some layer bytes".to_vec();
    let wrong = sha(b"something else");
    let r =
        e.c.post(format!("{}/v2/r/blobs/uploads/?digest={wrong}", e.base))
            .body(data.clone())
            .send()
            .await
            .unwrap();
    assert_eq!(code(r).await, (400, "DIGEST_INVALID".into()));
    let loc = start_session(&e, "r").await;
    let r = e.c.patch(&loc).body(data.clone()).send().await.unwrap();
    assert_eq!(r.status(), 202);
    assert_eq!(
        r.headers()["range"],
        format!("0-{}", data.len() - 1).as_str()
    );
    let r =
        e.c.put(format!("{loc}?digest={wrong}"))
            .send()
            .await
            .unwrap();
    assert_eq!(code(r).await, (400, "DIGEST_INVALID".into()));
    assert!(blob_files(&e.store).is_empty());
    let r = e.c.get(&loc).send().await.unwrap();
    assert_eq!(code(r).await, (404, "BLOB_UPLOAD_UNKNOWN".into()));
    assert_eq!(
        std::fs::read_dir(e.store.join("uploads")).unwrap().count(),
        0
    );
    // An invalid digest parameter is DIGEST_INVALID too.
    let r =
        e.c.post(format!("{}/v2/r/blobs/uploads/?digest=md5:abc", e.base))
            .body(data)
            .send()
            .await
            .unwrap();
    assert_eq!(code(r).await, (400, "DIGEST_INVALID".into()));
    e.reg.stop().await;
}

/// §7.2-2: unknown blob, manifest, repository, session (also a foreign repository's).
#[tokio::test]
async fn unknown_things_are_404_with_their_codes() {
    let e = env().await;
    let d = sha(b"x");
    for m in [reqwest::Method::GET, reqwest::Method::HEAD] {
        let r =
            e.c.request(m.clone(), format!("{}/v2/r/blobs/{d}", e.base))
                .send()
                .await
                .unwrap();
        assert_eq!(r.status(), 404);
        if m == reqwest::Method::GET {
            assert_eq!(code(r).await.1, "BLOB_UNKNOWN");
        }
    }
    let r =
        e.c.get(format!("{}/v2/r/manifests/latest", e.base))
            .send()
            .await
            .unwrap();
    assert_eq!(code(r).await, (404, "MANIFEST_UNKNOWN".into()));
    let r =
        e.c.get(format!("{}/v2/r/manifests/{d}", e.base))
            .send()
            .await
            .unwrap();
    assert_eq!(code(r).await, (404, "MANIFEST_UNKNOWN".into()));
    let r =
        e.c.get(format!("{}/v2/r/tags/list", e.base))
            .send()
            .await
            .unwrap();
    assert_eq!(code(r).await, (404, "NAME_UNKNOWN".into()));
    let r =
        e.c.patch(format!(
            "{}/v2/r/blobs/uploads/{}",
            e.base,
            uuid::Uuid::new_v4()
        ))
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(code(r).await, (404, "BLOB_UPLOAD_UNKNOWN".into()));
    let loc = start_session(&e, "mine").await;
    let foreign = loc.replace("/v2/mine/", "/v2/other/");
    let r = e.c.patch(&foreign).body("x").send().await.unwrap();
    assert_eq!(code(r).await, (404, "BLOB_UPLOAD_UNKNOWN".into()));
    let r =
        e.c.put(format!("{foreign}?digest={}", sha(b"")))
            .send()
            .await
            .unwrap();
    assert_eq!(code(r).await, (404, "BLOB_UPLOAD_UNKNOWN".into()));
    // The session itself is untouched.
    let r = e.c.get(&loc).send().await.unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(r.headers()["range"], "0-0");
    // Blob DELETE is unsupported (offline GC only).
    let r =
        e.c.delete(format!("{}/v2/r/blobs/{d}", e.base))
            .send()
            .await
            .unwrap();
    assert_eq!(code(r).await, (405, "UNSUPPORTED".into()));
    e.reg.stop().await;
}

/// §7.2-3: a PATCH whose Content-Range does not start at the current offset → 416 with the
/// current Range, size unchanged.
#[tokio::test]
async fn patch_at_wrong_offset_is_416() {
    let e = env().await;
    let loc = start_session(&e, "r").await;
    let r =
        e.c.patch(&loc)
            .header("content-range", "0-4")
            .body("hello")
            .send()
            .await
            .unwrap();
    assert_eq!(r.status(), 202);
    assert_eq!(r.headers()["range"], "0-4");
    for bad in ["3-7", "bytes 10-14/15", "0-4"] {
        let r =
            e.c.patch(&loc)
                .header("content-range", bad)
                .body("world")
                .send()
                .await
                .unwrap();
        assert_eq!(r.status(), 416, "{bad}");
        assert_eq!(r.headers()["range"], "0-4");
    }
    let r = e.c.get(&loc).send().await.unwrap();
    assert_eq!(r.headers()["range"], "0-4");
    // `bytes ` prefix and `/total` suffix are tolerated.
    let r =
        e.c.patch(&loc)
            .header("content-range", "bytes 5-9/10")
            .body("world")
            .send()
            .await
            .unwrap();
    assert_eq!(r.status(), 202);
    let r =
        e.c.put(format!("{loc}?digest={}", sha(b"helloworld")))
            .send()
            .await
            .unwrap();
    assert_eq!(r.status(), 201);
    e.reg.stop().await;
}

/// §7.2: a manifest over the 4 MiB bound with a Content-Length gets 413 SIZE_INVALID.
#[tokio::test]
async fn oversized_manifest_with_content_length_is_413() {
    let e = env().await;
    let mut body = vec![b' '; 4 * 1024 * 1024 + 1];
    body[0] = b'{';
    body[4 * 1024 * 1024] = b'}';
    let r =
        e.c.put(format!("{}/v2/r/manifests/big", e.base))
            .header("content-type", OCI_MANIFEST)
            .body(body)
            .send()
            .await
            .unwrap();
    assert_eq!(code(r).await, (413, "SIZE_INVALID".into()));
    let r = e.c.get(format!("{}/v2/", e.base)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    e.reg.stop().await;
}

/// §7.2-4: a manifest of 4 MiB + 1 byte → 413 SIZE_INVALID; a 50 MiB streamed body without
/// Content-Length is rejected long before it is all sent.
#[tokio::test]
async fn oversized_manifests_are_413() {
    let e = env().await;
    let mut body = vec![b' '; 4 * 1024 * 1024 + 1];
    body[0] = b'{';
    body[4 * 1024 * 1024] = b'}';
    let r =
        e.c.put(format!("{}/v2/r/manifests/big", e.base))
            .header("content-type", OCI_MANIFEST)
            .body(body)
            .send()
            .await
            .unwrap();
    assert_eq!(code(r).await, (413, "SIZE_INVALID".into()));
    // A chunked body that never ends: 6 MiB are sent, then the client only listens. The
    // 413 must come without the rest (a server waiting for the end would never answer).
    // Raw TCP, because an HTTP client may hold back the answer until its own body is done.
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = e.base.trim_start_matches("http://").to_string();
    let mut tcp = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let head = format!(
        "PUT /v2/r/manifests/huge HTTP/1.1\r\nHost: {addr}\r\nContent-Type: {OCI_MANIFEST}\r\nTransfer-Encoding: chunked\r\n\r\n"
    );
    tcp.write_all(head.as_bytes()).await.unwrap();
    let chunk = format!("10000\r\n{}\r\n", " ".repeat(64 * 1024));
    for _ in 0..96 {
        if tcp.write_all(chunk.as_bytes()).await.is_err() {
            break; // closed after the answer: fine, the answer is read below
        }
    }
    let mut answer = Vec::new();
    let read = tokio::time::timeout(std::time::Duration::from_secs(20), async {
        let mut buf = [0u8; 4096];
        while !answer.windows(4).any(|w| w == b"\r\n\r\n") {
            match tcp.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => answer.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    assert!(read.is_ok(), "no answer without the rest of the body");
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 413"), "{text}");
    let r = e.c.get(format!("{}/v2/", e.base)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    e.reg.stop().await;
}

/// §7.2-5: non-JSON, array, unknown media type, missing blobs, digest mismatch.
#[tokio::test]
async fn invalid_manifests_are_400() {
    let e = env().await;
    let put = |reference: &str, ct: &str, body: Vec<u8>| {
        e.c.put(format!("{}/v2/r/manifests/{reference}", e.base))
            .header("content-type", ct.to_string())
            .body(body)
            .send()
    };
    assert_eq!(
        code(put("t", OCI_MANIFEST, b"not json".to_vec()).await.unwrap()).await,
        (400, "MANIFEST_INVALID".into())
    );
    assert_eq!(
        code(put("t", OCI_MANIFEST, b"[1,2]".to_vec()).await.unwrap()).await,
        (400, "MANIFEST_INVALID".into())
    );
    let odd = br#"{"schemaVersion":2,"mediaType":"application/x-unknown"}"#.to_vec();
    assert_eq!(
        code(put("t", "text/plain", odd).await.unwrap()).await,
        (400, "MANIFEST_INVALID".into())
    );
    let config = push_blob(&e.c, &e.base, "r", b"{}").await;
    let missing = serde_json::json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config, "size": 2},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": sha(b"absent"), "size": 6}]})
    .to_string()
    .into_bytes();
    assert_eq!(
        code(put("t", OCI_MANIFEST, missing).await.unwrap()).await,
        (400, "MANIFEST_BLOB_UNKNOWN".into())
    );
    // Media type from the body when Content-Type is not a manifest type.
    let ok = serde_json::json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config, "size": 2}, "layers": []})
    .to_string()
    .into_bytes();
    assert_eq!(
        put(&sha(b"other"), OCI_MANIFEST, ok.clone())
            .await
            .unwrap()
            .status(),
        400
    );
    assert_eq!(
        code(put(&sha(b"other"), OCI_MANIFEST, ok.clone()).await.unwrap())
            .await
            .1,
        "DIGEST_INVALID"
    );
    let r = put("t", "application/octet-stream", ok.clone())
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let r =
        e.c.get(format!("{}/v2/r/manifests/t", e.base))
            .send()
            .await
            .unwrap();
    assert_eq!(r.headers()["content-type"], OCI_MANIFEST);
    assert_eq!(r.bytes().await.unwrap().to_vec(), ok);
    e.reg.stop().await;
}

/// Every path the store may hold.
fn expected_store_path(rel: &str) -> bool {
    let is_hex = |s: &str| {
        s.len() == 64
            && s.bytes()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
    };
    let parts: Vec<&str> = rel.split('/').collect();
    match parts.as_slice() {
        ["blobs"] | ["blobs", "sha256"] | ["repos"] | ["uploads"] | ["tmp"] => true,
        ["blobs", "sha256", h] => is_hex(h),
        ["uploads", f] => f.rsplit_once('.').is_some_and(|(id, ext)| {
            uuid::Uuid::parse_str(id).is_ok() && (ext == "data" || ext == "json")
        }),
        ["repos", rest @ ..] => {
            // <name components...> [tags [<tag>] | revisions [sha256 [<hex>]]]
            let pos = rest.iter().position(|p| *p == "tags" || *p == "revisions");
            let (name, tail) = match pos {
                Some(i) => (rest[..i].join("/"), &rest[i..]),
                None => (rest.join("/"), &rest[rest.len()..]),
            };
            mkube::registry::names::valid_name(&name)
                && match tail {
                    [] | ["tags"] | ["revisions"] | ["revisions", "sha256"] => true,
                    ["tags", t] => mkube::registry::names::valid_tag(t),
                    ["revisions", "sha256", h] => is_hex(h),
                    _ => false,
                }
        }
        _ => false,
    }
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        out.push(p.strip_prefix(root).unwrap().to_string_lossy().into_owned());
        if p.is_dir() {
            walk(root, &p, out);
        }
    }
}

/// §7.2-6: path traversal in names, digests and tags → 400 (404 for unroutable paths);
/// a canary beside the store is untouched, nothing appears outside the store, and the store
/// holds only the paths its layout allows.
#[tokio::test]
async fn path_traversal_touches_nothing_outside_the_store() {
    let e = env().await;
    let canary = e.dir.join("canary");
    std::fs::write(&canary, "canary").unwrap();
    std::fs::create_dir_all(e.dir.join("manifests")).unwrap();
    let before = std::fs::metadata(&canary).unwrap().modified().unwrap();
    let h = &sha(b"x")["sha256:".len()..];
    let upper = h.to_uppercase();
    let long = "a".repeat(256);
    let host = e.reg.host();
    let names = [
        "../x",
        "a/../b",
        "%2e%2e/x",
        "a%2fb",
        "A/b",
        "a//b",
        "./a",
        "a/.",
        "..",
        "%2E%2E",
        "a/%2e%2e/%2e%2e/canary",
        "../../canary",
        &long,
    ];
    let mut cases: Vec<(String, String)> = Vec::new();
    for n in names {
        cases.push(("GET".into(), format!("/v2/{n}/tags/list")));
        cases.push(("POST".into(), format!("/v2/{n}/blobs/uploads/")));
        cases.push(("PUT".into(), format!("/v2/{n}/manifests/t")));
        cases.push(("GET".into(), format!("/v2/{n}/manifests/t")));
        cases.push(("HEAD".into(), format!("/v2/{n}/blobs/sha256:{h}")));
    }
    cases.push(("GET".into(), "/v2/a/b/".into()));
    cases.push(("PUT".into(), "/v2/a/b/manifests/t/".into()));
    let digests = [
        "sha256:..".to_string(),
        "..:manifests".into(),
        "sha256:../../canary".into(),
        format!("sha256:{upper}"),
        format!("sha256:{}", &h[..63]),
        "md5:d41d8cd98f00b204e9800998ecf8427e".into(),
        "sha256%3a..".into(),
    ];
    for d in &digests {
        cases.push(("GET".into(), format!("/v2/x/blobs/{d}")));
        cases.push(("HEAD".into(), format!("/v2/x/blobs/{d}")));
        cases.push(("GET".into(), format!("/v2/x/manifests/{d}")));
        cases.push(("PUT".into(), format!("/v2/x/manifests/{d}")));
        cases.push(("DELETE".into(), format!("/v2/x/manifests/{d}")));
        cases.push(("POST".into(), format!("/v2/x/blobs/uploads/?digest={d}")));
    }
    for t in ["..", "%2e%2e", ".hidden", "-x", "a%2fb", &"t".repeat(129)] {
        cases.push(("PUT".into(), format!("/v2/x/manifests/{t}")));
        cases.push(("GET".into(), format!("/v2/x/manifests/{t}")));
    }
    let manifest = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}"#;
    for (m, p) in &cases {
        let (status, _, body) = raw_http(&host, m, p, &[("Content-Type", OCI_MANIFEST)], manifest);
        assert!(
            status == 400 || status == 404 || status == 405,
            "{m} {p} → {status}: {}",
            String::from_utf8_lossy(&body)
        );
        if p.contains("/blobs/") && !p.contains("uploads") && p.starts_with("/v2/x/") {
            assert_eq!(status, 400, "{m} {p}");
        }
    }
    // Query parameters are validated too.
    let loc = start_session(&e, "x").await;
    for d in &digests {
        let r =
            e.c.put(format!("{loc}?digest={d}"))
                .body("abc")
                .send()
                .await
                .unwrap();
        assert_eq!(r.status(), 400, "digest {d}");
        let r =
            e.c.post(format!(
                "{}/v2/x/blobs/uploads/?mount={d}&from=../../canary",
                e.base
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 202, "mount {d} opens a plain session");
    }
    assert_eq!(std::fs::read_to_string(&canary).unwrap(), "canary");
    assert_eq!(
        std::fs::metadata(&canary).unwrap().modified().unwrap(),
        before
    );
    let mut outside: Vec<String> = std::fs::read_dir(&e.dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    outside.sort();
    assert_eq!(outside, ["canary", "manifests", "store"]);
    assert_eq!(
        std::fs::read_dir(e.dir.join("manifests")).unwrap().count(),
        0
    );
    let mut paths = Vec::new();
    walk(&e.store, &e.store, &mut paths);
    let unexpected: Vec<&String> = paths.iter().filter(|p| !expected_store_path(p)).collect();
    assert!(
        unexpected.is_empty(),
        "unexpected store paths: {unexpected:?}"
    );
    assert!(
        !paths
            .iter()
            .any(|p| p.starts_with("repos/") && p != "repos" && !p.starts_with("repos/x")),
        "{paths:?}"
    );
    e.reg.stop().await;
}

/// §7.2-7: a tag named `sha256-<hex>` next to the manifest with that digest: both resolve to
/// their own content.
#[tokio::test]
async fn digest_like_tag_does_not_shadow_the_digest() {
    let e = env().await;
    let (d1, body1) = push_image(
        &e.c,
        &e.base,
        "r",
        "arm64",
        &[(b"one".to_vec(), registry_support::TAR_LAYER)],
    )
    .await;
    let (_, body2) = push_image(
        &e.c,
        &e.base,
        "r",
        "amd64",
        &[(b"two".to_vec(), registry_support::TAR_LAYER)],
    )
    .await;
    let tag = d1.replace(':', "-");
    registry_support::push_manifest(&e.c, &e.base, "r", &tag, OCI_MANIFEST, &body2).await;
    let by_digest =
        e.c.get(format!("{}/v2/r/manifests/{d1}", e.base))
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
    let by_tag =
        e.c.get(format!("{}/v2/r/manifests/{tag}", e.base))
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
    assert_eq!(by_digest.to_vec(), body1);
    assert_eq!(by_tag.to_vec(), body2);
    e.reg.stop().await;
}

/// Sends a request head announcing `announced` body bytes, writes `sent` of them, and
/// vanishes.
fn vanish(host: &str, method: &str, path: &str, announced: usize, sent: usize) {
    use std::io::Write;
    let mut s = std::net::TcpStream::connect(host).unwrap();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/octet-stream\r\nContent-Length: {announced}\r\n\r\n"
    );
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(&vec![b'z'; sent]).unwrap();
    s.flush().unwrap();
    std::thread::sleep(Duration::from_millis(100));
    drop(s);
}

async fn session_range(e: &Env, loc: &str) -> String {
    // The status GET waits for the session lock, i.e. for the broken request to finish.
    let r = e.c.get(loc).send().await.unwrap();
    assert_eq!(r.status(), 204);
    r.headers()["range"].to_str().unwrap().to_string()
}

/// §7.2-8: clients vanishing mid-PATCH and mid-PUT leave nothing half-written visible; the
/// session continues from its last complete chunk; a restart empties tmp/ and keeps live
/// sessions.
#[tokio::test]
async fn disconnects_and_restarts_leave_no_partial_blobs() {
    let e = env().await;
    let host = e.reg.host();
    let loc = start_session(&e, "r").await;
    let path = loc.trim_start_matches(&e.base).to_string();
    let r = e.c.patch(&loc).body(vec![b'a'; 1000]).send().await.unwrap();
    assert_eq!(r.status(), 202);
    vanish(&host, "PATCH", &path, 100_000, 40_000);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(session_range(&e, &loc).await, "0-999");
    let full: Vec<u8> = [vec![b'a'; 1000], vec![b'b'; 3000]].concat();
    let d = sha(&full);
    vanish(&host, "PUT", &format!("{path}?digest={d}"), 3000, 1500);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(session_range(&e, &loc).await, "0-999");
    assert!(blob_files(&e.store).is_empty(), "no partial blob");
    let data_len = std::fs::metadata(
        e.store
            .join("uploads")
            .join(format!("{}.data", path.rsplit('/').next().unwrap())),
    )
    .unwrap()
    .len();
    assert_eq!(data_len, 1000);
    // Monolithic POST cut short: nothing staged survives in blobs/.
    vanish(
        &host,
        "POST",
        &format!("/v2/r/blobs/uploads/?digest={d}"),
        4000,
        100,
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(blob_files(&e.store).is_empty());

    // "Killed" mid-upload: leftovers in tmp/, then a restart on the same store.
    let Env {
        _tmp,
        dir: _,
        store,
        reg,
        c,
        base: _,
    } = e;
    reg.stop().await;
    std::fs::write(store.join("tmp/leftover"), "half a blob").unwrap();
    let reg = registry::start(RegistryOptions::new(store.clone()))
        .await
        .unwrap();
    assert_eq!(
        std::fs::read_dir(store.join("tmp")).unwrap().count(),
        0,
        "tmp/ emptied at start"
    );
    let loc = format!("{}{path}", reg.base_url());
    let r = c.get(&loc).send().await.unwrap();
    assert_eq!(r.status(), 204, "live session survives a restart");
    let r = c.patch(&loc).body(vec![b'b'; 3000]).send().await.unwrap();
    assert_eq!(r.status(), 202);
    let r = c.put(format!("{loc}?digest={d}")).send().await.unwrap();
    assert_eq!(r.status(), 201);
    let got = c
        .get(format!("{}/v2/r/blobs/{d}", reg.base_url()))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(got.to_vec(), full);
    assert_eq!(std::fs::read_dir(store.join("tmp")).unwrap().count(), 0);
    reg.stop().await;
    drop(_tmp);
}

/// §7.2-8 (clock): with a fake clock, a session idle > 1 h is reaped; one that keeps
/// receiving bytes is not (idleness counts from the last byte, not from creation).
#[tokio::test]
async fn idle_sessions_are_reaped_by_last_byte() {
    let offset = Arc::new(AtomicU64::new(0));
    let o2 = offset.clone();
    let e = env_with(move |o| {
        o.clock =
            Arc::new(move || SystemTime::now() + Duration::from_secs(o2.load(Ordering::Relaxed)));
    })
    .await;
    let idle = start_session(&e, "r").await;
    let live = start_session(&e, "r").await;
    for _ in 0..7 {
        offset.fetch_add(10 * 60, Ordering::Relaxed);
        let r = e.c.patch(&live).body("x").send().await.unwrap();
        assert_eq!(r.status(), 202);
        e.reg.reap_idle_sessions();
    }
    // 70 minutes since both were created; `live` got a byte every 10 minutes.
    assert_eq!(e.reg.open_sessions(), 1);
    assert_eq!(e.c.get(&idle).send().await.unwrap().status(), 404);
    assert_eq!(session_range(&e, &live).await, "0-6");
    let files: Vec<_> = std::fs::read_dir(e.store.join("uploads"))
        .unwrap()
        .collect();
    assert_eq!(
        files.len(),
        2,
        "only the live session's .data and .json remain"
    );
    e.reg.stop().await;
}

/// §7.2-9: a panicking handler → 500, the server keeps serving.
#[tokio::test]
async fn handler_panic_is_a_500() {
    let e = env_with(|o| o.test_hooks = true).await;
    for _ in 0..3 {
        let r =
            e.c.get(format!("{}/v2/_test/panic", e.base))
                .send()
                .await
                .unwrap();
        assert_eq!(r.status(), 500);
        let r = e.c.get(format!("{}/v2/", e.base)).send().await.unwrap();
        assert_eq!(r.status(), 200);
    }
    e.reg.stop().await;
    let e = env().await;
    let r =
        e.c.get(format!("{}/v2/_test/panic", e.base))
            .send()
            .await
            .unwrap();
    assert_ne!(r.status(), 500, "hook disabled by default");
    e.reg.stop().await;
}
