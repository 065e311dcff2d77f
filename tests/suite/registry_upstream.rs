//! Upstream features of mkube-registry (spec images.md §2.7, §7.4 item 4): pull-through of
//! manifests and blobs on GET/HEAD with a tag TTL, refusal of bad upstream answers (HTML,
//! wrong digests, broken JSON) without storing anything, and the watcher mirroring the arm64
//! child of an index, silent on its first observation and one push event per later change.
//!
//! The upstream is a second in-process mkube-registry, or a tiny fake on 127.0.0.1:0 for the
//! bad answers.

use std::path::Path;
use std::time::Duration;

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use mkube::registry::config::WatchImage;
use mkube::registry::upstream::UpstreamOptions;
use mkube::registry::{self, RegistryOptions, RunningRegistry};

use crate::registry_support::events::{HookLog, Subscriber, wait_until, webhook};
use crate::registry_support::{
    GZ_LAYER, OCI_INDEX, OCI_MANIFEST, Platform, TAR_LAYER, http_client, push_image, push_index,
    push_manifest, sha,
};

const LIMIT: Duration = Duration::from_secs(10);

async fn plain(store: &Path) -> RunningRegistry {
    registry::start(RegistryOptions::new(store.to_path_buf()))
        .await
        .unwrap()
}

fn pull_through_from(hosts: &[String]) -> UpstreamOptions {
    UpstreamOptions {
        pull_through: true,
        registries: hosts.to_vec(),
        ..UpstreamOptions::default()
    }
}

async fn mirror(store: &Path, upstream: UpstreamOptions, hook: &HookLog) -> RunningRegistry {
    let mut opts = RegistryOptions::new(store.to_path_buf());
    opts.upstream = upstream;
    opts.on_push = Some(hook.hook());
    opts.mgmt_listen = Some("127.0.0.1:0".parse().unwrap());
    registry::start(opts).await.unwrap()
}

async fn get(url: &str, accept: Option<&str>) -> (u16, Vec<u8>, reqwest::header::HeaderMap) {
    let mut rb = http_client().get(url);
    if let Some(a) = accept {
        rb = rb.header("accept", a);
    }
    let r = rb.send().await.unwrap();
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    (status, r.bytes().await.unwrap().to_vec(), headers)
}

/// Files under `dir` (recursively), for "nothing was stored" checks.
fn files(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files(&p));
        } else {
            out.push(p.display().to_string());
        }
    }
    out
}

