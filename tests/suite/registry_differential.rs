//! Differential test, spec images.md §7.1-6: the same request set against Debian's
//! `docker-registry` 2.8 (the reference) and mkube-registry; status codes, error codes and
//! the `Docker-Content-Digest`, `Location` (path part, upload ids masked) and `Range`
//! headers must match.

use crate::registry_support;

use mkube::registry::{self, RegistryOptions};
use registry_support::{OCI_MANIFEST, http_client, sha, start_registry};

#[derive(Debug, PartialEq)]
struct Seen {
    step: &'static str,
    status: u16,
    digest: Option<String>,
    location: Option<String>,
    range: Option<String>,
    content_range: Option<String>,
    link: bool,
    error: Option<String>,
    body: Option<String>,
}

/// Path part of a Location, with an upload session id replaced by `<id>`.
fn location_path(v: &str) -> String {
    let path = match v.find("://") {
        Some(i) => {
            let rest = &v[i + 3..];
            rest.find('/').map_or("/", |j| &rest[j..])
        }
        None => v,
    };
    let path = path.split('?').next().unwrap_or("");
    match path.rsplit_once("/blobs/uploads/") {
        Some((pre, _)) => format!("{pre}/blobs/uploads/<id>"),
        None => path.to_string(),
    }
}

struct Run {
    base: String,
    seen: Vec<Seen>,
}

impl Run {
    /// Sends and records; returns the absolute Location (if any) and the body.
    async fn go(
        &mut self,
        step: &'static str,
        req: reqwest::RequestBuilder,
        keep_body: bool,
    ) -> (Option<String>, Vec<u8>) {
        let r = req.send().await.unwrap();
        let h = |k: &str| r.headers().get(k).map(|v| v.to_str().unwrap().to_string());
        let status = r.status().as_u16();
        let digest = h("docker-content-digest");
        let loc_raw = h("location");
        let range = h("range");
        let content_range = h("content-range");
        let link = h("link").is_some();
        let body = r.bytes().await.unwrap().to_vec();
        let error = if status >= 400 {
            serde_json::from_slice::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| v["errors"][0]["code"].as_str().map(str::to_string))
        } else {
            None
        };
        self.seen.push(Seen {
            step,
            status,
            digest,
            location: loc_raw.as_deref().map(location_path),
            range,
            content_range,
            link,
            error,
            body: keep_body.then(|| String::from_utf8_lossy(&body).into_owned()),
        });
        let abs = loc_raw.map(|l| {
            if l.starts_with("http") {
                l
            } else {
                format!("{}{l}", self.base)
            }
        });
        (abs, body)
    }

    /// The Location to continue with, or a path that answers 404 when there was none.
    fn or_missing(&self, loc: Option<String>) -> String {
        loc.unwrap_or_else(|| {
            self.url("/v2/d/app/blobs/uploads/00000000-0000-4000-8000-000000000000")
        })
    }

    fn url(&self, p: &str) -> String {
        format!("{}{p}", self.base)
    }
}

fn with_param(loc: &str, kv: &str) -> String {
    let sep = if loc.contains('?') { '&' } else { '?' };
    format!("{loc}{sep}{kv}")
}

