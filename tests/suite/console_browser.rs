//! The console in a real browser (issue 18): a whole site on loopback (NATS, the RouterOS
//! simulator, microdns, the registry with a pushed image, mkube with `api.tokenFile`), three
//! pods running, then `tests/console/console.mjs` drives Debian's headless Chromium through
//! Playwright: the console refuses to show anything without the token (and with a wrong
//! one), every page renders the site's pods, networks, images, nodes, report and log, a pod
//! crashed on the simulator turns not-ready on the page without a reload, a pod deleted from
//! its page leaves the device, and a pasted invalid pod shows the admission message.
//!
//! `MKUBE_CONSOLE_SCREENSHOTS=<dir>` keeps a screenshot of each page (the README's).

use mkube::soak::config::{self, NAMESPACE};
use mkube::soak::image::Pusher;
use mkube::soak::processes::Site;
use mkube::soak::run::start_site;
use mkube::soak::workload::{configmap_body, configmap_name, pod_body, pod_name};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const TOKEN: &str = "console-test-token";
const PODS: usize = 3;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn bins() -> PathBuf {
    Path::new(env!("CARGO_BIN_EXE_mkube"))
        .parent()
        .unwrap()
        .to_path_buf()
}

async fn post(http: &reqwest::Client, url: String, body: &serde_json::Value) {
    let r = http.post(url).bearer_auth(TOKEN).json(body).send().await;
    let r = r.expect("POST reaches mkube");
    assert!(
        r.status().is_success(),
        "{} {:?}",
        r.status(),
        r.text().await
    );
}

/// Waits until every pod the API lists runs with all containers ready.
async fn pods_running(http: &reqwest::Client, api: &str) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let list: serde_json::Value = http
            .get(format!("{api}/api/v1/pods"))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let items = list["items"].as_array().cloned().unwrap_or_default();
        let ready = items.iter().filter(|p| {
            p["status"]["phase"] == "Running"
                && p["status"]["containerStatuses"]
                    .as_array()
                    .is_some_and(|cs| cs.iter().all(|c| c["ready"] == true))
        });
        if items.len() == PODS && ready.count() == PODS {
            return;
        }
        assert!(Instant::now() < deadline, "pods never all ran: {list}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[actix_rt::test]
async fn the_console_in_headless_chromium() {
    let script = repo().join("tests/console/console.mjs");
    assert!(
        repo()
            .join("tests/console/node_modules/playwright-core")
            .exists(),
        "tests/console/node_modules missing: scripts/test installs it (npm ci)"
    );
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        Path::new(&chromium).exists(),
        "{chromium} missing: scripts/test installs Debian's chromium"
    );
    let dir = tempfile::tempdir().unwrap();
    let mut site = Site::new(dir.path().to_path_buf(), bins()).unwrap();
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, format!("{TOKEN}\n")).unwrap();
    config::write_with_token(&site, Some(&token_file)).unwrap();
    let http = crate::common::http();
    let mut pusher = Pusher::new(
        repo().join("scripts/make-demo-image.py"),
        dir.path().join("images"),
        site.registry(),
    );
    start_site(&mut site, &http, &mut pusher)
        .await
        .expect("site up");
    let api = site.api();
    let cms = format!("{api}/api/v1/namespaces/{NAMESPACE}/configmaps");
    for i in 0..PODS {
        post(
            &http,
            cms.clone(),
            &configmap_body(&configmap_name(i), "v1"),
        )
        .await;
    }
    let pods = format!("{api}/api/v1/namespaces/{NAMESPACE}/pods");
    for i in 0..PODS {
        post(&http, pods.clone(), &pod_body(i, 1, &pusher.reference())).await;
    }
    pods_running(&http, &api).await;

    let mut node = tokio::process::Command::new("node");
    node.arg(&script)
        .current_dir(repo().join("tests/console"))
        .env("MKUBE_URL", &api)
        .env("DEVICE_URL", site.device())
        .env("DEVICE_USER", "admin")
        .env("DEVICE_PASSWORD", config::DEVICE_PASSWORD)
        .env("MKUBE_TOKEN", TOKEN)
        .env("CHROMIUM", &chromium)
        .env("CRASH_POD", format!("{NAMESPACE}/{}", pod_name(0)))
        .env("DELETE_POD", format!("{NAMESPACE}/{}", pod_name(PODS - 1)))
        .env("RESTORE", "0")
        .kill_on_drop(true);
    if let Ok(shots) = std::env::var("MKUBE_CONSOLE_SCREENSHOTS") {
        node.env("SCREENSHOTS", shots);
    }
    let out = tokio::time::timeout(Duration::from_secs(300), node.output())
        .await
        .expect("the browser script ends within 5 minutes")
        .expect("node runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("{text}");
    site.stop_all().await;
    assert!(out.status.success(), "console.mjs failed:\n{text}");
    assert!(text.contains("ok - "), "no check ran:\n{text}");
}
