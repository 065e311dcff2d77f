//! The management listener of mkube-registry (spec images.md §2.1, §2.8, §7.4 item 4):
//! `GET /healthz`, `POST /poll` (404 without a watcher, a cycle with one) and the
//! server-sent event stream `GET /events` fanning every push out to every subscriber.

use std::path::Path;
use std::time::Duration;

use mkube::registry::config::WatchImage;
use mkube::registry::upstream::UpstreamOptions;
use mkube::registry::{self, RegistryOptions, RunningRegistry};

use crate::registry_support::events::{Subscriber, wait_until};
use crate::registry_support::{OCI_MANIFEST, TAR_LAYER, http_client, push_image, push_manifest};

const LIMIT: Duration = Duration::from_secs(10);

async fn with_mgmt(store: &Path, upstream: UpstreamOptions) -> RunningRegistry {
    let mut opts = RegistryOptions::new(store.to_path_buf());
    opts.mgmt_listen = Some("127.0.0.1:0".parse().unwrap());
    opts.upstream = upstream;
    registry::start(opts).await.unwrap()
}

/// images.md §2.1: `/healthz` answers `ok`; `/poll` without a watcher is a JSON 404; unknown
/// paths, wrong methods and junk bodies get JSON 404s, never a hang or a crash.
#[actix_web::test]
async fn healthz_and_poll_without_watcher() {
    let tmp = tempfile::tempdir().unwrap();
    let m = with_mgmt(tmp.path(), UpstreamOptions::default()).await;
    let mgmt = m.mgmt_url().unwrap();
    let c = http_client();
    let r = c.get(format!("{mgmt}/healthz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), "ok");
    let r = c
        .post(format!("{mgmt}/poll"))
        .body("\u{0}garbage{")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(r.headers()["content-type"], "application/json");
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["status"], "error");
    for (method, path) in [
        ("GET", "/poll"),
        ("DELETE", "/events"),
        ("GET", "/nope"),
        ("GET", "/healthz/../poll"),
        ("PUT", "/%00"),
    ] {
        let r = c
            .request(method.parse().unwrap(), format!("{mgmt}{path}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404, "{method} {path}");
    }
    // The OCI listener is not the management one.
    let r = c
        .get(format!("{}/healthz", m.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    m.stop().await;
}

/// images.md §2.1, §7.4-4: with a watcher, `POST /poll` answers `{"status":"ok"}` and runs a
/// cycle now (the poll interval is an hour).
#[actix_web::test]
async fn poll_triggers_a_watcher_cycle() {
    let tmp = tempfile::tempdir().unwrap();
    let up = registry::start(RegistryOptions::new(tmp.path().join("up")))
        .await
        .unwrap();
    let c = http_client();
    let (_, body) = push_image(
        &c,
        &up.base_url(),
        "w",
        "arm64",
        &[(b"w".to_vec(), TAR_LAYER)],
    )
    .await;
    push_manifest(&c, &up.base_url(), "w", "v1", OCI_MANIFEST, &body).await;
    let m = with_mgmt(
        &tmp.path().join("m"),
        UpstreamOptions {
            watch: vec![WatchImage {
                upstream: format!("{}/w:v1", up.host()),
                local_repo: "w".into(),
            }],
            poll_interval: Duration::from_secs(3600),
            ..UpstreamOptions::default()
        },
    )
    .await;
    wait_until("the start cycle", LIMIT, || m.watcher_cycles() == 1).await;
    let mgmt = m.mgmt_url().unwrap();
    for n in 2..=3 {
        let r = c.post(format!("{mgmt}/poll")).send().await.unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["content-type"], "application/json");
        assert_eq!(r.text().await.unwrap(), r#"{"status":"ok"}"#);
        wait_until("a triggered cycle", LIMIT, || m.watcher_cycles() >= n).await;
    }
    m.stop().await;
    up.stop().await;
}

/// images.md §2.8, §7.4-4: two subscribers on `/events` each receive every tag push, in order,
/// as `event: push` with the webhook's JSON body; a digest-only push is not an event; a
/// subscriber that goes away is dropped.
#[actix_web::test]
async fn two_sse_subscribers_receive_each_push() {
    let tmp = tempfile::tempdir().unwrap();
    let m = with_mgmt(tmp.path(), UpstreamOptions::default()).await;
    let mgmt = m.mgmt_url().unwrap();
    let mut a = Subscriber::connect(&mgmt).await;
    let mut b = Subscriber::connect(&mgmt).await;
    assert_eq!(m.event_subscribers(), 2);
    let c = http_client();
    let base = m.base_url();
    let (d, body) = push_image(&c, &base, "ns/app", "arm64", &[(b"x".to_vec(), TAR_LAYER)]).await;
    push_manifest(&c, &base, "ns/app", "v1", OCI_MANIFEST, &body).await;
    push_manifest(&c, &base, "ns/app", "v2", OCI_MANIFEST, &body).await;
    for sub in [&mut a, &mut b] {
        for tag in ["v1", "v2"] {
            let ev = sub.next(LIMIT).await;
            assert_eq!(ev.event, "push");
            let v: serde_json::Value = serde_json::from_str(&ev.data).unwrap();
            assert_eq!(
                v,
                serde_json::json!({"image": format!("ns/app:{tag}"), "repo": "ns/app", "tag": tag, "digest": d})
            );
        }
        assert!(sub.drain().is_empty(), "the digest push is not an event");
    }
    drop(a);
    // The server notices a closed connection when it writes to it: keep pushing until then.
    let deadline = std::time::Instant::now() + LIMIT;
    let mut n = 0;
    while m.event_subscribers() != 1 {
        assert!(
            std::time::Instant::now() < deadline,
            "gone subscriber never dropped"
        );
        n += 1;
        push_manifest(&c, &base, "ns/app", &format!("t{n}"), OCI_MANIFEST, &body).await;
        assert_eq!(b.next(LIMIT).await.event, "push");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    m.stop().await;
}

/// images.md §2.1, §2.7, §2.8: the binary honours `pullThrough`, `upstreamRegistries` and
/// `watchImages` from its config file and serves `/poll` and `/events` on `--mgmt-listen`;
/// SIGTERM with a subscriber still connected exits cleanly.
#[tokio::test]
async fn binary_wires_upstream_keys_and_mgmt_endpoints() {
    use crate::registry_support::free_port;
    use std::process::{Command, Stdio};
    use std::time::Instant;

    let tmp = tempfile::tempdir().unwrap();
    let up = registry::start(RegistryOptions::new(tmp.path().join("up")))
        .await
        .unwrap();
    let c = http_client();
    let (d, body) = push_image(
        &c,
        &up.base_url(),
        "w",
        "arm64",
        &[(b"w".to_vec(), TAR_LAYER)],
    )
    .await;
    push_manifest(&c, &up.base_url(), "w", "v1", OCI_MANIFEST, &body).await;
    push_manifest(&c, &up.base_url(), "other", "v1", OCI_MANIFEST, &body).await;
    let (port, mgmt_port) = (free_port(), free_port());
    let cfg = tmp.path().join("config.yaml");
    std::fs::write(
        &cfg,
        format!(
            "listenAddr: 127.0.0.1:{port}\nstorePath: {}\ntlsCertFile: {}\npullThrough: true\nupstreamRegistries: [\"{h}\"]\nwatchImages:\n  - upstream: {h}/w:v1\n    localRepo: mirrored/w\nwatchPollSeconds: 30\n",
            tmp.path().join("store").display(),
            tmp.path().join("absent.crt").display(),
            h = up.host(),
        ),
    )
    .unwrap();
    let mut child = KillOnDrop(
        Command::new(env!("CARGO_BIN_EXE_mkube-registry"))
            .arg("--config")
            .arg(&cfg)
            .arg("--mgmt-listen")
            .arg(format!("127.0.0.1:{mgmt_port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let base = format!("http://127.0.0.1:{port}");
    let mgmt = format!("http://127.0.0.1:{mgmt_port}");
    // The watcher mirrors at start: the tag appears without anyone asking for the manifest.
    let deadline = Instant::now() + LIMIT;
    loop {
        let r = c
            .get(format!("{base}/v2/mirrored/w/tags/list"))
            .send()
            .await;
        // The revision lands just before the tag: wait for the tag itself.
        if let Ok(r) = r
            && r.status() == 200
            && r.json::<serde_json::Value>().await.unwrap()["tags"] == serde_json::json!(["v1"])
        {
            break;
        }
        assert!(Instant::now() < deadline, "watcher never mirrored");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Pull-through from upstreamRegistries.
    let r = c
        .get(format!("{base}/v2/other/manifests/v1"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["docker-content-digest"], d.as_str());
    let r = c.post(format!("{mgmt}/poll")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let mut sub = Subscriber::connect(&mgmt).await;
    push_manifest(&c, &base, "mirrored/w", "v2", OCI_MANIFEST, &body).await;
    let ev = sub.next(LIMIT).await;
    assert_eq!(ev.event, "push");
    let v: serde_json::Value = serde_json::from_str(&ev.data).unwrap();
    assert_eq!(v["image"], "mirrored/w:v2");
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(child.0.id().to_string())
        .status();
    let deadline = Instant::now() + LIMIT;
    let status = loop {
        if let Some(s) = child.0.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "no exit after SIGTERM");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.success(), "{status}");
    up.stop().await;
}

/// The binary under test, killed if the test fails before it exits.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
