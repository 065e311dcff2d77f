//! mkube's update API (images.md §4.6, controller.md §9 `:8080/api/v1/update-container`) on a
//! real routeros-sim with images in a real mkube-registry: the swap keeps every setting and
//! pulls with `remote-image` (never `tag`) and `check-certificate=no`, or uses `file=`; bad
//! bodies get 400, unknown containers 404, a device failure 500 with the error. A request for
//! mkube's own container is handed to mkube-update (the real binary), and mkube-update's
//! self-update asks this API (§5.2 step 3, §7.7-2).

use crate::update_support::{Site, UpdateApi, s};
use serde_json::json;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// §4.6: 200 `{"status":"ok"}` once the named container runs the new image; interface,
/// root-dir (fresh), mount lists, cmd, entrypoint, workdir, hostname, dns, logging,
/// start-on-boot, user and env lists are kept.
#[actix_web::test]
async fn good_request_replaces_keeping_settings_4_6() {
    let site = Site::start().await;
    site.push("microdns", "edge", "old").await;
    let kept = json!({"mountlists": "dns.data", "envlists": "dns", "cmd": "-c /etc/dns.toml",
        "entrypoint": "/bin/app", "workdir": "/", "user": "0:0", "hostname": "dns", "dns": "127.42.0.1"});
    site.container(
        "gt_dns_microdns",
        &site.image("microdns", "edge"),
        kept.clone(),
    )
    .await;
    site.push("microdns", "v2", "new").await;
    let api = UpdateApi::start(&site, "kube.gt.lo", "http://127.0.0.1:9").await;
    site.clear_journal().await;
    let body = json!({"name": "gt_dns_microdns", "tag": site.image("microdns", "v2")});
    let (status, answer) = api.post(&body.to_string()).await;
    assert_eq!((status, answer), (200, json!({"status": "ok"})));
    let add = site
        .writes()
        .await
        .into_iter()
        .find(|(p, _)| p == "/container/add")
        .unwrap()
        .1;
    assert_eq!(add["remote-image"], site.image("microdns", "v2"));
    assert_eq!(add["check-certificate"], "no");
    assert!(add.get("tag").is_none());
    let row = site.row("gt_dns_microdns").await.unwrap();
    for (k, v) in kept.as_object().unwrap() {
        assert_eq!(row[k], *v, "keeps {k}");
    }
    assert_eq!(s(&row, "running"), "true");
    assert_eq!(site.marker(&row), "new", "fresh root-dir");
    assert!(
        std::fs::read_dir(api.marks.path())
            .unwrap()
            .next()
            .is_none(),
        "no swap mark left"
    );
    api.stop().await;
}