async fn script(base: String) -> Vec<Seen> {
    let c = http_client();
    let mut r = Run {
        base,
        seen: Vec::new(),
    };
    let blob1 = b"monolithic blob content".to_vec();
    let d1 = sha(&blob1);
    let blob2: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
    let d2 = sha(&blob2);
    let config =
        br#"{"architecture":"arm64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#
            .to_vec();
    let dc = sha(&config);

    r.go("base", c.get(r.url("/v2/")), false).await;
    // Monolithic: POST then PUT ?digest= with the whole body.
    let (loc, _) = r
        .go("start", c.post(r.url("/v2/d/app/blobs/uploads/")), false)
        .await;
    r.go(
        "put-mono",
        c.put(with_param(&r.or_missing(loc), &format!("digest={d1}")))
            .header("content-type", "application/octet-stream")
            .body(blob1.clone()),
        false,
    )
    .await;
    let (loc, _) = r
        .go(
            "start-config",
            c.post(r.url("/v2/d/app/blobs/uploads/")),
            false,
        )
        .await;
    r.go(
        "put-config",
        c.put(with_param(&r.or_missing(loc), &format!("digest={dc}")))
            .body(config.clone()),
        false,
    )
    .await;
    // Chunked: two PATCHes with Content-Range, a status GET, a wrong-offset PATCH, PUT.
    let (loc, _) = r
        .go(
            "start-chunked",
            c.post(r.url("/v2/d/app/blobs/uploads/")),
            false,
        )
        .await;
    let (loc, _) = r
        .go(
            "patch-1",
            c.patch(r.or_missing(loc))
                .header("content-type", "application/octet-stream")
                .header("content-range", "0-5999")
                .body(blob2[..6000].to_vec()),
            false,
        )
        .await;
    let loc = r.or_missing(loc);
    r.go("status", c.get(&loc), false).await;
    // (A PATCH whose Content-Range does not start at the current offset is left out: the
    // reference accepts it and corrupts the session; the spec requires 416, tested in
    // registry_bad_inputs.rs.)
    let (loc, _) = r
        .go(
            "patch-2",
            c.patch(&loc)
                .header("content-type", "application/octet-stream")
                .header("content-range", "6000-9999")
                .body(blob2[6000..].to_vec()),
            false,
        )
        .await;
    r.go(
        "put-chunked",
        c.put(with_param(&r.or_missing(loc), &format!("digest={d2}"))),
        false,
    )
    .await;
    // Blob reads.
    r.go(
        "head-blob",
        c.head(r.url(&format!("/v2/d/app/blobs/{d2}"))),
        false,
    )
    .await;
    r.go(
        "get-blob",
        c.get(r.url(&format!("/v2/d/app/blobs/{d1}"))),
        true,
    )
    .await;
    r.go(
        "get-range",
        c.get(r.url(&format!("/v2/d/app/blobs/{d2}")))
            .header("range", "bytes=10-19"),
        true,
    )
    .await;
    r.go(
        "head-missing-blob",
        c.head(r.url(&format!("/v2/d/app/blobs/{}", sha(b"nope")))),
        false,
    )
    .await;
    r.go(
        "get-missing-blob",
        c.get(r.url(&format!("/v2/d/app/blobs/{}", sha(b"nope")))),
        false,
    )
    .await;
    r.go(
        "delete-blob",
        c.delete(r.url(&format!("/v2/d/app/blobs/{d1}"))),
        false,
    )
    .await;
    // Wrong digest, monolithic and chunked; the session is gone afterwards.
    let (loc, _) = r
        .go(
            "start-bad",
            c.post(r.url("/v2/d/app/blobs/uploads/")),
            false,
        )
        .await;
    let loc = r.or_missing(loc);
    r.go(
        "put-bad-digest",
        c.put(with_param(&loc, &format!("digest={}", sha(b"other"))))
            .body(blob1.clone()),
        false,
    )
    .await;
    r.go("status-after-bad", c.get(&loc), false).await;
    r.go(
        "patch-unknown",
        c.patch(r.url("/v2/d/app/blobs/uploads/4f2b1d4e-93d4-4f4e-a6f4-1b9d3b2f6c11"))
            .body(vec![1u8]),
        false,
    )
    .await;
    // Cross-repo mount.
    r.go(
        "mount",
        c.post(r.url(&format!("/v2/d/other/blobs/uploads/?mount={d1}&from=d/app"))),
        false,
    )
    .await;
    let (loc, _) = r
        .go(
            "mount-unknown",
            c.post(r.url(&format!(
                "/v2/d/other/blobs/uploads/?mount={}&from=d/app",
                sha(b"x")
            ))),
            false,
        )
        .await;
    let cancel = loc.unwrap_or_else(|| r.url("/v2/d/other/blobs/uploads/missing-location"));
    r.go("cancel", c.delete(cancel), false).await;
    // Manifests by tag and digest.
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": dc, "size": config.len()},
        "layers": [
            {"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": d1, "size": blob1.len()},
            {"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": d2, "size": blob2.len()},
        ],
    })
    .to_string();
    let dm = sha(manifest.as_bytes());
    for (step, tag) in [("put-tag-c", "c"), ("put-tag-a", "a"), ("put-tag-b", "b")] {
        r.go(
            step,
            c.put(r.url(&format!("/v2/d/app/manifests/{tag}")))
                .header("content-type", OCI_MANIFEST)
                .body(manifest.clone()),
            false,
        )
        .await;
    }
    r.go(
        "put-digest",
        c.put(r.url(&format!("/v2/d/app/manifests/{dm}")))
            .header("content-type", OCI_MANIFEST)
            .body(manifest.clone()),
        false,
    )
    .await;
    r.go(
        "get-tag",
        c.get(r.url("/v2/d/app/manifests/a"))
            .header("accept", OCI_MANIFEST),
        true,
    )
    .await;
    r.go(
        "head-tag",
        c.head(r.url("/v2/d/app/manifests/b"))
            .header("accept", OCI_MANIFEST),
        false,
    )
    .await;
    r.go(
        "get-digest",
        c.get(r.url(&format!("/v2/d/app/manifests/{dm}")))
            .header("accept", OCI_MANIFEST),
        true,
    )
    .await;
    r.go(
        "get-missing-tag",
        c.get(r.url("/v2/d/app/manifests/nope")),
        false,
    )
    .await;
    r.go(
        "get-missing-digest",
        c.get(r.url(&format!("/v2/d/app/manifests/{}", sha(b"m")))),
        false,
    )
    .await;
    let missing_blob = manifest.replace(&d1, &sha(b"absent"));
    r.go(
        "put-missing-blob",
        c.put(r.url("/v2/d/app/manifests/x"))
            .header("content-type", OCI_MANIFEST)
            .body(missing_blob),
        false,
    )
    .await;
    r.go(
        "put-wrong-digest",
        c.put(r.url(&format!("/v2/d/app/manifests/{}", sha(b"m"))))
            .header("content-type", OCI_MANIFEST)
            .body(manifest.clone()),
        false,
    )
    .await;
    // Tags list and pagination.
    r.go("tags", c.get(r.url("/v2/d/app/tags/list")), true)
        .await;
    r.go("tags-n2", c.get(r.url("/v2/d/app/tags/list?n=2")), true)
        .await;
    r.go(
        "tags-last",
        c.get(r.url("/v2/d/app/tags/list?n=2&last=b")),
        true,
    )
    .await;
    r.go(
        "tags-unknown",
        c.get(r.url("/v2/d/nothing/tags/list")),
        false,
    )
    .await;
    r.seen
}

