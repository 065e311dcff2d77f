//! kill -9 of mkube-update in the middle of a swap (images.md §5.3 swap mark, issue 15): the
//! real binary is killed once the device shows the swap under way; the next run finishes the
//! swap (or rolls it back) from the mark — never two containers of one name, never none.

use crate::update_support::{Site, s};
use serde_json::json;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const WATCH: &str = "watches:\n  - repo: app\n    tags: [edge]\n    container: app1\n";

fn spawn(site: &Site, dir: &std::path::Path) -> Child {
    let config = dir.join("config.yaml");
    // Slower pacing than the in-process tests: the device's waits must outlast the kill.
    let text = site
        .config_text(WATCH)
        .replace("pacing: 0.01", "pacing: 0.1");
    std::fs::write(&config, text).unwrap();
    Command::new(env!("CARGO_BIN_EXE_mkube-update"))
        .arg("--config")
        .arg(&config)
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("updater.log")).unwrap())
        .spawn()
        .expect("spawn mkube-update")
}

/// Waits until the device journal shows a POST to `path`, then kills the updater (SIGKILL).
async fn kill_at(site: &Site, child: &mut Child, path: &str, log: &std::path::Path) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !site.writes().await.iter().any(|(p, _)| p == path) {
        assert!(
            Instant::now() < deadline,
            "no {path}; log: {}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    child.kill().unwrap();
    let _ = child.wait();
}

async fn crash_and_recover(kill_after: &str, knobs: serde_json::Value) {
    let site = Site::start().await;
    site.push("app", "edge", "v1").await;
    site.container("app1", &site.image("app", "edge"), json!({}))
        .await;
    site.updater(WATCH).await.cycle().await;
    let d2 = site.push("app", "edge", "v2").await;
    site.knobs(knobs).await;
    site.clear_journal().await;
    let dir = tempfile::tempdir().unwrap();
    let mut child = spawn(&site, dir.path());
    kill_at(
        &site,
        &mut child,
        kill_after,
        &dir.path().join("updater.log"),
    )
    .await;
    assert!(
        site.data_dir().join("swap-app1.json").exists(),
        "the swap mark outlives the process"
    );
    site.knobs(json!({"extractOverheadMs": 1000, "removeMs": 500}))
        .await;

    let cfg = site
        .config_text(WATCH)
        .replace("pacing: 0.01", "pacing: 0.1");
    let next = mkube::update::Updater::connect(mkube::update::config::parse(&cfg).unwrap())
        .await
        .unwrap();
    next.recover().await;
    assert_eq!(site.rows_named("app1").await, 1, "exactly one app1");
    let row = site.row("app1").await.unwrap();
    assert_eq!(s(&row, "running"), "true");
    assert_eq!(site.marker(&row), "v2", "the swap was finished");
    assert!(!site.data_dir().join("swap-app1.json").exists());
    assert_eq!(site.record().deployed["app1"], d2);
    // And nothing is left to do.
    assert!(matches!(
        next.cycle().await[0].1,
        mkube::update::poll::WatchOutcome::UpToDate
    ));
    assert_eq!(site.rows_named("app1").await, 1);
}

/// Killed while the new image is being extracted: the next run waits for it, starts it and
/// checks it.
#[actix_web::test]
async fn kill_9_during_extraction_then_the_next_run_finishes() {
    crash_and_recover("/container/add", json!({"extractOverheadMs": 3_000_000})).await;
}

/// Killed after the old container's remove, before the add: the next run adds the new one from
/// the settings in the mark.
#[actix_web::test]
async fn kill_9_after_remove_then_the_next_run_adds_from_the_mark() {
    crash_and_recover("/container/remove", json!({"removeMs": 800_000})).await;
}