/// images.md §2.7 pull-through, §7.4-4: a GET of a missing manifest and its blobs fetches
/// them from the upstream, byte for byte; afterwards they are served with the upstream gone.
/// HEAD pulls through too. Pull-through emits no push event.
#[actix_web::test]
async fn pull_through_caches_manifest_and_blobs() {
    let tmp = tempfile::tempdir().unwrap();
    let up = plain(&tmp.path().join("up")).await;
    let c = http_client();
    let layer = b"pulled layer".to_vec();
    let (digest, body) = push_image(
        &c,
        &up.base_url(),
        "team/app",
        "arm64",
        &[(layer.clone(), TAR_LAYER)],
    )
    .await;
    push_manifest(&c, &up.base_url(), "team/app", "v1", OCI_MANIFEST, &body).await;
    push_manifest(&c, &up.base_url(), "team/app", "v2", OCI_MANIFEST, &body).await;
    let hook = HookLog::default();
    // The first host knows nothing of the repository: the second one is tried.
    let empty = plain(&tmp.path().join("empty")).await;
    let m = mirror(
        &tmp.path().join("m"),
        pull_through_from(&[empty.host(), up.host()]),
        &hook,
    )
    .await;
    let base = m.base_url();

    let (s, got, h) = get(
        &format!("{base}/v2/team/app/manifests/v1"),
        Some(OCI_MANIFEST),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(got, body);
    assert_eq!(h["docker-content-digest"], digest.as_str());
    assert_eq!(h["content-type"], OCI_MANIFEST);
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let config = json["config"]["digest"].as_str().unwrap().to_string();
    let layer_digest = sha(&layer);
    let (s, got, _) = get(&format!("{base}/v2/team/app/blobs/{layer_digest}"), None).await;
    assert_eq!((s, got), (200, layer.clone()));
    // HEAD of a missing blob and of a missing tag pull through as well.
    let r = c
        .head(format!("{base}/v2/team/app/blobs/{config}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = c
        .head(format!("{base}/v2/team/app/manifests/v2"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["docker-content-digest"], digest.as_str());
    // Unknown everywhere: 404 as usual.
    let (s, _, _) = get(&format!("{base}/v2/team/app/manifests/nope"), None).await;
    assert_eq!(s, 404);
    let nowhere = sha(b"nowhere");
    let (s, _, _) = get(&format!("{base}/v2/team/app/blobs/{nowhere}"), None).await;
    assert_eq!(s, 404);

    up.stop().await;
    empty.stop().await;
    for url in [
        format!("{base}/v2/team/app/manifests/v1"),
        format!("{base}/v2/team/app/manifests/v2"),
        format!("{base}/v2/team/app/manifests/{digest}"),
        format!("{base}/v2/team/app/blobs/{layer_digest}"),
        format!("{base}/v2/team/app/blobs/{config}"),
    ] {
        let (s, _, _) = get(&url, None).await;
        assert_eq!(s, 200, "{url} after the upstream stopped");
    }
    assert!(hook.events().is_empty(), "pull-through emits no push event");
    assert!(files(&tmp.path().join("m/tmp")).is_empty());
    m.stop().await;
}

/// images.md §2.7: a pulled-through tag is re-resolved once older than its TTL; a local push
/// of the tag takes it over for good.
#[actix_web::test]
async fn pull_through_tag_ttl_re_resolves() {
    let tmp = tempfile::tempdir().unwrap();
    let up = plain(&tmp.path().join("up")).await;
    let c = http_client();
    let (d1, b1) = push_image(
        &c,
        &up.base_url(),
        "app",
        "arm64",
        &[(b"one".to_vec(), TAR_LAYER)],
    )
    .await;
    push_manifest(&c, &up.base_url(), "app", "edge", OCI_MANIFEST, &b1).await;
    let mut opts = pull_through_from(&[up.host()]);
    let ttl = Duration::from_secs(1);
    opts.tag_ttl = ttl;
    let hook = HookLog::default();
    let m = mirror(&tmp.path().join("m"), opts, &hook).await;
    let url = format!("{}/v2/app/manifests/edge", m.base_url());
    let pulled_at = std::time::Instant::now();
    assert_eq!(served_digest(&url).await, d1);
    let (d2, b2) = push_image(
        &c,
        &up.base_url(),
        "app",
        "arm64",
        &[(b"two".to_vec(), TAR_LAYER)],
    )
    .await;
    push_manifest(&c, &up.base_url(), "app", "edge", OCI_MANIFEST, &b2).await;
    // Within the TTL the cached tag is served (checked only when the answer came back
    // before the TTL ran out: a loaded machine may be slower); after it, the new digest.
    let within = served_digest(&url).await;
    if pulled_at.elapsed() < ttl {
        assert_eq!(within, d1);
    }
    let deadline = std::time::Instant::now() + LIMIT;
    while served_digest(&url).await != d2 {
        assert!(
            std::time::Instant::now() < deadline,
            "tag never re-resolved"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // A local push of the tag: no longer replaced from upstream, even past the TTL.
    let (d3, b3) = push_image(
        &c,
        &m.base_url(),
        "app",
        "arm64",
        &[(b"local".to_vec(), TAR_LAYER)],
    )
    .await;
    push_manifest(&c, &m.base_url(), "app", "edge", OCI_MANIFEST, &b3).await;
    tokio::time::sleep(ttl + Duration::from_millis(100)).await;
    assert_eq!(served_digest(&url).await, d3);
    m.stop().await;
    up.stop().await;
}

async fn served_digest(url: &str) -> String {
    let (s, _, h) = get(url, None).await;
    assert_eq!(s, 200, "{url}");
    h["docker-content-digest"].to_str().unwrap().to_string()
}

// ---------------------------------------------------------------------------
// A fake upstream that answers badly

const GOOD_BLOB: &[u8] = b"the real blob";

async fn fake_upstream(req: HttpRequest) -> HttpResponse {
    let path = req.path().to_string();
    let good = sha(GOOD_BLOB);
    let wrong = HttpResponse::Ok()
        .content_type("application/octet-stream")
        .body("not the blob you asked for");
    let html = |b: &'static str| HttpResponse::Ok().content_type("text/html").body(b);
    match path.as_str() {
        "/v2/" => HttpResponse::Ok().finish(),
        // Manifests: an HTML login page, broken JSON, JSON of no known type, and one that
        // does not hash to the digest asked for.
        "/v2/html/manifests/v1" => html("<html>login</html>"),
        "/v2/html/blobs/sha256:0000000000000000000000000000000000000000000000000000000000000000" => {
            html("<html>login</html>")
        }
        "/v2/broken/manifests/v1" => HttpResponse::Ok()
            .content_type(OCI_MANIFEST)
            .body("{\"schemaVersion\": 2, \"config\""),
        "/v2/untyped/manifests/v1" => HttpResponse::Ok()
            .content_type("application/json")
            .body("{\"schemaVersion\": 2}"),
        p if p.starts_with("/v2/liar/manifests/sha256:") => HttpResponse::Ok()
            .content_type(OCI_MANIFEST)
            .body(r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"digest":"sha256:0000000000000000000000000000000000000000000000000000000000000000","size":1},"layers":[]}"#),
        // Blobs: wrong bytes, HTML, and a connection cut short.
        p if p == format!("/v2/wrong/blobs/{good}") => wrong,
        p if p == format!("/v2/htmlblob/blobs/{good}") => html("<html>nope</html>"),
        p if p == format!("/v2/short/blobs/{good}") => HttpResponse::Ok()
            .content_type("application/octet-stream")
            .body(&GOOD_BLOB[..4]),
        // The watcher's view of an image whose manifest is an HTML page.
        "/v2/watched/manifests/v1" => HttpResponse::Ok()
            .insert_header((
                "docker-content-digest",
                "sha256:1111111111111111111111111111111111111111111111111111111111111111",
            ))
            .content_type("text/html")
            .body("<html>login</html>"),
        p if p.starts_with("/v2/watched/manifests/sha256:") => html("<html>login</html>"),
        _ => HttpResponse::NotFound().finish(),
    }
}

fn start_fake() -> String {
    let server = HttpServer::new(|| App::new().default_service(web::to(fake_upstream)))
        .workers(1)
        .disable_signals()
        .bind("127.0.0.1:0")
        .unwrap();
    let addr = server.addrs()[0];
    actix_rt::spawn(server.run());
    addr.to_string()
}

/// images.md §2.7, §7.4-4 (malformed upstream data): an HTML page or broken JSON for a
/// manifest, a blob with the wrong bytes, an HTML blob, a short blob, a manifest not matching
/// its digest, and a watched image answered with HTML: each stores nothing (no blob, no tag,
/// nothing left in tmp/) and the client gets 404; no push event.
#[actix_web::test]
async fn bad_upstream_answers_store_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let fake = start_fake();
    let hook = HookLog::default();
    let mut opts = pull_through_from(std::slice::from_ref(&fake));
    opts.watch = vec![WatchImage {
        upstream: format!("{fake}/watched:v1"),
        local_repo: "watched".into(),
    }];
    opts.poll_interval = Duration::from_secs(3600);
    let m = mirror(&tmp.path().join("m"), opts, &hook).await;
    let base = m.base_url();
    let good = sha(GOOD_BLOB);
    let liar = format!("sha256:{}", "2".repeat(64));
    for url in [
        format!("{base}/v2/html/manifests/v1"),
        format!("{base}/v2/broken/manifests/v1"),
        format!("{base}/v2/untyped/manifests/v1"),
        format!("{base}/v2/liar/manifests/{liar}"),
        format!("{base}/v2/html/blobs/sha256:{}", "0".repeat(64)),
        format!("{base}/v2/wrong/blobs/{good}"),
        format!("{base}/v2/htmlblob/blobs/{good}"),
        format!("{base}/v2/short/blobs/{good}"),
    ] {
        let (s, _, _) = get(&url, None).await;
        assert_eq!(s, 404, "{url}");
    }
    wait_until("a watcher cycle", LIMIT, || m.watcher_cycles() >= 1).await;
    let store = tmp.path().join("m");
    assert_eq!(files(&store.join("blobs")), Vec::<String>::new());
    assert_eq!(files(&store.join("repos")), Vec::<String>::new());
    assert_eq!(files(&store.join("tmp")), Vec::<String>::new());
    assert!(hook.events().is_empty());
    m.stop().await;
}

// ---------------------------------------------------------------------------
// The watcher

/// An arm64+amd64 index under `repo:tag` on `base`; returns (index digest, arm64 child
/// digest, amd64 child digest).
async fn push_two_arch(base: &str, repo: &str, tag: &str, salt: &str) -> (String, String, String) {
    let c = http_client();
    let arm_layer = crate::registry_support::gzip(format!("arm {salt}").as_bytes());
    let (arm, arm_body) = push_image(&c, base, repo, "arm64", &[(arm_layer, GZ_LAYER)]).await;
    let amd_layer = format!("amd {salt}").into_bytes();
    let (amd, amd_body) = push_image(&c, base, repo, "amd64", &[(amd_layer, TAR_LAYER)]).await;
    let index = push_index(
        &c,
        base,
        repo,
        tag,
        &[
            Platform {
                arch: "amd64",
                variant: None,
                digest: &amd,
                body: &amd_body,
            },
            Platform {
                arch: "arm64",
                variant: Some("v8"),
                digest: &arm,
                body: &arm_body,
            },
        ],
    )
    .await;
    (index, arm, amd)
}

async fn status(url: String) -> u16 {
    get(&url, None).await.0
}

/// images.md §2.7 watcher, §7.4-4: the first poll mirrors the index with only its arm64
/// child (config and layers) and emits nothing, neither to the webhook nor on the SSE stream;
/// a changed upstream digest, found by `POST /poll`, is mirrored the same way and emits exactly
/// one push event `{repo: localRepo, tag}`; an unchanged one emits nothing.
#[actix_web::test]
async fn watcher_mirrors_silently_then_one_event_per_change() {
    let tmp = tempfile::tempdir().unwrap();
    let up = plain(&tmp.path().join("up")).await;
    let (index1, arm1, amd1) = push_two_arch(&up.base_url(), "src/app", "edge", "1").await;
    let (hook_url, webhook_bodies) = webhook();
    let hook = HookLog::default();
    let mut opts = RegistryOptions::new(tmp.path().join("m"));
    opts.notify_url = Some(hook_url);
    opts.on_push = Some(hook.hook());
    opts.mgmt_listen = Some("127.0.0.1:0".parse().unwrap());
    opts.upstream = UpstreamOptions {
        watch: vec![WatchImage {
            upstream: format!("{}/src/app:edge", up.host()),
            local_repo: "app".into(),
        }],
        poll_interval: Duration::from_secs(3600),
        ..UpstreamOptions::default()
    };
    let m = registry::start(opts).await.unwrap();
    let base = m.base_url();
    let mgmt = m.mgmt_url().unwrap();

    wait_until("the first cycle", LIMIT, || m.watcher_cycles() >= 1).await;
    let (s, body, h) = get(&format!("{base}/v2/app/manifests/edge"), Some(OCI_INDEX)).await;
    assert_eq!(s, 200);
    assert_eq!(sha(&body), index1);
    assert_eq!(h["content-type"], OCI_INDEX);
    assert_eq!(status(format!("{base}/v2/app/manifests/{arm1}")).await, 200);
    assert_eq!(status(format!("{base}/v2/app/manifests/{amd1}")).await, 404);
    let arm_manifest: serde_json::Value = serde_json::from_slice(
        &get(&format!("{base}/v2/app/manifests/{arm1}"), None)
            .await
            .1,
    )
    .unwrap();
    for d in std::iter::once(&arm_manifest["config"])
        .chain(arm_manifest["layers"].as_array().unwrap().iter())
    {
        let d = d["digest"].as_str().unwrap();
        assert_eq!(status(format!("{base}/v2/app/blobs/{d}")).await, 200, "{d}");
    }
    assert!(hook.events().is_empty(), "first observation is silent");

    // Unchanged upstream: a poll runs a cycle and emits nothing.
    let mut sse = Subscriber::connect(&mgmt).await;
    let c = http_client();
    let r = c.post(format!("{mgmt}/poll")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), r#"{"status":"ok"}"#);
    wait_until("the second cycle", LIMIT, || m.watcher_cycles() >= 2).await;
    assert!(hook.events().is_empty());

    // Changed upstream: mirrored and announced once.
    let (index2, arm2, amd2) = push_two_arch(&up.base_url(), "src/app", "edge", "2").await;
    let r = c.post(format!("{mgmt}/poll")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let ev = sse.next(LIMIT).await;
    assert_eq!(ev.event, "push");
    let v: serde_json::Value = serde_json::from_str(&ev.data).unwrap();
    assert_eq!(
        v,
        serde_json::json!({"image": "app:edge", "repo": "app", "tag": "edge", "digest": index2})
    );
    wait_until("the webhook", LIMIT, || {
        !webhook_bodies.lock().unwrap().is_empty()
    })
    .await;
    assert_eq!(
        hook.events(),
        vec![("app".to_string(), "edge".to_string(), index2.clone())]
    );
    let (_, body, _) = get(&format!("{base}/v2/app/manifests/edge"), None).await;
    assert_eq!(sha(&body), index2);
    assert_eq!(status(format!("{base}/v2/app/manifests/{arm2}")).await, 200);
    assert_eq!(status(format!("{base}/v2/app/manifests/{amd2}")).await, 404);

    // One more poll without a change: still exactly one event everywhere.
    let cycles = m.watcher_cycles();
    c.post(format!("{mgmt}/poll")).send().await.unwrap();
    wait_until("another cycle", LIMIT, || m.watcher_cycles() > cycles).await;
    assert_eq!(hook.events().len(), 1);
    assert!(sse.drain().is_empty());
    let bodies = webhook_bodies.lock().unwrap().clone();
    assert_eq!(bodies.len(), 1, "{bodies:?}");
    assert_eq!(bodies[0]["image"], "app:edge");
    m.stop().await;
    up.stop().await;
}

/// images.md §2.7 watcher across a restart: an image pushed to this registry under a watched
/// tag (a new `mkube-registry:edge` for its own swap, §5.5) survives a restart while upstream
/// still serves what was mirrored before it; the first observation after the restart neither
/// mirrors nor emits, and a later upstream change is mirrored and announced as usual; a watched
/// tag that is gone is mirrored again at the next start.
#[actix_web::test]
async fn a_restart_keeps_a_local_push_of_a_watched_tag_until_upstream_changes() {
    let tmp = tempfile::tempdir().unwrap();
    let up = plain(&tmp.path().join("up")).await;
    let (index1, _, _) = push_two_arch(&up.base_url(), "src/app", "edge", "1").await;
    let start = || async {
        let hook = HookLog::default();
        let mut opts = RegistryOptions::new(tmp.path().join("m"));
        opts.on_push = Some(hook.hook());
        opts.mgmt_listen = Some("127.0.0.1:0".parse().unwrap());
        opts.upstream = UpstreamOptions {
            watch: vec![WatchImage {
                upstream: format!("{}/src/app:edge", up.host()),
                local_repo: "app".into(),
            }],
            poll_interval: Duration::from_secs(3600),
            ..UpstreamOptions::default()
        };
        let m = registry::start(opts).await.unwrap();
        wait_until("the first cycle", LIMIT, || m.watcher_cycles() >= 1).await;
        (m, hook)
    };
    let served = |base: String| async move {
        sha(
            &get(&format!("{base}/v2/app/manifests/edge"), Some(OCI_INDEX))
                .await
                .1,
        )
    };

    let (m, _) = start().await;
    assert_eq!(served(m.base_url()).await, index1);
    // A newer build pushed to this registry under the watched tag.
    let (local, _, _) = push_two_arch(&m.base_url(), "app", "edge", "local").await;
    m.stop().await;

    let (m, hook) = start().await;
    assert_eq!(
        served(m.base_url()).await,
        local,
        "the restart put upstream's image back"
    );
    assert!(hook.events().is_empty());

    // Upstream changes: mirrored over the local push and announced once.
    let (index2, _, _) = push_two_arch(&up.base_url(), "src/app", "edge", "2").await;
    let c = http_client();
    c.post(format!("{}/poll", m.mgmt_url().unwrap()))
        .send()
        .await
        .unwrap();
    wait_until("the change", LIMIT, || !hook.events().is_empty()).await;
    assert_eq!(served(m.base_url()).await, index2);
    assert_eq!(
        hook.events(),
        vec![("app".to_string(), "edge".to_string(), index2.clone())]
    );
    m.stop().await;

    // A watched tag that is gone from the store is mirrored again at the next start.
    std::fs::remove_file(tmp.path().join("m/repos/app/tags/edge")).unwrap();
    let (m, hook) = start().await;
    assert_eq!(served(m.base_url()).await, index2);
    assert!(hook.events().is_empty());
    m.stop().await;
    up.stop().await;
}

/// images.md §2.7: a single manifest is mirrored with its blobs under the tag; an index
/// without a linux/arm64 entry falls back to its first entry; a watch entry that does not
/// parse is ignored and the others still run.
#[actix_web::test]
async fn watcher_single_manifest_and_first_entry_fallback() {
    let tmp = tempfile::tempdir().unwrap();
    let up = plain(&tmp.path().join("up")).await;
    let c = http_client();
    let (single, body) = push_image(
        &c,
        &up.base_url(),
        "one",
        "arm64",
        &[(b"solo".to_vec(), TAR_LAYER)],
    )
    .await;
    push_manifest(&c, &up.base_url(), "one", "v1", OCI_MANIFEST, &body).await;
    let (amd, amd_body) = push_image(
        &c,
        &up.base_url(),
        "x86",
        "amd64",
        &[(b"x86".to_vec(), TAR_LAYER)],
    )
    .await;
    let index = push_index(
        &c,
        &up.base_url(),
        "x86",
        "v1",
        &[Platform {
            arch: "amd64",
            variant: None,
            digest: &amd,
            body: &amd_body,
        }],
    )
    .await;
    let hook = HookLog::default();
    let watch = |upstream: String, local: &str| WatchImage {
        upstream,
        local_repo: local.into(),
    };
    let opts = UpstreamOptions {
        watch: vec![
            watch("Not A Reference!".into(), "bad"),
            watch(format!("{}/one:v1", up.host()), "m/one"),
            watch(format!("{}/x86:v1", up.host()), "m/x86"),
        ],
        poll_interval: Duration::from_secs(3600),
        ..UpstreamOptions::default()
    };
    let m = mirror(&tmp.path().join("m"), opts, &hook).await;
    let base = m.base_url();
    wait_until("the first cycle", LIMIT, || m.watcher_cycles() >= 1).await;
    let (s, got, _) = get(&format!("{base}/v2/m/one/manifests/v1"), None).await;
    assert_eq!((s, sha(&got)), (200, single));
    assert_eq!(
        status(format!("{base}/v2/m/one/blobs/{}", sha(b"solo"))).await,
        200
    );
    let (s, got, _) = get(&format!("{base}/v2/m/x86/manifests/v1"), None).await;
    assert_eq!((s, sha(&got)), (200, index));
    assert_eq!(
        status(format!("{base}/v2/m/x86/manifests/{amd}")).await,
        200
    );
    assert_eq!(
        status(format!("{base}/v2/m/x86/blobs/{}", sha(b"x86"))).await,
        200
    );
    assert!(hook.events().is_empty());
    m.stop().await;
    up.stop().await;
}

// ---------------------------------------------------------------------------
// Bearer tokens

type Seen = std::sync::Arc<std::sync::Mutex<Vec<std::collections::HashMap<String, String>>>>;

fn tok_manifest() -> String {
    serde_json::json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": sha(GOOD_BLOB), "size": GOOD_BLOB.len()},
        "layers": [],
    })
    .to_string()
}

async fn tok_upstream(
    req: HttpRequest,
    realm: web::Data<String>,
    seen: web::Data<Seen>,
) -> HttpResponse {
    if req.path() == "/badtoken" {
        return HttpResponse::Ok()
            .content_type("text/html")
            .body("<html>no token here</html>");
    }
    if req.path() == "/token" {
        let q =
            web::Query::<std::collections::HashMap<String, String>>::from_query(req.query_string())
                .map(|q| q.into_inner())
                .unwrap_or_default();
        seen.lock().unwrap().push(q);
        return HttpResponse::Ok()
            .content_type("application/json")
            .body(r#"{"access_token":"t0k"}"#);
    }
    let authorised = req
        .headers()
        .get("authorization")
        .is_some_and(|v| v == "Bearer t0k");
    if req.path().starts_with("/v2/notok/") {
        // A realm that answers HTML instead of a token.
        let bad_realm = realm.get_ref().replace("/token", "/badtoken");
        return HttpResponse::Unauthorized()
            .insert_header((
                "www-authenticate",
                format!(r#"Bearer realm="{bad_realm}",service="x""#),
            ))
            .finish();
    }
    if !authorised {
        // No scope in the challenge: the client's default `repository:<repo>:pull` applies.
        return HttpResponse::Unauthorized()
            .insert_header((
                "www-authenticate",
                format!(
                    r#"Bearer realm="{}",service="reg svc&x=1""#,
                    realm.get_ref()
                ),
            ))
            .finish();
    }
    let path = req.path();
    if path == "/v2/tok/app/manifests/v1" {
        // The client's Accept is forwarded: answer only when it is the one the test sent.
        let accept = req.headers().get("accept").and_then(|v| v.to_str().ok());
        if accept != Some(TOK_ACCEPT) {
            return HttpResponse::NotAcceptable().finish();
        }
        HttpResponse::Ok()
            .content_type(OCI_MANIFEST)
            .body(tok_manifest())
    } else if path == format!("/v2/tok/app/blobs/{}", sha(GOOD_BLOB)) {
        HttpResponse::Ok()
            .content_type("application/octet-stream")
            .body(GOOD_BLOB)
    } else {
        HttpResponse::NotFound().finish()
    }
}

const TOK_ACCEPT: &str = "application/vnd.oci.image.manifest.v1+json, application/json;q=0.5";

/// images.md §2.7: an upstream answering 401 with a bearer challenge: the token is fetched
/// from the realm with `service` and the default scope URL-encoded, and the request retried
/// with it, for manifests and blobs alike; the client's `Accept` is forwarded. A realm that
/// answers HTML instead of a token stores nothing.
#[actix_web::test]
async fn pull_through_answers_a_bearer_challenge() {
    let tmp = tempfile::tempdir().unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let seen: Seen = Default::default();
    let realm = web::Data::new(format!("http://{addr}/token"));
    let seen_data = web::Data::new(seen.clone());
    let server = HttpServer::new(move || {
        App::new()
            .app_data(realm.clone())
            .app_data(seen_data.clone())
            .default_service(web::to(tok_upstream))
    })
    .workers(1)
    .disable_signals()
    .listen(listener)
    .unwrap()
    .run();
    actix_rt::spawn(server);
    let hook = HookLog::default();
    let m = mirror(
        &tmp.path().join("m"),
        pull_through_from(&[addr.to_string()]),
        &hook,
    )
    .await;
    let (s, body, _) = get(
        &format!("{}/v2/tok/app/manifests/v1", m.base_url()),
        Some(TOK_ACCEPT),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(body, tok_manifest().into_bytes());
    let (s, body, _) = get(
        &format!("{}/v2/tok/app/blobs/{}", m.base_url(), sha(GOOD_BLOB)),
        None,
    )
    .await;
    assert_eq!((s, body), (200, GOOD_BLOB.to_vec()));
    let (s, _, _) = get(&format!("{}/v2/notok/app/manifests/v1", m.base_url()), None).await;
    assert_eq!(s, 404);
    assert!(
        files(&tmp.path().join("m/repos/notok")).is_empty(),
        "nothing stored for the bad token"
    );
    let seen = seen.lock().unwrap().clone();
    assert!(!seen.is_empty());
    for q in seen {
        assert_eq!(q["service"], "reg svc&x=1");
        assert_eq!(q["scope"], "repository:tok/app:pull");
    }
    m.stop().await;
}

// ---------------------------------------------------------------------------
// Concurrent requests for the same missing content

type Count = std::sync::Arc<std::sync::atomic::AtomicUsize>;

async fn slow_blob(req: HttpRequest, count: web::Data<Count>) -> HttpResponse {
    if req.path() == format!("/v2/many/blobs/{}", sha(GOOD_BLOB)) {
        count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        // Long enough for every concurrent request to be waiting on this download.
        tokio::time::sleep(Duration::from_millis(200)).await;
        return HttpResponse::Ok()
            .content_type("application/octet-stream")
            .body(GOOD_BLOB);
    }
    HttpResponse::NotFound().finish()
}

/// images.md §2.5, §2.7: eight clients asking at once for the same missing blob cause one
/// upstream download, and all eight get the bytes.
#[actix_web::test]
async fn concurrent_pulls_of_one_blob_download_it_once() {
    let tmp = tempfile::tempdir().unwrap();
    let count: Count = Default::default();
    let data = web::Data::new(count.clone());
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .default_service(web::to(slow_blob))
    })
    .workers(1)
    .disable_signals()
    .bind("127.0.0.1:0")
    .unwrap();
    let addr = server.addrs()[0];
    actix_rt::spawn(server.run());
    let hook = HookLog::default();
    let m = mirror(
        &tmp.path().join("m"),
        pull_through_from(&[addr.to_string()]),
        &hook,
    )
    .await;
    let url = format!("{}/v2/many/blobs/{}", m.base_url(), sha(GOOD_BLOB));
    let answers = futures::future::join_all((0..8).map(|_| async { get(&url, None).await })).await;
    for (s, body, _) in answers {
        assert_eq!((s, body), (200, GOOD_BLOB.to_vec()));
    }
    assert_eq!(count.load(std::sync::atomic::Ordering::SeqCst), 1);
    m.stop().await;
}