/// §4.6: `file=` for a pre-staged tarball.
#[actix_web::test]
async fn file_request_swaps_from_a_tarball_4_6() {
    let site = Site::start().await;
    site.push("app", "edge", "remote").await;
    site.container("app1", &site.image("app", "edge"), json!({}))
        .await;
    crate::sim_common::docker_tar(
        &site.sim.disk().join("raid1/cache/app.tar"),
        &[("marker", b"from-file")],
    );
    let api = UpdateApi::start(&site, "kube.gt.lo", "http://127.0.0.1:9").await;
    let (status, _) = api
        .post(r#"{"name":"app1","file":"/raid1/cache/app.tar"}"#)
        .await;
    assert_eq!(status, 200);
    let row = site.row("app1").await.unwrap();
    assert_eq!(s(&row, "file"), "raid1/cache/app.tar");
    assert_eq!(site.marker(&row), "from-file");
    api.stop().await;
}

/// §4.6: malformed bodies → 400 (a Kubernetes `Status` naming the problem), an unknown
/// container → 404, a device failure → 500 with the error, and the old container still runs.
#[actix_web::test]
async fn bad_bodies_unknown_containers_and_device_failures() {
    let site = Site::start().await;
    site.push("app", "edge", "v1").await;
    let before = site
        .container("app1", &site.image("app", "edge"), json!({}))
        .await;
    let api = UpdateApi::start(&site, "kube.gt.lo", "http://127.0.0.1:9").await;
    for (body, needle) in [
        ("", "invalid JSON"),
        ("{", "invalid JSON"),
        ("[]", "invalid JSON"),
        (r#"{"tag":"127.0.0.1:5000/x:1"}"#, "\"name\" is required"),
        (r#"{"name":"app1"}"#, "\"tag\" is required"),
        (r#"{"name":"app1","tag":"::"}"#, "not an image reference"),
        (
            r#"{"name":"app1","tag":"a/b:1","file":"c.tar"}"#,
            "not both",
        ),
        (
            r#"{"name":"app1","file":"raid1/../../etc/passwd"}"#,
            "leaves the disk",
        ),
    ] {
        let (status, answer) = api.post(body).await;
        assert_eq!(status, 400, "{body}: {answer}");
        assert_eq!(answer["kind"], "Status", "{answer}");
        assert!(
            answer["message"].as_str().unwrap_or("").contains(needle),
            "{body}: {answer}"
        );
    }
    let tag = site.image("app", "edge");
    let (status, answer) = api
        .post(&json!({"name": "nope", "tag": tag}).to_string())
        .await;
    assert_eq!(status, 404, "{answer}");

    site.sim
        .control(
            "POST",
            "/faults",
            Some(
                json!({"method": "POST", "path": "/rest/container/stop", "kind": "error",
                "status": 400, "detail": "failure: simulated device fault", "count": 5}),
            ),
        )
        .await;
    let (status, answer) = api
        .post(&json!({"name": "app1", "tag": tag}).to_string())
        .await;
    assert_eq!(status, 500, "{answer}");
    assert!(
        answer["message"]
            .as_str()
            .unwrap_or("")
            .contains("simulated device fault"),
        "{answer}"
    );
    let row = site.row("app1").await.unwrap();
    assert_eq!(row[".id"], before[".id"]);
    assert_eq!(s(&row, "running"), "true");
    api.stop().await;
}

/// §5.2 step 3, §7.7-2: a self-update watch posts `{"name","tag"}` to mkube's update API,
/// which swaps the updater's container; the updater records the digest.
#[actix_web::test]
async fn self_update_posts_to_the_update_api_7_7_2() {
    let site = Site::start().await;
    site.push("mkube-update", "edge", "u1").await;
    site.container(
        "mkube-update-updater",
        &site.image("mkube-update", "edge"),
        json!({"mountlists": "mkube-update-updater.config,mkube-update-updater.data"}),
    )
    .await;
    let api = UpdateApi::start(&site, "kube.gt.lo", "http://127.0.0.1:9").await;
    let watches = format!(
        "mkubeAPI: {}\nwatches:\n  - repo: mkube-update\n    tags: [edge, latest]\n    container: mkube-update-updater\n    selfUpdate: true\n",
        api.base
    );
    let cfg = mkube::update::config::parse(&format!(
        "{}{watches}",
        site.config_text("")
            .replace("mkubeAPI: http://127.0.0.1:9\n", "")
    ))
    .unwrap();
    let u = mkube::update::Updater::connect(cfg).await.unwrap();
    u.cycle().await;
    let d2 = site.push("mkube-update", "edge", "u2").await;
    site.clear_journal().await;
    let out = u.cycle().await;
    assert!(
        matches!(
            &out[0].1,
            mkube::update::poll::WatchOutcome::Replaced { .. }
        ),
        "{out:?}"
    );
    let add = site
        .writes()
        .await
        .into_iter()
        .find(|(p, _)| p == "/container/add")
        .unwrap()
        .1;
    assert_eq!(add["remote-image"], site.image("mkube-update", "edge"));
    assert_eq!(
        add["mountlists"],
        "mkube-update-updater.config,mkube-update-updater.data"
    );
    let row = site.row("mkube-update-updater").await.unwrap();
    assert_eq!(site.marker(&row), "u2");
    let rec = site.record();
    assert_eq!(rec.deployed["mkube-update-updater"], d2);
    assert!(rec.pending_self.is_none());
    api.stop().await;
}

fn spawn_updater(config: &std::path::Path, log: &std::path::Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_mkube-update"))
        .args(["--config"])
        .arg(config)
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .expect("spawn mkube-update")
}

async fn healthz(url: &str) -> bool {
    matches!(reqwest::get(url).await, Ok(r) if r.status() == 200)
}

/// The update API for mkube's own container hands the swap to mkube-update (a process cannot
/// replace the container it runs in): the real mkube-update binary does it and mkube answers
/// 200; mkube-update's `/healthz` answers `ok`.
#[actix_web::test]
async fn own_container_is_handed_to_mkube_update() {
    let site = Site::start().await;
    site.push("mkube", "edge", "m1").await;
    site.container("kube.gt.lo", &site.image("mkube", "edge"), json!({}))
        .await;
    site.push("mkube", "v2", "m2").await;
    let port = crate::registry_support::free_port();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.yaml");
    std::fs::write(
        &config,
        site.config_text("")
            .replace("listen: 127.0.0.1:0", &format!("listen: 127.0.0.1:{port}")),
    )
    .unwrap();
    let mut child = spawn_updater(&config, &dir.path().join("updater.log"));
    let health = format!("http://127.0.0.1:{port}/healthz");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !healthz(&health).await {
        assert!(Instant::now() < deadline, "mkube-update /healthz");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        reqwest::get(&health).await.unwrap().text().await.unwrap(),
        "ok"
    );
    let api = UpdateApi::start(&site, "kube.gt.lo", &format!("http://127.0.0.1:{port}")).await;
    let body = json!({"name": "kube.gt.lo", "tag": site.image("mkube", "v2")}).to_string();
    // mkube-update answers 503 until it has connected to the device.
    let mut answer = api.post(&body).await;
    while answer.0 == 500 && answer.1.to_string().contains("not connected") {
        assert!(Instant::now() < deadline, "{answer:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
        answer = api.post(&body).await;
    }
    assert_eq!(answer, (200, json!({"status": "ok"})));
    let row = site.row("kube.gt.lo").await.unwrap();
    assert_eq!(s(&row, "repo"), site.image("mkube", "v2"));
    assert_eq!(site.marker(&row), "m2");
    child.kill().unwrap();
    let _ = child.wait();
    api.stop().await;
}

/// `mkube run` serves the update API on `update.listen` from the start, before (and without)
/// the log: the NATS URL here answers nothing, yet the API takes a request to the device.
#[actix_web::test]
async fn mkube_run_serves_the_update_api_before_replay() {
    use crate::common::mkube::{MkubeProcess, config_text};
    let site = Site::start().await;
    site.push("app", "edge", "v1").await;
    site.container("app1", &site.image("app", "edge"), json!({}))
        .await;
    site.push("app", "v2", "v2").await;
    let dir = tempfile::tempdir().unwrap();
    let port = crate::registry_support::free_port();
    let marks = dir.path().join("marks");
    let rest = site.sim.sim.rest_url();
    let mut proc = MkubeProcess::start_config(dir.path(), |listen| {
        config_text("n1", "nats://127.0.0.1:9", listen, "")
            .replace(
                "restUrl: http://127.0.0.1:9/rest",
                &format!("restUrl: {rest}\n  user: admin\n  password: \"\"\n  pacing: 0.01"),
            )
            .replace(
                "update:\n  listen: \"\"\n",
                &format!(
                    "update:\n  listen: 127.0.0.1:{port}\n  markDir: {}\n  healthSeconds: 0.3\n",
                    marks.display()
                ),
            )
    });
    let url = format!("http://127.0.0.1:{port}/api/v1/update-container");
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    let bad = loop {
        match http.post(&url).body("{").send().await {
            Ok(r) => break r,
            Err(_) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await
            }
            Err(e) => panic!("update API never answered: {e}"),
        }
    };
    assert_eq!(bad.status(), 400);
    let r = http
        .post(&url)
        .json(&json!({"name": "app1", "tag": site.image("app", "v2")}))
        .send()
        .await
        .unwrap();
    let status = r.status();
    assert_eq!(status, 200, "{}", r.text().await.unwrap());
    assert_eq!(site.marker(&site.row("app1").await.unwrap()), "v2");
    let _ = proc.child.kill();
    let _ = proc.child.wait();
}