/// §7.1-6.
#[tokio::test]
async fn same_answers_as_docker_registry() {
    let reference = start_registry(None).await;
    let tmp = tempfile::tempdir().unwrap();
    let ours = registry::start(RegistryOptions::new(tmp.path().join("store")))
        .await
        .unwrap();
    let want = script(reference.base()).await;
    let got = script(ours.base_url()).await;
    assert_eq!(want.len(), got.len());
    // Where the spec names a different error code than the reference sends (the reference
    // reports its own session-state token errors as BLOB_UPLOAD_INVALID; the spec wants
    // BLOB_UPLOAD_UNKNOWN for unknown sessions), only the status is compared.
    const CODE_DIFFERS: [&str; 2] = ["status-after-bad", "patch-unknown"];
    let mut diffs = Vec::new();
    // docker-registry 2.8 ignores `n`/`last` on tags/list and does not sort; the spec requires
    // lexical order and pagination (checked in registry_api.rs). Compare the tag sets.
    let tag_set = |s: &Seen| {
        let v: serde_json::Value =
            serde_json::from_str(s.body.as_deref().unwrap_or("null")).unwrap();
        let mut t: Vec<String> = v["tags"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|x| x.as_str().unwrap().to_string())
            .collect();
        t.sort();
        t
    };
    for (w, g) in want.iter().zip(&got) {
        if w.step.starts_with("tags-") {
            assert_eq!((w.step, w.status), (g.step, g.status));
            continue;
        }
        if w.step == "tags" {
            assert_eq!(w.status, g.status);
            assert_eq!(tag_set(w), tag_set(g));
            continue;
        }
        if CODE_DIFFERS.contains(&w.step) {
            assert_eq!(
                g.error.as_deref(),
                Some("BLOB_UPLOAD_UNKNOWN"),
                "{}",
                w.step
            );
            assert_eq!((w.step, w.status), (g.step, g.status));
            continue;
        }
        if w != g {
            diffs.push(format!("reference: {w:?}\nours:      {g:?}"));
        }
    }
    assert!(
        diffs.is_empty(),
        "{} differences:\n{}",
        diffs.len(),
        diffs.join("\n\n")
    );
    ours.stop().await;
}
